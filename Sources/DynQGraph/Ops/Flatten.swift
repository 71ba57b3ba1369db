/// `flatten`: x → y `[1, C·H·W]`, `torch.flatten(x, 1)` (C order).
public struct Flatten: OpDefinition {
    public init() {}
    static let kind = GraphOpKind.flatten
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .flatten }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        try c.rank2or4(ins[0])
        return [[1, ins[0].dropFirst().reduce(1, *)]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep { FlattenStep(y: c.y) }
}

private struct FlattenStep: FloatStep {
    let y: [Int]
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] { [args[0].reshaped(y)] }
}
