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

/// Per-output-channel constants of one kernel call, four int32 arrays of `⌈O/4⌉·4` entries in the call's scratch
/// (`bytes(channels:)`, 16-byte aligned): the folded bias `bias[o] − z_in · Σ_k w[o][k]` (modulo 2^32), and the
/// multiplier `m[o]` with its shift counts `heliumShifts(e[o])`. Entries past `O` are 0 (4-lane loads read them).
internal struct HeliumChannelTable {
    let bias: UnsafeMutablePointer<Int32>
    let multiplier: UnsafeMutablePointer<Int32>
    let left: UnsafeMutablePointer<Int32>
    let right: UnsafeMutablePointer<Int32>

    static func bytes(channels: Int) -> Int { 16 * heliumRoundUp(channels, 4) }

    init(_ raw: UnsafeMutableRawPointer, channels: Int) {
        let n = heliumRoundUp(channels, 4)
        bias = raw.bindMemory(to: Int32.self, capacity: 4 * n)
        multiplier = bias + n
        left = multiplier + n
        right = left + n
    }

    /// Fills the multipliers and shifts, and `bias` with `b[o] − z · sums[o]`, where `sums` are the weight sums
    /// already stored in `bias` by the caller. `count` channels; the tail up to a multiple of 4 is zeroed.
    func finish(count: Int, bias b: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
                zeroPoint z: Int32) {
        for o in 0..<count {
            let s = bias[o]
            bias[o] = (b?[o] ?? 0) &- z &* s
            let qm = multipliers[o]
            multiplier[o] = qm.multiplier
            let (l, r) = heliumShifts(qm.shift)
            left[o] = l; right[o] = r
        }
        for o in count..<heliumRoundUp(count, 4) {
            bias[o] = 0; multiplier[o] = 0; left[o] = 0; right[o] = 0
        }
    }

    /// `count` channels whose weights are rows `[count][k]`: weight sums, then `finish`.
    func fill(rows w: UnsafePointer<Int8>, count: Int, k: Int, bias b: UnsafePointer<Int32>?,
              multipliers: UnsafePointer<QuantizedMultiplier>, zeroPoint z: Int32) {
        for o in 0..<count { bias[o] = heliumSum(w + o * k, k) }
        finish(count: count, bias: b, multipliers: multipliers, zeroPoint: z)
    }
}
