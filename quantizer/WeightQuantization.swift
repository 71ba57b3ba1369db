import DynQGraph
import Foundation

/// Granularity of the weight scales.
public enum WeightGranularity: String, Sendable, Equatable {
    /// One scale per output channel (docs/numerics.md; shared by the g kernels of a dynamic channel).
    case perChannel = "per-channel"
    /// One scale for the whole layer (for comparison only: the .dynq format stores per-channel scales, so every
    /// channel carries the same value).
    case perTensor = "per-tensor"
}

/// Symmetric int8 weights in [−127, 127], zero point 0, in the float tensor's own element order
/// (`[O, …]` for conv / linear, `[g, O, …]` for dynamic conv).
public struct QuantizedWeights: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Int8]
    /// `s_w[o]`, one per output channel (all equal when quantized per tensor).
    public var scales: [Double]
    /// Weight SQNR in dB: `10·log10(Σ w² / Σ (w − s·q)²)` over the whole layer (+∞ when exact).
    public var sqnrDB: Double
    /// Largest `|q|` of each output channel (over the g kernels for a dynamic layer).
    public var maxAbsQ: [Int]
}

/// Quantizes a weight tensor whose output channel is axis `channelAxis` (0 for `[O, …]`, 1 for `[g, O, …]`).
///
/// `s_w[o] = max |W[·, o, …]| / 127` over every element of channel `o` (for `[g, O, …]`: over the g kernels, so
/// they can be added as integers), `q = round(W / s_w)` (half away from zero) clamped to [−127, 127]. A channel
/// that is all zero gets `s_w = 1/127` (any positive scale is exact for it).
public func quantizeWeights(_ w: Tensor, channelAxis: Int, granularity: WeightGranularity = .perChannel)
    -> QuantizedWeights
{
    precondition(channelAxis < w.shape.count)
    let channels = w.shape[channelAxis]
    let inner = w.shape[(channelAxis + 1)...].reduce(1, *)
    @inline(__always) func channel(_ k: Int) -> Int { (k / inner) % channels }

    var maxAbs = [Double](repeating: 0, count: channels)
    for k in 0..<w.count { let c = channel(k); maxAbs[c] = max(maxAbs[c], Double(abs(w.data[k]))) }
    if granularity == .perTensor {
        let m = maxAbs.max() ?? 0
        maxAbs = [Double](repeating: m, count: channels)
    }
    let scales = maxAbs.map { $0 > 0 ? $0 / 127 : 1.0 / 127 }
    var values = [Int8](repeating: 0, count: w.count)
    var qmax = [Int](repeating: 0, count: channels)
    var signal = 0.0, noise = 0.0
    for k in 0..<w.count {
        let c = channel(k)
        let x = Double(w.data[k])
        let q = Int(max(-127, min(127, (x / scales[c]).rounded(.toNearestOrAwayFromZero))))
        values[k] = Int8(q)
        qmax[c] = max(qmax[c], abs(q))
        let e = x - Double(q) * scales[c]
        signal += x * x
        noise += e * e
    }
    return QuantizedWeights(shape: w.shape, values: values, scales: scales, sqnrDB: sqnrDB(signal: signal, noise: noise),
                            maxAbsQ: qmax)
}

/// `10·log10(signal / noise)`; +∞ for zero noise, −∞ for zero signal with noise.
public func sqnrDB(signal: Double, noise: Double) -> Double {
    if noise == 0 { return .infinity }
    if signal == 0 { return -.infinity }
    return 10 * Foundation.log10(signal / noise)
}
