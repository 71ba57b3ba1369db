// HostWide depthwise convolution for the default x86-64 build (SSE2): the algorithm of the 128-bit SIMD depthwise
// (`depthwiseConv2d`, DepthwiseSIMD.swift: its packed weights `[⌈taps/2⌉][C₈][2]` int16, its int16 row cache, tap
// pairs interleaved into `pmaddwd`, a 9-tap row loop with the weights in registers) with the offset-form SSE2
// requantization (`hostWideRequantize8SSE2`, about a third of the instructions of `requantize8`). Bit-exact twin of
// `depthwiseConv2dReference`: the products and int32 sums are the SIMD depthwise's, the requantization equals
// `finish(apply(·))` (HostWideRequantizeSSE2.swift).
#if arch(x86_64)
import DynQIntrinsics

/// Scratch bytes: row tags and tap offsets (`Int`), the prepared SSE2 requantization blocks, a zero row and the row
/// cache (as `depthwiseConv2dScratchBytes`).
internal func hostWideDepthwiseSSE2ScratchBytes(_ p: DepthwiseConv2DParams) -> Int {
    let (r, n) = depthwiseRowCache(p)
    return (r + 2 * depthwiseTapPairs(p)) * MemoryLayout<Int>.stride
        + depthwisePaddedChannels(p) / 8 * hostWideSSE2BlockBytes + (r + 1) * n * 2
}

/// The SSE2 depthwise: same contract and results as `depthwiseConv2dReference`; weights packed by
/// `packDepthwiseConv2dWeights`, `hostWideDepthwiseSSE2ScratchBytes(p)` bytes of scratch (aligned for `Int`).
internal func hostWideDepthwiseSSE2(
    _ p: DepthwiseConv2DParams, input: UnsafePointer<Int8>, packed: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels
    let pairs = depthwiseTapPairs(p), cp = depthwisePaddedChannels(p)
    let pairStride = cp * 4
    let blocks = cp / 8
    let (cacheRows, rowElements) = depthwiseRowCache(p)
    let intBytes = (cacheRows + 2 * pairs) * MemoryLayout<Int>.stride
    let tags = scratch.bindMemory(to: Int.self, capacity: cacheRows + 2 * pairs)
    let taps = tags + cacheRows
    let prepared = scratch + intBytes
    for b in 0..<blocks {
        hostWideSSE2Prepare(channels: min(8, c - 8 * b), bias: bias.map { $0 + 8 * b },
                            multipliers: multipliers + 8 * b, into: prepared + b * hostWideSSE2BlockBytes)
    }
    let rowCache = SIMDRowCache(
        storage: (prepared + blocks * hostWideSSE2BlockBytes)
            .bindMemory(to: Int16.self, capacity: (cacheRows + 1) * rowElements),
        tags: tags, rows: cacheRows, rowElements: rowElements, height: p.inputHeight)
    let cache = rowCache.storage, zeroRow = rowCache.zeroRow
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    let stage = HostWideSSE2Stage(p.output)

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
    @inline(__always) func store(_ v: Int64, _ o: UnsafeMutablePointer<Int8>, _ n: Int) {
        if n >= 8 {
            UnsafeMutableRawPointer(o).storeBytes(of: v, as: Int64.self)
        } else {
            for l in 0..<n { o[l] = Int8(truncatingIfNeeded: v &>> Int64(8 * l)) }
        }
    }
    for oy in 0..<outH {
        let t = rowCache.fillTaps(p, outputRow: oy, pixelElements: cp, into: taps, convert: convertRow)
        if t & 1 == 1 { taps[t] = zeroRow - cache }
        let out = output + oy * outW * c
        if t == 9 {
            hostWideDepthwiseSSE2Row9(taps, cache: cache, packed: packed, pairStride: pairStride, prepared: prepared,
                                      channels: c, blocks: blocks, outW: outW, pixelStep: p.strideX * cp,
                                      stage: stage, out: out)
            continue
        }
        for ox in 0..<outW {
            let px = ox * p.strideX * cp
            let o = out + ox * c
            for b in 0..<blocks {
                let c0 = 8 * b
                var accLo = SIMD4<Int32>(), accHi = SIMD4<Int32>()
                var w = packed + c0 * 4
                let at = UnsafeRawPointer(cache + px + c0)
                for j in 0..<pairs {
                    let x0 = load8x16(at + 2 * taps[2 * j]), x1 = load8x16(at + 2 * taps[2 * j + 1])
                    accLo &+= multiplyAddPairs(interleaveLow(x0, x1), load8x16(w))
                    accHi &+= multiplyAddPairs(interleaveHigh(x0, x1), load8x16(w + 16))
                    w += pairStride
                }
                store(hostWideRequantize8SSE2(accLo, accHi, prepared + b * hostWideSSE2BlockBytes, stage), o + c0,
                      c - c0)
            }
        }
    }
}

/// One output row of a 9-tap layer, channel block outermost (the block's weights stay in registers), two pixels per
/// step; the fifth pair is `(x8, x0)` against weights `(w8, 0)` (as `depthwiseRow9`).
@inline(__always)
internal func hostWideDepthwiseSSE2Row9(
    _ taps: UnsafeMutablePointer<Int>, cache: UnsafeMutablePointer<Int16>, packed: UnsafeRawPointer, pairStride: Int,
    prepared: UnsafeMutableRawPointer, channels c: Int, blocks: Int, outW: Int, pixelStep: Int,
    stage: HostWideSSE2Stage, out: UnsafeMutablePointer<Int8>
) {
    let o0 = 2 * taps[0], o1 = 2 * taps[1], o2 = 2 * taps[2], o3 = 2 * taps[3], o4 = 2 * taps[4]
    let o5 = 2 * taps[5], o6 = 2 * taps[6], o7 = 2 * taps[7], o8 = 2 * taps[8]
    let step = 2 * pixelStep
    for b in 0..<blocks {
        let c0 = 8 * b
        let w = packed + c0 * 4
        let w0l = load8x16(w), w0h = load8x16(w + 16)
        let w1l = load8x16(w + pairStride), w1h = load8x16(w + pairStride + 16)
        let w2l = load8x16(w + 2 * pairStride), w2h = load8x16(w + 2 * pairStride + 16)
        let w3l = load8x16(w + 3 * pairStride), w3h = load8x16(w + 3 * pairStride + 16)
        let w4l = load8x16(w + 4 * pairStride), w4h = load8x16(w + 4 * pairStride + 16)
        let block = UnsafeRawPointer(prepared + b * hostWideSSE2BlockBytes)
        var at = UnsafeRawPointer(cache + c0)
        var o = out + c0
        let n = c - c0
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
        if n >= 8 {
            while ox + 2 <= outW {
                let (aLo, aHi) = accumulate(at), (bLo, bHi) = accumulate(at + step)
                UnsafeMutableRawPointer(o).storeBytes(of: hostWideRequantize8SSE2(aLo, aHi, block, stage), as: Int64.self)
                UnsafeMutableRawPointer(o + c).storeBytes(of: hostWideRequantize8SSE2(bLo, bHi, block, stage),
                                                          as: Int64.self)
                at += 2 * step
                o += 2 * c
                ox += 2
            }
        }
        while ox < outW {
            let (accLo, accHi) = accumulate(at)
            let v = hostWideRequantize8SSE2(accLo, accHi, block, stage)
            if n >= 8 {
                UnsafeMutableRawPointer(o).storeBytes(of: v, as: Int64.self)
            } else {
                for l in 0..<n { o[l] = Int8(truncatingIfNeeded: v &>> Int64(8 * l)) }
            }
            at += step
            o += c
            ox += 1
        }
    }
}
#endif
