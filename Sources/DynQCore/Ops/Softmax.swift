// softmax: int8 softmax over `[1, F]` from an exp table, output at scale 1/256, zero point −128.

extension ModelDescription {
    /// int8 softmax over `[1, F]`: `d = max − q`, `E[d]` from an int32 `[256]` table (values in `[0, 2^16]`)
    /// (`round(2^16 · exp(−s_in · d / T))`), output `round_half_away(256 · E / ΣE) − 128` at scale 1/256,
    /// zero point −128.
    public struct Softmax: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var expTable: BlobID
        public init(input: TensorID, output: TensorID, expTable: BlobID) {
            self.input = input; self.output = output; self.expTable = expTable
        }
    }
}

enum SoftmaxOp: OpKind {
    typealias Parameters = ModelDescription.Softmax
    static var code: OpCode { .softmax }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(3)
        return Parameters(input: r.tensor(0), output: r.tensor(1), expTable: r.blob(2))
    }
    static func words(_ p: Parameters) -> [Int32] { [w32(p.input), w32(p.output), w32(p.expTable)] }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .softmax(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let f = try v.flat(p.input), o = try v.flat(p.output)
        guard f == o else { throw v.fail(.badShape, "softmax must keep the shape", o) }
        guard f <= 32_767 else { throw v.fail(.badShape, "softmax over more than 32767 features", f) }
        guard v.tensor(p.output).zeroPoint == -128 else {
            throw v.fail(.badParameter, "softmax output zero point must be -128", v.tensor(p.output).zeroPoint)
        }
        try v.expTable(p.expTable)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.expTable) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        softmaxCounts(count: m.tensor(p.input.index).elementCount, outputBytes: 1)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        softmaxInt8(chunkCount: 1, chunkSize: c.record(p.input).shape.last, logits: c.input8(p.input),
                    expTable: c.model.pointer(p.expTable, as: UInt32.self), output: c.int8(p.output),
                    tally: c.kernels.tally)
    }
}
