import DynQCore
import DynQGraph

/// `conv2d` → the runtime's `conv2d` (OHWI weights), or `depthwise_conv2d` (`[kh][kw][C]` weights) when
/// `groups == C_in == C_out`; per-channel weight scales, int32 bias at `s_in · s_w[o]`, a fused relu / relu6 as
/// the output clamp, and a following batchnorm folded into the weights and bias.
extension Conv2DAttrs: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitConv2d(node, self) }

    var absorbsActivation: Bool { true }

    /// `W'[o] = W[o] · f[o]`, `b'[o] = b[o] · f[o] + shift[o]` (a bias is created if there was none).
    func foldingBatchnorm(_ folder: inout BatchnormFolder) throws -> Op? {
        var c = self
        let w = try folder.weight(weight)
        guard w.shape.count == 4 else { throw DynQError("node \(folder.producer): weight must be 4-D") }
        let o = w.shape[0], inner = w.count / max(o, 1)
        let (f, shift) = try folder.factors(o)
        var nw = w
        for k in 0..<w.count { nw.data[k] = Float(Double(w.data[k]) * f[k / inner]) }
        var nb = Tensor(zeros: [o])
        let b = try bias.map { try folder.weight($0) }
        for ch in 0..<o { nb.data[ch] = Float(Double(b?.data[ch] ?? 0) * f[ch] + shift[ch]) }
        c.weight = folder.add("weight", nw)
        c.bias = folder.add("bias", nb)
        return .conv2d(c)
    }
}

extension ModelBuilder {
    mutating func emitConv2d(_ node: Node, _ c: Conv2DAttrs) throws {
        let x = node.inputs[0]
        let (inID, qin) = try input(x, node: node.name)
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let w = try weight(c.weight, node: node.name)
        guard w.shape.count == 4 else { throw DynQError("node \(node.name): weight must be [O, I/groups, kh, kw]") }
        let o = w.shape[0], ig = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let inC = try shape(x, node: node.name)[1]
        let groups = c.groups
        // The runtime's depthwise kernel is channel multiplier 1 (groups == I == O); other grouped convs are OHWI.
        let depthwise = groups > 1 && groups == inC && o == inC && ig == 1
        let qw = quantizeWeights(w, channelAxis: 0, granularity: options.granularity,
                                 moments: roundingMoments(node.name))
        let sIn = qin.scale
        let bias = try c.bias.map { name -> [Int32] in
            let b = try weight(name, node: node.name)
            return try quantizeBias(b.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: node.name,
                                    what: "bias")
        }
        let mults = try (0..<o).map {
            try quantizeMultiplier(sIn * qw.scales[$0] / qout.scale, layer: node.name, what: "output")
        }
        let acc = try staticAccumulatorBound(layer: node.name, inputZero: qin.zeroPoint, weights: qw.values,
                                             channels: o, bias: bias)
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let wb: BlobID
        if depthwise {
            wb = blob(ModelDescription.Blob(name: "\(node.name).weights", int8: Layouts.depthwise(qw.values, o: o, kh: kh, kw: kw),
                              shape: [kh, kw, o]))
        } else {
            wb = blob(ModelDescription.Blob(name: "\(node.name).weights", int8: Layouts.ohwi(qw.values, o: o, i: ig, kh: kh, kw: kw),
                              shape: [o, kh, kw, ig]))
        }
        let bb = bias.map { blob(ModelDescription.Blob(name: "\(node.name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(node.name, mults)
        let conv = ModelDescription.Conv(input: inID, output: outID, weights: wb, bias: bb, multipliers: mb,
                                         window: c.window(kernel: Pair(kh, kw)), groups: groups, clamp: clamp(act, qout))
        ops.append(ModelDescription.Operation(name: node.name, op: depthwise ? .depthwiseConv2d(conv) : .conv2d(conv)))
        var rep = LayerReport(name: node.name, op: depthwise ? "depthwise_conv2d" : "conv2d")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB; rep.noteRounding(qw)
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range(mults.map(realValue)); rep.accumulator = acc
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        reports.append(rep)
    }
}
