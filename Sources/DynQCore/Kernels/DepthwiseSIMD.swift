// SIMD depthwise convolution (channel multiplier 1): bit-exact twin of `depthwiseConv2dReference`.
//
// Channels are the vector dimension (NHWC and the `[kh][kw][C]` weights both run along channels). Taps are taken in
// pairs: for 8 channels, the int16 `(q − z_in)` of tap t0 and of tap t1 are interleaved into
// `(x_t0[c], x_t1[c])` pairs and multiplied against the packed weight pairs `(w_t0[c], w_t1[c])` with
// `multiplyAddPairs` (`pmaddwd`), giving `x_t0·w_t0 + x_t1·w_t1` per channel in int32. Taps outside the image
// contribute a zero vector, as the reference skips them. Same products, same int32 sums as the reference.
// Channels beyond the last multiple of 8 take a scalar loop over the same packed weights.

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

/// Scratch bytes of `depthwiseConv2d`: one input offset per tap (`Int`), rounded up to an even tap count.
public func depthwiseConv2dScratchBytes(_ p: DepthwiseConv2DParams) -> Int {
    2 * depthwiseTapPairs(p) * MemoryLayout<Int>.stride
}

/// SIMD depthwise convolution: same contract and results as `depthwiseConv2dReference`, with weights packed by
/// `packDepthwiseConv2dWeights` and `depthwiseConv2dScratchBytes(p)` bytes of scratch (aligned for `Int`).
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
    let fullBlocks = c / depthwiseBlockChannels
    let offsets = scratch.bindMemory(to: Int.self, capacity: 2 * pairs)
    let z16 = SIMD8<Int16>(repeating: Int16(truncatingIfNeeded: p.inputZeroPoint))
    let q = p.output
    for oy in 0..<outH {
        for ox in 0..<outW {
            // Input offset of every tap for this pixel, −1 outside the image (and for the odd-count pad tap).
            var t = 0
            for ky in 0..<p.kernelHeight {
                let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
                for kx in 0..<p.kernelWidth {
                    let ix = ox * p.strideX - p.padding.left + kx * p.dilationX
                    let inside = iy >= 0 && iy < p.inputHeight && ix >= 0 && ix < p.inputWidth
                    offsets[t] = inside ? (iy * p.inputWidth + ix) * c : -1
                    t += 1
                }
            }
            if t & 1 == 1 { offsets[t] = -1 }
            let out = output + (oy * outW + ox) * c
            for b in 0..<fullBlocks {
                let c0 = b * depthwiseBlockChannels
                var accLo = SIMD4<Int32>(), accHi = SIMD4<Int32>()
                var w = packedWeights + c0 * 4
                for j in 0..<pairs {
                    let o0 = offsets[2 * j], o1 = offsets[2 * j + 1]
                    let x0 = o0 >= 0 ? widen(load8(input + o0 + c0)) &- z16 : SIMD8<Int16>()
                    let x1 = o1 >= 0 ? widen(load8(input + o1 + c0)) &- z16 : SIMD8<Int16>()
                    accLo &+= multiplyAddPairs(interleaveLow(x0, x1), load8x16(w))
                    accHi &+= multiplyAddPairs(interleaveHigh(x0, x1), load8x16(w + 16))
                    w += pairStride
                }
                for l in 0..<4 {
                    let ch = c0 + l
                    out[ch] = q.requantize(accLo[l] &+ (bias?[ch] ?? 0), multipliers[ch])
                }
                for l in 0..<4 {
                    let ch = c0 + 4 + l
                    out[ch] = q.requantize(accHi[l] &+ (bias?[ch] ?? 0), multipliers[ch])
                }
            }
            // Channel tail: scalar over the packed pairs.
            var ch = fullBlocks * depthwiseBlockChannels
            while ch < c {
                var acc: Int32 = bias?[ch] ?? 0
                for j in 0..<pairs {
                    let wp = packedWeights + j * pairStride + ch * 4
                    let o0 = offsets[2 * j], o1 = offsets[2 * j + 1]
                    if o0 >= 0 {
                        acc &+= (Int32(input[o0 + ch]) &- p.inputZeroPoint) &* Int32(wp.loadUnaligned(as: Int16.self))
                    }
                    if o1 >= 0 {
                        acc &+= (Int32(input[o1 + ch]) &- p.inputZeroPoint)
                            &* Int32(wp.loadUnaligned(fromByteOffset: 2, as: Int16.self))
                    }
                }
                out[ch] = q.requantize(acc, multipliers[ch])
                ch += 1
            }
        }
    }
}
