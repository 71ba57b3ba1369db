// gate: the CPM's last step, int8 logits → int16 Q15 coefficients (sigmoid table, or grouped softmax).

extension ModelDescription {
    public enum GateKind: UInt8, Equatable, Sendable {
        /// `η_q = T[h + 128]`, an int16 `[256]` table.
        case sigmoid = 0
        /// Per chunk of `group`: `d = max(h) − h`, `E[d]` from an int32 `[256]` table,
        /// `η_q = round_half_away(2^15 · E / ΣE)`.
        case softmax = 1
    }

    /// The CPM's gate: int8 logits `[1, N]` → int16 Q15 coefficients `[1, N]` (scale 2^−15, zero point 0).
    public struct Gate: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var kind: GateKind
        public var table: BlobID
        /// softmax: the chunk size (N must be a multiple); sigmoid: ignored (store N).
        public var group: Int
        public init(input: TensorID, output: TensorID, kind: GateKind, table: BlobID, group: Int) {
            self.input = input; self.output = output; self.kind = kind; self.table = table; self.group = group
        }
    }
}

enum GateOp: OpKind {
    typealias Parameters = ModelDescription.Gate
    static var code: OpCode { .gate }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(5)
        guard r[2] >= 0, r[2] <= 255, let kind = ModelDescription.GateKind(rawValue: UInt8(r[2])) else {
            throw r.fail(.badParameter, "unknown gate kind", r[2])
        }
        return Parameters(input: r.tensor(0), output: r.tensor(1), kind: kind, table: r.blob(3), group: r[4])
    }
    static func words(_ p: Parameters) -> [Int32] {
        [w32(p.input), w32(p.output), Int32(p.kind.rawValue), w32(p.table), w32(p.group)]
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .gate(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let n = try v.flat(p.input), o = try v.flat(p.output, .int16)
        guard n == o else { throw v.fail(.badShape, "gate must keep the shape", o) }
        switch p.kind {
        case .sigmoid:
            let t = try v.blob(p.table, .int16, count: 256)
            for d in 0..<256 where v.i16(t, d) < 0 {
                throw v.fail(.badParameter, "sigmoid table value not in [0, 32767]", v.i16(t, d), d)
            }
        case .softmax:
            guard p.group >= 1, p.group <= 32_767, n % p.group == 0 else {
                throw v.fail(.badParameter, "softmax group must divide N and be at most 32767", p.group)
            }
            try v.expTable(p.table)
        }
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.table) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        let n = m.tensor(p.input.index).elementCount
        return p.kind == .sigmoid ? sigmoidGateCounts(count: n) : softmaxCounts(count: n, outputBytes: 2)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let n = c.record(p.input).shape.last
        let eta = c.tensor(p.output).assumingMemoryBound(to: Int16.self)
        switch p.kind {
        case .sigmoid:
            sigmoidGate(count: n, logits: c.input8(p.input), table: c.model.pointer(p.table, as: Int16.self),
                        coefficients: eta, tally: c.kernels.tally)
        case .softmax:
            softmaxGate(chunkCount: n / p.group, chunkSize: p.group, logits: c.input8(p.input),
                        expTable: c.model.pointer(p.table, as: UInt32.self), coefficients: eta, tally: c.kernels.tally)
        }
    }
}
