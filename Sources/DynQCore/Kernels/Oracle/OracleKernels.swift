/// The oracle as a kernel set, so the interpreter can run the law itself (tests, `--kernels oracle`): no packing,
/// no scratch, the fused kernel in the static layout. Slow by design.
@frozen
public struct OracleKernels: KernelSet {
    public static var name: StaticString { "oracle" }
    public enum Variant: UInt8, Equatable, Sendable { case law }
    @inlinable public init() {}

    @inlinable public static func chooseConv(_ p: Conv2DParams) -> Variant { .law }
    @inlinable public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                  into packed: UnsafeMutableRawPointer) {}
    @inlinable public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        conv2dReference(p, input: a.input, weights: a.weights.assumingMemoryBound(to: Int8.self), bias: a.bias,
                        multipliers: a.multipliers, output: a.output)
    }

    @inlinable public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant { .law }
    @inlinable public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant,
                                                       weights: UnsafePointer<Int8>,
                                                       into packed: UnsafeMutableRawPointer) {}
    @inlinable public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        depthwiseConv2dReference(p, input: a.input, weights: a.weights.assumingMemoryBound(to: Int8.self),
                                 bias: a.bias, multipliers: a.multipliers, output: a.output)
    }

    @inlinable public static func chooseLinear(_ p: LinearParams) -> Variant { .law }
    @inlinable public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                    into packed: UnsafeMutableRawPointer) {}
    @inlinable public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        linearReference(p, input: a.input, weights: a.weights.assumingMemoryBound(to: Int8.self), bias: a.bias,
                        multipliers: a.multipliers, output: a.output)
    }

    @inlinable public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                       _ v: Variant) -> Int { f.kernelElements }
    @inlinable public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                         _ v: Variant) -> Int { 0 }
    @inlinable public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        fuse(f, a)
    }
    @inlinable public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                            _ v: Variant) -> Int { f.kernelElements }
    @inlinable public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                              _ v: Variant) -> Int { 0 }
    @inlinable public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                                         _ a: FusionArguments) {
        fuse(f, a)
    }
    @inlinable func fuse(_ f: DynamicFusionParams, _ a: FusionArguments) {
        dynamicFusionReference(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                               staticBias: a.staticBias, staticMultipliers: a.staticMultipliers,
                               fusedKernel: a.fusedWeights.assumingMemoryBound(to: Int8.self),
                               biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers,
                               inputMeans: a.inputMeans)
    }

    @inlinable public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                               output: UnsafeMutablePointer<Int8>) {
        addReference(p, count: count, input1: a, input2: b, output: output)
    }
    @inlinable public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        maxPool2dReference(p, input: input, output: output)
    }
    @inlinable public func avgPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        avgPool2dReference(p, input: input, output: output)
    }
    @inlinable public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                             output: UnsafeMutablePointer<Int8>) {
        globalAveragePoolReference(p, input: input, output: output)
    }
}
