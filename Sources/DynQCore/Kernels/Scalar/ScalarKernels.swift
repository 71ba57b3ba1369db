/// The scalar kernel set: plain loops that skip the taps in the zero padding, int8 weights read in place (no
/// packing, no scratch: the smallest arena). What a core without a vector or DSP unit runs (Cortex-M0+), and,
/// with a recording `T`, the firmware simulator's measured counter: every kernel reports each unit of work and
/// each load and store to `tally` (`KernelTally`; with `NoTally` the calls compile away). The counts functions
/// beside the kernels (`ScalarCounts.swift`) predict those reports from the parameters alone.
@frozen
public struct ScalarKernels<T: KernelTally>: KernelSet {
    public static var name: StaticString { "scalar" }

    /// The scalar chooser's answers.
    public enum Variant: UInt8, Equatable, Sendable {
        /// Any window, groups, dilation (`conv2dScalar`).
        case general
        /// 1×1 kernel, one group (`pointwiseConv2dScalar`: no window loops).
        case pointwise
        case depthwise
        case linear
    }

    public let tally: T
    @inlinable public init(tally: T) { self.tally = tally }

    // conv2d
    @inlinable public static func chooseConv(_ p: Conv2DParams) -> Variant {
        p.kernelHeight == 1 && p.kernelWidth == 1 && p.groups == 1 ? .pointwise : .general
    }
    @inlinable public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                  into packed: UnsafeMutableRawPointer) {}
    @inlinable public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        let w = a.weights.assumingMemoryBound(to: Int8.self)
        if v == .pointwise {
            pointwiseConv2dScalar(p, input: a.input, weights: w, bias: a.bias, multipliers: a.multipliers,
                                  output: a.output, tally: tally)
        } else {
            conv2dScalar(p, input: a.input, weights: w, bias: a.bias, multipliers: a.multipliers, output: a.output,
                         tally: tally)
        }
    }

    // depthwise
    @inlinable public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant { .depthwise }
    @inlinable public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant,
                                                       weights: UnsafePointer<Int8>,
                                                       into packed: UnsafeMutableRawPointer) {}
    @inlinable public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        depthwiseConv2dScalar(p, input: a.input, weights: a.weights.assumingMemoryBound(to: Int8.self),
                              bias: a.bias, multipliers: a.multipliers, output: a.output, tally: tally)
    }

    // linear
    @inlinable public static func chooseLinear(_ p: LinearParams) -> Variant { .linear }
    @inlinable public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int { 0 }
    @inlinable public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                    into packed: UnsafeMutableRawPointer) {}
    @inlinable public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        linearScalar(p, input: a.input, weights: a.weights.assumingMemoryBound(to: Int8.self), bias: a.bias,
                     multipliers: a.multipliers, output: a.output, tally: tally)
    }

    // fusion: the fused kernel in the static layout (OHWI or [kh][kw][C]), read in place by the conv
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
        dynamicFusionScalar(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                            staticBias: a.staticBias, staticMultipliers: a.staticMultipliers,
                            fusedKernel: a.fusedWeights.assumingMemoryBound(to: Int8.self),
                            biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers, inputMeans: a.inputMeans,
                            tally: tally)
    }
}

extension ScalarKernels where T == NoTally {
    @inlinable public init() { self.init(tally: NoTally()) }
}

/// The production scalar set (no instrumentation).
public typealias PlainScalarKernels = ScalarKernels<NoTally>
