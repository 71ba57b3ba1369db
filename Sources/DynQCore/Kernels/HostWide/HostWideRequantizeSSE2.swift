// The 8-lane per-channel requantization of the HostWide SSE2 kernels (default x86-64 build): `finish(apply(acc))` of
// the reference for 8 output channels, in the OFFSET FORM of `UniformRequantization` with per-lane constants.
//
// For a lane with n = 31 − e ≥ 32 (M < ½: every conv of a trained CNN), with v = x + 2^31 ∈ [0, 2^32) (the sign bit
// flipped), T = ⌈(2^31·m − 2^(n−1)) / 2^n⌉ and K = 2^(n−1) − 2^31·m + T·2^n ∈ [0, 2^n) (SIMDRequantize.swift proves
// it):   ⌊(x·m + 2^(n−1)) / 2^n⌋ = ⌊(v·m + K) / 2^n⌋ − T,   with v·m + K < 2^63 + 2^n (unsigned 64-bit) and the
// quotient below 2^32, so its low word minus T (wrapping) is the exact unsaturated `apply(x)`, |y| ≤ 2^30 + 1.
// Per 4 lanes: two `pmuludq`, two 64-bit adds, the per-lane shifts (two `psrlq` and a blend per lane pair), one
// subtraction: no absolute value, sign fix-up or magnitude cap. Then `y + z` (no overflow), `packssdw` (saturation
// to int16 keeps the clamp exact: [act_min, act_max] ⊂ [−128, 127]), `pmaxsw` / `pminsw` and `packsswb`.
// About a third of the instructions of the general `requantize8`.
//
// A block with any lane of n < 32 (M ≥ ½) keeps the general `requantized8` (SIMDRequantize.swift), whose prepared
// data the block also holds.
#if arch(x86_64)
import DynQIntrinsics

/// Bytes of one prepared 8-channel block: bias (32), the offset-form flag (16), two groups of 4 lanes
/// (m, K and n of the even and odd lanes as uint64 pairs, T as 4 int32: 112 each), then the general block.
internal let hostWideSSE2BlockBytes = 272 + requantizeBlockBytes

/// Prepares the 8 lanes of `channels ≤ 8` channels (rest zero) at `base`.
internal func hostWideSSE2Prepare(channels: Int, bias: UnsafePointer<Int32>?,
                                  multipliers: UnsafePointer<QuantizedMultiplier>, into base: UnsafeMutableRawPointer) {
    base.initializeMemory(as: UInt8.self, repeating: 0, count: hostWideSSE2BlockBytes)
    requantizePrepare(channels: channels, bias: bias, multipliers: multipliers, into: base + 272)
    var offsetForm = true
    for l in 0..<8 {
        let m = l < channels ? multipliers[l] : .zero
        let b = l < channels ? (bias?[l] ?? 0) : 0
        base.storeBytes(of: b, toByteOffset: 4 * l, as: Int32.self)
        let c = UniformRequantization(bias: b, multiplier: m)
        if l < channels && !c.offsetForm { offsetForm = false }
        let group = base + 48 + 112 * (l / 4), j = l % 4, slot = 8 * (j / 2), odd = 16 * (j % 2)
        group.storeBytes(of: UInt64(c.multiplier), toByteOffset: odd + slot, as: UInt64.self)
        group.storeBytes(of: c.offset, toByteOffset: 32 + odd + slot, as: UInt64.self)
        group.storeBytes(of: c.offsetForm ? c.shift : 32, toByteOffset: 64 + odd + slot, as: UInt64.self)
        group.storeBytes(of: c.offsetQuotient, toByteOffset: 96 + 4 * j, as: Int32.self)
    }
    base.storeBytes(of: offsetForm ? Int32(1) : 0, toByteOffset: 32, as: Int32.self)
}

/// The output stage of the SSE2 requantization: `act_min`, `act_max` (int16) and `z` (int32), broadcast.
@frozen
public struct HostWideSSE2Stage {
    public var low: SIMD8<Int16>
    public var high: SIMD8<Int16>
    public var zeroPoint: SIMD4<Int32>
    public var output: OutputQuantization
    @inlinable
    public init(_ q: OutputQuantization) {
        low = SIMD8(repeating: Int16(truncatingIfNeeded: q.activationMin))
        high = SIMD8(repeating: Int16(truncatingIfNeeded: q.activationMax))
        zeroPoint = SIMD4(repeating: q.zeroPoint)
        output = q
    }
}

/// `⌊(v·m + K) / 2^n⌋ − T` for the 4 lanes of group `g` (offset form, see the file header).
@inline(__always)
internal func hostWideSSE2Offset4(_ x: SIMD4<Int32>, _ group: UnsafeRawPointer) -> SIMD4<Int32> {
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let v = unsafeBitCast(x ^ SIMD4<Int32>(repeating: Int32.min), to: SIMD2<UInt64>.self)
    let pE = (v & low) &* group.loadUnaligned(as: SIMD2<UInt64>.self)
        &+ group.loadUnaligned(fromByteOffset: 32, as: SIMD2<UInt64>.self)
    let pO = (v &>> 32) &* group.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
        &+ group.loadUnaligned(fromByteOffset: 48, as: SIMD2<UInt64>.self)
    let yE = dynq_x86_srlv_u64x2(pE, group.loadUnaligned(fromByteOffset: 64, as: SIMD2<UInt64>.self))
    let yO = dynq_x86_srlv_u64x2(pO, group.loadUnaligned(fromByteOffset: 80, as: SIMD2<UInt64>.self))
    return unsafeBitCast(yE | (yO &<< 32), to: SIMD4<Int32>.self)
        &- group.loadUnaligned(fromByteOffset: 96, as: SIMD4<Int32>.self)
}

/// Requantizes 8 accumulators (`lo` = channels 0–3 of the block) with prepared block `pb`: the 8 int8 results as
/// the bytes of an Int64 (channel 0 lowest).
@inline(__always)
internal func hostWideRequantize8SSE2(_ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ pb: UnsafeRawPointer,
                                      _ s: HostWideSSE2Stage) -> Int64 {
    if pb.load(fromByteOffset: 32, as: Int32.self) == 0 {
        return unsafeBitCast(requantized8(lo, hi, pb + 272, s.output), to: Int64.self)
    }
    let y0 = hostWideSSE2Offset4(lo &+ pb.loadUnaligned(as: SIMD4<Int32>.self), pb + 48)
    let y1 = hostWideSSE2Offset4(hi &+ pb.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self), pb + 160)
    let r = dynq_x86_packs_i32x4(y0 &+ s.zeroPoint, y1 &+ s.zeroPoint)
    return dynq_x86_packs_i16x8_low(dynq_x86_min_i16x8(dynq_x86_max_i16x8(r, s.low), s.high))
}
#endif
