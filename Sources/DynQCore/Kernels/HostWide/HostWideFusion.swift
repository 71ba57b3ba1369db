// HostWide per-sample dynamic fusion: the fused kernel values, fused bias and per-sample multipliers of
// `dynamicFusionReference`, computed by the SIMD fusion (`dynamicFusion`, FusionSIMD.swift, bit-exact with the
// reference) into scratch in the model's layout (OHWI `[O][K]`, or `[kh][kw][C]` for depthwise), then packed into the
// layout the chosen conv / depthwise variant reads (`fusedWeights`), so the conv reads the fused kernel directly.
// The OHWI copy lives only in the fusion's scratch.
#if arch(x86_64)

/// `n` rounded up to a multiple of 64.
@inline(__always)
internal func hostWideRound64(_ n: Int) -> Int { (n + 63) / 64 * 64 }

extension HostWideKernels {
    public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        convPackedWeightBytes(p, v)
    }

    /// The SIMD fusion's scratch, then the fused kernel in OHWI order (`O·K` bytes).
    public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant) -> Int {
        hostWideRound64(dynamicFusionScratchBytes(f)) + p.weightCount
    }

    /// Fuses the `g` kernels of a conv layer for this sample and packs the result for `conv2d(p, v, …)`.
    public static func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: ConvVariant, _ a: FusionArguments) {
        let scratch = a.scratch!
        let fused = (scratch + hostWideRound64(dynamicFusionScratchBytes(f))).assumingMemoryBound(to: Int8.self)
        dynamicFusion(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                      staticBias: a.staticBias, staticMultipliers: a.staticMultipliers, fusedKernel: fused,
                      biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers, scratch: scratch)
        packConvWeights(p, v, weights: fused, into: a.fusedWeights)
    }

    public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                 _ v: DepthwiseVariant) -> Int {
        depthwisePackedWeightBytes(p, v)
    }

    /// The SIMD fusion's scratch, then the fused kernel `[kh][kw][C]`.
    public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                   _ v: DepthwiseVariant) -> Int {
        hostWideRound64(dynamicFusionScratchBytes(f)) + p.weightCount
    }

    /// Fuses the `g` kernels of a depthwise layer for this sample and packs the result for `depthwiseConv2d(p, v, …)`.
    public static func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: DepthwiseVariant,
                                     _ a: FusionArguments) {
        let scratch = a.scratch!
        let fused = (scratch + hostWideRound64(dynamicFusionScratchBytes(f))).assumingMemoryBound(to: Int8.self)
        dynamicFusion(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                      staticBias: a.staticBias, staticMultipliers: a.staticMultipliers, fusedKernel: fused,
                      biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers, scratch: scratch)
        packDepthwiseWeights(p, v, weights: fused, into: a.fusedWeights)
    }
}
#endif
