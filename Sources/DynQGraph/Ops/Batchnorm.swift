/// `batchnorm`: inference-mode `BatchNorm2d`, `y = (x − running_mean[c]) / √(running_var[c] + eps) · weight[c] +
/// bias[c]` on x `[1, C, H, W]`.
public struct BatchnormAttrs: Equatable, Sendable {
    public var weight: String, bias: String, runningMean: String, runningVar: String
    public var eps: Float
    public init(weight: String, bias: String, runningMean: String, runningVar: String, eps: Float = 1e-5) {
        self.weight = weight; self.bias = bias; self.runningMean = runningMean; self.runningVar = runningVar
        self.eps = eps
    }
}

extension BatchnormAttrs: OpDefinition {
    static let kind = GraphOpKind.batchnorm
    static let fields = ["weight", "bias", "running_mean", "running_var", "eps"]

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        .batchnorm(BatchnormAttrs(weight: try r.requiredName("weight"), bias: try r.requiredName("bias"),
                                  runningMean: try r.requiredName("running_mean"),
                                  runningVar: try r.requiredName("running_var"),
                                  eps: try r.positiveFloat("eps") ?? 1e-5))
    }

    func encode(into o: inout JSONObject) {
        o["weight"] = .string(weight); o["bias"] = .string(bias)
        o["running_mean"] = .string(runningMean); o["running_var"] = .string(runningVar)
        o["eps"] = .float(eps)
    }

    var weightNames: [String] { [weight, bias, runningMean, runningVar] }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let (channels, _, _) = try c.rank4(ins[0])
        try c.expectWeight(weight, "weight", [channels])
        try c.expectWeight(bias, "bias", [channels])
        try c.expectWeight(runningMean, "running_mean", [channels])
        try c.expectWeight(runningVar, "running_var", [channels])
        return [ins[0]]
    }

    /// `running_var` must not be negative.
    func checkWeightValues(_ weights: [String: Tensor], _ c: ShapeContext) throws {
        if let v = weights[runningVar], v.data.contains(where: { $0 < 0 }) {
            throw c.fail("running_var '\(runningVar)' has negative entries")
        }
    }

    func floatStep(_ c: StepContext) -> any FloatStep {
        let gamma = c.weight(weight), beta = c.weight(bias), mean = c.weight(runningMean)
        let variance = c.weight(runningVar)
        var scale = [Float](), shift = [Float]()
        for ch in 0..<gamma.count {
            let s = Double(gamma[ch]) / (Double(variance[ch]) + Double(eps)).squareRoot()
            scale.append(Float(s))
            shift.append(Float(Double(beta[ch]) - Double(mean[ch]) * s))
        }
        return BatchnormStep(scale: scale, shift: shift)
    }
}

/// `y = x · scale[c] + shift[c]` (folded once in double precision).
private struct BatchnormStep: FloatStep {
    let scale: [Float], shift: [Float]

    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        let x = args[0]
        let c = x.shape[1], plane = x.shape[2] * x.shape[3]
        let data = x.data.withUnsafeBufferPointer { src in
            makeBuffer(x.count) { dst in
                for ch in 0..<c {
                    let a = scale[ch], b = shift[ch]
                    var k = ch * plane
                    let end = k + plane
                    while k < end { dst[k] = src[k] * a + b; k += 1 }
                }
            }
        }
        return [Tensor(shape: x.shape, data: data)]
    }
}
