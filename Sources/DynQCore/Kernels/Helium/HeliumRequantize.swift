// Requantization in MVE form, and the per-channel table every Helium conv / depthwise / linear call builds in its
// scratch.
//
// `QuantizedMultiplier.apply` is `y = ⌊x·m / 2^n + ½⌋`, `n = 31 − e` (single rounding, ties toward +∞). With
//     e ≥ 0:  L = e + 1, R = 1        e < 0:  L = 0, R = −e        (so L − R = e, R ≥ 1)
// the three instructions
//     a = VQSHL(x, L)     = x · 2^L                       (saturated to int32; see below)
//     q = VQDMULH(a, m)   = ⌊a · m / 2^31⌋                (no saturation: m ≥ 0)
//     y = VRSHL(q, −R)    = ⌊(q + 2^(R−1)) / 2^R⌋
// give y = ⌊(a·m + 2^(R−1)·2^31) / 2^(31+R)⌋ (nested floors of integer divisions merge) = ⌊x·m·2^(L−R) / 2^31 + ½⌋,
// exactly `apply(x)`. If x·2^L saturates (only for e ≥ 0, |x| ≥ 2^(30−e)), the true |y| ≥ 2^29 and the computed
// one ≥ 2^29 − 1 with the same sign, so both clamp to the same activation bound. After VRSHL |y| ≤ 2^30, so
// `y + z_out` cannot wrap, and `clamp(y + z_out, act_min, act_max)` equals `OutputQuantization.requantize`.
// M = 0 (m = 0, e = 0) gives 0, as `apply` does.

import DynQIntrinsics

/// The VQSHL / VRSHL shift counts `(L, −R)` of a multiplier exponent `e` (see the file header).
@inline(__always)
internal func heliumShifts(_ e: Int32) -> (left: Int32, right: Int32) {
    e >= 0 ? (e &+ 1, -1) : (0, e)
}

/// `clamp(apply(x) + z_out, act_min, act_max)` for 4 lanes sharing one channel's multiplier `m` and shifts.
@inline(__always)
internal func heliumRequantize(_ x: SIMD4<Int32>, _ m: Int32, _ left: Int32, _ right: Int32,
                               _ q: OutputQuantization) -> SIMD4<Int32> {
    var v = dynq_mve_vqshlq_r_s32(x, left)
    v = dynq_mve_vqdmulhq_n_s32(v, m)
    v = dynq_mve_vrshlq_n_s32(v, right)
    v = dynq_mve_vaddq_n_s32(v, q.zeroPoint)
    v = dynq_mve_vmaxq_s32(v, dynq_mve_vdupq_s32(q.activationMin))
    return dynq_mve_vminq_s32(v, dynq_mve_vdupq_s32(q.activationMax))
}

/// The same for 4 lanes of 4 channels, each with its own multiplier and shifts.
@inline(__always)
internal func heliumRequantize(_ x: SIMD4<Int32>, _ m: SIMD4<Int32>, _ left: SIMD4<Int32>, _ right: SIMD4<Int32>,
                               _ q: OutputQuantization) -> SIMD4<Int32> {
    var v = dynq_mve_vqshlq_s32(x, left)
    v = dynq_mve_vqdmulhq_s32(v, m)
    v = dynq_mve_vrshlq_s32(v, right)
    v = dynq_mve_vaddq_n_s32(v, q.zeroPoint)
    v = dynq_mve_vmaxq_s32(v, dynq_mve_vdupq_s32(q.activationMin))
    return dynq_mve_vminq_s32(v, dynq_mve_vdupq_s32(q.activationMax))
}

/// One output channel's constants: the folded bias `bias − z_in · Σ_k w[k]` (modulo 2^32), the multiplier `m` and
/// its shift counts `heliumShifts(e)`. 16 bytes, so a scalar kernel reads them through one pointer and a
/// channel-lane kernel de-interleaves 4 channels with `VLD4`.
@frozen
public struct HeliumChannelConstants {
    var bias: Int32, multiplier: Int32, left: Int32, right: Int32
}

/// Per-output-channel constants of one kernel call, `⌈O/4⌉·4` entries in the call's scratch (`bytes(channels:)`,
/// 16-byte aligned). Entries past `O` are 0 (4-channel loads read them).
internal struct HeliumChannelTable {
    let entries: UnsafeMutablePointer<HeliumChannelConstants>

    static func bytes(channels: Int) -> Int { 16 * heliumRoundUp(channels, 4) }

    init(_ raw: UnsafeMutableRawPointer, channels: Int) {
        entries = raw.bindMemory(to: HeliumChannelConstants.self, capacity: heliumRoundUp(channels, 4))
    }

    /// The 4 channels `o ..< o+4` as lane vectors (bias, multiplier, left, right): one `VLD4`.
    @inline(__always)
    func lanes(_ o: Int) -> (bias: SIMD4<Int32>, multiplier: SIMD4<Int32>, left: SIMD4<Int32>, right: SIMD4<Int32>) {
        var b = SIMD4<Int32>(), m = b, l = b, r = b
        UnsafeRawPointer(entries + o).withMemoryRebound(to: Int32.self, capacity: 16) {
            dynq_mve_vld4q_s32($0, &b, &m, &l, &r)
        }
        return (b, m, l, r)
    }

    /// Fills the multipliers and shifts, and the folded bias `b[o] − z · sums[o]`, where the weight sums `sums[o]`
    /// are already stored in `entries[o].bias` by the caller. `count` channels; the tail up to a multiple of 4 is
    /// zeroed.
    func finish(count: Int, bias b: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
                zeroPoint z: Int32) {
        for o in 0..<count {
            let sum = entries[o].bias
            let qm = multipliers[o]
            let (l, r) = heliumShifts(qm.shift)
            entries[o] = HeliumChannelConstants(bias: (b?[o] ?? 0) &- z &* sum, multiplier: qm.multiplier,
                                                left: l, right: r)
        }
        for o in count..<heliumRoundUp(count, 4) {
            entries[o] = HeliumChannelConstants(bias: 0, multiplier: 0, left: 0, right: 0)
        }
    }

    /// `count` channels whose weights are rows `[count][k]`: weight sums, then `finish`.
    func fill(rows w: UnsafePointer<Int8>, count: Int, k: Int, bias b: UnsafePointer<Int32>?,
              multipliers: UnsafePointer<QuantizedMultiplier>, zeroPoint z: Int32) {
        for o in 0..<count { entries[o].bias = heliumSum(w + o &* k, k) }
        finish(count: count, bias: b, multipliers: multipliers, zeroPoint: z)
    }
}
