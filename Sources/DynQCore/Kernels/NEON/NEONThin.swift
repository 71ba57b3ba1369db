// NEON thin-K convolution (`NEONKernels.Variant.thin`): output channels in lanes, for layers whose K (weights per
// output channel) is too short for the 16-byte dot chunks of NEONConv.swift. Bit-exact twin of `conv2dReference`
// (Tests/DynQCoreTests/KernelsNEONTests.swift).
//
// Algorithm. A GEMM micro-kernel with the output channels in the vector lanes ("multiply-accumulate by lane"):
// the tile is 4 output pixels × 16 output channels in 16 int32x4 accumulators, which start at the channels' biases.
// Per 8 K elements each pixel's activations are loaded once and widened with the zero point subtracted (`LD1 8B` +
// `SSUBL`: `x − z_in` exact in int16, |·| ≤ 255); then per K element one 32-byte row of int16 weights (16
// channels) and, per pixel, `SMLAL`/`SMLAL2 Vd.4S, Vn.4H/8H, Vm.H[lane]` ×4: 64 MACs in 16 instructions, no
// horizontal reduction, no K padding (a tail of 1...7 elements runs 1...7 lane steps). Padded input positions hold
// `z_in` (they contribute `(z_in − z_in)·w = 0`).
//
// K is walked in `segments` of `segmentLength` contiguous bytes, `segmentStride` apart: one segment of K for rows
// read in place (1×1, no padding, group slice a multiple of 8 bytes) or built by im2col (`neonThinIm2colRow`); for
// other ungrouped convs without horizontal dilation ("direct"), one segment per kernel row: `kw·C` bytes of a padded
// copy of the input row (`z_in` left and right, built once per output row and kernel row), so a 3×3 stem with 1
// or 3 input channels needs no im2col at all.
//
// Output stage, per pixel vectorized over the 16 channels (`NEONThinOutputStage`): when every channel's multiplier
// has `e ≤ −1` (or is zero) `NEONThinFastStage`: `SQDMULH` by m then `SRSHL` by e — `⌊(acc·m + 2^(n−1)) / 2^n⌋`
// exactly for n = 31 − e ≥ 32 (`t = ⌊acc·m / 2^31⌋` loses only bits below the rounding position: with
// `acc·m = t·2^31 + r`, `0 ≤ r < 2^31`, `⌊(acc·m + 2^(n−1)) / 2^n⌋ = ⌊(t + 2^(−e−1)) / 2^(−e)⌋`); otherwise
// `NEONThinExactStage`: SMULL/SMULL2 by m, SRSHL by `e − 31`, SQXTN (as NEONRequantize4). Then SQXTN to int16,
// SQADD z_out, SQXTN to int8, SMAX/SMIN with act_min/act_max, one 16-byte store: the clamp bounds lie in
// [−128, 127], so saturating before the clamp gives `clamp(y, act_min − z, act_max − z) + z` exactly.
//
// Numeric contract: x int8 in [−128, 127], z_in in [−128, 127], w int8 in [−128, 127]: every product
// `(x − z_in)·w` is exact (|·| ≤ 255 · 128 = 32 640) and the int32 lanes wrap modulo 2^32 like the reference's
// `&+`; the reference's accumulator `bias + Σ (x − z_in)·w` is < 2^31 in magnitude (the quantizer's bound), so the
// wrapped lane is that accumulator exactly, and the output stage is `OutputQuantization.requantize` of it.
//
// Packed weights, per group and block of 16 output channels: `[K][16]` int16 (missing channels 0),
// `neonThinBlockBytes(p)` = 32·K bytes per block. Dynamic layers' fusion writes this layout directly
// (NEONFusion.swift).
import DynQIntrinsics

/// Output channels per thin block (and per tile).
public let neonThinBlockChannels = 16
/// Output pixels per thin tile.
public let neonThinTilePixels = 4
/// Whether `NEONKernels.chooseConv` takes the thin tile for `p` — measured per layer on the emulated cores
/// (firmware-sim/qemu/a53-neon-layers.sh, docs/qemu.md), never for fewer than 8 output channels per group. Without
/// the dot product (the 2 × 4 tile on SMULL/SMLAL2/SADALP, 0.29–0.40 instructions per MAC at K ≥ 80): K ≤ 64, or
/// K ≤ 160 when the group's output channels fill whole blocks of 16 (1×1 96→576 0.37 → 0.31, 1×1 128→256 0.34 →
/// 0.31, 3×3 16→32 0.40 → 0.36; 1×1 144→24, half a block idle, 0.35 → 0.43: the tile). With SDOT (the tile at
/// 0.12–0.29 for K ≥ 48): K ≤ 32, or K ≤ 72 for windows larger than 1×1 (im2col rows against padded input rows:
/// 3×3 8→32 0.42 → 0.34).
@inlinable
public func neonThinPreferred(_ p: Conv2DParams, dotProduct: Bool) -> Bool {
    let k = p.weightsPerOutputChannel, gOut = p.groupOutputChannels
    if gOut < 8 { return false }
    if dotProduct { return k <= 32 || (k <= 72 && (p.kernelHeight > 1 || p.kernelWidth > 1)) }
    return k <= 64 || (k <= 160 && gOut % neonThinBlockChannels == 0)
}

/// Blocks of 16 output channels per group.
@inlinable @inline(__always)
internal func neonThinBlocks(_ p: Conv2DParams) -> Int {
    (p.groupOutputChannels + neonThinBlockChannels - 1) / neonThinBlockChannels
}

/// Bytes of one packed block: `[K][16]` int16.
@inlinable @inline(__always)
internal func neonThinBlockBytes(_ p: Conv2DParams) -> Int {
    p.weightsPerOutputChannel * neonThinBlockChannels * MemoryLayout<Int16>.size
}

/// `K` rounded up to a multiple of 8: the bytes of one im2col row.
@inlinable @inline(__always)
internal func neonThinRowBytes(_ p: Conv2DParams) -> Int { (p.weightsPerOutputChannel + 7) / 8 * 8 }

/// Whether the rows are read in place (1×1 window, no padding, each group's input slice a multiple of 8 bytes).
@inlinable @inline(__always)
internal func neonThinRowsInPlace(_ p: Conv2DParams) -> Bool {
    p.kernelHeight == 1 && p.kernelWidth == 1 && p.padding == .zero && p.groupInputChannels % 8 == 0
}

/// Packed weight bytes of the thin variant: `groups · ⌈(O/groups)/16⌉ · 32·K`.
@inlinable
public func neonThinPackedWeightBytes(_ p: Conv2DParams) -> Int {
    p.groups * neonThinBlocks(p) * neonThinBlockBytes(p)
}

/// Whether the direct path runs `p` (padded input rows, one K segment per kernel row): not in place, one group,
/// no horizontal dilation.
@inlinable @inline(__always)
internal func neonThinDirect(_ p: Conv2DParams) -> Bool {
    !neonThinRowsInPlace(p) && p.groups == 1 && p.dilationX == 1
}

/// Bytes of one padded input row of the direct path: `(pad_left + W + pad_right)·C` plus 8 bytes of slack (the
/// last pixel's 8-byte loads).
@inlinable @inline(__always)
internal func neonThinPaddedRowBytes(_ p: Conv2DParams) -> Int {
    (p.padding.left + p.inputWidth + p.padding.right) * p.inputChannels + 8
}

/// Scratch bytes of the thin variant: the prepared output-stage blocks (`groups · ⌈(O/groups)/16⌉ · 320`), then
/// the rows: `kh` padded input rows (direct path), or four im2col rows of `⌈K/8⌉·8` bytes and 8 bytes of slack
/// (the row builder's 8-byte stores).
@inlinable
public func neonThinScratchBytes(_ p: Conv2DParams) -> Int {
    let rows = neonThinDirect(p) ? p.kernelHeight * neonThinPaddedRowBytes(p)
                                 : neonThinTilePixels * neonThinRowBytes(p) + 8
    return p.groups * neonThinBlocks(p) * NEONThinPrepared.bytes + rows
}

/// The prepared output-stage data of one block of 16 output channels (offsets in bytes): the biases `[16]` Int32
/// (the model's bias, 0 when absent), the multipliers `m[16]` Int32, the shifts `e − 31` `[16]` Int64 (the exact
/// stage's `SRSHL` counts), the shifts `e` `[16]` Int32 (the fast stage's; 0 for a zero multiplier). Missing
/// channels are all zero (never stored).
public enum NEONThinPrepared {
    @inlinable @inline(__always) public static var bias: Int { 0 }
    @inlinable @inline(__always) public static var multipliers: Int { bias + 16 * MemoryLayout<Int32>.size }
    @inlinable @inline(__always) public static var shifts: Int { multipliers + 16 * MemoryLayout<Int32>.size }
    @inlinable @inline(__always) public static var shifts32: Int { shifts + 16 * MemoryLayout<Int64>.size }
    /// Bytes of one block.
    @inlinable @inline(__always) public static var bytes: Int { shifts32 + 16 * MemoryLayout<Int32>.size }
}

/// Writes channel `o`'s K OHWI weights, widened to int16, into column `o mod 16` of its block. The last channel of
/// a group also zeroes the block's missing columns, so packing every channel once fills the whole buffer.
@inlinable
internal func neonThinPackChannel(_ p: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                                  into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel, gOut = p.groupOutputChannels
    let g = o / gOut, oc = o - g * gOut
    let b = oc / neonThinBlockChannels, j = oc - b * neonThinBlockChannels
    let block = packed + (g * neonThinBlocks(p) + b) * neonThinBlockBytes(p)
    for e in 0..<k { block.storeBytes(of: Int16(weights[e]), toByteOffset: 2 * (e * 16 + j), as: Int16.self) }
    if oc == gOut - 1 {
        for m in (j + 1)..<neonThinBlockChannels {
            for e in 0..<k { block.storeBytes(of: Int16(0), toByteOffset: 2 * (e * 16 + m), as: Int16.self) }
        }
    }
}

/// The output stage of 16 channels (one thin block): the int8 outputs of one pixel's 16 accumulators.
public protocol NEONThinOutputStage {
    /// Whether the direct path specializes the stems' K walks for this stage (code size: only for the common one).
    static var specializesWalks: Bool { get }
    init(_ block: UnsafeRawPointer, _ q: OutputQuantization)
    /// `clamp(m.apply(acc), act_min − z, act_max − z) + z` of channels 0...3, 4...7, 8...11, 12...15, in order.
    func callAsFunction(_ a0: SIMD4<Int32>, _ a1: SIMD4<Int32>, _ a2: SIMD4<Int32>, _ a3: SIMD4<Int32>) -> SIMD16<Int8>
}

/// The clamp and zero point shared by both stages: int32 `y` (4 × 4 lanes) → SQXTN int16 → SQADD z → SQXTN int8 →
/// SMAX act_min → SMIN act_max.
@frozen @usableFromInline
internal struct NEONThinClamp {
    @usableFromInline var zeroPoint: SIMD8<Int16>
    @usableFromInline var low: SIMD16<Int8>
    @usableFromInline var high: SIMD16<Int8>

    @inlinable @inline(__always)
    init(_ q: OutputQuantization) {
        zeroPoint = SIMD8(repeating: Int16(truncatingIfNeeded: q.zeroPoint))
        low = SIMD16(repeating: Int8(truncatingIfNeeded: q.activationMin))
        high = SIMD16(repeating: Int8(truncatingIfNeeded: q.activationMax))
    }

    @inlinable @inline(__always)
    func callAsFunction(_ y0: SIMD4<Int32>, _ y1: SIMD4<Int32>, _ y2: SIMD4<Int32>, _ y3: SIMD4<Int32>) -> SIMD16<Int8> {
        let h0 = dynq_neon_sqadd_s16(dynq_neon_sqxtn_s32(y0, y1), zeroPoint)
        let h1 = dynq_neon_sqadd_s16(dynq_neon_sqxtn_s32(y2, y3), zeroPoint)
        return dynq_neon_smin_s8(dynq_neon_smax_s8(dynq_neon_sqxtn_s16(h0, h1), low), high)
    }
}

/// `SQDMULH` + `SRSHL` by e: exact when every multiplier of the block has e ≤ −1 or is zero (header).
@frozen
public struct NEONThinFastStage: NEONThinOutputStage {
    @inlinable public static var specializesWalks: Bool { true }
    @usableFromInline var m0: SIMD4<Int32>, m1: SIMD4<Int32>, m2: SIMD4<Int32>, m3: SIMD4<Int32>
    @usableFromInline var e0: SIMD4<Int32>, e1: SIMD4<Int32>, e2: SIMD4<Int32>, e3: SIMD4<Int32>
    @usableFromInline var clamp: NEONThinClamp

    @inlinable @inline(__always)
    public init(_ block: UnsafeRawPointer, _ q: OutputQuantization) {
        let m = NEONThinPrepared.multipliers, e = NEONThinPrepared.shifts32
        m0 = block.load(fromByteOffset: m, as: SIMD4<Int32>.self)
        m1 = block.load(fromByteOffset: m + 16, as: SIMD4<Int32>.self)
        m2 = block.load(fromByteOffset: m + 32, as: SIMD4<Int32>.self)
        m3 = block.load(fromByteOffset: m + 48, as: SIMD4<Int32>.self)
        e0 = block.load(fromByteOffset: e, as: SIMD4<Int32>.self)
        e1 = block.load(fromByteOffset: e + 16, as: SIMD4<Int32>.self)
        e2 = block.load(fromByteOffset: e + 32, as: SIMD4<Int32>.self)
        e3 = block.load(fromByteOffset: e + 48, as: SIMD4<Int32>.self)
        clamp = NEONThinClamp(q)
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ a0: SIMD4<Int32>, _ a1: SIMD4<Int32>, _ a2: SIMD4<Int32>,
                               _ a3: SIMD4<Int32>) -> SIMD16<Int8> {
        clamp(dynq_neon_srshl_s32(dynq_neon_sqdmulh_s32(a0, m0), e0),
              dynq_neon_srshl_s32(dynq_neon_sqdmulh_s32(a1, m1), e1),
              dynq_neon_srshl_s32(dynq_neon_sqdmulh_s32(a2, m2), e2),
              dynq_neon_srshl_s32(dynq_neon_sqdmulh_s32(a3, m3), e3))
    }
}

/// The 64-bit product, `SRSHL` by `e − 31`, SQXTN: exact for every multiplier.
@frozen
public struct NEONThinExactStage: NEONThinOutputStage {
    @inlinable public static var specializesWalks: Bool { false }
    @usableFromInline var m0: SIMD4<Int32>, m1: SIMD4<Int32>, m2: SIMD4<Int32>, m3: SIMD4<Int32>
    @usableFromInline var s0: SIMD2<Int64>, s1: SIMD2<Int64>, s2: SIMD2<Int64>, s3: SIMD2<Int64>
    @usableFromInline var s4: SIMD2<Int64>, s5: SIMD2<Int64>, s6: SIMD2<Int64>, s7: SIMD2<Int64>
    @usableFromInline var clamp: NEONThinClamp

    @inlinable @inline(__always)
    public init(_ block: UnsafeRawPointer, _ q: OutputQuantization) {
        let m = NEONThinPrepared.multipliers, s = NEONThinPrepared.shifts
        m0 = block.load(fromByteOffset: m, as: SIMD4<Int32>.self)
        m1 = block.load(fromByteOffset: m + 16, as: SIMD4<Int32>.self)
        m2 = block.load(fromByteOffset: m + 32, as: SIMD4<Int32>.self)
        m3 = block.load(fromByteOffset: m + 48, as: SIMD4<Int32>.self)
        s0 = block.load(fromByteOffset: s, as: SIMD2<Int64>.self)
        s1 = block.load(fromByteOffset: s + 16, as: SIMD2<Int64>.self)
        s2 = block.load(fromByteOffset: s + 32, as: SIMD2<Int64>.self)
        s3 = block.load(fromByteOffset: s + 48, as: SIMD2<Int64>.self)
        s4 = block.load(fromByteOffset: s + 64, as: SIMD2<Int64>.self)
        s5 = block.load(fromByteOffset: s + 80, as: SIMD2<Int64>.self)
        s6 = block.load(fromByteOffset: s + 96, as: SIMD2<Int64>.self)
        s7 = block.load(fromByteOffset: s + 112, as: SIMD2<Int64>.self)
        clamp = NEONThinClamp(q)
    }

    /// `sat32((acc·m + 2^(n−1)) >> n)` of 4 lanes (SMULL/SMULL2, SRSHL by −n, SQXTN/SQXTN2).
    @inlinable @inline(__always)
    func scaled(_ acc: SIMD4<Int32>, _ m: SIMD4<Int32>, _ sl: SIMD2<Int64>, _ sh: SIMD2<Int64>) -> SIMD4<Int32> {
        dynq_neon_sqxtn_s64(dynq_neon_srshl_s64(dynq_neon_smull_low_s32(acc, m), sl),
                            dynq_neon_srshl_s64(dynq_neon_smull_high_s32(acc, m), sh))
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ a0: SIMD4<Int32>, _ a1: SIMD4<Int32>, _ a2: SIMD4<Int32>,
                               _ a3: SIMD4<Int32>) -> SIMD16<Int8> {
        clamp(scaled(a0, m0, s0, s1), scaled(a1, m1, s2, s3), scaled(a2, m2, s4, s5), scaled(a3, m3, s6, s7))
    }
}

/// Stores the first `channels` (1...16) bytes of `v` at `out`.
@inlinable @inline(__always)
internal func neonThinStore(_ v: SIMD16<Int8>, channels: Int, _ out: UnsafeMutablePointer<Int8>) {
    if channels == neonThinBlockChannels {
        UnsafeMutableRawPointer(out).storeBytes(of: v, as: SIMD16<Int8>.self)
    } else {
        for i in 0..<channels { out[i] = v[i] }
    }
}

/// Where one tile's activations are: pixel i's K elements are `segments` runs of `segmentLength` bytes, the j-th at
/// `r_i + j·segmentStride` (8-byte loads read up to 7 bytes past a run's end).
@frozen @usableFromInline
internal struct NEONThinRows {
    @usableFromInline var r0: UnsafePointer<Int8>, r1: UnsafePointer<Int8>
    @usableFromInline var r2: UnsafePointer<Int8>, r3: UnsafePointer<Int8>
    @usableFromInline var segments: Int, segmentLength: Int, segmentStride: Int

    @inlinable @inline(__always)
    init(_ r0: UnsafePointer<Int8>, _ r1: UnsafePointer<Int8>, _ r2: UnsafePointer<Int8>, _ r3: UnsafePointer<Int8>,
         segments: Int, segmentLength: Int, segmentStride: Int) {
        self.r0 = r0; self.r1 = r1; self.r2 = r2; self.r3 = r3
        self.segments = segments; self.segmentLength = segmentLength; self.segmentStride = segmentStride
    }
}

/// A K walk fixed at compile time, so the 3×3 stems' tiles have no switch and no loop inside a segment:
/// `value` = the segment length (`kw·C`; 0: read `NEONThinRows.segmentLength`), `segments` (0: read
/// `NEONThinRows.segments`), `shared`: the 4 pixels' segments start 1 byte apart (one input channel, stride 1), so
/// one 8-byte load serves all 4 (pixel i reads lanes `i ... i + value − 1`; needs `value ≤ 5`).
public protocol NEONThinSegmentLength {
    static var value: Int { get }
    static var segments: Int { get }
    static var shared: Bool { get }
}
public enum NEONThinAnyLength: NEONThinSegmentLength {
    @inlinable public static var value: Int { 0 }
    @inlinable public static var segments: Int { 0 }
    @inlinable public static var shared: Bool { false }
}
/// 3×3, 3 input channels (the RGB stem).
public enum NEONThinLength9: NEONThinSegmentLength {
    @inlinable public static var value: Int { 9 }
    @inlinable public static var segments: Int { 0 }
    @inlinable public static var shared: Bool { false }
}
/// 3×3, 1 input channel, stride 1 (the grayscale stem).
public enum NEONThinStem3x3x1: NEONThinSegmentLength {
    @inlinable public static var value: Int { 3 }
    @inlinable public static var segments: Int { 0 }
    @inlinable public static var shared: Bool { true }
}

/// The 4 pixels of `rows` against every block of one group (`channels` output channels, `blockBytes` apart in
/// `weights`, `NEONThinPrepared.bytes` apart in `prepared`): the 4 × 16 tile per block; stores the first `pixels`
/// (1...4) pixels, `outStride` bytes apart. One call per 4 pixels and group.
@inlinable
internal func neonThinTiles<S: NEONThinOutputStage, L: NEONThinSegmentLength>(
    _ stage: S.Type, _ length: L.Type, _ rows: NEONThinRows, weights: UnsafeRawPointer, blockBytes: Int, zIn: Int8,
    prepared: UnsafeRawPointer, output q: OutputQuantization, out: UnsafeMutablePointer<Int8>, outStride: Int,
    pixels: Int, channels: Int
) {
    var w = weights
    var pb = prepared
    var o = out
    var remaining = channels
    while remaining > 0 {
        let c = remaining < neonThinBlockChannels ? remaining : neonThinBlockChannels
        neonThinTile4x16(stage, length, rows, weights: w, zIn: zIn, prepared: pb, output: q, out: o, outStride: outStride,
                         pixels: pixels, channels: c)
        w += blockBytes
        pb += NEONThinPrepared.bytes
        o += neonThinBlockChannels
        remaining &-= neonThinBlockChannels
    }
}

/// The 4 × 16 tile: the 4 pixels of `rows` against one packed block; stores the first `pixels` (1...4) output
/// pixels' first `channels` (1...16) channels.
@inlinable @inline(__always)
internal func neonThinTile4x16<S: NEONThinOutputStage, L: NEONThinSegmentLength>(
    _ stage: S.Type, _ fixed: L.Type, _ rows: NEONThinRows, weights: UnsafeRawPointer, zIn: Int8, prepared: UnsafeRawPointer,
    output q: OutputQuantization, out: UnsafeMutablePointer<Int8>, outStride: Int, pixels: Int, channels: Int
) {
    let b0 = prepared.load(fromByteOffset: NEONThinPrepared.bias, as: SIMD4<Int32>.self)
    let b1 = prepared.load(fromByteOffset: NEONThinPrepared.bias + 16, as: SIMD4<Int32>.self)
    let b2 = prepared.load(fromByteOffset: NEONThinPrepared.bias + 32, as: SIMD4<Int32>.self)
    let b3 = prepared.load(fromByteOffset: NEONThinPrepared.bias + 48, as: SIMD4<Int32>.self)
    var a00 = b0, a01 = b1, a02 = b2, a03 = b3
    var a10 = b0, a11 = b1, a12 = b2, a13 = b3
    var a20 = b0, a21 = b1, a22 = b2, a23 = b3
    var a30 = b0, a31 = b1, a32 = b2, a33 = b3
    var w = weights

    /// One K element (the `k`-th from `w`): the 16 channels' weights against lane `l_i` of pixel i's activations.
    @inline(__always)
    func step(_ x0: SIMD8<Int16>, _ x1: SIMD8<Int16>, _ x2: SIMD8<Int16>, _ x3: SIMD8<Int16>,
              _ l0: Int32, _ l1: Int32, _ l2: Int32, _ l3: Int32, k: Int) {
        let wa = w.load(fromByteOffset: 32 &* k, as: SIMD8<Int16>.self)
        let wb = w.load(fromByteOffset: 32 &* k &+ 16, as: SIMD8<Int16>.self)
        a00 = dynq_neon_smlal_lane_s16(a00, wa, x0, l0); a01 = dynq_neon_smlal_high_lane_s16(a01, wa, x0, l0)
        a02 = dynq_neon_smlal_lane_s16(a02, wb, x0, l0); a03 = dynq_neon_smlal_high_lane_s16(a03, wb, x0, l0)
        a10 = dynq_neon_smlal_lane_s16(a10, wa, x1, l1); a11 = dynq_neon_smlal_high_lane_s16(a11, wa, x1, l1)
        a12 = dynq_neon_smlal_lane_s16(a12, wb, x1, l1); a13 = dynq_neon_smlal_high_lane_s16(a13, wb, x1, l1)
        a20 = dynq_neon_smlal_lane_s16(a20, wa, x2, l2); a21 = dynq_neon_smlal_high_lane_s16(a21, wa, x2, l2)
        a22 = dynq_neon_smlal_lane_s16(a22, wb, x2, l2); a23 = dynq_neon_smlal_high_lane_s16(a23, wb, x2, l2)
        a30 = dynq_neon_smlal_lane_s16(a30, wa, x3, l3); a31 = dynq_neon_smlal_high_lane_s16(a31, wa, x3, l3)
        a32 = dynq_neon_smlal_lane_s16(a32, wb, x3, l3); a33 = dynq_neon_smlal_high_lane_s16(a33, wb, x3, l3)
    }
    /// Lane `l` of every pixel's own activations.
    @inline(__always)
    func step(_ x0: SIMD8<Int16>, _ x1: SIMD8<Int16>, _ x2: SIMD8<Int16>, _ x3: SIMD8<Int16>, _ l: Int32) {
        step(x0, x1, x2, x3, l, l, l, l, k: Int(l))
    }
    /// Lanes `j ... j + 3` of one shared vector (pixel i at lane `j + i`).
    @inline(__always)
    func shared(_ x: SIMD8<Int16>, _ j: Int32) { step(x, x, x, x, j, j &+ 1, j &+ 2, j &+ 3, k: Int(j)) }

    let length = L.value > 0 ? L.value : rows.segmentLength, full = length & ~7, tail = length & 7
    let r0 = rows.r0, r1 = rows.r1, r2 = rows.r2, r3 = rows.r3, segmentStride = rows.segmentStride
    var base = 0
    for _ in 0..<(L.segments > 0 ? L.segments : rows.segments) {
        if L.shared {
            let x = dynq_neon_ld1_ssubl_s8(r0 + base, zIn)
            switch tail {
            case 5: shared(x, 4); fallthrough
            case 4: shared(x, 3); fallthrough
            case 3: shared(x, 2); fallthrough
            case 2: shared(x, 1); fallthrough
            default: shared(x, 0)
            }
            w += 32 &* tail
            base &+= segmentStride
            continue
        }
        var e = base
        let end = base &+ full
        while e < end {
            let x0 = dynq_neon_ld1_ssubl_s8(r0 + e, zIn), x1 = dynq_neon_ld1_ssubl_s8(r1 + e, zIn)
            let x2 = dynq_neon_ld1_ssubl_s8(r2 + e, zIn), x3 = dynq_neon_ld1_ssubl_s8(r3 + e, zIn)
            step(x0, x1, x2, x3, 0); step(x0, x1, x2, x3, 1); step(x0, x1, x2, x3, 2); step(x0, x1, x2, x3, 3)
            step(x0, x1, x2, x3, 4); step(x0, x1, x2, x3, 5); step(x0, x1, x2, x3, 6); step(x0, x1, x2, x3, 7)
            w += 256
            e &+= 8
        }
        if tail != 0 {
            let x0 = dynq_neon_ld1_ssubl_s8(r0 + e, zIn), x1 = dynq_neon_ld1_ssubl_s8(r1 + e, zIn)
            let x2 = dynq_neon_ld1_ssubl_s8(r2 + e, zIn), x3 = dynq_neon_ld1_ssubl_s8(r3 + e, zIn)
            switch tail {
            case 7: step(x0, x1, x2, x3, 6); fallthrough
            case 6: step(x0, x1, x2, x3, 5); fallthrough
            case 5: step(x0, x1, x2, x3, 4); fallthrough
            case 4: step(x0, x1, x2, x3, 3); fallthrough
            case 3: step(x0, x1, x2, x3, 2); fallthrough
            case 2: step(x0, x1, x2, x3, 1); fallthrough
            default: step(x0, x1, x2, x3, 0)
            }
            w += 32 &* tail
        }
        base &+= segmentStride
    }

    let rq = S(prepared, q)
    if pixels == neonThinTilePixels && channels == neonThinBlockChannels {     // a full tile: no per-pixel checks
        let o = UnsafeMutableRawPointer(out)
        o.storeBytes(of: rq(a00, a01, a02, a03), as: SIMD16<Int8>.self)
        (o + outStride).storeBytes(of: rq(a10, a11, a12, a13), as: SIMD16<Int8>.self)
        (o + 2 &* outStride).storeBytes(of: rq(a20, a21, a22, a23), as: SIMD16<Int8>.self)
        (o + 3 &* outStride).storeBytes(of: rq(a30, a31, a32, a33), as: SIMD16<Int8>.self)
        return
    }
    neonThinStore(rq(a00, a01, a02, a03), channels: channels, out)
    if pixels > 1 { neonThinStore(rq(a10, a11, a12, a13), channels: channels, out + outStride) }
    if pixels > 2 { neonThinStore(rq(a20, a21, a22, a23), channels: channels, out + 2 &* outStride) }
    if pixels > 3 { neonThinStore(rq(a30, a31, a32, a33), channels: channels, out + 3 &* outStride) }
}

/// Copies `n` bytes from `input + from` to `d` 8 at a time (up to 7 bytes written past `n`) when the 8-byte loads
/// stay inside the input's `inputBytes`, else byte by byte.
@inlinable @inline(__always)
internal func neonThinCopy(_ input: UnsafePointer<Int8>, from: Int, inputBytes: Int, _ d: UnsafeMutableRawPointer,
                           _ n: Int) {
    let s = UnsafeRawPointer(input + from)
    if from &+ ((n &+ 7) & ~7) <= inputBytes {
        var i = 0
        while i < n {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
    } else {
        for i in 0..<n { d.storeBytes(of: s.load(fromByteOffset: i, as: Int8.self), toByteOffset: i, as: Int8.self) }
    }
}

/// Fills `n` bytes at `d` with the byte pattern `z8`, 8 at a time (up to 7 bytes written past `n`).
@inlinable @inline(__always)
internal func neonThinFill(_ d: UnsafeMutableRawPointer, _ z8: UInt64, _ n: Int) {
    var i = 0
    while i < n { d.storeBytes(of: z8, toByteOffset: i, as: UInt64.self); i &+= 8 }
}

/// Writes the int8 im2col row of output pixel `(oy, ox)` for `group` (NEONConv.swift's row, without the zero tail):
/// the raw input values in `[ky][kx][i]` order, `z_in` where the window leaves the image. Copies and fills go 8
/// bytes at a time, so a row's build writes up to 7 bytes past K (into the next row, built after it, or the
/// scratch's slack) and reads 8-byte words only inside the input tensor. (Index arithmetic wraps: every offset is
/// bounded by the tensor sizes.)
@inlinable @inline(__always)
internal func neonThinIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int, _ group: Int,
                                _ row: UnsafeMutablePointer<Int8>) {
    let gIn = p.groupInputChannels, inC = p.inputChannels, kw = p.kernelWidth, inW = p.inputWidth
    let inputBytes = p.inputCount
    let z8 = UInt64(UInt8(bitPattern: Int8(truncatingIfNeeded: p.inputZeroPoint))) &* 0x0101_0101_0101_0101
    let x0 = ox &* p.strideX &- p.padding.left
    let contiguous = p.groups == 1 && p.dilationX == 1 && x0 >= 0 && x0 &+ kw <= inW
    let runBytes = kw &* gIn
    var d = UnsafeMutableRawPointer(row)
    for ky in 0..<p.kernelHeight {
        let iy = oy &* p.strideY &- p.padding.top &+ ky &* p.dilationY
        if iy < 0 || iy >= p.inputHeight {
            neonThinFill(d, z8, runBytes)
            d += runBytes
            continue
        }
        let rowBase = iy &* inW &* inC &+ group &* gIn
        if contiguous {
            neonThinCopy(input, from: rowBase &+ x0 &* inC, inputBytes: inputBytes, d, runBytes)
            d += runBytes
            continue
        }
        for kx in 0..<kw {
            let ix = x0 &+ kx &* p.dilationX
            if ix >= 0 && ix < inW {
                neonThinCopy(input, from: rowBase &+ ix &* inC, inputBytes: inputBytes, d, gIn)
            } else {
                neonThinFill(d, z8, gIn)
            }
            d += gIn
        }
    }
}

/// Writes the direct path's padded copy of input row `iy` (all `z_in` when `iy` is outside the image):
/// `pad_left·C` bytes of `z_in`, the row's `W·C` bytes, `pad_right·C` bytes of `z_in` (8-byte stores: up to 7 bytes
/// past the end, inside the row's slack).
@inlinable @inline(__always)
internal func neonThinPaddedRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ iy: Int,
                                _ row: UnsafeMutableRawPointer) {
    let inC = p.inputChannels, inW = p.inputWidth
    let z8 = UInt64(UInt8(bitPattern: Int8(truncatingIfNeeded: p.inputZeroPoint))) &* 0x0101_0101_0101_0101
    let left = p.padding.left &* inC, body = inW &* inC, right = p.padding.right &* inC
    if iy < 0 || iy >= p.inputHeight {
        neonThinFill(row, z8, left &+ body &+ right)
        return
    }
    neonThinFill(row, z8, left)
    neonThinCopy(input, from: iy &* body, inputBytes: p.inputCount, row + left, body)
    neonThinFill(row + (left &+ body), z8, right)
}

/// The thin-K convolution (contract: `NEONKernels.conv2d`; packed weights from `NEONKernels.packConvWeights(p,
/// .thin)` or `neonFuseConv(..., thin: true)`, scratch `neonThinScratchBytes(p)`, 16-byte aligned).
@inlinable
internal func neonThinConv2d(
    _ p: Conv2DParams, input: UnsafePointer<Int8>, packedWeights: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let blocks = neonThinBlocks(p), gOut = p.groupOutputChannels
    // Prepared output stage of every block; `fast` while every multiplier has e <= -1 or is zero.
    var fast = true
    for g in 0..<p.groups {
        for b in 0..<blocks {
            let dst = scratch + (g &* blocks &+ b) &* NEONThinPrepared.bytes
            for l in 0..<neonThinBlockChannels {
                let c = b &* neonThinBlockChannels &+ l
                var bi: Int32 = 0, m: Int32 = 0, e: Int32 = 0
                if c < gOut {
                    let o = g &* gOut &+ c
                    bi = bias?[o] ?? 0
                    m = multipliers[o].multiplier
                    e = m == 0 ? 0 : multipliers[o].shift
                    if m != 0 && e > -1 { fast = false }
                }
                dst.storeBytes(of: bi, toByteOffset: NEONThinPrepared.bias &+ 4 &* l, as: Int32.self)
                dst.storeBytes(of: m, toByteOffset: NEONThinPrepared.multipliers &+ 4 &* l, as: Int32.self)
                dst.storeBytes(of: Int64(e) &- 31, toByteOffset: NEONThinPrepared.shifts &+ 8 &* l, as: Int64.self)
                dst.storeBytes(of: e, toByteOffset: NEONThinPrepared.shifts32 &+ 4 &* l, as: Int32.self)
            }
        }
    }
    let rows = scratch + p.groups &* blocks &* NEONThinPrepared.bytes
    if fast {
        neonThinRun(NEONThinFastStage.self, p, input: input, packedWeights: packedWeights,
                    prepared: UnsafeRawPointer(scratch), output: output, rows: rows)
    } else {
        neonThinRun(NEONThinExactStage.self, p, input: input, packedWeights: packedWeights,
                    prepared: UnsafeRawPointer(scratch), output: output, rows: rows)
    }
}

/// The pixel loops of `neonThinConv2d` with output stage `S`: rows in place, the direct path, or im2col rows.
@inlinable
internal func neonThinRun<S: NEONThinOutputStage>(
    _ stage: S.Type, _ p: Conv2DParams, input: UnsafePointer<Int8>, packedWeights: UnsafeRawPointer,
    prepared: UnsafeRawPointer, output: UnsafeMutablePointer<Int8>, rows: UnsafeMutableRawPointer
) {
    let outW = p.outputWidth, outH = p.outputHeight, pixels = outH &* outW
    let k = p.weightsPerOutputChannel, k8 = neonThinRowBytes(p)
    let blocks = neonThinBlocks(p), blockBytes = neonThinBlockBytes(p), preparedBytes = NEONThinPrepared.bytes
    let gOut = p.groupOutputChannels, gIn = p.groupInputChannels, outC = p.outputChannels, inC = p.inputChannels
    let zIn = Int8(truncatingIfNeeded: p.inputZeroPoint)

    if neonThinDirect(p) {
        // The compile-time walks only with the fast stage (the exact one is rare: a multiplier ≥ 1/2).
        let length = p.kernelWidth &* inC, kh = p.kernelHeight
        switch S.specializesWalks ? length : 0 {
        case 3 where kh == 3 && p.strideX == 1 && inC == 1:
            neonThinDirectRun(stage, NEONThinStem3x3x1.self, p, input: input, packedWeights: packedWeights,
                              prepared: prepared, output: output, rows: rows)
        case 9 where kh == 3:
            neonThinDirectRun(stage, NEONThinLength9.self, p, input: input, packedWeights: packedWeights,
                              prepared: prepared, output: output, rows: rows)
        default:
            neonThinDirectRun(stage, NEONThinAnyLength.self, p, input: input, packedWeights: packedWeights,
                              prepared: prepared, output: output, rows: rows)
        }
        return
    }

    let inPlace = neonThinRowsInPlace(p)
    let im2col = rows.assumingMemoryBound(to: Int8.self)
    var px = 0
    while px < pixels {
        let n = pixels &- px < neonThinTilePixels ? pixels &- px : neonThinTilePixels
        for g in 0..<p.groups {
            var rp = (UnsafePointer(im2col), UnsafePointer(im2col), UnsafePointer(im2col), UnsafePointer(im2col))
            for r in 0..<n {
                let pix = px &+ r, oy = pix / outW, ox = pix &- oy &* outW
                let row: UnsafePointer<Int8>
                if inPlace {
                    row = input + (((oy &* p.strideY) &* p.inputWidth &+ ox &* p.strideX) &* inC &+ g &* gIn)
                } else {
                    neonThinIm2colRow(p, input, oy, ox, g, im2col + r &* k8)
                    row = UnsafePointer(im2col + r &* k8)
                }
                switch r {
                case 0: rp = (row, row, row, row)      // missing pixels repeat the first (computed, not stored)
                case 1: rp.1 = row
                case 2: rp.2 = row
                default: rp.3 = row
                }
            }
            neonThinTiles(stage, NEONThinAnyLength.self, NEONThinRows(rp.0, rp.1, rp.2, rp.3, segments: 1, segmentLength: k, segmentStride: 0),
                          weights: packedWeights + g &* blocks &* blockBytes, blockBytes: blockBytes, zIn: zIn,
                          prepared: prepared + g &* blocks &* preparedBytes, output: p.output,
                          out: output + (px &* outC &+ g &* gOut), outStride: outC, pixels: n, channels: gOut)
        }
        px &+= n
    }
}

/// The direct path of `neonThinRun` with K walk `L`: one segment of `kw·C` bytes per kernel row, from padded input
/// rows rebuilt per output row; tiles of 4 pixels of one output row.
@inlinable
internal func neonThinDirectRun<S: NEONThinOutputStage, L: NEONThinSegmentLength>(
    _ stage: S.Type, _ walk: L.Type, _ p: Conv2DParams, input: UnsafePointer<Int8>, packedWeights: UnsafeRawPointer,
    prepared: UnsafeRawPointer, output: UnsafeMutablePointer<Int8>, rows: UnsafeMutableRawPointer
) {
    let outW = p.outputWidth, outC = p.outputChannels, inC = p.inputChannels, gOut = p.groupOutputChannels
    let blockBytes = neonThinBlockBytes(p), zIn = Int8(truncatingIfNeeded: p.inputZeroPoint)
    let rowBytes = neonThinPaddedRowBytes(p), kh = p.kernelHeight, length = p.kernelWidth &* inC
    let step = p.strideX &* inC
    let base = UnsafePointer<Int8>(rows.assumingMemoryBound(to: Int8.self))
    for oy in 0..<p.outputHeight {
        for ky in 0..<kh {
            neonThinPaddedRow(p, input, oy &* p.strideY &- p.padding.top &+ ky &* p.dilationY, rows + ky &* rowBytes)
        }
        var ox = 0
        var out = output + oy &* outW &* outC
        while ox < outW {
            let n = outW &- ox < neonThinTilePixels ? outW &- ox : neonThinTilePixels
            let r0 = base + ox &* step
            let r1 = n > 1 ? r0 + step : r0, r2 = n > 2 ? r0 + 2 &* step : r0, r3 = n > 3 ? r0 + 3 &* step : r0
            neonThinTiles(stage, walk, NEONThinRows(r0, r1, r2, r3, segments: kh, segmentLength: length,
                                                    segmentStride: rowBytes),
                          weights: packedWeights, blockBytes: blockBytes, zIn: zIn, prepared: prepared,
                          output: p.output, out: out, outStride: outC, pixels: n, channels: gOut)
            ox &+= n
            out += n &* outC
        }
    }
}
