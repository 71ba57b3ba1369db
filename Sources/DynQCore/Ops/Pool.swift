// maxpool and avgpool: windowed pooling that keeps the input's scale and zero point.

extension ModelDescription {
    /// `maxPool` (padding never wins) and `avgPool` (sum, then division rounded half away from zero). Both keep
    /// the input's scale and zero point. Dilation must be 1.
    public struct Pool: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var window: Window
        /// avgPool only: padded positions count in the divisor (PyTorch's default).
        public var countIncludePad: Bool
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, window: Window, countIncludePad: Bool = true,
                    clamp: Clamp = .none) {
            self.input = input; self.output = output; self.window = window; self.countIncludePad = countIncludePad
            self.clamp = clamp
        }
    }
}

/// What maxpool and avgpool share: words, validation, kernel parameters.
enum PoolWords {
    static func decode(_ r: OpRecord) throws(ModelError) -> ModelDescription.Pool {
        try r.expectWords(15)
        guard r[12] == 0 || r[12] == 1 else { throw r.fail(.badParameter, "count_include_pad is not 0 or 1", r[12]) }
        return ModelDescription.Pool(input: r.tensor(0), output: r.tensor(1), window: r.window(2),
                                     countIncludePad: r[12] == 1, clamp: r.clamp(13))
    }
    static func words(_ p: ModelDescription.Pool) -> [Int32] {
        [w32(p.input), w32(p.output)] + p.window.words + [p.countIncludePad ? 1 : 0] + p.clamp.words
    }
    static func validate(_ p: ModelDescription.Pool, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        guard i.c == o.c else { throw v.fail(.badShape, "pooling must keep the channels", o.c) }
        try v.window(p.window, pool: true)
        try v.outputSize(p.window, h: i.h, wd: i.w, out: o)
        try v.clamp(p.clamp)
        try v.sameQuantization(p.input, p.output)
    }
    static func params(_ p: ModelDescription.Pool, _ m: ModelFile) -> Pool2DParams {
        let s = m.tensor(p.input.index)
        var q = Pool2DParams(inputHeight: s.shape[1], inputWidth: s.shape[2], channels: s.shape[3],
                             kernelHeight: p.window.kernelH, kernelWidth: p.window.kernelW, strideY: p.window.strideH,
                             strideX: p.window.strideW, countIncludePad: p.countIncludePad,
                             zeroPoint: Int32(s.zeroPoint), activationMin: Int32(p.clamp.min),
                             activationMax: Int32(p.clamp.max))
        q.window = p.window
        return q
    }
}

enum MaxPoolOp: OpKind {
    typealias Parameters = ModelDescription.Pool
    static var code: OpCode { .maxPool }
    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters { try PoolWords.decode(r) }
    static func words(_ p: Parameters) -> [Int32] { PoolWords.words(p) }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .maxPool(p) }
    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) { try PoolWords.validate(p, v) }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        ScalarKernels<NoTally>.maxPoolCounts(PoolWords.params(p, m))
    }
    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        c.kernels.maxPool2d(PoolWords.params(p, c.model), input: c.input8(p.input), output: c.int8(p.output))
    }
}

enum AvgPoolOp: OpKind {
    typealias Parameters = ModelDescription.Pool
    static var code: OpCode { .avgPool }
    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters { try PoolWords.decode(r) }
    static func words(_ p: Parameters) -> [Int32] { PoolWords.words(p) }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .avgPool(p) }
    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) { try PoolWords.validate(p, v) }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        ScalarKernels<NoTally>.avgPoolCounts(PoolWords.params(p, m))
    }
    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        c.kernels.avgPool2d(PoolWords.params(p, c.model), input: c.input8(p.input), output: c.int8(p.output))
    }
}
