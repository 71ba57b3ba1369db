import DynQCore

/// `dynamic_conv2d` (docs/graph-format.md, "Dynamic convolution"): inputs x `[1, C, H, W]` and the coefficients
/// `[1, N]` of a `cpm` node → y. The `g` fixed kernels are mixed with the coefficients into one kernel and bias
/// per sample, then one ordinary `conv2d` runs with the node's geometry.
public struct DynamicConv2DAttrs: Equatable, Sendable, ConvolutionWindow {
    /// Tensor name of the `[g, O, I/groups, kh, kw]` fixed kernels.
    public var weight: String
    public var mode: CoefficientMode
    /// Index of this layer's first coefficient in the CPM's output vector.
    public var coeffOffset: Int
    /// Tensor name of the `[g, O]` bias mixed with the same coefficients, if any.
    public var mixedBias: String?
    /// Tensor name of the `[O]` static bias, if any.
    public var bias: String?
    public var stride: Pair
    public var padding: Padding
    public var dilation: Pair
    public var groups: Int
    public init(weight: String, mode: CoefficientMode, coeffOffset: Int = 0, mixedBias: String? = nil,
                bias: String? = nil, stride: Pair = .one, padding: Padding = .zero, dilation: Pair = .one,
                groups: Int = 1) {
        self.weight = weight; self.mode = mode; self.coeffOffset = coeffOffset
        self.mixedBias = mixedBias; self.bias = bias
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }
}

/// How a dynamic convolution reads its coefficients.
public enum CoefficientMode: String, Equatable, Sendable {
    /// DyNet: each output channel mixes its own g kernels (`O·g` coefficients).
    case perChannel = "per_channel"
    /// CondConv / DY-CNN: g coefficients shared by every output channel.
    case perLayer = "per_layer"
}

extension DynamicConv2DAttrs: OpDefinition {
    static let kind = GraphOpKind.dynamicConv2d
    static let fields = ["weight", "mode", "coeff_offset", "mixed_bias", "bias"] + ConvolutionFields.names
    static let inputArity = 2...2

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        let w = try r.requiredName("weight")
        guard let m = try r.string("mode") else { throw r.error("missing field 'mode'") }
        guard let mode = CoefficientMode(rawValue: m) else {
            throw r.error("'mode' must be \"per_channel\" or \"per_layer\", not \"\(m)\"")
        }
        let offset = try r.int("coeff_offset", range: 0...graphMaxAttributeValue) ?? 0
        let mixedBias = try r.name("mixed_bias"), bias = try r.name("bias")
        let c = try ConvolutionFields.decode(&r)
        return .dynamicConv2d(DynamicConv2DAttrs(weight: w, mode: mode, coeffOffset: offset, mixedBias: mixedBias,
                                                 bias: bias, stride: c.stride, padding: c.padding,
                                                 dilation: c.dilation, groups: c.groups))
    }

    func encode(into o: inout JSONObject) {
        o["weight"] = .string(weight)
        o["mode"] = .string(mode.rawValue)
        o["coeff_offset"] = .int(coeffOffset)
        o.setOptional("mixed_bias", mixedBias); o.setOptional("bias", bias); ConvolutionFields.encode(self, into: &o)
    }

    var weightNames: [String] { [weight] + [mixedBias, bias].compactMap { $0 } }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let x = ins[0]
        let ws = try c.weight(weight, "weight")
        let (o, kh, kw) = try c.checkKernel(weight, ws, prefix: 1, x: x, groups: groups)
        let g = ws[0]
        try c.expectWeight(mixedBias, "mixed_bias", [g, o])
        try c.expectWeight(bias, "bias", [o])
        let coeffs = ins[1], coeffName = c.node!.inputs[1]
        guard c.producers[1] == .cpm, coeffs.count == 2 else {
            throw c.fail("coefficients '\(coeffName)' must be the output of a cpm node")
        }
        let need = mode == .perChannel ? o * g : g
        guard coeffOffset + need <= coeffs[1] else {
            throw c.fail("reads coefficients \(coeffOffset)..<\(coeffOffset + need) (\(mode.rawValue): \(mode == .perChannel ? "O·g = \(o)·\(g)" : "g = \(g)")) but '\(coeffName)' has only \(coeffs[1])")
        }
        return [try c.convOutput(x, channels: o, window(kernel: Pair(kh, kw)))]
    }

    func floatStep(_ c: StepContext) -> any FloatStep {
        let ws = c.weightShape(weight)
        return DynamicConv2DStep(node: c.node.name,
                                 conv: ConvShape(c.x, c.y, o: ws[1], window(kernel: Pair(ws[3], ws[4])), groups: groups),
                                 kernels: c.weight(weight), g: ws[0], mode: mode, offset: coeffOffset,
                                 mixedBias: c.weight(mixedBias), bias: c.weight(bias))
    }

    /// The fused convolution `O · (I/groups) · kh · kw · H_out · W_out`, and the fusion
    /// `g · O · (I/groups) · kh · kw` (`+ g · O` with a `mixed_bias`).
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]]) {
        let w = weightShapes[weight]!, y = counts.outputShapes[0]
        let fused = w.dropFirst().reduce(1, *)
        counts.convMACs = fused * y[2] * y[3]
        counts.fusionMACs = w[0] * fused + (mixedBias != nil ? w[0] * w[1] : 0)
    }
}

// MARK: - Float engine

private struct DynamicConv2DStep: FloatStep {
    let node: String
    let conv: ConvShape
    /// `[g, O, I/groups·kh·kw]`, flattened.
    let kernels: [Float]
    let g: Int
    let mode: CoefficientMode
    let offset: Int
    let mixedBias: [Float]?
    let bias: [Float]?

    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0], coeffs = args[1].data
        let o = conv.o
        let perKernel = kernels.count / (g * o)
        // η[o][t]
        var eta = [Float](repeating: 0, count: o * g)
        for oc in 0..<o {
            for t in 0..<g {
                eta[oc * g + t] = mode == .perChannel ? coeffs[offset + oc * g + t] : coeffs[offset + t]
            }
        }
        observer?(.coefficients(node: node, mode == .perChannel ? eta : Array(coeffs[offset..<offset + g])))
        var fused = [Float](repeating: 0, count: o * perKernel)
        var acc = [Double](repeating: 0, count: perKernel)
        kernels.withUnsafeBufferPointer { k in
            fused.withUnsafeMutableBufferPointer { f in
                acc.withUnsafeMutableBufferPointer { a in
                    for oc in 0..<o {
                        var e = 0
                        while e < perKernel { a[e] = 0; e += 1 }
                        for t in 0..<g {
                            let c = Double(eta[oc * g + t])
                            let src = k.baseAddress! + (t * o + oc) * perKernel
                            e = 0
                            while e < perKernel { a[e] += c * Double(src[e]); e += 1 }
                        }
                        let dst = f.baseAddress! + oc * perKernel
                        e = 0
                        while e < perKernel { dst[e] = Float(a[e]); e += 1 }
                    }
                }
            }
        }
        var fusedBias: [Float]? = nil
        if mixedBias != nil || bias != nil {
            fusedBias = (0..<o).map { oc in
                var b = 0.0
                if let mb = mixedBias { for t in 0..<g { b += Double(eta[oc * g + t]) * Double(mb[t * o + oc]) } }
                if let sb = bias { b += Double(sb[oc]) }
                return Float(b)
            }
        }
        if let observer {
            observer(.fusedKernel(node: node,
                                  weight: Tensor(shape: [o, conv.c / conv.groups, conv.kh, conv.kw], data: fused),
                                  bias: fusedBias.map { Tensor(shape: [o], data: $0) }))
        }
        return [Tensor(shape: [1, o, conv.oh, conv.ow], data: runConv2d(x.data, conv, fused, fusedBias))]
    }
}
