import DynQCore
import DynQGraph

/// `softmax` → the runtime's `softmax`: an exp table with the temperature folded in; the output has scale 1/256
/// and zero point −128 (the probabilities [0, 1)).
extension Softmax: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitSoftmax(node, self) }
}

extension ModelBuilder {
    mutating func emitSoftmax(_ node: Node, _ a: Softmax) throws {
        let (inID, qin) = try input(node.inputs[0], node: node.name)
        let qout = ActivationQuant(scale: 1.0 / 256, zeroPoint: -128)
        let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: qout)
        let table = Tables.softmaxExp(inputScale: qin.scale, temperature: Double(a.temperature))
        let t = blob(ModelDescription.Blob(name: "\(node.name).exp", int32: table.map { Int32($0) }, shape: [256]))
        ops.append(ModelDescription.Operation(name: node.name, op: .softmax(
            ModelDescription.Softmax(input: inID, output: out, expTable: t))))
        var rep = LayerReport(name: node.name, op: "softmax")
        rep.input = qin; rep.output = qout; rep.outputRange = qout.range
        rep.observedRange = stats.observedRange(node.outputs[0])
        reports.append(rep)
    }
}
