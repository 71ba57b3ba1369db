/// `concat`: x₁…x_k → y, concatenation along channels (`axis` 1, the only axis supported).
public struct Concat: OpDefinition {
    public init() {}
    static let kind = GraphOpKind.concat
    static let fields = ["axis"]
    static let inputArity = 1...Int.max

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        if let axis = try r.int("axis"), axis != 1 { throw r.error("concat supports only axis 1, not \(axis)") }
        return .concat
    }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let x = ins[0]
        try c.rank2or4(x)
        var channels = 0
        for s in ins {
            guard s.count == x.count, s[0] == 1, Array(s.dropFirst(2)) == Array(x.dropFirst(2)) else {
                throw c.fail("cannot concatenate shapes \(ins.map { "\($0)" }.joined(separator: ", ")) along channels")
            }
            channels += s[1]
        }
        var out = x
        out[1] = channels
        return [out]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { ConcatStep(y: c.y) }
}

private struct ConcatStep: FloatStep {
    let y: [Int]
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        var data: [Float] = []
        data.reserveCapacity(y.reduce(1, *))
        for a in args { data.append(contentsOf: a.data) }
        return [Tensor(shape: y, data: data)]
    }
}
