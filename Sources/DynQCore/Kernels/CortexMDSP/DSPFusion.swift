// Cortex-M DSP per-sample dynamic kernel fusion: the fused kernel's values, bias and multipliers equal
// `dynamicFusionReference`'s, written directly in the layout this set's conv2d / depthwiseConv2d read (int8 OHWI,
// int8 `[kh][kw][C]`: the reference layouts), so the conv reads the fusion's output in place: no second copy.
//
// Conv / linear (`[O][K]`): per output channel, `F[k] = Σ_t η[t]·q_w[t][o][k]` for 4 k at a time: one LDR of 4
// int8 weights per kernel, SXTB16 / SXTB16 ROR #8 to int16 lanes, `SMLABB` / `SMLATB` against `η[t]` (1 MAC each;
// |η·q_w| ≤ 32767·127, the int32 sum exact for g ≤ 516 as in the reference), F to scratch with `A = max|F|`, then
// `R = fusionReciprocal(A)` and each `q_f = fusedKernelValue(F, R)` (one SMLAL, `dspFusedValue`), the bias by
// `fusedBias` and the multiplier by `scaledByFusionReciprocal`: the reference's values. So F is computed once per
// element (the reference computes it twice, once for A).
// Depthwise (`[K][O]`, channels fastest): the same per channel, elements strided by O, one MAC at a time (these
// kernels have 9·C elements).
// Per channel, `R` and the multiplier need 64-bit divisions, which a Cortex-M does in software (hundreds of
// instructions each, ~2,000 per channel): `dspFusionReciprocal` and `dspScaledByFusionReciprocal` compute the same
// values with the 32-bit hardware divide (`dspDivide64by32`), bit for bit (tested against `fusionReciprocal` and
// `QuantizedMultiplier.scaledByFusionReciprocal`).

import DynQIntrinsics

extension CortexMDSPKernels {
    /// Bytes of the fused conv kernel: `O·K` int8, OHWI (what `conv2d` reads in place).
    public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int {
        f.kernelElements
    }

    /// Scratch bytes of `fuseConv`: F of one channel, `K` int32.
    public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int {
        4 * f.elementsPerChannel
    }

    /// Bytes of the fused depthwise kernel: `kh·kw·C` int8, `[kh][kw][C]`.
    public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                 _ v: Variant) -> Int {
        f.kernelElements
    }

    /// Scratch bytes of `fuseDepthwise`: F of one channel, `kh·kw` int32.
    public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                   _ v: Variant) -> Int {
        4 * f.elementsPerChannel
    }

    /// Fusion of a conv (or linear) layer, `f.layout == .outputMajor`: writes the fused int8 OHWI kernel to
    /// `a.fusedWeights`, `a.fusedBias[O]`, `a.fusedMultipliers[O]`, equal to `dynamicFusionReference`'s.
    /// `a.scratch`: `convFusionScratchBytes` bytes, 4-byte aligned.
    public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        precondition(f.layout == .outputMajor, "CortexMDSPKernels.fuseConv: needs the [O][K] layout")
        dspFuseOutputMajor(f, a)
    }

    /// Fusion of a depthwise layer, `f.layout == .channelsLast`: writes the fused int8 `[kh][kw][C]` kernel,
    /// bias and multipliers, equal to `dynamicFusionReference`'s. `a.scratch`: `depthwiseFusionScratchBytes` bytes.
    public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                                     _ a: FusionArguments) {
        precondition(f.layout == .channelsLast, "CortexMDSPKernels.fuseDepthwise: needs the [K][O] layout")
        dspFuseChannelsLast(f, a)
    }
}

/// `(⌊(u1·2^32 + u0) / v⌋, remainder)` for `u1 < v` (so the quotient fits 32 bits), with 32-bit divides only:
/// Hacker's Delight's `divlu` (2nd ed., fig. 9-3). The divisor is normalized (top bit set); each of the two 16-bit
/// quotient digits is estimated by one UDIV of the current 32-bit remainder by the divisor's top half, then
/// corrected down at most twice. All products stay below 2^32 where they are compared.
@inline(always)
func dspDivide64by32(_ u1: UInt32, _ u0: UInt32, _ v: UInt32) -> (quotient: UInt32, remainder: UInt32) {
    let b: UInt32 = 1 << 16
    let s = UInt32(truncatingIfNeeded: v.leadingZeroBitCount)
    let vn = v &<< s
    let vn1 = vn &>> 16, vn0 = vn & 0xFFFF
    let un32 = s == 0 ? u1 : (u1 &<< s) | (u0 &>> (32 &- s))
    let un10 = u0 &<< s
    let un1 = un10 &>> 16, un0 = un10 & 0xFFFF
    var q1 = un32 / vn1
    var rhat = un32 &- q1 &* vn1
    while q1 >= b || q1 &* vn0 > b &* rhat &+ un1 {
        q1 &-= 1; rhat &+= vn1
        if rhat >= b { break }
    }
    let un21 = un32 &* b &+ un1 &- q1 &* vn                     // modulo 2^32: the true value is < vn
    var q0 = un21 / vn1
    rhat = un21 &- q0 &* vn1
    while q0 >= b || q0 &* vn0 > b &* rhat &+ un0 {
        q0 &-= 1; rhat &+= vn1
        if rhat >= b { break }
    }
    return (q1 &* b &+ q0, (un21 &* b &+ un0 &- q0 &* vn) &>> s)
}

/// `fusionReciprocal(a)`: `min(⌊127·2^32 / A⌋, 2^32 − 1)`, with 32-bit divides.
@inline(always)
func dspFusionReciprocal(_ a: Int32) -> UInt32 {
    if a <= 127 { return UInt32.max }
    return dspDivide64by32(127, 0, UInt32(bitPattern: a)).quotient              // 127 < A: fits 32 bits
}

/// `q.scaledByFusionReciprocal(r)`: `M = M0 · 2^32 / R` with a single rounding (half up), with 32-bit divides:
/// `whole = ⌊m0·2^32 / R⌋` as a 64-bit quotient in two steps, `m = whole >> s`, and the remainder of
/// `m0·2^32 / (R·2^s)` rebuilt as `R·(whole mod 2^s) + (m0·2^32 mod R)`.
@inline(always)
func dspScaledByFusionReciprocal(_ q: QuantizedMultiplier, _ r: UInt32) -> QuantizedMultiplier {
    if q.multiplier == 0 { return .zero }
    let m0 = UInt32(bitPattern: q.multiplier)
    let high = m0 / r
    let low = dspDivide64by32(m0 &- high &* r, 0, r)
    let whole = UInt64(high) &<< 32 | UInt64(low.quotient)              // ≥ m0 ≥ 2^30
    let s = UInt64(33 &- whole.leadingZeroBitCount)                     // bits − 31
    var m = whole &>> s
    let rem = UInt64(r) &* (whole & ((1 &<< s) &- 1)) &+ UInt64(low.remainder)
    let d = UInt64(r) &<< s                                             // < 2^33
    if rem >= d &- rem { m &+= 1 }
    var e = Int(q.shift) &+ Int(s)
    if m == UInt64(1) << 31 { m = UInt64(1) << 30; e &+= 1 }
    if e > 30 { return QuantizedMultiplier(multiplier: Int32.max, shift: 30) }
    return QuantizedMultiplier(multiplier: Int32(truncatingIfNeeded: m), shift: Int32(truncatingIfNeeded: e))
}

/// The per-channel epilogue shared by both layouts: `R`, the fused bias and multiplier of channel `ch`, then, with
/// `a.inputMeans`, the fused DC correction of residual sum `residual` (`fusedDCResidual`'s, from the rescale loop).
@inline(always)
func dspFuseChannelEnd(_ f: DynamicFusionParams, _ a: FusionArguments, _ ch: Int,
                       _ eta: UnsafePointer<Int16>, _ r: UInt32, residual: Int64) {
    let g = f.kernelCount, o = f.outputChannels
    var b: Int64 = 0
    if let mb = a.mixedBias {
        for t in 0..<g { b &+= Int64(eta[t]) &* Int64(mb[t &* o &+ ch]) }
    }
    if let sb = a.staticBias { b &+= Int64(sb[ch]) &<< 15 }
    a.fusedBias[ch] = fusedBias(b, reciprocal: r, terms: f.elementsPerChannel)
    a.fusedMultipliers[ch] = dspScaledByFusionReciprocal(a.staticMultipliers[ch], r)
    if a.inputMeans != nil {
        a.fusedBias[ch] = fusedDCCorrectedBias(a.fusedBias[ch], residual: residual, terms: f.elementsPerChannel)
    }
}

/// `fusedKernelValue(f, R)` as `dspFusedValue`, plus `fusedResidual16(f, R)` from the same SMLAL: the low word of
/// `f·R + 2^31 − [f < 0]` with its top bit flipped, shifted right by 16.
@inline(always)
func dspFusedValueAndResidual(_ f: Int32, _ r: Int32, _ highBit: Int32) -> (Int8, Int32) {
    let c = Int64(UInt32(bitPattern: Int32(bitPattern: 0x8000_0000) &+ (f &>> 31)))     // 2^31 − [f < 0]
    let p = Int64(f) &* Int64(r) &+ c
    let q = Int8(truncatingIfNeeded: Int32(truncatingIfNeeded: p &>> 32) &+ (f & highBit))
    return (q, Int32(bitPattern: UInt32(truncatingIfNeeded: p) ^ 0x8000_0000) &>> 16)
}

/// `max(a, |x|)` without a branch on the sign.
@inline(always)
func dspMaxMagnitude(_ a: Int32, _ x: Int32) -> Int32 {
    let s = x &>> 31
    let m = (x ^ s) &- s
    return m > a ? m : a
}

/// `fusedKernelValue(f, r)` = `round_half_away(f·r / 2^32)` without the magnitude: `⌊(f·r + 2^31 − [f < 0]) / 2^32⌋`
/// (for `f < 0`, `−⌊(|f|·r + 2^31)/2^32⌋ = ⌊(f·r + 2^31 − 1)/2^32⌋`). The unsigned `r` is multiplied as the signed
/// `r − 2^32·[r ≥ 2^31]` (SMLAL with the rounding constant as the accumulator), and `f·2^32·[r ≥ 2^31]` comes back
/// as `f` added to the high word (`highBit` = all ones when `r ≥ 2^31`). `|f·r| < 2^63`: exact in Int64.
@inline(always)
func dspFusedValue(_ f: Int32, _ r: Int32, _ highBit: Int32) -> Int8 {
    let c = Int64(UInt32(bitPattern: Int32(bitPattern: 0x8000_0000) &+ (f &>> 31)))     // 2^31 − [f < 0]
    let p = Int64(f) &* Int64(r) &+ c
    return Int8(truncatingIfNeeded: Int32(truncatingIfNeeded: p &>> 32) &+ (f & highBit))
}

/// `F` of one channel's 4 elements `4j ..< 4j + 4` over `g` kernels (`kernelSize` bytes apart), from `row`
/// (kernel 0's elements of this channel, any alignment); `eta` the channel's `g` coefficients.
@inline(always)
func dspFuseQuad(_ row: UnsafeRawPointer, _ g: Int, _ kernelSize: Int, _ eta: UnsafePointer<Int16>)
    -> (Int32, Int32, Int32, Int32) {
    var f0: Int32 = 0, f1: Int32 = 0, f2: Int32 = 0, f3: Int32 = 0
    var w = row
    for t in 0..<g {
        let e = UInt32(UInt16(bitPattern: eta[t]))
        let u = w.loadUnaligned(as: UInt32.self)
        let wa = dynq_sxtb16(u), wb = dynq_sxtb16_ror8(u)
        f0 = dynq_smlabb(wa, e, f0); f2 = dynq_smlatb(wa, e, f2)
        f1 = dynq_smlabb(wb, e, f1); f3 = dynq_smlatb(wb, e, f3)
        w += kernelSize
    }
    return (f0, f1, f2, f3)
}

/// One channel's `F` for `g` kernels into `values`; returns `A = max|F|`. `g` is a constant at the call sites
/// that matter (`dspFuseOutputMajor` specializes 2 and 4), so the kernel loop unrolls.
@inline(always)
func dspFuseChannel(_ row: UnsafeRawPointer, _ g: Int, _ kernelSize: Int, _ eta: UnsafePointer<Int16>, _ k: Int,
                    _ values: UnsafeMutablePointer<Int32>) -> Int32 {
    var maxMagnitude: Int32 = 0
    let full = k >> 2
    var j = 0
    while j < full {
        let (f0, f1, f2, f3) = dspFuseQuad(row + 4 &* j, g, kernelSize, eta)
        let d = values + 4 &* j
        d[0] = f0; d[1] = f1; d[2] = f2; d[3] = f3
        maxMagnitude = dspMaxMagnitude(dspMaxMagnitude(maxMagnitude, f0), f1)
        maxMagnitude = dspMaxMagnitude(dspMaxMagnitude(maxMagnitude, f2), f3)
        j &+= 1
    }
    var e = 4 &* full
    while e < k {
        var v: Int32 = 0
        for t in 0..<g { v &+= Int32(eta[t]) &* Int32(row.load(fromByteOffset: t &* kernelSize &+ e, as: Int8.self)) }
        values[e] = v
        maxMagnitude = dspMaxMagnitude(maxMagnitude, v)
        e &+= 1
    }
    return maxMagnitude
}

/// `[O][K]` fusion (conv and linear).
func dspFuseOutputMajor(_ f: DynamicFusionParams, _ a: FusionArguments) {
    guard let scratch = a.scratch else { preconditionFailure("CortexMDSPKernels.fuseConv: no scratch") }
    let g = f.kernelCount, o = f.outputChannels, k = f.elementsPerChannel
    let kernelSize = o &* k
    let fused = a.fusedWeights.assumingMemoryBound(to: Int8.self)
    let values = scratch.bindMemory(to: Int32.self, capacity: k)
    let perChannel = f.coefficients == .perChannel
    for ch in 0..<o {
        let eta = perChannel ? a.coefficients + ch &* g : a.coefficients
        let row = UnsafeRawPointer(a.kernels + ch &* k)
        let maxMagnitude: Int32
        switch g {
        case 4: maxMagnitude = dspFuseChannel(row, 4, kernelSize, eta, k, values)
        case 2: maxMagnitude = dspFuseChannel(row, 2, kernelSize, eta, k, values)
        default: maxMagnitude = dspFuseChannel(row, g, kernelSize, eta, k, values)
        }
        let r = dspFusionReciprocal(maxMagnitude)
        let rs = Int32(bitPattern: r), highBit = rs &>> 31
        let out = fused + ch &* k
        var residual: Int64 = 0
        if let means = a.inputMeans {
            // The rescale with the DC residual: element i·I_g + j reads mean j of the channel's group.
            let ig = f.groupInputChannels
            let m = means + (ch / f.groupOutputChannels) &* ig
            var e = 0
            while e < k {
                for j in 0..<ig {
                    let (q, rho) = dspFusedValueAndResidual(values[e &+ j], rs, highBit)
                    out[e &+ j] = q
                    residual &+= Int64(rho &* Int32(m[j]))
                }
                e &+= ig
            }
        } else {
            for i in 0..<k { out[i] = dspFusedValue(values[i], rs, highBit) }
        }
        dspFuseChannelEnd(f, a, ch, eta, r, residual: residual)
    }
}

/// `[K][O]` fusion (depthwise).
func dspFuseChannelsLast(_ f: DynamicFusionParams, _ a: FusionArguments) {
    guard let scratch = a.scratch else { preconditionFailure("CortexMDSPKernels.fuseDepthwise: no scratch") }
    let g = f.kernelCount, o = f.outputChannels, k = f.elementsPerChannel
    let kernelSize = o &* k
    let fused = a.fusedWeights.assumingMemoryBound(to: Int8.self)
    let values = scratch.bindMemory(to: Int32.self, capacity: k)
    let perChannel = f.coefficients == .perChannel
    for ch in 0..<o {
        let eta = perChannel ? a.coefficients + ch &* g : a.coefficients
        var maxMagnitude: Int32 = 0
        for e in 0..<k {
            var v: Int32 = 0
            var w = a.kernels + (e &* o &+ ch)
            for t in 0..<g {
                v &+= Int32(eta[t]) &* Int32(w[0])
                w += kernelSize
            }
            values[e] = v
            maxMagnitude = dspMaxMagnitude(maxMagnitude, v)
        }
        let r = dspFusionReciprocal(maxMagnitude)
        let rs = Int32(bitPattern: r), highBit = rs &>> 31
        var residual: Int64 = 0
        if let means = a.inputMeans {
            let m = Int32(means[ch])                                    // depthwise: channel ch reads mean ch
            var rho: Int64 = 0                                          // Σ ρ16 over the kh·kw taps
            for e in 0..<k {
                let (q, r16) = dspFusedValueAndResidual(values[e], rs, highBit)
                fused[e &* o &+ ch] = q
                rho &+= Int64(r16)
            }
            residual = rho &* Int64(m)
        } else {
            for e in 0..<k { fused[e &* o &+ ch] = dspFusedValue(values[e], rs, highBit) }
        }
        dspFuseChannelEnd(f, a, ch, eta, r, residual: residual)
    }
}
