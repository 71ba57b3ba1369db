import DynQCore
import DynQGraph

/// The element-wise activations (relu, relu6, hardswish, hardsigmoid, leaky_relu, silu, sigmoid, gelu) → the
/// runtime's `table` op: 256 int8 entries `T[q + 128] = quantize_out(f(dequantize_in(q)))` computed from the input
/// and output scales with the activation's double-precision function (Ops/<Op>.swift in DynQGraph). No runtime op
/// per activation is needed. relu and relu6 right after a conv, linear or add become that op's output clamp
/// instead (ActivationFusion.swift).
extension QuantizableOp where Self: ElementwiseActivation {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitTable(node, self) }
}

extension Relu: QuantizableOp {
    var fusableClamp: ClosedRange<Double>? { 0...Double.infinity }
}
extension Relu6: QuantizableOp {
    var fusableClamp: ClosedRange<Double>? { 0...6 }
}
extension Hardswish: QuantizableOp {}
extension Hardsigmoid: QuantizableOp {}
extension LeakyRelu: QuantizableOp {}
extension Silu: QuantizableOp {}
extension Sigmoid: QuantizableOp {}
extension Gelu: QuantizableOp {}

extension ModelBuilder {
    mutating func emitTable(_ node: Node, _ f: some ElementwiseActivation) throws {
        let (inID, qin) = try input(node.inputs[0], node: node.name)
        let out = node.outputs[0]
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let t = blob(ModelDescription.Blob(name: "\(node.name).table",
                                           int8: Tables.unary({ f.value($0) }, input: qin, output: qout), shape: [256]))
        ops.append(ModelDescription.Operation(name: node.name, op: .table(
            ModelDescription.Table(input: inID, output: outID, table: t))))
        var rep = LayerReport(name: node.name, op: "table")
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.notes.append("\(node.op.kind) as a 256-entry table")
        reports.append(rep)
    }
}
