// HostWide per-sample kernel fusion for the VNNI convs (`vnni`, `vnniPixels`): the fused kernel is written straight
// into the conv's packed quad layout, with no int8 OHWI kernel in between and no second packing pass. Bit-exact twin
// of `dynamicFusionReference` followed by the variant's packing (`hostWideVNNIConvPack` / `hostWidePixelPack`):
// tested in KernelsHostWideTests.
//
// Per output channel c (`[O][K]` layout, K = kh·kw·I_g):
// 1. F[e] = Σ_t η[c,t]·q_w[t][c][e] for 16 elements e at a time: each kernel's 16 bytes widened to int32
//    (`vpmovsxbd`), multiplied by the broadcast η (`vpmulld`) and added in the reference's order t = 0, 1, …, g−1.
//    Every product and partial sum is the reference's int32 arithmetic (|F| ≤ g·32767·127 < 2^31 for g ≤ 516), so
//    F equals the reference's F exactly. A row's last K mod 16 elements are computed by recomputing its last 16
//    (K ≥ 16); rows with K < 16 are computed element by element. A = max|F| is a running 16-lane max.
// 2. R = fusionReciprocal(A); the channel's bias and multiplier as in `dynamicFusion` (same functions).
// 3. F is laid out in the packing's order: tap t's I_g values, then zeros up to the quad boundary ⌈I_g/4⌉·4 (nothing
//    moves when I_g is a multiple of 4 or the kernel has one tap), zero-padded to a multiple of 16.
// 4. q_f = round_half_away(F·R/2^32) 16 lanes at a time (`hostWideFusedValues16`: 32×32→64-bit unsigned products of
//    |F| and R on the even and odd lanes, the high words), narrowed to int8 (`vpmovdb`; |q_f| ≤ 127 since
//    |F| ≤ A), and each quad's 4 bytes stored as one word at its place in the packed layout (`HostWideFusedQuads`);
//    the quads' int8 values summed in 16 lanes give the weight sum Σ_k q_f (padding quads add 0).
#if arch(x86_64)
import DynQIntrinsics

/// Where one output channel's packed quads and weight sum go: quad r (r = tap·⌈I_g/4⌉ + quad) at
/// `base + r·rowStride`, the int32 weight sum at `sum`.
@usableFromInline
internal struct HostWideFusedQuads {
    var base: UnsafeMutableRawPointer
    var rowStride: Int
    var sum: UnsafeMutablePointer<Int32>
}

/// Channel `o`'s destination in the VNNI conv's packing (`hostWideVNNIConvPackChannel`'s layout).
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
            return HostWideFusedQuads(base: base, rowStride: size * 64, sum: sums + g * nb * 16 + oc)
        }
        i += 1
    }
}

/// Zeroes the VNNI packing's lanes (quads and weight sums) of the channels a group's last block lacks
/// (`oc ≥ I_g` … up to the block's 16), as `hostWideVNNIConvPackChannel` does for a group's last channel.
@inline(__always)
internal func hostWideVNNIZeroMissingLanes(_ p: Conv2DParams, group g: Int, packed: UnsafeMutableRawPointer) {
    let gOut = p.groupOutputChannels
    let last = hostWideVNNIFusedQuads(p, channel: g * gOut + gOut - 1, packed: packed)
    let oc = gOut - 1, b = oc / 16, rows = p.kernelHeight * p.kernelWidth * hostWideConvQuads(p)
    for m in (oc - 16 * b + 1)..<16 {
        last.sum[m - (oc - 16 * b)] = 0
        for r in 0..<rows {
            (last.base + (m - (oc - 16 * b)) * 4 + r * last.rowStride).storeBytes(of: UInt32(0), as: UInt32.self)
        }
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
                                      rowStride: size * 4, sum: sums + o)
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
/// (`kh·kw·⌈I_g/4⌉·4` rounded up to 16, int32), 64-byte aligned.
internal func hostWideFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams) -> Int {
    let k = f.elementsPerChannel
    let padded = p.kernelHeight * p.kernelWidth * hostWideConvQuads(p) * 4
    return ((k + 15) / 16 + (padded + 15) / 16) * 64 + 64
}

/// The fusion of a conv layer's kernel straight into the packing of `pixelLane ? vnniPixels : vnni` (file header).
/// Same contract as `dynamicFusion` (`.outputMajor` layout) followed by `hostWideVNNIConvPack` /
/// `hostWidePixelPack` of the fused kernel into `packed` (`convPackedWeightBytes` bytes); `scratch` holds
/// `hostWideFusionScratchBytes` bytes.
internal func hostWideFuseConv(
    _ f: DynamicFusionParams, _ p: Conv2DParams, pixelLane: Bool,
    kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?, staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    biasAccumulator: UnsafeMutablePointer<Int32>, multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
    packed: UnsafeMutableRawPointer, scratch: UnsafeMutableRawPointer
) {
    precondition(f.layout == .outputMajor, "hostWideFuseConv: conv fusion is [O][K]")
    let g = f.kernelCount, o = f.outputChannels, k = f.elementsPerChannel, kernelSize = o * k
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels, taps = p.kernelHeight * p.kernelWidth
    let qt = hostWideConvQuads(p), quads = taps * qt, padded = quads * 4
    let perChannel = f.coefficients == .perChannel
    let aligned = (Int(bitPattern: scratch) + 63) & ~63
    let row = UnsafeMutablePointer<Int32>(bitPattern: aligned)!                      // F, (K + 15) / 16 · 16
    let kRounded = (k + 15) / 16 * 16
    let moves = gIn % 4 != 0 && taps > 1
    let quadRow = moves ? row + kRounded : row                                        // F in quad order
    let quadRounded = (padded + 15) / 16 * 16

    for ch in 0..<o {
        let etaBase = perChannel ? coefficients + ch * g : coefficients
        let src = kernels + ch * k
        // 1. F and its running max |F|.
        var maxAbs = SIMD16<Int32>()
        @inline(__always) func fuse16(_ e: Int) {
            var acc = SIMD16<Int32>()
            var kp = src + e
            for t in 0..<g {
                let w = dynq_x86_widen_i8x16_i32(UnsafeRawPointer(kp).loadUnaligned(as: SIMD16<Int8>.self))
                acc &+= w &* SIMD16<Int32>(repeating: Int32(etaBase[t]))
                kp += kernelSize
            }
            UnsafeMutableRawPointer(row + e).storeBytes(of: acc, as: SIMD16<Int32>.self)
            let s = acc &>> 31
            maxAbs = dynq_x86_max_i32x16(maxAbs, (acc ^ s) &- s)
        }
        var a: Int32 = 0
        if k >= 16 {
            var e = 0
            while e + 16 <= k { fuse16(e); e += 16 }
            if e < k { fuse16(k - 16) }                       // K mod 16 tail: the row's last 16 again
            for l in 0..<16 { a = maxAbs[l] > a ? maxAbs[l] : a }
        } else {
            for e in 0..<k {
                var s: Int32 = 0
                for t in 0..<g { s &+= Int32(etaBase[t]) &* Int32(kernels[t * kernelSize + ch * k + e]) }
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
        // 3. Quad order, zero-padded to 16 lanes.
        if moves {
            for t in 0..<taps {
                for i in 0..<gIn { quadRow[t * qt * 4 + i] = row[t * gIn + i] }
                for i in gIn..<(qt * 4) { quadRow[t * qt * 4 + i] = 0 }
            }
        }
        for i in (moves ? padded : k)..<quadRounded { quadRow[i] = 0 }
        // 4. Rescale, narrow, store quads, sum.
        let dst = pixelLane ? hostWidePixelFusedQuads(p, channel: ch, packed: packed)
            : hostWideVNNIFusedQuads(p, channel: ch, packed: packed)
        let rr = SIMD8<UInt64>(repeating: UInt64(r))
        var sum = SIMD16<Int32>()
        var i = 0
        while i < padded {
            let v = hostWideFusedValues16(UnsafeRawPointer(quadRow + i).load(as: SIMD16<Int32>.self), rr)
            sum &+= v
            let words = unsafeBitCast(dynq_x86_narrow_i32x16(v), to: SIMD4<UInt32>.self)
            let q0 = i / 4, n = padded - i >= 16 ? 4 : (padded - i) / 4
            var d = dst.base + q0 * dst.rowStride
            for j in 0..<n { d.storeBytes(of: words[j], as: UInt32.self); d += dst.rowStride }
            i += 16
        }
        dst.sum.pointee = sum.wrappedSum()
        if !pixelLane && (ch % gOut == gOut - 1) {
            hostWideVNNIZeroMissingLanes(p, group: ch / gOut, packed: packed)
        }
    }
}
#endif
