// conv2d: dense and grouped convolution, any window (1×1 included; the kernel set's chooser picks the kernel).

extension ModelDescription {
    /// `conv2d` (grouped included, OHWI weights `[O][kh][kw][I/groups]`) and `depthwiseConv2d` (`groups == I == O`,
    /// channel multiplier 1, weights `[kh][kw][C]`).
    public struct Conv: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        /// int8 in `[−127, 127]`, zero point 0, scale `s_w[o]`.
        public var weights: BlobID
        /// int32 `[O]` at scale `s_in · s_w[o]`; none = zeros.
        public var bias: BlobID?
        /// int32 `[O][2]`, `(m, e)` pairs (`QuantizedMultiplier` layout): `M[o] = s_in · s_w[o] / s_out`.
        public var multipliers: BlobID
        public var window: Window
        public var groups: Int
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, weights: BlobID, bias: BlobID?, multipliers: BlobID,
                    window: Window, groups: Int = 1, clamp: Clamp = .none) {
            self.input = input; self.output = output; self.weights = weights; self.bias = bias
            self.multipliers = multipliers; self.window = window; self.groups = groups
            self.clamp = clamp
        }
    }
}

/// What conv2d and depthwise_conv2d share: the words.
enum ConvWords {
    static func decode(_ r: OpRecord) throws(ModelError) -> ModelDescription.Conv {
        try r.expectWords(18)
        return ModelDescription.Conv(input: r.tensor(0), output: r.tensor(1), weights: r.blob(2),
                                     bias: r.optionalBlob(3), multipliers: r.blob(4), window: r.window(5),
                                     groups: r[15], clamp: r.clamp(16))
    }
    static func words(_ p: ModelDescription.Conv) -> [Int32] {
        [w32(p.input), w32(p.output), w32(p.weights), w32(p.bias), w32(p.multipliers)] + p.window.words
            + [w32(p.groups)] + p.clamp.words
    }
}

enum Conv2DOp: OpKind {
    typealias Parameters = ModelDescription.Conv
    static var code: OpCode { .conv2d }
    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters { try ConvWords.decode(r) }
    static func words(_ p: Parameters) -> [Int32] { ConvWords.words(p) }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .conv2d(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        try v.window(p.window, pool: false)
        try v.outputSize(p.window, h: i.h, wd: i.w, out: o)
        try v.clamp(p.clamp)
        guard p.groups >= 1, i.c % p.groups == 0, o.c % p.groups == 0 else {
            throw v.fail(.badShape, "groups must divide input and output channels", p.groups)
        }
        // K first (≤ 66 311 by the accumulator bound), then O·K with an overflow check.
        let k = try v.product(p.window.taps, i.c / p.groups, "kernel window too large")
        try v.accumulatorTerms(k)
        try v.weights(p.weights, count: try v.product(o.c, k, "weight count too large"))
        try v.accumulatorBound(k: k, maxBias: try v.bias(p.bias, count: o.c))
        try v.requantBlob(p.multipliers, count: o.c)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.weights); if let b = p.bias { body(b) }; body(p.multipliers) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func params(_ p: Parameters, _ m: ModelFile) -> Conv2DParams {
        m.convParams(p.window, groups: p.groups, input: p.input, output: p.output, clamp: p.clamp)
    }
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int { params(p, m).macs }

    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant> {
        let cp = params(p, m)
        let v = K.chooseConv(cp)
        var r = OpRequirements<K.Variant>()
        r.variant = v
        r.packedWeights = K.convPackedWeightBytes(cp, v)
        r.scratch = K.convScratchBytes(cp, v)
        return r
    }
    static func prepare<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        guard let packed = c.buffer(c.slot.packedWeights) else { return }
        K.packConvWeights(params(p, c.model), c.variant, weights: c.model.pointer(p.weights, as: Int8.self),
                          into: packed)
    }
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        ScalarKernels<NoTally>.conv2dCounts(params(p, m), bias: p.bias != nil)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let weights = c.buffer(c.slot.packedWeights).map { UnsafeRawPointer($0) }
            ?? UnsafeRawPointer(c.model.pointer(p.weights, as: Int8.self))
        c.kernels.conv2d(params(p, c.model), c.variant,
                         ConvArguments(input: c.input8(p.input), weights: weights,
                                       bias: c.model.optionalPointer(p.bias, as: Int32.self),
                                       multipliers: c.model.pointer(p.multipliers, as: QuantizedMultiplier.self),
                                       output: c.int8(p.output), scratch: c.scratch))
    }
}
