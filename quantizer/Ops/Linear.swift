import DynQCore
import DynQGraph

/// `linear` → the runtime's `linear` (`[O][F]` int8 weights, per-channel scales, int32 bias); a fused relu / relu6
/// as the output clamp. `emitLinear` also builds the CPM's fully connected layers.
extension LinearAttrs: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitLinear(node, self) }

    var absorbsActivation: Bool { true }
}

extension ModelBuilder {
    mutating func emitLinear(_ node: Node, _ a: LinearAttrs) throws {
            let x = node.inputs[0]
            let (inID, qin) = try input(x, node: node.name)
            let (out, act) = outputOf(node)
            let w = try weight(a.weight, node: node.name)
            let bias = try a.bias.map { try weight($0, node: node.name) }
            if options.wideLogits, act == nil, graph.outputs.contains(out),
               !graph.nodes.contains(where: { $0.inputs.contains(out) }) {
                try emitWideLogits(node, w: w, b: bias, input: inID, qin: qin, output: out)
                return
            }
            let (qout, chosen, observed) = try calibrated(out, node: node.name)
            let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
            var rep = try emitLinear(name: node.name, input: inID, qin: qin, w: w, b: bias, output: outID,
                                     qout: qout, clamp: clamp(act, qout))
            rep.outputRange = chosen; rep.observedRange = observed
            if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
            reports.append(rep)
    }

    /// A classifier (a linear without fused activation writing a graph output that no op reads) with **wide
    /// logits**: an int16 output, zero point 0, scale `2 · max(|observed min|, |observed max|) / 32767` over the calibration images
    /// (twice the calibration extreme of headroom: nothing in range is clipped, and the step is still about 100
    /// times finer than int8's 255 steps over the clipped range). Int8 logits tie on near-equal classes (one step
    /// is 0.1 on a typical classifier; the runtime then takes the lowest index); int16 ones keep the order the
    /// int32 accumulators have (docs/calibration.md, "Wide logits"). Only graph outputs: an int16 tensor is
    /// never the input of another op.
    mutating func emitWideLogits(_ node: Node, w: Tensor, b bias: Tensor?, input inID: TensorID,
                                 qin: ActivationQuant, output out: String) throws {
        guard let h = stats.histograms[out] else {
            throw DynQError("node \(node.name): tensor \(out) was not observed during calibration")
        }
        let extreme = Swift.max(Swift.abs(h.exact.min), Swift.abs(h.exact.max))
        let qout = ActivationQuant(scale: extreme > 0 ? 2 * extreme / 32767 : 1.0 / 32767, zeroPoint: 0)
        let outID = addTensor(out, .int16, nchw: try shape(out, node: node.name), scaleBits: Float(qout.scale).bitPattern,
                              zero: 0)
        var rep = try emitLinear(name: node.name, input: inID, qin: qin, w: w, b: bias, output: outID, qout: qout,
                                 clamp: ModelDescription.Clamp(min: -32768, max: 32767))
        rep.outputRange = ValueRange(min: -32767 * qout.scale, max: 32767 * qout.scale); rep.observedRange = h.exact
        rep.notes.append("wide logits: int16")
        reports.append(rep)
    }

    mutating func emitLinear(name: String, input inID: TensorID, qin: ActivationQuant, w: Tensor, b: Tensor?,
                             output outID: TensorID, qout: ActivationQuant, clamp: ModelDescription.Clamp) throws -> LayerReport {
        guard w.shape.count == 2 else { throw DynQError("layer \(name): linear weight must be [O, F]") }
        let o = w.shape[0], f = w.shape[1]
        let qw = quantizeWeights(w, channelAxis: 0, granularity: options.granularity, moments: roundingMoments(name))
        let sIn = qin.scale
        let bias = try b.map {
            try quantizeBias($0.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: name, what: "bias")
        }
        let mults = try (0..<o).map {
            try quantizeMultiplier(sIn * qw.scales[$0] / qout.scale, layer: name, what: "output")
        }
        let acc = try staticAccumulatorBound(layer: name, inputZero: qin.zeroPoint, weights: qw.values, channels: o,
                                             bias: bias)
        let wb = blob(ModelDescription.Blob(name: "\(name).weights", int8: qw.values, shape: [o, f]))
        let bb = bias.map { blob(ModelDescription.Blob(name: "\(name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(name, mults)
        ops.append(ModelDescription.Operation(name: name, op: .linear(ModelDescription.Linear(input: inID, output: outID, weights: wb, bias: bb,
                                                                 multipliers: mb, clamp: clamp))))
        var rep = LayerReport(name: name, op: "linear")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB; rep.noteRounding(qw)
        rep.input = qin; rep.output = qout; rep.multipliers = range(mults.map(realValue)); rep.accumulator = acc
        return rep
    }
}
