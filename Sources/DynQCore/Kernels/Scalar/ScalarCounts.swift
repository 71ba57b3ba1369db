// The counts functions beside the scalar kernels (CMSIS-NN's `*_get_buffer_size` idea applied to work): what
// each instrumented kernel reports to its tally, computed from the parameters alone. The firmware simulator's
// analytic counter is these functions; its measured counter runs `ScalarKernels<T>` with a recording tally; a test
// (Tests/DynQSimTests/CountsTests.swift) checks the two are equal, field by field, on every op of several models.
//
// Units (`TallyEvent`): MACs skip the taps in the zero padding; bytes are traffic (every load and store, a weight
// byte each time it is loaded). `parameterBytesRead` are loads of the kernel's constant operands (weights, bias,
// multipliers, tables) wherever they live; an op moves them to the activation side when they are per-sample
// arena data (a dynamic layer's fused kernel).

/// The work one kernel call does, by kind.
@frozen
public struct KernelCounts: Equatable, Sendable {
    public var macs = 0
    public var fusionMACs = 0
    public var fusionRescales = 0
    public var adds = 0
    public var requantizations = 0
    public var tableLookups = 0
    public var elementOps = 0
    /// Loads of constant operands: weights, biases, multipliers, tables.
    public var parameterBytesRead = 0
    /// Loads of activations (inputs, coefficients, per-sample buffers).
    public var activationBytesRead = 0
    /// Stores (always to the arena).
    public var bytesWritten = 0
    public init() {}

    public static func + (a: KernelCounts, b: KernelCounts) -> KernelCounts {
        var c = a
        c.macs += b.macs; c.fusionMACs += b.fusionMACs; c.fusionRescales += b.fusionRescales; c.adds += b.adds
        c.requantizations += b.requantizations; c.tableLookups += b.tableLookups; c.elementOps += b.elementOps
        c.parameterBytesRead += b.parameterBytesRead; c.activationBytesRead += b.activationBytesRead
        c.bytesWritten += b.bytesWritten
        return c
    }
}

/// `Σ_{o < output} #{k < kernel : 0 ≤ o·stride − padBefore + k·dilation < input}`: the in-image taps of a window
/// along one axis, summed over the outputs. A 2-D window's in-image taps are the product of its two axes'.
public func inImageTaps(input: Int, output: Int, kernel: Int, stride: Int, dilation: Int, padBefore: Int) -> Int {
    var n = 0
    for o in 0..<output {
        for k in 0..<kernel {
            let i = o * stride - padBefore + k * dilation
            if i >= 0 && i < input { n += 1 }
        }
    }
    return n
}

extension WindowedParams {
    /// In-image taps summed over every output pixel (one channel).
    func inImageTaps(inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int) -> Int {
        DynQCore.inImageTaps(input: inputHeight, output: outputHeight, kernel: kernelHeight, stride: strideY,
                             dilation: dilationY, padBefore: padding.top)
            * DynQCore.inImageTaps(input: inputWidth, output: outputWidth, kernel: kernelWidth, stride: strideX,
                                   dilation: dilationX, padBefore: padding.left)
    }
}

extension ScalarKernels {
    /// `conv2dScalar` / `pointwiseConv2dScalar`: per MAC an input and a weight byte; per output the bias (4 B),
    /// the multiplier (8 B), a requantization and a store.
    public static func conv2dCounts(_ p: Conv2DParams, bias: Bool) -> KernelCounts {
        var c = KernelCounts()
        let n = p.outputCount
        c.macs = p.outputChannels * p.groupInputChannels
            * p.inImageTaps(inputHeight: p.inputHeight, inputWidth: p.inputWidth, outputHeight: p.outputHeight,
                            outputWidth: p.outputWidth)
        c.requantizations = n
        c.parameterBytesRead = c.macs + n * (8 + (bias ? 4 : 0))
        c.activationBytesRead = c.macs
        c.bytesWritten = n
        return c
    }

    /// `depthwiseConv2dScalar`: as `conv2dCounts` with one input channel per output channel.
    public static func depthwiseCounts(_ p: DepthwiseConv2DParams, bias: Bool) -> KernelCounts {
        var c = KernelCounts()
        let n = p.outputCount
        c.macs = p.channels * p.inImageTaps(inputHeight: p.inputHeight, inputWidth: p.inputWidth,
                                            outputHeight: p.outputHeight, outputWidth: p.outputWidth)
        c.requantizations = n
        c.parameterBytesRead = c.macs + n * (8 + (bias ? 4 : 0))
        c.activationBytesRead = c.macs
        c.bytesWritten = n
        return c
    }

    /// `linearScalar`.
    public static func linearCounts(_ p: LinearParams, bias: Bool) -> KernelCounts {
        var c = KernelCounts()
        let n = p.outputFeatures
        c.macs = p.macs
        c.requantizations = n
        c.parameterBytesRead = c.macs + n * (8 + (bias ? 4 : 0))
        c.activationBytesRead = c.macs
        c.bytesWritten = n
        return c
    }

    /// `dynamicFusionScalar`: F twice per element (for A, then for q_f), each product loading η (2 B, an
    /// activation) and a kernel byte; the mixed bias adds g products per channel (η and 4 B of mb); per channel
    /// the static bias (4 B) and multiplier (8 B); writes the fused kernel, bias (4 B) and multipliers (8 B).
    public static func fusionCounts(_ f: DynamicFusionParams, mixedBias: Bool, staticBias: Bool) -> KernelCounts {
        var c = KernelCounts()
        let kernelProducts = 2 * f.kernelCount * f.kernelElements
        let biasProducts = mixedBias ? f.kernelCount * f.outputChannels : 0
        c.fusionMACs = kernelProducts + biasProducts
        c.fusionRescales = f.kernelElements + f.outputChannels
        c.parameterBytesRead = kernelProducts + 4 * biasProducts + 8 * f.outputChannels
            + (staticBias ? 4 * f.outputChannels : 0)
        c.activationBytesRead = 2 * (kernelProducts + biasProducts)
        c.bytesWritten = f.kernelElements + 12 * f.outputChannels
        return c
    }

    /// The fused DC correction of a dynamic layer (Common/FusedDCCorrection.swift), on top of `fusionCounts`:
    /// `fusedDCInputMeans` (per input element a load and an add; per channel a division, the means being op
    /// scratch), then per fused element the residual of its rescale times its mean (a `fusionRescale`, with the
    /// mean's 2-byte load), and per output channel one rounding.
    public static func fusedDCCounts(_ f: DynamicFusionParams, _ p: Conv2DParams) -> KernelCounts {
        var c = KernelCounts()
        let inputs = p.inputHeight * p.inputWidth * p.inputChannels
        c.adds = inputs
        c.elementOps = p.inputChannels + f.outputChannels
        c.fusionRescales = f.kernelElements
        c.activationBytesRead = inputs + 2 * f.kernelElements
        return c
    }

    /// `addScalar`: per element two loads, three requantizations, one add, one store.
    public static func addCounts(count n: Int) -> KernelCounts {
        var c = KernelCounts()
        c.adds = n; c.requantizations = 3 * n; c.activationBytesRead = 2 * n; c.bytesWritten = n
        return c
    }

    /// `maxPool2dScalar`: per in-image tap a load and a comparison; per output a store.
    public static func maxPoolCounts(_ p: Pool2DParams) -> KernelCounts {
        var c = KernelCounts()
        let taps = p.channels * p.inImageTaps(inputHeight: p.inputHeight, inputWidth: p.inputWidth,
                                              outputHeight: p.outputHeight, outputWidth: p.outputWidth)
        c.elementOps = taps; c.activationBytesRead = taps; c.bytesWritten = p.outputCount
        return c
    }

    /// `avgPool2dScalar`: per in-image tap a load and an add; per output a division and a store.
    public static func avgPoolCounts(_ p: Pool2DParams) -> KernelCounts {
        var c = KernelCounts()
        let taps = p.channels * p.inImageTaps(inputHeight: p.inputHeight, inputWidth: p.inputWidth,
                                              outputHeight: p.outputHeight, outputWidth: p.outputWidth)
        c.adds = taps; c.activationBytesRead = taps; c.elementOps = p.outputCount; c.bytesWritten = p.outputCount
        return c
    }

    /// `globalAveragePoolScalar`: per input element a load and an add; per channel a requantization and a store.
    public static func globalAveragePoolCounts(_ p: GlobalAveragePoolParams) -> KernelCounts {
        var c = KernelCounts()
        let n = p.height * p.width * p.channels
        c.adds = n; c.activationBytesRead = n; c.requantizations = p.channels; c.bytesWritten = p.channels
        return c
    }
}

// Counts of the kernels every set shares (Common/).

/// `lookupTable` and `inputTable`: per element a load, a table lookup (1 B), a store.
public func lookupCounts(count n: Int) -> KernelCounts {
    var c = KernelCounts()
    c.tableLookups = n; c.parameterBytesRead = n; c.activationBytesRead = n; c.bytesWritten = n
    return c
}

/// `sigmoidGate`: per coefficient a logit load, a lookup (2 B), a 2-byte store.
public func sigmoidGateCounts(count n: Int) -> KernelCounts {
    var c = KernelCounts()
    c.tableLookups = n; c.parameterBytesRead = 2 * n; c.activationBytesRead = n; c.bytesWritten = 2 * n
    return c
}

/// `softmaxInt8` and `softmaxGate` over `n` logits: a max pass (load, compare), an exp-sum pass (load, lookup of
/// 4 B) and an output pass (load, lookup, divide, store of `outputBytes` each).
public func softmaxCounts(count n: Int, outputBytes: Int) -> KernelCounts {
    var c = KernelCounts()
    c.tableLookups = 2 * n; c.elementOps = 2 * n; c.parameterBytesRead = 8 * n; c.activationBytesRead = 3 * n
    c.bytesWritten = outputBytes * n
    return c
}

/// A copy of `n` bytes (concat without requantization, split, shuffle, flatten): per byte a load, an element
/// op, a store.
public func copyCounts(count n: Int) -> KernelCounts {
    var c = KernelCounts()
    c.elementOps = n; c.activationBytesRead = n; c.bytesWritten = n
    return c
}

/// A concat input requantized: per element a load, a requantization, a store.
public func requantizedCopyCounts(count n: Int) -> KernelCounts {
    var c = KernelCounts()
    c.requantizations = n; c.activationBytesRead = n; c.bytesWritten = n
    return c
}
