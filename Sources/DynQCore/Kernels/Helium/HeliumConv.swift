// Helium conv2d: dense and grouped, any window, stride, padding, dilation (the conv half of a non-depthwise
// dynamic_conv2d too). Bit-exact with `conv2dReference` (see HeliumKernels.swift for the accumulator and
// requantization argument).
//
// Shape of the work (CMSIS-NN's MVE convolution has the same): 4 output pixels × 1 output channel at a time.
// The 4 pixels' receptive fields are 4 rows of K = kh·kw·C_in/groups int8 values (im2col, padding = z_in, or the
// input itself for a 1×1 stride-1 conv); each output channel's K weights (OHWI, read in place) are dotted with the
// 4 rows in one loop: per 16 elements one weight `VLDRB`, 4 row `VLDRB`s and 4 `VMLAVA`s. The 4 sums go to one
// vector, are requantized together (the channel's scalar multiplier) and stored with one `VSTRB` scatter
// (stride O). Output pixel tails (< 4) repeat the last pixel and store fewer lanes.
// K ≤ 16: each row is one vector, loaded once per 4 pixels for all output channels. The stem variant builds it
// without im2col: one byte gather (`VLDRB.8 [base, Q]`) per pixel, the out-of-image lanes predicated off and
// replaced by z_in (`VPSEL`).

import DynQIntrinsics

extension HeliumKernels {
    /// Which conv kernel runs a layer (`chooseConv`).
    public enum ConvVariant: Equatable, Sendable {
        /// 1×1 kernel, stride 1, no padding, groups 1: each output pixel's `K = C_in` inputs are read in place.
        case pointwise
        /// groups 1, `K = kh·kw·C_in ≤ 16` and a window spanning at most 256 bytes of the input (a stem on a 1- to
        /// 3-channel image, a 2×2 on few channels): each pixel's window is one byte gather, no im2col.
        case stem
        /// Any other layer (any window, stride, padding, dilation, groups): im2col of 4 pixels per group.
        case general
    }

    /// The variant for `p`: `.pointwise`, else `.stem` when it applies, else `.general`.
    public static func chooseConv(_ p: Conv2DParams) -> ConvVariant {
        if isPointwise(p) { return .pointwise }
        if stemApplies(p) { return .stem }
        return .general
    }

    static func isPointwise(_ p: Conv2DParams) -> Bool {
        p.kernelHeight == 1 && p.kernelWidth == 1 && p.strideY == 1 && p.strideX == 1 && p.groups == 1
            && p.padding == .zero
    }

    /// groups 1, K ≤ 16, and every window element within 255 bytes of the window's first (the gather's 8-bit
    /// offsets).
    static func stemApplies(_ p: Conv2DParams) -> Bool {
        guard p.groups == 1, p.weightsPerOutputChannel <= 16 else { return false }
        let c = p.inputChannels
        let last = ((p.kernelHeight - 1) * p.dilationY * p.inputWidth + (p.kernelWidth - 1) * p.dilationX) * c + c - 1
        return last <= 255
    }

    /// 0: the int8 OHWI weights are read in place.
    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int { 0 }

    /// The channel table (`16·⌈O/4⌉·4` bytes) and, for `.general`, 4 im2col rows of `⌈K/16⌉·16` bytes.
    public static func convScratchBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        HeliumChannelTable.bytes(channels: p.outputChannels)
            + (v == .general ? 4 * heliumRoundUp(p.weightsPerOutputChannel, 16) : 0)
    }

    /// Nothing to pack (`convPackedWeightBytes` is 0).
    public static func packConvWeights(_ p: Conv2DParams, _ v: ConvVariant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {}

    /// Convolution of `p` with variant `v` (from `chooseConv(p)`, or `.general`, which runs every layer).
    /// `a.weights`: int8 OHWI `[O][kh][kw][C_in/groups]`; `a.scratch`: `convScratchBytes(p, v)` bytes.
    public static func conv2d(_ p: Conv2DParams, _ v: ConvVariant, _ a: ConvArguments) {
        precondition(v != .pointwise || isPointwise(p), "HeliumKernels.conv2d: .pointwise needs a 1x1 stride-1 layer")
        precondition(v != .stem || stemApplies(p), "HeliumKernels.conv2d: .stem does not apply to this layer")
        guard let scratch = a.scratch else { preconditionFailure("HeliumKernels.conv2d: no scratch") }
        let k = p.weightsPerOutputChannel, outC = p.outputChannels
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let table = HeliumChannelTable(scratch, channels: outC)
        table.fill(rows: weights, count: outC, k: k, bias: a.bias, multipliers: a.multipliers,
                   zeroPoint: p.inputZeroPoint)
        if v == .stem { return convStem(p, a, table) }
        let rowStride = heliumRoundUp(k, 16)
        let rows = (scratch + HeliumChannelTable.bytes(channels: outC)).assumingMemoryBound(to: Int8.self)
        let pixels = p.outputHeight * p.outputWidth
        let o32 = UInt32(truncatingIfNeeded: outC)
        let offsets = SIMD4<UInt32>(0, o32, 2 &* o32, 3 &* o32)
        let gOut = p.groupOutputChannels
        let outW = p.outputWidth
        for g in 0..<p.groups {
            var q = 0, oy = 0, ox = 0                       // q = oy·W_out + ox, the block's first pixel
            while q < pixels {
                let n = min(4, pixels &- q)
                let base: UnsafePointer<Int8>, step: Int
                if v == .pointwise {
                    base = a.input + q &* p.inputChannels; step = p.inputChannels
                } else {
                    var y = oy, x = ox
                    for j in 0..<n {
                        convIm2colRow(p, a.input, group: g, oy: y, ox: x, into: rows + j &* rowStride)
                        x &+= 1
                        if x == outW { x = 0; y &+= 1 }
                    }
                    base = UnsafePointer(rows); step = rowStride
                }
                let r0 = base, r1 = base + (n > 1 ? step : 0)
                let r2 = base + (n > 2 ? 2 &* step : 0), r3 = base + (n > 3 ? 3 &* step : 0)
                let out = a.output + q &* outC
                let channels = (g &* gOut)..<(g &* gOut &+ gOut)
                if k <= 16 {
                    let kk = UInt32(truncatingIfNeeded: k)
                    convShortChannels(p, table, weights, dynq_mve_vldrbq_z_s8(r0, kk), dynq_mve_vldrbq_z_s8(r1, kk),
                                      dynq_mve_vldrbq_z_s8(r2, kk), dynq_mve_vldrbq_z_s8(r3, kk),
                                      channels: channels, k: k, out: out, offsets: offsets, lanes: n)
                } else {
                    convChannels(p, table, weights, r0, r1, r2, r3, channels: channels, k: k, out: out,
                                 offsets: offsets, lanes: n)
                }
                q &+= 4
                ox &+= 4
                while ox >= outW { ox &-= outW; oy &+= 1 }
            }
        }
    }

    /// The stem variant: 4 output pixels at a time, each window one gathered vector.
    static func convStem(_ p: Conv2DParams, _ a: ConvArguments, _ table: HeliumChannelTable) {
        let geometry = StemGeometry(p)
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let outC = p.outputChannels, outW = p.outputWidth, pixels = p.outputHeight * outW
        let o32 = UInt32(truncatingIfNeeded: outC)
        let offsets = SIMD4<UInt32>(0, o32, 2 &* o32, 3 &* o32)
        var q = 0, oy = 0, ox = 0
        while q < pixels {
            let n = min(4, pixels &- q)
            var y = oy, x = ox
            let x0 = geometry.window(p, a.input, oy: y, ox: x)
            var x1 = x0, x2 = x0, x3 = x0
            if n > 1 { x &+= 1; if x == outW { x = 0; y &+= 1 }; x1 = geometry.window(p, a.input, oy: y, ox: x) }
            if n > 2 { x &+= 1; if x == outW { x = 0; y &+= 1 }; x2 = geometry.window(p, a.input, oy: y, ox: x) }
            if n > 3 { x &+= 1; if x == outW { x = 0; y &+= 1 }; x3 = geometry.window(p, a.input, oy: y, ox: x) }
            convShortChannels(p, table, weights, x0, x1, x2, x3, channels: 0..<outC, k: p.weightsPerOutputChannel,
                              out: a.output + q &* outC, offsets: offsets, lanes: n)
            q &+= 4
            ox &+= 4
            while ox >= outW { ox &-= outW; oy &+= 1 }
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
            let acc = heliumDot4(weights + o &* k, r0, r1, r2, r3, count: k, initial: t.bias[o])
            let y = heliumRequantize(acc, t.multiplier[o], t.left[o], t.right[o], q)
            if lanes == 4 {
                dynq_mve_vstrbq_scatter_s32(out + o, offsets, y)
            } else {
                dynq_mve_vstrbq_scatter_p_s32(out + o, offsets, y, UInt32(truncatingIfNeeded: lanes))
            }
        }
    }

    /// `convChannels` for K ≤ 16: the 4 pixels' windows are the vectors `x0…x3` (lanes ≥ K are ignored).
    @inline(__always)
    static func convShortChannels(_ p: Conv2DParams, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                                  _ x0: SIMD16<Int8>, _ x1: SIMD16<Int8>, _ x2: SIMD16<Int8>, _ x3: SIMD16<Int8>,
                                  channels: Range<Int>, k: Int, out: UnsafeMutablePointer<Int8>,
                                  offsets: SIMD4<UInt32>, lanes: Int) {
        let q = p.output
        let kk = UInt32(truncatingIfNeeded: k)
        for o in channels {
            let w = dynq_mve_vldrbq_z_s8(weights + o &* k, kk)
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

    /// The im2col row of output pixel `(oy, ox)` in group `g`: `K` bytes in the OHWI order `[ky][kx][i]`, input
    /// channels `g·C_in/groups ..< +C_in/groups`, padded positions = z_in.
    @inline(__always)
    static func convIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, group g: Int, oy: Int, ox: Int,
                              into row: UnsafeMutablePointer<Int8>) {
        let c = p.inputChannels, gIn = p.groupInputChannels, kw = p.kernelWidth
        let z = Int8(truncatingIfNeeded: p.inputZeroPoint)
        let ix0 = ox &* p.strideX &- p.padding.left
        let rowBytes = kw &* gIn
        let dense = gIn == c && p.dilationX == 1 && ix0 >= 0 && ix0 &+ kw <= p.inputWidth
        var dst = row
        var iy = oy &* p.strideY &- p.padding.top
        for _ in 0..<p.kernelHeight {
            if iy < 0 || iy >= p.inputHeight {
                heliumFill(dst, z, rowBytes)
            } else {
                let line = input + (iy &* p.inputWidth &* c &+ g &* gIn)
                if dense {
                    heliumCopy(dst, line + ix0 &* c, rowBytes)
                } else {
                    var ix = ix0, d = dst
                    for _ in 0..<kw {
                        if ix < 0 || ix >= p.inputWidth {
                            heliumFill(d, z, gIn)
                        } else {
                            heliumCopy(d, line + ix &* c, gIn)
                        }
                        d += gIn
                        ix &+= p.dilationX
                    }
                }
            }
            dst += rowBytes
            iy &+= p.dilationY
        }
    }
}

/// The stem variant's gather: lane `k = (ky·kw + kx)·C + i < K` reads the input byte at offset
/// `(ky·d_y·W + kx·d_x)·C + i` from the window's first element. Windows inside the image are one gather; at the
/// border the lanes of rows and columns outside the image are predicated off (not read) and set to z_in.
struct StemGeometry {
    let offsets: SIMD16<UInt8>
    let zero: SIMD16<Int8>
    let spanY: Int, spanX: Int
    /// Lanes of one kernel row (`kw·C` bits) and of one tap (`C` bits), and all K lanes.
    let rowBits: Int, tapBits: Int, allLanes: UInt32

    init(_ p: Conv2DParams) {
        let c = p.inputChannels, kw = p.kernelWidth
        var o = SIMD16<UInt8>()
        for k in 0..<p.weightsPerOutputChannel {
            let i = k % c, kx = (k / c) % kw, ky = k / (c * kw)
            o[k] = UInt8(truncatingIfNeeded: (ky * p.dilationY * p.inputWidth + kx * p.dilationX) * c + i)
        }
        offsets = o
        zero = dynq_mve_vdupq_s8(Int8(truncatingIfNeeded: p.inputZeroPoint))
        spanY = (p.kernelHeight - 1) * p.dilationY
        spanX = (kw - 1) * p.dilationX
        rowBits = kw * c
        tapBits = c
        allLanes = (UInt32(1) << UInt32(p.weightsPerOutputChannel)) &- 1
    }

    /// The window of output pixel `(oy, ox)` as one vector (lanes ≥ K: don't care).
    @inline(__always)
    func window(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, oy: Int, ox: Int) -> SIMD16<Int8> {
        let iy0 = oy &* p.strideY &- p.padding.top, ix0 = ox &* p.strideX &- p.padding.left
        let origin = (iy0 &* p.inputWidth &+ ix0) &* p.inputChannels
        if iy0 >= 0 && iy0 &+ spanY < p.inputHeight && ix0 >= 0 && ix0 &+ spanX < p.inputWidth {
            return dynq_mve_vldrbq_gather_s8(input + origin, offsets)
        }
        return border(p, input, iy0: iy0, ix0: ix0, origin: origin)
    }

    @inline(never)
    func border(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, iy0: Int, ix0: Int, origin: Int) -> SIMD16<Int8> {
        // Valid kernel rows ky ∈ [kyLo, kyHi), columns kx ∈ [kxLo, kxHi).
        let (kyLo, kyHi) = StemGeometry.validRange(start: iy0, count: p.kernelHeight, step: p.dilationY,
                                                   extent: p.inputHeight)
        let (kxLo, kxHi) = StemGeometry.validRange(start: ix0, count: p.kernelWidth, step: p.dilationX,
                                                   extent: p.inputWidth)
        var mask: UInt32 = 0
        if kyLo < kyHi && kxLo < kxHi {
            let row = (UInt32(1) << UInt32(kxHi * tapBits)) &- (UInt32(1) << UInt32(kxLo * tapBits))
            for ky in kyLo..<kyHi { mask |= row << UInt32(ky * rowBits) }
        }
        mask &= allLanes
        let m = UInt16(truncatingIfNeeded: mask)
        // The window origin may lie outside the tensor; only the predicated-on lanes (inside it) are read.
        let base = UnsafePointer<Int8>(bitPattern: UInt(bitPattern: Int(bitPattern: input) &+ origin))!
        return dynq_mve_vpselq_s8(dynq_mve_vldrbq_gather_z_s8(base, offsets, m), zero, m)
    }

    /// The indices `j < count` with `0 ≤ start + j·step < extent`, as a range `[lo, hi)` (empty: lo ≥ hi).
    static func validRange(start: Int, count: Int, step: Int, extent: Int) -> (Int, Int) {
        let lo = start >= 0 ? 0 : (-start + step - 1) / step
        let last = extent - 1 - start
        let hi = last < 0 ? 0 : min(count, last / step + 1)
        return (lo, hi)
    }
}
