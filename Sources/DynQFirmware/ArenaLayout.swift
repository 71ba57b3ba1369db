import CDynQ
import DynQCore

/// How the C API lays out the caller's arena, and how many bytes it needs. This file and `FirmwareSession` are
/// what changes when the core's interpreter moves into the arena (issue 12): `arenaBytes` then calls the core's
/// static sizing function, and `Instance` holds the generic interpreter.
///
///     arena + 0                     tag (UInt32): `Instance.liveTag` while the interpreter exists, else 0
///     arena + tagBytes              the `Instance` record (the interpreter struct itself)
///     arena + reservedBytes         the interpreter's plan: activations, fused kernels, scratch, packed weights
///     arena + reservedBytes + plan  end (`arenaBytes`)
///
/// Every offset is a multiple of 16, so an arena on a 16-byte boundary gives the plan a 16-byte aligned start.
public enum ArenaLayout {
    /// Alignment of the model bytes and the arena (`DYNQ_ALIGNMENT`).
    public static let alignment = 16
    /// Bytes before the `Instance` record (the tag, padded to the alignment).
    static let tagBytes = 16
    /// Bytes reserved at the arena's start for the tag and the `Instance` record, on every target (so an exported
    /// header's arena size is exact on 32- and 64-bit cores alike). `MemoryLayout<Instance>.size` is below
    /// `reservedBytes − tagBytes` on every target (280 B on the 64-bit host, the largest; a test checks it).
    public static let reservedBytes = 320

    /// The arena bytes the C API needs for `model` with `kernels` (the arena starting on a 16-byte boundary).
    public static func arenaBytes(_ model: Model, kernels: FirmwareKernelSet) -> Int {
        reservedBytes + ArenaPlan(model: model, keepAll: false, simd: kernels == .simd128).arenaBytes
    }
}

/// What the arena's start holds while an interpreter exists: `dynq_interpreter *` points at the tag before it.
struct Instance {
    /// The bytes "DYNQ" read as a little-endian UInt32: the tag of a live interpreter.
    static let liveTag: UInt32 = 0x514E_5944
    var interpreter: Interpreter
    var kernels: FirmwareKernelSet
    var callback: dynq_op_callback?
    var callbackContext: UnsafeMutableRawPointer?
}
