/// `relu6`: `min(max(x, 0), 6)`.
public struct Relu6: ActivationOp {
    static let kind = GraphOpKind.relu6
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .relu6 }
    public init() {}
    public func value(_ x: Double) -> Double { min(max(x, 0), 6) }
    public func value(_ x: Float) -> Float { relu6(x) }
}

/// `min(max(v, 0), 6)` in float32 (also hardswish's and hardsigmoid's inner term).
@inline(__always) func relu6(_ v: Float) -> Float { v < 0 ? 0 : (v > 6 ? 6 : v) }
