#if !hasFeature(Embedded)
// Host tools (CLI, simulator, tests): the kernel sets this host build carries, chosen by name. An Embedded build
// has none of this: it instantiates `Interpreter<TheSet>` directly.

/// A kernel set with no state, made with `init()`.
public protocol StatelessKernelSet: KernelSet {
    init()
}
extension OracleKernels: StatelessKernelSet {}
extension SIMD128Kernels: StatelessKernelSet {}
extension CortexMDSPKernels: StatelessKernelSet {}
extension NEONKernels: StatelessKernelSet {}
extension ScalarKernels: StatelessKernelSet where T == NoTally {}
extension HeliumKernels: StatelessKernelSet {}
#if arch(x86_64)
extension HostWideKernels: StatelessKernelSet {}
#endif

/// Something to do with one kernel set, whichever the user chose (Swift has no generic closures).
public protocol KernelSetUser {
    associatedtype Result
    func use<K: StatelessKernelSet>(_ kernels: K.Type) throws -> Result
}

/// The kernel sets of the host build, by their `KernelSet.name`.
public enum KernelSetChoice: String, CaseIterable, Sendable {
    case oracle
    case scalar
    case simd128
    /// The Cortex-M DSP set; on the host its DSP instructions are DynQIntrinsics' portable C models.
    case cortexMDSP = "cortex-m-dsp"
    /// The Helium (MVE) set through the portable C models of its intrinsics (bit-exact, slow on the host).
    case helium
    /// AArch64 NEON (Kernels/NEON/). On other hosts its instructions are the portable C models of
    /// DynQIntrinsics' dynq_neon.h: bit-exact but slow, for tests.
    case neon

    #if arch(x86_64)
    /// x86-64: the 128-bit set plus the wide variants of the build's instruction set (docs/host-isa.md).
    case hostWide = "host-wide"
    #endif

    /// The host's default: the fastest set this build carries (NEON on AArch64 hosts, where its wrappers are the
    /// instructions; on a QEMU Cortex-A53 its convs take 0.25–0.4 instructions per MAC against SIMD128's ~1.2;
    /// host-wide on x86-64, which picks the 128-bit kernels wherever its wide ones are not faster for the build's
    /// instruction set, docs/host-isa.md).
    #if arch(arm64)
    public static let hostDefault = KernelSetChoice.neon
    #elseif arch(x86_64)
    public static let hostDefault = KernelSetChoice.hostWide
    #else
    public static let hostDefault = KernelSetChoice.simd128
    #endif

    /// Runs `user` with the chosen set's type.
    public func with<U: KernelSetUser>(_ user: U) throws -> U.Result {
        switch self {
        case .oracle: return try user.use(OracleKernels.self)
        case .scalar: return try user.use(ScalarKernels<NoTally>.self)
        case .simd128: return try user.use(SIMD128Kernels.self)
        case .cortexMDSP: return try user.use(CortexMDSPKernels.self)
        case .helium: return try user.use(HeliumKernels.self)
        case .neon: return try user.use(NEONKernels.self)
        #if arch(x86_64)
        case .hostWide: return try user.use(HostWideKernels.self)
        #endif
        }
    }

    /// The arena plan of `model` for this set.
    public func plan(_ model: Model, keepAll: Bool = false) -> ArenaPlan {
        struct Planner: KernelSetUser {
            let model: Model, keepAll: Bool
            func use<K: StatelessKernelSet>(_ kernels: K.Type) -> ArenaPlan {
                ArenaPlan(model: model, kernels: K.self, keepAll: keepAll)
            }
        }
        return try! with(Planner(model: model, keepAll: keepAll))
    }

    /// The arena plan of a description for this set.
    public func plan(_ d: ModelDescription, keepAll: Bool = false) -> ArenaPlan {
        struct Planner: KernelSetUser {
            let d: ModelDescription, keepAll: Bool
            func use<K: StatelessKernelSet>(_ kernels: K.Type) -> ArenaPlan {
                ArenaPlan(description: d, kernels: K.self, keepAll: keepAll)
            }
        }
        return try! with(Planner(d: d, keepAll: keepAll))
    }
}
#endif
