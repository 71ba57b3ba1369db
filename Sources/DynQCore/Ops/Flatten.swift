// flatten: NHWC `[1, H, W, C]` → `[1, H·W·C]` in PyTorch's CHW order (a `[1, F]` input is copied).

extension ModelDescription {
    /// An op with one input and one output and no parameters (`flatten`).
    public struct Unary: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public init(input: TensorID, output: TensorID) { self.input = input; self.output = output }
    }
}

enum FlattenOp: OpKind {
    typealias Parameters = ModelDescription.Unary
    static var code: OpCode { .flatten }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(2)
        return Parameters(input: r.tensor(0), output: r.tensor(1))
    }
    static func words(_ p: Parameters) -> [Int32] { [w32(p.input), w32(p.output)] }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .flatten(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let n = try v.anyInt8(p.input)
        let f = try v.flat(p.output)
        guard f == n else { throw v.fail(.badShape, "flatten must keep the element count", f) }
        try v.sameQuantization(p.input, p.output)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        copyCounts(count: m.tensor(p.output.index).elementCount)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let s = c.record(p.input).shape
        let (h, w, ch) = s.rank == 4 ? (s[1], s[2], s[3]) : (1, 1, s[1])
        flattenHWCToCHW(height: h, width: w, channels: ch, input: c.input8(p.input), output: c.int8(p.output),
                        tally: c.kernels.tally)
    }
}
