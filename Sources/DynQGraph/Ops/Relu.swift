/// `relu`: `max(x, 0)` (NaN passes through, as in PyTorch).
public struct Relu: ActivationOp {
    static let kind = GraphOpKind.relu
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .relu }
    public init() {}
    public func value(_ x: Double) -> Double { max(x, 0) }
    public func value(_ x: Float) -> Float { x < 0 ? 0 : x }
}
