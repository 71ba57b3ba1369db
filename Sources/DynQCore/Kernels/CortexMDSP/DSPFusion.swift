// Cortex-M DSP per-sample dynamic kernel fusion: the fused kernel's values, bias and multipliers equal
// `dynamicFusionReference`'s, written directly in the layout this set's conv2d / depthwiseConv2d read (int8 OHWI,
// int8 `[kh][kw][C]`: the reference layouts), so the conv reads the fusion's output in place: no second copy.
//
// Conv / linear (`[O][K]`): per output channel, `F[k] = Σ_t η[t]·q_w[t][o][k]` for 4 k at a time: one LDR of 4
// int8 weights per kernel, SXTB16 / SXTB16 ROR #8 to int16 lanes, `SMLABB` / `SMLATB` against `η[t]` (1 MAC each;
// |η·q_w| ≤ 32767·127, the int32 sum exact for g ≤ 516 as in the reference), F to scratch with `A = max|F|`, then
// `R = fusionReciprocal(A)` and each `q_f = fusedKernelValue(F, R)` (UMULL + rounding), the bias by `fusedBias` and
// the multiplier by `scaledByFusionReciprocal`: the reference's own functions. So F is computed once per element
// (the reference computes it twice, once for A).
// Depthwise (`[K][O]`, channels fastest): the same per channel, elements strided by O, one MAC at a time (these
// kernels have 9·C elements).

import DynQIntrinsics

extension CortexMDSPKernels {
    /// Bytes of the fused conv kernel: `O·K` int8, OHWI (what `conv2d` reads in place).
    public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        f.kernelElements
    }

    /// Scratch bytes of `fuseConv`: F of one channel, `K` int32.
    public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        4 * f.elementsPerChannel
    }

    /// Bytes of the fused depthwise kernel: `kh·kw·C` int8, `[kh][kw][C]`.
    public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                 _ v: DepthwiseVariant) -> Int {
        f.kernelElements
    }

    /// Scratch bytes of `fuseDepthwise`: F of one channel, `kh·kw` int32.
    public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                   _ v: DepthwiseVariant) -> Int {
        4 * f.elementsPerChannel
    }

    /// Fusion of a conv (or linear) layer, `f.layout == .outputMajor`: writes the fused int8 OHWI kernel to
    /// `a.fusedWeights`, `a.fusedBias[O]`, `a.fusedMultipliers[O]`, equal to `dynamicFusionReference`'s.
    /// `a.scratch`: `convFusionScratchBytes` bytes, 4-byte aligned.
    public static func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant, _ a: FusionArguments) {
        precondition(f.layout == .outputMajor, "CortexMDSPKernels.fuseConv: needs the [O][K] layout")
        dspFuseOutputMajor(f, a)
    }

    /// Fusion of a depthwise layer, `f.layout == .channelsLast`: writes the fused int8 `[kh][kw][C]` kernel,
    /// bias and multipliers, equal to `dynamicFusionReference`'s. `a.scratch`: `depthwiseFusionScratchBytes` bytes.
    public static func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: DepthwiseVariant,
                                     _ a: FusionArguments) {
        precondition(f.layout == .channelsLast, "CortexMDSPKernels.fuseDepthwise: needs the [K][O] layout")
        dspFuseChannelsLast(f, a)
    }
}

/// The per-channel epilogue shared by both layouts: `R`, the fused bias and multiplier of channel `ch`.
@inline(always)
func dspFuseChannelEnd(_ f: DynamicFusionParams, _ a: CortexMDSPKernels.FusionArguments, _ ch: Int,
                       _ eta: UnsafePointer<Int16>, _ r: UInt32) {
    let g = f.kernelCount, o = f.outputChannels
    var b: Int64 = 0
    if let mb = a.mixedBias {
        for t in 0..<g { b &+= Int64(eta[t]) &* Int64(mb[t &* o &+ ch]) }
    }
    if let sb = a.staticBias { b &+= Int64(sb[ch]) &<< 15 }
    a.fusedBias[ch] = fusedBias(b, reciprocal: r, terms: f.elementsPerChannel)
    a.fusedMultipliers[ch] = a.staticMultipliers[ch].scaledByFusionReciprocal(r)
}

/// `max(a, |x|)` without a branch on the sign.
@inline(always)
func dspMaxMagnitude(_ a: Int32, _ x: Int32) -> Int32 {
    let s = x &>> 31
    let m = (x ^ s) &- s
    return m > a ? m : a
}

/// `[O][K]` fusion (conv and linear).
func dspFuseOutputMajor(_ f: DynamicFusionParams, _ a: CortexMDSPKernels.FusionArguments) {
    guard let scratch = a.scratch else { preconditionFailure("CortexMDSPKernels.fuseConv: no scratch") }
    let g = f.kernelCount, o = f.outputChannels, k = f.elementsPerChannel
    let kernelSize = o &* k, full = k >> 2
    let fused = a.fusedWeights.assumingMemoryBound(to: Int8.self)
    let values = scratch.bindMemory(to: Int32.self, capacity: k)
    let perChannel = f.coefficients == .perChannel
    for ch in 0..<o {
        let eta = perChannel ? a.coefficients + ch &* g : a.coefficients
        let row = UnsafeRawPointer(a.kernels + ch &* k)
        var maxMagnitude: Int32 = 0
        var j = 0
        while j < full {
            var f0: Int32 = 0, f1: Int32 = 0, f2: Int32 = 0, f3: Int32 = 0
            var w = row + 4 &* j
            for t in 0..<g {
                let e = UInt32(UInt16(bitPattern: eta[t]))
                let u = w.loadUnaligned(as: UInt32.self)
                let wa = dynq_sxtb16(u), wb = dynq_sxtb16_ror8(u)
                f0 = dynq_smlabb(wa, e, f0); f2 = dynq_smlatb(wa, e, f2)
                f1 = dynq_smlabb(wb, e, f1); f3 = dynq_smlatb(wb, e, f3)
                w += kernelSize
            }
            let d = values + 4 &* j
            d[0] = f0; d[1] = f1; d[2] = f2; d[3] = f3
            maxMagnitude = dspMaxMagnitude(dspMaxMagnitude(maxMagnitude, f0), f1)
            maxMagnitude = dspMaxMagnitude(dspMaxMagnitude(maxMagnitude, f2), f3)
            j &+= 1
        }
        var e = 4 &* full
        while e < k {
            var v: Int32 = 0
            for t in 0..<g { v &+= Int32(eta[t]) &* Int32(a.kernels[t &* kernelSize &+ ch &* k &+ e]) }
            values[e] = v
            maxMagnitude = dspMaxMagnitude(maxMagnitude, v)
            e &+= 1
        }
        let r = fusionReciprocal(maxMagnitude)
        let out = fused + ch &* k
        for i in 0..<k { out[i] = fusedKernelValue(values[i], reciprocal: r) }
        dspFuseChannelEnd(f, a, ch, eta, r)
    }
}

/// `[K][O]` fusion (depthwise).
func dspFuseChannelsLast(_ f: DynamicFusionParams, _ a: CortexMDSPKernels.FusionArguments) {
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
        let r = fusionReciprocal(maxMagnitude)
        for e in 0..<k { fused[e &* o &+ ch] = fusedKernelValue(values[e], reciprocal: r) }
        dspFuseChannelEnd(f, a, ch, eta, r)
    }
}
