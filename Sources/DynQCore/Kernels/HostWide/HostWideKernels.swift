// The HostWide kernel set: x86-64 kernels for AVX2 / AVX-512 (VNNI) builds (DYNQ_HOST_ISA, docs/host-isa.md).
// Every kernel is bit-exact with the oracle in every build; in a build without the ISA its intrinsics fall back to
// portable C (dynq_x86.h), which is exact but slow, so the choosers pick a wide variant only when the build has the
// instructions or the CPU has AVX-512 VNNI or AVX2 (then the VNNI variants run their hot loops as run-time
// dispatched C, dynq_x86_dispatch.h / dynq_x86_avx2.h: `dispatch`, HostWideDispatch.swift), and the 128-bit SIMD
// kernels (SIMD128Kernels) otherwise. x86-64 only.
#if arch(x86_64)
import DynQIntrinsics

/// The x86 wide kernel set: the 128-bit SIMD set plus wide variants chosen by the build's instruction set.
///
/// Choosers (measured with scripts/bench-hostwide.sh, docs/host-isa.md):
/// "AVX-512 VNNI" below: built for it, or any build on a CPU that has it (`runsVNNIOnly`; docs/host-isa.md
/// "Run-time dispatch"); "AVX2 CPU": any build without AVX-512 VNNI on a CPU at `DYNQ_X86_LEVEL_AVX2` (the AVX2 C
/// loops of the channel-lane conv, linear layer and fusion, `runsVNNI`).
/// - conv (AVX-512 VNNI): `.vnniPixels` for grouped layers with fewer than 8 output channels per group at
///   horizontal stride 1 whose groups the channel-lane conv cannot merge (Dy-mobile's grouped 3×3 with 3, 11 or 27
///   groups: 1.8× the channel-lane VNNI conv), `.vnni` for every other layer (Dy-mobile's grouped 3×3 with an even
///   group count, merged 2 by 2: 1.4–2× the pixel lanes, `dynq bench` per op);
///   AVX2 CPU: the same, with `.simd128PixelLane` for `.vnniPixels` (no AVX2 loop); the thin 1×1 layers and the
///   stems, which the SIMD128 chooser gives its pixel lanes, run the channel-lane conv (MobileNetV2 1.5–2.1× and
///   Dy-mobile 1.4–1.8× against the 128-bit kernels, against 1.2–1.3× with the SIMD128 chooser's choice kept;
///   `scripts/bench-binaries.sh`, 3 rounds under load);
///   other builds: the SIMD128 chooser's `.simd128Tile` / `.simd128PixelLane`.
/// - depthwise: `.wideDepthwise` with AVX2, AVX-512, an AVX-512 VNNI or an AVX2 CPU (1.5–2.4× the 128-bit kernel),
///   `.sse2Depthwise` otherwise.
/// - linear: `.vnniLinear` with AVX-512 VNNI or on an AVX2 CPU, `.simd128Linear` otherwise.
/// - add: 16 lanes with AVX-512 or an AVX-512 VNNI or AVX2 CPU (2.6×), the SIMD128 add otherwise; max pooling: 64-byte vectors in every build
///   (four SSE2 vectors in the default build: 40× the scalar kernel); global average pooling: the SIMD128 kernel.
@frozen
public struct HostWideKernels: KernelSet {
    public static var name: StaticString { "host-wide" }

    /// Whether this build has AVX-512 VNNI (the conv and linear fast paths).
    @inlinable public static var hasAVX512VNNI: Bool { DYNQ_X86_AVX512VNNI != 0 }
    /// Whether the CPU running this process has AVX-512 VNNI (CPUID and XGETBV, checked once) and the environment
    /// variable `DYNQ_HOST_DISPATCH` is not `off` or `avx2`: the run-time dispatched VNNI kernels (dynq_x86_dispatch.h)
    /// may run.
    @inlinable public static var cpuHasAVX512VNNI: Bool { cpuLevel >= DYNQ_X86_LEVEL_AVX512VNNI }
    /// Whether the VNNI variants run their run-time dispatched VNNI C passes: the build lacks AVX-512 VNNI (so its
    /// Swift tiles would run the portable C models) and the CPU has it.
    @inlinable public static var dispatchesVNNI: Bool { dispatch == .vnni }
    /// Whether the VNNI variants are fast here: the build has AVX-512 VNNI or dispatches to it or to AVX2.
    @inlinable public static var runsVNNI: Bool { runsVNNI(atLevel: cpuLevel) }
    /// Whether this build has AVX-512 BW (64-byte vectors for adds).
    @inlinable public static var hasAVX512BW: Bool { DYNQ_X86_AVX512BW != 0 }
    /// Whether this build has AVX2 (the 512-bit depthwise runs as pairs of 256-bit operations).
    @inlinable public static var hasAVX2: Bool { DYNQ_X86_AVX2 != 0 }

    public enum Variant: UInt8, Equatable, Sendable {
        /// conv: `vpdpbusd` direct convolution, output channels in the lanes (HostWideConvVNNI.swift).
        case vnni
        /// conv: `vpdpbusd`, output pixels in the lanes (HostWideConvPixels.swift).
        case vnniPixels
        /// conv: SIMD128 `.tile` (im2col GEMM, ConvSIMD.swift).
        case simd128Tile
        /// conv: SIMD128 `.pixelLane` (GroupedConvSIMD.swift).
        case simd128PixelLane
        /// depthwise: 32 channels per step (HostWideDepthwise.swift).
        case wideDepthwise
        /// depthwise: the 128-bit kernel with the SSE2 offset-form requantization (HostWideDepthwiseSSE2.swift).
        case sse2Depthwise
        /// depthwise: SIMD128 `.depthwise`.
        case simd128Depthwise
        /// linear: `vpdpbusd` GEMV (HostWideLinear.swift).
        case vnniLinear
        /// linear: SIMD128 `.linear`.
        case simd128Linear
    }

    @inlinable public init() {}

    /// The SIMD128 variant a `simd128*` variant stands for.
    @inlinable static func simd128(_ v: Variant) -> SIMD128Kernels.Variant {
        switch v {
        case .simd128PixelLane: return .pixelLane
        case .simd128Depthwise, .sse2Depthwise, .wideDepthwise: return .depthwise
        case .simd128Linear, .vnniLinear: return .linear
        default: return .tile
        }
    }

    // MARK: conv2d

    public static func chooseConv(_ p: Conv2DParams) -> Variant { chooseConv(p, atLevel: cpuLevel) }
    /// `chooseConv` at dispatch level `level` (tests choose the AVX2 variants on any CPU).
    internal static func chooseConv(_ p: Conv2DParams, atLevel level: Int32) -> Variant {
        guard runsVNNI(atLevel: level) else {
            return SIMD128Kernels.chooseConv(p) == .pixelLane ? .simd128PixelLane : .simd128Tile
        }
        if p.groups > 1 && p.groupOutputChannels < 8 && p.strideX == 1 && p.outputWidth >= hostWidePixelStrip
            && hostWideVNNIMergedGroups(p) < 2 {
            return runsVNNIOnly(atLevel: level) ? .vnniPixels : .simd128PixelLane
        }
        return .vnni
    }
    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvPackedBytes(p)
        case .vnniPixels: return hostWidePixelPackedBytes(p)
        default: return SIMD128Kernels.convPackedWeightBytes(p, simd128(v))
        }
    }
    public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvScratchBytes(p)
        case .vnniPixels: return hostWidePixelScratchBytes(p)
        default: return SIMD128Kernels.convScratchBytes(p, simd128(v))
        }
    }
    public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                       into packed: UnsafeMutableRawPointer) {
        switch v {
        case .vnni: hostWideVNNIConvPack(p, weights: weights, into: packed)
        case .vnniPixels: hostWidePixelPack(p, weights: weights, into: packed)
        default: SIMD128Kernels.packConvWeights(p, simd128(v), weights: weights, into: packed)
        }
    }
    public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        switch v {
        case .vnni:
            hostWideVNNIConv(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                             output: a.output, scratch: a.scratch!)
        case .vnniPixels:
            hostWidePixelConv(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                              output: a.output, scratch: a.scratch!)
        default:
            SIMD128Kernels().conv2d(p, Self.simd128(v), a)
        }
    }

    // MARK: depthwise

    public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant {
        chooseDepthwise(p, atLevel: cpuLevel)
    }
    /// `chooseDepthwise` at dispatch level `level`.
    internal static func chooseDepthwise(_ p: DepthwiseConv2DParams, atLevel level: Int32) -> Variant {
        hasAVX2 || runsVNNI(atLevel: level) ? .wideDepthwise : .sse2Depthwise
    }
    public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        v == .wideDepthwise ? hostWideDepthwisePackedBytes(p) : depthwiseConv2dPackedWeightBytes(p)
    }
    public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        switch v {
        case .wideDepthwise: return hostWideDepthwiseScratchBytes(p)
        case .sse2Depthwise: return hostWideDepthwiseSSE2ScratchBytes(p)
        default: return depthwiseConv2dScratchBytes(p)
        }
    }
    public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                            into packed: UnsafeMutableRawPointer) {
        if v == .wideDepthwise { hostWideDepthwisePack(p, weights: weights, into: packed) }
        else { packDepthwiseConv2dWeights(p, weights: weights, into: packed) }
    }
    public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        switch v {
        case .wideDepthwise:
            hostWideDepthwise(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                              output: a.output, scratch: a.scratch!)
        case .sse2Depthwise:
            hostWideDepthwiseSSE2(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                                  output: a.output, scratch: a.scratch!)
        default:
            SIMD128Kernels().depthwiseConv2d(p, .depthwise, a)
        }
    }

    // MARK: linear

    public static func chooseLinear(_ p: LinearParams) -> Variant { chooseLinear(p, atLevel: cpuLevel) }
    /// `chooseLinear` at dispatch level `level`.
    internal static func chooseLinear(_ p: LinearParams, atLevel level: Int32) -> Variant {
        runsVNNI(atLevel: level) ? .vnniLinear : .simd128Linear
    }
    public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int {
        v == .vnniLinear ? hostWideVNNIConvPackedBytes(p.asConv) : DynQCore.linearPackedWeightBytes(p)
    }
    public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int {
        v == .vnniLinear ? hostWideVNNILinearScratchBytes(p) : DynQCore.linearScratchBytes(p)
    }
    public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                         into packed: UnsafeMutableRawPointer) {
        if v == .vnniLinear { hostWideVNNIConvPack(p.asConv, weights: weights, into: packed) }
        else { DynQCore.packLinearWeights(p, weights: weights, into: packed) }
    }
    public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        if v == .vnniLinear {
            hostWideVNNILinear(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                               output: a.output, scratch: a.scratch!)
        } else {
            SIMD128Kernels().linear(p, .linear, a)
        }
    }

    // MARK: fusion: for the VNNI variants the fused kernel is written straight into their packing, 16 lanes at a
    // time (HostWideFusion.swift); the SIMD128 variants run the SIMD128 fusion (which packs each channel as it is
    // computed); depthwise: the SIMD128 fusion into scratch, then packed for the variant

    public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int {
        convPackedWeightBytes(p, v)
    }
    public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant) -> Int {
        switch v {
        case .vnni, .vnniPixels: return hostWideFusionScratchBytes(f, p)
        default: return SIMD128Kernels.convFusionScratchBytes(f, p, .tile)
        }
    }
    public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        switch v {
        case .vnni, .vnniPixels:
            hostWideFuseConv(f, p, pixelLane: v == .vnniPixels, kernels: a.kernels, coefficients: a.coefficients,
                             mixedBias: a.mixedBias, staticBias: a.staticBias,
                             staticMultipliers: a.staticMultipliers, biasAccumulator: a.fusedBias,
                             multipliers: a.fusedMultipliers, packed: a.fusedWeights, scratch: a.scratch!,
                             inputMeans: a.inputMeans)
        default:
            SIMD128Kernels().fuseConv(f, p, Self.simd128(v), a)
        }
    }
    public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                 _ v: Variant) -> Int {
        depthwisePackedWeightBytes(p, v)
    }
    public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                   _ v: Variant) -> Int {
        SIMD128Kernels.depthwiseFusionScratchBytes(f, p, .depthwise)
    }
    public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                              _ a: FusionArguments) {
        let s = a.scratch!
        let fused = SIMD128Kernels.fusedKernelBuffer(f, s)
        dynamicFusion(f, kernels: a.kernels, coefficients: a.coefficients, mixedBias: a.mixedBias,
                      staticBias: a.staticBias, staticMultipliers: a.staticMultipliers, fusedKernel: fused,
                      biasAccumulator: a.fusedBias, multipliers: a.fusedMultipliers, scratch: s,
                      inputMeans: a.inputMeans)
        Self.packDepthwiseWeights(p, v, weights: fused, into: a.fusedWeights)
    }

    // MARK: element-wise and pooling

    /// The 16-lane add with AVX-512 (built, or dispatched at run time on an AVX-512 VNNI or AVX2 CPU); otherwise the SIMD128 add, faster there (the 64-bit lane arithmetic is
    /// emulated: MobileNetV2's residual adds took 0.18 → 0.25 ms with the 16-lane kernel in the default build).
    public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                    output: UnsafeMutablePointer<Int8>) {
        if Self.hasAVX512BW || Self.runsVNNI { hostWideAdd16(p, count: count, a, b, output: output) }
        else { SIMD128Kernels().add(p, count: count, a, b, output: output) }
    }
    public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        hostWideMaxPool2d(p, input: input, output: output)
    }
    public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                  output: UnsafeMutablePointer<Int8>) {
        SIMD128Kernels().globalAveragePool(p, input: input, output: output)
    }
}
#endif
