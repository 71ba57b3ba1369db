// SIMD grouped convolution for small groups (fewer than 8 output channels per group, e.g. Dy-mobile's 3×3 conv
// with 6 input and 6 output channels per group): bit-exact twin of `conv2dReference`. The `.pixelLane` variant of
// `SIMD128Kernels`: its chooser picks it when `groupedConv2dApplies(p)`.
//
// Why another kernel: the GEMM of `conv2d` puts output channels in the vector lanes, so a group with 6 output
// channels fills 6 of 8 lanes, and each group pays its own im2col and (for tails) scalar requantization. Here the
// vector lanes are output PIXELS: lane p of an accumulator is pixel `ox0 + p` of one output channel, so every
// lane is used whatever the group size.
//
// Data: input rows are converted once into an int16 row cache of `(q − z_in)` in a pair-planar layout
// `[pair plane P][phase f][column][2]`: plane `P = group·⌈I_g/2⌉ + i/2` holds input channels `(i, i+1)` of one
// group as int16 pairs (the pair partner of an odd last channel is 0), phase `f ∈ 0..<strideX` holds the padded
// columns `X ≡ f (mod strideX)` at index `X / strideX`. So for output pixels `ox0 ..< ox0 + 4` and tap `kx` the
// four input pairs are 16 contiguous bytes, for every stride and dilation: padded column
// `X = ox·strideX + kx·dilationX` lies in phase `(kx·dilationX) mod strideX` at index
// `ox + (kx·dilationX) / strideX`. Padding columns and rows outside the image are zeros (the reference skips
// them, which adds the same nothing).
//
// Weights are packed as int16 pairs repeated over the 4 pixel lanes, `[group][tap][pair][channel in group][4][2]`,
// so one multiply-add is a plain load and `multiplyAddPairs` (`pmaddwd`): `x_p[i]·w[i] + x_p[i+1]·w[i+1]` for 4
// pixels. A strip of 8 output pixels of one row is computed for every group: the input pairs are loaded once per
// (tap, pair) and used by up to 6 output channels (12 accumulators). Products and int32 sums are the reference's
// (in another order; exact under the quantizer's bound K·255·127 + |bias| < 2^31). Each channel's two pixel
// vectors are then requantized (`requantizedUniform8`): all 8 lanes are pixels of one channel, so bias,
// multiplier and shift are the same in every lane (one shift count, constants in registers; the offset form for
// M < ½, else the arithmetic of `requantize8`; equal to the reference's `finish(apply(acc))`), and the 8 result
// bytes go to the output at a stride of O. No accumulator is transposed.

/// Output pixels per strip of the grouped kernel (two vectors of 4 pixel lanes).
public let groupedConv2dStripPixels = 8

/// Dense convolutions with at most this many weights per output channel (`K = kh·kw·I`) also run the pixel-lane
/// kernel.
public let groupedConv2dThinWeights = 32

/// Whether `conv2d` runs `p` with the pixel-lane kernel: more than one group and fewer than 8 output channels per
/// group (where the channel-lane GEMM would leave lanes empty), or a dense ("thin") convolution with
/// `K ≤ groupedConv2dThinWeights` (there the GEMM's per-tile im2col and requantization outweigh its short K loop;
/// measured with `dynq bench` on MobileNetV2's and Dy-mobile's 1×1 layers with I ≤ 32 and their 3×3 stem
/// (K = 27): 7–20 % faster at 112×112 and 56×56, while for 1×1 layers with `I ≥ 144` the GEMM is faster) whose
/// output rows fill at least one strip (linear layers, 1×1 images, stay with the GEMM).
@inlinable
public func groupedConv2dApplies(_ p: Conv2DParams) -> Bool {
    (p.groups > 1 && p.groupOutputChannels < conv2dBlockChannels)
        || (p.groups == 1 && p.weightsPerOutputChannel <= groupedConv2dThinWeights
            && p.outputWidth >= groupedConv2dStripPixels)
}

@inlinable @inline(__always)
internal func groupedConv2dPairs(_ p: Conv2DParams) -> Int { (p.groupInputChannels + 1) / 2 }

/// Geometry of the row cache: `rows` cached input rows (`dilationY·(kh − 1) + 1`), `columns` per phase plane,
/// `rowElements` int16 per cached row (`planes · strideX · columns · 2`).
@inlinable @inline(__always)
internal func groupedConv2dCache(_ p: Conv2DParams) -> (rows: Int, columns: Int, rowElements: Int) {
    let strip = groupedConv2dStripPixels
    let reach = (p.kernelWidth - 1) * p.dilationX / p.strideX
    let readColumns = (p.outputWidth + strip - 1) / strip * strip + reach
    let imageColumns = (p.inputWidth + p.padding.left - 1) / p.strideX + 1
    let columns = readColumns > imageColumns ? readColumns : imageColumns
    let planes = p.groups * groupedConv2dPairs(p)
    return (p.dilationY * (p.kernelHeight - 1) + 1, columns, planes * p.strideX * columns * 2)
}

/// Bytes of the packed weights of the small-group kernel: `O · kh·kw · ⌈I_g/2⌉ · 16`.
public func groupedConv2dPackedWeightBytes(_ p: Conv2DParams) -> Int {
    p.outputChannels * p.kernelHeight * p.kernelWidth * groupedConv2dPairs(p) * 16
}

/// Packs OHWI int8 weights `[O][kh][kw][I_g]` into `[group][tap][pair][channel in group][4][2]` int16: the pair
/// `(w[o][t][2j], w[o][t][2j+1])` (0 for the partner of an odd last channel) repeated 4 times.
/// `packed` needs `groupedConv2dPackedWeightBytes(p)` bytes, any alignment.
public func packGroupedConv2dWeights(_ p: Conv2DParams, weights: UnsafePointer<Int8>,
                                     into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel
    for o in 0..<p.outputChannels {
        packGroupedConv2dChannel(p, channel: o, weights: weights + o * k, into: packed)
    }
}

/// Packs the `K` weights `[kh][kw][I_g]` of output channel `o` into the layout of `packGroupedConv2dWeights`.
@inlinable
public func packGroupedConv2dChannel(_ p: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                                     into packed: UnsafeMutableRawPointer) {
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, pairs = groupedConv2dPairs(p)
    let taps = p.kernelHeight * p.kernelWidth
    let g = o / gOut, r = o - g * gOut
    var d = packed + (g * taps * pairs * gOut + r) * 16
    var w = weights
    if gIn & 1 == 0 {
        // Even I_g: the pairs are the row's consecutive bytes, tap after tap, each going gOut·16 bytes further.
        let n = taps * pairs
        var j = 0
        while j + 4 <= n {                                    // 4 pairs (8 weights) per load
            let v = unsafeBitCast(widen(load8(w + 2 * j)), to: SIMD4<UInt32>.self)
            d.storeBytes(of: SIMD4<UInt32>(repeating: v[0]), as: SIMD4<UInt32>.self)
            d.storeBytes(of: SIMD4<UInt32>(repeating: v[1]), toByteOffset: gOut * 16, as: SIMD4<UInt32>.self)
            d.storeBytes(of: SIMD4<UInt32>(repeating: v[2]), toByteOffset: 2 * gOut * 16, as: SIMD4<UInt32>.self)
            d.storeBytes(of: SIMD4<UInt32>(repeating: v[3]), toByteOffset: 3 * gOut * 16, as: SIMD4<UInt32>.self)
            d += 4 * gOut * 16
            j += 4
        }
        while j < n {
            let pair = UInt32(UInt16(bitPattern: Int16(w[2 * j]))) | UInt32(UInt16(bitPattern: Int16(w[2 * j + 1]))) << 16
            d.storeBytes(of: SIMD4<UInt32>(repeating: pair), as: SIMD4<UInt32>.self)
            d += gOut * 16
            j += 1
        }
        return
    }
    for _ in 0..<taps {
        for j in 0..<pairs {
            let lo = UInt32(UInt16(bitPattern: Int16(w[2 * j])))
            let hi = 2 * j + 1 < gIn ? UInt32(UInt16(bitPattern: Int16(w[2 * j + 1]))) : 0
            d.storeBytes(of: SIMD4<UInt32>(repeating: lo | hi << 16), as: SIMD4<UInt32>.self)
            d += gOut * 16
        }
        w += gIn
    }
}

/// Scratch bytes of the small-group kernel: row tags and tap offsets (`Int`), each output channel's
/// `UniformRequantization`, one pass's sums (6 channels × 8 pixels int32), a zero row and the row cache
/// (`rows + 1` rows of `rowElements` int16).
public func groupedConv2dScratchBytes(_ p: Conv2DParams) -> Int {
    let (rows, _, rowElements) = groupedConv2dCache(p)
    let ints = (rows + p.kernelHeight * p.kernelWidth) * MemoryLayout<Int>.stride
    return ints + p.outputChannels * MemoryLayout<UniformRequantization>.stride + 6 * groupedConv2dStripPixels * 4
        + (rows + 1) * rowElements * 2
}

/// One pass over `n ∈ 1...6` output channels of a group (`n` is a literal at every call site, so the unused
/// accumulators fold away) for the 8 pixels of a strip. `x` points at the group's first pair plane plus the
/// strip's first column; `taps[t]` is tap t's byte offset; consecutive pair planes are `planeBytes` apart.
/// `w` is the pass's first packed weight, `weightStep` bytes per (tap, pair). Writes channel j's 8 pixel sums
/// (lanes = pixels) to `sums + 8j`, j < n.
@inlinable @inline(__always)
internal func groupedConv2dPass(
    _ n: Int, x: UnsafeRawPointer, taps: UnsafePointer<Int>, tapCount: Int, pairs: Int, planeBytes: Int,
    weights: UnsafeRawPointer, weightStep: Int, sums: UnsafeMutablePointer<Int32>
) {
    var a0 = SIMD4<Int32>(), b0 = SIMD4<Int32>(), a1 = SIMD4<Int32>(), b1 = SIMD4<Int32>()
    var a2 = SIMD4<Int32>(), b2 = SIMD4<Int32>(), a3 = SIMD4<Int32>(), b3 = SIMD4<Int32>()
    var a4 = SIMD4<Int32>(), b4 = SIMD4<Int32>(), a5 = SIMD4<Int32>(), b5 = SIMD4<Int32>()
    var w = weights
    for t in 0..<tapCount {
        var xp = x + taps[t]
        for _ in 0..<pairs {
            let x0 = load8x16(xp), x1 = load8x16(xp + 16)
            let w0 = load8x16(w)
            a0 &+= multiplyAddPairs(x0, w0); b0 &+= multiplyAddPairs(x1, w0)
            if n > 1 {
                let w1 = load8x16(w + 16)
                a1 &+= multiplyAddPairs(x0, w1); b1 &+= multiplyAddPairs(x1, w1)
            }
            if n > 2 {
                let w2 = load8x16(w + 32)
                a2 &+= multiplyAddPairs(x0, w2); b2 &+= multiplyAddPairs(x1, w2)
            }
            if n > 3 {
                let w3 = load8x16(w + 48)
                a3 &+= multiplyAddPairs(x0, w3); b3 &+= multiplyAddPairs(x1, w3)
            }
            if n > 4 {
                let w4 = load8x16(w + 64)
                a4 &+= multiplyAddPairs(x0, w4); b4 &+= multiplyAddPairs(x1, w4)
            }
            if n > 5 {
                let w5 = load8x16(w + 80)
                a5 &+= multiplyAddPairs(x0, w5); b5 &+= multiplyAddPairs(x1, w5)
            }
            w += weightStep
            xp += planeBytes
        }
    }
    @inline(__always) func put(_ j: Int, _ a: SIMD4<Int32>, _ b: SIMD4<Int32>) {
        UnsafeMutableRawPointer(sums + 8 * j).storeBytes(of: a, as: SIMD4<Int32>.self)
        UnsafeMutableRawPointer(sums + 8 * j + 4).storeBytes(of: b, as: SIMD4<Int32>.self)
    }
    put(0, a0, b0)
    if n > 1 { put(1, a1, b1) }
    if n > 2 { put(2, a2, b2) }
    if n > 3 { put(3, a3, b3) }
    if n > 4 { put(4, a4, b4) }
    if n > 5 { put(5, a5, b5) }
}

/// Requantizes `n` channels' 8 pixel sums (`sums + 8j`, lanes = pixels) with their uniform constants
/// `requant[j]` and stores the first `pixels` results of channel j at `out + p·outStride + j`.
@inlinable @inline(__always)
internal func groupedConv2dEmit(
    _ n: Int, sums: UnsafePointer<Int32>, requant: UnsafePointer<UniformRequantization>,
    output q: OutputQuantization, out: UnsafeMutablePointer<Int8>, outStride: Int, pixels: Int
) {
    for j in 0..<n {
        let s = UnsafeRawPointer(sums + 8 * j)
        let v = unsafeBitCast(requantizedUniform8(s.loadUnaligned(as: SIMD4<Int32>.self),
                                                  s.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int32>.self),
                                                  requant[j], q), to: UInt64.self)
        let o = out + j
        if pixels == groupedConv2dStripPixels {
            o[0] = Int8(truncatingIfNeeded: v)
            o[outStride] = Int8(truncatingIfNeeded: v &>> 8)
            o[2 * outStride] = Int8(truncatingIfNeeded: v &>> 16)
            o[3 * outStride] = Int8(truncatingIfNeeded: v &>> 24)
            o[4 * outStride] = Int8(truncatingIfNeeded: v &>> 32)
            o[5 * outStride] = Int8(truncatingIfNeeded: v &>> 40)
            o[6 * outStride] = Int8(truncatingIfNeeded: v &>> 48)
            o[7 * outStride] = Int8(truncatingIfNeeded: v &>> 56)
        } else {
            for px in 0..<pixels { o[px * outStride] = Int8(truncatingIfNeeded: v &>> UInt64(8 * px)) }
        }
    }
}

/// Converts one input row (`[W][C]` int8) into its row-cache layout `[plane][phase][column][2]` int16
/// `(q − z_in)` (see the file comment); cells that hold no image pixel are left as they are (zero). With an even
/// number of input channels per group, plane P holds channels `(2P, 2P + 1)`, so 8 channels of a pixel are
/// widened at once and give 4 planes' pairs (for 4 pixels of a phase, transposed into one 16-byte store per
/// plane); otherwise (and for the last `C mod 8` channels) pair by pair.
@inline(never)
internal func groupedConv2dConvertRow(_ p: Conv2DParams, _ src: UnsafePointer<Int8>, columns: Int,
                                      into dst: UnsafeMutablePointer<Int16>) {
    let inC = p.inputChannels, gIn = p.groupInputChannels, pairs = groupedConv2dPairs(p), sx = p.strideX
    let z = Int16(truncatingIfNeeded: p.inputZeroPoint)
    let z8 = SIMD8<Int16>(repeating: z)
    let planeBytes = sx * columns * 4
    let pad = p.padding.left
    let vectorChunks = gIn & 1 == 0 ? inC / 8 : 0            // 8 channels = 4 planes per chunk
    let raw = UnsafeMutableRawPointer(dst)
    let planes = p.groups * pairs
    let firstScalarPlane = 4 * vectorChunks
    let firstScalarGroup = firstScalarPlane / pairs, firstScalarPair = firstScalarPlane - firstScalarGroup * pairs
    for f in 0..<sx {
        var ix = ((f - pad) % sx + sx) % sx                   // first image column of phase f
        var col = (ix + pad) / sx
        let phase = raw + f * columns * 4
        /// The planes after the vector chunks of the pixel at `s`, pair by pair: plane P = g·pairs + j holds
        /// channels (g·I_g + 2j, +1).
        @inline(__always) func scalarPlanes(_ s: UnsafePointer<Int8>, _ col: Int) {
            var plane = firstScalarPlane, g = firstScalarGroup, j = firstScalarPair
            while plane < planes {
                let c0 = g * gIn + 2 * j
                let lo = UInt32(UInt16(bitPattern: Int16(s[c0]) &- z))
                let hi = 2 * j + 1 < gIn ? UInt32(UInt16(bitPattern: Int16(s[c0 + 1]) &- z)) : 0
                (phase + plane * planeBytes).storeBytes(of: lo | hi << 16, toByteOffset: col * 4, as: UInt32.self)
                plane += 1
                j += 1
                if j == pairs { j = 0; g += 1 }
            }
        }
        // Few channels, one group (the RGB stem): 4 pixels at a time, each pixel's channels read as 4 bytes (lanes
        // past C masked to 0; the read stays inside the row), transposed into one 16-byte store per plane.
        if p.groups == 1 && inC <= 4 {
            let keep = SIMD4<Int16>(0, 1, 2, 3) .< SIMD4<Int16>(repeating: Int16(inC))
            let z4 = SIMD4<Int16>(repeating: z)
            @inline(__always) func pixel(_ s: UnsafePointer<Int8>) -> SIMD2<UInt32> {
                let b = UnsafeRawPointer(s).loadUnaligned(as: SIMD4<Int8>.self)
                let w = SIMD4<Int16>(Int16(b[0]), Int16(b[1]), Int16(b[2]), Int16(b[3])) &- z4
                return unsafeBitCast(SIMD4<Int16>(repeating: 0).replacing(with: w, where: keep), to: SIMD2<UInt32>.self)
            }
            while (ix + 3 * sx) * inC + 4 <= p.inputWidth * inC && col + 3 < columns {
                let s0 = src + ix * inC
                let v0 = pixel(s0), v1 = pixel(s0 + sx * inC), v2 = pixel(s0 + 2 * sx * inC), v3 = pixel(s0 + 3 * sx * inC)
                let d = phase + col * 4
                d.storeBytes(of: SIMD4<UInt32>(v0[0], v1[0], v2[0], v3[0]), as: SIMD4<UInt32>.self)
                if pairs == 2 {
                    d.storeBytes(of: SIMD4<UInt32>(v0[1], v1[1], v2[1], v3[1]), toByteOffset: planeBytes,
                                 as: SIMD4<UInt32>.self)
                }
                ix += 4 * sx
                col += 4
            }
        }
        // 4 pixels at a time: their chunk vectors transposed, one 16-byte store per plane.
        while vectorChunks > 0 && ix + 3 * sx < p.inputWidth && col + 3 < columns {
            let s0 = src + ix * inC, s1 = s0 + sx * inC, s2 = s1 + sx * inC, s3 = s2 + sx * inC
            var d = phase + col * 4
            for q in 0..<vectorChunks {
                let v0 = unsafeBitCast(widen(load8(s0 + 8 * q)) &- z8, to: SIMD4<UInt32>.self)
                let v1 = unsafeBitCast(widen(load8(s1 + 8 * q)) &- z8, to: SIMD4<UInt32>.self)
                let v2 = unsafeBitCast(widen(load8(s2 + 8 * q)) &- z8, to: SIMD4<UInt32>.self)
                let v3 = unsafeBitCast(widen(load8(s3 + 8 * q)) &- z8, to: SIMD4<UInt32>.self)
                d.storeBytes(of: SIMD4<UInt32>(v0[0], v1[0], v2[0], v3[0]), as: SIMD4<UInt32>.self)
                d.storeBytes(of: SIMD4<UInt32>(v0[1], v1[1], v2[1], v3[1]), toByteOffset: planeBytes,
                             as: SIMD4<UInt32>.self)
                d.storeBytes(of: SIMD4<UInt32>(v0[2], v1[2], v2[2], v3[2]), toByteOffset: 2 * planeBytes,
                             as: SIMD4<UInt32>.self)
                d.storeBytes(of: SIMD4<UInt32>(v0[3], v1[3], v2[3], v3[3]), toByteOffset: 3 * planeBytes,
                             as: SIMD4<UInt32>.self)
                d += 4 * planeBytes
            }
            scalarPlanes(s0, col); scalarPlanes(s1, col + 1); scalarPlanes(s2, col + 2); scalarPlanes(s3, col + 3)
            ix += 4 * sx
            col += 4
        }
        while ix < p.inputWidth && col < columns {
            let s = src + ix * inC
            var d = phase + col * 4
            for q in 0..<vectorChunks {
                let v = unsafeBitCast(widen(load8(s + 8 * q)) &- z8, to: SIMD4<UInt32>.self)
                d.storeBytes(of: v[0], as: UInt32.self)
                d.storeBytes(of: v[1], toByteOffset: planeBytes, as: UInt32.self)
                d.storeBytes(of: v[2], toByteOffset: 2 * planeBytes, as: UInt32.self)
                d.storeBytes(of: v[3], toByteOffset: 3 * planeBytes, as: UInt32.self)
                d += 4 * planeBytes
            }
            scalarPlanes(s, col)
            ix += sx
            col += 1
        }
    }
}

/// SIMD grouped convolution for small groups: same contract and results as `conv2dReference` for any `p` (every
/// kernel size, stride, padding, dilation, group size), fastest when `groupedConv2dApplies(p)`. Weights packed by
/// `packGroupedConv2dWeights`, `groupedConv2dScratchBytes(p)` bytes of scratch aligned for `Int`.
public func groupedConv2d(
    _ p: Conv2DParams,
    input: UnsafePointer<Int8>,
    packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer
) {
    let outH = p.outputHeight, outW = p.outputWidth
    let inC = p.inputChannels, outC = p.outputChannels
    let gOut = p.groupOutputChannels
    let pairs = groupedConv2dPairs(p), sx = p.strideX
    let tapCount = p.kernelHeight * p.kernelWidth
    let (cacheRows, columns, rowElements) = groupedConv2dCache(p)
    let planeBytes = sx * columns * 4

    let ints = scratch.bindMemory(to: Int.self, capacity: cacheRows + tapCount)
    let tags = ints, taps = ints + cacheRows
    let requantRaw = scratch + (cacheRows + tapCount) * MemoryLayout<Int>.stride
    let requant = requantRaw.bindMemory(to: UniformRequantization.self, capacity: outC)
    for ch in 0..<outC { requant[ch] = UniformRequantization(bias: bias?[ch] ?? 0, multiplier: multipliers[ch]) }
    let sums = (requantRaw + outC * MemoryLayout<UniformRequantization>.stride)
        .bindMemory(to: Int32.self, capacity: 6 * groupedConv2dStripPixels)
    let cacheRaw = UnsafeMutableRawPointer(sums + 6 * groupedConv2dStripPixels)
    let rowCache = SIMDRowCache(storage: cacheRaw.bindMemory(to: Int16.self, capacity: (cacheRows + 1) * rowElements),
                                tags: tags, rows: cacheRows, rowElements: rowElements, height: p.inputHeight)
    let cache = rowCache.storage
    let q = p.output

    /// The cached int16 row of input row `iy` (the zero row outside the image).
    @inline(__always) func row(_ iy: Int) -> UnsafeMutablePointer<Int16> {
        rowCache.row(iy) { iy, dst in
            groupedConv2dConvertRow(p, input + iy * p.inputWidth * inC, columns: columns, into: dst)
        }
    }

    let weightStep = gOut * 16
    let groupWeightBytes = tapCount * pairs * weightStep
    for oy in 0..<outH {
        var t = 0
        for ky in 0..<p.kernelHeight {
            let base = row(oy * p.strideY - p.padding.top + ky * p.dilationY)
            for kx in 0..<p.kernelWidth {
                let xx = kx * p.dilationX
                let col = xx / sx
                taps[t] = (base - cache) * 2 + ((xx - col * sx) * columns + col) * 4
                t += 1
            }
        }
        let out = output + oy * outW * outC
        var ox0 = 0
        while ox0 < outW {
            let pixels = outW - ox0 < groupedConv2dStripPixels ? outW - ox0 : groupedConv2dStripPixels
            for g in 0..<p.groups {
                let x = UnsafeRawPointer(cacheRaw) + g * pairs * planeBytes + ox0 * 4
                let gw = packedWeights + g * groupWeightBytes
                var r = 0
                while r < gOut {
                    let n = gOut - r
                    let c = g * gOut + r
                    let w = gw + r * 16
                    let rq = UnsafePointer(requant + c), o = out + ox0 * outC + c
                    switch n {
                    case 1:
                        groupedConv2dPass(1, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    case 2:
                        groupedConv2dPass(2, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    case 3:
                        groupedConv2dPass(3, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    case 4, 7:
                        groupedConv2dPass(4, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    case 5:
                        groupedConv2dPass(5, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    default:
                        groupedConv2dPass(6, x: x, taps: taps, tapCount: tapCount, pairs: pairs,
                                          planeBytes: planeBytes, weights: w, weightStep: weightStep, sums: sums)
                    }
                    let done = n >= 6 ? (n == 7 ? 4 : 6) : n
                    groupedConv2dEmit(done, sums: sums, requant: rq, output: q, out: o, outStride: outC,
                                      pixels: pixels)
                    r += done
                }
            }
            ox0 += groupedConv2dStripPixels
        }
    }
}
