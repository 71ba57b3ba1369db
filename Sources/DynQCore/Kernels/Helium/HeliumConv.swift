// Helium conv2d: dense and grouped, any window, stride, padding, dilation (the conv half of a non-depthwise
// dynamic_conv2d too). Bit-exact with `conv2dReference` (see HeliumKernels.swift for the accumulator and
// requantization argument).
//
// Shape of the work (CMSIS-NN's MVE convolution has the same): 4 output pixels × 1 output channel at a time.
// The 4 pixels' receptive fields are 4 rows of K = kh·kw·C_in/groups int8 values (im2col, padding = z_in, or the
// input itself for a 1×1 stride-1 conv); each output channel's K weights (OHWI, read in place) are dotted with the
// 4 rows in one loop: per 16 elements one weight `VLDRB`, 4 row `VLDRB`s and 4 `VMLAVA`s. The 4 sums go to one
// vector, are requantized together (the channel's scalar multiplier) and stored with one `VSTRB` scatter
// (stride O). Output pixel tails (< 4) repeat the last row and store fewer lanes.

import DynQIntrinsics

extension HeliumKernels {
    /// Which conv kernel runs a layer (`chooseConv`).
    public enum ConvVariant: Equatable, Sendable {
        /// 1×1 kernel, stride 1, no padding, groups 1: each output pixel's `K = C_in` inputs are read in place.
        case pointwise
        /// groups 1 and `K = kh·kw·C_in ≤ 16` (a stem on a 1-channel image, a tiny 1×1): the 4 im2col rows are
        /// single vectors, loaded once per 4 pixels and reused by every output channel.
        case stem
        /// Any other layer (any window, stride, padding, dilation, groups): im2col of 4 pixels per group.
        case general
    }

    /// The variant for `p`: `.pointwise`, else `.stem` when K ≤ 16, else `.general`.
    public static func chooseConv(_ p: Conv2DParams) -> ConvVariant {
        if isPointwise(p) { return .pointwise }
        if p.groups == 1 && p.weightsPerOutputChannel <= 16 { return .stem }
        return .general
    }

    static func isPointwise(_ p: Conv2DParams) -> Bool {
        p.kernelHeight == 1 && p.kernelWidth == 1 && p.strideY == 1 && p.strideX == 1 && p.groups == 1
            && p.padding == .zero
    }

    /// 0: the int8 OHWI weights are read in place.
    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int { 0 }

    /// The channel table (`16·⌈O/4⌉·4` bytes) and, except for `.pointwise`, 4 im2col rows of `⌈K/16⌉·16` bytes.
    public static func convScratchBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        HeliumChannelTable.bytes(channels: p.outputChannels)
            + (v == .pointwise ? 0 : 4 * heliumRoundUp(p.weightsPerOutputChannel, 16))
    }

    /// Nothing to pack (`convPackedWeightBytes` is 0).
    public static func packConvWeights(_ p: Conv2DParams, _ v: ConvVariant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {}

    /// Convolution of `p` with variant `v` (from `chooseConv(p)`, or `.general`, which runs every layer).
    /// `a.weights`: int8 OHWI `[O][kh][kw][C_in/groups]`; `a.scratch`: `convScratchBytes(p, v)` bytes.
    public static func conv2d(_ p: Conv2DParams, _ v: ConvVariant, _ a: ConvArguments) {
        precondition(v != .pointwise || isPointwise(p), "HeliumKernels.conv2d: .pointwise needs a 1x1 stride-1 layer")
        precondition(v != .stem || (p.groups == 1 && p.weightsPerOutputChannel <= 16),
                     "HeliumKernels.conv2d: .stem needs groups 1 and K <= 16")
        guard let scratch = a.scratch else { preconditionFailure("HeliumKernels.conv2d: no scratch") }
        let k = p.weightsPerOutputChannel, outC = p.outputChannels
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let table = HeliumChannelTable(scratch, channels: outC)
        table.fill(rows: weights, count: outC, k: k, bias: a.bias, multipliers: a.multipliers,
                   zeroPoint: p.inputZeroPoint)
        let rowStride = heliumRoundUp(k, 16)
        let rows = (scratch + HeliumChannelTable.bytes(channels: outC)).assumingMemoryBound(to: Int8.self)
        let pixels = p.outputHeight * p.outputWidth
        let o32 = UInt32(truncatingIfNeeded: outC)
        let offsets = SIMD4<UInt32>(0, o32, 2 &* o32, 3 &* o32)
        let gOut = p.groupOutputChannels

        for g in 0..<p.groups {
            var q = 0
            while q < pixels {
                let n = min(4, pixels - q)
                let base: UnsafePointer<Int8>, step: Int
                if v == .pointwise {
                    base = a.input + q * p.inputChannels; step = p.inputChannels
                } else {
                    for j in 0..<n { convIm2colRow(p, a.input, group: g, pixel: q + j, into: rows + j * rowStride) }
                    base = UnsafePointer(rows); step = rowStride
                }
                let r0 = base, r1 = base + (n > 1 ? step : 0)
                let r2 = base + (n > 2 ? 2 * step : 0), r3 = base + (n > 3 ? 3 * step : 0)
                let out = a.output + q * outC
                let o0 = g * gOut
                if v == .stem {
                    convStemChannels(p, table, weights, r0, r1, r2, r3, channels: o0..<(o0 + gOut), k: k,
                                     out: out, offsets: offsets, lanes: n)
                } else {
                    convChannels(p, table, weights, r0, r1, r2, r3, channels: o0..<(o0 + gOut), k: k,
                                 out: out, offsets: offsets, lanes: n)
                }
                q += 4
            }
        }
    }

    /// Output channels `channels` of 4 pixels whose inputs are the rows `r0…r3` (K each): dot, requantize, store
    /// lane j at `out + j·O + o` for `j < lanes`.
    @inline(__always)
    static func convChannels(_ p: Conv2DParams, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                             _ r0: UnsafePointer<Int8>, _ r1: UnsafePointer<Int8>, _ r2: UnsafePointer<Int8>,
                             _ r3: UnsafePointer<Int8>, channels: Range<Int>, k: Int,
                             out: UnsafeMutablePointer<Int8>, offsets: SIMD4<UInt32>, lanes: Int) {
        let q = p.output
        for o in channels {
            let acc = heliumDot4(weights + o * k, r0, r1, r2, r3, count: k, initial: t.bias[o])
            let y = heliumRequantize(acc, t.multiplier[o], t.left[o], t.right[o], q)
            if lanes == 4 {
                dynq_mve_vstrbq_scatter_s32(out + o, offsets, y)
            } else {
                dynq_mve_vstrbq_scatter_p_s32(out + o, offsets, y, UInt32(truncatingIfNeeded: lanes))
            }
        }
    }

    /// `convChannels` for K ≤ 16: each row is one vector, loaded once for all channels.
    @inline(__always)
    static func convStemChannels(_ p: Conv2DParams, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                                 _ r0: UnsafePointer<Int8>, _ r1: UnsafePointer<Int8>, _ r2: UnsafePointer<Int8>,
                                 _ r3: UnsafePointer<Int8>, channels: Range<Int>, k: Int,
                                 out: UnsafeMutablePointer<Int8>, offsets: SIMD4<UInt32>, lanes: Int) {
        let q = p.output
        let kk = UInt32(truncatingIfNeeded: k)
        let x0 = dynq_mve_vldrbq_z_s8(r0, kk), x1 = dynq_mve_vldrbq_z_s8(r1, kk)
        let x2 = dynq_mve_vldrbq_z_s8(r2, kk), x3 = dynq_mve_vldrbq_z_s8(r3, kk)
        for o in channels {
            let w = dynq_mve_vldrbq_z_s8(weights + o * k, kk)
            let b = t.bias[o]
            let acc = dynq_mve_vcreate_s32(dynq_mve_vmladavaq_s8(b, w, x0), dynq_mve_vmladavaq_s8(b, w, x1),
                                           dynq_mve_vmladavaq_s8(b, w, x2), dynq_mve_vmladavaq_s8(b, w, x3))
            let y = heliumRequantize(acc, t.multiplier[o], t.left[o], t.right[o], q)
            if lanes == 4 {
                dynq_mve_vstrbq_scatter_s32(out + o, offsets, y)
            } else {
                dynq_mve_vstrbq_scatter_p_s32(out + o, offsets, y, UInt32(truncatingIfNeeded: lanes))
            }
        }
    }

    /// The im2col row of output pixel `pixel` (flattened `oy·W_out + ox`) in group `g`: `K` bytes in the OHWI order
    /// `[ky][kx][i]`, input channels `g·C_in/groups ..< +C_in/groups`, padded positions = z_in.
    static func convIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, group g: Int, pixel: Int,
                              into row: UnsafeMutablePointer<Int8>) {
        let outW = p.outputWidth
        let oy = pixel / outW, ox = pixel - oy * outW
        let c = p.inputChannels, gIn = p.groupInputChannels, kw = p.kernelWidth
        let z = Int8(truncatingIfNeeded: p.inputZeroPoint)
        let ix0 = ox * p.strideX - p.padding.left
        let dense = gIn == c && p.dilationX == 1 && ix0 >= 0 && ix0 + kw <= p.inputWidth
        var dst = row
        for ky in 0..<p.kernelHeight {
            let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
            if iy < 0 || iy >= p.inputHeight {
                heliumFill(dst, z, kw * gIn)
                dst += kw * gIn
                continue
            }
            let line = input + iy * p.inputWidth * c + g * gIn
            if dense {
                heliumCopy(dst, line + ix0 * c, kw * c)
                dst += kw * c
                continue
            }
            for kx in 0..<kw {
                let ix = ix0 + kx * p.dilationX
                if ix < 0 || ix >= p.inputWidth {
                    heliumFill(dst, z, gIn)
                } else {
                    heliumCopy(dst, line + ix * c, gIn)
                }
                dst += gIn
            }
        }
    }
}
