// HostWide pixel-lane convolution for AVX-512 VNNI ("vnniPixels" variant): `vpdpbusd` with output PIXELS in the
// lanes, for layers whose output channels per group are too few to fill 16-lane channel blocks (Dy-mobile's grouped
// 3×3 convs with 6 channels per group, its thin 1×1 convs with 18–24 outputs). Bit-exact twin of `conv2dReference`
// for every kernel size, stride, padding, dilation and group count.
//
// Lanes: lane p of an accumulator is output pixel `ox0 + p` (a strip of 16 pixels of one output row) of one output
// channel. Offset trick as in HostWideConvVNNI.swift: the input is read as u = q + 128 and padding as
// u_z = z_in + 128, and each channel's accumulator is corrected by `bias − (z_in + 128)·Σw` (the same in every lane),
// so the int32 sum equals the reference's modulo 2^32, hence exactly (proof there).
//
// Data: input rows are converted once into a uint8 row cache in a quad-planar layout
// `[plane][phase][column][4 bytes]`: plane `P = group·⌈I_g/4⌉ + q` holds input channels `4q ..< 4q + 4` of one group
// (bytes past I_g are u_z; their weights are 0), phase `f ∈ 0..<strideX` the padded columns `X ≡ f (mod strideX)` at
// index `X / strideX`. So for output pixels `ox0 ..< ox0 + 16` and tap kx the 16 input quads are 64 contiguous bytes,
// for every stride and dilation: padded column `X = ox·strideX + kx·dilationX` is in phase `(kx·dilationX) mod
// strideX` at index `ox + (kx·dilationX) / strideX`. Cells outside the image hold u_z; rows outside the image read a
// row of u_z.
//
// Per (tap, quad): one 64-byte load of the strip's input quads, then for each of the pass's 1–16 output channels a
// broadcast of its 4 weights and a `vpdpbusd`. Weights are packed `[group][pass][tap][quad][channel in pass][4]`,
// then the int32 weight sums `[O]`. Each channel's 16 pixel sums are requantized with a prepared block whose 16
// lanes all hold that channel's constants (`hostWideRequantize16`), and the bytes go to the output at a stride of O.
#if arch(x86_64)
import DynQIntrinsics

/// Output pixels per strip (the lanes of one accumulator).
internal let hostWidePixelStrip = 16

/// Quads of 4 input channels per group, `⌈I_g/4⌉`.
@inline(__always)
internal func hostWidePixelQuads(_ p: Conv2DParams) -> Int { (p.groupInputChannels + 3) / 4 }

/// Pass `i` over a group's `gOut` output channels: `⌈gOut/16⌉` passes of as equal sizes as possible.
@inline(__always)
internal func hostWidePixelPass(channels gOut: Int, _ i: Int) -> (start: Int, size: Int) {
    let passes = (gOut + 15) / 16, base = gOut / passes, extra = gOut % passes
    return (i * base + (i < extra ? i : extra), base + (i < extra ? 1 : 0))
}

/// Row cache geometry: cached rows, columns per phase plane, bytes per cached row.
@inline(__always)
internal func hostWidePixelCache(_ p: Conv2DParams) -> (rows: Int, columns: Int, rowBytes: Int) {
    let reach = (p.kernelWidth - 1) * p.dilationX / p.strideX
    let readColumns = (p.outputWidth + hostWidePixelStrip - 1) / hostWidePixelStrip * hostWidePixelStrip + reach
    let imageColumns = (p.inputWidth + p.padding.left - 1) / p.strideX + 1
    let columns = max(readColumns, imageColumns)
    let planes = p.groups * hostWidePixelQuads(p)
    return (p.dilationY * (p.kernelHeight - 1) + 1, columns, planes * p.strideX * columns * 4)
}

/// Bytes of one group's packed weights.
@inline(__always)
internal func hostWidePixelGroupBytes(_ p: Conv2DParams) -> Int {
    p.kernelHeight * p.kernelWidth * hostWidePixelQuads(p) * p.groupOutputChannels * 4
}

/// Bytes of the pixel-lane conv's packed weights: every group's weights, then the int32 weight sums `[O]`.
internal func hostWidePixelPackedBytes(_ p: Conv2DParams) -> Int {
    p.groups * hostWidePixelGroupBytes(p) + p.outputChannels * 4
}

/// Packs output channel `o`'s OHWI weights `[kh][kw][I_g]` (and its weight sum) into the pixel-lane layout.
internal func hostWidePixelPackChannel(_ p: Conv2DParams, channel o: Int, weights: UnsafePointer<Int8>,
                                       into packed: UnsafeMutableRawPointer) {
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, qg = hostWidePixelQuads(p)
    let taps = p.kernelHeight * p.kernelWidth
    let g = o / gOut, oc = o - g * gOut
    var i = 0
    while true {
        let (start, size) = hostWidePixelPass(channels: gOut, i)
        if oc < start + size {
            let base = packed + g * hostWidePixelGroupBytes(p) + taps * qg * start * 4 + (oc - start) * 4
            var sum: Int32 = 0
            for t in 0..<taps {
                for q in 0..<qg {
                    for k in 0..<4 {
                        let ch = 4 * q + k
                        let v: Int8 = ch < gIn ? weights[t * gIn + ch] : 0
                        base.storeBytes(of: v, toByteOffset: ((t * qg + q) * size) * 4 + k, as: Int8.self)
                        sum &+= Int32(v)
                    }
                }
            }
            (packed + p.groups * hostWidePixelGroupBytes(p)).storeBytes(of: sum, toByteOffset: 4 * o, as: Int32.self)
            return
        }
        i += 1
    }
}

/// Packs OHWI int8 weights for the pixel-lane conv.
internal func hostWidePixelPack(_ p: Conv2DParams, weights: UnsafePointer<Int8>, into packed: UnsafeMutableRawPointer) {
    let k = p.weightsPerOutputChannel
    for o in 0..<p.outputChannels { hostWidePixelPackChannel(p, channel: o, weights: weights + o * k, into: packed) }
}

/// Scratch bytes: prepared requantization blocks (one per output channel), row tags and tap offsets (`Int`), then the
/// row cache, its border row and 64 bytes of slack.
internal func hostWidePixelScratchBytes(_ p: Conv2DParams) -> Int {
    let (rows, _, rowBytes) = hostWidePixelCache(p)
    return p.outputChannels * hostWideRequantizeBlockBytes
        + (rows + p.kernelHeight * p.kernelWidth) * MemoryLayout<Int>.stride + (rows + 1) * rowBytes + 64
}

/// 4 weight bytes at `p` repeated in all 16 lanes.
@inline(__always)
internal func hostWideBroadcastWeight4(_ p: UnsafeRawPointer) -> SIMD64<Int8> {
    unsafeBitCast(SIMD16<UInt32>(repeating: p.loadUnaligned(as: UInt32.self)), to: SIMD64<Int8>.self)
}

/// Requantizes one channel's 16 pixel sums and stores the first `pixels` bytes at `out`, `outStride` apart.
@inline(__always)
internal func hostWidePixelStore(_ a: SIMD16<Int32>, _ pb: UnsafeRawPointer, _ stage: HostWideOutputStage,
                                 _ out: UnsafeMutablePointer<Int8>, _ outStride: Int, _ pixels: Int) {
    let r = hostWideRequantize16(a, pb, stage)
    if pixels == hostWidePixelStrip {
        for k in 0..<16 { out[k * outStride] = r[k] }
    } else {
        for k in 0..<pixels { out[k * outStride] = r[k] }
    }
}

/// The pixel-lane tile: `n` (a literal 1...16) output channels × 16 pixels. `x` is the strip's first quad in the
/// group's first plane; `taps[t]` tap t's byte offset; consecutive planes `planeBytes` apart; `weights` the pass's
/// packed weights; `prepared` the pass's first channel block; `out` the strip's first output of the pass's first
/// channel.
@inline(__always)
internal func hostWidePixelTile(
    _ n: Int, x: UnsafeRawPointer, taps: UnsafePointer<Int>, tapCount: Int, quads: Int, planeBytes: Int,
    weights: UnsafeRawPointer, prepared: UnsafeRawPointer, stage: HostWideOutputStage,
    out: UnsafeMutablePointer<Int8>, outStride: Int, pixels: Int
) {
    var a0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), a2 = SIMD16<Int32>(), a3 = SIMD16<Int32>()
    var a4 = SIMD16<Int32>(), a5 = SIMD16<Int32>(), a6 = SIMD16<Int32>(), a7 = SIMD16<Int32>()
    var a8 = SIMD16<Int32>(), a9 = SIMD16<Int32>(), a10 = SIMD16<Int32>(), a11 = SIMD16<Int32>()
    var a12 = SIMD16<Int32>(), a13 = SIMD16<Int32>(), a14 = SIMD16<Int32>(), a15 = SIMD16<Int32>()
    var w = weights
    let step = 4 * n
    for t in 0..<tapCount {
        var xp = x + taps[t]
        for _ in 0..<quads {
            let v = xp.loadUnaligned(as: SIMD64<UInt8>.self)
            a0 = dynq_x86_dpbusd(a0, v, hostWideBroadcastWeight4(w))
            if n > 1 { a1 = dynq_x86_dpbusd(a1, v, hostWideBroadcastWeight4(w + 4)) }
            if n > 2 { a2 = dynq_x86_dpbusd(a2, v, hostWideBroadcastWeight4(w + 8)) }
            if n > 3 { a3 = dynq_x86_dpbusd(a3, v, hostWideBroadcastWeight4(w + 12)) }
            if n > 4 { a4 = dynq_x86_dpbusd(a4, v, hostWideBroadcastWeight4(w + 16)) }
            if n > 5 { a5 = dynq_x86_dpbusd(a5, v, hostWideBroadcastWeight4(w + 20)) }
            if n > 6 { a6 = dynq_x86_dpbusd(a6, v, hostWideBroadcastWeight4(w + 24)) }
            if n > 7 { a7 = dynq_x86_dpbusd(a7, v, hostWideBroadcastWeight4(w + 28)) }
            if n > 8 { a8 = dynq_x86_dpbusd(a8, v, hostWideBroadcastWeight4(w + 32)) }
            if n > 9 { a9 = dynq_x86_dpbusd(a9, v, hostWideBroadcastWeight4(w + 36)) }
            if n > 10 { a10 = dynq_x86_dpbusd(a10, v, hostWideBroadcastWeight4(w + 40)) }
            if n > 11 { a11 = dynq_x86_dpbusd(a11, v, hostWideBroadcastWeight4(w + 44)) }
            if n > 12 { a12 = dynq_x86_dpbusd(a12, v, hostWideBroadcastWeight4(w + 48)) }
            if n > 13 { a13 = dynq_x86_dpbusd(a13, v, hostWideBroadcastWeight4(w + 52)) }
            if n > 14 { a14 = dynq_x86_dpbusd(a14, v, hostWideBroadcastWeight4(w + 56)) }
            if n > 15 { a15 = dynq_x86_dpbusd(a15, v, hostWideBroadcastWeight4(w + 60)) }
            w += step
            xp += planeBytes
        }
    }
    hostWidePixelStore(a0, prepared, stage, out, outStride, pixels)
    if n > 1 { hostWidePixelStore(a1, prepared + 1 * hostWideRequantizeBlockBytes, stage, out + 1, outStride, pixels) }
    if n > 2 { hostWidePixelStore(a2, prepared + 2 * hostWideRequantizeBlockBytes, stage, out + 2, outStride, pixels) }
    if n > 3 { hostWidePixelStore(a3, prepared + 3 * hostWideRequantizeBlockBytes, stage, out + 3, outStride, pixels) }
    if n > 4 { hostWidePixelStore(a4, prepared + 4 * hostWideRequantizeBlockBytes, stage, out + 4, outStride, pixels) }
    if n > 5 { hostWidePixelStore(a5, prepared + 5 * hostWideRequantizeBlockBytes, stage, out + 5, outStride, pixels) }
    if n > 6 { hostWidePixelStore(a6, prepared + 6 * hostWideRequantizeBlockBytes, stage, out + 6, outStride, pixels) }
    if n > 7 { hostWidePixelStore(a7, prepared + 7 * hostWideRequantizeBlockBytes, stage, out + 7, outStride, pixels) }
    if n > 8 { hostWidePixelStore(a8, prepared + 8 * hostWideRequantizeBlockBytes, stage, out + 8, outStride, pixels) }
    if n > 9 { hostWidePixelStore(a9, prepared + 9 * hostWideRequantizeBlockBytes, stage, out + 9, outStride, pixels) }
    if n > 10 { hostWidePixelStore(a10, prepared + 10 * hostWideRequantizeBlockBytes, stage, out + 10, outStride, pixels) }
    if n > 11 { hostWidePixelStore(a11, prepared + 11 * hostWideRequantizeBlockBytes, stage, out + 11, outStride, pixels) }
    if n > 12 { hostWidePixelStore(a12, prepared + 12 * hostWideRequantizeBlockBytes, stage, out + 12, outStride, pixels) }
    if n > 13 { hostWidePixelStore(a13, prepared + 13 * hostWideRequantizeBlockBytes, stage, out + 13, outStride, pixels) }
    if n > 14 { hostWidePixelStore(a14, prepared + 14 * hostWideRequantizeBlockBytes, stage, out + 14, outStride, pixels) }
    if n > 15 { hostWidePixelStore(a15, prepared + 15 * hostWideRequantizeBlockBytes, stage, out + 15, outStride, pixels) }
}

/// `hostWidePixelTile` for `n` ∈ 1...16 output channels: one non-inlined copy per literal.
internal func hostWidePixelTile(size n: Int, x: UnsafeRawPointer, taps: UnsafePointer<Int>, tapCount: Int,
                                 quads: Int, planeBytes: Int, weights: UnsafeRawPointer, prepared: UnsafeRawPointer,
                                 stage: HostWideOutputStage, out: UnsafeMutablePointer<Int8>, outStride: Int,
                                 pixels: Int) {
    switch n {
    case 1: hostWidePixelTile1(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 2: hostWidePixelTile2(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 3: hostWidePixelTile3(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 4: hostWidePixelTile4(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 5: hostWidePixelTile5(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 6: hostWidePixelTile6(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 7: hostWidePixelTile7(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 8: hostWidePixelTile8(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 9: hostWidePixelTile9(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 10: hostWidePixelTile10(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 11: hostWidePixelTile11(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 12: hostWidePixelTile12(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 13: hostWidePixelTile13(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 14: hostWidePixelTile14(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    case 15: hostWidePixelTile15(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    default: hostWidePixelTile16(x, taps, tapCount, quads, planeBytes, weights, prepared, stage, out, outStride, pixels)
    }
}
@inline(never)
internal func hostWidePixelTile1(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(1, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile2(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(2, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile3(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(3, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile4(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(4, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile5(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(5, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile6(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(6, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile7(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(7, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile8(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(8, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile9(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(9, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile10(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(10, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile11(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(11, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile12(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(12, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile13(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(13, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile14(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(14, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile15(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(15, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}
@inline(never)
internal func hostWidePixelTile16(_ x: UnsafeRawPointer, _ taps: UnsafePointer<Int>, _ tapCount: Int, _ quads: Int,
                                 _ planeBytes: Int, _ w: UnsafeRawPointer, _ pb: UnsafeRawPointer,
                                 _ stage: HostWideOutputStage, _ out: UnsafeMutablePointer<Int8>, _ outStride: Int,
                                 _ pixels: Int) {
    hostWidePixelTile(16, x: x, taps: taps, tapCount: tapCount, quads: quads, planeBytes: planeBytes, weights: w,
                      prepared: pb, stage: stage, out: out, outStride: outStride, pixels: pixels)
}

/// The pixel-lane conv: same contract and results as `conv2dReference`; weights packed by `hostWidePixelPack`,
/// `hostWidePixelScratchBytes(p)` bytes of scratch (aligned for `Int`). `dispatched`: run each output row with the
/// run-time dispatched C row (dynq_x86_dispatch.h; the CPU must have AVX-512 VNNI) instead of the Swift tiles; the
/// results are the same bits.
internal func hostWidePixelConv(
    _ p: Conv2DParams, input: UnsafePointer<Int8>, packed: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer, dispatched: Bool = HostWideKernels.dispatchesVNNI
) {
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, qg = hostWidePixelQuads(p)
    let inC = p.inputChannels, outC = p.outputChannels, sx = p.strideX
    let tapCount = p.kernelHeight * p.kernelWidth
    let outH = p.outputHeight, outW = p.outputWidth
    let (rows, columns, rowBytes) = hostWidePixelCache(p)
    let planeBytes = sx * columns * 4
    let sums = (packed + p.groups * hostWidePixelGroupBytes(p)).assumingMemoryBound(to: Int32.self)
    let zu = p.inputZeroPoint &+ 128
    let border = UInt8(truncatingIfNeeded: zu)
    // One prepared block per output channel, the channel's constants in all 16 lanes.
    let prepared = scratch
    for o in 0..<outC {
        let offset = (bias?[o] ?? 0) &- zu &* sums[o]
        let block = prepared + o * hostWideRequantizeBlockBytes
        for l in 0..<16 { hostWideRequantizeLane(l, bias: offset, multiplier: multipliers[o], into: block) }
    }
    let tags = (scratch + outC * hostWideRequantizeBlockBytes).bindMemory(to: Int.self, capacity: rows + tapCount)
    let taps = tags + rows
    let cache = UnsafeMutableRawPointer(taps + tapCount)
    let borderRow = cache + rows * rowBytes
    borderRow.initializeMemory(as: UInt8.self, repeating: border, count: rowBytes + 64)
    for r in 0..<rows { tags[r] = -1 }
    // Bytes of a quad that are input channels: the partial last quad of a group keeps `gIn mod 4` of them, the rest
    // of its bytes become u_z (their weights are 0).
    let inputEnd = input + p.inputCount
    let flip = SIMD16<UInt32>(repeating: 0x8080_8080)
    var laneOffsets = SIMD16<Int32>()
    for l in 0..<16 { laneOffsets[l] = Int32(truncatingIfNeeded: l * sx * inC) }
    let borderWord = UInt32(border) * 0x0101_0101
    @inline(__always) func keepMask(_ q: Int) -> UInt32 {
        let n = min(4, gIn - 4 * q)
        return n == 4 ? UInt32.max : (UInt32(1) << UInt32(8 * n)) &- 1
    }
    @inline(__always) func row(_ iy: Int) -> UnsafeMutableRawPointer {
        if iy < 0 || iy >= p.inputHeight { return borderRow }
        let slot = iy % rows
        let dst = cache + slot * rowBytes
        if tags[slot] == iy { return dst }
        tags[slot] = iy
        let src = input + iy * p.inputWidth * inC
        for f in 0..<sx {
            // Image pixels of phase f: ix = first, first + sx, ... at columns col0, col0 + 1, ...
            let first = ((f - p.padding.left) % sx + sx) % sx
            let count = first < p.inputWidth ? (p.inputWidth - 1 - first) / sx + 1 : 0
            let col0 = (first + p.padding.left) / sx
            for plane in 0..<(p.groups * qg) {
                let g = plane / qg, q = plane - g * qg
                let d = dst + (plane * sx + f) * columns * 4
                // Border columns before and after the image pixels.
                for c in 0..<col0 { d.storeBytes(of: borderWord, toByteOffset: 4 * c, as: UInt32.self) }
                for c in (col0 + count)..<columns { d.storeBytes(of: borderWord, toByteOffset: 4 * c, as: UInt32.self) }
                let keep = keepMask(q), fill = borderWord & ~keep
                let channel = g * gIn + 4 * q
                var j = 0
                if dispatched {
                    // The same gathers in C (dynq_x86_dispatch.h), for every whole 16 whose last quad is inside the
                    // input (the bound is monotone in the block).
                    var blocks = 0
                    while 16 * (blocks + 1) <= count
                            && src + (first + (16 * blocks + 15) * sx) * inC + channel + 4 <= inputEnd { blocks += 1 }
                    dynq_x86_gather_quads_run(src + first * inC + channel, d.assumingMemoryBound(to: UInt8.self)
                                              + 4 * col0, sx * inC, blocks, keep, fill)
                    j = 16 * blocks
                }
                // 16 pixels per gather; a quad read must stay inside the input tensor.
                while j + 16 <= count
                        && src + (first + (j + 15) * sx) * inC + channel + 4 <= inputEnd {
                    let offsets = laneOffsets &+ SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: (first + j * sx) * inC + channel))
                    let v = dynq_x86_gather_u32(src, offsets) ^ flip
                    let w = (v & SIMD16<UInt32>(repeating: keep)) | SIMD16<UInt32>(repeating: fill)
                    d.storeBytes(of: w, toByteOffset: 4 * (col0 + j), as: SIMD16<UInt32>.self)
                    j += 16
                }
                while j < count {
                    let s = src + (first + j * sx) * inC + channel
                    var word = borderWord
                    for k in 0..<min(4, gIn - 4 * q) {
                        let b = UInt32(UInt8(bitPattern: s[k]) ^ 0x80)
                        word = (word & ~(UInt32(0xFF) << UInt32(8 * k))) | (b << UInt32(8 * k))
                    }
                    d.storeBytes(of: word, toByteOffset: 4 * (col0 + j), as: UInt32.self)
                    j += 1
                }
            }
        }
        return dst
    }
    let stage = HostWideOutputStage(p.output)
    for oy in 0..<outH {
        var t = 0
        for ky in 0..<p.kernelHeight {
            let base = row(oy * p.strideY - p.padding.top + ky * p.dilationY)
            for kx in 0..<p.kernelWidth {
                let xx = kx * p.dilationX
                taps[t] = (base - cache) + ((xx % sx) * columns + xx / sx) * 4
                t += 1
            }
        }
        if dispatched {
            var args = dynq_x86_vnni_pixel_row(
                cache: UnsafePointer(cache.assumingMemoryBound(to: UInt8.self)), taps: UnsafePointer(taps),
                weights: packed.assumingMemoryBound(to: Int8.self),
                prepared: UnsafePointer(prepared.assumingMemoryBound(to: UInt8.self)), output: output + oy * outW * outC,
                tapCount: tapCount, quads: qg, planeBytes: planeBytes, groups: p.groups, groupOutputChannels: gOut,
                groupWeightBytes: hostWidePixelGroupBytes(p), outputChannels: outC, outputWidth: outW,
                activationMin: p.output.activationMin, activationMax: p.output.activationMax,
                zeroPoint: p.output.zeroPoint)
            dynq_x86_vnni_pixel_row_run(&args)
            continue
        }
        var ox0 = 0
        while ox0 < outW {
            let pixels = min(hostWidePixelStrip, outW - ox0)
            let out = output + (oy * outW + ox0) * outC
            for g in 0..<p.groups {
                let x = UnsafeRawPointer(cache) + g * qg * planeBytes + ox0 * 4
                var i = 0, done = 0
                while done < gOut {
                    let (start, size) = hostWidePixelPass(channels: gOut, i)
                    let o = g * gOut + start
                    hostWidePixelTile(size: size, x: x, taps: taps, tapCount: tapCount, quads: qg,
                                      planeBytes: planeBytes,
                                      weights: packed + g * hostWidePixelGroupBytes(p) + tapCount * qg * start * 4,
                                      prepared: prepared + o * hostWideRequantizeBlockBytes, stage: stage,
                                      out: out + o, outStride: outC, pixels: pixels)
                    done = start + size
                    i += 1
                }
            }
            ox0 += hostWidePixelStrip
        }
    }
}
#endif
