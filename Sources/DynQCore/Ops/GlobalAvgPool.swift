// global_avgpool: `[1, H, W, C] → [1, 1, 1, C]`, the first step of a CPM.

extension ModelDescription {
    /// Global average pool: int32 sum of `(q − z_in)` over H·W, requantized by `requant`
    /// (`M = s_in / (H·W · s_out)`), `+ z_out`, clamped.
    public struct GlobalAvgPool: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var requant: Requant
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, requant: Requant, clamp: Clamp = .none) {
            self.input = input; self.output = output; self.requant = requant; self.clamp = clamp
        }
    }
}

enum GlobalAvgPoolOp: OpKind {
    typealias Parameters = ModelDescription.GlobalAvgPool
    static var code: OpCode { .globalAvgPool }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(6)
        return Parameters(input: r.tensor(0), output: r.tensor(1), requant: r.requant(2), clamp: r.clamp(4))
    }
    static func words(_ p: Parameters) -> [Int32] {
        [w32(p.input), w32(p.output), p.requant.multiplier, p.requant.shift] + p.clamp.words
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .globalAvgPool(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        guard o.h == 1, o.w == 1, o.c == i.c else { throw v.fail(.badShape, "global avgpool output must be [1, 1, 1, C]") }
        guard i.h * i.w <= 1 << 23 else {                      // H·W·C ≤ 2^28 (record check): no overflow
            throw v.fail(.badShape, "global avgpool over more than 2^23 pixels", i.h)
        }
        try v.requant(p.requant)
        try v.clamp(p.clamp)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        let s = m.tensor(p.input.index).shape
        return ScalarKernels<NoTally>.globalAveragePoolCounts(
            GlobalAveragePoolParams(height: s[1], width: s[2], channels: s[3], inputZeroPoint: 0,
                                    multiplier: .zero, output: OutputQuantization(zeroPoint: 0)))
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let s = c.record(p.input)
        let gp = GlobalAveragePoolParams(height: s.shape[1], width: s.shape[2], channels: s.shape[3],
                                         inputZeroPoint: Int32(s.zeroPoint), multiplier: p.requant.quantizedMultiplier,
                                         output: c.model.outputQuantization(p.output, p.clamp))
        c.kernels.globalAveragePool(gp, input: c.input8(p.input), output: c.int8(p.output))
    }
}
