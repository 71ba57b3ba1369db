// Cortex-M DSP depthwise convolution (channel multiplier 1, weights `[kh][kw][C]`, any window, stride, padding,
// dilation): bit-exact twin of `depthwiseConv2dReference`.
//
// Channels are the SIMD lanes: 4 channels of one tap are one word of the input pixel and one word of the weight
// tap. SXTAB16 widens the input to `(q − z_in)` lanes (channels c, c+2) and, with ROR #8, (c+1, c+3); SXTB16 does
// the same to the weights; `SMLABB` / `SMLATT` then accumulate each channel's product (1 MAC each): one tap of 4
// channels is 2 loads, 4 widenings and 4 multiply-accumulates. Channel quads run outermost, so each quad's four
// multipliers are prepared once; pixels next, then the taps that fall inside the image (padding taps are skipped,
// as the reference skips them). The `C mod 4` last channels run one by one. No scratch, no packed weights.
//
// Exactness: each product `(q − z)·w` is the reference's (|·| ≤ 255·127), summed in int32 in the reference's
// order; requantization by `DSPRequantizer`.

import DynQIntrinsics

extension CortexMDSPKernels {
    /// The depthwise chooser's answer (one variant).
    public enum DepthwiseVariant: Equatable, Sendable {
        /// 4 channels × 1 pixel, int8 `[kh][kw][C]` weights in place.
        case channelQuads
    }

    public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> DepthwiseVariant { .channelQuads }

    /// 0: the int8 `[kh][kw][C]` weights are read in place.
    public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant) -> Int { 0 }

    /// Nothing to pack.
    public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant,
                                            weights: UnsafePointer<Int8>, into: UnsafeMutableRawPointer) {}

    /// 0: no scratch.
    public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant) -> Int { 0 }

    /// DSP depthwise convolution: same contract and results as `depthwiseConv2dReference`; `a.weights` is the int8
    /// `[kh][kw][C]` weights (any alignment); no scratch.
    public static func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: DepthwiseVariant, _ a: ConvArguments) {
        let c = p.channels, quads = c >> 2
        let rq = DSPRequantizer(p.output)
        for q in 0..<quads {
            dspDepthwiseQuad(p, a, channel: q &* 4, rq)
        }
        for ch in (quads &* 4)..<c {
            dspDepthwiseChannel(p, a, channel: ch, rq)
        }
    }
}

/// The image rows `[lo, hi)` of a window's taps that fall inside `0..<extent`: taps `t` with
/// `0 ≤ start + t·dilation < extent`, `t < kernel`.
@inline(__always)
func dspInsideTaps(start: Int, kernel: Int, dilation: Int, extent: Int) -> (lo: Int, hi: Int) {
    var lo = 0
    if start < 0 { lo = (0 &- start &+ dilation &- 1) / dilation }
    var hi = kernel
    let last = extent &- 1 &- start                   // t·dilation ≤ last
    if last < 0 { return (0, 0) }
    let h = last / dilation &+ 1
    if h < hi { hi = h }
    return lo < hi ? (lo, hi) : (0, 0)
}

/// Channels `channel ..< channel + 4` of every output pixel.
@inline(__always)
func dspDepthwiseQuad(_ p: DepthwiseConv2DParams, _ a: CortexMDSPKernels.ConvArguments, channel ch: Int,
                      _ rq: DSPRequantizer) {
    let c = p.channels, w = p.inputWidth, kw = p.kernelWidth, outW = p.outputWidth
    let offset = dspOffsetPair(p.inputZeroPoint)
    let m = a.multipliers + ch
    let q0 = DSPChannelMultiplier(m[0]), q1 = DSPChannelMultiplier(m[1])
    let q2 = DSPChannelMultiplier(m[2]), q3 = DSPChannelMultiplier(m[3])
    let fast = q0.fast && q1.fast && q2.fast && q3.fast
    var b0: Int32 = 0, b1: Int32 = 0, b2: Int32 = 0, b3: Int32 = 0
    if let b = a.bias { b0 = b[ch]; b1 = b[ch &+ 1]; b2 = b[ch &+ 2]; b3 = b[ch &+ 3] }
    let input = UnsafeRawPointer(a.input + ch), weights = a.weights + ch
    let tapStride = p.dilationX &* c
    var out = a.output + ch
    for oy in 0..<p.outputHeight {
        let iy0 = oy &* p.strideY &- p.padding.top
        let (kyLo, kyHi) = dspInsideTaps(start: iy0, kernel: p.kernelHeight, dilation: p.dilationY,
                                         extent: p.inputHeight)
        for ox in 0..<outW {
            let ix0 = ox &* p.strideX &- p.padding.left
            let (kxLo, kxHi) = dspInsideTaps(start: ix0, kernel: kw, dilation: p.dilationX, extent: w)
            var a0 = b0, a1 = b1, a2 = b2, a3 = b3
            var ky = kyLo
            while ky < kyHi {
                let iy = iy0 &+ ky &* p.dilationY
                var x = input + (iy &* w &+ ix0 &+ kxLo &* p.dilationX) &* c
                var wt = weights + (ky &* kw &+ kxLo) &* c
                var kx = kxLo
                while kx < kxHi {
                    let u = x.loadUnaligned(as: UInt32.self), v = wt.loadUnaligned(as: UInt32.self)
                    let xa = dynq_sxtab16(offset, u), xb = dynq_sxtab16_ror8(offset, u)
                    let wa = dynq_sxtb16(v), wb = dynq_sxtb16_ror8(v)
                    a0 = dynq_smlabb(xa, wa, a0); a2 = dynq_smlatt(xa, wa, a2)
                    a1 = dynq_smlabb(xb, wb, a1); a3 = dynq_smlatt(xb, wb, a3)
                    x += tapStride; wt += c
                    kx &+= 1
                }
                ky &+= 1
            }
            if fast {
                out[0] = rq.fast(a0, q0); out[1] = rq.fast(a1, q1); out[2] = rq.fast(a2, q2); out[3] = rq.fast(a3, q3)
            } else {
                out[0] = rq.apply(a0, m[0]); out[1] = rq.apply(a1, m[1])
                out[2] = rq.apply(a2, m[2]); out[3] = rq.apply(a3, m[3])
            }
            out += c
        }
    }
}

/// One channel of every output pixel (the `C mod 4` last channels).
@inline(__always)
func dspDepthwiseChannel(_ p: DepthwiseConv2DParams, _ a: CortexMDSPKernels.ConvArguments, channel ch: Int,
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
