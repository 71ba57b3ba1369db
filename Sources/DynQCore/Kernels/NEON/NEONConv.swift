// NEON convolution (dense and grouped, any window; linear as a 1×1 image): a GEMM per group on raw int8 values.
// Bit-exact twin of `conv2dReference` / `linearReference` (Tests/DynQCoreTests/KernelsNEONTests.swift).
//
// Algorithm. `Σ_k (q_in − z_in)·w = Σ_k q_in·w − z_in·Σ_k w`: the tile multiplies the raw int8 activations
// (|q_in| ≤ 128) by the int8 weights (|w| ≤ 127), so two products fit an int16 lane (|·| ≤ 32 512) and NEON's
// widening int8 multiplies apply (`NEONDot`: SMULL + SMLAL2 + SADALP on Armv8.0, SDOT with the dot-product
// extension); `z_in·Σ_k w[o][k]` is computed once at packing and folded into the bias. Padded input positions
// hold `z_in` in the im2col row (they contribute `z_in·w − z_in·w = 0`), the K tail up to a multiple of 16 holds
// weight 0. Every int32 sum wraps modulo 2^32 like the reference's `&+`, and the reference's accumulator is < 2^31
// (the quantizer's bound), so the wrapped sum is its accumulator exactly.
//
// Tile: 2 output pixels × 4 output channels, 8 int32x4 accumulators (each holds one (pixel, channel) sum spread
// over 4 lanes), per 16 K: 2 row loads, 4 weight loads, 8 dot steps; then 3 `ADDP` per pixel give its 4 channel
// sums, requantized by `NEONRequantize4` (SMULL/SRSHL/SQXTN). Rows are built 4 pixels at a time and each block of
// weights runs against both pixel pairs. (A 4 × 4 tile, 16 accumulators, made LLVM spill on AArch64: 0.31 against
// 0.26 instructions per MAC for K = 2304 on the A53.) A last single pixel (and `linear`) uses a 1 × 4 tile.
// Rows: the im2col row of each pixel, int8, `K16 = ⌈K/16⌉·16` bytes in scratch — or, for 1×1 windows without
// padding whose group slice is a multiple of 16 bytes, the input pixel itself (no copy).
//
// Packed weights, per group and block of 4 output channels: `[K16/16][4 channels][16]` int8 (missing channels
// and the K tail 0), then `z_in·Σ_k w[o][k]` `[4]` Int32: `neonConvBlockBytes(p)` bytes per block.

/// Output channels per packed block (and per tile).
public let neonConvBlockChannels = 4
/// Output pixels whose im2col rows are built together (two 2 × 4 tiles per weight block).
public let neonConvTilePixels = 4

/// `K` rounded up to a multiple of 16: the bytes of one im2col row and of one channel's packed weights.
@inlinable @inline(__always)
internal func neonConvRowBytes(_ p: Conv2DParams) -> Int { (p.weightsPerOutputChannel + 15) / 16 * 16 }

/// Blocks of 4 output channels per group.
@inlinable @inline(__always)
internal func neonConvBlocks(_ p: Conv2DParams) -> Int {
    (p.groupOutputChannels + neonConvBlockChannels - 1) / neonConvBlockChannels
}

/// Bytes of one packed block: `4 · K16` int8 weights, then 4 Int32 zero-point terms.
@inlinable @inline(__always)
internal func neonConvBlockBytes(_ p: Conv2DParams) -> Int { neonConvBlockChannels * neonConvRowBytes(p) + 16 }

/// Whether the rows are read in place (1×1 window, no padding, each group's input slice a multiple of 16 bytes).
@inlinable @inline(__always)
internal func neonConvRowsInPlace(_ p: Conv2DParams) -> Bool {
    p.kernelHeight == 1 && p.kernelWidth == 1 && p.padding == .zero && p.groupInputChannels % 16 == 0
}

/// Packs output channel `o`'s `K` OHWI weights into its block (layout in the header) and writes its zero-point
/// term `z_in·Σ_k w` (wrapping Int32). The last channel of a group also zeroes the block's missing channels, so
/// packing every channel once fills the whole buffer.
@inlinable
internal func neonPackConvChannel(_ p: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                                  into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel, k16 = neonConvRowBytes(p), gOut = p.groupOutputChannels
    let g = o / gOut, oc = o - g * gOut
    let b = oc / neonConvBlockChannels, j = oc - b * neonConvBlockChannels
    let block = packed + (g * neonConvBlocks(p) + b) * neonConvBlockBytes(p)
    let stride = neonConvBlockChannels * 16
    @inline(__always) func write(_ j: Int, _ w: UnsafePointer<Int8>?) {
        var sums = SIMD4<Int32>()
        let ones = SIMD16<Int8>(repeating: 1)
        var e = 0
        while e < k16 {
            var chunk = SIMD16<Int8>()
            if let w {
                if e + 16 <= k {
                    chunk = UnsafeRawPointer(w + e).loadUnaligned(as: SIMD16<Int8>.self)
                } else {
                    for i in 0..<(k - e) { chunk[i] = w[e + i] }
                }
                sums = NEONDotSMLAL.accumulate(sums, chunk, ones)
            }
            (block + (e / 16) * stride + j * 16).storeBytes(of: chunk, as: SIMD16<Int8>.self)
            e += 16
        }
        let total = sums[0] &+ sums[1] &+ sums[2] &+ sums[3]
        block.storeBytes(of: p.inputZeroPoint &* total, toByteOffset: neonConvBlockChannels * k16 + 4 * j,
                         as: Int32.self)
    }
    write(j, weights)
    if oc == gOut - 1 {
        for m in (j + 1)..<neonConvBlockChannels { write(m, nil) }
    }
}

/// The 2×4 tile: rows `r0`, `r1` against one packed block (8 accumulators, so the dot steps of one chunk fit the
/// 32 NEON registers with room for the scheduler); stores the first `pixels` (1...2) rows.
@inlinable @inline(__always)
internal func neonConvTile2x4<D: NEONDot>(
    _ d: D.Type, _ r0: UnsafeRawPointer, _ r1: UnsafeRawPointer,
    weights: UnsafeRawPointer, chunks: Int, pixels: Int, channels: Int, prepared: UnsafeRawPointer,
    output q: OutputQuantization, out: UnsafeMutablePointer<Int8>, outStride: Int
) {
    var a00 = SIMD4<Int32>(), a01 = SIMD4<Int32>(), a02 = SIMD4<Int32>(), a03 = SIMD4<Int32>()
    var a10 = SIMD4<Int32>(), a11 = SIMD4<Int32>(), a12 = SIMD4<Int32>(), a13 = SIMD4<Int32>()
    var w = weights
    var off = 0
    for _ in 0..<chunks {
        let w0 = w.loadUnaligned(as: SIMD16<Int8>.self), w1 = w.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)
        let w2 = w.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self)
        let w3 = w.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self)
        let x0 = r0.loadUnaligned(fromByteOffset: off, as: SIMD16<Int8>.self)
        let x1 = r1.loadUnaligned(fromByteOffset: off, as: SIMD16<Int8>.self)
        a00 = D.accumulate(a00, x0, w0); a10 = D.accumulate(a10, x1, w0)
        a01 = D.accumulate(a01, x0, w1); a11 = D.accumulate(a11, x1, w1)
        a02 = D.accumulate(a02, x0, w2); a12 = D.accumulate(a12, x1, w2)
        a03 = D.accumulate(a03, x0, w3); a13 = D.accumulate(a13, x1, w3)
        w += 64
        off &+= 16
    }
    let rq = NEONRequantize4(prepared, q)
    neonStore(rq(neonSums4(a00, a01, a02, a03)), channels: channels, out)
    if pixels > 1 { neonStore(rq(neonSums4(a10, a11, a12, a13)), channels: channels, out + outStride) }
}

/// The 1×4 tile (one row against one block).
@inlinable @inline(__always)
internal func neonConvTile1x4<D: NEONDot>(
    _ d: D.Type, _ r0: UnsafeRawPointer, weights: UnsafeRawPointer, chunks: Int, channels: Int,
    prepared: UnsafeRawPointer, output q: OutputQuantization, out: UnsafeMutablePointer<Int8>
) {
    var a0 = SIMD4<Int32>(), a1 = SIMD4<Int32>(), a2 = SIMD4<Int32>(), a3 = SIMD4<Int32>()
    var w = weights
    var off = 0
    for _ in 0..<chunks {
        let x0 = r0.loadUnaligned(fromByteOffset: off, as: SIMD16<Int8>.self)
        a0 = D.accumulate(a0, x0, w.loadUnaligned(as: SIMD16<Int8>.self))
        a1 = D.accumulate(a1, x0, w.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self))
        a2 = D.accumulate(a2, x0, w.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int8>.self))
        a3 = D.accumulate(a3, x0, w.loadUnaligned(fromByteOffset: 48, as: SIMD16<Int8>.self))
        w += 64
        off &+= 16
    }
    neonStore(NEONRequantize4(prepared, q)(neonSums4(a0, a1, a2, a3)), channels: channels, out)
}

/// Writes the int8 im2col row of output pixel `(oy, ox)` for `group`: the raw input values in `[ky][kx][i]`
/// order, `z_in` where the window leaves the image, 0 from `K` up to `K16`. With one group and no horizontal
/// dilation, a window row that lies inside the image is one contiguous run of `kw·C` input bytes: one copy.
/// (Index arithmetic wraps: every offset is bounded by the tensor sizes.)
@inlinable @inline(__always)
internal func neonConvIm2colRow(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ oy: Int, _ ox: Int, _ group: Int,
                                _ row: UnsafeMutablePointer<Int8>) {
    let gIn = p.groupInputChannels, inC = p.inputChannels, kw = p.kernelWidth
    let z = Int8(truncatingIfNeeded: p.inputZeroPoint)
    let x0 = ox &* p.strideX &- p.padding.left
    let contiguous = p.groups == 1 && p.dilationX == 1 && x0 >= 0 && x0 &+ kw <= p.inputWidth
    let runBytes = kw &* gIn
    var d = row
    for ky in 0..<p.kernelHeight {
        let iy = oy &* p.strideY &- p.padding.top &+ ky &* p.dilationY
        if iy < 0 || iy >= p.inputHeight {
            neonFill(d, z, runBytes)
            d += runBytes
            continue
        }
        let rowBase = input + (iy &* p.inputWidth &* inC &+ group &* gIn)
        if contiguous {
            neonCopy(rowBase + x0 &* inC, d, runBytes)
            d += runBytes
            continue
        }
        for kx in 0..<kw {
            let ix = x0 &+ kx &* p.dilationX
            if ix >= 0 && ix < p.inputWidth {
                neonCopy(rowBase + ix &* inC, d, gIn)
            } else {
                neonFill(d, z, gIn)
            }
            d += gIn
        }
    }
    let k = p.weightsPerOutputChannel
    neonFill(d, 0, neonConvRowBytes(p) &- k)
}

/// The convolution with dot step `D` (contract: `NEONKernels.conv2d`).
@inlinable
internal func neonConv2d<D: NEONDot>(
    _ d: D.Type, _ p: Conv2DParams, input: UnsafePointer<Int8>, packedWeights: UnsafeRawPointer,
    bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>, scratch: UnsafeMutableRawPointer
) {
    let outW = p.outputWidth, pixels = p.outputHeight * outW
    let k16 = neonConvRowBytes(p), chunks = k16 / 16, blocks = neonConvBlocks(p), blockBytes = neonConvBlockBytes(p)
    let gOut = p.groupOutputChannels, gIn = p.groupInputChannels, outC = p.outputChannels
    let inC = p.inputChannels

    // Prepared requantization of every block: effective bias = bias − z_in·Σw (from the packed block).
    let prepared = scratch
    for g in 0..<p.groups {
        for b in 0..<blocks {
            let block = packedWeights + (g * blocks + b) * blockBytes
            let dst = prepared + (g * blocks + b) * neonPreparedBlockBytes
            for l in 0..<neonConvBlockChannels {
                let c = b * neonConvBlockChannels + l
                let zTerm = block.loadUnaligned(fromByteOffset: neonConvBlockChannels * k16 + 4 * l, as: Int32.self)
                if c < gOut {
                    let o = g * gOut + c
                    neonPrepareLane(l, effectiveBias: (bias?[o] ?? 0) &- zTerm, multiplier: multipliers[o], into: dst)
                } else {
                    neonPrepareLane(l, effectiveBias: 0, multiplier: .zero, into: dst)
                }
            }
        }
    }
    let rows = (scratch + p.groups * blocks * neonPreparedBlockBytes).assumingMemoryBound(to: Int8.self)
    let inPlace = neonConvRowsInPlace(p)

    var px = 0
    while px < pixels {
        let n = pixels - px < neonConvTilePixels ? pixels - px : neonConvTilePixels
        for g in 0..<p.groups {
            var rp = (UnsafeRawPointer(rows), UnsafeRawPointer(rows), UnsafeRawPointer(rows), UnsafeRawPointer(rows))
            for r in 0..<n {
                let pix = px &+ r, oy = pix / outW, ox = pix &- oy &* outW
                let row: UnsafeRawPointer
                if inPlace {
                    row = UnsafeRawPointer(input + (((oy &* p.strideY) &* p.inputWidth &+ ox &* p.strideX) &* inC
                                                    &+ g &* gIn))
                } else {
                    neonConvIm2colRow(p, input, oy, ox, g, rows + r &* k16)
                    row = UnsafeRawPointer(rows + r &* k16)
                }
                switch r {
                case 0: rp = (row, row, row, row)
                case 1: rp.1 = row
                case 2: rp.2 = row
                default: rp.3 = row
                }
            }
            // Pointers advance block by block (wrapping arithmetic: the offsets are bounded by the buffers).
            var w = packedWeights + g &* blocks &* blockBytes
            var pb = UnsafeRawPointer(prepared + g &* blocks &* neonPreparedBlockBytes)
            var out = output + (px &* outC &+ g &* gOut)
            var remaining = gOut
            while remaining > 0 {
                let channels = remaining < neonConvBlockChannels ? remaining : neonConvBlockChannels
                if n == 1 {
                    neonConvTile1x4(d, rp.0, weights: w, chunks: chunks, channels: channels, prepared: pb,
                                    output: p.output, out: out)
                } else {
                    neonConvTile2x4(d, rp.0, rp.1, weights: w, chunks: chunks, pixels: n < 2 ? n : 2,
                                    channels: channels, prepared: pb, output: p.output, out: out, outStride: outC)
                    if n > 2 {
                        neonConvTile2x4(d, rp.2, rp.3, weights: w, chunks: chunks, pixels: n &- 2,
                                        channels: channels, prepared: pb, output: p.output,
                                        out: out + 2 &* outC, outStride: outC)
                    }
                }
                w += blockBytes
                pb += neonPreparedBlockBytes
                out += neonConvBlockChannels
                remaining &-= neonConvBlockChannels
            }
        }
        px += n
    }
}
