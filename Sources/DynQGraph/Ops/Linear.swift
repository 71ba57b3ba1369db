/// `linear`: x `[1, F]` → y `[1, O]`, `x Wᵀ + b` with weight `[O, F]` and bias `[O]`.
public struct LinearAttrs: Equatable, Sendable {
    /// Tensor name of the `[O, F]` weight.
    public var weight: String
    public var bias: String?
    public init(weight: String, bias: String? = nil) { self.weight = weight; self.bias = bias }
}

extension LinearAttrs: OpDefinition {
    static let kind = GraphOpKind.linear
    static let fields = ["weight", "bias"]

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        .linear(LinearAttrs(weight: try r.requiredName("weight"), bias: try r.name("bias")))
    }

    func encode(into o: inout JSONObject) { o["weight"] = .string(weight); o.setOptional("bias", bias) }

    var weightNames: [String] { [weight] + [bias].compactMap { $0 } }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let x = ins[0]
        guard x.count == 2 else { throw c.fail("input must be [1, F] (insert a flatten), not \(x)") }
        let ws = try c.weight(weight, "weight")
        guard ws.count == 2, ws[0] > 0, ws[1] == x[1] else {
            throw c.fail("weight '\(weight)' has shape \(ws), expected [O, \(x[1])]")
        }
        try c.expectWeight(bias, "bias", [ws[0]])
        return [[1, ws[0]]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep {
        let ws = c.weightShape(weight)
        return LinearStep(weight: c.weight(weight), bias: c.weight(bias), o: ws[0], f: ws[1])
    }

    /// `O · F`.
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]]) {
        counts.convMACs = weightShapes[weight]!.reduce(1, *)
    }
}

private struct LinearStep: FloatStep {
    let weight: [Float], bias: [Float]?
    let o: Int, f: Int
    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        [Tensor(shape: [1, o], data: runLinear(args[0].data, weight, bias, o: o, f: f))]
    }
}

/// `y = W x + b` on whole buffers (also the CPM's fully connected layers).
func runLinear(_ x: [Float], _ weight: [Float], _ bias: [Float]?, o: Int, f: Int) -> [Float] {
    x.withUnsafeBufferPointer { xs in
        weight.withUnsafeBufferPointer { ws in
            makeBuffer(o) { out in
                if let bias {
                    bias.withUnsafeBufferPointer { linearKernel(xs.baseAddress!, ws.baseAddress!, $0.baseAddress!, out, o: o, f: f) }
                } else {
                    linearKernel(xs.baseAddress!, ws.baseAddress!, nil, out, o: o, f: f)
                }
            }
        }
    }
}

/// `y = W x + b` for `W` of shape `[o, f]`.
func linearKernel(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                  _ out: UnsafeMutablePointer<Float>, o: Int, f: Int) {
    var i = 0
    while i < o {
        var sum = bias.map { Double($0[i]) } ?? 0
        let row = weight + i * f
        var k = 0
        while k < f { sum += Double(row[k]) * Double(x[k]); k += 1 }
        out[i] = Float(sum)
        i += 1
    }
}
