import DynQCore
import DynQGraph

/// `flatten` → the runtime's `flatten` (NHWC `[1, H, W, C]` → `[1, C·H·W]` in NCHW order; same quantization).
extension Flatten: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitFlatten(node) }
}

extension ModelBuilder {
    mutating func emitFlatten(_ node: Node) throws {
        let (inID, q) = try input(node.inputs[0], node: node.name)
        let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
        ops.append(ModelDescription.Operation(name: node.name, op: .flatten(ModelDescription.Unary(input: inID, output: out))))
        reports.append(passThroughReport(node, "flatten", q))
    }
}
