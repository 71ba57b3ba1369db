/// `channel_shuffle`: `view(g, C/g) → transpose → flatten` over channels (ShuffleNet): input channel
/// `gi·(C/g) + i` becomes output channel `i·g + gi`.
public struct ChannelShuffle: OpDefinition {
    public var groups: Int
    public init(groups: Int) { self.groups = groups }

    static let kind = GraphOpKind.channelShuffle
    static let fields = ["groups"]

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        guard let g = try r.int("groups", range: 1...graphMaxAttributeValue) else { throw r.error("missing field 'groups'") }
        return .channelShuffle(groups: g)
    }
    func encode(into o: inout JSONObject) { o["groups"] = .int(groups) }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let x = ins[0]
        try c.rank2or4(x)
        guard x[1] % groups == 0 else { throw c.fail("groups \(groups) does not divide the \(x[1]) channels") }
        return [x]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { self }
}

extension ChannelShuffle: FloatStep {
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0], g = groups
        let c = x.shape[1], spatial = x.count / c, cpg = c / g
        let data = x.data.withUnsafeBufferPointer { src in
            makeBuffer(x.count) { dst in
                for gi in 0..<g {
                    for i in 0..<cpg {
                        (dst + (i * g + gi) * spatial).update(from: src.baseAddress! + (gi * cpg + i) * spatial,
                                                             count: spatial)
                    }
                }
            }
        }
        return [Tensor(shape: x.shape, data: data)]
    }
}
