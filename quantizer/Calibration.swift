import DynQGraph
import Foundation

/// Runs the float graph on one input and reports every tensor it computes, by name (the graph input included).
/// `FloatEngine` is the real one; tests may pass any closure.
public typealias FloatRunner = (_ input: Tensor, _ observe: (String, Tensor) -> Void) throws -> Void

/// Statistics of one dynamic layer's per-sample fused kernels `W_o = Σ_t η_{o,t} W[t, o]` (float, BN folded).
public struct FusedKernelStats: Sendable {
    /// Range of every fused kernel element over the calibration samples.
    public var values = ValueRange.empty
    /// Range of `max_k |W_o[k]|` over channels and samples.
    public var channelMaxAbs = ValueRange.empty
    /// Range of the integer `A[o] = max_k |Σ_t η_q q_w|` the runtime sees (filled by the quantizer, which knows
    /// q_w; Q15 coefficients rounded from the float ones).
    public var fusionMax = ValueRange.empty
    public init() {}
}

/// The coefficient-precision study: the fused kernels built from coefficients rounded to `bits` fractional bits
/// (`η_q = round(η · 2^bits)` clamped to `[0, 2^bits − 1]`) against the float ones, over every dynamic layer and
/// calibration sample.
public struct CoefficientPrecision: Sendable, Equatable {
    public var bits: Int
    /// `max |η − η_q / 2^bits|`.
    public var maxCoefficientError: Double
    /// `10·log10(Σ W_f² / Σ (W_f − W_f,q)²)`, the fused-kernel SQNR due to coefficient rounding alone.
    public var fusedKernelSQNRdB: Double
}

/// Everything calibration measured: a histogram per tensor (graph tensors by name, CPM internals as
/// `<cpm>.pool`, `<cpm>.hidden` (after the ReLU), `<cpm>.logits`) and the fused-kernel statistics of every
/// dynamic layer, by node name.
public struct CalibrationStats: Sendable {
    public var histograms: [String: Histogram] = [:]
    public var fused: [String: FusedKernelStats] = [:]
    /// Coefficient vectors seen, per CPM node, per sample (for the fixed-point fusion statistics).
    public var coefficients: [String: [[Float]]] = [:]
    public var coefficientPrecision: [CoefficientPrecision] = []
    /// The float (NCHW) shape of every graph tensor seen.
    public var shapes: [String: [Int]] = [:]
    public var samples = 0
    public init() {}

    public func observedRange(_ tensor: String) -> ValueRange { histograms[tensor]?.exact ?? .empty }
}

/// Runs `runner` over `inputs` (float, already preprocessed, `[1, C, H, W]`) and collects `CalibrationStats`
/// for the folded float model. `progress(done, total)` is called after every sample.
public func calibrate(_ model: FloatModel, inputs: [Tensor], runner: FloatRunner, histogramBins: Int = 2048,
                      coefficientBits: [Int] = [8, 12, 15],
                      progress: ((Int, Int) -> Void)? = nil) throws -> CalibrationStats {
    var stats = CalibrationStats()
    let graph = model.graph
    let cpms = graph.nodes.filter { if case .cpm = $0.op { return true }; return false }
    let dynamics = graph.nodes.filter { if case .dynamicConv2d = $0.op { return true }; return false }
    let cpmOf: [String: Node] = Dictionary(uniqueKeysWithValues: cpms.map { ($0.outputs[0], $0) })
    var precisionAcc = coefficientBits.map { _ in (maxErr: 0.0, signal: 0.0, noise: 0.0) }

    func hist(_ name: String, _ values: [Float]) {
        stats.histograms[name, default: Histogram(bins: histogramBins)].add(values)
    }

    for (index, input) in inputs.enumerated() {
        var seen: [String: Tensor] = [:]
        try runner(input) { name, t in seen[name] = t }
        for (name, t) in seen {
            hist(name, t.data)
            if stats.shapes[name] == nil { stats.shapes[name] = t.shape }
        }
        // CPM internals, recomputed from the CPM input.
        for node in cpms {
            guard case .cpm(let a) = node.op, let x = seen[node.inputs[0]] else { continue }
            let cpm = try CPMFloat(a, weights: model.weights, node: node.name)
            let (pool, hidden, logits) = cpm.forward(x)
            hist("\(node.name).pool", pool)
            if let hidden { hist("\(node.name).hidden", hidden) }
            hist("\(node.name).logits", logits)
            if let eta = seen[node.outputs[0]] {
                stats.coefficients[node.name, default: []].append(eta.data)
            }
        }
        // Fused kernels.
        for node in dynamics {
            guard case .dynamicConv2d(let d) = node.op, let cpm = cpmOf[node.inputs[1]],
                  let eta = seen[node.inputs[1]], let w = model.weights[d.weight] else { continue }
            _ = cpm
            let g = w.shape[0], o = w.shape[1], k = w.count / (g * o)
            var st = stats.fused[node.name] ?? FusedKernelStats()
            let coeff = { (ch: Int, t: Int) -> Double in
                Double(eta.data[d.mode == .perChannel ? d.coeffOffset + ch * g + t : d.coeffOffset + t])
            }
            var fusedQ = [[Double]](repeating: [Double](repeating: 0, count: k), count: coefficientBits.count)
            for ch in 0..<o {
                var mx = 0.0
                for b in 0..<coefficientBits.count { for i in 0..<k { fusedQ[b][i] = 0 } }
                var fused = [Double](repeating: 0, count: k)
                for t in 0..<g {
                    let e = coeff(ch, t)
                    let base = (t * o + ch) * k
                    for i in 0..<k { fused[i] += e * Double(w.data[base + i]) }
                    for (b, bits) in coefficientBits.enumerated() {
                        let scale = Double(1 << bits)
                        let eq = Swift.min(Swift.max((e * scale).rounded(.toNearestOrAwayFromZero), 0), scale - 1) / scale
                        precisionAcc[b].maxErr = Swift.max(precisionAcc[b].maxErr, Swift.abs(e - eq))
                        for i in 0..<k { fusedQ[b][i] += eq * Double(w.data[base + i]) }
                    }
                }
                for i in 0..<k {
                    st.values.include(fused[i]); mx = Swift.max(mx, Swift.abs(fused[i]))
                    for b in 0..<coefficientBits.count {
                        let err = fused[i] - fusedQ[b][i]
                        precisionAcc[b].signal += fused[i] * fused[i]
                        precisionAcc[b].noise += err * err
                    }
                }
                st.channelMaxAbs.include(mx)
            }
            stats.fused[node.name] = st
        }
        stats.samples += 1
        progress?(index + 1, inputs.count)
    }
    stats.coefficientPrecision = zip(coefficientBits, precisionAcc).map { bits, acc in
        CoefficientPrecision(bits: bits, maxCoefficientError: acc.maxErr,
                             fusedKernelSQNRdB: sqnrDB(signal: acc.signal, noise: acc.noise))
    }
    return stats
}

/// The float CPM (docs/graph-format.md) split into its steps, for the internal tensors' ranges.
struct CPMFloat {
    var fc1: Tensor, b1: Tensor?, fc2: Tensor?, b2: Tensor?

    init(_ a: CPMAttrs, weights: [String: Tensor], node: String) throws {
        func w(_ n: String) throws -> Tensor {
            guard let t = weights[n] else { throw DynQError("cpm \(node): missing weight \(n)") }
            return t
        }
        fc1 = try w(a.fc1Weight)
        b1 = try a.fc1Bias.map(w)
        fc2 = try a.fc2Weight.map(w)
        b2 = try a.fc2Bias.map(w)
    }

    static func linear(_ x: [Double], _ w: Tensor, _ b: Tensor?) -> [Double] {
        let o = w.shape[0], f = w.shape[1]
        return (0..<o).map { r in
            var s = Double(b?.data[r] ?? 0)
            for c in 0..<f { s += Double(w.data[r * f + c]) * x[c] }
            return s
        }
    }

    /// (pooled, hidden after ReLU (two-layer CPM only), logits).
    func forward(_ x: Tensor) -> ([Float], [Float]?, [Float]) {
        let c = x.shape[1], hw = x.count / c
        var p = [Double](repeating: 0, count: c)
        for ch in 0..<c {
            var s = 0.0
            for i in 0..<hw { s += Double(x.data[ch * hw + i]) }
            p[ch] = s / Double(hw)
        }
        var h = CPMFloat.linear(p, fc1, b1)
        var hidden: [Float]? = nil
        if let fc2 {
            h = h.map { Swift.max($0, 0) }
            hidden = h.map(Float.init)
            h = CPMFloat.linear(h, fc2, b2)
        }
        return (p.map(Float.init), hidden, h.map(Float.init))
    }
}

/// The `FloatEngine` as a calibration runner (its `.tensor` events).
public func floatEngineRunner(_ model: FloatModel) throws -> FloatRunner {
    let engine = try FloatEngine(graph: model.graph, weights: model.weights)
    return { input, observe in
        try withoutActuallyEscaping(observe) { observe in
            _ = try engine.run(input) { event in
                if case .tensor(let name, let t) = event { observe(name, t) }
            }
        }
    }
}
