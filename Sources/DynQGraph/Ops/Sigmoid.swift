import Foundation

/// `sigmoid`: `1 / (1 + e^−x)` as an activation (`torch.nn.Sigmoid`); the CPM's sigmoid gate is part of `cpm`.
public struct Sigmoid: ActivationOp {
    static let kind = GraphOpKind.sigmoid
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op { .sigmoid }
    public init() {}
    public func value(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
}
