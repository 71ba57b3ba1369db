import DynQCore
import DynQGraph

/// `concat` → the runtime's `concat` (each input requantized to the output's scale and zero point).
extension Concat: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitConcat(node) }
}

extension ModelBuilder {
    mutating func emitConcat(_ node: Node) throws {
        let out = node.outputs[0]
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        var ins: [TensorID] = [], requants: [ModelDescription.Requant] = []
        for x in node.inputs {
            let (id, q) = try input(x, node: node.name)
            ins.append(id)
            let m = try quantizeMultiplier(q.scale / qout.scale, layer: node.name, what: "input \(x)")
            requants.append(ModelDescription.Requant(multiplier: m.multiplier, shift: m.shift))
        }
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        ops.append(ModelDescription.Operation(name: node.name, op: .concat(ModelDescription.Concat(inputs: ins, requants: requants, output: outID))))
        var rep = LayerReport(name: node.name, op: "concat")
        rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        reports.append(rep)
    }
}
