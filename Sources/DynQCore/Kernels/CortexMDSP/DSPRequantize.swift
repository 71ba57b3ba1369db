// Requantization of the Cortex-M DSP kernel set: `OutputQuantization.requantize(x, M)` (single rounding, ties
// toward +∞, then the output zero point and the activation clamp) with one SMMUL-class multiply per output and
// the clamp done 4 outputs at a time.
//
// With `n = 31 − e ≥ 33` (`e ≤ −2`: every conv / depthwise / linear multiplier below 1/4) write `s = n − 32 ≥ 1`
// and `x·m = H·2^32 + L`, `H = ⌊x·m / 2^32⌋` (SMMUL), `0 ≤ L < 2^32`. Then
//
//     ⌊(x·m + 2^(n−1)) / 2^n⌋ = ⌊(H + 2^(s−1) + L/2^32) / 2^s⌋ = ⌊(H + 2^(s−1)) / 2^s⌋
//
// because `H + 2^(s−1)` is an integer and `L/2^32 < 1` never carries across a multiple of `2^s`. Adding the output
// zero point before the shift, as `z·2^s` (a multiple of 2^s), gives `y + z = (H + 2^(s−1) + z·2^s) >> s`: one
// SMMLA (multiply, add the per-channel constant) and one ASR. No overflow for `s ≤ 22` (`−23 ≤ e ≤ −2`):
// `|H| ≤ 2^30` (|x| ≤ 2^31, m < 2^31), `2^(s−1) ≤ 2^21`, `|z·2^s| ≤ 2^29`. No Int32 saturation is involved:
// `|y| ≤ 2^30`, far inside `requantize`'s. Then SSAT #8 clamps `y + z` to [−128, 127], and the 4 outputs of a tile,
// packed into one word, are clamped to `[activationMin, activationMax]` with SSUB8+SEL per bound (`dynq_smax8x4`,
// `dynq_smin8x4`): equal to `requantize`'s clamp of `y` to `[min − z, max − z]` before adding z.
// Multipliers outside `−23 ≤ e ≤ −2` (M ≥ 1/4, or M < 2^−24) take `requantize` itself.

import DynQIntrinsics

/// One output channel's multiplier, prepared for `DSPRequantizer.fast`: `m`, the shift `s = −1 − e` and the
/// constant `2^(s−1) + z·2^s = (1 + 2z)·2^(s−1)`; `fast == false` when `e` is outside `[−23, −2]` (then the shift and
/// the constant are meaningless).
struct DSPChannelMultiplier {
    var multiplier: Int32
    var shift: UInt32
    var constant: Int32
    var fast: Bool

    /// `zeroPointTerm` = `1 + 2z`. Branch-free: `t = −2 − e` (`s − 1`), `fast ⇔ t < 22` (unsigned), the constant
    /// `(1 + 2z) << (t mod 32)`.
    @inline(always)
    init(_ q: QuantizedMultiplier, zeroPointTerm: Int32) {
        multiplier = q.multiplier
        let t = UInt32(bitPattern: -2 &- q.shift)
        fast = t < 22
        shift = t &+ 1
        constant = Int32(bitPattern: dynq_lsl(UInt32(bitPattern: zeroPointTerm), t & 31))
    }
}

/// Replicates a byte into the 4 bytes of a word.
@inline(always)
func dspBytes4(_ v: Int32) -> UInt32 { (UInt32(bitPattern: v) & 0xFF) &* 0x0101_0101 }

/// The output stage of a layer: zero point and clamp, after a `DSPChannelMultiplier` or `requantize`.
struct DSPRequantizer {
    var output: OutputQuantization
    /// `activationMin` / `activationMax` in each byte.
    var low: UInt32
    var high: UInt32
    /// `1 + 2z`.
    var zeroPointTerm: Int32

    @inline(always)
    init(_ output: OutputQuantization) {
        self.output = output
        low = dspBytes4(output.activationMin)
        high = dspBytes4(output.activationMax)
        zeroPointTerm = 1 &+ 2 &* output.zeroPoint
    }

    /// A channel's prepared multiplier for this output stage.
    @inline(always)
    func channel(_ q: QuantizedMultiplier) -> DSPChannelMultiplier {
        DSPChannelMultiplier(q, zeroPointTerm: zeroPointTerm)
    }

    /// `y + z`, not clamped, valid when `c.fast`: `(SMMUL(x, m) + 2^(s−1) + z·2^s) >> s`.
    @inline(always)
    func fast(_ x: Int32, _ c: DSPChannelMultiplier) -> Int32 {
        dynq_asr(dynq_smmul(x, c.multiplier) &+ c.constant, c.shift)
    }

    /// Four `y + z` values (any Int32) saturated to int8 (SSAT) and packed, first in the low byte, then clamped to
    /// `[activationMin, activationMax]` byte by byte.
    @inline(always)
    func pack4(_ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32) -> UInt32 {
        var w = UInt32(bitPattern: dynq_ssat8(a)) & 0xFF
        w |= (UInt32(bitPattern: dynq_ssat8(b)) & 0xFF) &<< 8
        w |= (UInt32(bitPattern: dynq_ssat8(c)) & 0xFF) &<< 16
        w |= UInt32(bitPattern: dynq_ssat8(d)) &<< 24
        return dynq_smin8x4(dynq_smax8x4(w, low), high)
    }

    /// `output.requantize(x, q)` for any multiplier.
    @inline(always)
    func apply(_ x: Int32, _ q: QuantizedMultiplier) -> Int8 {
        let c = channel(q)
        if c.fast { return Int8(truncatingIfNeeded: pack2(fast(x, c), 0)) }
        return output.requantize(x, q)
    }

    /// Two `y + z` values saturated (SSAT), packed in the low half-word (first in the low byte) and clamped.
    @inline(always)
    func pack2(_ a: Int32, _ b: Int32) -> UInt32 {
        let w = (UInt32(bitPattern: dynq_ssat8(a)) & 0xFF) | UInt32(bitPattern: dynq_ssat8(b)) &<< 8
        return dynq_smin8x4(dynq_smax8x4(w, low), high)
    }

    /// Four outputs with any multipliers, packed as in `pack4` (the general path of the tiles).
    @inline(always)
    func apply4(_ x0: Int32, _ q0: QuantizedMultiplier, _ x1: Int32, _ q1: QuantizedMultiplier,
                _ x2: Int32, _ q2: QuantizedMultiplier, _ x3: Int32, _ q3: QuantizedMultiplier) -> UInt32 {
        UInt32(UInt8(bitPattern: apply(x0, q0))) | UInt32(UInt8(bitPattern: apply(x1, q1))) &<< 8
            | UInt32(UInt8(bitPattern: apply(x2, q2))) &<< 16 | UInt32(UInt8(bitPattern: apply(x3, q3))) &<< 24
    }
}
