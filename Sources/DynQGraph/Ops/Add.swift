/// `add`: `a + b` element-wise, both of the same shape (`[1, C, H, W]` or `[1, F]`).
public struct Add: OpDefinition {
    public init() {}
    static let kind = GraphOpKind.add
    static let inputArity = 2...2
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .add }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        guard ins[0] == ins[1] else { throw c.fail("cannot add shapes \(ins[0]) and \(ins[1])") }
        try c.rank2or4(ins[0])
        return [ins[0]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { AddStep() }
}

private struct AddStep: FloatStep {
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let a = args[0], b = args[1], n = a.count
        let data = a.data.withUnsafeBufferPointer { p in
            b.data.withUnsafeBufferPointer { q in
                makeBuffer(n) { dst in
                    var k = 0
                    while k < n { dst[k] = p[k] + q[k]; k += 1 }
                }
            }
        }
        return [Tensor(shape: a.shape, data: data)]
    }
}
