// NEON element-wise add: bit-exact twin of `addReference`, 8 elements per step.
//
// Per element, as the reference: `x_k = (q_k − z_k) · 2^20`, `t_k = M_k.apply(x_k)`, `out = finish(M.apply(t_1 +
// t_2))`. Every `apply` is the conv tile's: the exact 64-bit product (`SMULL`/`SMULL2`), one rounding shift by
// `−n = e − 31` (`SRSHL`: `⌊(p + 2^(n−1)) / 2^n⌋`, ties toward +∞, as `apply`), and `SQXTN`, which saturates to
// Int32 like `apply`. The input terms widen `d = q − z` with `SMULL` by 2^10 (int16 → int32) and take the other
// 2^10 into the shift: with `P = d·2^10·m`, `apply(d·2^20) = ⌊(P·2^10 + 2^(n−1)) / 2^n⌋` is `SRSHL(P, 10 − n)`
// exactly — a rounding right shift by `n − 10` when `n ≥ 10` (`2^(n−1) = 2^10 · 2^(n−11)`), an exact left shift
// by `10 − n` when `n < 10` (the rounding term is below one step). Ranges: `|d| ≤ 255`, `|P| < 2^49`, so neither
// the rounding add nor the left shift (at most 9 bits) overflows; `t_1 + t_2` wraps like the reference's `&+`; `finish` is the clamp to `[act_min − z, act_max − z]`
// then `+ z` (equal to `finish` for every Int32, see `NEONRequantize4`). Any multipliers (no fast-path condition),
// any count; the last `count mod 8` elements go through a zero-padded 8-element block.
import DynQIntrinsics

/// The constants of one `apply` in the lanes: the multiplier and the `SRSHL` count `e − 31 + preShift` for inputs
/// already multiplied by `2^preShift` of the reference's `x` (see above; 0 for the output term).
@frozen @usableFromInline
internal struct NEONApply {
    @usableFromInline var multiplier: SIMD4<Int32>
    @usableFromInline var shift: SIMD2<Int64>

    @inlinable @inline(__always)
    init(_ m: QuantizedMultiplier, preShift: Int64 = 0) {
        multiplier = SIMD4(repeating: m.multiplier)
        shift = SIMD2(repeating: Int64(m.shift) &- 31 &+ preShift)
    }

    /// `apply` of each lane.
    @inlinable @inline(__always)
    func callAsFunction(_ x: SIMD4<Int32>) -> SIMD4<Int32> {
        dynq_neon_sqxtn_s64(dynq_neon_srshl_s64(dynq_neon_smull_low_s32(x, multiplier), shift),
                            dynq_neon_srshl_s64(dynq_neon_smull_high_s32(x, multiplier), shift))
    }
}

/// NEON add: same contract and results as `addReference` (`input1`, `input2`, `output` of `count` int8; the output
/// may not alias an input). Scratch: none.
@usableFromInline
internal func neonAdd(_ p: AddParams, count: Int, input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>,
                      output: UnsafeMutablePointer<Int8>) {
    // Inputs enter as d·2^10 instead of d·2^20: the missing 2^10 goes into the shift.
    let t1 = NEONApply(p.input1Multiplier, preShift: 10), t2 = NEONApply(p.input2Multiplier, preShift: 10)
    let out = NEONApply(p.outputMultiplier)
    let k = SIMD8<Int16>(repeating: 1 << 10), zero = SIMD4<Int32>()
    let z1 = SIMD8<Int16>(repeating: Int16(truncatingIfNeeded: p.input1ZeroPoint))
    let z2 = SIMD8<Int16>(repeating: Int16(truncatingIfNeeded: p.input2ZeroPoint))
    let q = p.output
    let low = SIMD4<Int32>(repeating: q.activationMin &- q.zeroPoint)
    let high = SIMD4<Int32>(repeating: q.activationMax &- q.zeroPoint)
    let zOut = SIMD4<Int32>(repeating: q.zeroPoint)

    @inline(__always) func block(_ a: SIMD8<Int8>, _ b: SIMD8<Int8>) -> UInt64 {
        // d = q − z in int16 (|d| ≤ 255), then d·2^10 in int32 lanes (`SMULL` by 2^10).
        let da = SIMD8<Int16>(truncatingIfNeeded: a) &- z1, db = SIMD8<Int16>(truncatingIfNeeded: b) &- z2
        let aLo = dynq_neon_smlal_low_s16(zero, da, k), aHi = dynq_neon_smlal_high_s16(zero, da, k)
        let bLo = dynq_neon_smlal_low_s16(zero, db, k), bHi = dynq_neon_smlal_high_s16(zero, db, k)
        let yLo = out(t1(aLo) &+ t2(bLo)), yHi = out(t1(aHi) &+ t2(bHi))
        let rLo = dynq_neon_smin_s32(dynq_neon_smax_s32(yLo, low), high) &+ zOut
        let rHi = dynq_neon_smin_s32(dynq_neon_smax_s32(yHi, low), high) &+ zOut
        return UInt64(dynq_neon_narrow_s32_s8(rLo)) | UInt64(dynq_neon_narrow_s32_s8(rHi)) << 32
    }

    let a = UnsafeRawPointer(input1), b = UnsafeRawPointer(input2), o = UnsafeMutableRawPointer(output)
    var i = 0
    while i &+ 8 <= count {
        o.storeBytes(of: block(a.loadUnaligned(fromByteOffset: i, as: SIMD8<Int8>.self),
                               b.loadUnaligned(fromByteOffset: i, as: SIMD8<Int8>.self)),
                     toByteOffset: i, as: UInt64.self)
        i &+= 8
    }
    if i < count {                                            // the tail through a zero-padded block
        var ta = SIMD8<Int8>(), tb = SIMD8<Int8>()
        for j in 0..<(count &- i) { ta[j] = input1[i &+ j]; tb[j] = input2[i &+ j] }
        var r = block(ta, tb)
        for j in 0..<(count &- i) { output[i &+ j] = Int8(truncatingIfNeeded: r); r >>= 8 }
    }
}
