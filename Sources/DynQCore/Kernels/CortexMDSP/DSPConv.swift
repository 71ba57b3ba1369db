// Cortex-M DSP convolution (dense and grouped, any window, stride, padding, dilation): bit-exact twin of
// `conv2dReference` / `pointwiseConv2dReference`.
//
// Per pair of output pixels and per group, both receptive fields are gathered into the im2col buffer (scratch) as
// int16 `(q − z_in)` (padding → 0, the reference's skipped taps), in groups of 4 K-elements, 16 bytes per group:
//
//     [pixel 0: A = (k0, k2), B = (k1, k3)] [pixel 1: A, B]          (bottom lane first)
//
// `.im2colStrip` (32 channels per group, stride and dilation 1 across, even output width, so the pair is two
// neighbours of one output row): their receptive fields share `kw − 1` of their `kw` columns, so the buffer holds
// each kernel row's `kw + 1` input columns once, `(q − z)` A/B word pairs, 8 bytes per 4 channels
// (`[ky][column][8][A, B]`): pixel 0 reads columns `0 ..< kw` of a row, pixel 1 the same words 64 bytes (one column)
// further, an immediate offset in its loads. `kh·(kw+1)·64` bytes instead of `4·K` (768 instead of 1,152 for 3×3),
// a third fewer words widened, and a row loop around the tile's group loop. Only 32 channels: with the shift in a
// register, or a second instance of the tile, the M4's registers spill and the image grows (measured); other
// channel counts take `.im2colWords`.
//
// Then each pair of output channels runs the 2×2 tile (`dspDot2x2`): per group, one unaligned LDR of 4 int8 weights
// per channel (OHWI, in place), SXTB16 → (w0, w2), SXTB16 ROR #8 → (w1, w3), and `SMLAD(A, wA) + SMLAD(B, wB)` per
// pixel: 16 MACs in 18 instructions plus the loop. The `K mod 4` tail elements are multiplied one by one. Odd pixel
// and channel counts repeat the last pixel / channel (its stores write the same value twice).
//
// Exactness: `SMLAD` adds the two int16×int16 products (each `(q − z)·w`, |·| ≤ 255·127) to the int32 accumulator
// modulo 2^32; the sum is the reference's sum in another order, and the quantizer's bound
// `K·255·127 + |bias| < 2^31` keeps every partial sum exact. Requantization: `DSPRequantizer` (DSPRequantize.swift).

import DynQIntrinsics

extension CortexMDSPKernels {
    /// The named chooser: `.pointwise` for plain 1×1 layers; when each tap's channels come in whole words,
    /// `.im2colStrip` where it applies (32 channels per group: less scratch, fewer widenings), else `.im2colWords`;
    /// `.im2colElements` otherwise.
    public static func chooseConv(_ p: Conv2DParams) -> Variant {
        if p.groupInputChannels % 4 != 0 { return .im2colElements }
        if p.kernelHeight == 1 && p.kernelWidth == 1 && p.groups == 1 && p.strideY == 1 && p.strideX == 1
            && p.padding == .zero {
            return .pointwise
        }
        return convVariantApplies(.im2colStrip, p) ? .im2colStrip : .im2colWords
    }

    /// Whether `conv2d(p, v, …)` handles `p` (the chooser's answer always does; `.im2colElements` does for all; the
    /// depthwise and linear variants never).
    public static func convVariantApplies(_ v: Variant, _ p: Conv2DParams) -> Bool {
        switch v {
        case .im2colElements: return true
        case .im2colWords: return p.groupInputChannels % 4 == 0
        case .im2colStrip:
            return p.groupInputChannels == 32 && p.kernelWidth > 1
                && p.strideX == 1 && p.dilationX == 1 && p.outputWidth % 2 == 0
        case .pointwise:
            return p.groupInputChannels % 4 == 0 && p.kernelHeight == 1 && p.kernelWidth == 1 && p.groups == 1
                && p.strideY == 1 && p.strideX == 1 && p.padding == .zero
        case .channelQuads, .channelPairs: return false
        }
    }

    /// 0: the int8 OHWI weights are read in place.
    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int { 0 }

    /// Nothing to pack (`convPackedWeightBytes` is 0).
    public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {}

    /// Scratch bytes of `conv2d`: the im2col buffer of two pixels, `2 · ⌈K/4⌉ · 4` int16 (`K = kh·kw·I/groups`;
    /// 1,152 bytes for a 3×3×32 layer); `.im2colStrip`: `kh · (kw + 1) · I/groups` int16 (768 bytes for 3×3×32).
    public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        if v == .im2colStrip { return 2 * p.kernelHeight * (p.kernelWidth + 1) * p.groupInputChannels }
        return 16 * ((p.weightsPerOutputChannel + 3) / 4)
    }

    /// DSP 2-D convolution: same contract and results as `conv2dReference`; `a.weights` is the int8 OHWI weights
    /// (any alignment), `a.scratch` at least `convScratchBytes(p, v)` bytes, 4-byte aligned. `v` must apply to `p`
    /// (`convVariantApplies`).
    public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        precondition(Self.convVariantApplies(v, p), "CortexMDSPKernels.conv2d: variant does not apply to the layer")
        guard let rows = a.scratch else { preconditionFailure("CortexMDSPKernels.conv2d: no scratch") }
        let outW = p.outputWidth, pixels = p.outputHeight * outW
        let outC = p.outputChannels, gIn = p.groupInputChannels, gOut = p.groupOutputChannels
        let k = p.weightsPerOutputChannel, full = k >> 2, tail = k & 3
        let offset = dspOffsetPair(p.inputZeroPoint)
        let rq = DSPRequantizer(p.output)
        let weights = a.weights, mults = a.multipliers, bias = a.bias, output = a.output
        var px = 0
        while px < pixels {
            let px1 = px + 1 < pixels ? px + 1 : px
            let oy0 = px / outW, oy1 = px1 / outW
            let ox0 = px &- oy0 &* outW, ox1 = px1 &- oy1 &* outW
            for g in 0..<p.groups {
                switch v {
                case .pointwise:
                    dspWidenWords(UnsafeRawPointer(a.input + px &* gIn), full, rows, stride: 16, offset)
                    dspWidenWords(UnsafeRawPointer(a.input + px1 &* gIn), full, rows + 8, stride: 16, offset)
                case .im2colWords:
                    dspGatherWords(p, a.input, oy0, ox0, g, rows, offset)
                    dspGatherWords(p, a.input, oy1, ox1, g, rows + 8, offset)
                case .im2colElements:
                    dspGatherElements(p, a.input, oy0, ox0, g, rows)
                    dspGatherElements(p, a.input, oy1, ox1, g, rows + 8)
                case .im2colStrip:
                    dspGatherStrip(p, a.input, oy0, ox0, g, rows, offset)
                    dspConvStrip(p, a, g, px, UnsafeRawPointer(rows), 64, rq)   // 32 channels: shift 64
                    continue
                case .channelQuads, .channelPairs:
                    preconditionFailure("CortexMDSPKernels.conv2d: not a conv variant")    // excluded above
                }
                let out0 = UnsafeMutableRawPointer(output + px &* outC)
                let out1 = UnsafeMutableRawPointer(output + px1 &* outC)
                var o = g &* gOut
                let end = o &+ gOut
                while o < end {
                    let o1 = o &+ 1 < end ? o &+ 1 : o               // odd channel count: the last one alone
                    let w = dspConvTile(UnsafeRawPointer(rows), full, tail, weights, k, o, o1, bias, mults, rq)
                    dspStoreTile(w, out0, out1, o, o1)
                    o &+= 2
                }
            }
            px &+= 2
        }
    }
}

// MARK: - Lanes

/// `(−z, −z)` as two int16 lanes: SXTAB16 with it turns int8 `q` into `q − z` (in [−255, 255]).
@inline(always)
func dspOffsetPair(_ z: Int32) -> UInt32 {
    let lane = UInt32(truncatingIfNeeded: 0 &- z) & 0xFFFF
    return lane | lane &<< 16
}

/// Widens `words` groups of 4 int8 at `source` (any alignment) into `(q − z)` A/B word pairs at `destination`,
/// one pair every `stride` bytes.
@inline(always)
func dspWidenWords(_ source: UnsafeRawPointer, _ words: Int, _ destination: UnsafeMutableRawPointer, stride: Int,
                   _ offset: UInt32) {
    var s = source, d = destination
    var n = words
    while n > 0 {
        let u = s.loadUnaligned(as: UInt32.self)
        d.storeBytes(of: dynq_sxtab16(offset, u), as: UInt32.self)
        d.storeBytes(of: dynq_sxtab16_ror8(offset, u), toByteOffset: 4, as: UInt32.self)
        s += 4; d += stride
        n &-= 1
    }
}

/// Writes zero A/B word pairs (padding) for `words` groups.
@inline(always)
func dspZeroWords(_ words: Int, _ destination: UnsafeMutableRawPointer, stride: Int) {
    var d = destination
    var n = words
    while n > 0 {
        d.storeBytes(of: UInt64(0), as: UInt64.self)
        d += stride
        n &-= 1
    }
}

/// The two im2col gathers' loop: for each kernel row (input row `iy0 + ky·dilationY`), `columns` input columns
/// `ix0 + j·columnStep`, each as `I/groups / 4` A/B word pairs `stride` bytes apart from channel `channel` on
/// (zeros for padding rows and columns).
@inline(always)
func dspGatherColumns(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, iy0: Int, ix0: Int, channel: Int,
                      columns: Int, columnStep: Int, stride: Int, _ destination: UnsafeMutableRawPointer,
                      _ offset: UInt32) {
    let words = p.groupInputChannels >> 2, c = p.inputChannels, w = p.inputWidth
    var d = destination
    for ky in 0..<p.kernelHeight {
        let iy = iy0 &+ ky &* p.dilationY
        if iy < 0 || iy >= p.inputHeight {
            dspZeroWords(words &* columns, d, stride: stride)
            d += stride &* words &* columns
            continue
        }
        let row = input + ((iy &* w) &* c &+ channel)
        for kx in 0..<columns {
            let ix = ix0 &+ kx &* columnStep
            if ix < 0 || ix >= w {
                dspZeroWords(words, d, stride: stride)
            } else {
                dspWidenWords(UnsafeRawPointer(row + ix &* c), words, d, stride: stride, offset)
            }
            d += stride &* words
        }
    }
}

/// im2col of one output pixel `(oy, ox)`, group `g`, `I/groups % 4 == 0`: `K/4` A/B pairs at `destination`,
/// 16 bytes apart (the other pixel's pairs are interleaved).
@inline(always)
func dspGatherWords(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int, _ g: Int,
                    _ destination: UnsafeMutableRawPointer, _ offset: UInt32) {
    dspGatherColumns(p, input, iy0: oy &* p.strideY &- p.padding.top, ix0: ox &* p.strideX &- p.padding.left,
                     channel: g &* p.groupInputChannels, columns: p.kernelWidth, columnStep: p.dilationX, stride: 16,
                     destination, offset)
}

/// `.im2colStrip`'s buffer for the pixel pair `(oy, ox)`, `(oy, ox + 1)`, group `g`: per kernel row, input columns
/// `ox − left ..< ox − left + kw + 1`, each as `I/groups / 4` A/B word pairs, 8 bytes apart (zeros for padding).
@inline(always)
func dspGatherStrip(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int, _ g: Int,
                    _ destination: UnsafeMutableRawPointer, _ offset: UInt32) {
    dspGatherColumns(p, input, iy0: oy &* p.strideY &- p.padding.top, ix0: ox &- p.padding.left,
                     channel: g &* p.groupInputChannels, columns: p.kernelWidth &+ 1, columnStep: 1, stride: 8,
                     destination, offset)
}

/// `.im2colStrip`: every output channel pair of group `g` for the pixels `px`, `px + 1` over the strip; `shift` =
/// `2·I/groups`, the byte distance of pixel 1's words from pixel 0's (a constant at the specialized call sites).
@inline(always)
func dspConvStrip(_ p: Conv2DParams, _ a: ConvArguments, _ g: Int, _ px: Int, _ strip: UnsafeRawPointer,
                  _ shift: Int, _ rq: DSPRequantizer) {
    let k = p.weightsPerOutputChannel, gOut = p.groupOutputChannels, kh = p.kernelHeight
    let groups = (p.kernelWidth &* p.groupInputChannels) >> 2
    let out0 = UnsafeMutableRawPointer(a.output + px &* p.outputChannels), out1 = out0 + p.outputChannels
    var o = g &* gOut
    let end = o &+ gOut
    while o < end {
        let o1 = o &+ 1 < end ? o &+ 1 : o                   // odd channel count: the last one alone
        var c: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        if let b = a.bias { c = (b[o], b[o1], b[o], b[o1]) }
        dspDotStrip(strip, kh, groups, a.weights + o &* k, a.weights + o1 &* k, shift, &c)
        dspStoreTile(dspRequantizeTile(c, o, o1, a.multipliers, rq), out0, out1, o, o1)
        o &+= 2
    }
}

/// One group of the strip's 2×2 tile: pixel 0's A/B pair at `x`, pixel 1's `shift` bytes further. 16 MACs.
@inline(always)
func dspStepStrip(_ x: UnsafeRawPointer, _ shift: Int, _ u0: UInt32, _ u1: UInt32,
                  _ c: inout (Int32, Int32, Int32, Int32)) {
    let w0a = dynq_sxtb16(u0), w0b = dynq_sxtb16_ror8(u0)
    let w1a = dynq_sxtb16(u1), w1b = dynq_sxtb16_ror8(u1)
    let x0a = x.load(as: UInt32.self), x0b = x.load(fromByteOffset: 4, as: UInt32.self)
    c.0 = dynq_smlad(x0a, w0a, c.0); c.0 = dynq_smlad(x0b, w0b, c.0)
    c.1 = dynq_smlad(x0a, w1a, c.1); c.1 = dynq_smlad(x0b, w1b, c.1)
    let x1a = x.load(fromByteOffset: shift, as: UInt32.self)
    let x1b = x.load(fromByteOffset: shift &+ 4, as: UInt32.self)
    c.2 = dynq_smlad(x1a, w0a, c.2); c.2 = dynq_smlad(x1b, w0b, c.2)
    c.3 = dynq_smlad(x1a, w1a, c.3); c.3 = dynq_smlad(x1b, w1b, c.3)
}

/// The strip's 2×2 tile over `rows` kernel rows of `groups` 4-element groups each: pixel 0's pair of group `j` of a
/// row at `8j`, the next row `shift` bytes after the row's last group (the strip's extra column); the weights run
/// on (OHWI) as in `dspDot2x2`. Unrolled by 2 groups.
@inline(always)
func dspDotStrip(_ strip: UnsafeRawPointer, _ rows: Int, _ groups: Int, _ w0: UnsafeRawPointer,
                 _ w1: UnsafeRawPointer, _ shift: Int, _ c: inout (Int32, Int32, Int32, Int32)) {
    var x = strip, q0 = w0, q1 = w1
    var acc = c
    var row = rows
    while row > 0 {
        if groups & 1 != 0 {
            dspStepStrip(x, shift, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &acc)
            x += 8; q0 += 4; q1 += 4
        }
        var n = groups >> 1
        while n > 0 {
            dspStepStrip(x, shift, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &acc)
            dspStepStrip(x + 8, shift, q0.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                         q1.loadUnaligned(fromByteOffset: 4, as: UInt32.self), &acc)
            x += 16; q0 += 8; q1 += 8
            n &-= 1
        }
        x += shift
        row &-= 1
    }
    c = acc
}

/// Byte offset of K-element `k` in one pixel's im2col slots: group `k/4` (16 bytes), word A (k even) or B (k odd),
/// bottom lane for `k mod 4 < 2`, top lane otherwise.
@inline(always)
func dspElementOffset(_ k: Int) -> Int { (k >> 2) &* 16 &+ (k & 1) &* 4 &+ ((k >> 1) & 1) &* 2 }

/// im2col of one output pixel, any `I/groups`: each `(q − z)` stored as one int16 at `dspElementOffset(k)`.
@inline(always)
func dspGatherElements(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int, _ g: Int,
                       _ destination: UnsafeMutableRawPointer) {
    let gIn = p.groupInputChannels, c = p.inputChannels, w = p.inputWidth, z = p.inputZeroPoint
    let iy0 = oy &* p.strideY &- p.padding.top, ix0 = ox &* p.strideX &- p.padding.left
    let channel = g &* gIn
    var k = 0
    if gIn == 1 {                                           // e.g. a grey-image stem: one element per tap
        for ky in 0..<p.kernelHeight {
            let iy = iy0 &+ ky &* p.dilationY
            let rowInside = iy >= 0 && iy < p.inputHeight
            let row = input + ((rowInside ? iy &* w : 0) &* c &+ channel)
            for kx in 0..<p.kernelWidth {
                let ix = ix0 &+ kx &* p.dilationX
                var v: Int16 = 0
                if rowInside && ix >= 0 && ix < w { v = Int16(truncatingIfNeeded: Int32(row[ix &* c]) &- z) }
                destination.storeBytes(of: v, toByteOffset: dspElementOffset(k), as: Int16.self)
                k &+= 1
            }
        }
        return
    }
    for ky in 0..<p.kernelHeight {
        let iy = iy0 &+ ky &* p.dilationY
        let rowInside = iy >= 0 && iy < p.inputHeight
        for kx in 0..<p.kernelWidth {
            let ix = ix0 &+ kx &* p.dilationX
            if rowInside && ix >= 0 && ix < w {
                let s = input + ((iy &* w &+ ix) &* c &+ channel)
                for i in 0..<gIn {
                    let v = Int16(truncatingIfNeeded: Int32(s[i]) &- z)
                    destination.storeBytes(of: v, toByteOffset: dspElementOffset(k &+ i), as: Int16.self)
                }
            } else {
                for i in 0..<gIn {
                    destination.storeBytes(of: Int16(0), toByteOffset: dspElementOffset(k &+ i), as: Int16.self)
                }
            }
            k &+= gIn
        }
    }
}

// MARK: - The 2×2 tile

/// One 2-channel × 2-pixel tile (channels `o0`, `o1`, possibly equal) over the im2col buffer, requantized: the
/// word's bytes are (pixel 0, o0), (pixel 0, o1), (pixel 1, o0), (pixel 1, o1).
@inline(always)
func dspConvTile(_ rows: UnsafeRawPointer, _ full: Int, _ tail: Int, _ weights: UnsafeRawPointer, _ k: Int,
                 _ o0: Int, _ o1: Int, _ bias: UnsafePointer<Int32>?, _ mults: UnsafePointer<QuantizedMultiplier>,
                 _ rq: DSPRequantizer) -> UInt32 {
    var c: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
    if let b = bias { c = (b[o0], b[o1], b[o0], b[o1]) }
    let w0 = weights + o0 &* k, w1 = weights + o1 &* k
    dspDot2x2(rows, full, w0, w1, &c)
    if tail != 0 { dspTail2x2(rows + 16 &* full, tail, w0 + 4 &* full, w1 + 4 &* full, &c) }
    return dspRequantizeTile(c, o0, o1, mults, rq)
}

/// The tile's 4 accumulators requantized: bytes (pixel 0, o0), (pixel 0, o1), (pixel 1, o0), (pixel 1, o1).
@inline(always)
func dspRequantizeTile(_ c: (Int32, Int32, Int32, Int32), _ o0: Int, _ o1: Int,
                       _ mults: UnsafePointer<QuantizedMultiplier>, _ rq: DSPRequantizer) -> UInt32 {
    let m0 = mults[o0], m1 = mults[o1]
    let q0 = rq.channel(m0), q1 = rq.channel(m1)
    if q0.fast && q1.fast {
        return rq.pack4(rq.fast(c.0, q0), rq.fast(c.1, q1), rq.fast(c.2, q0), rq.fast(c.3, q1))
    }
    return rq.apply4(c.0, m0, c.1, m1, c.2, m0, c.3, m1)
}

/// Stores a requantized tile: channels `o`, `o1` of both pixels (one byte each when `o == o1`).
@inline(always)
func dspStoreTile(_ w: UInt32, _ out0: UnsafeMutableRawPointer, _ out1: UnsafeMutableRawPointer, _ o: Int, _ o1: Int) {
    if o1 != o {
        out0.storeBytes(of: UInt16(truncatingIfNeeded: w), toByteOffset: o, as: UInt16.self)
        out1.storeBytes(of: UInt16(truncatingIfNeeded: w &>> 16), toByteOffset: o, as: UInt16.self)
    } else {
        out0.storeBytes(of: UInt8(truncatingIfNeeded: w), toByteOffset: o, as: UInt8.self)
        out1.storeBytes(of: UInt8(truncatingIfNeeded: w &>> 16), toByteOffset: o, as: UInt8.self)
    }
}

/// One group of the 2×2 tile: 16 MACs.
@inline(always)
func dspStep2x2(_ r: UnsafeRawPointer, _ u0: UInt32, _ u1: UInt32, _ c: inout (Int32, Int32, Int32, Int32)) {
    let w0a = dynq_sxtb16(u0), w0b = dynq_sxtb16_ror8(u0)
    let w1a = dynq_sxtb16(u1), w1b = dynq_sxtb16_ror8(u1)
    let x0a = r.load(as: UInt32.self), x0b = r.load(fromByteOffset: 4, as: UInt32.self)
    c.0 = dynq_smlad(x0a, w0a, c.0); c.0 = dynq_smlad(x0b, w0b, c.0)
    c.1 = dynq_smlad(x0a, w1a, c.1); c.1 = dynq_smlad(x0b, w1b, c.1)
    let x1a = r.load(fromByteOffset: 8, as: UInt32.self), x1b = r.load(fromByteOffset: 12, as: UInt32.self)
    c.2 = dynq_smlad(x1a, w0a, c.2); c.2 = dynq_smlad(x1b, w0b, c.2)
    c.3 = dynq_smlad(x1a, w1a, c.3); c.3 = dynq_smlad(x1b, w1b, c.3)
}

/// `c += ` the 2×2 tile over `groups` 4-element groups: `c.0` pixel 0 · channel 0, `c.1` pixel 0 · channel 1,
/// `c.2` pixel 1 · channel 0, `c.3` pixel 1 · channel 1. `rows`: the im2col buffer (4-byte aligned); `w0`, `w1`:
/// the two channels' int8 weights (any alignment). Unrolled by 2 groups.
@inline(always)
func dspDot2x2(_ rows: UnsafeRawPointer, _ groups: Int, _ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer,
               _ c: inout (Int32, Int32, Int32, Int32)) {
    var r = rows, q0 = w0, q1 = w1
    var acc = c
    if groups & 1 != 0 {
        dspStep2x2(r, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &acc)
        r += 16; q0 += 4; q1 += 4
    }
    var n = groups >> 1
    while n > 0 {
        dspStep2x2(r, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &acc)
        dspStep2x2(r + 16, q0.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                   q1.loadUnaligned(fromByteOffset: 4, as: UInt32.self), &acc)
        r += 32; q0 += 8; q1 += 8
        n &-= 1
    }
    c = acc
}

/// The last `tail` (1…3) K-elements of the 2×2 tile, from the partial group at `rows` and the weights at `w0`, `w1`.
@inline(always)
func dspTail2x2(_ rows: UnsafeRawPointer, _ tail: Int, _ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer,
                _ c: inout (Int32, Int32, Int32, Int32)) {
    for j in 0..<tail {
        let at = dspElementOffset(j)
        let x0 = Int32(rows.load(fromByteOffset: at, as: Int16.self))
        let x1 = Int32(rows.load(fromByteOffset: at &+ 8, as: Int16.self))
        let a = Int32(w0.load(fromByteOffset: j, as: Int8.self)), b = Int32(w1.load(fromByteOffset: j, as: Int8.self))
        c.0 &+= x0 &* a; c.1 &+= x0 &* b; c.2 &+= x1 &* a; c.3 &+= x1 &* b
    }
}
