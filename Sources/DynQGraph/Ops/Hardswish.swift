/// `hardswish`: `x · relu6(x + 3) / 6`.
public struct Hardswish: ActivationOp {
    static let kind = GraphOpKind.hardswish
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .hardswish }
    public init() {}
    public func value(_ x: Double) -> Double { x * min(max(x + 3, 0), 6) / 6 }
    public func value(_ x: Float) -> Float { x * relu6(x + 3) / 6 }
}
