import Foundation

/// `gelu`: `x · Φ(x) = x/2 · (1 + erf(x / √2))`, the exact (erf) form that `torch.nn.GELU()` computes by default
/// (`approximate='none'`; the tanh approximation is not this op).
public struct Gelu: ActivationOp {
    static let kind = GraphOpKind.gelu
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .gelu }
    public init() {}
    public func value(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x * 0.7071067811865476)) }
}
