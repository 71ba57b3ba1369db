// SIMD convolution (general conv, grouped, 1×1, linear) on 128-bit Swift SIMD types. Bit-exact twin of
// `conv2dReference` / `pointwiseConv2dReference` / `linearReference` (tested in Tests/DynQCoreTests).
//
// Algorithm: a GEMM per group. For a tile of 4 output pixels, each pixel's receptive field is copied into an
// int16 row of `(q_in − z_in)` values in the OHWI order `[ky][kx][i]` (padding → 0; odd K padded with one 0), the
// im2col row. Weights are packed once into blocks of 8 output channels, as int16 pairs along K:
// `[group][block][K/2][8 channels][2]`. For each K pair the kernel broadcasts a pixel's pair and multiplies it
// against the 8 channels' pairs with `multiplyAddPairs` (`pmaddwd`): 4 pixels × 8 channels = 8 accumulators of
// 4 int32 lanes. The products are the reference's `(q_in − z_in) · q_w` (|·| ≤ 255 · 127), the sums the same
// int32 sums (addition is associative modulo 2^32 and the quantizer bounds them below 2^31), so the accumulators
// equal the reference's bit for bit; requantization is `requantize8` (a channel tail through an 8-byte temporary;
// the prepared block's missing lanes are zero), equal to the reference's `finish(apply(acc))`.
//
// This is the `.tile` variant of `SIMD128Kernels`; grouped layers with fewer than 8 output channels per group and
// thin dense layers run the `.pixelLane` variant (`groupedConv2d`, GroupedConvSIMD.swift) instead: the set's
// chooser (`SIMD128Kernels.chooseConv`, from `groupedConv2dApplies`) decides once, and the variant then names the
// packed size, the packing, the scratch and the kernel.

/// Output channels per packed weight block.
public let conv2dBlockChannels = 8
/// Output pixels per tile.
public let conv2dTilePixels = 4

@inlinable @inline(__always)
internal func conv2dKPairs(_ p: Conv2DParams) -> Int { (p.weightsPerOutputChannel + 1) / 2 }

@inlinable @inline(__always)
internal func conv2dBlocks(_ p: Conv2DParams) -> Int {
    (p.groupOutputChannels + conv2dBlockChannels - 1) / conv2dBlockChannels
}

/// Bytes of the packed weights of `p`: `groups · ⌈(O/groups)/8⌉ · ⌈K/2⌉ · 8 · 2` int16 values
///.
public func conv2dPackedWeightBytes(_ p: Conv2DParams) -> Int {
    return p.groups * conv2dBlocks(p) * conv2dKPairs(p) * conv2dBlockChannels * 2 * 2
}

/// Packs OHWI int8 weights `[O][kh][kw][I/groups]` into the int16-pair layout of `conv2d`
/// (`[group][block of 8 channels][K/2][8][2]`, missing channels and the odd-K pad are 0). Done once per static
/// layer at load time, or per sample after a dynamic fusion. `packed` needs `conv2dPackedWeightBytes(p)` bytes,
/// any alignment (16 is best). Channel by channel
/// (`packConv2dChannel`), so every packed byte is written once.
public func packConv2dWeights(_ p: Conv2DParams, weights: UnsafePointer<Int8>, into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel
    for o in 0..<p.outputChannels {
        packConv2dChannel(p, channel: o, weights: weights + o * k, into: packed)
    }
}

/// Packs the `K` weights `[kh][kw][I/groups]` of output channel `o` into `packed` (the layout of
/// `packConv2dWeights`;). The last channel of a group also writes the
/// zero lanes of its block's missing channels, so packing every channel once fills the whole buffer. Used by the
/// per-sample fusion to pack each fused channel while its row is in cache.
@inlinable
public func packConv2dChannel(_ p: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                              into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel, kp = conv2dKPairs(p), blocks = conv2dBlocks(p)
    let gOut = p.groupOutputChannels
    let g = o / gOut, oc = o - g * gOut
    let b = oc / conv2dBlockChannels, j = oc - b * conv2dBlockChannels
    let block = packed + (g * blocks + b) * kp * conv2dBlockChannels * 4
    @inline(__always) func pair(_ lo: Int8, _ hi: Int8) -> UInt32 {
        UInt32(UInt16(bitPattern: Int16(lo))) | UInt32(UInt16(bitPattern: Int16(hi))) << 16
    }
    let full = k / 2
    var d = block + j * 4
    var e = 0
    while e + 4 <= full {                                     // 8 weights = 4 pairs at a time
        let v = unsafeBitCast(widen(load8(weights + 2 * e)), to: SIMD4<UInt32>.self)
        d.storeBytes(of: v[0], as: UInt32.self)
        d.storeBytes(of: v[1], toByteOffset: conv2dBlockChannels * 4, as: UInt32.self)
        d.storeBytes(of: v[2], toByteOffset: 2 * conv2dBlockChannels * 4, as: UInt32.self)
        d.storeBytes(of: v[3], toByteOffset: 3 * conv2dBlockChannels * 4, as: UInt32.self)
        d += 4 * conv2dBlockChannels * 4
        e += 4
    }
    while e < full {
        d.storeBytes(of: pair(weights[2 * e], weights[2 * e + 1]), as: UInt32.self)
        d += conv2dBlockChannels * 4
        e += 1
    }
    if full < kp { d.storeBytes(of: pair(weights[k - 1], 0), as: UInt32.self) }
    if oc == gOut - 1 {                                       // zero lanes of the block's missing channels
        for m in (j + 1)..<conv2dBlockChannels {
            for e in 0..<kp {
                block.storeBytes(of: UInt32(0), toByteOffset: (e * conv2dBlockChannels + m) * 4, as: UInt32.self)
            }
        }
    }
}

/// Scratch bytes of `conv2d`: the prepared requantization data of every group's channel blocks
/// (`groups · ⌈(O/groups)/8⌉ · requantizeBlockBytes`), then four im2col rows of `2·⌈K/2⌉` int16 values.
public func conv2dScratchBytes(_ p: Conv2DParams) -> Int {
    return p.groups * conv2dBlocks(p) * requantizeBlockBytes + conv2dTilePixels * conv2dKPairs(p) * 4
}

/// Writes the im2col row of output pixel `(oy, ox)` for `group`: `(q_in − z_in)` as int16 in `[ky][kx][i]` order,
/// zero where the window leaves the image, plus a 0 when K is odd.
@inlinable @inline(__always)
internal func conv2dIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int,
                              _ group: Int, _ row: UnsafeMutablePointer<Int16>) {
    let gIn = p.groupInputChannels, inC = p.inputChannels
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    var d = row
    for ky in 0..<p.kernelHeight {
        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
        let rowInside = iy >= 0 && iy < p.inputHeight
        for kx in 0..<p.kernelWidth {
            let ix = ox * p.strideX - p.padding.left + kx * p.dilationX
            if rowInside && ix >= 0 && ix < p.inputWidth {
                let src = input + (iy * p.inputWidth + ix) * inC + group * gIn
                for i in 0..<gIn { d[i] = Int16(src[i]) &- z }
            } else {
                d.update(repeating: 0, count: gIn)
            }
            d += gIn
        }
    }
    if p.weightsPerOutputChannel & 1 == 1 { d.pointee = 0 }
}

/// The 4-pixel × 8-channel micro-kernel over `kp` K pairs; stores the requantized results of the first
/// `pixels` rows and `channels` channels.
@inlinable @inline(__always)
internal func conv2dTile4x8(
    _ r0: UnsafeRawPointer, _ r1: UnsafeRawPointer, _ r2: UnsafeRawPointer, _ r3: UnsafeRawPointer,
    weights: UnsafeRawPointer, kPairs kp: Int, pixels: Int, channels: Int, channel: Int,
    bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>, output q: OutputQuantization,
    prepared: UnsafeRawPointer, out: UnsafeMutablePointer<Int8>, outStride: Int
) {
    var a00 = SIMD4<Int32>(), a01 = SIMD4<Int32>()
    var a10 = SIMD4<Int32>(), a11 = SIMD4<Int32>()
    var a20 = SIMD4<Int32>(), a21 = SIMD4<Int32>()
    var a30 = SIMD4<Int32>(), a31 = SIMD4<Int32>()
    var w = weights
    var off = 0
    for _ in 0..<kp {
        let w0 = load8x16(w), w1 = load8x16(w + 16)
        let x0 = broadcastPair(r0 + off)
        a00 &+= multiplyAddPairs(x0, w0); a01 &+= multiplyAddPairs(x0, w1)
        let x1 = broadcastPair(r1 + off)
        a10 &+= multiplyAddPairs(x1, w0); a11 &+= multiplyAddPairs(x1, w1)
        let x2 = broadcastPair(r2 + off)
        a20 &+= multiplyAddPairs(x2, w0); a21 &+= multiplyAddPairs(x2, w1)
        let x3 = broadcastPair(r3 + off)
        a30 &+= multiplyAddPairs(x3, w0); a31 &+= multiplyAddPairs(x3, w1)
        w += 32
        off &+= 4
    }
    @inline(__always) func store(_ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>, _ o: UnsafeMutablePointer<Int8>) {
        if channels == conv2dBlockChannels { requantize8(lo, hi, prepared, q, o); return }
        // Channel tail: vector requantization into a temporary (the prepared block's missing lanes are zero).
        var tmp = SIMD8<Int8>()
        withUnsafeMutableBytes(of: &tmp) { t in
            let tp = t.baseAddress!.assumingMemoryBound(to: Int8.self)
            requantize8(lo, hi, prepared, q, tp)
            o.update(from: tp, count: channels)
        }
    }
    store(a00, a01, out)
    if pixels > 1 { store(a10, a11, out + outStride) }
    if pixels > 2 { store(a20, a21, out + 2 * outStride) }
    if pixels > 3 { store(a30, a31, out + 3 * outStride) }
}

/// The 8 int32 sums (channels of one packed block, first four in `.0`) of one im2col row `r0` over `kp` K pairs.
@inlinable @inline(__always)
internal func conv2dRowSums1x8(_ r0: UnsafeRawPointer, weights: UnsafeRawPointer, kPairs kp: Int)
    -> (SIMD4<Int32>, SIMD4<Int32>) {
    var a0 = SIMD4<Int32>(), a1 = SIMD4<Int32>(), b0 = SIMD4<Int32>(), b1 = SIMD4<Int32>()
    var w = weights
    var off = 0
    var i = 0
    while i + 1 < kp {          // two K pairs per step: two independent accumulator chains
        let x0 = broadcastPair(r0 + off), x1 = broadcastPair(r0 + off + 4)
        a0 &+= multiplyAddPairs(x0, load8x16(w)); a1 &+= multiplyAddPairs(x0, load8x16(w + 16))
        b0 &+= multiplyAddPairs(x1, load8x16(w + 32)); b1 &+= multiplyAddPairs(x1, load8x16(w + 48))
        w += 64; off &+= 8; i += 2
    }
    if i < kp {
        let x0 = broadcastPair(r0 + off)
        a0 &+= multiplyAddPairs(x0, load8x16(w)); a1 &+= multiplyAddPairs(x0, load8x16(w + 16))
    }
    return (a0 &+ b0, a1 &+ b1)
}

/// The 1-pixel × 8-channel micro-kernel (the last pixel of an image).
@inlinable @inline(__always)
internal func conv2dTile1x8(
    _ r0: UnsafeRawPointer, weights: UnsafeRawPointer, kPairs kp: Int, channels: Int,
    output q: OutputQuantization, prepared: UnsafeRawPointer, out: UnsafeMutablePointer<Int8>
) {
    let (a0, a1) = conv2dRowSums1x8(r0, weights: weights, kPairs: kp)
    if channels == conv2dBlockChannels { requantize8(a0, a1, prepared, q, out); return }
    var tmp = SIMD8<Int8>()                                   // channel tail: through a temporary
    withUnsafeMutableBytes(of: &tmp) { t in
        let tp = t.baseAddress!.assumingMemoryBound(to: Int8.self)
        requantize8(a0, a1, prepared, q, tp)
        out.update(from: tp, count: channels)
    }
}

/// SIMD 2-D convolution: same contract and results as `conv2dReference`, with the weights pre-packed by
/// `packConv2dWeights` and `conv2dScratchBytes(p)` bytes of scratch (any alignment). Handles every kernel size,
/// stride, padding, dilation and group count; 1×1 convolutions take the same path (their im2col row is the
/// pixel itself).
public func conv2d(
    _ p: Conv2DParams,
    input: UnsafePointer<Int8>,
    packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let outW = p.outputWidth
    let pixels = p.outputHeight * outW
    let kp = conv2dKPairs(p), blocks = conv2dBlocks(p)
    let gOut = p.groupOutputChannels, outC = p.outputChannels
    let rowElements = 2 * kp
    let prepared = scratch
    for g in 0..<p.groups {
        requantizePrepare(channels: gOut, bias: bias.map { $0 + g * gOut }, multipliers: multipliers + g * gOut,
                          into: prepared + g * blocks * requantizeBlockBytes)
    }
    let rows = (scratch + p.groups * blocks * requantizeBlockBytes)
        .bindMemory(to: Int16.self, capacity: conv2dTilePixels * rowElements)
    let blockBytes = kp * conv2dBlockChannels * 4
    var px = 0
    while px < pixels {
        let n = pixels - px < conv2dTilePixels ? pixels - px : conv2dTilePixels
        for g in 0..<p.groups {
            for r in 0..<n {
                let pix = px + r
                conv2dIm2colRow(p, input, pix / outW, pix % outW, g, rows + r * rowElements)
            }
            let r0 = UnsafeRawPointer(rows)
            let r1 = n > 1 ? UnsafeRawPointer(rows + rowElements) : r0
            let r2 = n > 2 ? UnsafeRawPointer(rows + 2 * rowElements) : r0
            let r3 = n > 3 ? UnsafeRawPointer(rows + 3 * rowElements) : r0
            let groupWeights = packedWeights + g * blocks * blockBytes
            for b in 0..<blocks {
                let c = b * conv2dBlockChannels
                let channels = gOut - c < conv2dBlockChannels ? gOut - c : conv2dBlockChannels
                let channel = g * gOut + c
                let out = output + px * outC + channel
                if n == 1 {
                    conv2dTile1x8(r0, weights: groupWeights + b * blockBytes, kPairs: kp, channels: channels,
                                  output: p.output, prepared: prepared + (g * blocks + b) * requantizeBlockBytes,
                                  out: out)
                } else {
                    conv2dTile4x8(r0, r1, r2, r3, weights: groupWeights + b * blockBytes, kPairs: kp, pixels: n,
                                  channels: channels, channel: channel, bias: bias, multipliers: multipliers,
                                  output: p.output,
                                  prepared: prepared + (g * blocks + b) * requantizeBlockBytes,
                                  out: out, outStride: outC)
                }
            }
        }
        px += n
    }
}

/// Bytes of packed linear weights (`[O][F]` packed as a 1×1 convolution).
public func linearPackedWeightBytes(_ p: LinearParams) -> Int { conv2dPackedWeightBytes(p.asConv) }

/// Packs linear weights `[O][F]` for `linear`.
public func packLinearWeights(_ p: LinearParams, weights: UnsafePointer<Int8>, into packed: UnsafeMutableRawPointer) {
    packConv2dWeights(p.asConv, weights: weights, into: packed)
}

/// Scratch bytes of `linear`: one widened input row (`2·⌈F/2⌉` int16).
public func linearScratchBytes(_ p: LinearParams) -> Int { conv2dKPairs(p.asConv) * 4 }

/// SIMD fully connected layer: same results as `linearReference`, weights packed by `packLinearWeights`.
///
/// One input row, so each output channel's bias and multiplier are used once: the 8 sums of a channel block
/// (the 1×8 tile's multiply-adds) are requantized lane by lane with the scalar `OutputQuantization.requantize`
/// rather than through prepared blocks, whose preparation would cost more than it saves (CPM layers have few
/// inputs and many outputs).
public func linear(
    _ p: LinearParams,
    input: UnsafePointer<Int8>,
    packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let conv = p.asConv
    let o = p.outputFeatures, kp = conv2dKPairs(conv), blocks = conv2dBlocks(conv)
    let row = scratch.bindMemory(to: Int16.self, capacity: 2 * kp)
    conv2dIm2colRow(conv, input, 0, 0, 0, row)
    let r0 = UnsafeRawPointer(row), q = conv.output
    let blockBytes = kp * conv2dBlockChannels * 4
    for b in 0..<blocks {
        let (a0, a1) = conv2dRowSums1x8(r0, weights: packedWeights + b * blockBytes, kPairs: kp)
        let c = b * conv2dBlockChannels
        let n = o - c < conv2dBlockChannels ? o - c : conv2dBlockChannels
        for l in 0..<n {
            let acc = l < 4 ? a0[l] : a1[l - 4]
            output[c + l] = q.requantize(acc &+ (bias?[c + l] ?? 0), multipliers[c + l])
        }
    }
}
