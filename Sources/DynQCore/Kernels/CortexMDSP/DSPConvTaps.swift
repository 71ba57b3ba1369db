// Cortex-M DSP convolution without im2col (`CortexMDSPKernels.Variant.taps`: any window, stride, padding,
// dilation and groups with `I/groups % 4 == 0`): bit-exact twin of `conv2dReference`, in 232 bytes of scratch for
// a 3×3×32→32 layer instead of the 1,152 of an int16 im2col of two pixels (the fixture's arena peak is that layer).
//
// The input zero point is folded into the bias once per call: `b + Σ (q − z)·w = (b − z·Σw) + Σ q·w`, so the
// kernel multiplies raw int8 inputs, widened with SXTB16 like the weights. A tap in the padding must contribute
// `(z − z)·w = 0`: it reads a row of `z` bytes, whose `z·w` the fold removes. Per pair of output pixels the taps'
// input offsets are listed once (−1 for the padding row); then each pair of output channels runs the 2×2 tile
// tap by tap over the tap's `I/groups` channels read in place: per 4 channels, 2 weight LDR + 2 input LDR,
// 8 SXTB16, 8 SMLAD (16 MACs).
//
// Scratch (`dspTapsScratchBytes`): the folded bias `[O]` int32, the two pixels' tap offsets `[kh·kw][2]` int32,
// the padding row (`I/groups` bytes of `z`, rounded up to 4). Exactness: `Σw` over `K` int8 weights and
// `z·Σw` (|z·Σw| ≤ 128·127·K) are exact in int32 for the `K` the quantizer allows; every product `q·w` is exact,
// the sums wrap modulo 2^32 and end at the reference's accumulator, which the quantizer bounds below 2^31.

import DynQIntrinsics

/// Scratch bytes of the `.taps` conv: `4·O + 8·kh·kw + ⌈(I/groups)/4⌉·4`.
@inline(always)
func dspTapsScratchBytes(_ p: Conv2DParams) -> Int {
    4 &* p.outputChannels &+ 8 &* p.kernelHeight &* p.kernelWidth &+ (p.groupInputChannels &+ 3) & ~3
}

/// The input offsets (bytes, from the group's first channel of pixel (0, 0)) of output pixel `(oy, ox)`'s taps,
/// `kh·kw` of them, every second int32 from `destination`; −1 for a tap in the padding.
@inline(always)
func dspTapOffsets(_ p: Conv2DParams, _ oy: Int, _ ox: Int, _ destination: UnsafeMutablePointer<Int32>) {
    let w = p.inputWidth, c = p.inputChannels
    let iy0 = oy &* p.strideY &- p.padding.top, ix0 = ox &* p.strideX &- p.padding.left
    var d = destination
    for ky in 0..<p.kernelHeight {
        let iy = iy0 &+ ky &* p.dilationY
        let rowInside = iy >= 0 && iy < p.inputHeight
        for kx in 0..<p.kernelWidth {
            let ix = ix0 &+ kx &* p.dilationX
            d[0] = rowInside && ix >= 0 && ix < w ? Int32(truncatingIfNeeded: (iy &* w &+ ix) &* c) : -1
            d += 2
        }
    }
}

/// `c +=` the 2×2 tile over `words` groups of 4 channels: pixel inputs at `x0`, `x1` (raw int8), channel weights
/// at `w0`, `w1` (int8), all in place, any alignment.
@inline(always)
func dspDotTaps(_ x0: UnsafeRawPointer, _ x1: UnsafeRawPointer, _ words: Int, _ w0: UnsafeRawPointer,
                _ w1: UnsafeRawPointer, _ c: inout (Int32, Int32, Int32, Int32)) {
    var a = x0, b = x1, q0 = w0, q1 = w1
    var acc = c
    var n = words
    while n > 0 {
        let u0 = q0.loadUnaligned(as: UInt32.self), u1 = q1.loadUnaligned(as: UInt32.self)
        let w0a = dynq_sxtb16(u0), w0b = dynq_sxtb16_ror8(u0)
        let w1a = dynq_sxtb16(u1), w1b = dynq_sxtb16_ror8(u1)
        let v0 = a.loadUnaligned(as: UInt32.self)
        let x0a = dynq_sxtb16(v0), x0b = dynq_sxtb16_ror8(v0)
        acc.0 = dynq_smlad(x0a, w0a, acc.0); acc.0 = dynq_smlad(x0b, w0b, acc.0)
        acc.1 = dynq_smlad(x0a, w1a, acc.1); acc.1 = dynq_smlad(x0b, w1b, acc.1)
        let v1 = b.loadUnaligned(as: UInt32.self)
        let x1a = dynq_sxtb16(v1), x1b = dynq_sxtb16_ror8(v1)
        acc.2 = dynq_smlad(x1a, w0a, acc.2); acc.2 = dynq_smlad(x1b, w0b, acc.2)
        acc.3 = dynq_smlad(x1a, w1a, acc.3); acc.3 = dynq_smlad(x1b, w1b, acc.3)
        a += 4; b += 4; q0 += 4; q1 += 4
        n &-= 1
    }
    c = acc
}

/// The `.taps` conv: same contract and results as `conv2dReference`; `scratch` at least `dspTapsScratchBytes(p)`
/// bytes, 4-byte aligned.
func dspConvTaps(_ p: Conv2DParams, _ a: ConvArguments, _ rq: DSPRequantizer, _ scratch: UnsafeMutableRawPointer) {
    let outW = p.outputWidth, pixels = p.outputHeight &* outW
    let outC = p.outputChannels, gIn = p.groupInputChannels, gOut = p.groupOutputChannels
    let k = p.weightsPerOutputChannel, words = gIn >> 2, taps = p.kernelHeight &* p.kernelWidth
    let offsetsAt: Int = 4 &* outC
    let zRowAt: Int = offsetsAt &+ 8 &* taps
    let folded = scratch.bindMemory(to: Int32.self, capacity: outC)
    let offsets = (scratch + offsetsAt).bindMemory(to: Int32.self, capacity: 2 &* taps)
    let zRowMutable: UnsafeMutableRawPointer = scratch + zRowAt
    let z = p.inputZeroPoint
    let zBytes: UInt32 = (UInt32(truncatingIfNeeded: z) & 0xFF) &* 0x0101_0101
    for i in 0..<(gIn >> 2) { zRowMutable.storeBytes(of: zBytes, toByteOffset: 4 &* i, as: UInt32.self) }
    let zRow = UnsafeRawPointer(zRowMutable)
    let weights = a.weights, mults = a.multipliers, output = a.output
    for o in 0..<outC {                                   // b − z·Σw (K is a multiple of 4)
        var s: Int32 = 0
        var w = weights + o &* k
        for _ in 0..<(k >> 2) {
            let u = w.loadUnaligned(as: UInt32.self)
            s = dynq_smlad(dynq_sxtb16(u), 0x0001_0001, s); s = dynq_smlad(dynq_sxtb16_ror8(u), 0x0001_0001, s)
            w += 4
        }
        folded[o] = (a.bias?[o] ?? 0) &- z &* s
    }
    var px = 0
    while px < pixels {
        let px1 = px &+ 1 < pixels ? px &+ 1 : px
        let oy0 = px / outW, oy1 = px1 / outW
        dspTapOffsets(p, oy0, px &- oy0 &* outW, offsets)
        dspTapOffsets(p, oy1, px1 &- oy1 &* outW, offsets + 1)
        let out0 = UnsafeMutableRawPointer(output + px &* outC)
        let out1 = UnsafeMutableRawPointer(output + px1 &* outC)
        for g in 0..<p.groups {
            let inputG = UnsafeRawPointer(a.input + g &* gIn)
            var o = g &* gOut
            let end = o &+ gOut
            while o < end {
                let o1 = o &+ 1 < end ? o &+ 1 : o               // odd channel count: the last one alone
                var c = (folded[o], folded[o1], folded[o], folded[o1])
                var w0 = weights + o &* k, w1 = weights + o1 &* k
                var t = 0
                while t < taps {
                    let d0 = offsets[2 &* t], d1 = offsets[2 &* t &+ 1]
                    let x0 = d0 < 0 ? zRow : inputG + Int(d0)
                    let x1 = d1 < 0 ? zRow : inputG + Int(d1)
                    dspDotTaps(x0, x1, words, w0, w1, &c)
                    w0 += gIn; w1 += gIn
                    t &+= 1
                }
                let word = dspRequantizeTile(c, o, o1, mults, rq)
                if o1 != o {
                    out0.storeBytes(of: UInt16(truncatingIfNeeded: word), toByteOffset: o, as: UInt16.self)
                    out1.storeBytes(of: UInt16(truncatingIfNeeded: word &>> 16), toByteOffset: o, as: UInt16.self)
                } else {
                    out0.storeBytes(of: UInt8(truncatingIfNeeded: word), toByteOffset: o, as: UInt8.self)
                    out1.storeBytes(of: UInt8(truncatingIfNeeded: word &>> 16), toByteOffset: o, as: UInt8.self)
                }
                o &+= 2
            }
        }
        px &+= 2
    }
}
