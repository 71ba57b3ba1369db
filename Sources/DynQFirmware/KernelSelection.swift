import DynQCore

// The kernel set a DynQ firmware library runs, chosen when the library is built: scripts/build-libs.sh passes one
// `-D DYNQ_KERNELS_<SET>` to swiftc (none: scalar). This file is the only place that maps the flag to a set. The C
// API instantiates `Interpreter<LibraryKernels>`, so a library links exactly one set's kernels.
//
// build-libs.sh passes a flag only when the set's type is in Sources/DynQCore (it greps for the struct), so a
// library for a core whose set is still on its way (DSP, Helium, NEON: issue 13) is built with the scalar or
// simd128 flag instead, and says so; dynq_kernel_set() returns the set a library really runs.

#if DYNQ_KERNELS_SIMD128
/// The 128-bit Swift SIMD set (hosts, Cortex-A).
typealias LibraryKernels = SIMD128Kernels
#elseif DYNQ_KERNELS_CORTEX_M_DSP
/// The Cortex-M4/M7 DSP-extension set (Sources/DynQCore/Kernels/CortexMDSP).
typealias LibraryKernels = CortexMDSPKernels
#elseif DYNQ_KERNELS_HELIUM
/// The Cortex-M55/M85 Helium (MVE) set (Sources/DynQCore/Kernels/Helium).
typealias LibraryKernels = HeliumKernels
#elseif DYNQ_KERNELS_NEON
/// The AArch64 NEON set (Sources/DynQCore/Kernels/NEON).
typealias LibraryKernels = NEONKernels
#else
/// DYNQ_KERNELS_SCALAR, or no flag: the portable scalar set (no packing, no scratch, the smallest arena).
typealias LibraryKernels = ScalarKernels<NoTally>
#endif

#if !hasFeature(Embedded)
/// The kernel sets a firmware library can be built with, for host tools: `dynq export` writes an arena-size macro
/// for each (`NAME_ARENA_BYTES_<MACRO>`). Every set of the host build's `KernelSetChoice` except the oracle (the
/// law, never a production set), so a set that lands in DynQCore with its `KernelSetChoice` case gets its macro
/// without a change here.
public struct FirmwareKernelSet: Equatable, Sendable {
    /// The host build's handle on the set.
    public let choice: KernelSetChoice

    public static let scalar = FirmwareKernelSet(choice: .scalar)
    public static let simd128 = FirmwareKernelSet(choice: .simd128)

    /// Every production set of this build, in `KernelSetChoice` order.
    public static var allCases: [FirmwareKernelSet] {
        KernelSetChoice.allCases.filter { $0 != .oracle }.map { FirmwareKernelSet(choice: $0) }
    }

    /// `-D DYNQ_KERNELS_<FLAG>` values that name a set by its short name, and the set's `KernelSet.name`.
    static let flagNames: [(flag: String, name: String)] = [
        ("SCALAR", "scalar"), ("SIMD128", "simd128"), ("CORTEX_M_DSP", "cortex-m-dsp"), ("HELIUM", "helium"), ("NEON", "neon"),
    ]

    /// The set's `KernelSet.name` (what `dynq_kernel_set()` returns in a library built with it).
    public var name: String { choice.rawValue }

    /// The macro suffix of the set in an exported header and in `-D DYNQ_KERNELS_<SUFFIX>`: the short flag of
    /// `flagNames`, else the name upper-cased with every other character than A-Z and 0-9 made `_`.
    public var macro: String {
        if let f = Self.flagNames.first(where: { $0.name == name }) { return f.flag }
        return String(name.uppercased().map { ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") ? $0 : "_" })
    }

    /// The cores whose libraries the set's arena size is exact for (the exported header says so).
    public var cores: String {
        switch choice {
        case .scalar: return "every core (no plan size depends on the pointer width)"
        default: return "as planned by this 64-bit host; dynq_arena_bytes() gives a 32-bit library's exact figure"
        }
    }

    /// Flags scripts/build-libs.sh knows whose set is not in this build of DynQCore: those libraries are built
    /// with the scalar (DSP, HELIUM) or simd128 (NEON) set instead.
    public static var pendingFlags: [String] {
        let present = Set(allCases.map(\.macro))
        return flagNames.map(\.flag).filter { !present.contains($0) }
    }

    /// The set scripts/build-libs.sh builds a library with when `flag`'s own set is not in DynQCore (its
    /// `spec` table's fallback column): simd128 for NEON (Cortex-A), scalar for the Cortex-M sets.
    public static func fallback(_ flag: String) -> FirmwareKernelSet {
        flag == "NEON" ? .simd128 : .scalar
    }

    /// The arena bytes `dynq_create()` needs for `model` with this set: the C API's reserved record plus the
    /// interpreter's tables and plan (`ArenaPlan.arenaBytes`, the same planner as `Interpreter<K>.arenaBytes`).
    public func arenaBytes(_ model: Model) -> Int {
        ArenaLayout.reservedBytes + choice.plan(model).arenaBytes
    }
}
#endif
