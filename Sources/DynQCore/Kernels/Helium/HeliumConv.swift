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

    /// The channel table (`16·⌈O/4⌉·4` bytes) and 4 interleaved rows of `⌈K/16⌉·16` bytes (the stem: the 4 window
    /// vectors, 64 bytes).
    public static func convScratchBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        let rows: Int
        switch v {
        case .stem: rows = 64
        default: rows = 4 * heliumRoundUp(p.weightsPerOutputChannel, 16)
        }
        return HeliumChannelTable.bytes(channels: p.outputChannels) + rows
    }

    /// Nothing to pack (`convPackedWeightBytes` is 0).
    public static func packConvWeights(_ p: Conv2DParams, _ v: ConvVariant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {}

    /// Convolution of `p` with variant `v` (from `chooseConv(p)`, or `.general`, which runs every layer).
    /// `a.weights`: int8 OHWI `[O][kh][kw][C_in/groups]`; `a.scratch`: `convScratchBytes(p, v)` bytes.
    public static func conv2d(_ p: Conv2DParams, _ v: ConvVariant, _ a: ConvArguments) {
        precondition(v != .pointwise || isPointwise(p), "HeliumKernels.conv2d: .pointwise needs a 1x1 stride-1 layer")
        precondition(v != .stem || stemApplies(p), "HeliumKernels.conv2d: .stem does not apply to this layer")
        precondition(v == .pointwise || v == .stem || v == .general, "HeliumKernels.conv2d: not a conv variant")
        guard let scratch = a.scratch else { preconditionFailure("HeliumKernels.conv2d: no scratch") }
        let k = p.weightsPerOutputChannel, outC = p.outputChannels
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let table = HeliumChannelTable(scratch, channels: outC)
        table.fill(rows: weights, count: outC, k: k, bias: a.bias, multipliers: a.multipliers,
                   zeroPoint: p.inputZeroPoint)
        if v == .stem { return convStem(p, a, table) }
        let block = (scratch + HeliumChannelTable.bytes(channels: outC)).assumingMemoryBound(to: Int8.self)
        heliumFill(block, 0, 4 &* heliumRoundUp(k, 16))          // lanes past K stay 0
        let pixels = p.outputHeight * p.outputWidth
        let o32 = UInt32(truncatingIfNeeded: outC)
        let offsets = SIMD4<UInt32>(0, o32, 2 &* o32, 3 &* o32)
        let gOut = p.groupOutputChannels
        let outW = p.outputWidth
        for g in 0..<p.groups {
            var q = 0, oy = 0, ox = 0                       // q = oy·W_out + ox, the block's first pixel
            while q < pixels {
                let n = min(4, pixels &- q)
                if v == .pointwise {
                    let c = p.inputChannels
                    for j in 0..<4 { InterleavedRows.copy(block, row: j, at: 0, a.input + (q &+ min(j, n &- 1)) &* c, c) }
                } else {
                    var y = oy, x = ox
                    for j in 0..<4 {
                        convIm2colRow(p, a.input, group: g, oy: y, ox: x, into: block, row: j)
                        if j &+ 1 < n { x &+= 1; if x == outW { x = 0; y &+= 1 } }
                    }
                }
                let out = a.output + q &* outC
                let channels = (g &* gOut)..<(g &* gOut &+ gOut)
                if k <= 16 {
                    let x0 = dynq_mve_vldrbq_s8(block), x1 = dynq_mve_vldrbq_s8(block + 16)
                    let x2 = dynq_mve_vldrbq_s8(block + 32), x3 = dynq_mve_vldrbq_s8(block + 48)
                    convShortChannels(p, table, weights, x0, x1, x2, x3, channels: channels, k: k, out: out,
                                      offsets: offsets, lanes: n)
                } else {
                    convChannels(p.output, table, weights, block, channels: channels, k: k, out: out,
                                 offsets: offsets, lanes: n)
                }
                q &+= 4
                ox &+= 4
                while ox >= outW { ox &-= outW; oy &+= 1 }
            }
        }
    }

    /// The stem variant: 4 output pixels at a time, each window one gathered vector (built by `StemCursor` into
    /// 64 bytes of scratch after the channel table).
    static func convStem(_ p: Conv2DParams, _ a: ConvArguments, _ table: HeliumChannelTable) {
        var cursor = StemCursor(p, a.input)
        let windows = (UnsafeMutableRawPointer(table.entries) + HeliumChannelTable.bytes(channels: p.outputChannels))
            .bindMemory(to: SIMD16<Int8>.self, capacity: 4)
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let outC = p.outputChannels, pixels = p.outputHeight * p.outputWidth
        let o32 = UInt32(truncatingIfNeeded: outC)
        let offsets = SIMD4<UInt32>(0, o32, 2 &* o32, 3 &* o32)
        var q = 0
        while q < pixels {
            let n = min(4, pixels &- q)
            cursor.next(p, n, into: windows)
            let x0 = dynq_mve_vldrbq_s8(UnsafeRawPointer(windows).assumingMemoryBound(to: Int8.self))
            let x1 = dynq_mve_vldrbq_s8(UnsafeRawPointer(windows + 1).assumingMemoryBound(to: Int8.self))
            let x2 = dynq_mve_vldrbq_s8(UnsafeRawPointer(windows + 2).assumingMemoryBound(to: Int8.self))
            let x3 = dynq_mve_vldrbq_s8(UnsafeRawPointer(windows + 3).assumingMemoryBound(to: Int8.self))
            convShortChannels(p, table, weights, x0, x1, x2, x3, channels: 0..<outC, k: p.weightsPerOutputChannel,
                              out: a.output + q &* outC, offsets: offsets, lanes: n)
            q &+= 4
        }
    }

    /// Output channels `channels` of 4 pixels whose rows (K each) are interleaved in `block`: dot, requantize,
    /// store lane j at `out + j·O + o` for `j < lanes`. Not inlined, so its loop keeps its values in registers.
    @inline(never)
    static func convChannels(_ q: OutputQuantization, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                             _ block: UnsafePointer<Int8>, channels: Range<Int>, k: Int,
                             out: UnsafeMutablePointer<Int8>, offsets: SIMD4<UInt32>, lanes: Int) {
        let n = UInt32(truncatingIfNeeded: lanes)
        @inline(__always) func finish(_ dots: SIMD4<Int32>, _ o: Int) {
            let c = t.entries[o]
            let y = heliumRequantize(dynq_mve_vaddq_n_s32(dots, c.bias), c.multiplier, c.left, c.right, q)
            if lanes == 4 {
                dynq_mve_vstrbq_scatter_s32(out + o, offsets, y)
            } else {
                dynq_mve_vstrbq_scatter_p_s32(out + o, offsets, y, n)
            }
        }
        var o = channels.lowerBound
        while o &+ 1 < channels.upperBound {
            let (d0, d1) = heliumDot4x2Interleaved(weights + o &* k, weights + (o &+ 1) &* k, block, count: k)
            finish(d0, o)
            finish(d1, o &+ 1)
            o &+= 2
        }
        if o < channels.upperBound { finish(heliumDot4Interleaved(weights + o &* k, block, count: k), o) }
    }

    /// `convChannels` for K ≤ 16: the 4 pixels' windows are the vectors `x0…x3`, whose lanes ≥ K must be 0.
    /// A channel's weights are one 16-byte load; it reads past the channel's K weights (into the next channel's,
    /// multiplied by the zero lanes) except for the last channels, whose loads are predicated to K bytes so
    /// nothing past the weight tensor is read.
    @inline(__always)
    static func convShortChannels(_ p: Conv2DParams, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                                  _ x0: SIMD16<Int8>, _ x1: SIMD16<Int8>, _ x2: SIMD16<Int8>, _ x3: SIMD16<Int8>,
                                  channels: Range<Int>, k: Int, out: UnsafeMutablePointer<Int8>,
                                  offsets: SIMD4<UInt32>, lanes: Int) {
        // Channels o < safe: o·K + 16 ≤ O·K.
        let total = p.outputChannels &* k
        let safe = total < 16 ? 0 : (total &- 16) / k &+ 1
        let split = min(max(safe, channels.lowerBound), channels.upperBound)
        if lanes == 4 {
            convShortRun(p, t, weights, x0, x1, x2, x3, channels.lowerBound..<split, k: k, out: out, offsets: offsets,
                         lanes: 4, wholeLoad: true)
            convShortRun(p, t, weights, x0, x1, x2, x3, split..<channels.upperBound, k: k, out: out, offsets: offsets,
                         lanes: 4, wholeLoad: false)
        } else {
            convShortRun(p, t, weights, x0, x1, x2, x3, channels, k: k, out: out, offsets: offsets, lanes: lanes,
                         wholeLoad: false)
        }
    }

    @inline(__always)
    static func convShortRun(_ p: Conv2DParams, _ t: HeliumChannelTable, _ weights: UnsafePointer<Int8>,
                             _ x0: SIMD16<Int8>, _ x1: SIMD16<Int8>, _ x2: SIMD16<Int8>, _ x3: SIMD16<Int8>,
                             _ channels: Range<Int>, k: Int, out: UnsafeMutablePointer<Int8>,
                             offsets: SIMD4<UInt32>, lanes: Int, wholeLoad: Bool) {
        let q = p.output
        let kk = UInt32(truncatingIfNeeded: k)
        for o in channels {
            let w = wholeLoad ? dynq_mve_vldrbq_s8(weights + o &* k) : dynq_mve_vldrbq_z_s8(weights + o &* k, kk)
            let dots = dynq_mve_vcreate_s32(dynq_mve_vmladavaq_s8(0, w, x0), dynq_mve_vmladavaq_s8(0, w, x1),
                                            dynq_mve_vmladavaq_s8(0, w, x2), dynq_mve_vmladavaq_s8(0, w, x3))
            let e = t.entries[o]
            let acc = dynq_mve_vaddq_n_s32(dots, e.bias)
            let y = heliumRequantize(acc, e.multiplier, e.left, e.right, q)
            if lanes == 4 {
                dynq_mve_vstrbq_scatter_s32(out + o, offsets, y)
            } else {
                dynq_mve_vstrbq_scatter_p_s32(out + o, offsets, y, UInt32(truncatingIfNeeded: lanes))
            }
        }
    }

    /// The im2col row of output pixel `(oy, ox)` in group `g`, written as row `j` of the interleaved block: `K`
    /// elements in the OHWI order `[ky][kx][i]`, input channels `g·C_in/groups ..< +C_in/groups`, padded
    /// positions = z_in.
    @inline(__always)
    static func convIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, group g: Int, oy: Int, ox: Int,
                              into block: UnsafeMutablePointer<Int8>, row j: Int) {
        let c = p.inputChannels, gIn = p.groupInputChannels, kw = p.kernelWidth
        let z = Int8(truncatingIfNeeded: p.inputZeroPoint)
        let ix0 = ox &* p.strideX &- p.padding.left
        let rowBytes = kw &* gIn
        let dense = gIn == c && p.dilationX == 1 && ix0 >= 0 && ix0 &+ kw <= p.inputWidth
        var k = 0
        var iy = oy &* p.strideY &- p.padding.top
        for _ in 0..<p.kernelHeight {
            if iy < 0 || iy >= p.inputHeight {
                InterleavedRows.fill(block, row: j, at: k, z, rowBytes)
            } else {
                let line = input + (iy &* p.inputWidth &* c &+ g &* gIn)
                if dense {
                    InterleavedRows.copy(block, row: j, at: k, line + ix0 &* c, rowBytes)
                } else {
                    var ix = ix0, kk = k
                    for _ in 0..<kw {
                        if ix < 0 || ix >= p.inputWidth {
                            InterleavedRows.fill(block, row: j, at: kk, z, gIn)
                        } else {
                            InterleavedRows.copy(block, row: j, at: kk, line + ix &* c, gIn)
                        }
                        kk &+= gIn
                        ix &+= p.dilationX
                    }
                }
            }
            k &+= rowBytes
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
    /// Lanes of one kernel row (`kw·C` bits) and of one tap (`C` bits), and all K lanes (as a 32- and a 16-bit
    /// mask).
    let rowBits: Int, tapBits: Int, allLanes: UInt32, lanes: UInt16

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
        lanes = UInt16(truncatingIfNeeded: allLanes)
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
        // Lanes ≥ K end up 0: the gather zeroes them, and z_in is selected only into invalid lanes < K.
        let base = UnsafePointer<Int8>(bitPattern: UInt(bitPattern: Int(bitPattern: input) &+ origin))!
        let padded = UInt16(truncatingIfNeeded: ~mask & allLanes)
        return dynq_mve_vpselq_s8(zero, dynq_mve_vldrbq_gather_z_s8(base, offsets, m), padded)
    }

    /// The indices `j < count` with `0 ≤ start + j·step < extent`, as a range `[lo, hi)` (empty: lo ≥ hi).
    static func validRange(start: Int, count: Int, step: Int, extent: Int) -> (Int, Int) {
        let lo = start >= 0 ? 0 : (-start + step - 1) / step
        let last = extent - 1 - start
        let hi = last < 0 ? 0 : min(count, last / step + 1)
        return (lo, hi)
    }
}

/// Walks the output pixels in order (row-major) and returns each one's window vector: one gather inside the
/// image, `StemGeometry.border` at the edges. Keeps the window origin and the row's interior column range, so an
/// interior pixel costs one compare, one add and the gather.
struct StemCursor {
    let geometry: StemGeometry
    let input: UnsafePointer<Int8>
    let outW: Int, step: Int
    /// Interior columns of every row: ox ∈ [oxLo, oxHi].
    let oxLo: Int, oxHi: Int
    var oy = 0, ox = 0
    var rowInside = false
    /// `(iy0·W + ix0)·C` of the current pixel.
    var origin = 0

    init(_ p: Conv2DParams, _ input: UnsafePointer<Int8>) {
        geometry = StemGeometry(p)
        self.input = input
        outW = p.outputWidth
        step = p.strideX * p.inputChannels
        oxLo = (p.padding.left + p.strideX - 1) / p.strideX
        let right = p.inputWidth - 1 - geometry.spanX + p.padding.left
        oxHi = right < 0 ? -1 : right / p.strideX
        startRow(p)
    }

    mutating func startRow(_ p: Conv2DParams) {
        let iy0 = oy &* p.strideY &- p.padding.top
        rowInside = iy0 >= 0 && iy0 &+ geometry.spanY < p.inputHeight
        origin = (iy0 &* p.inputWidth &- p.padding.left) &* p.inputChannels
    }

    /// The windows of the next `n ≤ 4` output pixels into `windows[0 ..< n]` (lanes ≥ K are 0); the others are
    /// copies of the last. Not inlined: its state stays in registers apart from the channel loop's.
    @inline(never)
    mutating func next(_ p: Conv2DParams, _ n: Int, into windows: UnsafeMutablePointer<SIMD16<Int8>>) {
        if n == 4 && rowInside && ox >= oxLo && ox &+ 3 <= oxHi {
            // 4 interior pixels of one row.
            let lanes = geometry.lanes, offsets = geometry.offsets
            windows[0] = dynq_mve_vldrbq_gather_z_s8(input + origin, offsets, lanes)
            windows[1] = dynq_mve_vldrbq_gather_z_s8(input + (origin &+ step), offsets, lanes)
            windows[2] = dynq_mve_vldrbq_gather_z_s8(input + (origin &+ 2 &* step), offsets, lanes)
            windows[3] = dynq_mve_vldrbq_gather_z_s8(input + (origin &+ 3 &* step), offsets, lanes)
            ox &+= 4
            origin &+= 4 &* step
            if ox == outW { ox = 0; oy &+= 1; startRow(p) }
            return
        }
        for j in 0..<4 {
            if j >= n { windows[j] = windows[n &- 1]; continue }
            if rowInside && ox >= oxLo && ox <= oxHi {
                windows[j] = dynq_mve_vldrbq_gather_z_s8(input + origin, geometry.offsets, geometry.lanes)
            } else {
                windows[j] = geometry.border(p, input, iy0: oy &* p.strideY &- p.padding.top,
                                             ix0: ox &* p.strideX &- p.padding.left, origin: origin)
            }
            ox &+= 1
            origin &+= step
            if ox == outW { ox = 0; oy &+= 1; startRow(p) }
        }
    }
}

/// 4 rows of K int8 elements interleaved by 16-element chunks: element `k` of row `j` at
/// `64·(k / 16) + 16·j + k % 16` (`heliumDot4Interleaved` reads them with one pointer).
enum InterleavedRows {
    /// Writes `n` bytes from `src` to elements `k ..< k+n` of row `j`: a partial first chunk, whole chunks
    /// (`VLDRB`/`VSTRB`), a partial last chunk (predicated).
    @inline(__always)
    static func copy(_ block: UnsafeMutablePointer<Int8>, row j: Int, at k0: Int, _ src: UnsafePointer<Int8>,
                     _ n: Int) {
        var k = k0, s = src, left = n
        var dst = block + ((k &>> 4) &<< 6 &+ (j &<< 4) &+ (k & 15))
        let head = k & 15
        if head != 0 {
            let m = min(16 &- head, left)
            let mm = UInt32(truncatingIfNeeded: m)
            dynq_mve_vstrbq_p_s8(dst, dynq_mve_vldrbq_z_s8(s, mm), mm)
            k &+= m; s += m; left &-= m
            dst = block + ((k &>> 4) &<< 6 &+ (j &<< 4))
        }
        while left >= 16 {
            dynq_mve_vstrbq_p_s8(dst, dynq_mve_vldrbq_s8(s), 16)
            dst += 64; s += 16; left &-= 16
        }
        if left > 0 {
            let mm = UInt32(truncatingIfNeeded: left)
            dynq_mve_vstrbq_p_s8(dst, dynq_mve_vldrbq_z_s8(s, mm), mm)
        }
    }

    /// Writes `n` copies of `v` to elements `k ..< k+n` of row `j`.
    @inline(__always)
    static func fill(_ block: UnsafeMutablePointer<Int8>, row j: Int, at k0: Int, _ v: Int8, _ n: Int) {
        var k = k0, left = n
        while left > 0 {
            let m = min(16 &- (k & 15), left)
            dynq_mve_vstrbq_dup_p_s8(block + ((k &>> 4) &<< 6 &+ (j &<< 4) &+ (k & 15)), v,
                                     UInt32(truncatingIfNeeded: m))
            k &+= m; left &-= m
        }
    }
}
