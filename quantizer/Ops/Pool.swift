import DynQCore
import DynQGraph

/// `maxpool` / `avgpool` → the runtime's `max_pool` / `avg_pool` (the output keeps the input's quantization; the
/// average rounds the window sum divided by the divisor).
extension Maxpool: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitPool(node, attrs, isMax: true) }
}

extension Avgpool: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitPool(node, attrs, isMax: false) }
}

extension ModelBuilder {
    mutating func emitPool(_ node: Node, _ p: PoolAttrs, isMax: Bool) throws {
        let (inID, q) = try input(node.inputs[0], node: node.name)
        let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
        let pool = ModelDescription.Pool(input: inID, output: out, window: p.window, countIncludePad: p.countIncludePad)
        ops.append(ModelDescription.Operation(name: node.name, op: isMax ? .maxPool(pool) : .avgPool(pool)))
        var rep = passThroughReport(node, isMax ? "maxpool" : "avgpool", q)
        if !isMax {
            rep.accumulator = try poolAccumulatorBound(layer: node.name, inputZero: q.zeroPoint,
                                                       terms: p.kernel.h * p.kernel.w)
        }
        reports.append(rep)
    }
}
