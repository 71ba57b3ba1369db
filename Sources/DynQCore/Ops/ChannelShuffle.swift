// channel_shuffle: ShuffleNet's `view(g, C/g) → transpose → view`; keeps scale and zero point.

extension ModelDescription {
    public struct ChannelShuffle: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var groups: Int
        public init(input: TensorID, output: TensorID, groups: Int) {
            self.input = input; self.output = output; self.groups = groups
        }
    }
}

enum ChannelShuffleOp: OpKind {
    typealias Parameters = ModelDescription.ChannelShuffle
    static var code: OpCode { .channelShuffle }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(3)
        return Parameters(input: r.tensor(0), output: r.tensor(1), groups: r[2])
    }
    static func words(_ p: Parameters) -> [Int32] { [w32(p.input), w32(p.output), w32(p.groups)] }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .channelShuffle(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        guard i == o else { throw v.fail(.badShape, "channel shuffle must keep the shape") }
        guard p.groups >= 1, i.c % p.groups == 0 else {
            throw v.fail(.badParameter, "shuffle groups must divide the channels", p.groups)
        }
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
        channelShuffle(pixels: s[1] * s[2], channels: s[3], groups: p.groups, input: c.input8(p.input),
                       output: c.int8(p.output), tally: c.kernels.tally)
    }
}
