import Foundation

/// `silu` (swish): `x · sigmoid(x) = x / (1 + e^−x)` (`torch.nn.SiLU`).
public struct Silu: ActivationOp {
    static let kind = GraphOpKind.silu
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .silu }
    public init() {}
    public func value(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }
}
