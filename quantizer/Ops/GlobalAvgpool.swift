import DynQCore
import DynQGraph

/// `global_avgpool` → the runtime's `global_avgpool` (a sum per channel, one multiplier `s_in / (H·W·s_out)`).
/// `emitGlobalAvgpool` also builds the CPM's pooling.
///
/// The pooled features feed a classifier or the coefficient predictor, where one clipped feature moves every
/// logit: their range is never clipped, whatever the calibration method — it is the whole observed range (an
/// average is bounded by its input, so the range is narrow and costs little resolution). Measured in
/// docs/calibration.md.
extension GlobalAvgpool: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitGlobalAvgpool(node) }
}

extension ModelBuilder {
    mutating func emitGlobalAvgpool(_ node: Node) throws {
            let x = node.inputs[0]
            let (inID, qin) = try input(x, node: node.name)
            let out = node.outputs[0]
            let (qout, chosen, observed) = try calibrated(out, node: node.name, fullRange: true)
            let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
            var rep = try emitGlobalAvgpool(name: node.name, input: inID, inShape: try shape(x, node: node.name),
                                         qin: qin, output: outID, qout: qout)
            rep.outputRange = chosen; rep.observedRange = observed
            reports.append(rep)
    }

    mutating func emitGlobalAvgpool(name: String, input inID: TensorID, inShape: [Int], qin: ActivationQuant,
                                 output outID: TensorID, qout: ActivationQuant) throws -> LayerReport {
        let hw = inShape.count == 4 ? inShape[2] * inShape[3] : 1
        let m = try quantizeMultiplier(qin.scale / (Double(hw) * qout.scale), layer: name, what: "pooling")
        let acc = try poolAccumulatorBound(layer: name, inputZero: qin.zeroPoint, terms: hw)
        ops.append(ModelDescription.Operation(name: name, op: .globalAvgPool(ModelDescription.GlobalAvgPool(
            input: inID, output: outID, requant: ModelDescription.Requant(multiplier: m.multiplier, shift: m.shift)))))
        var rep = LayerReport(name: name, op: "global_avgpool")
        rep.input = qin; rep.output = qout; rep.multipliers = range([realValue(m)]); rep.accumulator = acc
        return rep
    }
}
