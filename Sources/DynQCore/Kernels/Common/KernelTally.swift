// Instrumentation of the reference kernels: the firmware simulator's *measured* counter.
//
// Every reference kernel (and every data-movement kernel) takes a `KernelTally` as a generic parameter, by
// default `NoTally()`, and reports, as it runs, each unit of work it does and each byte it loads or stores. The
// calls sit next to the work they describe (a MAC is reported in the loop that does it, with the two loads it
// makes), so a count cannot drift from the code. Calls are static (a generic parameter, specialised; Embedded Swift
// has no existentials); with `NoTally`, whose methods are empty and always inlined, they compile away and the
// uninstrumented kernels are the same machine code as before.

/// The kinds of work a kernel reports (`KernelTally.count`).
@frozen
public enum TallyEvent: Int, CaseIterable, Sendable {
    /// One multiply-accumulate of a convolution or fully connected layer, `acc += (q − z) · w`. Taps in the zero
    /// padding are skipped by the reference kernels and not counted.
    case mac
    /// One multiply-accumulate of a dynamic fusion, `F += η · W` (kernels) or `B += η · mb` (mixed bias).
    case fusionMAC
    /// One rescale by the fused channel's Q32 reciprocal `R[o]`, `round(x·R/2^32)` (a fused kernel element or a
    /// fused bias), or one fused DC correction term (that rescale's residual times the input mean).
    case fusionRescale
    /// One addition outside a MAC: an `add` element, a pooling sum term.
    case add
    /// One application of a Q31 `QuantizedMultiplier` (`apply`).
    case requantization
    /// One read of a lookup table (input table, activation table, sigmoid or exp table).
    case tableLookup
    /// One element moved, compared or divided without a MAC: concat/split/shuffle/flatten copies, max-pool and
    /// softmax maximum comparisons, average-pool and softmax divisions.
    case elementOp
}

/// What an instrumented kernel reports as it runs. Addresses are those of the kernel's own loads and stores, so
/// an observer can tell model bytes (weights, tables) from arena bytes (activations) by address.
///
/// Kernels take the tally by value (so that it can default to `NoTally()`); a tally that records keeps its
/// records in storage it references (a class instance), which every copy shares.
public protocol KernelTally {
    /// `n` units of `event` were done.
    func count(_ event: TallyEvent, _ n: Int)
    /// The kernel loaded `bytes` bytes at `address`.
    func read(_ address: UnsafeRawPointer, bytes: Int)
    /// The kernel stored `bytes` bytes at `address`.
    func write(_ address: UnsafeRawPointer, bytes: Int)
}

extension KernelTally {
    /// Reports the load of one `T` at `p`.
    @inlinable @inline(__always)
    public func read<T>(_ p: UnsafePointer<T>) { read(UnsafeRawPointer(p), bytes: MemoryLayout<T>.size) }
    /// Reports a copy of `bytes` bytes from `source` to `destination`: the loads, one element op per byte, the
    /// stores.
    @inlinable @inline(__always)
    public func copied(from source: UnsafeRawPointer, to destination: UnsafeRawPointer, bytes: Int) {
        read(source, bytes: bytes); count(.elementOp, bytes); write(destination, bytes: bytes)
    }
    /// Reports the store of one `T` at `p`.
    @inlinable @inline(__always)
    public func write<T>(_ p: UnsafeMutablePointer<T>) {
        write(UnsafeRawPointer(p), bytes: MemoryLayout<T>.size)
    }
}

/// The tally that records nothing: the kernels' normal, uninstrumented mode.
@frozen
public struct NoTally: KernelTally {
    @inlinable @inline(__always) public init() {}
    @inlinable @inline(__always) public func count(_ event: TallyEvent, _ n: Int) {}
    @inlinable @inline(__always) public func read(_ address: UnsafeRawPointer, bytes: Int) {}
    @inlinable @inline(__always) public func write(_ address: UnsafeRawPointer, bytes: Int) {}
}
