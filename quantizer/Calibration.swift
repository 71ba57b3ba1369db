import DynQGraph
import Foundation

/// Runs the float graph on one input and reports every tensor it computes, by name (the graph input included).
/// `FloatEngine` is the real one; tests may pass any closure.
/// Called from several threads at once (one input each) when calibration runs on several workers.
public typealias FloatRunner = @Sendable (_ input: Tensor, _ observe: (String, Tensor) -> Void) throws -> Void

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
    /// Per-channel sums of every `[1, C]` / `[1, C, H, W]` graph tensor over the samples and positions (channel
    /// axis 1), and how many values each channel's sum holds: `channelMean` (the float side of bias correction,
    /// BiasCorrection.swift).
    public var channelSums: [String: [Double]] = [:]
    public var channelCounts: [String: Int] = [:]
    /// Per-channel `max |x|` of the same tensors over the samples (cross-layer equalization, Equalization.swift).
    public var channelMaxAbs: [String: [Double]] = [:]
    /// Input moments of the layers rounded adaptively, by layer name (filled by `refine`, WeightRounding.swift).
    public var inputMoments: [String: InputMoments] = [:]
    public init() {}

    public func observedRange(_ tensor: String) -> ValueRange { histograms[tensor]?.exact ?? .empty }

    /// The mean of each channel of `tensor` over every calibration sample and position; `nil` when not observed.
    public func channelMean(_ tensor: String) -> [Double]? {
        guard let s = channelSums[tensor], let n = channelCounts[tensor], n > 0 else { return nil }
        return s.map { $0 / Double(n) }
    }
}

/// Adds `t`'s per-channel sums (axis 1 of `[1, C, …]`) to `sums` and takes the per-channel `max |x|` into
/// `maxAbs`; returns the values per channel.
func addChannelSums(_ t: Tensor, to sums: inout [Double], maxAbs: inout [Double]) -> Int {
    let c = t.shape.count >= 2 ? t.shape[1] : 1
    let inner = c > 0 ? t.count / c : 0
    if sums.count != c { sums = [Double](repeating: 0, count: c) }
    if maxAbs.count != c { maxAbs = [Double](repeating: 0, count: c) }
    t.data.withUnsafeBufferPointer { d in
        for ch in 0..<c {
            var s = 0.0, m: Float = 0
            for i in (ch * inner)..<((ch + 1) * inner) { s += Double(d[i]); m = Swift.max(m, Swift.abs(d[i])) }
            sums[ch] += s
            maxAbs[ch] = Swift.max(maxAbs[ch], Double(m))
        }
    }
    return inner
}

/// Runs `runner` over `inputs` (float, already preprocessed, `[1, C, H, W]`) and collects `CalibrationStats`
/// for the folded float model. `progress(done, total)` is called after every sample.
///
/// The float runs and the per-sample statistics are computed on `workers` threads, a batch of inputs at a time;
/// the histograms are then filled in input order, so the result does not depend on `workers`.
public func calibrate(_ model: FloatModel, inputs: [Tensor], runner: FloatRunner, histogramBins: Int = 2048,
                      coefficientBits: [Int] = [8, 12, 15], workers: Int = defaultWorkerCount,
                      progress: ((Int, Int) -> Void)? = nil) throws -> CalibrationStats {
    var stats = CalibrationStats()
    let observer = SampleObserver(model: model, coefficientBits: coefficientBits)
    var precisionAcc = coefficientBits.map { _ in (maxErr: 0.0, signal: 0.0, noise: 0.0) }
    let graph = model.graph

    var sample = 0
    /// Refuses NaN and ±infinity (a non-finite input, or float32 overflow inside the model): no range can be
    /// chosen from them, and the int8 model would silently disagree with the float one.
    func hist(_ name: String, _ values: [Float]) throws {
        if let k = values.firstIndex(where: { !$0.isFinite }) {
            let what = name == graph.input.name ? "the input" : "tensor '\(name)'"
            throw DynQError("calibration image \(sample): \(what) holds \(values[k]) at index \(k)"
                            + (name == graph.input.name ? "; inputs must be finite"
                                                        : " (the float model overflows float32 on this input)"))
        }
        stats.histograms[name, default: Histogram(bins: histogramBins)].add(values)
    }

    try concurrentBatches(count: inputs.count, workers: workers,
                          { try observer.observe(inputs[$0], runner: runner) }) { i, s in
        sample = i
        // The input first, then the others by name, so the first non-finite tensor named is reproducible.
        let inputFirst = s.tensors.filter { $0.0 == graph.input.name } + s.tensors.filter { $0.0 != graph.input.name }
        for (name, t) in inputFirst {
            try hist(name, t.data)
            if stats.shapes[name] == nil { stats.shapes[name] = t.shape }
            if (t.shape.count == 2 || t.shape.count == 4) && t.shape[0] == 1 {
                var sums = stats.channelSums[name] ?? [], maxAbs = stats.channelMaxAbs[name] ?? []
                let n = addChannelSums(t, to: &sums, maxAbs: &maxAbs)
                stats.channelSums[name] = sums; stats.channelMaxAbs[name] = maxAbs
                stats.channelCounts[name, default: 0] += n
            }
        }
        for c in s.cpms {
            try hist("\(c.node).pool", c.pool)
            if let hidden = c.hidden { try hist("\(c.node).hidden", hidden) }
            try hist("\(c.node).logits", c.logits)
            if let eta = c.eta { stats.coefficients[c.node, default: []].append(eta) }
        }
        for f in s.fused {
            var st = stats.fused[f.node] ?? FusedKernelStats()
            st.values.include(f.values)
            st.channelMaxAbs.include(f.channelMaxAbs)
            stats.fused[f.node] = st
        }
        for (b, p) in s.precision.enumerated() {
            precisionAcc[b].maxErr = Swift.max(precisionAcc[b].maxErr, p.maxErr)
            precisionAcc[b].signal += p.signal
            precisionAcc[b].noise += p.noise
        }
        stats.samples += 1
        progress?(stats.samples, inputs.count)
    }
    stats.coefficientPrecision = zip(coefficientBits, precisionAcc).map { bits, acc in
        CoefficientPrecision(bits: bits, maxCoefficientError: acc.maxErr,
                             fusedKernelSQNRdB: sqnrDB(signal: acc.signal, noise: acc.noise))
    }
    return stats
}

/// What one calibration sample contributes, computed independently of every other sample.
private struct SampleObservation: Sendable {
    /// Every tensor the float run produced, sorted by name.
    var tensors: [(String, Tensor)] = []
    /// Each CPM's internal tensors (pooled, hidden after the ReLU, logits) and its output coefficients.
    var cpms: [(node: String, pool: [Float], hidden: [Float]?, logits: [Float], eta: [Float]?)] = []
    /// Each dynamic layer's fused-kernel ranges for this sample.
    var fused: [(node: String, values: ValueRange, channelMaxAbs: ValueRange)] = []
    /// Per coefficient precision: max |η − η_q|, Σ W_f², Σ (W_f − W_f,q)² over this sample.
    var precision: [(maxErr: Double, signal: Double, noise: Double)] = []
}

/// Computes a `SampleObservation` (thread-safe: holds only immutable model data).
private struct SampleObserver: Sendable {
    let model: FloatModel
    let coefficientBits: [Int]
    let cpms: [(Node, CPMAttrs)]
    let dynamics: [(Node, DynamicConv2DAttrs)]

    init(model: FloatModel, coefficientBits: [Int]) {
        self.model = model; self.coefficientBits = coefficientBits
        cpms = model.graph.nodes.compactMap { n in if case .cpm(let a) = n.op { return (n, a) }; return nil }
        dynamics = model.graph.nodes.compactMap { n in if case .dynamicConv2d(let d) = n.op { return (n, d) }; return nil }
    }

    func observe(_ input: Tensor, runner: FloatRunner) throws -> SampleObservation {
        var seen: [String: Tensor] = [:]
        try runner(input) { name, t in seen[name] = t }
        var s = SampleObservation()
        s.tensors = seen.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        s.precision = coefficientBits.map { _ in (0, 0, 0) }
        // CPM internals, recomputed from the CPM input.
        for (node, a) in cpms {
            guard let x = seen[node.inputs[0]] else { continue }
            let (pool, hidden, logits) = try CPMFloat(a, weights: model.weights, node: node.name).forward(x)
            s.cpms.append((node.name, pool, hidden, logits, seen[node.outputs[0]]?.data))
        }
        // Fused kernels.
        let cpmOutputs = Set(cpms.map { $0.0.outputs[0] })
        for (node, d) in dynamics {
            guard cpmOutputs.contains(node.inputs[1]), let eta = seen[node.inputs[1]],
                  let w = model.weights[d.weight] else { continue }
            let g = w.shape[0], o = w.shape[1], k = w.count / (g * o)
            var values = ValueRange.empty, channelMaxAbs = ValueRange.empty
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
                        s.precision[b].maxErr = Swift.max(s.precision[b].maxErr, Swift.abs(e - eq))
                        for i in 0..<k { fusedQ[b][i] += eq * Double(w.data[base + i]) }
                    }
                }
                for i in 0..<k {
                    values.include(fused[i]); mx = Swift.max(mx, Swift.abs(fused[i]))
                    for b in 0..<coefficientBits.count {
                        let err = fused[i] - fusedQ[b][i]
                        s.precision[b].signal += fused[i] * fused[i]
                        s.precision[b].noise += err * err
                    }
                }
                channelMaxAbs.include(mx)
            }
            s.fused.append((node.name, values, channelMaxAbs))
        }
        return s
    }
}

/// The float CPM (docs/graph-format.md) split into its steps, for the internal tensors' ranges.
struct CPMFloat: Sendable {
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
    return { @Sendable input, observe in
        try withoutActuallyEscaping(observe) { observe in
            _ = try engine.run(input) { event in
                if case .tensor(let name, let t) = event { observe(name, t) }
            }
        }
    }
}
