// SIMD depthwise convolution (channel multiplier 1): bit-exact twin of `depthwiseConv2dReference`.
//
// Channels are the vector dimension (NHWC and the `[kh][kw][C]` weights both run along channels). Taps are taken in
// pairs: for 8 channels, the int16 `(q − z_in)` of tap t0 and of tap t1 are interleaved into
// `(x_t0[c], x_t1[c])` pairs and multiplied against the packed weight pairs `(w_t0[c], w_t1[c])` with
// `multiplyAddPairs` (`pmaddwd`), giving `x_t0·w_t0 + x_t1·w_t1` per channel in int32. Taps outside the image
// contribute zeros, as the reference skips them. Same products, same int32 sums as the reference.

/// Channels per vector block of the depthwise kernel.
public let depthwiseBlockChannels = 8

@inlinable @inline(__always)
internal func depthwiseTapPairs(_ p: DepthwiseConv2DParams) -> Int { (p.taps + 1) / 2 }

@inlinable @inline(__always)
internal func depthwisePaddedChannels(_ p: DepthwiseConv2DParams) -> Int {
    (p.channels + depthwiseBlockChannels - 1) / depthwiseBlockChannels * depthwiseBlockChannels
}

/// Bytes of packed depthwise weights: `⌈taps/2⌉ · C₈ · 2` int16 (`C₈` = C rounded up to 8).
public func depthwiseConv2dPackedWeightBytes(_ p: DepthwiseConv2DParams) -> Int {
    depthwiseTapPairs(p) * depthwisePaddedChannels(p) * 4
}

/// Packs `[kh][kw][C]` int8 weights into tap pairs `[⌈taps/2⌉][C₈][2]` int16: `(w[2j][c], w[2j+1][c])`, with 0 for
/// the missing tap of an odd tap count and for channels ≥ C. `packed` needs
/// `depthwiseConv2dPackedWeightBytes(p)` bytes, any alignment.
public func packDepthwiseConv2dWeights(
    _ p: DepthwiseConv2DParams, weights: UnsafePointer<Int8>, into packed: UnsafeMutableRawPointer
) {
    let taps = p.taps, c = p.channels, cp = depthwisePaddedChannels(p)
    var offset = 0
    for pair in 0..<depthwiseTapPairs(p) {
        for ch in 0..<cp {
            for h in 0..<2 {
                let t = 2 * pair + h
                let v: Int16 = (t < taps && ch < c) ? Int16(weights[t * c + ch]) : 0
                packed.storeBytes(of: v, toByteOffset: offset, as: Int16.self)
                offset += 2
            }
        }
    }
}

/// Geometry of the depthwise row cache: `R = dilationY·(kh − 1) + 1` converted input rows, each
/// `(W + padLeft + padRight) · C₈` int16.
@inlinable @inline(__always)
internal func depthwiseRowCache(_ p: DepthwiseConv2DParams) -> (rows: Int, rowElements: Int) {
    (p.dilationY * (p.kernelHeight - 1) + 1,
     (p.inputWidth + p.padding.left + p.padding.right) * depthwisePaddedChannels(p))
}

/// Scratch bytes of `depthwiseConv2d`: the row tags and tap offsets (`Int`), the prepared requantization data
/// (`requantizePreparedBytes`), a zero row and the row cache (`R + 1` rows of `(W + padLeft + padRight) · C₈`
/// int16, see `depthwiseConv2d`).
public func depthwiseConv2dScratchBytes(_ p: DepthwiseConv2DParams) -> Int {
    let (r, n) = depthwiseRowCache(p)
    return (r + 2 * depthwiseTapPairs(p)) * MemoryLayout<Int>.stride + requantizePreparedBytes(channels: p.channels)
        + (r + 1) * n * 2
}

/// SIMD depthwise convolution: same contract and results as `depthwiseConv2dReference`, with weights packed by
/// `packDepthwiseConv2dWeights` and `depthwiseConv2dScratchBytes(p)` bytes of scratch (aligned for `Int`).
///
/// Input rows are converted once to int16 `(q − z_in)` into a small cache of `R = dilationY·(kh−1) + 1` rows,
/// padded left and right with zero pixels and to `C₈` channels with zeros, so every tap of every pixel is an
/// in-bounds load (rows above or below the image read a zero row) and the channel tail runs in the vector loop
/// against zero weights. Cache slot of input row `iy` is `iy mod R`: the `kh` rows of one output row are distinct.
/// Requantization is vectorized (`requantize8`).
public func depthwiseConv2d(
    _ p: DepthwiseConv2DParams,
    input: UnsafePointer<Int8>,
    packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels
    let pairs = depthwiseTapPairs(p), cp = depthwisePaddedChannels(p)
    let pairStride = cp * 4                                   // bytes of one tap pair's weights
    let blocks = cp / depthwiseBlockChannels
    let (cacheRows, rowElements) = depthwiseRowCache(p)
    let intBytes = (cacheRows + 2 * pairs) * MemoryLayout<Int>.stride
    let tags = scratch.bindMemory(to: Int.self, capacity: cacheRows + 2 * pairs)
    let taps = tags + cacheRows                               // element offset of each tap for pixel 0 of the row
    let prepared = scratch + intBytes
    requantizePrepare(channels: c, bias: bias, multipliers: multipliers, into: prepared)
    let rowCache = SIMDRowCache(
        storage: (prepared + requantizePreparedBytes(channels: c))
            .bindMemory(to: Int16.self, capacity: (cacheRows + 1) * rowElements),
        tags: tags, rows: cacheRows, rowElements: rowElements, height: p.inputHeight)
    let cache = rowCache.storage, zeroRow = rowCache.zeroRow
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    let q = p.output

    /// Converts input row `iy` into a cache slot: `q − z_in` as int16, `C₈` per column after the left padding.
    @inline(__always) func convertRow(_ iy: Int, _ dst: UnsafeMutablePointer<Int16>) {
        let src = input + iy * p.inputWidth * c
        var d = dst + p.padding.left * cp
        for ix in 0..<p.inputWidth {
            let s = src + ix * c
            for ch in 0..<c { d[ch] = Int16(s[ch]) &- z }
            d += cp
        }
    }

    for oy in 0..<outH {
        let t = rowCache.fillTaps(p, outputRow: oy, pixelElements: cp, into: taps, convert: convertRow)
        if t & 1 == 1 { taps[t] = zeroRow - cache }           // odd tap count: the pad tap reads zeros (weight 0)
        let out = output + oy * outW * c
        if t == 9 {
            depthwiseRow9(taps, cache: cache, packedWeights: packedWeights, pairStride: pairStride, prepared: prepared,
                          channels: c, blocks: blocks, outW: outW, pixelStep: p.strideX * cp, q: q, out: out)
            continue
        }
        for ox in 0..<outW {
            let px = ox * p.strideX * cp
            let o = out + ox * c
            for b in 0..<blocks {
                let c0 = b * depthwiseBlockChannels
                var accLo = SIMD4<Int32>(), accHi = SIMD4<Int32>()
                var w = packedWeights + c0 * 4
                let at = UnsafeRawPointer(cache + px + c0)
                for j in 0..<pairs {
                    let x0 = load8x16(at + 2 * taps[2 * j]), x1 = load8x16(at + 2 * taps[2 * j + 1])
                    accLo &+= multiplyAddPairs(interleaveLow(x0, x1), load8x16(w))
                    accHi &+= multiplyAddPairs(interleaveHigh(x0, x1), load8x16(w + 16))
                    w += pairStride
                }
                let block = UnsafeRawPointer(prepared + b * requantizeBlockBytes)
                if c - c0 >= 8 {
                    requantize8(accLo, accHi, block, q, o + c0)
                } else {                                      // channel tail: through a temporary
                    var tmp = SIMD8<Int8>()
                    withUnsafeMutableBytes(of: &tmp) { t in
                        let tp = t.baseAddress!.assumingMemoryBound(to: Int8.self)
                        requantize8(accLo, accHi, block, q, tp)
                        (o + c0).update(from: tp, count: c - c0)
                    }
                }
            }
        }
    }
}

/// One output row of a 9-tap (3×3) depthwise layer: channel block outermost, so the block's 10 packed weight vectors
/// and the 9 tap offsets stay in locals across the row's pixels. Same products and int32 sums as the general loop;
/// the fifth pair is `(x8, x0)` against packed weights `(w8, 0)`, so no load of the zero row (pairing with a zero
/// vector instead lets LLVM rewrite the `pmaddwd` into a slower widening multiply).
@inline(__always)
internal func depthwiseRow9(
    _ taps: UnsafeMutablePointer<Int>, cache: UnsafeMutablePointer<Int16>, packedWeights: UnsafeRawPointer,
    pairStride: Int, prepared: UnsafeMutableRawPointer, channels c: Int, blocks: Int, outW: Int, pixelStep: Int,
    q: OutputQuantization, out: UnsafeMutablePointer<Int8>
) {
    let o0 = 2 * taps[0], o1 = 2 * taps[1], o2 = 2 * taps[2], o3 = 2 * taps[3], o4 = 2 * taps[4]
    let o5 = 2 * taps[5], o6 = 2 * taps[6], o7 = 2 * taps[7], o8 = 2 * taps[8]
    let step = 2 * pixelStep
    for b in 0..<blocks {
        let c0 = b * depthwiseBlockChannels
        let w = packedWeights + c0 * 4
        let w0l = load8x16(w), w0h = load8x16(w + 16)
        let w1l = load8x16(w + pairStride), w1h = load8x16(w + pairStride + 16)
        let w2l = load8x16(w + 2 * pairStride), w2h = load8x16(w + 2 * pairStride + 16)
        let w3l = load8x16(w + 3 * pairStride), w3h = load8x16(w + 3 * pairStride + 16)
        let w4l = load8x16(w + 4 * pairStride), w4h = load8x16(w + 4 * pairStride + 16)
        let block = UnsafeRawPointer(prepared + b * requantizeBlockBytes)
        var at = UnsafeRawPointer(cache + c0)
        var o = out + c0
        @inline(__always) func accumulate(_ a: UnsafeRawPointer) -> (SIMD4<Int32>, SIMD4<Int32>) {
            let x0 = load8x16(a + o0), x1 = load8x16(a + o1), x2 = load8x16(a + o2)
            let x3 = load8x16(a + o3), x4 = load8x16(a + o4), x5 = load8x16(a + o5)
            let x6 = load8x16(a + o6), x7 = load8x16(a + o7), x8 = load8x16(a + o8)
            let lo = (multiplyAddPairs(interleaveLow(x0, x1), w0l) &+ multiplyAddPairs(interleaveLow(x2, x3), w1l))
                &+ (multiplyAddPairs(interleaveLow(x4, x5), w2l) &+ multiplyAddPairs(interleaveLow(x6, x7), w3l))
                &+ multiplyAddPairs(interleaveLow(x8, x0), w4l)
            let hi = (multiplyAddPairs(interleaveHigh(x0, x1), w0h) &+ multiplyAddPairs(interleaveHigh(x2, x3), w1h))
                &+ (multiplyAddPairs(interleaveHigh(x4, x5), w2h) &+ multiplyAddPairs(interleaveHigh(x6, x7), w3h))
                &+ multiplyAddPairs(interleaveHigh(x8, x0), w4h)
            return (lo, hi)
        }
        var ox = 0
        if c - c0 >= 8 {
            while ox + 2 <= outW {                            // two pixels: one set of requantization loads
                let (aLo, aHi) = accumulate(at), (bLo, bHi) = accumulate(at + step)
                let va = requantized8(aLo, aHi, block, q), vb = requantized8(bLo, bHi, block, q)
                UnsafeMutableRawPointer(o).storeBytes(of: va, as: SIMD8<Int8>.self)
                UnsafeMutableRawPointer(o + c).storeBytes(of: vb, as: SIMD8<Int8>.self)
                at += 2 * step
                o += 2 * c
                ox += 2
            }
        }
        while ox < outW {
            let (accLo, accHi) = accumulate(at)
            if c - c0 >= 8 {
                requantize8(accLo, accHi, block, q, o)
            } else {                                          // channel tail: through a temporary
                var tmp = SIMD8<Int8>()
                withUnsafeMutableBytes(of: &tmp) { t in
                    let tp = t.baseAddress!.assumingMemoryBound(to: Int8.self)
                    requantize8(accLo, accHi, block, q, tp)
                    o.update(from: tp, count: c - c0)
                }
            }
            at += step
            o += c
            ox += 1
        }
    }
}
