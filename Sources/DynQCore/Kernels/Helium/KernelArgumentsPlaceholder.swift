// PLACEHOLDER until the kernel-set protocol (issue 12, branch `arch`) lands: the argument structs of
// /work/wt/KERNEL-SET-PLAN.md, field for field, so the Helium kernels already have their final signatures.
// When merging, delete this file and keep the lead's definitions.

/// Pointers of one conv2d / depthwise / linear call.
public struct ConvArguments {
    public var input: UnsafePointer<Int8>
    /// Packed weights if the packed byte count is > 0, else the model's int8 weights.
    public var weights: UnsafeRawPointer
    /// `[O]`, nil = zeros.
    public var bias: UnsafePointer<Int32>?
    public var multipliers: UnsafePointer<QuantizedMultiplier>
    public var output: UnsafeMutablePointer<Int8>
    /// `scratchBytes` bytes, 16-byte aligned (nil when 0).
    public var scratch: UnsafeMutableRawPointer?

    public init(input: UnsafePointer<Int8>, weights: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
                multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
                scratch: UnsafeMutableRawPointer?) {
        self.input = input; self.weights = weights; self.bias = bias; self.multipliers = multipliers
        self.output = output; self.scratch = scratch
    }
}

/// Pointers of one dynamic fusion call.
public struct FusionArguments {
    /// `g` int8 kernels, `[g][O][K]` (OHWI) or `[g][kh][kw][C]`.
    public var kernels: UnsafePointer<Int8>
    /// This layer's first Q15 coefficient (`[O][g]` or `[g]`).
    public var coefficients: UnsafePointer<Int16>
    /// `[g][O]`
    public var mixedBias: UnsafePointer<Int32>?
    /// `[O]`
    public var staticBias: UnsafePointer<Int32>?
    /// `[O]`
    public var staticMultipliers: UnsafePointer<QuantizedMultiplier>
    /// `fused*WeightBytes`, 16-byte aligned, read by conv2d / depthwise.
    public var fusedWeights: UnsafeMutableRawPointer
    /// `[O]`
    public var fusedBias: UnsafeMutablePointer<Int32>
    /// `[O]`
    public var fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>
    public var scratch: UnsafeMutableRawPointer?

    public init(kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?,
                staticBias: UnsafePointer<Int32>?, staticMultipliers: UnsafePointer<QuantizedMultiplier>,
                fusedWeights: UnsafeMutableRawPointer, fusedBias: UnsafeMutablePointer<Int32>,
                fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>, scratch: UnsafeMutableRawPointer?) {
        self.kernels = kernels; self.coefficients = coefficients; self.mixedBias = mixedBias
        self.staticBias = staticBias; self.staticMultipliers = staticMultipliers; self.fusedWeights = fusedWeights
        self.fusedBias = fusedBias; self.fusedMultipliers = fusedMultipliers; self.scratch = scratch
    }
}
