import DynQCore

// The kernel set a DynQ firmware library runs, chosen when the library is built: scripts/build-libs.sh passes one
// of `-D DYNQ_KERNELS_SCALAR`, `-D DYNQ_KERNELS_SIMD128`, `-D DYNQ_KERNELS_DSP`, `-D DYNQ_KERNELS_HELIUM` to
// swiftc (none: scalar). This file is the only place that maps the flag to a set.
//
// Retargeting (issue 12's `Interpreter<K: KernelSet>`): each branch becomes `typealias LibraryKernels = <Set>`
// (ScalarKernels, SIMD128Kernels, CortexMDSPKernels, HeliumKernels) and the C API instantiates the generic
// interpreter with it, so the image links exactly one set.

/// The kernel sets the firmware layer can run today (each is one `Interpreter.Options` of today's core).
public enum FirmwareKernelSet: Equatable, Sendable, CaseIterable {
    /// The portable scalar integer kernels (today's reference kernels): the smallest arena.
    case scalar
    /// The 128-bit Swift SIMD kernels: packed weights and scratch in the arena, faster on hosts and Cortex-A.
    case simd128

    /// The name `dynq_kernel_set()` returns and the exported header's macro suffix uses (upper-cased).
    public var name: StaticString {
        switch self {
        case .scalar: return "scalar"
        case .simd128: return "simd128"
        }
    }

    /// Today's interpreter options for the set.
    var options: Interpreter.Options {
        Interpreter.Options(keepAll: false, useReference: self == .scalar)
    }
}

/// The set this library was built with, and the set the build asked for (they differ while a requested set is
/// not in DynQCore yet: the DSP and Helium sets of issue 13 fall back to the scalar set).
enum LibraryKernels {
#if DYNQ_KERNELS_SIMD128
    static var set: FirmwareKernelSet { .simd128 }
    static var requested: StaticString { "simd128" }
#elseif DYNQ_KERNELS_DSP
    // Cortex-M4/M7 DSP set (Sources/DynQCore/Kernels/CortexMDSP, issue 13): not in the core yet.
    static var set: FirmwareKernelSet { .scalar }
    static var requested: StaticString { "cortex-m-dsp" }
#elseif DYNQ_KERNELS_HELIUM
    // Cortex-M55/M85 Helium (MVE) set (Sources/DynQCore/Kernels/Helium, issue 13): not in the core yet.
    static var set: FirmwareKernelSet { .scalar }
    static var requested: StaticString { "helium" }
#else
    static var set: FirmwareKernelSet { .scalar }
    static var requested: StaticString { "scalar" }
#endif
}
