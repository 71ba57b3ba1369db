// PROVISIONAL: the argument structs of the kernel-set protocol (issue 12, KERNEL-SET-PLAN.md), defined here only so
// that the HostWide set can be written and tested with the protocol's shapes before the lead's `KernelSet` lands.
// When it lands, delete this file: the lead's definitions (same names, same fields) replace it.

/// Arguments of a conv / depthwise / linear call.
public struct ConvArguments {
    public var input: UnsafePointer<Int8>
    /// Packed weights if the variant's packed bytes are > 0, else the model's int8 weights.
    public var weights: UnsafeRawPointer
    /// `[O]`, nil = zeros.
    public var bias: UnsafePointer<Int32>?
    /// `[O]`.
    public var multipliers: UnsafePointer<QuantizedMultiplier>
    public var output: UnsafeMutablePointer<Int8>
    /// `scratchBytes` bytes, 16-byte aligned (nil when 0).
    public var scratch: UnsafeMutableRawPointer?

    @inlinable
    public init(input: UnsafePointer<Int8>, weights: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
                multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
                scratch: UnsafeMutableRawPointer?) {
        self.input = input; self.weights = weights; self.bias = bias; self.multipliers = multipliers
        self.output = output; self.scratch = scratch
    }
}

/// Arguments of a per-sample dynamic fusion call.
public struct FusionArguments {
    /// `g` int8 kernels, `[g][O][K]` (OHWI) or `[g][kh][kw][C]`.
    public var kernels: UnsafePointer<Int8>
    /// This layer's first Q15 coefficient (`[O][g]` or `[g]`).
    public var coefficients: UnsafePointer<Int16>
    /// `[g][O]`.
    public var mixedBias: UnsafePointer<Int32>?
    /// `[O]`.
    public var staticBias: UnsafePointer<Int32>?
    /// `[O]`.
    public var staticMultipliers: UnsafePointer<QuantizedMultiplier>
    /// `fused*WeightBytes`, 16-byte aligned, read by conv2d / depthwise.
    public var fusedWeights: UnsafeMutableRawPointer
    /// `[O]`.
    public var fusedBias: UnsafeMutablePointer<Int32>
    /// `[O]`.
    public var fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>
    public var scratch: UnsafeMutableRawPointer?

    @inlinable
    public init(kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?,
                staticBias: UnsafePointer<Int32>?, staticMultipliers: UnsafePointer<QuantizedMultiplier>,
                fusedWeights: UnsafeMutableRawPointer, fusedBias: UnsafeMutablePointer<Int32>,
                fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>, scratch: UnsafeMutableRawPointer?) {
        self.kernels = kernels; self.coefficients = coefficients; self.mixedBias = mixedBias
        self.staticBias = staticBias; self.staticMultipliers = staticMultipliers; self.fusedWeights = fusedWeights
        self.fusedBias = fusedBias; self.fusedMultipliers = fusedMultipliers; self.scratch = scratch
    }
}
