// The Cortex-M DSP kernel set (Armv7E-M: Cortex-M4, Cortex-M7): DynQ's int8 kernels on the DSP extension's
// 32-bit SIMD instructions, reached through DynQIntrinsics' `dynq_arm_dsp.h` wrappers (SXTB16, SXTAB16, SMLAD,
// SMLAxy, SMMUL). On any other target the same Swift code runs on the wrappers' portable C models, so every kernel
// is tested bit for bit against the reference kernels on the host (Tests/DynQCoreTests/KernelsCortexMDSPTests.swift)
// and on the emulated cores (scripts/qemu-layers.sh).
//
// Shapes of the kernels (Armv7E-M has 13 usable general registers and no vector unit):
// - conv2d / linear: a GEMM tile of 2 output channels × 2 output pixels (4 int32 accumulators). The pixels'
//   receptive fields are gathered once per pixel pair into an int16 im2col buffer of `(q − z_in)` values in the
//   order SXTB16 produces weights: for each group of 4 K-elements `k0…k3`, word A = (k0, k2), word B = (k1, k3).
//   The int8 OHWI weights are read IN PLACE (the model's bytes, or the fusion's output), 4 at a time, and widened
//   with `SXTB16` (bytes 0, 2 → A) and `SXTB16 ROR #8` (bytes 1, 3 → B), so one `SMLAD` does 2 MACs:
//   16 MACs = 2 weight loads, 4 widenings, 4 im2col loads, 8 SMLAD. No packed weight copies.
// - depthwise: 4 channels × 1 pixel, channels in the SXTB16 lanes, one `SMLABB`/`SMLATT` per MAC.
// - requantization: `SMMUL`-based single rounding (`DSPRequantize.swift`), bit-exact with
//   `OutputQuantization.requantize` for every multiplier.
// - dynamic fusion: writes the fused int8 kernel in the layout the conv / depthwise kernels read (OHWI or
//   `[kh][kw][C]`), so there is no second copy.
//
// Conforms to `KernelSet`: conv2d, depthwise, linear, both fusions, add and global average pool are the set's own;
// max and average pooling are the defaults (the scalar kernels). The set has no packed weights: every
// `*PackedWeightBytes` is 0 and the kernels read the model's int8 weights (or the fusion's output) in place.

import DynQIntrinsics

/// The Cortex-M DSP (Armv7E-M) kernel set. Every kernel's output is bit-identical to the oracle's.
@frozen
public struct CortexMDSPKernels: KernelSet {
    public static var name: StaticString { "cortex-m-dsp" }

    /// The choosers' answers (`chooseConv`, `chooseDepthwise`, `chooseLinear`).
    public enum Variant: UInt8, Equatable, Sendable {
        /// conv2d: 1×1, one group, stride 1, no padding, `I % 4 == 0`: each output pixel's receptive field is its
        /// input pixel's `I` contiguous channels, widened 4 at a time.
        case pointwise
        /// conv2d: any window, `I/groups % 4 == 0`: im2col gathered 4 channels at a time (SXTAB16 adds `−z_in`).
        case im2colWords
        /// conv2d: any window and channel count (e.g. the 1-channel stem): im2col gathered element by element.
        case im2colElements
        /// conv2d: 32 channels per group, stride and dilation 1 across, an even output width, `kw > 1`: the pixel
        /// pair's receptive fields share `kw − 1` columns, gathered once into a strip of `kh × (kw + 1)` columns
        /// (768 instead of 1,152 bytes of scratch for 3×3×32).
        case im2colStrip
        /// depthwise: 4 channels × 1 pixel, int8 `[kh][kw][C]` weights read in place (widened per quad into scratch).
        case channelQuads
        /// linear: 2 channels × 1 row, int8 `[O][F]` weights in place.
        case channelPairs
    }

    @inlinable public init() {}

    /// True when the DynQIntrinsics wrappers are the DSP instructions (an Armv7E-M build), false when they are
    /// the portable C models (any other target).
    public static var usesDSPInstructions: Bool { dynq_arm_dsp_native() != 0 }
}
