import DynQCore
import DynQGraph

/// `add` → the runtime's `add` (TFLite's two-multiplier form); a fused relu / relu6 as the output clamp.
extension Add: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitAdd(node) }

    var absorbsActivation: Bool { true }
}

extension ModelBuilder {
    /// TFLite's add: `twice_max = 2 · max(s_a, s_b)`, inputs scaled by `s / twice_max` after `<< 20`, output by
    /// `twice_max / (2^20 · s_out)`.
    mutating func emitAdd(_ node: Node) throws {
        let (aID, qa) = try input(node.inputs[0], node: node.name)
        let (bID, qb) = try input(node.inputs[1], node: node.name)
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let twiceMax = 2 * Swift.max(qa.scale, qb.scale)
        let shift = 20
        func rq(_ m: QuantizedMultiplier) -> ModelDescription.Requant { ModelDescription.Requant(multiplier: m.multiplier, shift: m.shift) }
        let ma = try quantizeMultiplier(qa.scale / twiceMax, layer: node.name, what: "first input")
        let mbq = try quantizeMultiplier(qb.scale / twiceMax, layer: node.name, what: "second input")
        let mo = try quantizeMultiplier(twiceMax / (Double(1 << shift) * qout.scale), layer: node.name, what: "output")
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        ops.append(ModelDescription.Operation(name: node.name, op: .add(ModelDescription.Add(a: aID, b: bID, output: outID, leftShift: shift,
                                                                 aRequant: rq(ma), bRequant: rq(mbq),
                                                                 outputRequant: rq(mo), clamp: clamp(act, qout)))))
        var rep = LayerReport(name: node.name, op: "add")
        rep.input = qa; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range([ma, mbq, mo].map(realValue))
        rep.notes.append("inputs \(qa) and \(qb)")
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        reports.append(rep)
    }
}
