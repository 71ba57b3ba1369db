/// `channel_split`: x → y₁…y_k, `torch.split(x, sizes, dim=1)`; the sizes sum to C.
public struct ChannelSplit: OpDefinition {
    public var sizes: [Int]
    public init(sizes: [Int]) { self.sizes = sizes }

    static let kind = GraphOpKind.channelSplit
    static let fields = ["sizes"]
    static let outputArity = 1...Int.max

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        guard let sizes = try r.ints("sizes") else { throw r.error("missing field 'sizes'") }
        guard sizes.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else { throw r.error("'sizes' must be positive") }
        guard sizes.count == outputCount else {
            throw r.error("'sizes' has \(sizes.count) entries but the node has \(outputCount) outputs")
        }
        return .channelSplit(sizes: sizes)
    }
    func encode(into o: inout JSONObject) { o["sizes"] = .ints(sizes) }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let x = ins[0]
        try c.rank2or4(x)
        let total = sizes.reduce(0, +)
        guard total == x[1] else { throw c.fail("split sizes \(sizes) sum to \(total), the input has \(x[1]) channels") }
        return sizes.map { var s = x; s[1] = $0; return s }
    }

    func floatStep(_ c: StepContext) -> any FloatStep { ChannelSplitStep(outputShapes: c.outputShapes) }
}

private struct ChannelSplitStep: FloatStep {
    let outputShapes: [[Int]]
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0]
        let spatial = x.count / x.shape[1]
        var start = 0
        return outputShapes.map { s in
            let n = s[1] * spatial
            defer { start += n }
            return Tensor(shape: s, data: Array(x.data[start..<start + n]))
        }
    }
}
