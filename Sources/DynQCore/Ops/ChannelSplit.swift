// channel_split: consecutive channel slices of one tensor; keeps scale and zero point.

extension ModelDescription {
    /// Channel split; the sizes are the outputs' channel counts.
    public struct ChannelSplit: Equatable, Sendable {
        public var input: TensorID
        public var outputs: [TensorID]
        public init(input: TensorID, outputs: [TensorID]) { self.input = input; self.outputs = outputs }
    }
}

/// A split's words read in place: `[input, n, output × n]`.
struct ChannelSplitWords {
    let record: OpRecord
    var input: TensorID { record.tensor(0) }
    var count: Int { record[1] }
    func output(_ k: Int) -> TensorID { record.tensor(2 + k) }
}

enum ChannelSplitOp: OpKind {
    typealias Parameters = ChannelSplitWords
    static var code: OpCode { .channelSplit }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        guard r.words.count >= 2, r[1] >= 1, r[1] <= ModelFormat.maxListCount else {
            throw ModelError(.badCount, .operation(r.index), "split output count not in [1, 65536]",
                             value: r.words.count >= 2 ? Int64(r[1]) : nil, opCode: .channelSplit)
        }
        try r.expectWords(2 + r[1])
        return ChannelSplitWords(record: r)
    }
    static func words(_ p: ModelDescription.ChannelSplit) -> [Int32] {
        [w32(p.input), w32(p.outputs.count)] + p.outputs.map { w32($0) }
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op {
        .channelSplit(ModelDescription.ChannelSplit(input: p.input, outputs: (0..<p.count).map { p.output($0) }))
    }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input)
        var c = 0
        for k in 0..<p.count {
            let t = p.output(k)
            let x = try v.nhwc(t)
            guard x.h == i.h, x.w == i.w else { throw v.fail(.badShape, "split outputs must match the input's H and W", k) }
            try v.sameQuantization(p.input, t)
            c += x.c
            guard c <= i.c else { throw v.fail(.badShape, "split outputs have more channels than the input", c) }
        }
        guard c == i.c else { throw v.fail(.badShape, "split sizes do not add up to the input's channels", c) }
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false)
        for k in 0..<p.count { body(p.output(k), true) }
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        copyCounts(count: m.tensor(p.input.index).elementCount)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let s = c.record(p.input).shape
        var start = 0
        for k in 0..<p.count {
            let t = p.output(k), n = c.record(t).shape[3]
            channelSlice(pixels: s[1] * s[2], inputChannels: s[3], start: start, count: n, input: c.input8(p.input),
                         output: c.int8(t), tally: c.kernels.tally)
            start += n
        }
    }
}
