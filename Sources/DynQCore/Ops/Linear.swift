// linear: fully connected `[1, F] → [1, O]`, weights `[O][F]` (classifier heads and the CPMs' FCs).

extension ModelDescription {
    /// `linear`: `[1, F] → [1, O]`, weights int8 `[O][F]`, per-output-channel scales. The output is int8, or int16
    /// with zero point 0 and `clamp` in `[−32768, 32767]` (the wide logits: `linearWide16`, every kernel set).
    public struct Linear: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var weights: BlobID
        /// int32 `[O]` at scale `s_in · s_w[o]`; none = zeros.
        public var bias: BlobID?
        /// int32 `[O][2]` `(m, e)` pairs.
        public var multipliers: BlobID
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, weights: BlobID, bias: BlobID?, multipliers: BlobID,
                    clamp: Clamp = .none) {
            self.input = input; self.output = output; self.weights = weights; self.bias = bias
            self.multipliers = multipliers; self.clamp = clamp
        }
    }
}

enum LinearOp: OpKind {
    typealias Parameters = ModelDescription.Linear
    static var code: OpCode { .linear }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(7)
        return Parameters(input: r.tensor(0), output: r.tensor(1), weights: r.blob(2), bias: r.optionalBlob(3),
                          multipliers: r.blob(4), clamp: r.clamp(5))
    }
    static func words(_ p: Parameters) -> [Int32] {
        [w32(p.input), w32(p.output), w32(p.weights), w32(p.bias), w32(p.multipliers)] + p.clamp.words
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .linear(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let f = try v.flat(p.input)
        let wide = v.tensor(p.output).type == .int16
        let o = try v.flat(p.output, wide ? .int16 : .int8)
        if wide { try v.clamp16(p.clamp) } else { try v.clamp(p.clamp) }
        try v.accumulatorTerms(f)
        try v.weights(p.weights, count: try v.product(o, f, "weight count too large"))
        try v.accumulatorBound(k: f, maxBias: try v.bias(p.bias, count: o))
        try v.requantBlob(p.multipliers, count: o)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.weights); if let b = p.bias { body(b) }; body(p.multipliers) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    /// The output is int16 (the wide logits): `linearWide16` runs, whatever the kernel set.
    @inline(__always) static func isWide(_ p: Parameters, _ m: ModelFile) -> Bool { m.tensorType(p.output.index) == .int16 }

    /// The kernel parameters; for an int16 output the output quantization is unused (zero point 0, `p.clamp`).
    static func params(_ p: Parameters, _ m: ModelFile) -> LinearParams {
        let i = m.tensor(p.input.index)
        return LinearParams(inputFeatures: i.shape.last, outputFeatures: m.tensor(p.output.index).shape.last,
                            inputZeroPoint: Int32(i.zeroPoint),
                            output: isWide(p, m) ? OutputQuantization(zeroPoint: 0)
                                                 : m.outputQuantization(p.output, p.clamp))
    }
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int { params(p, m).macs }

    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant> {
        let lp = params(p, m)
        let v = K.chooseLinear(lp)
        var r = OpRequirements<K.Variant>()
        r.variant = v
        if isWide(p, m) { return r }      // linearWide16 reads the weights in place and needs no scratch
        r.packedWeights = K.linearPackedWeightBytes(lp, v)
        r.scratch = K.linearScratchBytes(lp, v)
        return r
    }
    static func prepare<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        guard let packed = c.buffer(c.slot.packedWeights) else { return }
        K.packLinearWeights(params(p, c.model), c.variant, weights: c.model.pointer(p.weights, as: Int8.self),
                            into: packed)
    }
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        var c = ScalarKernels<NoTally>.linearCounts(params(p, m), bias: p.bias != nil)
        if isWide(p, m) { c.bytesWritten *= 2 }      // int16 logits: linearWide16's 2-byte stores
        return c
    }

    /// The int16 output (wide logits): `linearWide16`, the same for every kernel set (not inlined into each
    /// set's `run`: it is a few hundred MACs per model).
    @inline(never)
    static func runWide<T: KernelTally>(_ p: Parameters, _ m: ModelFile, input: UnsafePointer<Int8>,
                                        output: UnsafeMutablePointer<Int16>, tally: T) {
        linearWide16(params(p, m), input: input, weights: m.pointer(p.weights, as: Int8.self),
                     bias: m.optionalPointer(p.bias, as: Int32.self),
                     multipliers: m.pointer(p.multipliers, as: QuantizedMultiplier.self),
                     low: Int32(p.clamp.min), high: Int32(p.clamp.max), output: output, tally: tally)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        if isWide(p, c.model) {
            runWide(p, c.model, input: c.input8(p.input), output: c.tensor(p.output).assumingMemoryBound(to: Int16.self),
                    tally: c.kernels.tally)
            return
        }
        let weights = c.buffer(c.slot.packedWeights).map { UnsafeRawPointer($0) }
            ?? UnsafeRawPointer(c.model.pointer(p.weights, as: Int8.self))
        c.kernels.linear(params(p, c.model), c.variant,
                         ConvArguments(input: c.input8(p.input), weights: weights,
                                       bias: c.model.optionalPointer(p.bias, as: Int32.self),
                                       multipliers: c.model.pointer(p.multipliers, as: QuantizedMultiplier.self),
                                       output: c.int8(p.output), scratch: c.scratch))
    }
}
