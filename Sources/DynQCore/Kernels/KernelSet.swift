// The kernel-set interface: what one build's kernels must provide. docs/architecture.md, "Kernel sets".
//
// The interpreter and every op's `run` are generic over `K: KernelSet`, so a build specializes them for the set it
// instantiates and links exactly that set's kernels (an Embedded image instantiates one; the host build
// instantiates several, for tests and `dynq ... --kernels NAME`). There is no run-time kernel switch.
//
// Per op family, a **named chooser** (`chooseConv`, `chooseDepthwise`, `chooseLinear`) picks one of the set's
// variants from the op's parameters alone. The interpreter calls it once, at init, and stores the answer in the
// op's slot in the arena; the variant then decides the packed-weight bytes, the scratch bytes, the packing and
// the kernel, so those four can never disagree about the layout.
//
// Contract for every kernel of every set: outputs bit-identical to the oracle (`Kernels/Oracle/`) for every valid
// parameter set (any window, stride, padding, dilation, groups, zero points, clamps, bias present or not).

/// Pointers one convolution, depthwise convolution or fully connected call works on.
@frozen
public struct ConvArguments {
    /// NHWC int8 input (`[F]` for linear).
    public var input: UnsafePointer<Int8>
    /// The set's packed weights when `*PackedWeightBytes > 0` (packed once at init, or per sample by `fuse*`),
    /// otherwise the model's int8 weights in place (OHWI, `[kh][kw][C]` for depthwise, `[O][F]` for linear).
    public var weights: UnsafeRawPointer
    /// int32 `[O]` at scale `s_in · s_w[o]`; nil = zeros.
    public var bias: UnsafePointer<Int32>?
    /// One `QuantizedMultiplier` per output channel.
    public var multipliers: UnsafePointer<QuantizedMultiplier>
    /// NHWC int8 output (`[O]` for linear).
    public var output: UnsafeMutablePointer<Int8>
    /// `*ScratchBytes` bytes, 16-byte aligned; nil when the variant needs none.
    public var scratch: UnsafeMutableRawPointer?

    @inlinable
    public init(input: UnsafePointer<Int8>, weights: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
                multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
                scratch: UnsafeMutableRawPointer?) {
        self.input = input; self.weights = weights; self.bias = bias; self.multipliers = multipliers
        self.output = output; self.scratch = scratch
    }
}

/// Pointers one per-sample dynamic fusion works on (docs/numerics.md, "Dynamic convolution in fixed point").
@frozen
public struct FusionArguments {
    /// The g int8 kernels one after another, each in the static op's layout (`[g][O][K]` OHWI, or
    /// `[g][kh][kw][C]` for a depthwise layer).
    public var kernels: UnsafePointer<Int8>
    /// This layer's first Q15 coefficient: `η_q[O][g]` (per channel) or `η_q[g]` (per layer), each in `[0, 32767]`.
    public var coefficients: UnsafePointer<Int16>
    /// int32 `[g][O]` at scale `s_in · s_w[o] · 2^−15`; nil = zeros.
    public var mixedBias: UnsafePointer<Int32>?
    /// int32 `[O]` at scale `s_in · s_w[o]`; nil = zeros.
    public var staticBias: UnsafePointer<Int32>?
    /// The static `(m0, e0)[O]`.
    public var staticMultipliers: UnsafePointer<QuantizedMultiplier>
    /// `fused*WeightBytes` bytes, 16-byte aligned: the fused kernel in the layout the set's conv variant reads.
    public var fusedWeights: UnsafeMutableRawPointer
    /// The per-sample int32 bias `[O]` the conv adds.
    public var fusedBias: UnsafeMutablePointer<Int32>
    /// The per-sample multipliers `[O]` the conv applies.
    public var fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>
    /// `*FusionScratchBytes` bytes, 16-byte aligned; nil when none.
    public var scratch: UnsafeMutableRawPointer?
    /// The layer's fused DC correction (Common/FusedDCCorrection.swift): the input's Q7 channel means `m[I]`
    /// (`fusedDCInputMeans`); nil = no correction (the model's flag is clear).
    public var inputMeans: UnsafePointer<Int16>?

    @inlinable
    public init(kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?,
                staticBias: UnsafePointer<Int32>?, staticMultipliers: UnsafePointer<QuantizedMultiplier>,
                fusedWeights: UnsafeMutableRawPointer, fusedBias: UnsafeMutablePointer<Int32>,
                fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>, scratch: UnsafeMutableRawPointer?,
                inputMeans: UnsafePointer<Int16>? = nil) {
        self.kernels = kernels; self.coefficients = coefficients; self.mixedBias = mixedBias
        self.staticBias = staticBias; self.staticMultipliers = staticMultipliers; self.fusedWeights = fusedWeights
        self.fusedBias = fusedBias; self.fusedMultipliers = fusedMultipliers; self.scratch = scratch
        self.inputMeans = inputMeans
    }
}

/// The kernels of one build. Sizing, choosing and packing are static (the planner sizes the arena from the model
/// alone, CMSIS-NN's `*_get_buffer_size` idea); the kernels themselves are instance methods so that a set can
/// carry state that costs nothing when empty (`ScalarKernels<T>` carries the simulator's tally).
///
/// Every set implements the convolution, depthwise, linear and fusion families; the element-wise and pooling ops
/// have defaults (the scalar kernels, `KernelSet+Defaults.swift`) that a set overrides where it is faster.
public protocol KernelSet {
    /// Shown by tools: "oracle", "scalar", "simd128", "cortex-m-dsp", "helium", "host-wide", ...
    static var name: StaticString { get }

    /// The chooser's answers for every family (one type, so the interpreter can store it in a fixed-size slot).
    associatedtype Variant: Equatable

    // MARK: conv2d: dense and grouped, any window (also the conv half of a non-depthwise dynamic_conv2d)

    /// The named conv chooser: the variant that runs `p`.
    static func chooseConv(_ p: Conv2DParams) -> Variant
    /// Bytes of weights packed for `v`, kept for the whole run; 0: the kernel reads the int8 OHWI weights in place.
    static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int
    /// Scratch bytes of one call (for the op only).
    static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int
    /// Packs OHWI int8 weights into `convPackedWeightBytes` bytes (once, at init; only called when that is > 0).
    static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                into packed: UnsafeMutableRawPointer)
    func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments)

    // MARK: depthwise conv2d: channel multiplier 1, weights [kh][kw][C]

    static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant
    static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int
    static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int
    static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                     into packed: UnsafeMutableRawPointer)
    func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments)

    // MARK: linear: weights [O][F]

    static func chooseLinear(_ p: LinearParams) -> Variant
    static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int
    static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int
    static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                  into packed: UnsafeMutableRawPointer)
    func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments)

    // MARK: dynamic fusion: the fused kernel, written directly in the layout the conv variant reads

    /// Bytes of the per-sample fused kernel as conv variant `v` reads it.
    static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int
    static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int
    /// Fuses one sample's kernel. The fused values, bias and multipliers equal `dynamicFusionReference`'s; only
    /// the layout of `a.fusedWeights` is the set's.
    func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments)

    static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant) -> Int
    static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant) -> Int
    func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant, _ a: FusionArguments)

    // MARK: element-wise and pooling (no packing, no scratch; defaults: the scalar kernels)

    func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
             output: UnsafeMutablePointer<Int8>)
    func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>)
    func avgPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>)
    func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                           output: UnsafeMutablePointer<Int8>)
    /// The fused DC correction's Q7 input means (`fusedDCInputMeans`'s values; default: that scalar kernel).
    func fusedDCInputMeans(input: UnsafePointer<Int8>, positions: Int, channels: Int, zeroPoint: Int32,
                           means: UnsafeMutablePointer<Int16>)

    /// The tally the shared kernels (tables, gates, softmax, data movement) report to: `NoTally` except in the
    /// simulator's counting set.
    associatedtype Tally: KernelTally
    var tally: Tally { get }
}
