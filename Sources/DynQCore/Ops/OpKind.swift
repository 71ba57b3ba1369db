// One op kind = one file in Sources/DynQCore/Ops/ (docs/architecture.md, "Adding an op"): its model record
// (`ModelDescription.<Op>`), its parameter words in the file, its validation, its work counts, the buffers it
// needs beside its tensors, its one-time preparation and its kernel calls. This file holds the protocol every op
// kind conforms to and the visitors built on it; the central sites (`OpCode`, `ModelDescription.Op` and the one
// switch from op code to op kind, `visitOp`) are all in OpCode.swift.

/// The phases of one op kind. Static methods only (no existentials: Embedded Swift), dispatched by `visitOp`.
protocol OpKind {
    /// The op's decoded parameters, read from its words without allocating.
    associatedtype Parameters
    static var code: OpCode { get }

    /// Decodes the words; checks only the word count and enum codes (ids and ranges are `validate`'s).
    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters
    /// The host description of decoded parameters.
    static func describe(_ p: Parameters) -> ModelDescription.Op

    /// Every rule the runtime relies on to run this op without checks: tensor ids (done by the caller), element
    /// types, shapes, parameter ranges, blob types, sizes and values, the int32 accumulator bound. Overflow-safe
    /// with a 32-bit `Int`.
    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError)
    /// Calls `body(id, isOutput)` for every tensor the op reads, then every tensor it writes.
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void)
    /// Calls `body` for every blob the op uses (its share of the model file).
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void)

    /// Multiply-accumulates of one run (fusion included), for reports.
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int
    /// The work of one run with the scalar kernels (their counts functions, Scalar/ScalarCounts.swift):
    /// `parameterBytesRead` are loads from the model, everything else is arena traffic.
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts
    /// The buffers beside the tensors, for kernel set `K`, and the set's chooser answer.
    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant>
    /// One-time work at interpreter init (packing static weights). No allocation.
    static func prepare<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>)
    /// Runs the op. No allocation.
    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>)
}

extension OpKind {
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int { 0 }
    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant> {
        OpRequirements()
    }
    static func prepare<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {}
}

/// What an op needs beside its input and output tensors, in bytes (0: none), and the chooser's answer.
///
/// Everything but the packed weights is alive for the op only and is planned as ONE block, the op's work buffer
/// (`workBytes`), laid out `[fused kernel][fused bias][fused multipliers][scratch]`, each part starting on a
/// 16-byte boundary of the block (`fusedBiasOffset`, `fusedMultipliersOffset`, `scratchOffset`): one arena offset
/// per op in the interpreter's slot table instead of four.
public struct OpRequirements<Variant: Equatable>: Equatable {
    /// Static weights packed for the kernel, kept for the whole run (packed once, at init).
    public var packedWeights = 0
    /// Kernel and fusion scratch, for the op only.
    public var scratch = 0
    /// Dynamic layers: the per-sample fused kernel, in the layout the conv variant reads.
    public var fusedWeights = 0
    /// Dynamic layers: the per-sample int32 bias, `4·O`.
    public var fusedBias = 0
    /// Dynamic layers: the per-sample `QuantizedMultiplier`s, `8·O`.
    public var fusedMultipliers = 0
    /// The family chooser's answer (nil for ops without kernel variants).
    public var variant: Variant?
    public init() {}

    /// Byte offsets of the parts in the work buffer (the fused kernel is at 0). Exact when `workBytes` is below
    /// `Int.max`.
    public var fusedBiasOffset: Int { Self.up(fusedWeights) }
    public var fusedMultipliersOffset: Int { Self.up(Self.sum(fusedBiasOffset, fusedBias)) }
    public var scratchOffset: Int { Self.up(Self.sum(fusedMultipliersOffset, fusedMultipliers)) }
    /// Bytes of the work buffer (0: the op has none): the end of its last non-empty part. `Int.max` when the sum
    /// overflows (a hostile model on a 32-bit target; the planner refuses it).
    public var workBytes: Int {
        var end = fusedWeights
        if fusedBias > 0 { end = Self.sum(fusedBiasOffset, fusedBias) }
        if fusedMultipliers > 0 { end = Self.sum(fusedMultipliersOffset, fusedMultipliers) }
        if scratch > 0 { end = Self.sum(scratchOffset, scratch) }
        return end
    }
    /// `n` rounded up to the arena alignment, without overflow.
    @inline(__always) static func up(_ n: Int) -> Int {
        sum(n, ArenaPlanner.alignment - 1) / ArenaPlanner.alignment * ArenaPlanner.alignment
    }
    /// `a + b`, `Int.max` on overflow.
    @inline(__always) static func sum(_ a: Int, _ b: Int) -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? Int.max : s
    }
}

/// Something done to one op, whatever its kind: `visitOp` decodes the record and calls `visit` with the kind.
protocol OpVisitor {
    associatedtype Result
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> Result
}

/// What a running op sees: the model, the arena, where every tensor is, its own buffers and chooser answer, and
/// the kernel set. Built per op by the interpreter; no allocation.
public struct OpContext<K: KernelSet> {
    public let model: ModelFile
    public let arena: UnsafeMutableRawPointer
    let tensorOffsets: UnsafePointer<Int32>
    public let slot: OpSlot<K.Variant>
    public let kernels: K

    /// Tensor `t`'s bytes in the arena.
    @inline(__always) public func tensor(_ t: TensorID) -> UnsafeMutableRawPointer {
        arena + Int(tensorOffsets[t.index])
    }
    @inline(__always) public func int8(_ t: TensorID) -> UnsafeMutablePointer<Int8> {
        tensor(t).assumingMemoryBound(to: Int8.self)
    }
    @inline(__always) public func input8(_ t: TensorID) -> UnsafePointer<Int8> { UnsafePointer(int8(t)) }
    /// An op buffer (an arena offset of the slot), nil when absent.
    @inline(__always) public func buffer(_ offset: Int32) -> UnsafeMutableRawPointer? {
        offset < 0 ? nil : arena + Int(offset)
    }
    /// The op's work buffer (`OpRequirements.workBytes`), nil when it has none.
    @inline(__always) public var work: UnsafeMutableRawPointer? { buffer(slot.work) }
    /// The scratch of an op whose only work-buffer part is scratch (static conv, depthwise, linear), nil when none.
    @inline(__always) public var scratch: UnsafeMutableRawPointer? { buffer(slot.work) }
    /// The chooser's answer stored at init (present for the ops that have variants).
    @inline(__always) public var variant: K.Variant { slot.variant! }
    @inline(__always) public func record(_ t: TensorID) -> TensorRecord { model.tensor(t.index) }
}

/// The state of one op the interpreter keeps in the arena: its buffers (arena offsets, −1 when absent) and its
/// chooser answer. Decided once, at init. 12 bytes for a one-byte `Variant` (two offsets and the variant).
@frozen
public struct OpSlot<Variant: Equatable>: Equatable {
    /// The packed static weights (alive for the whole run).
    public var packedWeights: Int32 = -1
    /// The op's work buffer: fused kernel, bias, multipliers and scratch (alive for the op only; the parts'
    /// offsets are `OpRequirements`'s).
    public var work: Int32 = -1
    public var variant: Variant?
    public init() {}
}

extension ModelFile {
    /// The scalar kernels' work for op record `r` (its op file's `counts`).
    public func counts(_ r: OpRecord) -> KernelCounts {
        var v = CountsVisitor(model: self)
        return (try? visitOp(r, &v)) ?? KernelCounts()
    }
}

struct CountsVisitor: OpVisitor {
    typealias Result = KernelCounts
    let model: ModelFile
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> KernelCounts {
        O.counts(p, model)
    }
}

extension ModelFile {
    /// Bytes of the blobs op `r` uses.
    public func blobBytes(_ r: OpRecord) -> Int {
        var v = BlobBytesVisitor(model: self)
        return (try? visitOp(r, &v)) ?? 0
    }
}

struct BlobBytesVisitor: OpVisitor {
    typealias Result = Int
    let model: ModelFile
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> Int {
        var n = 0
        let m = model
        O.forEachBlob(p) { n += m.blob($0.index).byteCount }
        return n
    }
}
