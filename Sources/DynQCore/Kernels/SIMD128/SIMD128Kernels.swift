/// The 128-bit Swift SIMD kernel set (`SIMD4<Int32>`, `SIMD8<Int16>`: SSE2 `pmaddwd` on x86-64, NEON on AArch64):
/// weights packed once at init as int16 pairs, the host's default set.
///
/// Chooser (`chooseConv`): `.pixelLane` (`groupedConv2d`: 8 output pixels in the vector lanes) when a group has
/// fewer than 8 output channels or a dense layer is thin (`groupedConv2dApplies`), else `.tile` (`conv2d`: the
/// im2col GEMM, 4 pixels × 8 channels). The variant names the packed size, the packing, the scratch and the kernel.
@frozen
public struct SIMD128Kernels: KernelSet {
    public static var name: StaticString { "simd128" }

    public enum Variant: UInt8, Equatable, Sendable {
        /// `conv2d`: im2col rows × 8-channel weight blocks (ConvSIMD.swift).
        case tile
        /// `groupedConv2d`: output pixels in the lanes, for small groups and thin dense layers (GroupedConvSIMD.swift).
        case pixelLane
        /// `depthwiseConv2d` (DepthwiseSIMD.swift).
        case depthwise
        /// `linear` (ConvSIMD.swift).
        case linear
    }

    @inlinable public init() {}

    // conv2d
    @inlinable public static func chooseConv(_ p: Conv2DParams) -> Variant {
        groupedConv2dApplies(p) ? .pixelLane : .tile
    }
    @inlinable public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        v == .pixelLane ? groupedConv2dPackedWeightBytes(p) : conv2dPackedWeightBytes(p)
    }
    @inlinable public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        v == .pixelLane ? groupedConv2dScratchBytes(p) : conv2dScratchBytes(p)
    }
    @inlinable public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                  into packed: UnsafeMutableRawPointer) {
        if v == .pixelLane { packGroupedConv2dWeights(p, weights: weights, into: packed) }
        else { packConv2dWeights(p, weights: weights, into: packed) }
    }
    @inlinable public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        if v == .pixelLane {
            groupedConv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                          output: a.output, scratch: a.scratch!)
        } else {
            DynQCore.conv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                            output: a.output, scratch: a.scratch!)
        }
    }

    // depthwise
    @inlinable public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant { .depthwise }
    @inlinable public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        depthwiseConv2dPackedWeightBytes(p)
    }
    @inlinable public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        depthwiseConv2dScratchBytes(p)
    }
    @inlinable public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant,
                                                       weights: UnsafePointer<Int8>,
                                                       into packed: UnsafeMutableRawPointer) {
        packDepthwiseConv2dWeights(p, weights: weights, into: packed)
    }
    @inlinable public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        DynQCore.depthwiseConv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias,
                                 multipliers: a.multipliers, output: a.output, scratch: a.scratch!)
    }

    // linear
    @inlinable public static func chooseLinear(_ p: LinearParams) -> Variant { .linear }
    @inlinable public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int {
        DynQCore.linearPackedWeightBytes(p)
    }
    @inlinable public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int {
        DynQCore.linearScratchBytes(p)
    }
    @inlinable public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                    into packed: UnsafeMutableRawPointer) {
        DynQCore.packLinearWeights(p, weights: weights, into: packed)
    }
    @inlinable public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        DynQCore.linear(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                        output: a.output, scratch: a.scratch!)
    }

    // fusion: F per channel in scratch, the int8 fused kernel in scratch after it, each channel packed for the
    // conv variant as soon as it is computed (depthwise: packed after the whole kernel)
    @inlinable public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                       _ v: Variant) -> Int { convPackedWeightBytes(p, v) }
    @inlinable public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                         _ v: Variant) -> Int {
        fusionScratchBytes(f)
    }
    @inlinable public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        let s = a.scratch!
        dynamicFusion(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                      staticBias: a.staticBias, staticMultipliers: a.staticMultipliers,
                      fusedKernel: Self.fusedKernelBuffer(f, s), biasAccumulator: a.fusedBias,
                      multipliers: a.fusedMultipliers, scratch: s, packFor: p, pixelLane: v == .pixelLane,
                      packed: a.fusedWeights, inputMeans: a.inputMeans)
    }
    @inlinable public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                            _ v: Variant) -> Int { depthwiseConv2dPackedWeightBytes(p) }
    @inlinable public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                              _ v: Variant) -> Int {
        fusionScratchBytes(f)
    }
    @inlinable public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                                         _ a: FusionArguments) {
        let s = a.scratch!
        let fk = Self.fusedKernelBuffer(f, s)
        dynamicFusion(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                      staticBias: a.staticBias, staticMultipliers: a.staticMultipliers, fusedKernel: fk,
                      biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers, scratch: s,
                      inputMeans: a.inputMeans)
        packDepthwiseConv2dWeights(p, weights: UnsafePointer(fk), into: a.fusedWeights)
    }
    /// `dynamicFusionScratchBytes` rounded up to 16, then the int8 fused kernel (`O·K`).
    @inlinable static func fusionScratchBytes(_ f: DynamicFusionParams) -> Int {
        (dynamicFusionScratchBytes(f) + 15) / 16 * 16 + f.kernelElements
    }
    @inlinable static func fusedKernelBuffer(_ f: DynamicFusionParams, _ s: UnsafeMutableRawPointer)
        -> UnsafeMutablePointer<Int8>
    {
        (s + (dynamicFusionScratchBytes(f) + 15) / 16 * 16).assumingMemoryBound(to: Int8.self)
    }

    // element-wise and pooling: the SIMD add, max pool and global pool; average pooling is the scalar kernel
    @inlinable public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                               output: UnsafeMutablePointer<Int8>) {
        DynQCore.add(p, count: count, input1: a, input2: b, output: output)
    }
    @inlinable public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        DynQCore.maxPool2d(p, input: input, output: output)
    }
    @inlinable public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                             output: UnsafeMutablePointer<Int8>) {
        DynQCore.globalAveragePool(p, input: input, output: output)
    }
}
