import CDynQ
import DynQCore

/// How the C API lays out the caller's arena, and how many bytes it needs.
///
///     arena + 0                       tag (UInt32): `liveTag` while the interpreter exists, else 0
///     arena + tagBytes                the `Instance` record (the `Interpreter<K>` struct and the callback)
///     arena + reservedBytes           the interpreter's arena (`Interpreter<K>`): its tensor-offset and op-slot
///                                     tables, then the plan (activations, fused kernels, scratch, packed weights)
///     arena + reservedBytes + n       end (`arenaBytes`; n = `Interpreter<K>.arenaBytes(model:work:)`)
///
/// Every offset is a multiple of 16, so an arena on a 16-byte boundary gives the interpreter a 16-byte aligned
/// start (and so no alignment slack).
public enum ArenaLayout {
    /// Alignment of the model bytes and the arena (`DYNQ_ALIGNMENT`).
    public static let alignment = 16
    /// Bytes before the `Instance` record (the tag, padded to the alignment).
    static let tagBytes = 16
    /// Bytes reserved at the arena's start for the tag and the `Instance` record, the same on every target (so an
    /// exported header's arena size is exact on 32- and 64-bit cores alike). `MemoryLayout<Instance<K>>.size` is
    /// below `reservedBytes − tagBytes` on every target (the 64-bit host has the largest layout; a test checks it).
    public static let reservedBytes = 320

    /// The arena bytes the C API needs for the validated model `m` with kernel set `K`, planning in `work`
    /// (at least `workBytes(m, K.self)` bytes, any alignment).
    public static func arenaBytes<K: KernelSet>(_ m: ModelFile, _: K.Type, work: UnsafeMutableRawBufferPointer)
        throws(ModelError) -> Int
    {
        reservedBytes + (try Interpreter<K>.arenaBytes(model: m, work: work))
    }

    /// Work bytes `dynq_arena_bytes()` needs to validate and plan `m` with `K`, at any alignment (the
    /// interpreter's tables and its planning work, plus 15 bytes of alignment slack).
    public static func workBytes<K: KernelSet>(_ m: ModelFile, _: K.Type) -> Int {
        Interpreter<K>.tableBytes(m) + Interpreter<K>.workBytes(m) + alignment - 1
    }
}

/// What the arena's start holds while an interpreter exists: `dynq_interpreter *` points at the tag before it.
struct Instance<K: KernelSet> {
    /// The bytes "DYNQ" read as a little-endian UInt32: the tag of a live interpreter.
    static var liveTag: UInt32 { 0x514E_5944 }
    var interpreter: Interpreter<K>
    var callback: dynq_op_callback?
    var callbackContext: UnsafeMutableRawPointer?
}
