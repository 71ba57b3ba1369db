// Vector requantization of 8 int32 accumulators to int8, bit-exact with `OutputQuantization.requantize`
// (hence with the reference's `finish(apply(acc))`) for every int32 accumulator.
//
// Per lane, with n = 31 − e and s = sign(x):
//   Y = (|x| · m + 2^(n−1) − [x < 0]) >> n             unsigned 64-bit: |x| ≤ 2^31, m < 2^31 (x86 `pmuludq`)
//   y = s · min(Y, 2^14)                                 = ⌊x·m/2^n + ½⌋ (ties toward +∞) when |y| < 2^14
//   out = clamp(y, act_min − z, act_max − z) + z
// For x < 0, ⌊(−|x|m + 2^(n−1)) / 2^n⌋ = −⌊(|x|m + 2^(n−1) − 1) / 2^n⌋, hence the `− [x < 0]`. Capping |y| at
// 2^14 changes nothing after the clamp to `[act_min − z, act_max − z] ⊆ [−255, 255]`.
// Only element-wise builtins are used, so the helper inlines into the kernels without calls.

/// Bytes of prepared requantization data per block of 8 channels: bias `[8]` Int32, then multipliers, rounding
/// constants and shift counts, each `[8]` UInt64 in lane order `(0, 2), (1, 3), (4, 6), (5, 7)`.
public let requantizeBlockBytes = 32 + 3 * 64

/// Bytes of prepared requantization data for `channels` channels (rounded up to 8).
@inlinable
public func requantizePreparedBytes(channels: Int) -> Int {
    (channels + 7) / 8 * requantizeBlockBytes
}

/// Lays out bias and multipliers of `channels` channels for `requantize8` (missing channels: zero).
@inlinable
public func requantizePrepare(
    channels: Int, bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
    into dst: UnsafeMutableRawPointer
) {
    let blocks = (channels + 7) / 8
    for b in 0..<blocks {
        let base = dst + b * requantizeBlockBytes
        for l in 0..<8 {
            let ch = b * 8 + l
            let valid = ch < channels
            let bias = valid ? (bias?[ch] ?? 0) : 0
            let m = valid ? multipliers[ch] : .zero
            let n = UInt64(31 &- Int64(m.shift))
            base.storeBytes(of: bias, toByteOffset: 4 * l, as: Int32.self)
            // lane l → 64-bit slot: quad (l / 4), parity (l & 1), position ((l & 3) >> 1)
            let slot = (l / 4) * 4 + (l & 1) * 2 + ((l & 3) >> 1)
            base.storeBytes(of: UInt64(UInt32(bitPattern: m.multiplier)), toByteOffset: 32 + 8 * slot, as: UInt64.self)
            base.storeBytes(of: UInt64(1) << (n - 1), toByteOffset: 96 + 8 * slot, as: UInt64.self)
            base.storeBytes(of: n, toByteOffset: 160 + 8 * slot, as: UInt64.self)
        }
    }
}

/// `|Y| = (|x|·m + r − [x<0]) >> n`, capped at 2^14, for 4 lanes; `q` is the quad (0: lanes 0–3, 1: lanes 4–7).
@inlinable @inline(__always)
internal func requantizeMagnitude4(_ u: SIMD4<Int32>, _ s: SIMD4<Int32>, _ prepared: UnsafeRawPointer, _ q: Int) -> SIMD4<Int32> {
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let u64 = unsafeBitCast(u, to: SIMD2<UInt64>.self)
    let s64 = unsafeBitCast(s, to: SIMD2<UInt64>.self)
    let m = prepared + 32 + 32 * q, r = prepared + 96 + 32 * q, n = prepared + 160 + 32 * q
    let mE = m.loadUnaligned(as: SIMD2<UInt64>.self), mO = m.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let rE = r.loadUnaligned(as: SIMD2<UInt64>.self), rO = r.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let nE = n.loadUnaligned(as: SIMD2<UInt64>.self), nO = n.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
    let pE = ((u64 & low) &* (mE & low) &+ rE &- (s64 & 1)) &>> nE
    let pO = ((u64 &>> 32) &* (mO & low) &+ rO &- ((s64 &>> 32) & 1)) &>> nO
    // Back to 4 × 32-bit lanes: low and high words of the four 64-bit results.
    let lo = unsafeBitCast((pE & low) | (pO &<< 32), to: SIMD4<Int32>.self)
    let hi = unsafeBitCast((pE &>> 32) | (pO & ~low), to: SIMD4<Int32>.self)
    // Y ≥ 2^14 ⟺ hi ≠ 0 or lo ≥ 2^14 (lo's top bits included: logical shift on the unsigned view).
    let big = hi | unsafeBitCast(unsafeBitCast(lo, to: SIMD4<UInt32>.self) &>> 14, to: SIMD4<Int32>.self)
    let nz = (big | (0 &- big)) &>> 31                                   // all ones iff big ≠ 0
    return (lo & ~nz) | (SIMD4<Int32>(repeating: 1 << 14) & nz)
}

/// Requantizes 8 accumulators (channels `8b ..< 8b + 8`, `lo` = first four) with prepared block `prepared` and
/// stores 8 int8 at `out`. Equal to `output.requantize(acc + bias, m)` lane by lane.
@inlinable @inline(__always)
internal func requantize8(
    _ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ prepared: UnsafeRawPointer, _ output: OutputQuantization,
    _ out: UnsafeMutablePointer<Int8>
) {
    let x0 = lo &+ prepared.loadUnaligned(as: SIMD4<Int32>.self)
    let x1 = hi &+ prepared.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self)
    let s0 = x0 &>> 31, s1 = x1 &>> 31
    let y0m = requantizeMagnitude4((x0 ^ s0) &- s0, s0, prepared, 0)
    let y1m = requantizeMagnitude4((x1 ^ s1) &- s1, s1, prepared, 1)
    let lowBound = SIMD4<Int32>(repeating: output.activationMin &- output.zeroPoint)
    let highBound = SIMD4<Int32>(repeating: output.activationMax &- output.zeroPoint)
    let z = SIMD4<Int32>(repeating: output.zeroPoint)
    @inline(__always) func clamp(_ y: SIMD4<Int32>) -> SIMD4<Int32> {
        let dh = y &- highBound                              // |y| ≤ 2^14: no overflow
        let a = highBound &+ (dh & (dh &>> 31))              // min(y, high)
        let dl = a &- lowBound
        return lowBound &+ (dl & ~(dl &>> 31)) &+ z          // max(a, low) + z
    }
    let r0 = clamp((y0m ^ s0) &- s0), r1 = clamp((y1m ^ s1) &- s1)
    let v = SIMD8<Int8>(Int8(truncatingIfNeeded: r0[0]), Int8(truncatingIfNeeded: r0[1]),
                        Int8(truncatingIfNeeded: r0[2]), Int8(truncatingIfNeeded: r0[3]),
                        Int8(truncatingIfNeeded: r1[0]), Int8(truncatingIfNeeded: r1[1]),
                        Int8(truncatingIfNeeded: r1[2]), Int8(truncatingIfNeeded: r1[3]))
    UnsafeMutableRawPointer(out).storeBytes(of: v, as: SIMD8<Int8>.self)
}
