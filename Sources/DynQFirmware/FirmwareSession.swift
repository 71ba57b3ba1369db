import CDynQ
import DynQCore

/// The C API's work in Swift, on raw pointers, with typed errors (`CAPI.swift` only converts arguments and
/// results and picks the library's kernel set). Generic over the kernel set, so the host tests run the same code
/// with every set; a library instantiates it once, with `LibraryKernels`. Nothing here allocates: the model is
/// read in place (`ModelFile`), validation and planning use the caller's work memory or arena, and the
/// interpreter (`Interpreter<K>`) lives in the arena.
enum FirmwareSession {
    /// A buffer of `count` bytes at `start` (a `size_t` beyond `Int.max` is capped to what the address space holds).
    static func buffer(_ start: UnsafeRawPointer, _ count: Int) -> UnsafeRawBufferPointer {
        let room = Int(bitPattern: UInt(Int.max) &- UInt(bitPattern: Int(bitPattern: start)))
        return UnsafeRawBufferPointer(start: start, count: count < 0 ? max(room, 0) : count)
    }

    /// Byte offset of the header's u32 file size (docs/model-format.md).
    static let fileSizeField = 16

    /// The model's framing checked (`ModelFile`: magic, alignment, version, sizes, CRC-32). The buffer may be
    /// longer than the file (a flash partition): it is trimmed to the file size the header gives (bytes 16..<20)
    /// when that size is plausible and fits, because `ModelFile` wants exactly the file; otherwise `ModelFile`
    /// reports the problem on the whole buffer (truncated, bad magic, ...).
    static func file(_ model: UnsafeRawPointer?, _ size: Int) throws(Failure) -> ModelFile {
        guard let model else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "model is NULL") }
        var b = buffer(model, size)
        if b.count >= fileSizeField + 4 {
            let n = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: fileSizeField, as: UInt32.self)))
            if n >= ModelFormat.headerSize && n <= b.count { b = UnsafeRawBufferPointer(rebasing: b[0..<n]) }
        }
        do throws(ModelError) { return try ModelFile(bytes: b) } catch { throw Failure(error) }
    }

    /// Validates the model and returns the arena bytes it needs with `K` (`dynq_arena_bytes`). `work` holds the
    /// validator's flags and the planner's records; it must have `ArenaLayout.workBytes(m, K.self)` bytes, else
    /// `DYNQ_E_ARENA_TOO_SMALL` with that number (checked after the framing and CRC, before validation).
    static func arenaBytes<K: KernelSet>(_ model: UnsafeRawPointer?, _ size: Int, work: UnsafeMutableRawBufferPointer,
                                         _: K.Type) throws(Failure) -> Int {
        let m = try file(model, size)
        let need = ArenaLayout.workBytes(m, K.self)
        guard work.baseAddress != nil, work.count >= need else {
            throw Failure(DYNQ_E_ARENA_TOO_SMALL, at: DYNQ_AT_ARENA, value: Int64(need),
                          detail: "work memory too small to plan the model; bytes needed")
        }
        do throws(ModelError) {
            try m.validate(work: work)
            return try ArenaLayout.arenaBytes(m, K.self, work: work)
        } catch {
            throw Failure(error)
        }
    }

    /// Builds an interpreter with `kernels` in `arena` and returns the pointer C sees (the arena's start).
    /// Validates the model (in the arena), plans it, runs each op's chooser and packs static weights.
    static func create<K: KernelSet>(_ model: UnsafeRawPointer?, _ modelSize: Int, _ arena: UnsafeMutableRawPointer?,
                                     _ arenaSize: Int, kernels: K) throws(Failure) -> UnsafeMutableRawPointer {
        guard let arena else { throw Failure(DYNQ_E_NULL_ARGUMENT, at: DYNQ_AT_ARENA, detail: "arena is NULL") }
        guard Int(bitPattern: arena) % ArenaLayout.alignment == 0 else {
            throw Failure(DYNQ_E_ARENA_MISALIGNED, at: DYNQ_AT_ARENA,
                          value: Int64(Int(bitPattern: arena) % ArenaLayout.alignment),
                          detail: "arena must start on a 16-byte boundary")
        }
        let m = try file(model, modelSize)
        let room = buffer(arena, arenaSize).count
        // The interpreter's part; empty (and so refused below, with the bytes needed) when the arena is shorter
        // than the reserved record.
        let rest = UnsafeMutableRawBufferPointer(start: arena + ArenaLayout.reservedBytes,
                                                 count: max(room - ArenaLayout.reservedBytes, 0))
        let interpreter: Interpreter<K>
        do throws(ModelError) {
            interpreter = try Interpreter(file: m, validate: true, arena: rest, kernels: kernels)
        } catch {
            var f = Failure(error)
            // The interpreter counts from its own start: C counts from the arena's.
            if f.status == DYNQ_E_ARENA_TOO_SMALL, let v = f.value { f.value = v + Int64(ArenaLayout.reservedBytes) }
            throw f
        }
        (arena + ArenaLayout.tagBytes).bindMemory(to: Instance<K>.self, capacity: 1)
            .initialize(to: Instance(interpreter: interpreter, callback: nil, callbackContext: nil))
        arena.storeBytes(of: Instance<K>.liveTag, as: UInt32.self)
        return arena
    }

    /// The live interpreter behind a C handle.
    static func instance<K: KernelSet>(_ handle: OpaquePointer?, _: K.Type) throws(Failure)
        -> UnsafeMutablePointer<Instance<K>>
    {
        guard let handle else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "interpreter is NULL") }
        let p = UnsafeMutableRawPointer(handle)
        guard Int(bitPattern: p) % ArenaLayout.alignment == 0, p.load(as: UInt32.self) == Instance<K>.liveTag else {
            throw Failure(DYNQ_E_BAD_HANDLE, detail: "not a live interpreter")
        }
        return (p + ArenaLayout.tagBytes).assumingMemoryBound(to: Instance<K>.self)
    }

    /// Ends the interpreter: clears the tag (the interpreter holds no resources: everything is in the arena).
    static func destroy<K: KernelSet>(_ handle: OpaquePointer?, _: K.Type) {
        guard let i = try? instance(handle, K.self) else { return }
        i.deinitialize(count: 1)
        UnsafeMutableRawPointer(handle!).storeBytes(of: 0, as: UInt32.self)
    }

    /// Runs every op, calling the C callback around each one when there is one. One observer type for both
    /// cases, so the image holds one specialization of the interpreter's run loop, not two.
    static func invoke<K: KernelSet>(_ i: UnsafeMutablePointer<Instance<K>>) {
        var observer = CallbackObserver(callback: i.pointee.callback, context: i.pointee.callbackContext)
        i.pointee.interpreter.invoke(observer: &observer)
    }

    /// Shape, type and quantization of a tensor, as C sees them.
    static func info(_ m: ModelFile, _ id: TensorID) -> dynq_tensor_info {
        let t = m.tensor(id.index)
        var dims: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &dims) { raw in
            let d = raw.bindMemory(to: Int32.self)
            for k in 0..<min(t.shape.rank, 4) { d[k] = Int32(truncatingIfNeeded: t.shape[k]) }
        }
        let scale = FixedPointScale(binary32: t.scaleBits)
        return dynq_tensor_info(
            type: Int32(t.type.rawValue), rank: Int32(t.shape.rank), dims: dims,
            zero_point: Int32(truncatingIfNeeded: t.zeroPoint), scale_q31: scale.q31,
            scale_exponent: scale.exponent, scale_bits: t.scaleBits, bytes: UInt32(truncatingIfNeeded: t.byteCount))
    }

    /// Op `i`'s type name ("conv2d"), or nil past the last op (a walk over the op records: ops have variable
    /// length, so there is no index).
    static func opName(_ m: ModelFile, _ i: Int) -> StaticString? {
        guard i >= 0, i < m.opCount else { return nil }
        var name: StaticString?
        m.forEachOp { (r: OpRecord) in if r.index == i { name = r.code.name } }
        return name
    }
}

/// Calls the C per-op callback, if there is one, around every op (`dynq_set_op_callback`).
struct CallbackObserver: InterpreterObserver {
    let callback: dynq_op_callback?
    let context: UnsafeMutableRawPointer?
    @inline(__always) mutating func willRun(operation index: Int) {
        callback?(context, UInt32(truncatingIfNeeded: index), DYNQ_OP_BEGIN)
    }
    @inline(__always) mutating func didRun(operation index: Int) {
        callback?(context, UInt32(truncatingIfNeeded: index), DYNQ_OP_END)
    }
}
