// The HostWide kernel set: x86-64 kernels for AVX2 / AVX-512 (VNNI) builds (DYNQ_HOST_ISA, docs/host-isa.md),
// with the shapes of the kernel-set protocol (KERNEL-SET-PLAN.md). Every kernel is bit-exact with its reference
// kernel in every build; in a build without the ISA its intrinsics fall back to portable C (dynq_x86.h), which is
// exact but slow, so the choosers only pick a wide variant when the build has the instructions, and otherwise the
// 128-bit SIMD kernels. x86-64 only.
#if arch(x86_64)
import DynQIntrinsics

/// The x86 wide kernel set. Static methods only: a set is a namespace.
public enum HostWideKernels {
    public static var name: StaticString { "host-wide" }

    /// Whether this build has AVX-512 VNNI (the fast paths of the conv, depthwise and linear kernels).
    @inlinable public static var hasAVX512VNNI: Bool { DYNQ_X86_AVX512VNNI != 0 }
    /// Whether this build has AVX-512 BW (64-byte vectors for pooling and adds).
    @inlinable public static var hasAVX512BW: Bool { DYNQ_X86_AVX512BW != 0 }

    // MARK: conv2d

    /// How a conv layer runs.
    public enum ConvVariant: Equatable, Sendable {
        /// `vpdpbusd` direct convolution over the padded uint8 image (HostWideConvVNNI.swift): any shape.
        case vnni
        /// The 128-bit SIMD conv (`conv2d`, ConvSIMD.swift / GroupedConvSIMD.swift): any shape.
        case simd128
    }

    /// The VNNI conv for every layer in an AVX-512 VNNI build except grouped layers with fewer than 8 output
    /// channels per group (the 16-lane channel blocks would be mostly empty; the SIMD128 pixel-lane kernel fills
    /// its lanes); the SIMD128 conv otherwise.
    public static func chooseConv(_ p: Conv2DParams) -> ConvVariant {
        if hasAVX512VNNI && !(p.groups > 1 && p.groupOutputChannels < 8) { return .vnni }
        return .simd128
    }

    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvPackedBytes(p)
        case .simd128: return conv2dPackedWeightBytes(p)
        }
    }

    public static func convScratchBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvScratchBytes(p)
        case .simd128: return conv2dScratchBytes(p)
        }
    }

    public static func packConvWeights(_ p: Conv2DParams, _ v: ConvVariant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {
        switch v {
        case .vnni: hostWideVNNIConvPack(p, weights: weights, into: into)
        case .simd128: packConv2dWeights(p, weights: weights, into: into)
        }
    }

    public static func conv2d(_ p: Conv2DParams, _ v: ConvVariant, _ a: ConvArguments) {
        switch v {
        case .vnni:
            hostWideVNNIConv(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                             output: a.output, scratch: a.scratch!)
        case .simd128:
            DynQCore.conv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                            output: a.output, scratch: a.scratch!)
        }
    }
}
#endif
