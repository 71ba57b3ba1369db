// Which loops the HostWide VNNI-layout kernels run: the run-time dispatched C loops for AVX-512 VNNI
// (dynq_x86_dispatch.h) or AVX2 (dynq_x86_avx2.h), or the Swift tiles of the build. All three read the same packed
// layouts and prepared blocks and give the same bits (docs/host-isa.md "Run-time dispatch").
#if arch(x86_64)
import DynQIntrinsics

/// The loops a VNNI-layout kernel (channel-lane conv, linear, fusion), the 32-channel depthwise or the 16-lane add
/// runs.
public enum HostWideDispatch: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The Swift tiles (`vpdpbusd` in an AVX-512 VNNI build; elsewhere its portable C model, exact but slow).
    case swift
    /// The AVX2 C loops (`vpmaddwd` on split bytes; the CPU must have AVX2).
    case avx2
    /// The AVX-512 VNNI C loops (the CPU must have AVX-512 VNNI).
    case vnni

    public var description: String {
        switch self {
        case .swift: return "swift"
        case .avx2: return "avx2"
        case .vnni: return "vnni"
        }
    }
}

extension HostWideKernels {
    /// The level the run-time dispatched kernels may use (`dynq_x86_cpu_level()`: CPUID and XGETBV, checked once,
    /// capped by `DYNQ_HOST_DISPATCH=off` / `avx2`): `DYNQ_X86_LEVEL_BASELINE`, `_AVX2` or `_AVX512VNNI`.
    @inlinable public static var cpuLevel: Int32 { Int32(dynq_x86_cpu_level()) }

    /// The loops the VNNI-layout kernels run at `level`: the Swift tiles when the build has AVX-512 VNNI (they are
    /// the fast code there) or the level is the baseline, else the C loops of the level.
    @inlinable public static func dispatch(atLevel level: Int32) -> HostWideDispatch {
        if hasAVX512VNNI || level < DYNQ_X86_LEVEL_AVX2 { return .swift }
        return level >= DYNQ_X86_LEVEL_AVX512VNNI ? .vnni : .avx2
    }

    /// `dispatch(atLevel: cpuLevel)`: the loops of this process.
    @inlinable public static var dispatch: HostWideDispatch { dispatch(atLevel: cpuLevel) }

    /// Whether the VNNI-layout channel-lane conv, linear layer and fusion, the 32-channel depthwise and the 16-lane
    /// add are fast at `level`: the build has AVX-512 VNNI or the level dispatches them (AVX2 or AVX-512 VNNI).
    @inlinable public static func runsVNNI(atLevel level: Int32) -> Bool {
        hasAVX512VNNI || level >= DYNQ_X86_LEVEL_AVX2
    }

    /// Whether the pixel-lane conv runs fast at `level`: the build has AVX-512 VNNI or the CPU level is AVX-512 VNNI
    /// (it has no AVX2 loop).
    @inlinable public static func runsVNNIOnly(atLevel level: Int32) -> Bool {
        hasAVX512VNNI || level >= DYNQ_X86_LEVEL_AVX512VNNI
    }
}
#endif
