// concat: channel concatenation, each input requantized to the output's scale (or copied).

extension ModelDescription {
    /// Channel concatenation; input `i` is requantized to the output by `requants[i]`
    /// (`Requant.identity` with equal zero points is a copy).
    public struct Concat: Equatable, Sendable {
        public var inputs: [TensorID]
        public var requants: [Requant]
        public var output: TensorID
        public init(inputs: [TensorID], requants: [Requant], output: TensorID) {
            self.inputs = inputs; self.requants = requants; self.output = output
        }
    }
}

/// A concat's words read in place: `[output, n, input × n, (m, e) × n]`.
struct ConcatWords {
    let record: OpRecord
    var output: TensorID { record.tensor(0) }
    var count: Int { record[1] }
    func input(_ k: Int) -> TensorID { record.tensor(2 + k) }
    func requant(_ k: Int) -> ModelDescription.Requant { record.requant(2 + count + 2 * k) }
}

enum ConcatOp: OpKind {
    typealias Parameters = ConcatWords
    static var code: OpCode { .concat }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        guard r.words.count >= 2, r[1] >= 1, r[1] <= ModelFormat.maxListCount else {
            throw ModelError(.badCount, .operation(r.index), "concat input count not in [1, 65536]",
                             value: r.words.count >= 2 ? Int64(r[1]) : nil, opCode: .concat)
        }
        try r.expectWords(2 + 3 * r[1])
        return ConcatWords(record: r)
    }
    static func words(_ p: ModelDescription.Concat) -> [Int32] {
        var w: [Int32] = [w32(p.output), w32(p.inputs.count)]
        for t in p.inputs { w.append(w32(t)) }
        for i in 0..<p.inputs.count {
            let r = i < p.requants.count ? p.requants[i] : ModelDescription.Requant(multiplier: -1, shift: 0)
            w.append(r.multiplier); w.append(r.shift)
        }
        return w
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op {
        .concat(ModelDescription.Concat(inputs: (0..<p.count).map { p.input($0) },
                                        requants: (0..<p.count).map { p.requant($0) }, output: p.output))
    }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let o = try v.nhwc(p.output)
        var c = 0
        for k in 0..<p.count {
            let x = try v.nhwc(p.input(k))
            guard x.h == o.h, x.w == o.w else { throw v.fail(.badShape, "concat inputs must match the output's H and W", k) }
            c += x.c                                               // each ≤ 2^28, at most 2^16 of them: no overflow
            guard c <= o.c else { throw v.fail(.badShape, "concat inputs have more channels than the output", c) }
            try v.requant(p.requant(k), element: k)
        }
        guard c == o.c else { throw v.fail(.badShape, "concat channels do not add up to the output's", c) }
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        for k in 0..<p.count { body(p.input(k), false) }
        body(p.output, true)
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        var c = KernelCounts()
        let out = m.tensor(p.output.index)
        for k in 0..<p.count {
            let x = m.tensor(p.input(k).index)
            let copy = p.requant(k) == .identity && x.zeroPoint == out.zeroPoint
            c = c + (copy ? copyCounts(count: x.elementCount) : requantizedCopyCounts(count: x.elementCount))
        }
        return c
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let out = c.record(p.output)
        let pixels = out.shape[1] * out.shape[2]
        var offset = 0
        for k in 0..<p.count {
            let id = p.input(k), x = c.record(id), r = p.requant(k)
            let copy = r == .identity && x.zeroPoint == out.zeroPoint
            let rq: Requantize? = copy ? nil
                : Requantize(inputZeroPoint: Int32(x.zeroPoint), multiplier: r.quantizedMultiplier,
                             output: OutputQuantization(zeroPoint: Int32(out.zeroPoint)))
            concatInput(outerCount: pixels, inputInner: x.shape[3], outputInner: out.shape[3], offset: offset,
                        input: c.input8(id), requantize: rq, output: c.int8(p.output), tally: c.kernels.tally)
            offset += x.shape[3]
        }
    }
}
