// Host entry points of the interpreter specialized for the host kernel sets.
//
// `Interpreter<K>` is instantiated with a concrete set only in client modules (the CLI picks the set by name at
// run time), which do not see DynQCore's bodies: there `invoke()` ran the unspecialized generic code, every kernel
// and tally call through witness tables, per element in the shared table kernels (measured: MobileNetV2's
// 224×224×3 input table 0.81 ms in the default build, 0.85 ms with -march=native, against 0.09 ms specialized).
// `@_specialize` makes DynQCore emit the specializations and lets the generic body dispatch to them by type.
#if !hasFeature(Embedded)

/// Per-op timer for `invokeTimed`: `nanos[i]` = the clock's ticks across op `i`.
public struct OpClock: InterpreterObserver {
    public let now: () -> UInt64
    public let nanos: UnsafeMutablePointer<UInt64>
    public var start: UInt64 = 0
    public init(now: @escaping () -> UInt64, nanos: UnsafeMutablePointer<UInt64>) {
        self.now = now; self.nanos = nanos
    }
    public mutating func willRun(operation index: Int) { start = now() }
    public mutating func didRun(operation index: Int) { nanos[index] = now() &- start }
}

extension Interpreter {
    #if arch(x86_64)
    /// `invoke()`, specialized for the host kernel sets.
    @_specialize(where K == HostWideKernels)
    @_specialize(where K == SIMD128Kernels)
    @_specialize(where K == ScalarKernels<NoTally>)
    @_specialize(where K == OracleKernels)
    public func invokeSpecialized() { invoke() }

    /// `invoke(observer:)` with an `OpClock`, specialized for the host kernel sets.
    @_specialize(where K == HostWideKernels)
    @_specialize(where K == SIMD128Kernels)
    @_specialize(where K == ScalarKernels<NoTally>)
    @_specialize(where K == OracleKernels)
    public func invokeTimed(_ clock: inout OpClock) { invoke(observer: &clock) }
    #else
    @_specialize(where K == NEONKernels)
    @_specialize(where K == SIMD128Kernels)
    @_specialize(where K == ScalarKernels<NoTally>)
    @_specialize(where K == OracleKernels)
    public func invokeSpecialized() { invoke() }

    @_specialize(where K == NEONKernels)
    @_specialize(where K == SIMD128Kernels)
    @_specialize(where K == ScalarKernels<NoTally>)
    @_specialize(where K == OracleKernels)
    public func invokeTimed(_ clock: inout OpClock) { invoke(observer: &clock) }
    #endif
}
#endif
