// depthwise_conv2d: one filter per channel (channel multiplier 1), weights `[kh][kw][C]`. Its record is
// `ModelDescription.Conv` (Conv2D.swift) with `groups == I == O`.

enum DepthwiseConv2DOp: OpKind {
    typealias Parameters = ModelDescription.Conv
    static var code: OpCode { .depthwiseConv2d }
    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters { try ConvWords.decode(r) }
    static func words(_ p: Parameters) -> [Int32] { ConvWords.words(p) }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .depthwiseConv2d(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        try v.window(p.window, pool: false)
        try v.outputSize(p.window, h: i.h, wd: i.w, out: o)
        try v.clamp(p.clamp)
        guard p.groups == i.c, o.c == i.c else {
            throw v.fail(.badShape, "depthwise needs groups == input channels == output channels", p.groups)
        }
        let k = p.window.taps                                       // ≤ 4096², no overflow
        try v.accumulatorTerms(k)
        try v.weights(p.weights, count: try v.product(k, o.c, "weight count too large"))
        try v.accumulatorBound(k: k, maxBias: try v.bias(p.bias, count: o.c))
        try v.requantBlob(p.multipliers, count: o.c)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.weights); if let b = p.bias { body(b) }; body(p.multipliers) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func params(_ p: Parameters, _ m: ModelFile) -> DepthwiseConv2DParams {
        m.depthwiseParams(p.window, input: p.input, output: p.output, clamp: p.clamp)
    }
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int { params(p, m).macs }

    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant> {
        let dp = params(p, m)
        let v = K.chooseDepthwise(dp)
        var r = OpRequirements<K.Variant>()
        r.variant = v
        r.packedWeights = K.depthwisePackedWeightBytes(dp, v)
        r.scratch = K.depthwiseScratchBytes(dp, v)
        return r
    }
    static func prepare<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        guard let packed = c.buffer(c.slot.packedWeights) else { return }
        K.packDepthwiseWeights(params(p, c.model), c.variant, weights: c.model.pointer(p.weights, as: Int8.self),
                               into: packed)
    }
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        ScalarKernels<NoTally>.depthwiseCounts(params(p, m), bias: p.bias != nil)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let weights = c.buffer(c.slot.packedWeights).map { UnsafeRawPointer($0) }
            ?? UnsafeRawPointer(c.model.pointer(p.weights, as: Int8.self))
        c.kernels.depthwiseConv2d(params(p, c.model), c.variant,
                                  ConvArguments(input: c.input8(p.input), weights: weights,
                                                bias: c.model.optionalPointer(p.bias, as: Int32.self),
                                                multipliers: c.model.pointer(p.multipliers, as: QuantizedMultiplier.self),
                                                output: c.int8(p.output), scratch: c.scratch))
    }
}
