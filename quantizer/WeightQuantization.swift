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
    /// With adaptive rounding: the layer's output error on the calibration inputs (WeightRounding.swift).
    public var outputError: RoundingError?
}

/// A layer's mean squared output error on the calibration inputs, `Σ_o dᵀ M d`, with nearest rounding and with the
/// rounding adaptive rounding chose (never larger).
public struct RoundingError: Equatable, Sendable {
    public var nearest: Double
    public var adaptive: Double

    /// `adaptive` against `nearest` in percent, as the quantizer prints it ("-36 %"); nil when `nearest` is 0.
    public var change: String? {
        nearest > 0 ? "\(String(format: "%.0f", 100 * (adaptive / nearest - 1))) %" : nil
    }
}

/// Quantizes a weight tensor whose output channel is axis `channelAxis` (0 for `[O, …]`, 1 for `[g, O, …]`).
///
/// `s_w[o] = max |W[·, o, …]| / 127` over every element of channel `o` (for `[g, O, …]`: over the g kernels, so
/// they can be added as integers), `q = round(W / s_w)` (half away from zero) clamped to [−127, 127]. A channel
/// that is all zero gets `s_w = 1/127` (any positive scale is exact for it).
///
/// With `moments` (the layer's calibration input moments, `channelAxis` 0, one matrix per group of
/// `channels / moments.groups` consecutive output channels) each channel's codes are then chosen by
/// `adaptiveRounding` instead: each weight goes to one of its two grid neighbours, same scales, `|q| ≤ 127`.
public func quantizeWeights(_ w: Tensor, channelAxis: Int, granularity: WeightGranularity = .perChannel,
                            moments: InputMoments? = nil) -> QuantizedWeights
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
    var codes = w.data.indices.map { k in
        Int(max(-127, min(127, (Double(w.data[k]) / scales[channel(k)]).rounded(.toNearestOrAwayFromZero))))
    }
    var outputError: RoundingError?
    if let m = moments, channelAxis == 0, m.groups > 0, channels % m.groups == 0, m.length == inner {
        let perGroup = channels / m.groups, n = m.length
        var before = 0.0, after = 0.0
        m.values.withUnsafeBufferPointer { all in
            for c in 0..<channels {
                let g = c / perGroup
                let row = (0..<inner).map { Double(w.data[c * inner + $0]) }
                let r = adaptiveRounding(row, scale: scales[c],
                                         moments: UnsafeBufferPointer(rebasing: all[(g * n * n)..<((g + 1) * n * n)]))
                for k in 0..<inner { codes[c * inner + k] = r.q[k] }
                before += r.nearestError; after += r.error
            }
        }
        outputError = RoundingError(nearest: before, adaptive: after)
    }
    var values = [Int8](repeating: 0, count: w.count)
    var qmax = [Int](repeating: 0, count: channels)
    var signal = 0.0, noise = 0.0
    for k in 0..<w.count {
        let c = channel(k)
        let x = Double(w.data[k])
        let q = codes[k]
        values[k] = Int8(q)
        qmax[c] = max(qmax[c], abs(q))
        let e = x - Double(q) * scales[c]
        signal += x * x
        noise += e * e
    }
    return QuantizedWeights(shape: w.shape, values: values, scales: scales, sqnrDB: sqnrDB(signal: signal, noise: noise),
                            maxAbsQ: qmax, outputError: outputError)
}

/// `10·log10(signal / noise)`; +∞ for zero noise, −∞ for zero signal with noise.
public func sqnrDB(signal: Double, noise: Double) -> Double {
    if noise == 0 { return .infinity }
    if signal == 0 { return -.infinity }
    return 10 * Foundation.log10(signal / noise)
}
