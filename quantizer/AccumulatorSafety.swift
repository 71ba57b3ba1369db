import DynQGraph

/// The int32 accumulator proof of one layer (docs/numerics.md, "Convolution and linear").
///
/// The contract's bound (the one the .dynq validator enforces) is `K · 255 · 127 + max|bias| < 2^31`; the tight
/// bound uses the actual input zero point (`|q_in − z_in| ≤ max(128 + z, 127 − z)`) and the actual int8 weights
/// (`max_o Σ_k |q_w[o,k]|`). The quantizer refuses a layer when the contract's bound fails.
public struct AccumulatorBound: Equatable, Sendable {
    /// Terms summed per output (`K = kh · kw · I/groups`, F for linear, the window for a pool).
    public var terms: Int
    /// Largest |bias| added to the accumulator (static layers: the stored int32 bias; dynamic layers: the
    /// calibration maximum of the per-sample `bias_acc`, which has no static bound).
    public var bias: Int
    /// `K · 255 · 127 + bias` (for pools: `K · 255`).
    public var bound: Int
    /// `max_o (max|q_in − z_in| · Σ_k |q_w[o,k]| + |bias[o]|)` (dynamic layers: with `|q_f| ≤ 127`).
    public var tightBound: Int
    /// `2^31 − 1 − K · 255 · 127`: the |bias| the accumulator can still absorb.
    public var biasHeadroom: Int

    public static let limit = Int(Int32.max)
    public var isSafe: Bool { bound <= AccumulatorBound.limit }
}

/// `max(128 + z, 127 − z)`: the largest `|q − z|` for int8 q.
func inputMagnitude(_ z: Int) -> Int { Swift.max(128 + z, 127 - z) }

/// Proves a static conv / linear layer. `weights` is `[O][K]` (any order inside a channel).
func staticAccumulatorBound(layer: String, inputZero: Int, weights: [Int8], channels: Int, bias: [Int32]?)
    throws -> AccumulatorBound
{
    let k = weights.count / Swift.max(channels, 1)
    let mag = inputMagnitude(inputZero)
    var tight = 0, maxBias = 0
    for o in 0..<channels {
        var l1 = 0
        for i in 0..<k { l1 += abs(Int(weights[o * k + i])) }
        let b = bias.map { abs(Int($0[o])) } ?? 0
        tight = Swift.max(tight, mag * l1 + b)
        maxBias = Swift.max(maxBias, b)
    }
    let r = AccumulatorBound(terms: k, bias: maxBias, bound: k * 255 * 127 + maxBias, tightBound: tight,
                             biasHeadroom: AccumulatorBound.limit - k * 255 * 127)
    guard r.isSafe else {
        throw DynQError("layer \(layer): the int32 accumulator can overflow: K = \(k) terms of 255 · 127 plus "
                        + "|bias| up to \(maxBias) is \(r.bound) ≥ 2^31")
    }
    return r
}

/// Proves the parts of a dynamic layer that have static bounds:
/// - the fusion `F = Σ_t η_q q_w` with `η_q ≤ etaMax` each (and `Σ_t η_q ≤ etaSum`): `max_{o,k} ≤ 2^31 − 1`;
/// - the convolution on the re-quantized kernel: `mag · K · 127 < 2^31`;
/// - `B = Σ_t η_q mb_q + b_q · 2^15` in int64.
/// The per-sample `bias_acc = round(127 · B / A)` has no static bound (A can be arbitrarily small): the caller
/// compares the calibration maximum with `biasHeadroom`.
func dynamicAccumulatorBound(layer: String, inputZero: Int, weights: [Int8], kernels g: Int, channels o: Int,
                             etaMax: Int, etaSum: Int, mixedBias: [Int32]?, bias: [Int32]?,
                             observedBiasAcc: Int) throws -> AccumulatorBound {
    let k = weights.count / Swift.max(g * o, 1)
    // Fusion bound: Σ_t η_q |q_w| ≤ min(etaMax · Σ_t |q_w|, etaSum · max_t |q_w|).
    var fusionWorst = 0
    for ch in 0..<o {
        for i in 0..<k {
            var sum = 0, mx = 0
            for t in 0..<g {
                let a = abs(Int(weights[(t * o + ch) * k + i]))
                sum += a; mx = Swift.max(mx, a)
            }
            fusionWorst = Swift.max(fusionWorst, Swift.min(etaMax * sum, etaSum * mx))
        }
    }
    guard fusionWorst <= AccumulatorBound.limit else {
        throw DynQError("layer \(layer): the int32 fused kernel F = Σ_t η_q · q_w can reach \(fusionWorst) ≥ 2^31 "
                        + "(g = \(g) kernels)")
    }
    // B in int64: |B| ≤ etaSum-bounded mixed sum + |b_q| · 2^15.
    var bWorst = 0.0
    for ch in 0..<o {
        var mbSum = 0.0
        if let mb = mixedBias {
            var mx = 0.0, s = 0.0
            for t in 0..<g { let a = Double(abs(Int(mb[t * o + ch]))); s += a; mx = Swift.max(mx, a) }
            mbSum = Swift.min(Double(etaMax) * s, Double(etaSum) * mx)
        }
        bWorst = Swift.max(bWorst, mbSum + Double(abs(Int(bias?[ch] ?? 0))) * 32768)
    }
    guard bWorst < 9.2e18 else {
        throw DynQError("layer \(layer): the int64 fused bias B can overflow (bound \(bWorst))")
    }
    let mag = inputMagnitude(inputZero)
    let contract = k * 255 * 127
    let r = AccumulatorBound(terms: k, bias: observedBiasAcc, bound: contract + observedBiasAcc,
                             tightBound: mag * k * 127 + observedBiasAcc, biasHeadroom: AccumulatorBound.limit - contract)
    guard contract <= AccumulatorBound.limit else {
        throw DynQError("layer \(layer): the int32 accumulator can overflow: K = \(k) terms of 255 · 127 (the fused "
                        + "kernel is int8) is \(contract) ≥ 2^31")
    }
    guard r.isSafe else {
        throw DynQError("layer \(layer): the per-sample bias reached \(observedBiasAcc) in calibration, more than "
                        + "the \(r.biasHeadroom) the int32 accumulator can absorb next to K = \(k) terms")
    }
    return r
}

/// A sum of `terms` int8 values minus a zero point (pools).
func poolAccumulatorBound(layer: String, inputZero: Int, terms: Int) throws -> AccumulatorBound {
    let r = AccumulatorBound(terms: terms, bias: 0, bound: terms * 255, tightBound: inputMagnitude(inputZero) * terms,
                             biasHeadroom: AccumulatorBound.limit - terms * 255)
    guard r.isSafe else {
        throw DynQError("layer \(layer): the int32 sum over \(terms) values can overflow")
    }
    return r
}
