// NEON depthwise convolution (channel multiplier 1): bit-exact twin of `depthwiseConv2dReference`.
//
// Channels are the vector lanes (NHWC input, `[kh][kw][C]` weights). The kernel reads the 128-bit SIMD set's packed
// weights (`packDepthwiseConv2dWeights`: tap pairs `[⌈taps/2⌉][C₈][2]` int16), so the dynamic depthwise layers'
// fusion (`SIMD128Kernels.fuseDepthwise`) writes straight into its layout; one `LD1` of a pair's 8 channels and
// `UZP1`/`UZP2` (`evenHalf` / `oddHalf`) give the two taps' weight vectors, once per block of 8 channels and output
// row. Input rows go once into the SIMD set's int16 row cache of `(q − z_in)` (`SIMDRowCache`: zero columns for
// the padding, zero channels up to C₈, a zero row above and below the image). Per tap and 8 channels one `LD1` of
// the cached inputs and `SMLAL` + `SMLAL2` (`dynq_neon_smlal_low_s16` / `_high_s16`) add the 8 products to two
// int32x4 accumulators; the requantization is the conv tile's (`NEONRequantize4`, `SMULL` + `SRSHL` + `SQXTN`).
//
// Numeric contract: `(q − z_in) ∈ [−255, 255]` (int16), weights in `[−127, 127]`, each product fits int32 and the
// lanes add modulo 2^32 like the reference's `&+`; the bias and requantization are the reference's
// (`OutputQuantization.requantize`), so every output equals `depthwiseConv2dReference`'s.
import DynQIntrinsics

/// Bytes of the NEON depthwise kernel's scratch: the row-cache tags and the tap offsets (`Int`), the prepared
/// requantization blocks (`⌈C₈/4⌉ · neonPreparedBlockBytes`), then the row cache (`R + 1` rows of
/// `(W + padLeft + padRight) · C₈` int16, `R = dilationY·(kh − 1) + 1`).
public func neonDepthwiseScratchBytes(_ p: DepthwiseConv2DParams) -> Int {
    let (r, n) = depthwiseRowCache(p)
    return (r + p.taps) * MemoryLayout<Int>.stride + depthwisePaddedChannels(p) / 4 * neonPreparedBlockBytes
        + (r + 1) * n * 2
}

/// NEON depthwise convolution: same contract and outputs as `depthwiseConv2dReference`, with weights packed by
/// `packDepthwiseConv2dWeights` (or fused into that layout) and `neonDepthwiseScratchBytes(p)` bytes of scratch
/// (aligned for `Int`).
@usableFromInline
internal func neonDepthwiseConv2d(
    _ p: DepthwiseConv2DParams,
    input: UnsafePointer<Int8>,
    packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels, tapCount = p.taps
    let cp = depthwisePaddedChannels(p), blocks = cp / depthwiseBlockChannels
    let pairStride = cp * 4                                   // bytes of one tap pair's weights
    let (cacheRows, rowElements) = depthwiseRowCache(p)
    let tags = scratch.bindMemory(to: Int.self, capacity: cacheRows + tapCount)
    let taps = tags + cacheRows                               // element offset of each tap for pixel 0 of the row
    let prepared = scratch + (cacheRows + tapCount) * MemoryLayout<Int>.stride
    for b in 0..<cp / 4 {
        let block = prepared + b * neonPreparedBlockBytes
        for l in 0..<4 {
            let ch = 4 * b + l
            if ch < c {
                neonPrepareLane(l, effectiveBias: bias?[ch] ?? 0, multiplier: multipliers[ch], into: block)
            } else {
                neonPrepareLane(l, effectiveBias: 0, multiplier: QuantizedMultiplier(multiplier: 0, shift: 0),
                                into: block)
            }
        }
    }
    let rowCache = SIMDRowCache(
        storage: (prepared + cp / 4 * neonPreparedBlockBytes)
            .bindMemory(to: Int16.self, capacity: (cacheRows + 1) * rowElements),
        tags: tags, rows: cacheRows, rowElements: rowElements, height: p.inputHeight)
    let cache = rowCache.storage
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    let q = p.output
    let pixelStep = p.strideX * cp

    /// Converts input row `iy` into a cache slot: `q − z_in` as int16, `C₈` per column after the left padding.
    @inline(__always) func convertRow(_ iy: Int, _ dst: UnsafeMutablePointer<Int16>) {
        let src = input + iy &* p.inputWidth &* c
        let d = dst + p.padding.left &* cp
        if cp == c {                                      // the whole row is one run
            neonWidenRun(src, d, count: p.inputWidth &* c, zeroPoint: z)
        } else {
            for ix in 0..<p.inputWidth { neonWidenRun(src + ix &* c, d + ix &* cp, count: c, zeroPoint: z) }
        }
    }

    for oy in 0..<outH {
        _ = rowCache.fillTaps(p, outputRow: oy, pixelElements: cp, into: taps, convert: convertRow)
        let out = output + oy * outW * c
        for b in 0..<blocks {
            let c0 = b * depthwiseBlockChannels
            let r0 = NEONRequantize4(UnsafeRawPointer(prepared + 2 * b * neonPreparedBlockBytes), q)
            let r1 = NEONRequantize4(UnsafeRawPointer(prepared + (2 * b + 1) * neonPreparedBlockBytes), q)
            let stored = min(c - c0, depthwiseBlockChannels)
            let w = packedWeights + c0 * 4
            if tapCount == 9 {
                neonDepthwiseRow9(taps, cache: cache + c0, weights: w, pairStride: pairStride, r0: r0, r1: r1,
                                  outW: outW, pixelStep: pixelStep, stored: stored, outputChannels: c, out: out + c0)
                continue
            }
            for ox in 0..<outW {
                let at = cache + c0 + ox * pixelStep
                var lo = SIMD4<Int32>(), hi = SIMD4<Int32>()
                for j in 0..<tapCount {
                    let pair = w.loadUnaligned(fromByteOffset: (j >> 1) * pairStride, as: SIMD16<Int16>.self)
                    let wt = j & 1 == 0 ? pair.evenHalf : pair.oddHalf
                    let x = UnsafeRawPointer(at + taps[j]).loadUnaligned(as: SIMD8<Int16>.self)
                    lo = dynq_neon_smlal_low_s16(lo, x, wt)
                    hi = dynq_neon_smlal_high_s16(hi, x, wt)
                }
                neonDepthwiseStore(r0(lo), r1(hi), stored: stored, out + ox * c + c0)
            }
        }
    }
}

/// One output row of one 8-channel block of a 9-tap (3×3) layer: the 9 weight vectors and tap offsets stay in
/// registers across the row's pixels. Same products and int32 sums as the general loop.
@inline(__always)
internal func neonDepthwiseRow9(
    _ taps: UnsafeMutablePointer<Int>, cache: UnsafeMutablePointer<Int16>, weights w: UnsafeRawPointer,
    pairStride: Int, r0: NEONRequantize4, r1: NEONRequantize4, outW: Int, pixelStep: Int, stored: Int,
    outputChannels c: Int, out: UnsafeMutablePointer<Int8>
) {
    let p0 = w.loadUnaligned(as: SIMD16<Int16>.self)
    let p1 = w.loadUnaligned(fromByteOffset: pairStride, as: SIMD16<Int16>.self)
    let p2 = w.loadUnaligned(fromByteOffset: 2 * pairStride, as: SIMD16<Int16>.self)
    let p3 = w.loadUnaligned(fromByteOffset: 3 * pairStride, as: SIMD16<Int16>.self)
    let p4 = w.loadUnaligned(fromByteOffset: 4 * pairStride, as: SIMD16<Int16>.self)
    let w0 = p0.evenHalf, w1 = p0.oddHalf, w2 = p1.evenHalf, w3 = p1.oddHalf, w4 = p2.evenHalf
    let w5 = p2.oddHalf, w6 = p3.evenHalf, w7 = p3.oddHalf, w8 = p4.evenHalf
    let o0 = taps[0], o1 = taps[1], o2 = taps[2], o3 = taps[3], o4 = taps[4], o5 = taps[5], o6 = taps[6]
    let o7 = taps[7], o8 = taps[8]
    @inline(__always) func x(_ a: UnsafeMutablePointer<Int16>, _ o: Int) -> SIMD8<Int16> {
        UnsafeRawPointer(a + o).loadUnaligned(as: SIMD8<Int16>.self)
    }
    var at = cache
    var o = out
    for _ in 0..<outW {
        let x0 = x(at, o0), x1 = x(at, o1), x2 = x(at, o2)
        var lo = dynq_neon_smlal_low_s16(SIMD4<Int32>(), x0, w0), hi = dynq_neon_smlal_high_s16(SIMD4<Int32>(), x0, w0)
        lo = dynq_neon_smlal_low_s16(lo, x1, w1); hi = dynq_neon_smlal_high_s16(hi, x1, w1)
        lo = dynq_neon_smlal_low_s16(lo, x2, w2); hi = dynq_neon_smlal_high_s16(hi, x2, w2)
        let x3 = x(at, o3), x4 = x(at, o4), x5 = x(at, o5)
        lo = dynq_neon_smlal_low_s16(lo, x3, w3); hi = dynq_neon_smlal_high_s16(hi, x3, w3)
        lo = dynq_neon_smlal_low_s16(lo, x4, w4); hi = dynq_neon_smlal_high_s16(hi, x4, w4)
        lo = dynq_neon_smlal_low_s16(lo, x5, w5); hi = dynq_neon_smlal_high_s16(hi, x5, w5)
        let x6 = x(at, o6), x7 = x(at, o7), x8 = x(at, o8)
        lo = dynq_neon_smlal_low_s16(lo, x6, w6); hi = dynq_neon_smlal_high_s16(hi, x6, w6)
        lo = dynq_neon_smlal_low_s16(lo, x7, w7); hi = dynq_neon_smlal_high_s16(hi, x7, w7)
        lo = dynq_neon_smlal_low_s16(lo, x8, w8); hi = dynq_neon_smlal_high_s16(hi, x8, w8)
        neonDepthwiseStore(r0(lo), r1(hi), stored: stored, o)
        at += pixelStep
        o += c
    }
}

/// `dst[i] = src[i] − z` as int16 for `i < count` (`SXTL`/`SXTL2` + `SUB`, 16 at a time, then 8, then one by one);
/// the results lie in `[−255, 255]`.
@inline(__always)
internal func neonWidenRun(_ src: UnsafePointer<Int8>, _ dst: UnsafeMutablePointer<Int16>, count: Int,
                           zeroPoint z: Int16) {
    let zv = SIMD8<Int16>(repeating: z)
    let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
    var i = 0
    while i &+ 16 <= count {
        let v = s.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self)
        d.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: v.lowHalf) &- zv, toByteOffset: 2 &* i,
                     as: SIMD8<Int16>.self)
        d.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: v.highHalf) &- zv, toByteOffset: 2 &* i &+ 16,
                     as: SIMD8<Int16>.self)
        i &+= 16
    }
    if i &+ 8 <= count {
        let v = s.loadUnaligned(fromByteOffset: i, as: SIMD8<Int8>.self)
        d.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: v) &- zv, toByteOffset: 2 &* i, as: SIMD8<Int16>.self)
        i &+= 8
    }
    while i < count { dst[i] = Int16(src[i]) &- z; i &+= 1 }
}

/// Stores the first `stored` (1...8) of the 8 requantized channels (`a`: channels 0...3, `b`: 4...7, byte 0 first).
@inline(__always)
internal func neonDepthwiseStore(_ a: UInt32, _ b: UInt32, stored: Int, _ out: UnsafeMutablePointer<Int8>) {
    if stored == 8 {
        UnsafeMutableRawPointer(out).storeBytes(of: UInt64(a) | UInt64(b) << 32, as: UInt64.self)
        return
    }
    neonStore(a, channels: min(stored, 4), out)
    if stored > 4 { neonStore(b, channels: stored - 4, out + 4) }
}
