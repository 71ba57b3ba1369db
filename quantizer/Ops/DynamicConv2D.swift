import DynQCore
import DynQGraph

/// `dynamic_conv2d` → the runtime's `dynamic_conv2d` (fixed-point fusion of the g int8 kernels with the Q15
/// coefficients of its CPM, docs/numerics.md); a fused relu / relu6 as the output clamp, and a following
/// batchnorm folded into every kernel and both biases.
extension DynamicConv2DAttrs: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitDynamicConv2d(node, self) }

    var absorbsActivation: Bool { true }

    /// `W'[t, o] = W[t, o] · f[o]`, `mb'[t, o] = mb[t, o] · f[o]`, `b'[o] = b[o] · f[o] + shift[o]`.
    func foldingBatchnorm(_ folder: inout BatchnormFolder) throws -> Op? {
        var d = self
        let w = try folder.weight(weight)
        guard w.shape.count == 5 else { throw DynQError("node \(folder.producer): weight must be 5-D") }
        let g = w.shape[0], o = w.shape[1], inner = w.count / max(g * o, 1)
        let (f, shift) = try folder.factors(o)
        var nw = w
        for k in 0..<w.count { nw.data[k] = Float(Double(w.data[k]) * f[(k / inner) % o]) }
        d.weight = folder.add("weight", nw)
        if let mbName = mixedBias {
            let mb = try folder.weight(mbName)
            guard mb.count == g * o else { throw DynQError("node \(folder.producer): mixed_bias must be [g, O]") }
            var nmb = mb
            for k in 0..<mb.count { nmb.data[k] = Float(Double(mb.data[k]) * f[k % o]) }
            d.mixedBias = folder.add("mixed_bias", nmb)
        }
        var nb = Tensor(zeros: [o])
        let b = try bias.map { try folder.weight($0) }
        for ch in 0..<o { nb.data[ch] = Float(Double(b?.data[ch] ?? 0) * f[ch] + shift[ch]) }
        d.bias = folder.add("bias", nb)
        return .dynamicConv2d(d)
    }
}

extension ModelBuilder {
    mutating func emitDynamicConv2d(_ node: Node, _ d: DynamicConv2DAttrs) throws {
        let x = node.inputs[0], coeffName = node.inputs[1]
        let (inID, qin) = try input(x, node: node.name)
        guard let coeffID = ids[coeffName], let gate = gates[coeffName] else {
            throw DynQError("node \(node.name): coefficients \(coeffName) are not the output of a cpm node")
        }
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let w = try weight(d.weight, node: node.name)
        guard w.shape.count == 5 else {
            throw DynQError("node \(node.name): weight must be [g, O, I/groups, kh, kw]")
        }
        let g = w.shape[0], o = w.shape[1], ig = w.shape[2], kh = w.shape[3], kw = w.shape[4]
        let k = ig * kh * kw
        let qw = quantizeWeights(w, channelAxis: 1, granularity: options.granularity)
        let sIn = qin.scale
        // Both biases at s_in · s_w[o]: then Σ_t η_q · mb_q + b_q · 2^15 is at the F scale s_in · s_w[o] · 2^−15.
        let mixed = try d.mixedBias.map { name -> [Int32] in
            let mb = try weight(name, node: node.name)
            guard mb.count == g * o else { throw DynQError("node \(node.name): mixed_bias must be [g, O]") }
            return try quantizeBias(mb.data.map(Double.init), scale: { sIn * qw.scales[$0 % o] }, layer: node.name,
                                    what: "mixed bias")
        }
        let bias = try d.bias.map { name -> [Int32] in
            let b = try weight(name, node: node.name)
            return try quantizeBias(b.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: node.name,
                                    what: "bias")
        }
        let m0 = try (0..<o).map { ch -> QuantizedMultiplier in
            let real = sIn * qw.scales[ch] / 32768 / qout.scale
            let q = try quantizeMultiplier(real, layer: node.name, what: "static fused-kernel")
            if q == .zero && real > 0 {
                throw DynQError("layer \(node.name): static multiplier M0 = \(real) of channel \(ch) is below 2^-32 "
                                + "and cannot be stored")
            }
            return q
        }

        // Fixed-point fusion over the calibration coefficients: A[o], the per-sample M and bias_acc.
        var fusionMax = ValueRange.empty, sampleM = ValueRange.empty
        var biasAccMax = 0
        let etaSamples = stats.coefficients[gate.cpm] ?? []
        var f = [Int](repeating: 0, count: k)
        for eta in etaSamples {
            for ch in 0..<o {
                for i in 0..<k { f[i] = 0 }
                var bSum = Double(bias?[ch] ?? 0) * 32768
                for t in 0..<g {
                    let idx = d.mode == .perChannel ? d.coeffOffset + ch * g + t : d.coeffOffset + t
                    // calibrate() refuses non-finite coefficients; a NaN here would still give 0, not a trap.
                    let q = (Double(eta[idx]) * 32768).rounded(.toNearestOrAwayFromZero)
                    let e = q.isNaN ? 0 : Int(Swift.min(Swift.max(q, 0), 32767))
                    let base = (t * o + ch) * k
                    for i in 0..<k { f[i] += e * Int(qw.values[base + i]) }
                    if let mixed { bSum += Double(e) * Double(mixed[t * o + ch]) }
                }
                var a = 0
                for i in 0..<k { a = Swift.max(a, Swift.abs(f[i])) }
                fusionMax.include(Double(a))
                sampleM.include(realValue(m0[ch]) * Double(a) / 127)
                if a > 0 {
                    biasAccMax = Swift.max(biasAccMax, Int(Swift.min(Swift.abs(127 * bSum / Double(a)), 4e18)))
                }
            }
        }
        let etaSum = gate.kind == .sigmoid ? g * 32767 : Swift.min(g * 32767, 32768 + g)
        let acc = try dynamicAccumulatorBound(layer: node.name, inputZero: qin.zeroPoint, weights: qw.values,
                                              kernels: g, channels: o, etaMax: 32767, etaSum: etaSum,
                                              mixedBias: mixed, bias: bias, observedBiasAcc: biasAccMax)

        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let inC = try shape(x, node: node.name)[1]
        let depthwise = d.groups > 1 && d.groups == inC && o == inC && ig == 1
        let wb: BlobID
        if depthwise {
            let per = o * kh * kw
            var v: [Int8] = []
            for t in 0..<g {
                v += Layouts.depthwise(Array(qw.values[(t * per)..<((t + 1) * per)]), o: o, kh: kh, kw: kw)
            }
            wb = blob(ModelDescription.Blob(name: "\(node.name).weights", int8: v, shape: [g, kh, kw, o]))
        } else {
            wb = blob(ModelDescription.Blob(name: "\(node.name).weights",
                              int8: Layouts.dynamic(qw.values, g: g, o: o, i: ig, kh: kh, kw: kw),
                              shape: [g, o, kh, kw, ig]))
        }
        let mbb = mixed.map { blob(ModelDescription.Blob(name: "\(node.name).mixed_bias", int32: $0, shape: [g, o])) }
        let bb = bias.map { blob(ModelDescription.Blob(name: "\(node.name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(node.name, m0)
        let op = ModelDescription.DynamicConv(input: inID, coefficients: coeffID, coefficientOffset: d.coeffOffset,
                                mode: d.mode == .perChannel ? .perChannel : .perLayer, kernelCount: g, output: outID,
                                weights: wb, depthwise: depthwise, mixedBias: mbb, bias: bb, multipliers: mb,
                                window: d.window(kernel: Pair(kh, kw)), groups: d.groups,
                                clamp: clamp(act, qout), correctsFusedDC: options.fusedDCCorrection)
        ops.append(ModelDescription.Operation(name: node.name, op: .dynamicConv2d(op)))
        var rep = LayerReport(name: node.name, op: depthwise ? "dynamic_dwconv2d" : "dynamic_conv2d")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range(m0.map(realValue))
        if let fs = stats.fused[node.name] {
            rep.fusedKernel = fs.values; rep.fusedChannelMaxAbs = fs.channelMaxAbs
        }
        if !fusionMax.isEmpty { rep.fusionMax = fusionMax; rep.sampleMultiplier = sampleM }
        rep.accumulator = acc
        rep.notes.append("g = \(g), \(d.mode.rawValue), \(gate.kind == .sigmoid ? "sigmoid" : "softmax") gate")
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        if sampleM.max >= 0x1p30 {
            rep.notes.append("per-sample multiplier reached \(fmt(sampleM.max)) ≥ 2^30 in calibration (the runtime "
                             + "saturates it)")
        }
        reports.append(rep)
    }
}
