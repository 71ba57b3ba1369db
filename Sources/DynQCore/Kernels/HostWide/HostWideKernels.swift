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
    /// Whether this build has AVX2 (the 512-bit depthwise runs as pairs of 256-bit operations).
    @inlinable public static var hasAVX2: Bool { DYNQ_X86_AVX2 != 0 }

    // MARK: conv2d

    /// How a conv layer runs.
    public enum ConvVariant: Equatable, Sendable {
        /// `vpdpbusd` direct convolution over the padded uint8 image, output channels in the lanes
        /// (HostWideConvVNNI.swift): any shape.
        case vnni
        /// `vpdpbusd` with output pixels in the lanes (HostWideConvPixels.swift): any shape; for few output channels
        /// per group.
        case vnniPixels
        /// The 128-bit SIMD conv (`conv2d`, ConvSIMD.swift / GroupedConvSIMD.swift): any shape.
        case simd128
    }

    /// In an AVX-512 VNNI build: the pixel-lane VNNI conv for grouped layers with fewer than 8 output channels per
    /// group and horizontal stride 1 (the channel lanes would be mostly empty; measured on Dy-mobile's grouped 3×3,
    /// 18 channels in groups of 6 at 112×112: 51 GMAC/s, 1.8× the channel-lane VNNI conv, 1.9× SIMD128), the
    /// channel-lane VNNI conv for every other layer (at stride 2 the pixel-lane kernel converts 4 input pixels per
    /// output pixel and is 0.92× the channel-lane one; thin dense 1×1 layers: 0.85–0.9×). The SIMD128 conv in other
    /// builds.
    public static func chooseConv(_ p: Conv2DParams) -> ConvVariant {
        guard hasAVX512VNNI else { return .simd128 }
        if p.groups > 1 && p.groupOutputChannels < 8 && p.strideX == 1 && p.outputWidth >= hostWidePixelStrip {
            return .vnniPixels
        }
        return .vnni
    }

    public static func convPackedWeightBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvPackedBytes(p)
        case .vnniPixels: return hostWidePixelPackedBytes(p)
        case .simd128: return conv2dPackedWeightBytes(p)
        }
    }

    public static func convScratchBytes(_ p: Conv2DParams, _ v: ConvVariant) -> Int {
        switch v {
        case .vnni: return hostWideVNNIConvScratchBytes(p)
        case .vnniPixels: return hostWidePixelScratchBytes(p)
        case .simd128: return conv2dScratchBytes(p)
        }
    }

    public static func packConvWeights(_ p: Conv2DParams, _ v: ConvVariant, weights: UnsafePointer<Int8>,
                                       into: UnsafeMutableRawPointer) {
        switch v {
        case .vnni: hostWideVNNIConvPack(p, weights: weights, into: into)
        case .vnniPixels: hostWidePixelPack(p, weights: weights, into: into)
        case .simd128: packConv2dWeights(p, weights: weights, into: into)
        }
    }

    public static func conv2d(_ p: Conv2DParams, _ v: ConvVariant, _ a: ConvArguments) {
        switch v {
        case .vnni:
            hostWideVNNIConv(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                             output: a.output, scratch: a.scratch!)
        case .vnniPixels:
            hostWidePixelConv(p, input: a.input, packed: a.weights, bias: a.bias, multipliers: a.multipliers,
                              output: a.output, scratch: a.scratch!)
        case .simd128:
            DynQCore.conv2d(p, input: a.input, packedWeights: a.weights, bias: a.bias, multipliers: a.multipliers,
                            output: a.output, scratch: a.scratch!)
        }
    }
}
#endif
