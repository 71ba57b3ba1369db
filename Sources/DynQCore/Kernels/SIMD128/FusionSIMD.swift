// SIMD per-sample dynamic kernel fusion: bit-exact twin of `dynamicFusionReference`.
//
// F is computed with `multiplyAddPairs` over pairs of kernels: the int8 weights of kernels t0 and t1 are
// interleaved into int16 `(q_w[t0], q_w[t1])` pairs and multiplied against `(η[t0], η[t1])` pairs, giving
// `η[t0]·q_w[t0] + η[t1]·q_w[t1]` in int32 lanes (|η| ≤ 32767, |q_w| ≤ 127: no pair is (−32768, −32768)). For an
// odd g the last pair repeats kernel t0 against η = 0. The coefficient pair vectors are written to scratch and
// loaded back, so LLVM cannot split the broadcast and keeps `pmaddwd`. The sum over t is the reference's int32 sum
// in another order, exact under the `g ≤ 516` bound. A row's last K mod 8 elements are computed by recomputing
// the row's last 8 (K ≥ 8), so no element takes a scalar path. F goes to scratch once, then `A = max|F|` (kept as
// a running vector max while F is computed), `R = fusionReciprocal(A)` and `q_f = round_half_away(F·R/2^32)` eight
// lanes at a time, then four (`fusedKernelValues8` / `fusedKernelValues`: `pmuludq` on the even and odd lanes, the
// high words, no shift counts).

/// `round_half_away(f · r / 2^32)` of 4 lanes as int32: `fusedKernelValue` lane by lane, with 32×32→64-bit
/// multiplies only (x86 `pmuludq`). The rounded product's high word is the magnitude (`|f|·r + 2^31 < 2^64`).
@inlinable @inline(__always)
public func fusedKernelValues(_ f: SIMD4<Int32>, reciprocal r: UInt32) -> SIMD4<Int32> {
    let sign = f &>> 31
    let u = unsafeBitCast((f ^ sign) &- sign, to: SIMD2<UInt64>.self)      // |f| ≤ 2^31 as unsigned
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let rr = SIMD2<UInt64>(repeating: UInt64(r)), half = SIMD2<UInt64>(repeating: 1 << 31)
    let even = ((u & low) &* rr) &+ half, odd = ((u &>> 32) &* rr) &+ half
    let q = unsafeBitCast((even &>> 32) | (odd & ~low), to: SIMD4<Int32>.self)
    return (q ^ sign) &- sign
}

/// `fusedKernelValues` of 8 lanes: the same lane arithmetic on 256-bit vectors (one `vpmuludq` per 4 lanes with
/// AVX2; two 128-bit halves with SSE2, as `fusedKernelValues` twice).
@inlinable @inline(__always)
public func fusedKernelValues8(_ f: SIMD8<Int32>, reciprocal r: UInt32) -> SIMD8<Int32> {
    let sign = f &>> 31
    let u = unsafeBitCast((f ^ sign) &- sign, to: SIMD4<UInt64>.self)      // |f| ≤ 2^31 as unsigned
    let low = SIMD4<UInt64>(repeating: 0xFFFF_FFFF)
    let rr = SIMD4<UInt64>(repeating: UInt64(r)), half = SIMD4<UInt64>(repeating: 1 << 31)
    let even = ((u & low) &* rr) &+ half, odd = ((u &>> 32) &* rr) &+ half
    let q = unsafeBitCast((even &>> 32) | (odd & ~low), to: SIMD8<Int32>.self)
    return (q ^ sign) &- sign
}

/// Scratch bytes of `dynamicFusion`: F for one channel (`[O][K]` layout) or for the whole kernel plus the
/// per-channel coefficient pairs (`[K][O]` layout), int32.
public func dynamicFusionScratchBytes(_ p: DynamicFusionParams) -> Int {
    let pairs = (p.kernelCount + 1) / 2
    switch p.layout {
    case .outputMajor:
        return p.elementsPerChannel * 4 + pairs * 16
    case .channelsLast:
        let op = (p.outputChannels + 7) / 8 * 8
        return p.elementsPerChannel * p.outputChannels * 4 + pairs * op * 4
    }
}

/// SIMD fusion: same contract, same outputs as `dynamicFusionReference`, plus `dynamicFusionScratchBytes(p)` bytes
/// of scratch (aligned for Int32).
///
/// With `packFor: conv` and `packed` (`[O][K]` layout only: conv and linear layers), each fused channel is also
/// packed for the SIMD conv right after it is computed (`packConv2dChannel`, or `packGroupedConv2dChannel` when
/// `pixelLane`, while its row is in cache), so `packed` ends equal to that variant's packing of `fusedKernel`; `conv` must be the layer the fusion
/// belongs to (`DynamicFusionParams(kernelCount:conv:coefficients:)`).
public func dynamicFusion(
    _ p: DynamicFusionParams,
    kernels: UnsafePointer<Int8>,
    coefficients: UnsafePointer<Int16>,
    mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?,
    staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    fusedKernel: UnsafeMutablePointer<Int8>,
    biasAccumulator: UnsafeMutablePointer<Int32>,
    multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
    scratch: UnsafeMutableRawPointer,
    packFor conv: Conv2DParams? = nil,
    pixelLane: Bool = false,
    packed: UnsafeMutableRawPointer? = nil,
    inputMeans: UnsafePointer<Int16>? = nil
) {
    let g = p.kernelCount, o = p.outputChannels, k = p.elementsPerChannel
    let kernelSize = o * k
    let pairs = (g + 1) / 2
    let perChannel = p.coefficients == .perChannel
    @inline(__always) func eta(_ ch: Int, _ t: Int) -> Int16 {
        t >= g ? 0 : (perChannel ? coefficients[ch * g + t] : coefficients[t])
    }
    /// Writes channel ch's bias and multiplier for `A = a`; returns the channel's `R = fusionReciprocal(a)`.
    @inline(__always) func finishChannel(_ ch: Int, _ a: Int32) -> UInt32 {
        let r = fusionReciprocal(a)
        var b: Int64 = 0
        if let mb = mixedBias {
            for t in 0..<g { b &+= Int64(eta(ch, t)) &* Int64(mb[t * o + ch]) }
        }
        if let sb = staticBias { b &+= Int64(sb[ch]) &<< 15 }
        biasAccumulator[ch] = fusedBias(b, reciprocal: r, terms: p.elementsPerChannel)
        multipliers[ch] = staticMultipliers[ch].scaledByFusionReciprocal(r)
        return r
    }
    /// The fused DC correction of channel ch (when `inputMeans` is set) from its F row at `values`, `stride` apart.
    @inline(__always) func correctChannel(_ ch: Int, _ values: UnsafePointer<Int32>, _ stride: Int, _ r: UInt32) {
        guard let m = inputMeans else { return }
        let d = fusedDCResidual(p, channel: ch, values: values, stride: stride, reciprocal: r, means: m)
        biasAccumulator[ch] = fusedDCCorrectedBias(biasAccumulator[ch], residual: d, terms: k)
    }
    let vectorEnd = k / 8 * 8
    let fullPairs = g / 2

    switch p.layout {
    case .outputMajor:
        let f = scratch.bindMemory(to: Int32.self, capacity: k)
        let etaVectors = scratch + k * 4                       // [pairs] SIMD8<Int16>: (η[t0], η[t1]) × 4
        for ch in 0..<o {
            let row = ch * k
            if ch == 0 || perChannel {
                for j in 0..<pairs {
                    let e0 = UInt32(UInt16(bitPattern: eta(ch, 2 * j)))
                    let e1 = UInt32(UInt16(bitPattern: eta(ch, 2 * j + 1)))
                    etaVectors.storeBytes(of: SIMD4<UInt32>(repeating: e0 | e1 << 16), toByteOffset: 16 * j,
                                          as: SIMD4<UInt32>.self)
                }
            }
            var maxLo = SIMD4<Int32>(), maxHi = SIMD4<Int32>()   // running max of |F| (|F| < 2^31)
            /// F of elements `e ..< e + 8` to scratch, and into the running max.
            @inline(__always) func fuseBlock(_ e: Int) {
                var lo = SIMD4<Int32>(), hi = SIMD4<Int32>()
                // Kernel t's element at kernels + t·kernelSize + row + e: walk pairs with a pointer (no index
                // products in the loop); an odd g's last pair reads kernel t0 twice against η = 0.
                var k0 = kernels + row + e
                for j in 0..<fullPairs {
                    let (x0, x1) = interleaveWiden(load8(k0), load8(k0 + kernelSize))
                    let ep = load8x16(etaVectors + 16 * j)
                    lo &+= multiplyAddPairs(x0, ep)
                    hi &+= multiplyAddPairs(x1, ep)
                    k0 += 2 * kernelSize
                }
                if fullPairs < pairs {
                    let (x0, x1) = interleaveWiden(load8(k0), load8(k0))
                    let ep = load8x16(etaVectors + 16 * fullPairs)
                    lo &+= multiplyAddPairs(x0, ep)
                    hi &+= multiplyAddPairs(x1, ep)
                }
                UnsafeMutableRawPointer(f + e).storeBytes(of: lo, as: SIMD4<Int32>.self)
                UnsafeMutableRawPointer(f + e + 4).storeBytes(of: hi, as: SIMD4<Int32>.self)
                let sl = lo &>> 31, sh = hi &>> 31
                let al = (lo ^ sl) &- sl, ah = (hi ^ sh) &- sh
                let gl = (maxLo &- al) &>> 31, gh = (maxHi &- ah) &>> 31   // all ones where |F| > max
                maxLo = (maxLo & ~gl) | (al & gl)
                maxHi = (maxHi & ~gh) | (ah & gh)
            }
            var e = 0
            while e < vectorEnd { fuseBlock(e); e += 8 }
            if e < k && k >= 8 { fuseBlock(k - 8); e = k }      // K mod 8 tail: the row's last 8 elements again
            var a: Int32 = 0
            for l in 0..<4 {
                a = maxLo[l] > a ? maxLo[l] : a
                a = maxHi[l] > a ? maxHi[l] : a
            }
            while e < k {                                       // K < 8
                var s: Int32 = 0
                for t in 0..<g { s &+= Int32(eta(ch, t)) &* Int32(kernels[t * kernelSize + row + e]) }
                f[e] = s
                let m = s < 0 ? 0 &- s : s
                a = m > a ? m : a
                e += 1
            }
            let r = finishChannel(ch, a)
            correctChannel(ch, f, 1, r)
            let out = fusedKernel + row
            @inline(__always) func rescale4(_ i: Int) {
                let v = fusedKernelValues(UnsafeRawPointer(f + i).loadUnaligned(as: SIMD4<Int32>.self), reciprocal: r)
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: SIMD4<Int8>(Int8(truncatingIfNeeded: v[0]), Int8(truncatingIfNeeded: v[1]),
                                    Int8(truncatingIfNeeded: v[2]), Int8(truncatingIfNeeded: v[3])),
                    as: SIMD4<Int8>.self)
            }
            @inline(__always) func rescale8(_ i: Int) {
                let v = fusedKernelValues8(UnsafeRawPointer(f + i).loadUnaligned(as: SIMD8<Int32>.self), reciprocal: r)
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: SIMD8<Int8>(Int8(truncatingIfNeeded: v[0]), Int8(truncatingIfNeeded: v[1]),
                                    Int8(truncatingIfNeeded: v[2]), Int8(truncatingIfNeeded: v[3]),
                                    Int8(truncatingIfNeeded: v[4]), Int8(truncatingIfNeeded: v[5]),
                                    Int8(truncatingIfNeeded: v[6]), Int8(truncatingIfNeeded: v[7])),
                    as: SIMD8<Int8>.self)
            }
            var i = 0
            while i + 8 <= k { rescale8(i); i += 8 }
            while i + 4 <= k { rescale4(i); i += 4 }
            if i < k && k >= 4 {                                // K mod 4 tail: the row's last 4 again
                rescale4(k - 4)
            } else {
                while i < k { out[i] = fusedKernelValue(f[i], reciprocal: r); i += 1 }     // K < 4
            }
            if let conv, let packed {
                if pixelLane { packGroupedConv2dChannel(conv, channel: ch, weights: out, into: packed) }
                else { packConv2dChannel(conv, channel: ch, weights: out, into: packed) }
            }
        }

    case .channelsLast:
        let op = (o + 7) / 8 * 8
        let f = scratch.bindMemory(to: Int32.self, capacity: k * o + pairs * op)
        let etaPairs = UnsafeMutableRawPointer(f + k * o)           // [pairs][op] int16 pairs (η[c,t0], η[c,t1])
        for j in 0..<pairs {
            for c in 0..<op {
                let e0 = c < o ? UInt32(UInt16(bitPattern: eta(c, 2 * j))) : 0
                let e1 = c < o ? UInt32(UInt16(bitPattern: eta(c, 2 * j + 1))) : 0
                etaPairs.storeBytes(of: e0 | e1 << 16, toByteOffset: (j * op + c) * 4, as: UInt32.self)
            }
        }
        let cEnd = o / 8 * 8
        for e in 0..<k {
            let row = e * o
            var c = 0
            while c < cEnd {
                var lo = SIMD4<Int32>(), hi = SIMD4<Int32>()
                for j in 0..<pairs {
                    let t0 = 2 * j, t1 = t0 + 1 < g ? t0 + 1 : t0       // odd g: η[t1] = 0 in etaPairs
                    let (x0, x1) = interleaveWiden(load8(kernels + t0 * kernelSize + row + c),
                                                   load8(kernels + t1 * kernelSize + row + c))
                    let ep = UnsafeRawPointer(etaPairs) + (j * op + c) * 4
                    lo &+= multiplyAddPairs(x0, load8x16(ep))
                    hi &+= multiplyAddPairs(x1, load8x16(ep + 16))
                }
                UnsafeMutableRawPointer(f + row + c).storeBytes(of: lo, as: SIMD4<Int32>.self)
                UnsafeMutableRawPointer(f + row + c + 4).storeBytes(of: hi, as: SIMD4<Int32>.self)
                c += 8
            }
            while c < o {
                var s: Int32 = 0
                for t in 0..<g { s &+= Int32(eta(c, t)) &* Int32(kernels[t * kernelSize + row + c]) }
                f[row + c] = s
                c += 1
            }
        }
        for ch in 0..<o {
            var a: Int32 = 0
            for e in 0..<k {
                let v = f[e * o + ch], m = v < 0 ? 0 &- v : v
                a = m > a ? m : a
            }
            let r = finishChannel(ch, a)
            correctChannel(ch, f + ch, o, r)
            for e in 0..<k { fusedKernel[e * o + ch] = fusedKernelValue(f[e * o + ch], reciprocal: r) }
        }
    }
}
