// input_table: the model's uint8 image → int8, `y = table[c][p]`, folding preprocessing and input quantization.

extension ModelDescription {
    /// The input mapping: uint8 `[1, H, W, C]` → int8 `[1, H, W, C]`, `y = table[c][p]`, an int8 `[C][256]`
    /// table that folds preprocessing and input quantization.
    public struct InputTable: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var table: BlobID
        public init(input: TensorID, output: TensorID, table: BlobID) {
            self.input = input; self.output = output; self.table = table
        }
    }
}

enum InputTableOp: OpKind {
    typealias Parameters = ModelDescription.InputTable
    static var code: OpCode { .inputTable }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(3)
        return Parameters(input: r.tensor(0), output: r.tensor(1), table: r.blob(2))
    }
    static func words(_ p: Parameters) -> [Int32] { [w32(p.input), w32(p.output), w32(p.table)] }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .inputTable(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input, .uint8), o = try v.nhwc(p.output)
        guard i == o else { throw v.fail(.badShape, "input table output must have the input's shape") }
        _ = try v.blob(p.table, .int8, count: try v.product(i.c, 256, "input table too large"))
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.table) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        lookupCounts(count: m.tensor(p.output.index).elementCount)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let s = c.record(p.input).shape
        inputTable(pixels: s[1] * s[2], channels: s[3],
                   image: UnsafePointer(c.tensor(p.input).assumingMemoryBound(to: UInt8.self)),
                   tables: c.model.pointer(p.table, as: Int8.self), output: c.int8(p.output), tally: c.kernels.tally)
    }
}
