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
// The static methods have the shapes of the `KernelSet` protocol the lead is building (issue 12); the argument
// structs below stand in for the protocol's `ConvArguments` / `FusionArguments` (same fields) until it lands.

import DynQIntrinsics

/// The Cortex-M DSP (Armv7E-M) kernel set. Every kernel's output is bit-identical to its reference kernel's.
public enum CortexMDSPKernels {
    public static var name: StaticString { "cortex-m-dsp" }

    /// True when the DynQIntrinsics wrappers are the DSP instructions (an Armv7E-M build), false when they are
    /// the portable C models (any other target).
    public static var usesDSPInstructions: Bool { dynq_arm_dsp_native() != 0 }

    /// The operands of a conv2d, depthwise or linear call (the protocol's `ConvArguments`).
    public struct ConvArguments {
        public var input: UnsafePointer<Int8>
        /// The layer's int8 weights, read in place (no set of this kernel set packs weights).
        public var weights: UnsafeRawPointer
        /// `[O]`, nil = zeros.
        public var bias: UnsafePointer<Int32>?
        /// `[O]`.
        public var multipliers: UnsafePointer<QuantizedMultiplier>
        public var output: UnsafeMutablePointer<Int8>
        /// `*ScratchBytes` bytes, 16-byte aligned (nil when 0).
        public var scratch: UnsafeMutableRawPointer?

        @inlinable
        public init(input: UnsafePointer<Int8>, weights: UnsafeRawPointer, bias: UnsafePointer<Int32>?,
                    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>,
                    scratch: UnsafeMutableRawPointer?) {
            self.input = input; self.weights = weights; self.bias = bias; self.multipliers = multipliers
            self.output = output; self.scratch = scratch
        }
    }

    /// The operands of a dynamic fusion (the protocol's `FusionArguments`).
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
        /// `fused*WeightBytes`, 16-byte aligned: the fused int8 kernel, in the layout conv2d / depthwise read.
        public var fusedWeights: UnsafeMutableRawPointer
        /// `[O]`.
        public var fusedBias: UnsafeMutablePointer<Int32>
        /// `[O]`.
        public var fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>
        public var scratch: UnsafeMutableRawPointer?

        @inlinable
        public init(kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>,
                    mixedBias: UnsafePointer<Int32>?, staticBias: UnsafePointer<Int32>?,
                    staticMultipliers: UnsafePointer<QuantizedMultiplier>, fusedWeights: UnsafeMutableRawPointer,
                    fusedBias: UnsafeMutablePointer<Int32>, fusedMultipliers: UnsafeMutablePointer<QuantizedMultiplier>,
                    scratch: UnsafeMutableRawPointer?) {
            self.kernels = kernels; self.coefficients = coefficients; self.mixedBias = mixedBias
            self.staticBias = staticBias; self.staticMultipliers = staticMultipliers
            self.fusedWeights = fusedWeights; self.fusedBias = fusedBias; self.fusedMultipliers = fusedMultipliers
            self.scratch = scratch
        }
    }
}
