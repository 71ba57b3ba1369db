// HostWide convolution for AVX-512 VNNI ("vnni" variant): a direct (implicit-GEMM) convolution whose inner step is
// `vpdpbusd`, 64 unsigned-by-signed byte products per instruction. Bit-exact twin of `conv2dReference` for every
// kernel size, stride, padding, dilation, group count and zero point (tested in KernelsHostWideTests).
//
// Offset trick (uint8 activations). `vpdpbusd` multiplies UNSIGNED bytes by signed bytes, so the kernel reads the
// input as u = q + 128 ∈ [0, 255] (q XOR 0x80) and every padded position as u_z = z_in + 128 ∈ [0, 255]. For
// output channel o with weights w_k (zero for the packing's pad lanes) and receptive field u_k (u_z in the padding):
//
//     Σ_k u_k · w_k − (z_in + 128) · Σ_k w_k  =  Σ_k (u_k − z_in − 128) · w_k  =  Σ_{k in image} (q_k − z_in) · w_k
//
// because a padded term is (u_z − z_in − 128) · w_k = 0: the right side is exactly the reference's sum, which skips
// the padding. Every quantity is an integer and `vpdpbusd` adds modulo 2^32 without saturation (each 4-product
// group is exact: |Σ| ≤ 4 · 255 · 128), so the int32 accumulator equals the reference's sum modulo 2^32, and the
// sum after adding `bias[o] − (z_in + 128) · Σ_k w_k` (also wrapping) equals the reference's `bias + Σ` modulo
// 2^32; the quantizer bounds that value below 2^31 in magnitude (K · 255 · 127 + |bias| < 2^31), so the two are
// equal as int32. The weight sums Σ_k w_k are computed once, at packing (|Σ| ≤ 127 · K).
//
// Data. The input is copied once per call into scratch as the padded uint8 image `[H + pt + pb][W + pl + pr][C]`
// (borders u_z), so every tap of every output pixel is an in-bounds load: output pixel (oy, ox), tap (ky, kx),
// group g reads `C_g` bytes at `((oy·sy + ky·dy) · Wp + ox·sx + kx·dx) · C + g · C_g`. The taps' offsets from the
// pixel's origin are the same for every pixel (one table), so tiles run over the flattened output pixels, across
// row ends. Weights are packed once as `[group][pass][tap][quad][block in pass][16 channels][4 bytes]` (quads of
// 4 input channels, zero-padded to `⌈C_g/4⌉·4`; channels past O/groups zero), followed by the weight sums.
//
// Tile: 6 output pixels × up to 4 vectors of 16 output channels (24 zmm accumulators of the 32), one pass over a
// run of 1–4 channel blocks chosen so the passes are as even as possible (9 blocks → 3 + 3 + 3). Per quad: 1–4
// weight loads, 6 broadcasts of a pixel's 4 bytes, 6–24 `vpdpbusd`. The last 3 bytes of a quad may belong to the
// next group, pixel or the scratch's slack; their weights are 0, so they add nothing. Then
// `hostWideRequantize16` per 16 channels for all 6 pixels, then a 16-byte store per block (the last block of a group
// stores only its channels, with one masked store on AVX-512).
#if arch(x86_64)
import DynQIntrinsics

/// Quads of 4 input channels per tap: `⌈(I/groups)/4⌉`.
@inline(__always)
internal func hostWideConvQuads(_ p: Conv2DParams) -> Int { (p.groupInputChannels + 3) / 4 }

/// Blocks of 16 output channels per group: `⌈(O/groups)/16⌉`.
@inline(__always)
internal func hostWideConvBlocks(_ p: Conv2DParams) -> Int { (p.groupOutputChannels + 15) / 16 }

/// Pass `i` of a group with `blocks` channel blocks: `⌈blocks/4⌉` passes of as equal sizes (1–4 blocks) as
/// possible, the larger ones first.
@inline(__always)
internal func hostWideConvPass(blocks nb: Int, _ i: Int) -> (start: Int, size: Int) {
    let passes = (nb + 3) / 4, base = nb / passes, extra = nb % passes
    return (i * base + (i < extra ? i : extra), base + (i < extra ? 1 : 0))
}

/// Groups merged into one channel block: the largest divisor m of `groups` with `m · O/groups ≤ 16` when a group has
/// fewer than 16 output channels (Dy-mobile's grouped 3×3 with 6 channels per group: m = 2, 12 of 16 lanes instead of
/// 6), else 1. The VNNI conv runs the layer as `groups / m` groups whose weights are block-diagonal: a channel's
/// weights for the input channels of the other merged groups are 0, so their products add nothing (the sum, the
/// offset correction and the proof in the header are unchanged), and a merged group never has more quads per tap
/// than its m groups had (`⌈m·I_g/4⌉ ≤ m·⌈I_g/4⌉`) while it needs one requantization per pixel instead of m.
@inline(__always)
internal func hostWideVNNIMergedGroups(_ p: Conv2DParams) -> Int {
    let gOut = p.groupOutputChannels
    guard p.groups > 1 && gOut < 16 else { return 1 }
    var m = 16 / gOut
    while m > 1 && p.groups % m != 0 { m -= 1 }
    return m
}

/// The layer as the VNNI conv runs it: `groups / hostWideVNNIMergedGroups(p)` groups (same tensors).
@inline(__always)
internal func hostWideVNNIGeometry(_ p: Conv2DParams) -> Conv2DParams {
    var v = p
    v.groups = p.groups / hostWideVNNIMergedGroups(p)
    return v
}

/// Bytes of one group's packed weights: `blocks · taps · quads · 64`.
@inline(__always)
internal func hostWideConvGroupWeightBytes(_ p: Conv2DParams) -> Int {
    hostWideConvBlocks(p) * p.kernelHeight * p.kernelWidth * hostWideConvQuads(p) * 64
}

/// Bytes of the VNNI conv's packed weights: the weight bytes of every (merged) group, then the int32 weight sums
/// `[group][blocks · 16]`.
internal func hostWideVNNIConvPackedBytes(_ p: Conv2DParams) -> Int {
    let v = hostWideVNNIGeometry(p)
    return v.groups * (hostWideConvGroupWeightBytes(v) + hostWideConvBlocks(v) * 16 * 4)
}

/// Packs output channel `o`'s OHWI weights `[kh][kw][I/groups]` (`weights`, `layer`'s groups) and its weight sum
/// into `packed`, laid out for the merged geometry (zeros for the other merged groups' input channels).
/// The last channel of a group also zeroes the lanes of its block's missing channels, so packing every channel once
/// fills the whole buffer.
internal func hostWideVNNIConvPackChannel(_ layer: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                                          into packed: UnsafeMutableRawPointer) {
    let p = hostWideVNNIGeometry(layer)
    let realIn = layer.groupInputChannels, first = (o / layer.groupOutputChannels) % hostWideVNNIMergedGroups(layer)
        * realIn                                        // the channel's own input channels within the merged group
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, qt = hostWideConvQuads(p)
    let nb = hostWideConvBlocks(p), taps = p.kernelHeight * p.kernelWidth
    let g = o / gOut, oc = o - g * gOut, b = oc / 16
    let groupBytes = hostWideConvGroupWeightBytes(p)
    let sums = (packed + p.groups * groupBytes).assumingMemoryBound(to: Int32.self)
    @inline(__always) func lanes(_ b: Int, _ body: (_ base: UnsafeMutableRawPointer, _ rowStride: Int) -> Void) {
        var i = 0
        while true {
            let (start, size) = hostWideConvPass(blocks: nb, i)
            if b < start + size {
                body(packed + g * groupBytes + start * taps * qt * 64 + (b - start) * 64, size * 64)
                return
            }
            i += 1
        }
    }
    lanes(b) { base, rowStride in
        let lane = base + (oc - 16 * b) * 4
        var sum: Int32 = 0
        if gIn % 4 == 0 && gIn == realIn {
            // Whole quads: each is 4 consecutive weight bytes, moved as one word (the per-sample fusion packs every
            // channel of every dynamic conv, so this loop is on the inference path); the sum is a plain loop
            // LLVM vectorizes.
            let k = taps * gIn
            for i in 0..<k { sum &+= Int32(weights[i]) }
            let words = UnsafeRawPointer(weights)
            for r in 0..<(taps * qt) {
                (lane + r * rowStride).storeBytes(of: words.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self),
                                                  as: UInt32.self)
            }
        } else {
            for t in 0..<taps {
                for q in 0..<qt {
                    let d = lane + (t * qt + q) * rowStride
                    for j in 0..<4 {
                        let i = 4 * q + j
                        let v: Int8 = i >= first && i < first + realIn ? weights[t * realIn + i - first] : 0
                        d.storeBytes(of: v, toByteOffset: j, as: Int8.self)
                        sum &+= Int32(v)
                    }
                }
            }
        }
        sums[g * nb * 16 + oc] = sum
        if oc == gOut - 1 {
            for m in (oc - 16 * b + 1)..<16 {
                sums[g * nb * 16 + 16 * b + m] = 0
                for r in 0..<(taps * qt) {
                    (base + m * 4 + r * rowStride).storeBytes(of: UInt32(0), as: UInt32.self)
                }
            }
        }
    }
}

/// Packs OHWI int8 weights for the VNNI conv (layout in the file header). Done once at load time.
internal func hostWideVNNIConvPack(_ p: Conv2DParams, weights: UnsafePointer<Int8>, into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel
    for o in 0..<p.outputChannels {
        hostWideVNNIConvPackChannel(p, channel: o, weights: weights + o * k, into: packed)
    }
}

/// Padded image geometry: `(rows, columns)`.
@inline(__always)
internal func hostWidePaddedImage(_ p: Conv2DParams) -> (rows: Int, columns: Int) {
    (p.inputHeight + p.padding.top + p.padding.bottom, p.inputWidth + p.padding.left + p.padding.right)
}

/// Scratch bytes of the VNNI conv: prepared requantization blocks (`groups · blocks · 512`), the tap offsets, then
/// the padded uint8 image plus 64 bytes of slack.
internal func hostWideVNNIConvScratchBytes(_ layer: Conv2DParams) -> Int {
    let p = hostWideVNNIGeometry(layer)
    let (rows, cols) = hostWidePaddedImage(p)
    return p.groups * hostWideConvBlocks(p) * hostWideRequantizeBlockBytes
        + p.kernelHeight * p.kernelWidth * MemoryLayout<Int>.stride + rows * cols * p.inputChannels + 64
}

/// Copies `n` int8 values to uint8 `q + 128` (`q XOR 0x80`), 64 at a time.
@inline(__always)
internal func hostWideToUnsigned(_ src: UnsafePointer<Int8>, _ dst: UnsafeMutableRawPointer, _ n: Int) {
    // 8 × UInt64 lanes: bitwise ops on 64-lane byte vectors are not compiler builtins (lane-by-lane code).
    let flip = SIMD8<UInt64>(repeating: 0x8080_8080_8080_8080)
    var i = 0
    while i + 64 <= n {
        dst.storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<UInt64>.self) ^ flip, toByteOffset: i,
                       as: SIMD8<UInt64>.self)
        i += 64
    }
    while i < n {
        dst.storeBytes(of: UInt8(bitPattern: src[i]) ^ 0x80, toByteOffset: i, as: UInt8.self)
        i += 1
    }
}

/// Writes the padded uint8 image of `input` into `dst` (borders `z_in + 128`).
internal func hostWidePadImage(_ p: Conv2DParams, _ input: UnsafePointer<Int8>, _ dst: UnsafeMutableRawPointer) {
    let (rows, cols) = hostWidePaddedImage(p)
    let c = p.inputChannels, rowBytes = cols * c
    let border = UInt8(truncatingIfNeeded: p.inputZeroPoint &+ 128)
    let top = p.padding.top * rowBytes
    dst.initializeMemory(as: UInt8.self, repeating: border, count: top)
    for y in 0..<p.inputHeight {
        let row = dst + top + y * rowBytes
        row.initializeMemory(as: UInt8.self, repeating: border, count: p.padding.left * c)
        hostWideToUnsigned(input + y * p.inputWidth * c, row + p.padding.left * c, p.inputWidth * c)
        (row + (p.padding.left + p.inputWidth) * c).initializeMemory(as: UInt8.self, repeating: border,
                                                                     count: p.padding.right * c)
    }
    let bottom = top + p.inputHeight * rowBytes
    (dst + bottom).initializeMemory(as: UInt8.self, repeating: border, count: (rows - p.padding.top - p.inputHeight) * rowBytes + 64)
}

/// A pixel's 4 bytes at `p` repeated in all 16 lanes (`vpbroadcastd`).
@inline(__always)
internal func hostWideBroadcast4(_ p: UnsafeRawPointer) -> SIMD64<UInt8> {
    unsafeBitCast(SIMD16<UInt32>(repeating: p.loadUnaligned(as: UInt32.self)), to: SIMD64<UInt8>.self)
}

/// One pixel's `nv` (1...4) requantized channel blocks.
internal typealias HostWideFourBlocks = (SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>, SIMD16<Int8>)

/// Requantizes one pixel's `nv` accumulator vectors (prepared blocks consecutive at `prepared`).
@inline(__always)
internal func hostWideConvRequantize(_ nv: Int, _ a0: SIMD16<Int32>, _ a1: SIMD16<Int32>, _ a2: SIMD16<Int32>,
                                     _ a3: SIMD16<Int32>, _ prepared: UnsafeRawPointer, _ stage: HostWideOutputStage)
    -> HostWideFourBlocks {
    let r0 = hostWideRequantize16(a0, prepared, stage)
    let r1 = nv > 1 ? hostWideRequantize16(a1, prepared + hostWideRequantizeBlockBytes, stage) : r0
    let r2 = nv > 2 ? hostWideRequantize16(a2, prepared + 2 * hostWideRequantizeBlockBytes, stage) : r0
    let r3 = nv > 3 ? hostWideRequantize16(a3, prepared + 3 * hostWideRequantizeBlockBytes, stage) : r0
    return (r0, r1, r2, r3)
}

/// Stores the first `channels` of one pixel's `nv` requantized blocks at `out` (a partial block with one masked
/// store on AVX-512).
@inline(__always)
internal func hostWideConvStore(_ nv: Int, _ r: HostWideFourBlocks, _ out: UnsafeMutablePointer<Int8>,
                                _ channels: Int) {
    @inline(__always) func put(_ v: Int, _ b: SIMD16<Int8>) {
        let n = channels &- 16 &* v
        if n >= 16 {
            UnsafeMutableRawPointer(out + 16 &* v).storeBytes(of: b, as: SIMD16<Int8>.self)
        } else if n > 0 {
            dynq_x86_store_first_i8x16(out + 16 &* v, b, Int32(truncatingIfNeeded: n))
        }
    }
    put(0, r.0)
    if nv > 1 { put(1, r.1) }
    if nv > 2 { put(2, r.2) }
    if nv > 3 { put(3, r.3) }
}

/// The 6-pixel × `nv`·16-channel tile (`nv` a literal 1...4 at every call site). `x.j` is pixel j's origin in the
/// padded image (plus the group's first channel); `taps[t]` the byte offset of tap t; `quads` quads per tap;
/// `weights` the pass's packed weights; `out.j` pixel j's first output of the pass. Stores the first `pixels`
/// pixels and `channels` channels.
@inline(__always)
internal func hostWideConvTile(
    _ nv: Int,
    x: HostWideSixPointers,
    taps: UnsafePointer<Int>, tapCount: Int, quads: Int, weights: UnsafeRawPointer, prepared: UnsafeRawPointer,
    stage: HostWideOutputStage,
    out: HostWideSixOutputs,
    pixels: Int, channels: Int
) {
    let step = nv * 64
    var w = weights
    var a00 = SIMD16<Int32>(), a01 = SIMD16<Int32>(), a02 = SIMD16<Int32>(), a03 = SIMD16<Int32>()
    var a10 = SIMD16<Int32>(), a11 = SIMD16<Int32>(), a12 = SIMD16<Int32>(), a13 = SIMD16<Int32>()
    var a20 = SIMD16<Int32>(), a21 = SIMD16<Int32>(), a22 = SIMD16<Int32>(), a23 = SIMD16<Int32>()
    var a30 = SIMD16<Int32>(), a31 = SIMD16<Int32>(), a32 = SIMD16<Int32>(), a33 = SIMD16<Int32>()
    var a40 = SIMD16<Int32>(), a41 = SIMD16<Int32>(), a42 = SIMD16<Int32>(), a43 = SIMD16<Int32>()
    var a50 = SIMD16<Int32>(), a51 = SIMD16<Int32>(), a52 = SIMD16<Int32>(), a53 = SIMD16<Int32>()
    for t in 0..<tapCount {
        let o = taps[t]
        let p0 = x.0 + o, p1 = x.1 + o, p2 = x.2 + o, p3 = x.3 + o, p4 = x.4 + o, p5 = x.5 + o
        var k = 0
        for _ in 0..<quads {
            let w0 = w.loadUnaligned(as: SIMD64<Int8>.self)
            let w1 = nv > 1 ? w.loadUnaligned(fromByteOffset: 64, as: SIMD64<Int8>.self) : w0
            let w2 = nv > 2 ? w.loadUnaligned(fromByteOffset: 128, as: SIMD64<Int8>.self) : w0
            let w3 = nv > 3 ? w.loadUnaligned(fromByteOffset: 192, as: SIMD64<Int8>.self) : w0
            let b0 = hostWideBroadcast4(p0 + k)
            a00 = dynq_x86_dpbusd(a00, b0, w0)
            if nv > 1 { a01 = dynq_x86_dpbusd(a01, b0, w1) }
            if nv > 2 { a02 = dynq_x86_dpbusd(a02, b0, w2) }
            if nv > 3 { a03 = dynq_x86_dpbusd(a03, b0, w3) }
            let b1 = hostWideBroadcast4(p1 + k)
            a10 = dynq_x86_dpbusd(a10, b1, w0)
            if nv > 1 { a11 = dynq_x86_dpbusd(a11, b1, w1) }
            if nv > 2 { a12 = dynq_x86_dpbusd(a12, b1, w2) }
            if nv > 3 { a13 = dynq_x86_dpbusd(a13, b1, w3) }
            let b2 = hostWideBroadcast4(p2 + k)
            a20 = dynq_x86_dpbusd(a20, b2, w0)
            if nv > 1 { a21 = dynq_x86_dpbusd(a21, b2, w1) }
            if nv > 2 { a22 = dynq_x86_dpbusd(a22, b2, w2) }
            if nv > 3 { a23 = dynq_x86_dpbusd(a23, b2, w3) }
            let b3 = hostWideBroadcast4(p3 + k)
            a30 = dynq_x86_dpbusd(a30, b3, w0)
            if nv > 1 { a31 = dynq_x86_dpbusd(a31, b3, w1) }
            if nv > 2 { a32 = dynq_x86_dpbusd(a32, b3, w2) }
            if nv > 3 { a33 = dynq_x86_dpbusd(a33, b3, w3) }
            let b4 = hostWideBroadcast4(p4 + k)
            a40 = dynq_x86_dpbusd(a40, b4, w0)
            if nv > 1 { a41 = dynq_x86_dpbusd(a41, b4, w1) }
            if nv > 2 { a42 = dynq_x86_dpbusd(a42, b4, w2) }
            if nv > 3 { a43 = dynq_x86_dpbusd(a43, b4, w3) }
            let b5 = hostWideBroadcast4(p5 + k)
            a50 = dynq_x86_dpbusd(a50, b5, w0)
            if nv > 1 { a51 = dynq_x86_dpbusd(a51, b5, w1) }
            if nv > 2 { a52 = dynq_x86_dpbusd(a52, b5, w2) }
            if nv > 3 { a53 = dynq_x86_dpbusd(a53, b5, w3) }
            w += step
            k &+= 4
        }
    }
    // Every pixel is requantized before any store, so the prepared constants are loaded once per tile (an int8
    // store could alias them).
    let r0 = hostWideConvRequantize(nv, a00, a01, a02, a03, prepared, stage)
    let r1 = hostWideConvRequantize(nv, a10, a11, a12, a13, prepared, stage)
    let r2 = hostWideConvRequantize(nv, a20, a21, a22, a23, prepared, stage)
    let r3 = hostWideConvRequantize(nv, a30, a31, a32, a33, prepared, stage)
    let r4 = hostWideConvRequantize(nv, a40, a41, a42, a43, prepared, stage)
    let r5 = hostWideConvRequantize(nv, a50, a51, a52, a53, prepared, stage)
    hostWideConvStore(nv, r0, out.0, channels)
    if pixels > 1 { hostWideConvStore(nv, r1, out.1, channels) }
    if pixels > 2 { hostWideConvStore(nv, r2, out.2, channels) }
    if pixels > 3 { hostWideConvStore(nv, r3, out.3, channels) }
    if pixels > 4 { hostWideConvStore(nv, r4, out.4, channels) }
    if pixels > 5 { hostWideConvStore(nv, r5, out.5, channels) }

}

/// Pointers of a tile's 6 pixel origins and 6 output positions.
internal typealias HostWideSixPointers = (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer,
                                          UnsafeRawPointer, UnsafeRawPointer)
internal typealias HostWideSixOutputs = (UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Int8>,
                                         UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Int8>,
                                         UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Int8>)

/// `hostWideConvTile` for `size` ∈ 1...4 channel blocks: one non-inlined function per size, each with its own
/// copy of the tile specialized for its literal (so each keeps its accumulators in registers).
@inline(__always)
internal func hostWideConvTile(size: Int, x: HostWideSixPointers, taps: UnsafePointer<Int>, tapCount: Int,
                               quads: Int, weights: UnsafeRawPointer, prepared: UnsafeRawPointer,
                               stage: HostWideOutputStage, out: HostWideSixOutputs, pixels: Int, channels: Int) {
    switch size {
    case 1: hostWideConvTile1(x, taps, tapCount, quads, weights, prepared, stage, out, pixels, channels)
    case 2: hostWideConvTile2(x, taps, tapCount, quads, weights, prepared, stage, out, pixels, channels)
    case 3: hostWideConvTile3(x, taps, tapCount, quads, weights, prepared, stage, out, pixels, channels)
    default: hostWideConvTile4(x, taps, tapCount, quads, weights, prepared, stage, out, pixels, channels)
    }
}
@inline(never)
internal func hostWideConvTile1(_ x: HostWideSixPointers, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ stage: HostWideOutputStage,
                                _ out: HostWideSixOutputs, _ pixels: Int, _ channels: Int) {
    hostWideConvTile(1, x: x, taps: taps, tapCount: tapCount, quads: quads, weights: w, prepared: pb, stage: stage,
                     out: out, pixels: pixels, channels: channels)
}
@inline(never)
internal func hostWideConvTile2(_ x: HostWideSixPointers, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ stage: HostWideOutputStage,
                                _ out: HostWideSixOutputs, _ pixels: Int, _ channels: Int) {
    hostWideConvTile(2, x: x, taps: taps, tapCount: tapCount, quads: quads, weights: w, prepared: pb, stage: stage,
                     out: out, pixels: pixels, channels: channels)
}
@inline(never)
internal func hostWideConvTile3(_ x: HostWideSixPointers, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ stage: HostWideOutputStage,
                                _ out: HostWideSixOutputs, _ pixels: Int, _ channels: Int) {
    hostWideConvTile(3, x: x, taps: taps, tapCount: tapCount, quads: quads, weights: w, prepared: pb, stage: stage,
                     out: out, pixels: pixels, channels: channels)
}
@inline(never)
internal func hostWideConvTile4(_ x: HostWideSixPointers, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ stage: HostWideOutputStage,
                                _ out: HostWideSixOutputs, _ pixels: Int, _ channels: Int) {
    hostWideConvTile(4, x: x, taps: taps, tapCount: tapCount, quads: quads, weights: w, prepared: pb, stage: stage,
                     out: out, pixels: pixels, channels: channels)
}

/// The VNNI conv: same contract and results as `conv2dReference`; weights packed by `hostWideVNNIConvPack`,
/// `hostWideVNNIConvScratchBytes(p)` bytes of scratch. Runs the merged geometry (`hostWideVNNIGeometry`).
/// `dispatch`: run the tiles with the run-time dispatched C passes (`.vnni`: dynq_x86_dispatch.h, the CPU must have
/// AVX-512 VNNI; `.avx2`: dynq_x86_avx2.h, the CPU must have AVX2) or the Swift tiles; the results are the same bits.
internal func hostWideVNNIConv(
    _ layer: Conv2DParams, input: UnsafePointer<Int8>, packed: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer, dispatch: HostWideDispatch = HostWideKernels.dispatch
) {
    let p = hostWideVNNIGeometry(layer)
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, nb = hostWideConvBlocks(p)
    let qt = hostWideConvQuads(p), c = p.inputChannels, outC = p.outputChannels
    let tapCount = p.kernelHeight * p.kernelWidth
    let (_, cols) = hostWidePaddedImage(p)
    let groupBytes = hostWideConvGroupWeightBytes(p)
    let sums = (packed + p.groups * groupBytes).assumingMemoryBound(to: Int32.self)
    // Requantization blocks: lane offset bias[o] − (z_in + 128) · Σw[o] (wrapping; see the file header).
    let prepared = scratch
    let zu = p.inputZeroPoint &+ 128
    for g in 0..<p.groups {
        for b in 0..<nb {
            let block = prepared + (g * nb + b) * hostWideRequantizeBlockBytes
            block.initializeMemory(as: UInt8.self, repeating: 0, count: hostWideRequantizeBlockBytes)
            for l in 0..<16 {
                let oc = 16 * b + l
                if oc < gOut {
                    let o = g * gOut + oc
                    let offset = (bias?[o] ?? 0) &- zu &* sums[g * nb * 16 + oc]
                    hostWideRequantizeLane(l, bias: offset, multiplier: multipliers[o], into: block)
                } else {
                    hostWideRequantizeLane(l, bias: 0, multiplier: .zero, into: block)
                }
            }
        }
    }
    let taps = (scratch + p.groups * nb * hostWideRequantizeBlockBytes).bindMemory(to: Int.self, capacity: tapCount)
    for ky in 0..<p.kernelHeight {
        for kx in 0..<p.kernelWidth {
            taps[ky * p.kernelWidth + kx] = (ky * p.dilationY * cols + kx * p.dilationX) * c
        }
    }
    let image = UnsafeMutableRawPointer(taps + tapCount)
    hostWidePadImage(p, input, image)
    let stage = HostWideOutputStage(p.output)
    let outW = p.outputWidth, pixels = p.outputHeight * outW
    let rowStep = p.strideY * cols * c, colStep = p.strideX * c
    for g in 0..<p.groups {
        let passes = (nb + 3) / 4
        for pass in 0..<passes {
            let (start, size) = hostWideConvPass(blocks: nb, pass)
            let w = packed + g * groupBytes + start * tapCount * qt * 64
            let pb = UnsafeRawPointer(prepared + (g * nb + start) * hostWideRequantizeBlockBytes)
            let channels = min(gOut - 16 * start, 16 * size)
            let imageBase = UnsafeRawPointer(image) + g * gIn
            let outBase = output + g * gOut + 16 * start
            if dispatch != .swift {
                var args = dynq_x86_vnni_conv_pass(
                    image: imageBase.assumingMemoryBound(to: UInt8.self), weights: w.assumingMemoryBound(to: Int8.self),
                    prepared: pb.assumingMemoryBound(to: UInt8.self), taps: UnsafePointer(taps), output: outBase,
                    tapCount: tapCount, quads: qt, outputChannels: outC, channels: channels, outputWidth: outW,
                    pixels: pixels, rowStep: rowStep, colStep: colStep, activationMin: p.output.activationMin,
                    activationMax: p.output.activationMax, zeroPoint: p.output.zeroPoint)
                if dispatch == .vnni { dynq_x86_vnni_conv_pass_run(&args, size) }
                else { dynq_x86_avx2_conv_pass_run(&args, size) }
                continue
            }
            var px = 0, oy = 0, ox = 0
            while px < pixels {
                let n = min(6, pixels - px)
                // Origins and outputs of the tile's pixels (past the end: the last one again, not stored).
                @inline(__always) func take(_ j: Int, _ prev: (UnsafeRawPointer, UnsafeMutablePointer<Int8>))
                    -> (UnsafeRawPointer, UnsafeMutablePointer<Int8>) {
                    if j >= n { return prev }
                    let r = (imageBase + oy * rowStep + ox * colStep, outBase + (px + j) * outC)
                    ox += 1
                    if ox == outW { ox = 0; oy += 1 }
                    return r
                }
                let t0 = take(0, (imageBase, outBase)), t1 = take(1, t0), t2 = take(2, t1)
                let t3 = take(3, t2), t4 = take(4, t3), t5 = take(5, t4)
                let xs = (t0.0, t1.0, t2.0, t3.0, t4.0, t5.0), os = (t0.1, t1.1, t2.1, t3.1, t4.1, t5.1)
                hostWideConvTile(size: size, x: xs, taps: taps, tapCount: tapCount, quads: qt, weights: w,
                                 prepared: pb, stage: stage, out: os, pixels: n, channels: channels)
                px += n
            }
        }
    }
}
#endif
