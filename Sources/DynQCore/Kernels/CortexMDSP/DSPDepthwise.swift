// Cortex-M DSP depthwise convolution (channel multiplier 1, weights `[kh][kw][C]`, any window, stride, padding,
// dilation): bit-exact twin of `depthwiseConv2dReference`.
//
// Channels are the SIMD lanes: 4 channels of one tap are one word of the input pixel. Per quad of channels the
// taps' weights are widened once into scratch (SXTB16: channels c, c+2 in word A; SXTB16 ROR #8: c+1, c+3 in B),
// and the input zero point is folded into the bias: `Σ (q − z)·w = Σ q·w − z·Σ w`, so an input word only needs
// SXTB16 too. One tap of 4 channels is then LDR + 2 SXTB16 + 2 LDR + 4 `SMLABB`/`SMLATT` (1 MAC each). Pixels
// whose window lies inside the image run this over all taps, in place (3×3 windows fully unrolled, the columns of
// such pixels in one tight loop per output row); border pixels run only their taps inside the image, from the
// unfolded bias, widening the input to `(q − z)` with SXTAB16 (the reference skips the other taps). The 4 outputs
// are requantized and stored as one word. The `C mod 4` last channels run one by one. No packed weights.
//
// Exactness: every product `q·w` (|·| ≤ 128·127) and the folded bias `b − z·Σw` are exact in int32; the sum equals
// the reference's `b + Σ (q − z)·w` (the quantizer bounds it below 2^31; intermediate sums wrap modulo 2^32 and
// end exact). Requantization: `DSPRequantizer`.

import DynQIntrinsics

extension CortexMDSPKernels {
    public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant { .channelQuads }

    /// 0: the int8 `[kh][kw][C]` weights are read in place.
    public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int { 0 }

    /// Nothing to pack.
    public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant,
                                            weights: UnsafePointer<Int8>, into: UnsafeMutableRawPointer) {}

    /// Scratch bytes of `depthwiseConv2d`: one channel quad's widened weights, 8 bytes per tap (72 for 3×3), 0 when
    /// `C < 4`.
    public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        p.channels >= 4 ? 8 * p.taps : 0
    }

    /// DSP depthwise convolution: same contract and results as `depthwiseConv2dReference`; `a.weights` is the int8
    /// `[kh][kw][C]` weights (any alignment), `a.scratch` at least `depthwiseScratchBytes(p, v)` bytes, 8-byte
    /// aligned.
    public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        let c = p.channels, quads = c >> 2
        let rq = DSPRequantizer(p.output)
        if quads > 0 {
            guard let scratch = a.scratch else { preconditionFailure("CortexMDSPKernels.depthwiseConv2d: no scratch") }
            let threeByThree = p.kernelHeight == 3 && p.kernelWidth == 3
            for q in 0..<quads {
                if threeByThree {
                    dspDepthwiseQuad(p, a, channel: q &* 4, rq, scratch, unrolled3x3: true)
                } else {
                    dspDepthwiseQuad(p, a, channel: q &* 4, rq, scratch, unrolled3x3: false)
                }
            }
        }
        for ch in (quads &* 4)..<c {
            dspDepthwiseChannel(p, a, channel: ch, rq)
        }
    }
}

/// The image rows `[lo, hi)` of a window's taps that fall inside `0..<extent`: taps `t` with
/// `0 ≤ start + t·dilation < extent`, `t < kernel`.
@inline(always)
func dspInsideTaps(start: Int, kernel: Int, dilation: Int, extent: Int) -> (lo: Int, hi: Int) {
    if dilation == 1 {
        let lo = start < 0 ? 0 &- start : 0
        let hi = extent &- start < kernel ? extent &- start : kernel
        return lo < hi ? (lo, hi) : (0, 0)
    }
    var lo = 0
    if start < 0 { lo = (0 &- start &+ dilation &- 1) / dilation }
    var hi = kernel
    let last = extent &- 1 &- start                   // t·dilation ≤ last
    if last < 0 { return (0, 0) }
    let h = last / dilation &+ 1
    if h < hi { hi = h }
    return lo < hi ? (lo, hi) : (0, 0)
}

/// One tap of 4 channels: `acc.i += q_i · w_i` with the input word at `x` (any alignment) and the widened weights
/// (A, B) at `w`.
@inline(always)
func dspDepthwiseTap(_ x: UnsafeRawPointer, _ w: UnsafeRawPointer, _ acc: inout (Int32, Int32, Int32, Int32)) {
    let u = x.loadUnaligned(as: UInt32.self)
    let xa = dynq_sxtb16(u), xb = dynq_sxtb16_ror8(u)
    let wa = w.load(as: UInt32.self), wb = w.load(fromByteOffset: 4, as: UInt32.self)
    acc.0 = dynq_smlabb(xa, wa, acc.0); acc.2 = dynq_smlatt(xa, wa, acc.2)
    acc.1 = dynq_smlabb(xb, wb, acc.1); acc.3 = dynq_smlatt(xb, wb, acc.3)
}

/// Channels `ch ..< ch + 4` of every output pixel. `scratch`: the widened weights (`8·taps` bytes).
@inline(always)
func dspDepthwiseQuad(_ p: DepthwiseConv2DParams, _ a: ConvArguments, channel ch: Int,
                      _ rq: DSPRequantizer, _ scratch: UnsafeMutableRawPointer, unrolled3x3: Bool) {
    let c = p.channels, w = p.inputWidth, h = p.inputHeight, kh = p.kernelHeight, kw = p.kernelWidth
    let taps = kh &* kw, z = p.inputZeroPoint
    let widened = scratch
    // Widen the quad's weights once; sum them for the zero-point correction.
    var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
    for t in 0..<taps {
        let u = (a.weights + (t &* c &+ ch)).loadUnaligned(as: UInt32.self)
        widened.storeBytes(of: dynq_sxtb16(u), toByteOffset: 8 &* t, as: UInt32.self)
        widened.storeBytes(of: dynq_sxtb16_ror8(u), toByteOffset: 8 &* t &+ 4, as: UInt32.self)
        s0 &+= Int32(Int8(truncatingIfNeeded: u)); s1 &+= Int32(Int8(truncatingIfNeeded: u &>> 8))
        s2 &+= Int32(Int8(truncatingIfNeeded: u &>> 16)); s3 &+= Int32(Int8(truncatingIfNeeded: u &>> 24))
    }
    var u0: Int32 = 0, u1: Int32 = 0, u2: Int32 = 0, u3: Int32 = 0      // the bias
    if let b = a.bias { u0 = b[ch]; u1 = b[ch &+ 1]; u2 = b[ch &+ 2]; u3 = b[ch &+ 3] }
    let b0 = u0 &- z &* s0, b1 = u1 &- z &* s1, b2 = u2 &- z &* s2, b3 = u3 &- z &* s3   // z folded in
    let m = a.multipliers + ch
    let q0 = rq.channel(m[0]), q1 = rq.channel(m[1]), q2 = rq.channel(m[2]), q3 = rq.channel(m[3])
    let fast = q0.fast && q1.fast && q2.fast && q3.fast
    let offset = dspOffsetPair(z)
    let column = p.dilationX &* c, row = p.dilationY &* w &* c, step = p.strideX &* c
    let input = UnsafeRawPointer(a.input + ch)
    let lastRow = (kh &- 1) &* p.dilationY, lastColumn = (kw &- 1) &* p.dilationX
    let wt = UnsafeRawPointer(widened)
    let outW = p.outputWidth
    // Output columns whose window is inside the image horizontally: [xLo, xHi).
    let pl = p.padding.left, sx = p.strideX
    let xLo = min((pl &+ sx &- 1) / sx, outW)
    let right = w &- 1 &- lastColumn &+ pl                  // ox·sx ≤ right
    let xHi = max(right < 0 ? 0 : min(right / sx &+ 1, outW), xLo)

    /// The window at `base` (taps `dx` apart in a row, rows `dy` apart), requantized, stored at `out`.
    @inline(always) func pixel(_ base: UnsafeRawPointer, _ dx: Int, _ dy: Int, _ out: UnsafeMutableRawPointer) {
        var acc = (b0, b1, b2, b3)
        if unrolled3x3 {
            let r1 = base + dy, r2 = base + 2 &* dy
            dspDepthwiseTap(base, wt, &acc)
            dspDepthwiseTap(base + dx, wt + 8, &acc)
            dspDepthwiseTap(base + 2 &* dx, wt + 16, &acc)
            dspDepthwiseTap(r1, wt + 24, &acc)
            dspDepthwiseTap(r1 + dx, wt + 32, &acc)
            dspDepthwiseTap(r1 + 2 &* dx, wt + 40, &acc)
            dspDepthwiseTap(r2, wt + 48, &acc)
            dspDepthwiseTap(r2 + dx, wt + 56, &acc)
            dspDepthwiseTap(r2 + 2 &* dx, wt + 64, &acc)
        } else {
            var t = 0
            for ky in 0..<kh {
                var x = base + ky &* dy
                for _ in 0..<kw {
                    dspDepthwiseTap(x, wt + 8 &* t, &acc)
                    x += dx
                    t &+= 1
                }
            }
        }
        let word = fast ? rq.pack4(rq.fast(acc.0, q0), rq.fast(acc.1, q1), rq.fast(acc.2, q2), rq.fast(acc.3, q3))
                        : rq.apply4(acc.0, m[0], acc.1, m[1], acc.2, m[2], acc.3, m[3])
        out.storeBytes(of: word, as: UInt32.self)
    }

    /// A pixel whose window crosses the image border: only its taps inside the image, as `(q − z)·w` (SXTAB16 with
    /// `−z`) from the unfolded bias, as the reference skips the others.
    @inline(never) func border(_ iy0: Int, _ ox: Int, _ out: UnsafeMutableRawPointer) {
        let ix0 = ox &* sx &- pl
        var acc = (u0, u1, u2, u3)
        @inline(always) func tap(_ iy: Int, _ ix: Int, _ t: Int) {
            let v = (input + (iy &* w &+ ix) &* c).loadUnaligned(as: UInt32.self)
            let xa = dynq_sxtab16(offset, v), xb = dynq_sxtab16_ror8(offset, v)
            let wa = wt.load(fromByteOffset: 8 &* t, as: UInt32.self)
            let wb = wt.load(fromByteOffset: 8 &* t &+ 4, as: UInt32.self)
            acc.0 = dynq_smlabb(xa, wa, acc.0); acc.2 = dynq_smlatt(xa, wa, acc.2)
            acc.1 = dynq_smlabb(xb, wb, acc.1); acc.3 = dynq_smlatt(xb, wb, acc.3)
        }
        if unrolled3x3 {
            let dy = p.dilationY, dx = p.dilationX
            let y1 = iy0 &+ dy, y2 = iy0 &+ 2 &* dy, x1 = ix0 &+ dx, x2 = ix0 &+ 2 &* dx
            let r0 = UInt(bitPattern: iy0) < UInt(h), r1 = UInt(bitPattern: y1) < UInt(h)
            let r2 = UInt(bitPattern: y2) < UInt(h)
            let c0 = UInt(bitPattern: ix0) < UInt(w), c1 = UInt(bitPattern: x1) < UInt(w)
            let c2 = UInt(bitPattern: x2) < UInt(w)
            if r0 {
                if c0 { tap(iy0, ix0, 0) }; if c1 { tap(iy0, x1, 1) }; if c2 { tap(iy0, x2, 2) }
            }
            if r1 {
                if c0 { tap(y1, ix0, 3) }; if c1 { tap(y1, x1, 4) }; if c2 { tap(y1, x2, 5) }
            }
            if r2 {
                if c0 { tap(y2, ix0, 6) }; if c1 { tap(y2, x1, 7) }; if c2 { tap(y2, x2, 8) }
            }
        } else {
            let (yl, yh) = dspInsideTaps(start: iy0, kernel: kh, dilation: p.dilationY, extent: h)
            let (xl, xh) = dspInsideTaps(start: ix0, kernel: kw, dilation: p.dilationX, extent: w)
            for ky in yl..<yh {
                for kx in xl..<xh { tap(iy0 &+ ky &* p.dilationY, ix0 &+ kx &* p.dilationX, ky &* kw &+ kx) }
            }
        }
        let word = fast ? rq.pack4(rq.fast(acc.0, q0), rq.fast(acc.1, q1), rq.fast(acc.2, q2), rq.fast(acc.3, q3))
                        : rq.apply4(acc.0, m[0], acc.1, m[1], acc.2, m[2], acc.3, m[3])
        out.storeBytes(of: word, as: UInt32.self)
    }

    for oy in 0..<p.outputHeight {
        let iy0 = oy &* p.strideY &- p.padding.top
        var out = UnsafeMutableRawPointer(a.output + ((oy &* outW) &* c &+ ch))
        var ox = 0
        if iy0 >= 0 && iy0 &+ lastRow < h {
            while ox < xLo { border(iy0, ox, out); out += c; ox &+= 1 }
            var base = input + (iy0 &* w &+ ox &* sx &- pl) &* c
            while ox < xHi {
                pixel(base, column, row, out)
                base += step; out += c; ox &+= 1
            }
        }
        while ox < outW { border(iy0, ox, out); out += c; ox &+= 1 }
    }
}

/// One channel of every output pixel (the `C mod 4` last channels).
@inline(always)
func dspDepthwiseChannel(_ p: DepthwiseConv2DParams, _ a: ConvArguments, channel ch: Int,
                         _ rq: DSPRequantizer) {
    let c = p.channels, w = p.inputWidth, kw = p.kernelWidth, z = p.inputZeroPoint
    let q = a.multipliers[ch]
    let bias = a.bias?[ch] ?? 0
    var out = a.output + ch
    for oy in 0..<p.outputHeight {
        let iy0 = oy &* p.strideY &- p.padding.top
        let (kyLo, kyHi) = dspInsideTaps(start: iy0, kernel: p.kernelHeight, dilation: p.dilationY,
                                         extent: p.inputHeight)
        for ox in 0..<p.outputWidth {
            let ix0 = ox &* p.strideX &- p.padding.left
            let (kxLo, kxHi) = dspInsideTaps(start: ix0, kernel: kw, dilation: p.dilationX, extent: w)
            var acc = bias
            for ky in kyLo..<kyHi {
                let iy = iy0 &+ ky &* p.dilationY
                for kx in kxLo..<kxHi {
                    let ix = ix0 &+ kx &* p.dilationX
                    acc &+= (Int32(a.input[(iy &* w &+ ix) &* c &+ ch]) &- z)
                        &* Int32(a.weights.load(fromByteOffset: (ky &* kw &+ kx) &* c &+ ch, as: Int8.self))
                }
            }
            out[0] = rq.apply(acc, q)
            out += c
        }
    }
}
