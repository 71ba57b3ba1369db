// The AArch64 NEON kernel set: convolution, linear and the conv half of dynamic layers on NEON's widening int8
// multiplies (NEONConv.swift, NEONFusion.swift), depthwise on NEON's widening int16 multiplies (NEONDepthwise.swift);
// element-wise add on its 64-bit products (NEONAdd.swift); pooling is the 128-bit SIMD set's.
import DynQIntrinsics

/// The AArch64 NEON kernel set (Cortex-A53 and later; SDOT on cores with the dot-product extension).
///
/// Chooser (`chooseConv`): grouped layers with fewer than 4 output channels per group run the 128-bit SIMD set's
/// variant for them (`.simd128(SIMD128Kernels.chooseConv(p))`); short-K layers (`neonThinPreferred`: K ≤ 64, or
/// ≤ 160 with whole blocks of 16 channels; with SDOT K ≤ 32, or ≤ 72 for windows above 1×1) take `.thin`
/// (NEONThin.swift: 4 pixels × 16 channels, channels in lanes, SMLAL by lane; Armv8.0); the rest `.tileSDOT` when
/// the build targets a core with the dot-product extension (`dynq_neon_dotprod_native()`: `-Xcc
/// -march=armv8.2-a+dotprod`, or `-Xcc -mcpu=cortex-a55` / `cortex-a76`), else `.tileSMLAL` — both the 2 × 4 tile
/// of NEONConv.swift on the same packed layout. Depthwise is `.depthwise` (NEONDepthwise.swift). The variant decides
/// the packed bytes, the scratch bytes, the packing, the kernel and the fusion's layout. On hosts without NEON the
/// DynQIntrinsics wrappers are C models: the same results, slowly (tests only).
@frozen
public struct NEONKernels: KernelSet {
    public static var name: StaticString { "neon" }

    public enum Variant: Equatable, Sendable {
        /// The 2 × 4 tile with SMULL + SMLAL2 + SADALP (Armv8.0).
        case tileSMLAL
        /// The 2 × 4 tile with SDOT (Armv8.2 dot product).
        case tileSDOT
        /// The 4 × 16 thin-K tile, output channels in lanes (NEONThin.swift; Armv8.0).
        case thin
        /// A variant of the 128-bit SIMD set, run by `SIMD128Kernels`.
        case simd128(SIMD128Kernels.Variant)
        /// Depthwise: `SMLAL`/`SMLAL2` over 8 channels per tap on the 128-bit SIMD set's packed weights and row
        /// cache (NEONDepthwise.swift), so the SIMD set's depthwise fusion feeds it.
        case depthwise
    }

    @inlinable public init() {}

    /// Whether this build's `NEONDotSDOT` is the SDOT instruction.
    @inlinable public static var hasDotProduct: Bool { dynq_neon_dotprod_native() != 0 }

    /// The tile variant of this build.
    @inlinable public static var tile: Variant { hasDotProduct ? .tileSDOT : .tileSMLAL }

    // MARK: conv2d

    @inlinable public static func chooseConv(_ p: Conv2DParams) -> Variant {
        if p.groups > 1 && p.groupOutputChannels < neonConvBlockChannels {
            return .simd128(SIMD128Kernels.chooseConv(p))
        }
        if neonThinPreferred(p, dotProduct: hasDotProduct) { return .thin }
        return tile
    }

    /// Tile: `groups · ⌈(O/groups)/4⌉ · (4·⌈K/16⌉·16 + 16)` bytes (NEONConv.swift's layout); thin:
    /// `neonThinPackedWeightBytes` (NEONThin.swift).
    @inlinable public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.convPackedWeightBytes(p, s) }
        if v == .thin { return neonThinPackedWeightBytes(p) }
        return p.groups * neonConvBlocks(p) * neonConvBlockBytes(p)
    }

    /// Tile: the prepared requantization blocks (`groups · ⌈(O/groups)/4⌉ · 64`), then four im2col rows of
    /// `⌈K/16⌉·16` bytes; thin: `neonThinScratchBytes`.
    @inlinable public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.convScratchBytes(p, s) }
        if v == .thin { return neonThinScratchBytes(p) }
        return p.groups * neonConvBlocks(p) * neonPreparedBlockBytes + neonConvTilePixels * neonConvRowBytes(p)
    }

    @inlinable public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                  into packed: UnsafeMutableRawPointer) {
        if case .simd128(let s) = v { return SIMD128Kernels.packConvWeights(p, s, weights: weights, into: packed) }
        let k = p.weightsPerOutputChannel
        if v == .thin {
            for o in 0..<p.outputChannels { neonThinPackChannel(p, channel: o, weights: weights + o * k, into: packed) }
            return
        }
        for o in 0..<p.outputChannels { neonPackConvChannel(p, channel: o, weights: weights + o * k, into: packed) }
    }

    @inlinable public func conv2d(_ p: Conv2DParams, _ v: Variant, _ a: ConvArguments) {
        switch v {
        case .tileSMLAL:
            neonConv2d(NEONDotSMLAL.self, p, input: a.input, packedWeights: a.weights, bias: a.bias,
                       multipliers: a.multipliers, output: a.output, scratch: a.scratch!)
        case .tileSDOT:
            neonConv2d(NEONDotSDOT.self, p, input: a.input, packedWeights: a.weights, bias: a.bias,
                       multipliers: a.multipliers, output: a.output, scratch: a.scratch!)
        case .thin:
            neonThinConv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                           output: a.output, scratch: a.scratch!)
        case .simd128(let s):
            SIMD128Kernels().conv2d(p, s, a)
        case .depthwise:
            preconditionFailure("NEONKernels: the depthwise variant for a conv")
        }
    }

    // MARK: depthwise: the NEON kernel on the 128-bit SIMD set's packed layout (NEONDepthwise.swift)

    @inlinable public static func chooseDepthwise(_ p: DepthwiseConv2DParams) -> Variant { .depthwise }
    /// `⌈taps/2⌉ · C₈ · 4` bytes: the SIMD set's tap pairs (`packDepthwiseConv2dWeights`).
    @inlinable public static func depthwisePackedWeightBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        SIMD128Kernels.depthwisePackedWeightBytes(p, v.simd128)
    }
    /// `.depthwise`: `neonDepthwiseScratchBytes` (row cache, tap offsets, prepared requantization blocks).
    @inlinable public static func depthwiseScratchBytes(_ p: DepthwiseConv2DParams, _ v: Variant) -> Int {
        if case .depthwise = v { return neonDepthwiseScratchBytes(p) }
        return SIMD128Kernels.depthwiseScratchBytes(p, v.simd128)
    }
    @inlinable public static func packDepthwiseWeights(_ p: DepthwiseConv2DParams, _ v: Variant,
                                                       weights: UnsafePointer<Int8>,
                                                       into packed: UnsafeMutableRawPointer) {
        SIMD128Kernels.packDepthwiseWeights(p, v.simd128, weights: weights, into: packed)
    }
    @inlinable public func depthwiseConv2d(_ p: DepthwiseConv2DParams, _ v: Variant, _ a: ConvArguments) {
        if case .depthwise = v {
            return neonDepthwiseConv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias,
                                       multipliers: a.multipliers, output: a.output, scratch: a.scratch!)
        }
        SIMD128Kernels().depthwiseConv2d(p, v.simd128, a)
    }

    // MARK: linear ([O][F], as a 1×1 convolution of a 1×1 image: the 1 × 4 tile)

    @inlinable public static func chooseLinear(_ p: LinearParams) -> Variant { tile }
    @inlinable public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.linearPackedWeightBytes(p, s) }
        return convPackedWeightBytes(p.asConv, v)
    }
    @inlinable public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.linearScratchBytes(p, s) }
        return convScratchBytes(p.asConv, v)
    }
    @inlinable public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                    into packed: UnsafeMutableRawPointer) {
        if case .simd128(let s) = v { return SIMD128Kernels.packLinearWeights(p, s, weights: weights, into: packed) }
        packConvWeights(p.asConv, v, weights: weights, into: packed)
    }
    @inlinable public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        if case .simd128(let s) = v { return SIMD128Kernels().linear(p, s, a) }
        conv2d(p.asConv, v, a)
    }

    // MARK: dynamic fusion: the tile and thin variants fuse straight into their packed layouts (NEONFusion.swift)

    @inlinable public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                       _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.fusedConvWeightBytes(f, p, s) }
        return convPackedWeightBytes(p, v)
    }
    /// Tile: `neonFusionScratchBytes` (F of one channel, the broadcast coefficients).
    @inlinable public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                         _ v: Variant) -> Int {
        if case .simd128(let s) = v { return SIMD128Kernels.convFusionScratchBytes(f, p, s) }
        return neonFusionScratchBytes(f, p)
    }
    @inlinable public func fuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, _ a: FusionArguments) {
        if case .simd128(let s) = v { return SIMD128Kernels().fuseConv(f, p, s, a) }
        neonFuseConv(f, p, a, thin: v == .thin)
    }
    @inlinable public static func fusedDepthwiseWeightBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                            _ v: Variant) -> Int {
        SIMD128Kernels.fusedDepthwiseWeightBytes(f, p, v.simd128)
    }
    /// `.depthwise`: `neonDepthwiseFusionScratchBytes` (F, the coefficient table, the reciprocals).
    @inlinable public static func depthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams,
                                                              _ v: Variant) -> Int {
        if case .depthwise = v { return neonDepthwiseFusionScratchBytes(f, p) }
        return SIMD128Kernels.depthwiseFusionScratchBytes(f, p, v.simd128)
    }
    /// `.depthwise`: `neonFuseDepthwise` (NEONDepthwiseFusion.swift), straight into the tap-pair layout.
    @inlinable public func fuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ v: Variant,
                                         _ a: FusionArguments) {
        if case .depthwise = v { return neonFuseDepthwise(f, p, a) }
        SIMD128Kernels().fuseDepthwise(f, p, v.simd128, a)
    }

    // MARK: element-wise: NEON's add (NEONAdd.swift); pooling: the 128-bit SIMD set's

    @inlinable public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                               output: UnsafeMutablePointer<Int8>) {
        neonAdd(p, count: count, input1: a, input2: b, output: output)
    }
    @inlinable public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        SIMD128Kernels().maxPool2d(p, input: input, output: output)
    }
    @inlinable public func avgPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        SIMD128Kernels().avgPool2d(p, input: input, output: output)
    }
    @inlinable public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                             output: UnsafeMutablePointer<Int8>) {
        SIMD128Kernels().globalAveragePool(p, input: input, output: output)
    }
}

extension NEONKernels.Variant {
    /// The SIMD128 variant a `.simd128` variant carries; `.depthwise` reads the SIMD set's depthwise layout.
    @inlinable var simd128: SIMD128Kernels.Variant {
        if case .simd128(let s) = self { return s }
        if case .depthwise = self { return .depthwise }
        preconditionFailure("NEONKernels: a tile variant where a SIMD128 variant was chosen")
    }
}
