// Requantization of the Cortex-M DSP kernel set: `OutputQuantization.requantize(x, M)` (single rounding, ties
// toward +∞, then the activation clamp and the output zero point) with one SMMUL-class multiply.
//
// With `n = 31 − e ≥ 33` (`e ≤ −2`, every conv / depthwise / linear multiplier below 1/4) write `s = n − 32 ≥ 1`
// and `x·m = H·2^32 + L`, `H = ⌊x·m / 2^32⌋` (SMMUL), `0 ≤ L < 2^32`. Then
//
//     ⌊(x·m + 2^(n−1)) / 2^n⌋ = ⌊(H + 2^(s−1) + L/2^32) / 2^s⌋ = ⌊(H + 2^(s−1)) / 2^s⌋
//
// because `H + 2^(s−1)` is an integer and `L/2^32 < 1` never carries across a multiple of `2^s`. So
// `y = (H + 2^(s−1)) >> s`: SMMLA (the multiply and the rounding constant in one instruction) and an ASR. No
// saturation is needed: `|H| ≤ 2^30` (|x| < 2^31, m < 2^31) and `2^(s−1) ≤ 2^29`, so the sum fits int32 and
// `|y| ≤ 2^30`, far inside `requantize`'s Int32 saturation. `y + z` cannot overflow; the clamp to
// `[activationMin, activationMax]` after adding `z` equals `requantize`'s clamp to `[min − z, max − z]` before it.
// Multipliers with `e ≥ −1` (M ≥ 1/4, rare outside residual adds) take `requantize` itself.

import DynQIntrinsics

/// One output channel's multiplier, prepared for `DSPRequantizer.apply`: `m`, the shift `s = −1 − e` and the
/// rounding constant `2^(s−1)`, or `fast == false` when `e ≥ −1`.
struct DSPChannelMultiplier {
    var multiplier: Int32
    var shift: UInt32
    var rounding: Int32
    var fast: Bool

    @inline(__always)
    init(_ q: QuantizedMultiplier) {
        multiplier = q.multiplier
        fast = q.shift <= -2
        let s = fast ? UInt32(truncatingIfNeeded: -1 &- q.shift) : 1       // 1...30
        shift = s
        rounding = Int32(bitPattern: UInt32(1) &<< (s &- 1))
    }
}

/// The output stage of a layer: zero point and clamp, applied after a `DSPChannelMultiplier`.
struct DSPRequantizer {
    var output: OutputQuantization

    @inline(__always)
    init(_ output: OutputQuantization) { self.output = output }

    /// `clamp(y + z, activationMin, activationMax)` for `|y| ≤ 2^30`.
    @inline(__always)
    func finish(_ y: Int32) -> Int8 {
        var v = y &+ output.zeroPoint
        v = v < output.activationMin ? output.activationMin : v
        v = v > output.activationMax ? output.activationMax : v
        return Int8(truncatingIfNeeded: v)
    }

    /// The fast path, valid when `c.fast`: `finish((SMMUL(x, m) + 2^(s−1)) >> s)`.
    @inline(__always)
    func fast(_ x: Int32, _ c: DSPChannelMultiplier) -> Int8 {
        finish(dynq_asr(dynq_smmul(x, c.multiplier) &+ c.rounding, c.shift))
    }

    /// `output.requantize(x, q)` for any multiplier.
    @inline(__always)
    func apply(_ x: Int32, _ q: QuantizedMultiplier) -> Int8 {
        let c = DSPChannelMultiplier(q)
        return c.fast ? fast(x, c) : output.requantize(x, q)
    }
}
