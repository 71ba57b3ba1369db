// HostWide per-sample kernel fusion for the VNNI convs (`vnni`, `vnniPixels`): the fused kernel is written straight
// into the conv's packed quad layout, with no int8 OHWI kernel in between and no second packing pass. Bit-exact twin
// of `dynamicFusionReference` followed by the variant's packing (`hostWideVNNIConvPack` / `hostWidePixelPack`):
// tested in KernelsHostWideTests.
//
// Per output channel c (`[O][K]` layout, K = kh·kw·I_g):
// 1. F[e] = Σ_t η[c,t]·q_w[t][c][e] for 64, then 16 elements e at a time: each kernel's 16 bytes widened to
//    int32 (`vpmovsxbd`), multiplied by the broadcast η (`vpmulld`) and added in the reference's order t = 0, 1, …, g−1.
//    Every product and partial sum is the reference's int32 arithmetic (|F| ≤ g·32767·127 < 2^31 for g ≤ 516), so
//    F equals the reference's F exactly. A row's last K mod 16 elements are computed by recomputing its last 16
//    (K ≥ 16); rows with K < 16 are computed element by element. A = max|F| is a running 16-lane max. Each
//    kernel's stream is prefetched 512 bytes ahead (the banks, 2.9 MB per Dy-mobile inference, come from L3).
// 2. R = fusionReciprocal(A); the channel's bias and multiplier as in `dynamicFusion` (same functions).
// 3. F is laid out in the packing's order: per tap, the I_g values at the channel's place in its (merged, see
//    `hostWideVNNIMergedGroups`) group's input channels, zeros elsewhere up to the quad boundary (nothing moves when
//    no groups are merged and I_g is a multiple of 4 or the kernel has one tap), zero-padded to a multiple of 16.
// 4. q_f = round_half_away(F·R/2^32) 16 lanes at a time (`hostWideFusedValues16`: 32×32→64-bit unsigned products of
//    |F| and R on the even and odd lanes, the high words), narrowed to int8 (`vpmovdb`; |q_f| ≤ 127 since
//    |F| ≤ A), and each quad's 4 bytes stored as one word at its place in the packed layout (`HostWideFusedQuads`);
//    the quads' int8 values summed in 16 lanes give the weight sum Σ_k q_f (padding quads add 0).
#if arch(x86_64)
import DynQIntrinsics

/// Where one output channel's packed quads and weight sum go: quad r (r = tap·⌈I_g/4⌉ + quad) at
/// `base + r·rowStride`, the int32 weight sum at `sum`. The next `run − 1` channels follow at `base + 4`, `sum + 1`
/// (the rest of the channel block or pass).
@usableFromInline
internal struct HostWideFusedQuads {
    var base: UnsafeMutableRawPointer
    var rowStride: Int
    var sum: UnsafeMutablePointer<Int32>
    var run: Int
}

/// Channel `o`'s destination in the VNNI conv's packing (`hostWideVNNIConvPackChannel`'s layout); `p` is the merged
/// geometry (`hostWideVNNIGeometry`).
@inline(__always)
internal func hostWideVNNIFusedQuads(_ p: Conv2DParams, channel o: Int, packed: UnsafeMutableRawPointer)
    -> HostWideFusedQuads
{
    let gOut = p.groupOutputChannels, qt = hostWideConvQuads(p), nb = hostWideConvBlocks(p)
    let taps = p.kernelHeight * p.kernelWidth, groupBytes = hostWideConvGroupWeightBytes(p)
    let g = o / gOut, oc = o - g * gOut, b = oc / 16
    let sums = (packed + p.groups * groupBytes).assumingMemoryBound(to: Int32.self)
    var i = 0
    while true {
        let (start, size) = hostWideConvPass(blocks: nb, i)
        if b < start + size {
            let base = packed + g * groupBytes + start * taps * qt * 64 + (b - start) * 64 + (oc - 16 * b) * 4
            return HostWideFusedQuads(base: base, rowStride: size * 64, sum: sums + g * nb * 16 + oc,
                                      run: min(16 * (b + 1), gOut) - oc)
        }
        i += 1
    }
}

/// Zeroes every quad row and weight sum of each group's last 16-channel block in the VNNI packing (64-byte row
/// stores), so that the lanes of the channels the block lacks are zero once the channels are written over it (as
/// `hostWideVNNIConvPackChannel` leaves them).
internal func hostWideVNNIZeroLastBlocks(_ p: Conv2DParams, packed: UnsafeMutableRawPointer) {
    let gOut = p.groupOutputChannels
    guard gOut % 16 != 0 else { return }
    let rows = p.kernelHeight * p.kernelWidth * hostWideConvQuads(p), first = gOut / 16 * 16
    for g in 0..<p.groups {
        let d = hostWideVNNIFusedQuads(p, channel: g * gOut + first, packed: packed)
        for r in 0..<rows { (d.base + r &* d.rowStride).storeBytes(of: SIMD8<UInt64>(), as: SIMD8<UInt64>.self) }
        for m in 0..<16 { d.sum[m] = 0 }
    }
}

/// Channel `o`'s destination in the pixel-lane conv's packing (`hostWidePixelPackChannel`'s layout).
@inline(__always)
internal func hostWidePixelFusedQuads(_ p: Conv2DParams, channel o: Int, packed: UnsafeMutableRawPointer)
    -> HostWideFusedQuads
{
    let gOut = p.groupOutputChannels, qg = hostWidePixelQuads(p), taps = p.kernelHeight * p.kernelWidth
    let g = o / gOut, oc = o - g * gOut, groupBytes = hostWidePixelGroupBytes(p)
    let sums = (packed + p.groups * groupBytes).assumingMemoryBound(to: Int32.self)
    var i = 0
    while true {
        let (start, size) = hostWidePixelPass(channels: gOut, i)
        if oc < start + size {
            return HostWideFusedQuads(base: packed + g * groupBytes + taps * qg * start * 4 + (oc - start) * 4,
                                      rowStride: size * 4, sum: sums + o, run: start + size - oc)
        }
        i += 1
    }
}

/// `round_half_away(f · r / 2^32)` of 16 lanes (`fusedKernelValue` lane by lane): `|f| ≤ 2^31` times `r < 2^32`
/// plus 2^31 is below 2^64, so each lane's high word is the rounded magnitude; the sign is put back after.
@inline(__always)
internal func hostWideFusedValues16(_ f: SIMD16<Int32>, _ rr: SIMD8<UInt64>) -> SIMD16<Int32> {
    let sign = f &>> 31
    let u = unsafeBitCast((f ^ sign) &- sign, to: SIMD8<UInt64>.self)
    let low = SIMD8<UInt64>(repeating: 0xFFFF_FFFF), half = SIMD8<UInt64>(repeating: 1 << 31)
    let even = ((u & low) &* rr) &+ half, odd = ((u &>> 32) &* rr) &+ half
    let q = unsafeBitCast((even &>> 32) | (odd & ~low), to: SIMD16<Int32>.self)
    return (q ^ sign) &- sign
}

/// Scratch bytes of `hostWideFuseConv`: the F row (K rounded up to 16, int32) and the quad-ordered row
/// (`kh·kw·⌈I_g/4⌉·4` of the merged geometry, rounded up to 16, int32), 64-byte aligned, then the g coefficients of a channel as int32.
internal func hostWideFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams) -> Int {
    let k = f.elementsPerChannel
    let padded = p.kernelHeight * p.kernelWidth * hostWideConvQuads(hostWideVNNIGeometry(p)) * 4
    return ((k + 15) / 16 + (padded + 15) / 16) * 64 + 64 + f.kernelCount * 4
}

/// The fusion of a conv layer's kernel straight into the packing of `pixelLane ? vnniPixels : vnni` (file header).
/// Same contract as `dynamicFusion` (`.outputMajor` layout) followed by `hostWideVNNIConvPack` /
/// `hostWidePixelPack` of the fused kernel into `packed` (`convPackedWeightBytes` bytes); `scratch` holds
/// `hostWideFusionScratchBytes` bytes. `dispatch`: steps 1 and 4 in the C loops of `.vnni` (dynq_x86_dispatch.h) or
/// `.avx2` (dynq_x86_avx2.h) or in Swift (same bits).
internal func hostWideFuseConv(
    _ f: DynamicFusionParams, _ p: Conv2DParams, pixelLane: Bool,
    kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?, staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    biasAccumulator: UnsafeMutablePointer<Int32>, multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
    packed: UnsafeMutableRawPointer, scratch: UnsafeMutableRawPointer,
    inputMeans: UnsafePointer<Int16>? = nil,
    dispatch: HostWideDispatch = HostWideKernels.dispatch
) {
    precondition(f.layout == .outputMajor, "hostWideFuseConv: conv fusion is [O][K]")
    let g = f.kernelCount, o = f.outputChannels, k = f.elementsPerChannel, kernelSize = o * k
    // The packing's geometry: the VNNI conv merges groups (`hostWideVNNIGeometry`); a channel's own input channels
    // start at `(its group mod merged) · I_g` within its merged group's quads.
    let v = pixelLane ? p : hostWideVNNIGeometry(p), merged = pixelLane ? 1 : hostWideVNNIMergedGroups(p)
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, taps = p.kernelHeight * p.kernelWidth
    let qt = hostWideConvQuads(v), quads = taps * qt, padded = quads * 4
    let perChannel = f.coefficients == .perChannel
    let aligned = (Int(bitPattern: scratch) + 63) & ~63
    let row = UnsafeMutablePointer<Int32>(bitPattern: aligned)!                      // F, (K + 15) / 16 · 16
    let kRounded = (k + 15) / 16 * 16
    let moves = merged > 1 || (gIn % 4 != 0 && taps > 1)
    let quadRow = moves ? row + kRounded : row                                        // F in quad order
    let quadRounded = (padded + 15) / 16 * 16

    if !pixelLane { hostWideVNNIZeroLastBlocks(v, packed: packed) }
    let etaWide = row + kRounded + quadRounded                                       // η[c, t] as int32, [g]
    var dst = HostWideFusedQuads(base: packed, rowStride: 0, sum: etaWide, run: 0)   // looked up when run is 0
    for ch in 0..<o {
        let etaBase = perChannel ? coefficients + ch * g : coefficients
        if ch == 0 || perChannel {
            for t in 0..<g { etaWide[t] = Int32(etaBase[t]) }
        }
        let src = kernels + ch * k
        // 1. F and its running max |F|: 64 elements per pass over the kernels, then 16, then the tail.
        var maxAbs = SIMD16<Int32>()
        @inline(__always) func load16(_ p: UnsafePointer<Int8>) -> SIMD16<Int32> {
            dynq_x86_widen_i8x16_i32(UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int8>.self))
        }
        @inline(__always) func finish16(_ acc: SIMD16<Int32>, _ e: Int) {
            UnsafeMutableRawPointer(row + e).storeBytes(of: acc, as: SIMD16<Int32>.self)
            let s = acc &>> 31
            maxAbs = dynq_x86_max_i32x16(maxAbs, (acc ^ s) &- s)
        }
        @inline(__always) func fuse64(_ e: Int) {
            var a0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), a2 = SIMD16<Int32>(), a3 = SIMD16<Int32>()
            var kp = src + e
            for t in 0..<g {
                let eta = SIMD16<Int32>(repeating: etaWide[t])
                dynq_x86_prefetch(kp + 512)
                a0 &+= load16(kp) &* eta
                a1 &+= load16(kp + 16) &* eta
                a2 &+= load16(kp + 32) &* eta
                a3 &+= load16(kp + 48) &* eta
                kp += kernelSize
            }
            finish16(a0, e); finish16(a1, e + 16); finish16(a2, e + 32); finish16(a3, e + 48)
        }
        @inline(__always) func fuse16(_ e: Int) {
            var acc = SIMD16<Int32>()
            var kp = src + e
            for t in 0..<g {
                dynq_x86_prefetch(kp + 512)
                acc &+= load16(kp) &* SIMD16<Int32>(repeating: etaWide[t])
                kp += kernelSize
            }
            finish16(acc, e)
        }
        var a: Int32 = 0
        if k >= 16 && dispatch == .vnni {
            a = dynq_x86_fuse_row(src, etaWide, g, kernelSize, k, row)  // the same steps in C (dynq_x86_dispatch.h)
        } else if k >= 16 && dispatch == .avx2 {
            a = dynq_x86_avx2_fuse_row(src, etaWide, g, kernelSize, k, row)  // and for AVX2 (dynq_x86_avx2.h)
        } else if k >= 16 {
            var e = 0
            while e + 64 <= k { fuse64(e); e += 64 }
            while e + 16 <= k { fuse16(e); e += 16 }
            if e < k { fuse16(k - 16) }                       // K mod 16 tail: the row's last 16 again
            a = dynq_x86_reduce_max_i32x16(maxAbs)
        } else {
            for e in 0..<k {
                var s: Int32 = 0
                for t in 0..<g { s &+= etaWide[t] &* Int32(kernels[t * kernelSize + ch * k + e]) }
                row[e] = s
                let m = s < 0 ? 0 &- s : s
                a = m > a ? m : a
            }
        }
        // 2. Bias and multiplier (as `dynamicFusion`'s `finishChannel`).
        let r = fusionReciprocal(a)
        var b: Int64 = 0
        if let mb = mixedBias {
            for t in 0..<g { b &+= Int64(etaBase[t]) &* Int64(mb[t * o + ch]) }
        }
        if let sb = staticBias { b &+= Int64(sb[ch]) &<< 15 }
        biasAccumulator[ch] = fusedBias(b, reciprocal: r, terms: k)
        multipliers[ch] = staticMultipliers[ch].scaledByFusionReciprocal(r)
        if let m = inputMeans {                                     // the fused DC correction, from the F row
            let d = fusedDCResidual(f, channel: ch, values: row, stride: 1, reciprocal: r, means: m)
            biasAccumulator[ch] = fusedDCCorrectedBias(biasAccumulator[ch], residual: d, terms: k)
        }
        // 3. Quad order, zero-padded to 16 lanes.
        if moves {
            var z = 0
            while z < quadRounded {
                UnsafeMutableRawPointer(quadRow + z).storeBytes(of: SIMD16<Int32>(), as: SIMD16<Int32>.self)
                z &+= 16
            }
            var s = UnsafePointer(row), d = quadRow + (ch / gOut) % merged &* gIn
            for _ in 0..<taps {
                for i in 0..<gIn { d[i] = s[i] }
                s += gIn; d += qt &* 4
            }
        } else {
            var z = k
            while z < quadRounded { quadRow[z] = 0; z &+= 1 }
        }
        // 4. Rescale, narrow, store quads, sum.
        if dst.run == 0 {
            dst = pixelLane ? hostWidePixelFusedQuads(p, channel: ch, packed: packed)
                : hostWideVNNIFusedQuads(v, channel: ch, packed: packed)
        }
        if dispatch != .swift {                                     // the same steps in C (dynq_x86_dispatch.h)
            let base = dst.base.assumingMemoryBound(to: UInt8.self)
            dst.sum.pointee = dispatch == .vnni ? dynq_x86_fuse_store(quadRow, padded, r, base, dst.rowStride)
                : dynq_x86_avx2_fuse_store(quadRow, padded, r, base, dst.rowStride)
            dst.base += 4; dst.sum += 1; dst.run &-= 1
            continue
        }
        let rr = SIMD8<UInt64>(repeating: UInt64(r))
        var sum = SIMD16<Int32>()
        var i = 0
        while i < padded {
            let v = hostWideFusedValues16(UnsafeRawPointer(quadRow + i).load(as: SIMD16<Int32>.self), rr)
            sum &+= v
            let words = unsafeBitCast(dynq_x86_narrow_i32x16(v), to: SIMD4<UInt32>.self)
            let d = dst.base + (i &>> 2) &* dst.rowStride, rs = dst.rowStride
            if padded &- i >= 16 {
                d.storeBytes(of: words[0], as: UInt32.self)
                (d + rs).storeBytes(of: words[1], as: UInt32.self)
                (d + 2 &* rs).storeBytes(of: words[2], as: UInt32.self)
                (d + 3 &* rs).storeBytes(of: words[3], as: UInt32.self)
            } else {
                for j in 0..<((padded &- i) &>> 2) { (d + j &* rs).storeBytes(of: words[j], as: UInt32.self) }
            }
            i &+= 16
        }
        dst.sum.pointee = sum.wrappedSum()
        dst.base += 4; dst.sum += 1; dst.run &-= 1
    }
}
#endif
