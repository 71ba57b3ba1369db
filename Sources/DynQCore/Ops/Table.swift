// table: element-wise int8 → int8 lookup (hardswish, hardsigmoid, unfused ReLU / ReLU6, and every other
// element-wise activation the quantizer tabulates).

extension ModelDescription {
    /// Element-wise int8 → int8 lookup `y = table[x + 128]`.
    public struct Table: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        /// int8 `[256]`.
        public var table: BlobID
        public init(input: TensorID, output: TensorID, table: BlobID) {
            self.input = input; self.output = output; self.table = table
        }
    }
}

enum TableOp: OpKind {
    typealias Parameters = ModelDescription.Table
    static var code: OpCode { .table }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(3)
        return Parameters(input: r.tensor(0), output: r.tensor(1), table: r.blob(2))
    }
    static func words(_ p: Parameters) -> [Int32] { [w32(p.input), w32(p.output), w32(p.table)] }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .table(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        _ = try v.anyInt8(p.input); _ = try v.anyInt8(p.output)
        guard v.tensor(p.input).shape == v.tensor(p.output).shape else {
            throw v.fail(.badShape, "table op must keep the shape")
        }
        _ = try v.blob(p.table, .int8, count: 256)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.table) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        lookupCounts(count: m.tensor(p.input.index).elementCount)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        lookupTable(count: c.record(p.input).elementCount, input: c.input8(p.input),
                    table: c.model.pointer(p.table, as: Int8.self), output: c.int8(p.output), tally: c.kernels.tally)
    }
}
