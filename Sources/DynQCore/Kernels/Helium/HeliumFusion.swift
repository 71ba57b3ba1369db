// Helium dynamic kernel fusion: the per-sample fused kernel, bias and multipliers of a dynamic conv / depthwise
// layer, equal to `dynamicFusionReference`'s values (FusionReference.swift has the formulas). The Helium conv and
// depthwise kernels read the model's int8 layouts in place, so the fused kernel is written in exactly those
// layouts (OHWI `[O][K]`, depthwise `[kh][kw][C]`) and is read by them with no second copy.
//
// Per output channel (conv; 4 channels at a time for depthwise, lanes = channels):
//   F[k] = Σ_t η[t] · q_w[t][k]      int32 lanes: `VLDRB.S32` + `VMLA` by the scalar η (conv), `VMUL`+`VADD`
//                                     by η lanes (depthwise); |F| ≤ g · 32767 · 127 < 2^31 (g ≤ 516), exact.
//                                     Kept in scratch while `VMAXAV` / `VMAXA` track A = max |F|.
//   R    = fusionReciprocal(A)        one 64-bit division per channel (scalar, as the reference).
//   q_f  = sign(F) · ⌊(|F|·R + 2^31) / 2^32⌋   `VABS`, `VRMULH.U32` by R, negate where F < 0, `VSTRB.32`:
//                                     exactly `fusedKernelValue` (round half away from zero).
//   bias, multiplier                  the reference's scalar `fusedBias` / `scaledByFusionReciprocal`.
// So each F[k] is computed once (the reference computes it twice, to save scratch).

import DynQIntrinsics

extension HeliumKernels {
    /// The fused conv kernel: int8 OHWI `[O][K]`, what `conv2d` reads for every variant.
    public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        p.weightCount
    }

    /// One channel's F, `⌈K/4⌉·4` int32.
    public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        4 * heliumRoundUp(f.elementsPerChannel, 4)
    }

    /// Fuses `f.kernelCount` OHWI kernels for `conv2d(p, v, …)`. `f` must describe `p` (`.outputMajor`).
    public static func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant, _ a: FusionArguments) {
        precondition(f.layout == .outputMajor && f.outputChannels == p.outputChannels
                     && f.elementsPerChannel == p.weightsPerOutputChannel,
                     "HeliumKernels.fuseConv: fusion parameters do not match the conv")
        guard let scratch = a.scratch else { preconditionFailure("HeliumKernels.fuseConv: no scratch") }
        let g = f.kernelCount, outC = f.outputChannels, k = f.elementsPerChannel
        let kernelSize = outC &* k
        let fBuffer = scratch.bindMemory(to: Int32.self, capacity: heliumRoundUp(k, 4))
        let fused = a.fusedWeights.bindMemory(to: Int8.self, capacity: kernelSize)
        let eta = a.coefficients
        let perChannel = f.coefficients == .perChannel
        for ch in 0..<outC {
            let etaRow = perChannel ? eta + ch &* g : eta
            let w0 = a.kernels + ch &* k
            // F = Σ_t η_t · w_t, 4 elements at a time; A = max |F|.
            var amax: UInt32 = 0
            var i = 0
            while i < k {
                let n = UInt32(truncatingIfNeeded: k &- i)
                var acc = dynq_mve_vdupq_s32(0)
                var w = w0 + i
                for t in 0..<g {
                    acc = dynq_mve_vmlaq_n_s32(acc, dynq_mve_vldrbq_z_s32(w, n), Int32(etaRow[t]))
                    w += kernelSize
                }
                dynq_mve_vstrwq_s32(fBuffer + i, acc)
                amax = dynq_mve_vmaxavq_s32(amax, acc)
                i &+= 4
            }
            let r = heliumFusionReciprocal(amax)
            fuseRescale(fBuffer, count: k, reciprocal: r, into: fused + ch &* k)
            a.fusedBias[ch] = fusedChannelBias(f, a, channel: ch, etaRow: etaRow, reciprocal: r)
            a.fusedMultipliers[ch] = heliumScaledByFusionReciprocal(a.staticMultipliers[ch], r)
            applyFusedDCCorrection(f, a, channel: ch, values: fBuffer, stride: 1, reciprocal: r)
        }
    }

    /// The fused depthwise kernel: int8 `[kh][kw][C]`, what `depthwiseConv2d` reads.
    public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                 _ v: DepthwiseVariant) -> Int {
        p.weightCount
    }

    /// F for 4 channels (`K·4` int32) and the 4 channels' η lanes (`g·4` int32).
    public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                   _ v: DepthwiseVariant) -> Int {
        16 * f.elementsPerChannel + 16 * f.kernelCount
    }

    /// Fuses `f.kernelCount` `[kh][kw][C]` kernels for `depthwiseConv2d(p, v, …)` (`.channelsLast`).
    public static func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: DepthwiseVariant,
                                     _ a: FusionArguments) {
        precondition(f.layout == .channelsLast && f.outputChannels == p.channels && f.elementsPerChannel == p.taps,
                     "HeliumKernels.fuseDepthwise: fusion parameters do not match the depthwise layer")
        guard let scratch = a.scratch else { preconditionFailure("HeliumKernels.fuseDepthwise: no scratch") }
        let g = f.kernelCount, c = f.outputChannels, taps = f.elementsPerChannel
        let kernelSize = c &* taps
        let fBuffer = scratch.bindMemory(to: Int32.self, capacity: 4 * taps + 4 * g)
        let etaLanes = fBuffer + 4 &* taps
        let fused = a.fusedWeights.bindMemory(to: Int8.self, capacity: kernelSize)
        let perChannel = f.coefficients == .perChannel
        var cb = 0
        while cb < c {
            let lanes = min(4, c &- cb)
            let n = UInt32(truncatingIfNeeded: lanes)
            // η of the block's channels, as int32 lanes per kernel t (missing channels repeat the last).
            for t in 0..<g {
                for j in 0..<4 {
                    let ch = cb &+ min(j, lanes &- 1)
                    etaLanes[t &* 4 &+ j] = Int32(a.coefficients[perChannel ? ch &* g &+ t : t])
                }
            }
            var amax = SIMD4<UInt32>()
            for e in 0..<taps {
                var acc = dynq_mve_vdupq_s32(0)
                var w = a.kernels + (e &* c &+ cb)
                for t in 0..<g {
                    acc = dynq_mve_vaddq_s32(acc, dynq_mve_vmulq_s32(dynq_mve_vldrbq_z_s32(w, n),
                                                                      dynq_mve_vldrwq_s32(etaLanes + t &* 4)))
                    w += kernelSize
                }
                dynq_mve_vstrwq_s32(fBuffer + e &* 4, acc)
                amax = dynq_mve_vmaxaq_s32(amax, acc)
            }
            var r = SIMD4<UInt32>()
            for j in 0..<lanes { r[j] = heliumFusionReciprocal(amax[j]) }
            for e in 0..<taps {
                let fv = dynq_mve_vldrwq_s32(fBuffer + e &* 4)
                let q = dynq_mve_vrmulhq_u32(dynq_mve_vabsq_s32(fv), r)
                let y = dynq_mve_vnegq_where_negative_s32(q, fv)
                dynq_mve_vstrbq_p_s32(fused + (e &* c &+ cb), y, n)
            }
            for j in 0..<lanes {
                let ch = cb &+ j
                let etaRow = perChannel ? a.coefficients + ch &* g : a.coefficients
                a.fusedBias[ch] = fusedChannelBias(f, a, channel: ch, etaRow: etaRow, reciprocal: r[j])
                a.fusedMultipliers[ch] = heliumScaledByFusionReciprocal(a.staticMultipliers[ch], r[j])
                applyFusedDCCorrection(f, a, channel: ch, values: fBuffer + j, stride: 4, reciprocal: r[j])
            }
            cb &+= 4
        }
    }

    /// `fusedKernelValue(F[i], r)` for `i < count`, stored as int8 at `out[i]`: 4 at a time.
    @inline(__always)
    static func fuseRescale(_ fBuffer: UnsafePointer<Int32>, count k: Int, reciprocal r: UInt32,
                            into out: UnsafeMutablePointer<Int8>) {
        let rv = SIMD4<UInt32>(repeating: r)
        var i = 0
        while i &+ 4 <= k {
            let fv = dynq_mve_vldrwq_s32(fBuffer + i)
            let q = dynq_mve_vrmulhq_u32(dynq_mve_vabsq_s32(fv), rv)
            dynq_mve_vstrbq_s32(out + i, dynq_mve_vnegq_where_negative_s32(q, fv))
            i &+= 4
        }
        if i < k {
            let fv = dynq_mve_vldrwq_s32(fBuffer + i)
            let q = dynq_mve_vrmulhq_u32(dynq_mve_vabsq_s32(fv), rv)
            dynq_mve_vstrbq_p_s32(out + i, dynq_mve_vnegq_where_negative_s32(q, fv),
                                  UInt32(truncatingIfNeeded: k &- i))
        }
    }

    /// The reference's fused bias of channel `ch`: `B = Σ_t η_t · mb[t][ch] + b[ch] · 2^15`, rescaled by `r`.
    static func fusedChannelBias(_ f: DynamicFusionParams, _ a: FusionArguments, channel ch: Int,
                                 etaRow: UnsafePointer<Int16>, reciprocal r: UInt32) -> Int32 {
        var b: Int64 = 0
        if let mb = a.mixedBias {
            for t in 0..<f.kernelCount {
                b &+= Int64(etaRow[t]) &* Int64(mb[t &* f.outputChannels &+ ch])
            }
        }
        if let sb = a.staticBias { b &+= Int64(sb[ch]) &<< 15 }
        return fusedBias(b, reciprocal: r, terms: f.elementsPerChannel)
    }
}

// MARK: - The per-channel divisions without 64-bit division

/// `⌊(hi·2^32 + lo) / v⌋` for `hi < v` (so the quotient fits 32 bits), with 32-bit divisions only (Hacker's
/// Delight, "divlu": normalize v, two 16-bit quotient digits, each estimated by a 32 / 16 division and corrected
/// at most twice). On a 32-bit core this replaces a 64-bit library division (hundreds of instructions) by ~30.
@inline(__always)
internal func heliumDivide(_ hi: UInt32, _ lo: UInt32, by divisor: UInt32) -> UInt32 {
    precondition(hi < divisor, "heliumDivide: quotient does not fit 32 bits")
    let b: UInt32 = 1 << 16
    let s = UInt32(divisor.leadingZeroBitCount)
    let v = divisor &<< s
    let vn1 = v &>> 16, vn0 = v & 0xFFFF
    let un32 = s == 0 ? hi : (hi &<< s) | (lo &>> (32 &- s))
    let un10 = lo &<< s
    let un1 = un10 &>> 16, un0 = un10 & 0xFFFF
    var q1 = un32 / vn1
    var rhat = un32 &- q1 &* vn1
    while q1 >= b || q1 &* vn0 > (rhat &<< 16) &+ un1 {
        q1 &-= 1
        rhat &+= vn1
        if rhat >= b { break }
    }
    let un21 = (un32 &<< 16) &+ un1 &- q1 &* v
    var q0 = un21 / vn1
    rhat = un21 &- q0 &* vn1
    while q0 >= b || q0 &* vn0 > (rhat &<< 16) &+ un0 {
        q0 &-= 1
        rhat &+= vn1
        if rhat >= b { break }
    }
    return (q1 &<< 16) &+ q0
}

/// `fusionReciprocal(A)` (`A = max|F|` as unsigned, < 2^31): `min(⌊127·2^32 / A⌋, 2^32 − 1)`, one `heliumDivide`.
@inline(__always)
internal func heliumFusionReciprocal(_ a: UInt32) -> UInt32 {
    a <= 127 ? UInt32.max : heliumDivide(127, 0, by: a)
}

/// `m0.scaledByFusionReciprocal(r)`, equal for every `m0` and `r ≥ 1`, with one `heliumDivide` instead of 64-bit
/// divisions. With `N = m·2^32` the reference picks the shift `s ≥ 0` that puts `⌊N / (r·2^s)⌋` in `[2^30, 2^31)`
/// and rounds `N / (r·2^s)` half up. Here: `r_n = r·2^clz(r)` ∈ [2^31, 2^32), `⌊N/r⌋` has `63 − bits(r)` or one more
/// bit, one more exactly when `2m ≥ r_n`, so `s = clz(r) + [2m ≥ r_n]`; then `Q = ⌊m·2^(33−s) / r⌋` ∈ [2^31, 2^32)
/// (`m·2^(33−s) < 2^64`, high word < r) and `⌊N / (r·2^s) + ½⌋ = ⌊(Q + 1) / 2⌋`. The carry to 2^31 and the
/// exponent saturation are the reference's.
internal func heliumScaledByFusionReciprocal(_ m0: QuantizedMultiplier, _ r: UInt32) -> QuantizedMultiplier {
    precondition(r > 0, "heliumScaledByFusionReciprocal: R must be >= 1")
    if m0.multiplier == 0 { return .zero }
    let m = UInt32(bitPattern: m0.multiplier)
    let z = UInt32(r.leadingZeroBitCount)
    let rn = r &<< z
    let s = z &+ (m &<< 1 >= rn ? 1 : 0)                      // ≤ 32
    let t = 33 &- s                                           // bits m is shifted by, 1 ... 33
    let hi: UInt32, lo: UInt32
    if t >= 32 {
        hi = t == 33 ? m &<< 1 : m; lo = 0
    } else {
        hi = m &>> (32 &- t); lo = m &<< t
    }
    let q = heliumDivide(hi, lo, by: r)
    var mm = (UInt64(q) &+ 1) &>> 1
    var e = Int(m0.shift) &+ Int(s)
    if mm == UInt64(1) << 31 { mm = UInt64(1) << 30; e &+= 1 }
    if e > 30 { return QuantizedMultiplier(multiplier: Int32.max, shift: 30) }
    return QuantizedMultiplier(multiplier: Int32(truncatingIfNeeded: mm), shift: Int32(truncatingIfNeeded: e))
}
