// Lane helpers of the NEON kernel set: the int8 dot step of the tile (two forms, chosen at build time), the
// requantization of 4 channels, and byte copies. Every NEON instruction comes from DynQIntrinsics' dynq_neon.h
// (`static inline` wrappers that are the instruction on AArch64 and bit-exact C models elsewhere), so the same
// Swift runs, and is tested, on any host.
import DynQIntrinsics

/// One step of the NEON tile: 16 int8 products `x[k]·w[k]` added into the 4 int32 lanes of `acc`, each lane
/// taking 4 of them (which 4 differs between the forms; the tile only uses the sum over all lanes).
///
/// Domain: `x` raw int8 activations in `[−128, 127]`, `w` int8 weights in `[−127, 127]`: every product is at most
/// `128 · 127 = 16 256` in magnitude, so a sum of two fits int16 (`NEONDotSMLAL`), and the int32 lanes wrap
/// modulo 2^32 like the reference's `&+`.
public protocol NEONDot {
    static func accumulate(_ acc: SIMD4<Int32>, _ x: SIMD16<Int8>, _ w: SIMD16<Int8>) -> SIMD4<Int32>
}

/// Armv8.0 NEON (Cortex-A53): `SMULL` (low 8 products, int16) + `SMLAL2` (adds the high 8: lane `i` holds
/// `x[i]·w[i] + x[8+i]·w[8+i]`, |·| ≤ 32 512) + `SADALP` (pairs of int16 lanes added into the int32 lanes).
/// Three instructions per 16 MACs.
public enum NEONDotSMLAL: NEONDot {
    @inlinable @inline(__always)
    public static func accumulate(_ acc: SIMD4<Int32>, _ x: SIMD16<Int8>, _ w: SIMD16<Int8>) -> SIMD4<Int32> {
        dynq_neon_sadalp_s16(acc, dynq_neon_smlal_high_s8(dynq_neon_smull_low_s8(x, w), x, w))
    }
}

/// Armv8.2 dot-product extension (Cortex-A55, A76, ...): one `SDOT` per 16 MACs (lane `l` += `Σ_{j<4}
/// x[4l+j]·w[4l+j]`). Only chosen when the build targets such a core (`dynq_neon_dotprod_native()`); elsewhere
/// the wrapper is the C model, which the tests use.
public enum NEONDotSDOT: NEONDot {
    @inlinable @inline(__always)
    public static func accumulate(_ acc: SIMD4<Int32>, _ x: SIMD16<Int8>, _ w: SIMD16<Int8>) -> SIMD4<Int32> {
        dynq_neon_sdot_s8(acc, x, w)
    }
}

/// The 4 lane sums of four accumulators: `(Σa, Σb, Σc, Σd)` (three `ADDP`).
@inlinable @inline(__always)
internal func neonSums4(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>, _ c: SIMD4<Int32>, _ d: SIMD4<Int32>) -> SIMD4<Int32> {
    dynq_neon_addp_s32(dynq_neon_addp_s32(a, b), dynq_neon_addp_s32(c, d))
}

/// The prepared requantization data of one block of 4 output channels, laid out back to back (offsets in bytes
/// from the block's start, each the sum of the sizes before it): the effective bias `[4]` Int32
/// (`bias[o] − z_in·Σ_k w[o][k]`, wrapping), the multipliers `m[4]` Int32, and the shifts `−n = e − 31` `[4]`
/// Int64 (`SRSHL` counts; lanes 0, 1 then 2, 3). Missing channels are all zero (output `clamp(0) + z`, never
/// stored).
public enum NEONPreparedBlock {
    // Computed (not stored) so that they fold to constants inside the kernels.
    @inlinable @inline(__always) public static var bias: Int { 0 }
    @inlinable @inline(__always) public static var multipliers: Int { bias + MemoryLayout<SIMD4<Int32>>.size }
    @inlinable @inline(__always) public static var shifts: Int { multipliers + MemoryLayout<SIMD4<Int32>>.size }
    /// Bytes of one block.
    @inlinable @inline(__always) public static var bytes: Int { shifts + 2 * MemoryLayout<SIMD2<Int64>>.size }
}

/// Bytes of prepared requantization data per block of 4 output channels (`NEONPreparedBlock`).
@inlinable public var neonPreparedBlockBytes: Int { NEONPreparedBlock.bytes }

/// Writes lane `l` (0...3) of a prepared block.
@inlinable @inline(__always)
internal func neonPrepareLane(_ l: Int, effectiveBias: Int32, multiplier m: QuantizedMultiplier,
                              into block: UnsafeMutableRawPointer) {
    block.storeBytes(of: effectiveBias, toByteOffset: NEONPreparedBlock.bias + 4 * l, as: Int32.self)
    block.storeBytes(of: m.multiplier, toByteOffset: NEONPreparedBlock.multipliers + 4 * l, as: Int32.self)
    block.storeBytes(of: Int64(m.shift) &- 31, toByteOffset: NEONPreparedBlock.shifts + 8 * l, as: Int64.self)
}

/// The output stage of 4 channels, loaded once per block: the prepared lanes and the clamp bounds.
@frozen @usableFromInline
internal struct NEONRequantize4 {
    @usableFromInline var bias: SIMD4<Int32>
    @usableFromInline var multiplier: SIMD4<Int32>
    @usableFromInline var shiftLow: SIMD2<Int64>
    @usableFromInline var shiftHigh: SIMD2<Int64>
    @usableFromInline var low: SIMD4<Int32>
    @usableFromInline var high: SIMD4<Int32>
    @usableFromInline var zeroPoint: SIMD4<Int32>

    @inlinable @inline(__always)
    init(_ block: UnsafeRawPointer, _ q: OutputQuantization) {
        bias = block.loadUnaligned(fromByteOffset: NEONPreparedBlock.bias, as: SIMD4<Int32>.self)
        multiplier = block.loadUnaligned(fromByteOffset: NEONPreparedBlock.multipliers, as: SIMD4<Int32>.self)
        shiftLow = block.loadUnaligned(fromByteOffset: NEONPreparedBlock.shifts, as: SIMD2<Int64>.self)
        shiftHigh = block.loadUnaligned(fromByteOffset: NEONPreparedBlock.shifts + MemoryLayout<SIMD2<Int64>>.size,
                                        as: SIMD2<Int64>.self)
        low = SIMD4(repeating: q.activationMin &- q.zeroPoint)
        high = SIMD4(repeating: q.activationMax &- q.zeroPoint)
        zeroPoint = SIMD4(repeating: q.zeroPoint)
    }

    /// The 4 int8 outputs of the raw sums `Σ x·w` (lane = channel), bytes 0...3 = channels 0...3:
    /// `clamp(sat32((acc·m + 2^(n−1)) >> n), act_min − z, act_max − z) + z` with `acc = sums + bias` (wrapping),
    /// i.e. `OutputQuantization.requantize(acc, m)` = the reference's `finish(m.apply(acc))`: the 64-bit product
    /// is exact (`SMULL`), `SRSHL` by `−n` is the single rounding (ties toward +∞) without overflow, `SQXTN`
    /// saturates like `apply`, and the clamp bounds lie inside `[−255, 255]`.
    @inlinable @inline(__always)
    func callAsFunction(_ sums: SIMD4<Int32>) -> UInt32 {
        let acc = sums &+ bias
        let lo = dynq_neon_srshl_s64(dynq_neon_smull_low_s32(acc, multiplier), shiftLow)
        let hi = dynq_neon_srshl_s64(dynq_neon_smull_high_s32(acc, multiplier), shiftHigh)
        let y = dynq_neon_smin_s32(dynq_neon_smax_s32(dynq_neon_sqxtn_s64(lo, hi), low), high)
        return dynq_neon_narrow_s32_s8(y &+ zeroPoint)
    }
}

/// Stores the first `channels` (1...4) bytes of `v` (byte 0 first) at `out`.
@inlinable @inline(__always)
internal func neonStore(_ v: UInt32, channels: Int, _ out: UnsafeMutablePointer<Int8>) {
    if channels == 4 {
        UnsafeMutableRawPointer(out).storeBytes(of: v, as: UInt32.self)
        return
    }
    var v = v
    for c in 0..<channels {
        out[c] = Int8(truncatingIfNeeded: v)
        v >>= 8
    }
}

/// Copies `n` bytes (16 and 8 at a time, then bytes).
@inlinable @inline(__always)
internal func neonCopy(_ src: UnsafePointer<Int8>, _ dst: UnsafeMutablePointer<Int8>, _ n: Int) {
    let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
    var i = 0
    while i + 16 <= n {
        d.storeBytes(of: s.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self), toByteOffset: i,
                     as: SIMD16<Int8>.self)
        i += 16
    }
    if i + 8 <= n {
        d.storeBytes(of: s.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
        i += 8
    }
    while i < n { dst[i] = src[i]; i += 1 }
}

/// Fills `n` bytes with `v`.
@inlinable @inline(__always)
internal func neonFill(_ dst: UnsafeMutablePointer<Int8>, _ v: Int8, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst)
    let v16 = SIMD16<Int8>(repeating: v)
    var i = 0
    while i + 16 <= n { d.storeBytes(of: v16, toByteOffset: i, as: SIMD16<Int8>.self); i += 16 }
    while i < n { dst[i] = v; i += 1 }
}
