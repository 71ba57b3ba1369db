// HostWide fully connected layer for AVX-512 VNNI: bit-exact twin of `linearReference`. The layer is a 1×1
// convolution of a 1×1 image, so the weights use the VNNI conv's packing (`hostWideVNNIConvPack(p.asConv)`: quads of
// 4 input features × 16 outputs, blocks grouped in passes of 1–4, weight sums after) and the same offset trick: the
// input is read as u = q + 128 (scratch, zero-padded to a whole quad; the pad's weights are 0) and the sum
// `Σ u·w − (z_in + 128)·Σ w` equals the reference's `Σ (q − z_in)·w` modulo 2^32, hence exactly (HostWideConvVNNI.swift
// proves it). Per pass, one broadcast of 4 input bytes feeds 1–4 `vpdpbusd` (two accumulator sets for even and odd
// quads, summed at the end). Each output is requantized with the scalar `OutputQuantization.requantize` (equal to
// `finish(apply(·))`): a fully connected layer uses each output channel's constants once, so preparing vector blocks
// would cost as much as it saves.
#if arch(x86_64)
import DynQIntrinsics

/// One pass of the VNNI linear layer over `nv` (1...4, a literal) blocks: the 16·nv raw sums `Σ u·w`.
@inline(__always)
internal func hostWideLinearPass(_ nv: Int, _ u: UnsafeRawPointer, _ quads: Int, _ weights: UnsafeRawPointer,
                                 _ sums: UnsafeMutableRawPointer) {
    var a0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), a2 = SIMD16<Int32>(), a3 = SIMD16<Int32>()
    var b0 = SIMD16<Int32>(), b1 = SIMD16<Int32>(), b2 = SIMD16<Int32>(), b3 = SIMD16<Int32>()
    let step = nv * 64
    var w = weights, k = 0, q = 0
    while q + 2 <= quads {
        let x = hostWideBroadcast4(u + k), y = hostWideBroadcast4(u + k + 4)
        a0 = dynq_x86_dpbusd(a0, x, w.loadUnaligned(as: SIMD64<Int8>.self))
        b0 = dynq_x86_dpbusd(b0, y, w.loadUnaligned(fromByteOffset: step, as: SIMD64<Int8>.self))
        if nv > 1 {
            a1 = dynq_x86_dpbusd(a1, x, w.loadUnaligned(fromByteOffset: 64, as: SIMD64<Int8>.self))
            b1 = dynq_x86_dpbusd(b1, y, w.loadUnaligned(fromByteOffset: step + 64, as: SIMD64<Int8>.self))
        }
        if nv > 2 {
            a2 = dynq_x86_dpbusd(a2, x, w.loadUnaligned(fromByteOffset: 128, as: SIMD64<Int8>.self))
            b2 = dynq_x86_dpbusd(b2, y, w.loadUnaligned(fromByteOffset: step + 128, as: SIMD64<Int8>.self))
        }
        if nv > 3 {
            a3 = dynq_x86_dpbusd(a3, x, w.loadUnaligned(fromByteOffset: 192, as: SIMD64<Int8>.self))
            b3 = dynq_x86_dpbusd(b3, y, w.loadUnaligned(fromByteOffset: step + 192, as: SIMD64<Int8>.self))
        }
        w += 2 * step; k &+= 8; q += 2
    }
    if q < quads {
        let x = hostWideBroadcast4(u + k)
        a0 = dynq_x86_dpbusd(a0, x, w.loadUnaligned(as: SIMD64<Int8>.self))
        if nv > 1 { a1 = dynq_x86_dpbusd(a1, x, w.loadUnaligned(fromByteOffset: 64, as: SIMD64<Int8>.self)) }
        if nv > 2 { a2 = dynq_x86_dpbusd(a2, x, w.loadUnaligned(fromByteOffset: 128, as: SIMD64<Int8>.self)) }
        if nv > 3 { a3 = dynq_x86_dpbusd(a3, x, w.loadUnaligned(fromByteOffset: 192, as: SIMD64<Int8>.self)) }
    }
    sums.storeBytes(of: a0 &+ b0, as: SIMD16<Int32>.self)
    if nv > 1 { sums.storeBytes(of: a1 &+ b1, toByteOffset: 64, as: SIMD16<Int32>.self) }
    if nv > 2 { sums.storeBytes(of: a2 &+ b2, toByteOffset: 128, as: SIMD16<Int32>.self) }
    if nv > 3 { sums.storeBytes(of: a3 &+ b3, toByteOffset: 192, as: SIMD16<Int32>.self) }
}

@inline(never)
internal func hostWideLinearPass1(_ u: UnsafeRawPointer, _ q: Int, _ w: UnsafeRawPointer, _ s: UnsafeMutableRawPointer) {
    hostWideLinearPass(1, u, q, w, s)
}
@inline(never)
internal func hostWideLinearPass2(_ u: UnsafeRawPointer, _ q: Int, _ w: UnsafeRawPointer, _ s: UnsafeMutableRawPointer) {
    hostWideLinearPass(2, u, q, w, s)
}
@inline(never)
internal func hostWideLinearPass3(_ u: UnsafeRawPointer, _ q: Int, _ w: UnsafeRawPointer, _ s: UnsafeMutableRawPointer) {
    hostWideLinearPass(3, u, q, w, s)
}
@inline(never)
internal func hostWideLinearPass4(_ u: UnsafeRawPointer, _ q: Int, _ w: UnsafeRawPointer, _ s: UnsafeMutableRawPointer) {
    hostWideLinearPass(4, u, q, w, s)
}

/// Scratch of the VNNI linear layer: the pass's sums (256 bytes), then the uint8 input padded to whole quads.
internal func hostWideVNNILinearScratchBytes(_ p: LinearParams) -> Int { 256 + (p.inputFeatures + 3) / 4 * 4 + 64 }

/// The VNNI linear layer: same contract and results as `linearReference`; weights packed by
/// `hostWideVNNIConvPack(p.asConv, …)`. `dispatch`: the loops of the passes (`HostWideDispatch`; same bits).
internal func hostWideVNNILinear(
    _ p: LinearParams, input: UnsafePointer<Int8>, packed: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
    scratch: UnsafeMutableRawPointer, dispatch: HostWideDispatch = HostWideKernels.dispatch
) {
    let conv = p.asConv, f = p.inputFeatures, o = p.outputFeatures
    let quads = hostWideConvQuads(conv), nb = hostWideConvBlocks(conv)
    let sums = (packed + hostWideConvGroupWeightBytes(conv)).assumingMemoryBound(to: Int32.self)
    let acc = scratch, u = scratch + 256
    hostWideToUnsigned(input, u, f)
    (u + f).initializeMemory(as: UInt8.self, repeating: 0, count: quads * 4 - f + 4)
    let zu = p.inputZeroPoint &+ 128, q = p.output
    for pass in 0..<((nb + 3) / 4) {
        let (start, size) = hostWideConvPass(blocks: nb, pass)
        let w = packed + start * quads * 64
        if dispatch == .vnni {
            dynq_x86_vnni_linear_pass_run(u.assumingMemoryBound(to: UInt8.self), quads,
                                          w.assumingMemoryBound(to: Int8.self), acc.assumingMemoryBound(to: Int32.self),
                                          size)
        } else if dispatch == .avx2 {
            dynq_x86_avx2_linear_pass_run(u.assumingMemoryBound(to: UInt8.self), quads,
                                          w.assumingMemoryBound(to: Int8.self), acc.assumingMemoryBound(to: Int32.self),
                                          size)
        } else {
            switch size {
            case 1: hostWideLinearPass1(u, quads, w, acc)
            case 2: hostWideLinearPass2(u, quads, w, acc)
            case 3: hostWideLinearPass3(u, quads, w, acc)
            default: hostWideLinearPass4(u, quads, w, acc)
            }
        }
        let first = 16 * start, n = min(o - first, 16 * size)
        let a = acc.assumingMemoryBound(to: Int32.self)
        for l in 0..<n {
            let ch = first + l
            let x = a[l] &+ (bias?[ch] ?? 0) &- zu &* sums[ch]
            output[ch] = q.requantize(x, multipliers[ch])
        }
    }
}

#endif
