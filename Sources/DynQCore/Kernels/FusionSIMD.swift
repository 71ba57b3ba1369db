// SIMD per-sample dynamic kernel fusion: bit-exact twin of `dynamicFusionReference`.
//
// F is computed with `multiplyAddPairs` over pairs of kernels: the int8 weights of kernels t0 and t1 are
// interleaved into int16 `(q_w[t0], q_w[t1])` pairs and multiplied against `(η[t0], η[t1])` pairs, giving
// `η[t0]·q_w[t0] + η[t1]·q_w[t1]` in int32 lanes (|η| ≤ 32767, |q_w| ≤ 127: no pair is (−32768, −32768)). For an
// odd g the last pair repeats kernel t0 against η = 0. The coefficient pair vectors are written to scratch and
// loaded back, so LLVM cannot split the broadcast and keeps `pmaddwd`. The sum
// over t is the reference's int32 sum in another order, exact under the `g ≤ 516` bound. F goes to scratch once,
// then `A = max|F|` (kept as a running vector max while F is computed) and `q_f = round_half_away(127·F/A)` — the
// division done by a per-channel reciprocal with an exact one-step correction (`FusionRowDivider`, 4 lanes with
// 32×32-bit multiplies; `FusionDivider` for the last K mod 4), the same integer as `roundingDivide`.

/// Exact `round_half_away(127 · f / a)` for `|f| ≤ a`, `0 < a < 2^31`, without a division per element.
///
/// `q = ⌊N / D⌋` with `N = 254·|f| + a`, `D = 2a` (round half up of `127|f|/a`, then the sign of f: half away from
/// zero). With `R = ⌊2^40 / D⌋`: `N < 255a ≤ 2^39`, so `N·R < 255·2^39 < 2^64`, and
/// `N/D − ½ < N·R/2^40 ≤ N/D` (the error `N·(2^40/D − R)/2^40 < N/2^40 < ½`), hence `⌊N·R/2^40⌋ ∈ {q − 1, q}`:
/// one comparison corrects it.
@frozen
public struct FusionDivider {
    public let a: UInt64
    public let d: UInt64
    public let reciprocal: UInt64

    @inlinable
    public init(divisor a: Int32) {
        precondition(a > 0, "FusionDivider: divisor must be positive")
        self.a = UInt64(a)
        self.d = 2 * UInt64(a)
        self.reciprocal = (UInt64(1) << 40) / (2 * UInt64(a))
    }

    /// `round_half_away(127 · f / a)`; requires `|f| ≤ a`.
    @inlinable @inline(__always)
    public func fusedValue(_ f: Int32) -> Int8 {
        let n = 254 &* UInt64(f.magnitude) &+ a
        var q = (n &* reciprocal) &>> 40
        if (q &+ 1) &* d <= n { q &+= 1 }
        let v = Int32(truncatingIfNeeded: q)
        return Int8(truncatingIfNeeded: f < 0 ? 0 &- v : v)
    }
}

/// Exact `round_half_away(127 · f / a)` for 4 lanes at once, `|f| ≤ a`, `0 < a < 2^31`, with 32×32→64-bit
/// multiplies only (x86 `pmuludq`) and one shift count per row (all lanes share `a`).
///
/// With `u = |f|`, `L = ⌊log2 a⌋`, `s = 25 + L` and `R = ⌊127·2^s / a⌋ < 2^32`:
/// `q̃ = ⌊(u·R + 2^(s−1)) / 2^s⌋`. Since `0 ≤ 127u/a − u·R/2^s < u/2^s < 2^−24`, `q̃` is the wanted
/// `q = ⌊127u/a + ½⌋ = ⌊(254u + a) / 2a⌋` or `q − 1`; and `q ≥ q̃ + 1 ⟺ (2q̃ + 1)·a ≤ 254u`, compared in 64 bits
/// (both sides < 2^40). The sign of f is applied last (half away from zero).
@frozen
public struct FusionRowDivider {
    public let a: UInt64
    public let reciprocal: UInt64
    public let shift: UInt64

    @inlinable
    public init(divisor a: Int32) {
        precondition(a > 0, "FusionRowDivider: divisor must be positive")
        let l = UInt64(31 - a.leadingZeroBitCount)                 // ⌊log2 a⌋
        self.a = UInt64(a)
        self.shift = 25 + l
        self.reciprocal = (UInt64(127) << (25 + l)) / UInt64(a)
    }

    /// `round_half_away(127 · f / a)` of 4 lanes as int32 (each in [−127, 127]).
    @inlinable @inline(__always)
    public func fusedValues(_ f: SIMD4<Int32>) -> SIMD4<Int32> {
        let sign = f &>> 31
        let u = unsafeBitCast((f ^ sign) &- sign, to: SIMD2<UInt64>.self)
        let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
        // Operands built from 32-bit values, so that LLVM sees their high halves are zero and emits one `pmuludq`.
        let r = SIMD2<UInt64>(repeating: UInt64(UInt32(truncatingIfNeeded: reciprocal)))
        let av = SIMD2<UInt64>(repeating: UInt64(UInt32(truncatingIfNeeded: a)))
        let half = SIMD2<UInt64>(repeating: UInt64(1) << (shift - 1)), n = SIMD2<UInt64>(repeating: shift)
        let one = SIMD2<UInt64>(repeating: 1), c254 = SIMD2<UInt64>(repeating: 254)
        @inline(__always) func lane(_ u: SIMD2<UInt64>) -> SIMD2<UInt64> {
            let q = ((u &* r) &+ half) &>> n
            let lhs = ((q &+ q &+ one) & low) &* av                // (2q̃ + 1)·a
            let rhs = u &* c254                                    // 254u
            return q &+ one &- ((rhs &- lhs) &>> 63)               // + 1 unless rhs < lhs
        }
        let qE = lane(u & low), qO = lane(u &>> 32)
        let q = unsafeBitCast((qE & low) | (qO &<< 32), to: SIMD4<Int32>.self)
        return (q ^ sign) &- sign
    }
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
/// packed for the SIMD `conv2d` right after it is computed (`packConv2dChannel`, while its row is in cache), so
/// `packed` ends equal to `packConv2dWeights(conv, weights: fusedKernel)`; `conv` must be the layer the fusion
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
    packed: UnsafeMutableRawPointer? = nil
) {
    let g = p.kernelCount, o = p.outputChannels, k = p.elementsPerChannel
    let kernelSize = o * k
    let pairs = (g + 1) / 2
    let perChannel = p.coefficients == .perChannel
    @inline(__always) func eta(_ ch: Int, _ t: Int) -> Int16 {
        t >= g ? 0 : (perChannel ? coefficients[ch * g + t] : coefficients[t])
    }
    /// Writes channel ch's bias and multiplier for `A = a`; returns the divisor `max(a, 1)`.
    @inline(__always) func finishChannel(_ ch: Int, _ a: Int32) -> Int32 {
        let d = fusionDivisor(a)
        var b: Int64 = 0
        if let mb = mixedBias {
            for t in 0..<g { b &+= Int64(eta(ch, t)) &* Int64(mb[t * o + ch]) }
        }
        if let sb = staticBias { b &+= Int64(sb[ch]) &<< 15 }
        biasAccumulator[ch] = fusedBias(b, divisor: d, terms: p.elementsPerChannel)
        multipliers[ch] = staticMultipliers[ch].scaledByFusionMax(d)
        return d
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
            var e = 0
            var maxLo = SIMD4<Int32>(), maxHi = SIMD4<Int32>()   // running max of |F| (|F| < 2^31)
            while e < vectorEnd {
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
                e += 8
            }
            var a: Int32 = 0
            for l in 0..<4 {
                a = maxLo[l] > a ? maxLo[l] : a
                a = maxHi[l] > a ? maxHi[l] : a
            }
            while e < k {
                var s: Int32 = 0
                for t in 0..<g { s &+= Int32(eta(ch, t)) &* Int32(kernels[t * kernelSize + row + e]) }
                f[e] = s
                let m = s < 0 ? 0 &- s : s
                a = m > a ? m : a
                e += 1
            }
            let d = finishChannel(ch, a)
            let rowDiv = FusionRowDivider(divisor: d)
            let out = fusedKernel + row
            var i = 0
            while i + 4 <= k {
                let v = rowDiv.fusedValues(UnsafeRawPointer(f + i).loadUnaligned(as: SIMD4<Int32>.self))
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: SIMD4<Int8>(Int8(truncatingIfNeeded: v[0]), Int8(truncatingIfNeeded: v[1]),
                                    Int8(truncatingIfNeeded: v[2]), Int8(truncatingIfNeeded: v[3])),
                    as: SIMD4<Int8>.self)
                i += 4
            }
            if i < k {                                        // K mod 4 tail
                let div = FusionDivider(divisor: d)
                while i < k { out[i] = div.fusedValue(f[i]); i += 1 }
            }
            if let conv, let packed { packConv2dChannel(conv, channel: ch, weights: out, into: packed) }
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
            let div = FusionDivider(divisor: finishChannel(ch, a))
            for e in 0..<k { fusedKernel[e * o + ch] = div.fusedValue(f[e * o + ch]) }
        }
    }
}
