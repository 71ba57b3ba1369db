/// `hardsigmoid`: `relu6(x + 3) / 6`.
public struct Hardsigmoid: ActivationOp {
    static let kind = GraphOpKind.hardsigmoid
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .hardsigmoid }
    public init() {}
    public func value(_ x: Double) -> Double { min(max(x + 3, 0), 6) / 6 }
    public func value(_ x: Float) -> Float { relu6(x + 3) / 6 }
}
