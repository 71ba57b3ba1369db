/// `leaky_relu`: `x` for `x > 0`, else `negative_slope · x` (`torch.nn.LeakyReLU`, default slope 0.01).
public struct LeakyRelu: ActivationOp {
    public var negativeSlope: Float
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }

    static let kind = GraphOpKind.leakyRelu
    static let fields = ["negative_slope"]
    /// PyTorch's default.
    public static let defaultNegativeSlope: Float = 0.01

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        .leakyRelu(negativeSlope: try r.float("negative_slope") ?? defaultNegativeSlope)
    }
    func encode(into o: inout JSONObject) { o["negative_slope"] = .float(negativeSlope) }

    public func value(_ x: Double) -> Double { x > 0 ? x : x * Double(negativeSlope) }
    public func value(_ x: Float) -> Float { x > 0 ? x : x * negativeSlope }
}
