import Foundation

/// `cpm`, the coefficient prediction module (docs/graph-format.md): x `[1, C, H, W]` → coefficients `[1, N]`.
/// `p = global_avgpool(x)`, `h = fc1_weight · p + fc1_bias`; with `fc2_weight`, `h = fc2_weight · relu(h) +
/// fc2_bias`; then the gate (sigmoid, or softmax of `h / temperature` over chunks of `softmax_group`).
public struct CPMAttrs: Equatable, Sendable {
    public var fc1Weight: String
    public var fc1Bias: String?
    public var fc2Weight: String?
    public var fc2Bias: String?
    public var gate: Gate
    public init(fc1Weight: String, fc1Bias: String? = nil, fc2Weight: String? = nil, fc2Bias: String? = nil,
                gate: Gate) {
        self.fc1Weight = fc1Weight; self.fc1Bias = fc1Bias; self.fc2Weight = fc2Weight; self.fc2Bias = fc2Bias
        self.gate = gate
    }
}

public enum Gate: Equatable, Sendable {
    case sigmoid
    /// Softmax of `h / temperature` over consecutive chunks of `group` entries.
    case softmax(temperature: Float, group: Int)

    /// The `group` stored when the JSON omits `softmax_group`: the softmax then runs over the whole CPM output
    /// (`N` entries). Use `softmaxGroup(outputCount:)` to resolve it.
    public static let wholeOutputGroup = 0

    /// The number of consecutive entries each softmax runs over, for a CPM with `n` outputs (`n` for the
    /// sigmoid gate, which has no groups).
    public func softmaxGroup(outputCount n: Int) -> Int {
        switch self {
        case .sigmoid: return n
        case .softmax(_, let group): return group == Gate.wholeOutputGroup ? n : group
        }
    }
}

extension CPMAttrs: OpDefinition {
    static let kind = GraphOpKind.cpm
    static let fields = ["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "gate", "temperature", "softmax_group"]

    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op {
        let w1 = try r.requiredName("fc1_weight")
        let b1 = try r.name("fc1_bias"), w2 = try r.name("fc2_weight"), b2 = try r.name("fc2_bias")
        if b2 != nil && w2 == nil { throw r.error("'fc2_bias' given without 'fc2_weight'") }
        guard let g = try r.string("gate") else { throw r.error("missing field 'gate'") }
        let temperature = try r.positiveFloat("temperature")
        let group = try r.int("softmax_group", range: 1...Int.max)
        let gate: Gate
        switch g {
        case "sigmoid":
            if let t = temperature, t != 1 { throw r.error("'temperature' applies only to the softmax gate") }
            if group != nil { throw r.error("'softmax_group' applies only to the softmax gate") }
            gate = .sigmoid
        case "softmax":
            gate = .softmax(temperature: temperature ?? 1, group: group ?? Gate.wholeOutputGroup)
        default:
            throw r.error("'gate' must be \"sigmoid\" or \"softmax\", not \"\(g)\"")
        }
        return .cpm(CPMAttrs(fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2, gate: gate))
    }

    func encode(into o: inout JSONObject) {
        o["fc1_weight"] = .string(fc1Weight); o.setOptional("fc1_bias", fc1Bias)
        o.setOptional("fc2_weight", fc2Weight); o.setOptional("fc2_bias", fc2Bias)
        switch gate {
        case .sigmoid: o["gate"] = .string("sigmoid")
        case .softmax(let t, let group):
            o["gate"] = .string("softmax")
            o["temperature"] = .float(t)
            if group != Gate.wholeOutputGroup { o["softmax_group"] = .int(group) }
        }
    }

    var weightNames: [String] { [fc1Weight] + [fc1Bias, fc2Weight, fc2Bias].compactMap { $0 } }

    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]] {
        let (channels, _, _) = try c.rank4(ins[0])
        let w1 = try c.weight(fc1Weight, "fc1_weight")
        guard w1.count == 2, w1[0] > 0, w1[1] == channels else {
            throw c.fail("weight '\(fc1Weight)' (fc1_weight) has shape \(w1), expected [H, \(channels)]")
        }
        try c.expectWeight(fc1Bias, "fc1_bias", [w1[0]])
        var outCount = w1[0]
        if let f2 = fc2Weight {
            let w2 = try c.weight(f2, "fc2_weight")
            guard w2.count == 2, w2[0] > 0, w2[1] == w1[0] else {
                throw c.fail("weight '\(f2)' (fc2_weight) has shape \(w2), expected [N, \(w1[0])]")
            }
            outCount = w2[0]
            try c.expectWeight(fc2Bias, "fc2_bias", [outCount])
        } else if fc2Bias != nil {
            throw c.fail("fc2_bias given without fc2_weight")
        }
        if case .softmax(_, let group) = gate, group != Gate.wholeOutputGroup, outCount % group != 0 {
            throw c.fail("softmax_group \(group) does not divide the \(outCount) coefficients")
        }
        return [[1, outCount]]
    }

    func floatStep(_ c: StepContext) -> any FloatStep {
        CPMStep(c: c.x[1], plane: c.x[2] * c.x[3], hidden: c.weightShape(fc1Weight)[0], fc1: c.weight(fc1Weight),
                fc1Bias: c.weight(fc1Bias), fc2: c.weight(fc2Weight), fc2Bias: c.weight(fc2Bias), n: c.y[1],
                gate: gate)
    }

    /// The fully connected layers, `H · C + N · H` (the global pool's adds are not counted).
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]]) {
        counts.cpmMACs = weightShapes[fc1Weight]!.reduce(1, *) + (fc2Weight.map { weightShapes[$0]!.reduce(1, *) } ?? 0)
    }
}

// MARK: - Float engine

private struct CPMStep: FloatStep {
    let c: Int, plane: Int
    let hidden: Int
    let fc1: [Float], fc1Bias: [Float]?
    let fc2: [Float]?, fc2Bias: [Float]?
    let n: Int
    let gate: Gate

    func run(_ args: [Tensor], observer: ((FloatEvent) -> Void)?) -> [Tensor] {
        var pooled = [Float](repeating: 0, count: c)
        args[0].data.withUnsafeBufferPointer { xs in
            pooled.withUnsafeMutableBufferPointer { globalAvgpoolKernel(xs.baseAddress!, $0.baseAddress!, c: c, plane: plane) }
        }
        var h = runLinear(pooled, fc1, fc1Bias, o: hidden, f: c)
        if let fc2 {
            for k in h.indices where h[k] < 0 { h[k] = 0 }
            h = runLinear(h, fc2, fc2Bias, o: n, f: hidden)
        }
        switch gate {
        case .sigmoid:
            for k in h.indices { h[k] = Float(1 / (1 + Foundation.exp(-Double(h[k])))) }
        case .softmax(let t, _):
            let group = gate.softmaxGroup(outputCount: n)
            h.withUnsafeMutableBufferPointer { softmaxKernel($0.baseAddress!, count: n, group: group, temperature: t) }
        }
        return [Tensor(shape: [1, n], data: h)]
    }
}
