// The Helium kernel set: int8 kernels for Armv8.1-M MVE (Cortex-M55, M85), written against the MVE wrappers of
// Sources/DynQIntrinsics/include/dynq_arm_mve.h. Built for a core with MVE (`-Xcc -mcpu=cortex-m55`) each wrapper
// is its instruction; anywhere else it is a bit-exact C model, so the same kernels run (and are tested) on the
// host. Dot products are plain int8 loops, which LLVM turns into tail-predicated `VMLADAVA` loops for MVE.
//
// Every kernel equals its reference kernel bit for bit (Tests/DynQCoreTests/KernelsHeliumTests.swift):
//   accumulator  bias' + Σ q_in · q_w, with bias' = bias − z_in · Σ q_w per output channel (HeliumChannelTable).
//                Padded input positions hold z_in. This is the reference's bias + Σ (q_in − z_in) · q_w modulo
//                2^32, and the quantizer bounds the true value below 2^31, so the int32 results are equal.
//   requantize   `heliumRequantize`: VQSHL, VQDMULH, VRSHL, then + z_out and the clamp, equal to
//                `OutputQuantization.requantize` (single rounding, ties toward +∞) for every input.
// Weights are read in place (int8, the model's layout): no packing, so the packed byte counts are 0.

import DynQIntrinsics

/// The Helium (MVE) kernel set. Weights are read in place (nothing packed); the scratch of each variant holds the
/// per-call channel table (folded bias + requantization constants) and, for convolutions, 4 im2col rows.
///
/// Chooser (`chooseConv`): `.pointwise` for a 1×1 stride-1 unpadded dense conv, `.stem` when the window is one
/// byte gather (`stemApplies`), else `.general` (im2col, any conv). Depthwise is always `.depthwise`, linear
/// `.linear`. The kernels are static functions (the host tests call them with any variant); the instance methods
/// below are the `KernelSet` entry points and forward to them.
@frozen
public struct HeliumKernels: KernelSet {
    public static var name: StaticString { "helium" }

    /// The chooser's answers for every family.
    public enum Variant: UInt8, Equatable, Sendable {
        /// conv: 1×1 kernel, stride 1, no padding, groups 1: each output pixel's `K = C_in` inputs are read in place.
        case pointwise
        /// conv: groups 1, `K = kh·kw·C_in ≤ 16` and a window spanning at most 256 bytes of the input (a stem on a
        /// 1- to 3-channel image, a 2×2 on few channels): each pixel's window is one byte gather, no im2col.
        case stem
        /// conv: any other layer (any window, stride, padding, dilation, groups): im2col of 4 pixels per group.
        case general
        /// depthwise (HeliumDepthwise.swift).
        case depthwise
        /// linear (HeliumLinear.swift).
        case linear
    }
    public typealias ConvVariant = Variant
    public typealias DepthwiseVariant = Variant
    public typealias LinearVariant = Variant

    @inlinable public init() {}

    public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) { Self.conv2d(p, v, a) }
    public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        Self.depthwiseConv2d(p, v, a)
    }
    public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) { Self.linear(p, v, a) }
    public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        Self.fuseConv(f, p, v, a)
    }
    public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                              _ a: FusionArguments) {
        Self.fuseDepthwise(f, p, v, a)
    }
    public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                    output: UnsafeMutablePointer<Int8>) {
        Self.add(p, count: count, a, b, output: output)
    }
    public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                  output: UnsafeMutablePointer<Int8>) {
        Self.globalAveragePool(p, input: input, output: output)
    }
    public func fusedDCInputMeans(input: UnsafePointer<Int8>, positions: Int, channels: Int, zeroPoint: Int32,
                                  means: UnsafeMutablePointer<Int16>) {
        Self.fusedDCInputMeans(input: input, positions: positions, channels: channels, zeroPoint: zeroPoint,
                               means: means)
    }
}

@inline(__always)
internal func heliumRoundUp(_ n: Int, _ m: Int) -> Int { (n + m - 1) / m * m }

// MARK: - Plain loops (LLVM vectorizes them for MVE)

/// Σ w[i], `i < n`, modulo 2^32 (`VADDVA.S8` loop on MVE).
@inline(__always)
internal func heliumSum(_ w: UnsafePointer<Int8>, _ n: Int) -> Int32 {
    var s: Int32 = 0
    for i in 0..<n { s &+= Int32(w[i]) }
    return s
}

/// Copies `n ≥ 0` bytes (regions do not overlap): one predicated `VLDRB`/`VSTRB` pair up to 16 bytes, else a
/// tail-predicated loop.
@inline(__always)
internal func heliumCopy(_ dst: UnsafeMutablePointer<Int8>, _ src: UnsafePointer<Int8>, _ n: Int) {
    if n <= 16 {
        let k = UInt32(truncatingIfNeeded: n)
        dynq_mve_vstrbq_p_s8(dst, dynq_mve_vldrbq_z_s8(src, k), k)
        return
    }
    for i in 0..<n { dst[i] = src[i] }
}

/// Writes `n` copies of `v` (16 bytes per `VSTRB`; a plain loop would become a call to `memset`).
@inline(__always)
internal func heliumFill(_ dst: UnsafeMutablePointer<Int8>, _ v: Int8, _ n: Int) {
    var i = 0
    while i < n {
        dynq_mve_vstrbq_dup_p_s8(dst + i, v, UInt32(truncatingIfNeeded: n &- i))
        i &+= 16
    }
}

/// Four dot products of one int8 row `w` with four int8 rows, each `count` long, plus `initial`:
/// `initial + Σ_i w[i] · r_j[i]` modulo 2^32, as `[j = 0, 1, 2, 3]`. MVE: one tail-predicated loop of
/// `VLDRB` (w), 4 × (`VLDRB`, `VMLAVA`) per 16 elements; it reads exactly `count` bytes of each row.
@inline(__always)
internal func heliumDot4(_ w: UnsafePointer<Int8>, _ r0: UnsafePointer<Int8>, _ r1: UnsafePointer<Int8>,
                         _ r2: UnsafePointer<Int8>, _ r3: UnsafePointer<Int8>, count k: Int,
                         initial: Int32) -> SIMD4<Int32> {
    var a0 = initial, a1 = initial, a2 = initial, a3 = initial
    for i in 0..<k {
        let wv = Int32(w[i])
        a0 &+= wv &* Int32(r0[i])
        a1 &+= wv &* Int32(r1[i])
        a2 &+= wv &* Int32(r2[i])
        a3 &+= wv &* Int32(r3[i])
    }
    return dynq_mve_vcreate_s32(a0, a1, a2, a3)
}

/// `heliumDot4` for 4 rows interleaved by 16-element chunks (`block + 64c + 16j` holds elements 16c ..< 16c+16 of
/// row j; one pointer serves the 4 rows through immediate offsets): per chunk one weight `VLDRB`, 4 row `VLDRB`s,
/// 4 `VMLADAVA`. The last partial chunk loads only the remaining weights (the row lanes past K are multiplied by
/// 0), so `w` is read for exactly `count` bytes.
@inline(__always)
internal func heliumDot4Interleaved(_ w: UnsafePointer<Int8>, _ block: UnsafePointer<Int8>, count k: Int)
    -> SIMD4<Int32> {
    var a0: Int32 = 0, a1: Int32 = 0, a2: Int32 = 0, a3: Int32 = 0
    let chunks = k &>> 4
    for c in 0..<chunks {
        let wv = dynq_mve_vldrbq_s8(w + c &<< 4)
        let x = block + c &<< 6
        a0 = dynq_mve_vmladavaq_s8(a0, wv, dynq_mve_vldrbq_s8(x))
        a1 = dynq_mve_vmladavaq_s8(a1, wv, dynq_mve_vldrbq_s8(x + 16))
        a2 = dynq_mve_vmladavaq_s8(a2, wv, dynq_mve_vldrbq_s8(x + 32))
        a3 = dynq_mve_vmladavaq_s8(a3, wv, dynq_mve_vldrbq_s8(x + 48))
    }
    let left = k & 15
    if left > 0 {
        let wv = dynq_mve_vldrbq_z_s8(w + chunks &<< 4, UInt32(truncatingIfNeeded: left))
        let x = block + chunks &<< 6
        a0 = dynq_mve_vmladavaq_s8(a0, wv, dynq_mve_vldrbq_s8(x))
        a1 = dynq_mve_vmladavaq_s8(a1, wv, dynq_mve_vldrbq_s8(x + 16))
        a2 = dynq_mve_vmladavaq_s8(a2, wv, dynq_mve_vldrbq_s8(x + 32))
        a3 = dynq_mve_vmladavaq_s8(a3, wv, dynq_mve_vldrbq_s8(x + 48))
    }
    return dynq_mve_vcreate_s32(a0, a1, a2, a3)
}

/// `heliumDot4Interleaved` for two weight rows `w0`, `w1` at once (each row chunk loaded once for both): per
/// chunk 2 weight `VLDRB`s, 4 row `VLDRB`s, 8 `VMLADAVA`s.
@inline(__always)
internal func heliumDot4x2Interleaved(_ w0: UnsafePointer<Int8>, _ w1: UnsafePointer<Int8>,
                                      _ block: UnsafePointer<Int8>, count k: Int)
    -> (SIMD4<Int32>, SIMD4<Int32>) {
    var a0: Int32 = 0, a1: Int32 = 0, a2: Int32 = 0, a3: Int32 = 0
    var b0: Int32 = 0, b1: Int32 = 0, b2: Int32 = 0, b3: Int32 = 0
    let chunks = k &>> 4
    for c in 0..<chunks {
        let v0 = dynq_mve_vldrbq_s8(w0 + c &<< 4), v1 = dynq_mve_vldrbq_s8(w1 + c &<< 4)
        let x = block + c &<< 6
        let x0 = dynq_mve_vldrbq_s8(x)
        a0 = dynq_mve_vmladavaq_s8(a0, v0, x0); b0 = dynq_mve_vmladavaq_s8(b0, v1, x0)
        let x1 = dynq_mve_vldrbq_s8(x + 16)
        a1 = dynq_mve_vmladavaq_s8(a1, v0, x1); b1 = dynq_mve_vmladavaq_s8(b1, v1, x1)
        let x2 = dynq_mve_vldrbq_s8(x + 32)
        a2 = dynq_mve_vmladavaq_s8(a2, v0, x2); b2 = dynq_mve_vmladavaq_s8(b2, v1, x2)
        let x3 = dynq_mve_vldrbq_s8(x + 48)
        a3 = dynq_mve_vmladavaq_s8(a3, v0, x3); b3 = dynq_mve_vmladavaq_s8(b3, v1, x3)
    }
    let left = k & 15
    if left > 0 {
        let n = UInt32(truncatingIfNeeded: left)
        let v0 = dynq_mve_vldrbq_z_s8(w0 + chunks &<< 4, n), v1 = dynq_mve_vldrbq_z_s8(w1 + chunks &<< 4, n)
        let x = block + chunks &<< 6
        let x0 = dynq_mve_vldrbq_s8(x)
        a0 = dynq_mve_vmladavaq_s8(a0, v0, x0); b0 = dynq_mve_vmladavaq_s8(b0, v1, x0)
        let x1 = dynq_mve_vldrbq_s8(x + 16)
        a1 = dynq_mve_vmladavaq_s8(a1, v0, x1); b1 = dynq_mve_vmladavaq_s8(b1, v1, x1)
        let x2 = dynq_mve_vldrbq_s8(x + 32)
        a2 = dynq_mve_vmladavaq_s8(a2, v0, x2); b2 = dynq_mve_vmladavaq_s8(b2, v1, x2)
        let x3 = dynq_mve_vldrbq_s8(x + 48)
        a3 = dynq_mve_vmladavaq_s8(a3, v0, x3); b3 = dynq_mve_vmladavaq_s8(b3, v1, x3)
    }
    return (dynq_mve_vcreate_s32(a0, a1, a2, a3), dynq_mve_vcreate_s32(b0, b1, b2, b3))
}

/// Four dot products like `heliumDot4`, each with its own start value and also returning each row's sum
/// `Σ_i r_j[i]` (for rows of weights sharing one input row `x`): `(initial_j + Σ x·r_j, Σ r_j)`.
@inline(__always)
internal func heliumDot4WithSums(_ x: UnsafePointer<Int8>, _ r0: UnsafePointer<Int8>, _ r1: UnsafePointer<Int8>,
                                 _ r2: UnsafePointer<Int8>, _ r3: UnsafePointer<Int8>, count k: Int)
    -> (dots: SIMD4<Int32>, sums: SIMD4<Int32>) {
    var a0: Int32 = 0, a1: Int32 = 0, a2: Int32 = 0, a3: Int32 = 0
    var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
    for i in 0..<k {
        let xv = Int32(x[i])
        let w0 = Int32(r0[i]), w1 = Int32(r1[i]), w2 = Int32(r2[i]), w3 = Int32(r3[i])
        a0 &+= xv &* w0; a1 &+= xv &* w1; a2 &+= xv &* w2; a3 &+= xv &* w3
        s0 &+= w0; s1 &+= w1; s2 &+= w2; s3 &+= w3
    }
    return (dynq_mve_vcreate_s32(a0, a1, a2, a3), dynq_mve_vcreate_s32(s0, s1, s2, s3))
}
