// The AArch64 NEON kernel set: convolution, linear and the conv half of dynamic layers on NEON's widening int8
// multiplies (NEONConv.swift); depthwise, element-wise and pooling are the 128-bit SIMD set's.
import DynQIntrinsics

/// The AArch64 NEON kernel set (Cortex-A53 and later; SDOT on cores with the dot-product extension).
///
/// Chooser (`chooseConv`): `.tileSDOT` when the build targets a core with the dot-product extension
/// (`dynq_neon_dotprod_native()`: `-Xcc -march=armv8.2-a+dotprod`, or `-Xcc -mcpu=cortex-a55` / `cortex-a76`), else
/// `.tileSMLAL` — both the 2 × 4 tile of NEONConv.swift on the same packed layout — except grouped layers with
/// fewer than 4 output channels per group, which run the 128-bit SIMD set's kernels (`.simd128`). On hosts
/// without NEON the wrappers are C models: the same results, slowly (tests only).
///
/// Every function has the shape of the kernel-set protocol's (docs: KERNEL-SET-PLAN): the variant decides the
/// packed bytes, the scratch bytes, the packing and the kernel.
public enum NEONKernels {
    public static var name: StaticString { "neon" }

    public enum Variant: UInt8, Equatable, Sendable {
        /// The 4 × 4 tile with SMULL + SMLAL2 + SADALP (Armv8.0).
        case tileSMLAL
        /// The 4 × 4 tile with SDOT (Armv8.2 dot product).
        case tileSDOT
        /// The 128-bit SIMD set's conv (`conv2d` / `groupedConv2d` and their packing).
        case simd128
    }

    /// Whether this build's `NEONDotSDOT` is the SDOT instruction.
    @inlinable public static var hasDotProduct: Bool { dynq_neon_dotprod_native() != 0 }

    // MARK: conv2d

    /// `.simd128` for grouped layers with fewer than 4 output channels per group; otherwise the tile, with SDOT
    /// when the build has it.
    @inlinable public static func chooseConv(_ p: Conv2DParams) -> Variant {
        if p.groups > 1 && p.groupOutputChannels < neonConvBlockChannels { return .simd128 }
        return hasDotProduct ? .tileSDOT : .tileSMLAL
    }

    /// Tile: `groups · ⌈(O/groups)/4⌉ · (4·⌈K/16⌉·16 + 16)` bytes (NEONConv.swift's layout).
    @inlinable public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        v == .simd128 ? conv2dPackedWeightBytes(p) : p.groups * neonConvBlocks(p) * neonConvBlockBytes(p)
    }

    /// Tile: the prepared requantization blocks (`groups · ⌈(O/groups)/4⌉ · 64`), then four im2col rows of
    /// `⌈K/16⌉·16` bytes.
    @inlinable public static func convScratchBytes(_ p: Conv2DParams, _ v: Variant) -> Int {
        if v == .simd128 { return conv2dScratchBytes(p) }
        return p.groups * neonConvBlocks(p) * neonPreparedBlockBytes + neonConvTilePixels * neonConvRowBytes(p)
    }

    /// Packs OHWI int8 weights for `v` (once per static layer).
    @inlinable public static func packConvWeights(_ p: Conv2DParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                  into packed: UnsafeMutableRawPointer) {
        if v == .simd128 { return packConv2dWeights(p, weights: weights, into: packed) }
        let k = p.weightsPerOutputChannel
        for o in 0..<p.outputChannels { neonPackConvChannel(p, channel: o, weights: weights + o * k, into: packed) }
    }

    /// Same contract and results as `conv2dReference`: weights packed by `packConvWeights(p, v)`, scratch of
    /// `convScratchBytes(p, v)` bytes (16-byte aligned).
    @inlinable public static func conv2d(
        _ p: Conv2DParams, _ v: Variant, input: UnsafePointer<Int8>, weights: UnsafeRawPointer,
        bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
        output: UnsafeMutablePointer<Int8>, scratch: UnsafeMutableRawPointer
    ) {
        switch v {
        case .tileSMLAL:
            neonConv2d(NEONDotSMLAL.self, p, input: input, packedWeights: weights, bias: bias,
                       multipliers: multipliers, output: output, scratch: scratch)
        case .tileSDOT:
            neonConv2d(NEONDotSDOT.self, p, input: input, packedWeights: weights, bias: bias,
                       multipliers: multipliers, output: output, scratch: scratch)
        case .simd128:
            DynQCore.conv2d(p, input: input, packedWeights: weights, bias: bias, multipliers: multipliers,
                            output: output, scratch: scratch)
        }
    }

    // MARK: linear ([O][F], as a 1×1 convolution of a 1×1 image: the 1 × 4 tile)

    @inlinable public static func chooseLinear(_ p: LinearParams) -> Variant {
        hasDotProduct ? .tileSDOT : .tileSMLAL
    }
    @inlinable public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int {
        v == .simd128 ? DynQCore.linearPackedWeightBytes(p) : convPackedWeightBytes(p.asConv, v)
    }
    @inlinable public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int {
        v == .simd128 ? DynQCore.linearScratchBytes(p) : convScratchBytes(p.asConv, v)
    }
    @inlinable public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                                    into packed: UnsafeMutableRawPointer) {
        if v == .simd128 { return DynQCore.packLinearWeights(p, weights: weights, into: packed) }
        packConvWeights(p.asConv, v, weights: weights, into: packed)
    }
    /// Same contract and results as `linearReference`.
    @inlinable public static func linear(
        _ p: LinearParams, _ v: Variant, input: UnsafePointer<Int8>, weights: UnsafeRawPointer,
        bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
        output: UnsafeMutablePointer<Int8>, scratch: UnsafeMutableRawPointer
    ) {
        if v == .simd128 {
            return DynQCore.linear(p, input: input, packedWeights: weights, bias: bias, multipliers: multipliers,
                                   output: output, scratch: scratch)
        }
        conv2d(p.asConv, v, input: input, weights: weights, bias: bias, multipliers: multipliers, output: output,
               scratch: scratch)
    }

    // MARK: dynamic fusion (conv layers): the SIMD fusion into scratch, then each channel packed for the tile

    /// Bytes of the per-sample fused kernel as conv variant `v` reads it (its packed layout).
    @inlinable public static func fusedConvWeightBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                       _ v: Variant) -> Int {
        convPackedWeightBytes(p, v)
    }
    /// `dynamicFusionScratchBytes(f)` rounded up to 16, then the int8 fused kernel `[O][K]`.
    @inlinable public static func convFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams,
                                                         _ v: Variant) -> Int {
        (dynamicFusionScratchBytes(f) + 15) / 16 * 16 + f.kernelElements
    }
    /// One sample's fused kernel, packed for `v` in `fusedWeights`, with its bias and multipliers: values equal to
    /// `dynamicFusionReference`'s (the SIMD fusion computes them), only the layout is the tile's.
    @inlinable public static func fuseConv(
        _ f: DynamicFusionParams, _ p: Conv2DParams, _ v: Variant, kernels: UnsafePointer<Int8>,
        coefficients: UnsafePointer<Int16>, mixedBias: UnsafePointer<Int32>?, staticBias: UnsafePointer<Int32>?,
        staticMultipliers: UnsafePointer<QuantizedMultiplier>, fusedWeights: UnsafeMutableRawPointer,
        fusedBias: UnsafeMutablePointer<Int32>, fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>,
        scratch: UnsafeMutableRawPointer
    ) {
        let fused = (scratch + (dynamicFusionScratchBytes(f) + 15) / 16 * 16).assumingMemoryBound(to: Int8.self)
        let simd = v == .simd128
        dynamicFusion(f, kernels: kernels, coefficients: coefficients, mixedBias: mixedBias, staticBias: staticBias,
                      staticMultipliers: staticMultipliers, fusedKernel: fused, biasAccumulator: fusedBias,
                      multipliers: fusedMultipliers, scratch: scratch, packFor: simd ? p : nil,
                      packed: simd ? fusedWeights : nil)
        if !simd { packConvWeights(p, v, weights: fused, into: fusedWeights) }
    }
}
