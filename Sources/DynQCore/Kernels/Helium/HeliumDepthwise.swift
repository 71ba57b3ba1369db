// Helium depthwise conv2d (channel multiplier 1, weights `[kh][kw][C]` read in place). Bit-exact with
// `depthwiseConv2dReference` (accumulator and requantization argument: HeliumKernels.swift).
//
// Padding without branches: the input rows a window needs are copied once into a row cache in scratch, each
// widened by the left and right padding (filled with z_in); rows above or below the image are one z_in row. So
// every output pixel is an "interior" pixel of the padded rows, and the accumulators start at the folded bias
// `bias − z_in·Σ_taps w` with no zero-point work per tap.
// Lanes are 4 channels, int32: per tap one widening `VLDRB.S32` of the 4 channels' weights, then for each of 4
// output pixels one `VLDRB.S32` of its inputs, `VMUL`, `VADD` (MVE has no vector-by-vector integer
// multiply-accumulate). A row's last block of fewer than 4 pixels repeats its last pixel and stores fewer;
// channel tails (C % 4) use predicated loads and stores.

import DynQIntrinsics

extension HeliumKernels {
    /// One kernel runs every depthwise layer (3×3 windows take an unrolled path inside it): `.depthwise`.
    public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> DepthwiseVariant { .depthwise }

    /// 0: the int8 `[kh][kw][C]` weights are read in place.
    public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant) -> Int { 0 }

    /// The channel table (`16·⌈C/4⌉·4` bytes), `kh` row pointers and tags, and `kh + 1` padded rows of
    /// `⌈(pad_left + W + pad_right)·C / 16⌉·16` bytes (the cache and the z_in row).
    public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant) -> Int {
        let layout = DepthwiseScratch.Layout(p)
        return layout.total
    }

    /// Nothing to pack.
    public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant,
                                            weights: UnsafePointer<Int8>, into: UnsafeMutableRawPointer) {}

    /// Depthwise convolution of `p`. `a.weights`: int8 `[kh][kw][C]`; `a.scratch`: `depthwiseScratchBytes` bytes.
    public static func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant, _ a: ConvArguments) {
        guard let raw = a.scratch else { preconditionFailure("HeliumKernels.depthwiseConv2d: no scratch") }
        let c = p.channels, taps = p.taps
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let s = DepthwiseScratch(raw, p)
        let table = s.table
        for ch in 0..<c { table.entries[ch].bias = 0 }
        for t in 0..<taps {
            let w = weights + t &* c
            for ch in 0..<c { table.entries[ch].bias &+= Int32(w[ch]) }
        }
        table.finish(count: c, bias: a.bias, multipliers: a.multipliers, zeroPoint: p.inputZeroPoint)
        s.reset(p)

        let outW = p.outputWidth, kh = p.kernelHeight, kw = p.kernelWidth
        let step = p.strideX &* c
        for oy in 0..<p.outputHeight {
            s.prepareRows(p, a.input, oy: oy)
            let rows = UnsafePointer(s.rows)
            var ox = 0
            while ox < outW {
                let n = min(4, outW &- ox)
                let o1 = (n > 1 ? 1 : 0) &* step, o2 = (n > 2 ? 2 : n &- 1) &* step, o3 = (n > 3 ? 3 : n &- 1) &* step
                let pixel0 = ox &* step
                let out = a.output + (oy &* outW &+ ox) &* c
                depthwiseRow4(p, a, table, rows, pixel0: pixel0, o1, o2, o3, out: out, pixels: n, kh: kh, kw: kw)
                ox &+= 4
            }
        }
    }

    /// All channels of up to 4 output pixels of one row: pixel j reads the padded rows at `pixel0 + o_j`.
    @inline(__always)
    static func depthwiseRow4(_ p: DepthwiseConv2DParams, _ a: ConvArguments, _ t: HeliumChannelTable,
                              _ rows: UnsafePointer<UnsafeMutablePointer<Int8>>, pixel0: Int, _ o1: Int, _ o2: Int,
                              _ o3: Int, out: UnsafeMutablePointer<Int8>, pixels: Int, kh: Int, kw: Int) {
        let c = p.channels
        var cb = 0
        while cb &+ 4 <= c {
            depthwiseBlock4(p, a, t, rows, pixel0: pixel0, o1, o2, o3, out: out, pixels: pixels, cb: cb,
                            kh: kh, kw: kw, full: true)
            cb &+= 4
        }
        if cb < c {
            depthwiseBlock4(p, a, t, rows, pixel0: pixel0, o1, o2, o3, out: out, pixels: pixels, cb: cb,
                            kh: kh, kw: kw, full: false)
        }
    }

    /// Channels `cb ..< cb+4` (fewer when `!full`: predicated) of up to 4 output pixels.
    @inline(__always)
    static func depthwiseBlock4(_ p: DepthwiseConv2DParams, _ a: ConvArguments, _ t: HeliumChannelTable,
                                _ rows: UnsafePointer<UnsafeMutablePointer<Int8>>, pixel0: Int, _ o1: Int,
                                _ o2: Int, _ o3: Int, out: UnsafeMutablePointer<Int8>, pixels: Int, cb: Int,
                                kh: Int, kw: Int, full: Bool) {
        let c = p.channels
        let tapStep = p.dilationX &* c
        let n = UInt32(truncatingIfNeeded: c &- cb)
        @inline(__always) func load(_ x: UnsafePointer<Int8>) -> SIMD4<Int32> {
            full ? dynq_mve_vldrbq_s32(x) : dynq_mve_vldrbq_z_s32(x, n)
        }
        var a0 = dynq_mve_vdupq_s32(0)
        var a1 = a0, a2 = a0, a3 = a0
        var wp = a.weights.assumingMemoryBound(to: Int8.self) + cb
        for ky in 0..<kh {
            var x = UnsafePointer(rows[ky]) + (pixel0 &+ cb)
            for _ in 0..<kw {
                let w = load(wp)
                a0 = dynq_mve_vaddq_s32(a0, dynq_mve_vmulq_s32(load(x), w))
                a1 = dynq_mve_vaddq_s32(a1, dynq_mve_vmulq_s32(load(x + o1), w))
                a2 = dynq_mve_vaddq_s32(a2, dynq_mve_vmulq_s32(load(x + o2), w))
                a3 = dynq_mve_vaddq_s32(a3, dynq_mve_vmulq_s32(load(x + o3), w))
                wp += c
                x += tapStep
            }
        }
        let (bias, m, l, r) = t.lanes(cb)
        a0 = dynq_mve_vaddq_s32(a0, bias); a1 = dynq_mve_vaddq_s32(a1, bias)
        a2 = dynq_mve_vaddq_s32(a2, bias); a3 = dynq_mve_vaddq_s32(a3, bias)
        let q = p.output
        let o = out + cb
        @inline(__always) func store(_ at: UnsafeMutablePointer<Int8>, _ y: SIMD4<Int32>) {
            if full { dynq_mve_vstrbq_s32(at, y) } else { dynq_mve_vstrbq_p_s32(at, y, n) }
        }
        store(o, heliumRequantize(a0, m, l, r, q))
        if pixels > 1 { store(o + c, heliumRequantize(a1, m, l, r, q)) }
        if pixels > 2 { store(o + 2 &* c, heliumRequantize(a2, m, l, r, q)) }
        if pixels > 3 { store(o + 3 &* c, heliumRequantize(a3, m, l, r, q)) }
    }
}

/// The depthwise kernel's scratch: the channel table, then `kh` row pointers, `kh` cache tags (the input row a
/// cache slot holds, −1 for none), the z_in row and `kh` cache slots, each a padded input row
/// `[pad_left][W][pad_right]` pixels of C bytes.
struct DepthwiseScratch {
    struct Layout {
        let tableBytes: Int, pointersBytes: Int, rowBytes: Int, slotStride: Int, slots: Int
        init(_ p: DepthwiseConv2DParams) {
            tableBytes = HeliumChannelTable.bytes(channels: p.channels)
            pointersBytes = heliumRoundUp(2 * p.kernelHeight * MemoryLayout<Int>.stride, 16)
            rowBytes = (p.padding.left + p.inputWidth + p.padding.right) * p.channels
            slotStride = heliumRoundUp(rowBytes, 16)
            slots = p.kernelHeight
        }
        var total: Int { tableBytes + pointersBytes + (slots + 1) * slotStride }
    }
    let table: HeliumChannelTable
    /// The padded row each kernel row `ky` reads for the current output row.
    let rows: UnsafeMutablePointer<UnsafeMutablePointer<Int8>>
    let tags: UnsafeMutablePointer<Int>
    let zeroRow: UnsafeMutablePointer<Int8>
    let slots: UnsafeMutablePointer<Int8>
    let layout: Layout

    init(_ raw: UnsafeMutableRawPointer, _ p: DepthwiseConv2DParams) {
        layout = Layout(p)
        table = HeliumChannelTable(raw, channels: p.channels)
        let pointers = raw + layout.tableBytes
        rows = pointers.bindMemory(to: UnsafeMutablePointer<Int8>.self, capacity: p.kernelHeight)
        tags = (pointers + p.kernelHeight * MemoryLayout<Int>.stride).bindMemory(to: Int.self,
                                                                                 capacity: p.kernelHeight)
        zeroRow = (pointers + layout.pointersBytes).bindMemory(to: Int8.self, capacity: layout.slotStride)
        slots = zeroRow + layout.slotStride
    }

    /// Empties the cache and fills the z_in row.
    func reset(_ p: DepthwiseConv2DParams) {
        for i in 0..<layout.slots { tags[i] = -1 }
        heliumFill(zeroRow, Int8(truncatingIfNeeded: p.inputZeroPoint), layout.rowBytes)
    }

    /// Points `rows[ky]` at the padded input row `oy·s_y − pad_top + ky·d_y` (copied into a free slot if not
    /// cached: a slot whose row no kernel row of `oy` needs), or at the z_in row outside the image.
    func prepareRows(_ p: DepthwiseConv2DParams, _ input: UnsafePointer<Int8>, oy: Int) {
        let kh = p.kernelHeight
        let iy0 = oy &* p.strideY &- p.padding.top
        @inline(__always) func needed(_ row: Int) -> Bool {
            let d = row &- iy0
            return d >= 0 && d % p.dilationY == 0 && d / p.dilationY < kh
        }
        for ky in 0..<kh {
            let iy = iy0 &+ ky &* p.dilationY
            if iy < 0 || iy >= p.inputHeight { rows[ky] = zeroRow; continue }
            var slot = -1
            for i in 0..<kh where tags[i] == iy { slot = i }
            if slot < 0 {
                for i in 0..<kh where slot < 0 && (tags[i] < 0 || !needed(tags[i])) { slot = i }
                precondition(slot >= 0, "DepthwiseScratch: no free row slot")   // kh slots always suffice
                let dst = slots + slot &* layout.slotStride
                let c = p.channels, z = Int8(truncatingIfNeeded: p.inputZeroPoint)
                heliumFill(dst, z, p.padding.left &* c)
                heliumCopy(dst + p.padding.left &* c, input + iy &* p.inputWidth &* c, p.inputWidth &* c)
                heliumFill(dst + (p.padding.left &+ p.inputWidth) &* c, z, p.padding.right &* c)
                tags[slot] = iy
            }
            rows[ky] = slots + slot &* layout.slotStride
        }
    }
}
