// The 16-lane per-channel requantization of the HostWide kernels: `finish(apply(acc))` of the reference for 16
// output channels at once, with 64-bit lanes (`vpmuldq`, `vpsravq` on AVX-512).
//
// For a lane with accumulator x (the reference's exact int32 sum including its bias), multiplier m ∈ [2^30, 2^31)
// (or 0) and n = 31 − e ∈ [1, 62]:
//
//     x_c = clamp(x, −X, X)                     X = requantizeCap(m): 2^max(0, n−22) for n ≤ 52, else 2^31 − 1
//     y   = (x_c · m + 2^(n−1)) >> n            signed 64-bit product and arithmetic shift: the reference's apply
//     out = clamp(y + z, act_min, act_max)
//
// Exactness. The product is exact (|x_c·m| < 2^62) and so is the sum with 2^(n−1) ≤ 2^61, so for |x| ≤ X, y is
// the reference's unsaturated `apply(x)`; and |y| ≤ 2^9 + 1 (n ≥ 22: |x_c·m| ≤ 2^(n−22)·2^31), |y| ≤ 2^30 (n < 22:
// |x_c| ≤ 1) or |y| < 2^10 (n > 52, no cap: |x·m| < 2^62), so y fits the low 32-bit word, y + z cannot overflow,
// and `apply`'s int32 saturation never triggers. For |x| > X (n ≤ 52): |x·M| ≥ X·m / 2^n ≥ 256 (n ≥ 22:
// 2^(n−22)·2^30 / 2^n = 2^8; n < 22: 2^30 / 2^21 = 512), so the reference's y has the sign of x and magnitude
// ≥ 256, and the capped y too: both clamp to act_max (x > 0: y + z ≥ 256 − 128 > 127 ≥ act_max) or act_min
// (x < 0: y + z ≤ −256 + 127 < −128 ≤ act_min). `finish`'s pre-clamp to ±512 changes nothing either way.
// The zero multiplier (m = 0, n = 31) gives y = 0 for every x.
#if arch(x86_64)
import DynQIntrinsics

/// Bytes of one prepared block (16 lanes): bias, cap, m, m of the odd lanes, then 64-bit rounding constants and
/// shift counts of the even and of the odd lanes.
public let hostWideRequantizeBlockBytes = 512

/// Writes lane `l ∈ 0..<16` of the prepared block at `base`: the lane's accumulator offset `bias` (added to the
/// kernel's raw sum; it carries the bias and any constant correction) and multiplier `m` (`.zero` for an unused lane).
internal func hostWideRequantizeLane(_ l: Int, bias: Int32, multiplier m: QuantizedMultiplier,
                                     into base: UnsafeMutableRawPointer) {
    let n = Int64(31 &- m.shift)
    let cap = requantizeCap(m).cap
    base.storeBytes(of: bias, toByteOffset: 4 * l, as: Int32.self)
    base.storeBytes(of: cap, toByteOffset: 64 + 4 * l, as: Int32.self)
    base.storeBytes(of: m.multiplier, toByteOffset: 128 + 4 * l, as: Int32.self)
    let odd = l & 1, slot = l >> 1
    if odd == 1 { base.storeBytes(of: m.multiplier, toByteOffset: 192 + 8 * slot, as: Int32.self) }
    base.storeBytes(of: Int64(1) << (n - 1), toByteOffset: 256 + 64 * odd + 8 * slot, as: Int64.self)
    base.storeBytes(of: n, toByteOffset: 384 + 64 * odd + 8 * slot, as: Int64.self)
}

/// Prepares `channels` lanes (rest zero) of one block: lane l gets `bias[l] + offsets[l]` (either may be nil:
/// zero) and `multipliers[l]`.
internal func hostWideRequantizePrepare(channels: Int, bias: UnsafePointer<Int32>?, offsets: UnsafePointer<Int32>?,
                                        multipliers: UnsafePointer<QuantizedMultiplier>,
                                        into base: UnsafeMutableRawPointer) {
    base.initializeMemory(as: UInt8.self, repeating: 0, count: hostWideRequantizeBlockBytes)
    for l in 0..<16 {
        if l < channels {
            let b = (bias?[l] ?? 0) &+ (offsets?[l] ?? 0)
            hostWideRequantizeLane(l, bias: b, multiplier: multipliers[l], into: base)
        } else {
            hostWideRequantizeLane(l, bias: 0, multiplier: .zero, into: base)
        }
    }
}

/// The output stage's constants, broadcast: `act_min`, `act_max`, `z`.
@frozen
public struct HostWideOutputStage {
    public var low: SIMD16<Int32>
    public var high: SIMD16<Int32>
    public var zeroPoint: SIMD16<Int32>
    @inlinable
    public init(_ q: OutputQuantization) {
        low = SIMD16(repeating: q.activationMin); high = SIMD16(repeating: q.activationMax)
        zeroPoint = SIMD16(repeating: q.zeroPoint)
    }
}

/// Requantizes 16 raw accumulators with prepared block `pb` (see the file header): 16 int8 outputs.
@inline(__always)
internal func hostWideRequantize16(_ acc: SIMD16<Int32>, _ pb: UnsafeRawPointer, _ s: HostWideOutputStage)
    -> SIMD16<Int8> {
    let x = acc &+ pb.loadUnaligned(as: SIMD16<Int32>.self)
    let cap = pb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self)
    let xc = dynq_x86_min_i32x16(dynq_x86_max_i32x16(x, SIMD16<Int32>() &- cap), cap)
    let pE = dynq_x86_mul_even(xc, pb.loadUnaligned(fromByteOffset: 128, as: SIMD16<Int32>.self))
    let xO = unsafeBitCast(unsafeBitCast(xc, to: SIMD8<Int64>.self) &>> 32, to: SIMD16<Int32>.self)
    let pO = dynq_x86_mul_even(xO, pb.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int32>.self))
    let yE = (pE &+ pb.loadUnaligned(fromByteOffset: 256, as: SIMD8<Int64>.self))
        &>> pb.loadUnaligned(fromByteOffset: 384, as: SIMD8<Int64>.self)
    let yO = (pO &+ pb.loadUnaligned(fromByteOffset: 320, as: SIMD8<Int64>.self))
        &>> pb.loadUnaligned(fromByteOffset: 448, as: SIMD8<Int64>.self)
    let y = unsafeBitCast((yE & SIMD8<Int64>(repeating: 0xFFFF_FFFF)) | (yO &<< 32), to: SIMD16<Int32>.self)
    let r = dynq_x86_min_i32x16(dynq_x86_max_i32x16(y &+ s.zeroPoint, s.low), s.high)
    return dynq_x86_narrow_i32x16(r)
}
#endif
