// HostWide depthwise convolution (channel multiplier 1): bit-exact twin of `depthwiseConv2dReference`, 32 channels
// per step on 512-bit vectors (`vpdpwssd` with AVX-512 VNNI, `vpmaddwd` + `vpaddd` with AVX-512 BW; the portable
// model of the same lane arithmetic otherwise).
//
// Data: input rows are converted once into an int16 row cache of `(q − z_in)` (SIMDRowCache: `R = dy·(kh − 1) + 1`
// rows, a zero row for rows outside the image), each row `[W + pl + pr][C₃₂]` (channels padded to a multiple of 32
// with zeros, padding columns zero), so every tap of every pixel is an in-bounds 64-byte load. Taps are taken in
// pairs (t0, t1): `vpunpcklwd` / `vpunpckhwd` interleave the two taps' 32 channels into int16 pairs
// `(x_t0[c], x_t1[c])`, multiplied against packed weight pairs `(w_t0[c], w_t1[c])`; an odd last tap is paired with
// tap 0 against weight 0. Products and int32 sums are the reference's (|x| ≤ 255, |w| ≤ 127: no pair is
// (−32768, −32768); sums exact under the quantizer's bound), taps outside the image contribute zeros as the reference
// skips them.
//
// Lane order: within each 128-bit lane the unpacks take channels 0–3 (low) and 4–7 (high) of each group of 8, so
// the low accumulator holds channels {0–3, 8–11, 16–19, 24–27} of the 32-channel block and the high one
// {4–7, 12–15, 20–23, 28–31}. The weights are packed in that order, each accumulator is requantized with a prepared
// block in that order (`hostWideRequantize16`), and `dynq_x86_merge_unpacked_bytes` puts the 32 result bytes back in
// channel order.
#if arch(x86_64)
import DynQIntrinsics

/// Channel of lane `i ∈ 0..<16` of the low (`high == false`) or high accumulator of a 32-channel block.
@inline(__always)
internal func hostWideDepthwiseLaneChannel(_ i: Int, high: Bool) -> Int { 8 * (i / 4) + (high ? 4 : 0) + i % 4 }

@inline(__always)
internal func hostWideDepthwiseBlocks(_ p: DepthwiseConv2DParams) -> Int { (p.channels + 31) / 32 }

@inline(__always)
internal func hostWideDepthwisePairs(_ p: DepthwiseConv2DParams) -> Int { (p.taps + 1) / 2 }

/// Bytes of the packed depthwise weights: `blocks · ⌈taps/2⌉ · 128` (a low and a high vector of 32 int16 per pair).
internal func hostWideDepthwisePackedBytes(_ p: DepthwiseConv2DParams) -> Int {
    hostWideDepthwiseBlocks(p) * hostWideDepthwisePairs(p) * 128
}

/// Packs `[kh][kw][C]` weights into `[block][pair][low, high][16 lanes][2]` int16 (lane order in the file header;
/// zero for channels ≥ C and the missing tap of an odd tap count).
internal func hostWideDepthwisePack(_ p: DepthwiseConv2DParams, weights: UnsafePointer<Int8>,
                                    into packed: UnsafeMutableRawPointer) {
    let c = p.channels, taps = p.taps, pairs = hostWideDepthwisePairs(p)
    for b in 0..<hostWideDepthwiseBlocks(p) {
        for j in 0..<pairs {
            for half in 0..<2 {
                let base = packed + ((b * pairs + j) * 2 + half) * 64
                for i in 0..<16 {
                    let ch = 32 * b + hostWideDepthwiseLaneChannel(i, high: half == 1)
                    for k in 0..<2 {
                        let t = 2 * j + k
                        let v: Int16 = t < taps && ch < c ? Int16(weights[t * c + ch]) : 0
                        base.storeBytes(of: v, toByteOffset: 4 * i + 2 * k, as: Int16.self)
                    }
                }
            }
        }
    }
}

/// Row cache geometry: `(rows, rowElements)`, `rowElements = (W + pl + pr) · C₃₂`.
@inline(__always)
internal func hostWideDepthwiseCache(_ p: DepthwiseConv2DParams) -> (rows: Int, rowElements: Int) {
    (p.dilationY * (p.kernelHeight - 1) + 1,
     (p.inputWidth + p.padding.left + p.padding.right) * 32 * hostWideDepthwiseBlocks(p))
}

/// Scratch bytes: two prepared requantization blocks per 32 channels, the row tags and tap offsets (`Int`), then the
/// row cache and its zero row (`(R + 1) · rowElements` int16).
internal func hostWideDepthwiseScratchBytes(_ p: DepthwiseConv2DParams) -> Int {
    let (rows, n) = hostWideDepthwiseCache(p)
    return hostWideDepthwiseBlocks(p) * 2 * hostWideRequantizeBlockBytes
        + (rows + 2 * hostWideDepthwisePairs(p)) * MemoryLayout<Int>.stride + (rows + 1) * n * 2
}

/// Converts `n` int8 values to int16 `q − z` (32 at a time).
@inline(__always)
internal func hostWideWidenRow(_ src: UnsafePointer<Int8>, _ dst: UnsafeMutablePointer<Int16>, _ n: Int, _ z: Int16) {
    var i = 0
    while i + 32 <= n {
        let v = dynq_x86_widen_sub_i8x32(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD32<Int8>.self), z)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD32<Int16>.self)
        i += 32
    }
    while i < n { dst[i] = Int16(src[i]) &- z; i += 1 }
}

/// The depthwise kernel: same contract and results as `depthwiseConv2dReference`; weights packed by
/// `hostWideDepthwisePack`, `hostWideDepthwiseScratchBytes(p)` bytes of scratch (aligned for `Int`). `dispatch`: run
/// each output row with the run-time dispatched C row (`.vnni`: dynq_x86_dispatch.h, the CPU must have AVX-512 VNNI;
/// `.avx2`: dynq_x86_avx2.h, the CPU must have AVX2) or the Swift loop; the results are the same bits.
internal func hostWideDepthwise(
    _ p: DepthwiseConv2DParams, input: UnsafePointer<Int8>, packed: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer, dispatch: HostWideDispatch = HostWideKernels.dispatch
) {
    let c = p.channels, nb = hostWideDepthwiseBlocks(p), cp = 32 * nb, pairs = hostWideDepthwisePairs(p)
    let outH = p.outputHeight, outW = p.outputWidth
    let prepared = scratch
    for b in 0..<nb {
        for half in 0..<2 {
            let block = prepared + (2 * b + half) * hostWideRequantizeBlockBytes
            for i in 0..<16 {
                let ch = 32 * b + hostWideDepthwiseLaneChannel(i, high: half == 1)
                if ch < c {
                    hostWideRequantizeLane(i, bias: bias?[ch] ?? 0, multiplier: multipliers[ch], into: block)
                } else {
                    hostWideRequantizeLane(i, bias: 0, multiplier: .zero, into: block)
                }
            }
        }
    }
    let (cacheRows, rowElements) = hostWideDepthwiseCache(p)
    let ints = (prepared + nb * 2 * hostWideRequantizeBlockBytes)
        .bindMemory(to: Int.self, capacity: cacheRows + 2 * pairs)
    let taps = ints + cacheRows
    let rowCache = SIMDRowCache(
        storage: UnsafeMutableRawPointer(taps + 2 * pairs).bindMemory(to: Int16.self,
                                                                      capacity: (cacheRows + 1) * rowElements),
        tags: ints, rows: cacheRows, rowElements: rowElements, height: p.inputHeight)
    let cache = rowCache.storage
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    let stage = HostWideOutputStage(p.output)
    @inline(__always) func row(_ iy: Int) -> UnsafeMutablePointer<Int16> {
        rowCache.row(iy) { iy, dst in
            let src = input + iy * p.inputWidth * c
            var d = dst + p.padding.left * cp
            if c == cp {
                hostWideWidenRow(src, d, p.inputWidth * c, z)
            } else {
                for ix in 0..<p.inputWidth {
                    hostWideWidenRow(src + ix * c, d, c, z)
                    d += cp
                }
            }
        }
    }
    let pixelStep = p.strideX * cp * 2                          // bytes between output pixels in a cached row
    for oy in 0..<outH {
        var t = 0
        for ky in 0..<p.kernelHeight {
            let base = row(oy * p.strideY - p.padding.top + ky * p.dilationY)
            for kx in 0..<p.kernelWidth {
                taps[t] = 2 * ((base - cache) + kx * p.dilationX * cp)
                t += 1
            }
        }
        if t & 1 == 1 { taps[t] = taps[0] }                    // odd tap count: tap 0 again, against weight 0
        let out = output + oy * outW * c
        if dispatch != .swift {
            var args = dynq_x86_depthwise_row(
                cache: UnsafeRawPointer(cache).assumingMemoryBound(to: UInt8.self), taps: UnsafePointer(taps),
                weights: packed.assumingMemoryBound(to: Int16.self),
                prepared: UnsafeRawPointer(prepared).assumingMemoryBound(to: UInt8.self), output: out, channels: c,
                blocks: nb, pairs: pairs, outputWidth: outW, pixelStep: pixelStep,
                activationMin: p.output.activationMin, activationMax: p.output.activationMax,
                zeroPoint: p.output.zeroPoint)
            if dispatch == .vnni { dynq_x86_depthwise_row_run(&args) } else { dynq_x86_avx2_depthwise_row_run(&args) }
            continue
        }
        for b in 0..<nb {
            let w0 = packed + b * pairs * 128
            let pLo = UnsafeRawPointer(prepared + 2 * b * hostWideRequantizeBlockBytes)
            let pHi = pLo + hostWideRequantizeBlockBytes
            var at = UnsafeRawPointer(cache) + 64 * b
            var o = out + 32 * b
            let n = c - 32 * b
            for _ in 0..<outW {
                var lo = SIMD16<Int32>(), hi = SIMD16<Int32>()
                var w = w0
                for j in 0..<pairs {
                    let x0 = (at + taps[2 * j]).loadUnaligned(as: SIMD32<Int16>.self)
                    let x1 = (at + taps[2 * j + 1]).loadUnaligned(as: SIMD32<Int16>.self)
                    lo = dynq_x86_dpwssd(lo, dynq_x86_unpacklo_i16(x0, x1), w.loadUnaligned(as: SIMD32<Int16>.self))
                    hi = dynq_x86_dpwssd(hi, dynq_x86_unpackhi_i16(x0, x1),
                                         w.loadUnaligned(fromByteOffset: 64, as: SIMD32<Int16>.self))
                    w += 128
                }
                let r = dynq_x86_merge_unpacked_bytes(hostWideRequantize16(lo, pLo, stage),
                                                      hostWideRequantize16(hi, pHi, stage))
                if n >= 32 {
                    UnsafeMutableRawPointer(o).storeBytes(of: r, as: SIMD32<Int8>.self)
                } else {
                    for l in 0..<n { o[l] = r[l] }
                }
                at += pixelStep
                o += c
            }
        }
    }
}

#endif
