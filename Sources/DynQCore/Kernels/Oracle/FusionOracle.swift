// The oracle's dynamic fusion law (docs/numerics.md, "Dynamic convolution in fixed point"; the formulas and
// bounds are in Scalar/ScalarFusion.swift beside `fusionReciprocal`, `fusedKernelValue` and `fusedBias`).

/// Per-sample fusion. Layouts: `kernels` is `q_w[g]` one after another, each `O·K` int8 in `p.layout`
/// (`[O][K]` or `[K][O]`); `coefficients` is `η_q[O][g]` (per channel) or `η_q[g]` (per layer); `mixedBias` is
/// `mb_q[g][O]`; `staticBias` `b_q[O]`; `staticMultipliers` `(m0, e0)[O]`. Writes `fusedKernel` (`O·K`, same
/// layout), `biasAccumulator[O]` and `multipliers[O]`:
///
///     F[o,k] = Σ_t η[o,t]·q_w[t,o,k]            A[o] = max_k |F[o,k]|      R[o] = fusionReciprocal(A[o])
///     q_f[o,k] = fusedKernelValue(F[o,k], R[o])  B[o] = Σ_t η[o,t]·mb[t,o] + b[o]·2^15
///     bias_acc[o] = fusedBias(B[o], R[o], K)     M[o] = M0[o].scaledByFusionReciprocal(R[o])
///
/// With `inputMeans` (`m[I]`, the layer's fused DC correction, Common/FusedDCCorrection.swift), each bias is then
///
///     D[o] = Σ_k fusedResidual16(F[o,k], R[o]) · m[⌊o / O_g⌋·I_g + k mod I_g]
///     bias_acc[o] = fusedDCCorrectedBias(bias_acc[o], D[o], K)
@inlinable
public func dynamicFusionReference(
    _ p: DynamicFusionParams,
    kernels: UnsafePointer<Int8>,
    coefficients: UnsafePointer<Int16>,
    mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?,
    staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    fusedKernel: UnsafeMutablePointer<Int8>,
    biasAccumulator: UnsafeMutablePointer<Int32>,
    multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
    inputMeans: UnsafePointer<Int16>? = nil
) {
    let g = p.kernelCount, o = p.outputChannels, k = p.elementsPerChannel
    func eta(_ ch: Int, _ t: Int) -> Int32 {
        Int32(coefficients[p.coefficients == .perChannel ? ch * g + t : t])
    }
    func index(_ ch: Int, _ e: Int) -> Int { p.layout == .outputMajor ? ch * k + e : e * o + ch }
    func fused(_ ch: Int, _ e: Int) -> Int32 {
        var f: Int32 = 0
        for t in 0..<g { f += eta(ch, t) * Int32(kernels[t * o * k + index(ch, e)]) }
        return f
    }
    for ch in 0..<o {
        var a: Int32 = 0
        for e in 0..<k { a = max(a, abs(fused(ch, e))) }
        let r = fusionReciprocal(a)
        for e in 0..<k { fusedKernel[index(ch, e)] = fusedKernelValue(fused(ch, e), reciprocal: r) }
        var b: Int64 = 0
        if let mb = mixedBias { for t in 0..<g { b += Int64(eta(ch, t)) * Int64(mb[t * o + ch]) } }
        if let sb = staticBias { b += Int64(sb[ch]) * (1 << 15) }
        biasAccumulator[ch] = fusedBias(b, reciprocal: r, terms: k)
        multipliers[ch] = staticMultipliers[ch].scaledByFusionReciprocal(r)
        if let m = inputMeans {
            var d: Int64 = 0
            for e in 0..<k {
                let i = (ch / p.groupOutputChannels) * p.groupInputChannels + e % p.groupInputChannels
                d += Int64(fusedResidual16(fused(ch, e), reciprocal: r)) * Int64(m[i])
            }
            biasAccumulator[ch] = fusedDCCorrectedBias(biasAccumulator[ch], residual: d, terms: k)
        }
    }
}
