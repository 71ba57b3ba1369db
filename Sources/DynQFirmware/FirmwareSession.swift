import CDynQ
import DynQCore

/// The C API's work in Swift, on raw pointers, with typed errors (`CAPI.swift` only converts arguments and
/// results). Written against today's `Interpreter`; the calls it makes into the core are `Model(bytes:)`,
/// `ArenaPlan(model:keepAll:simd:).arenaBytes` (via `ArenaLayout`), `Interpreter(model:arena:options:)`,
/// `input`, `setInput`, `invoke()`, `invoke(observer:)`, `output(_:)` and `model.tensors / outputs / operations`.
enum FirmwareSession {
    /// A buffer of `count` bytes at `start` (a `size_t` beyond `Int.max` is capped to what the address space holds).
    static func buffer(_ start: UnsafeRawPointer, _ count: Int) -> UnsafeRawBufferPointer {
        let room = Int(bitPattern: UInt(Int.max) &- UInt(bitPattern: Int(bitPattern: start)))
        return UnsafeRawBufferPointer(start: start, count: count < 0 ? max(room, 0) : count)
    }

    /// Validates the model bytes (the core's `Model(bytes:)`: header, CRC-32, every record and parameter).
    static func load(_ model: UnsafeRawPointer?, _ size: Int) throws(Failure) -> Model {
        guard let model else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "model is NULL") }
        do throws(ModelError) {
            return try Model(bytes: buffer(model, size))
        } catch {
            throw Failure(error)
        }
    }

    /// The arena bytes `model` needs with `kernels`.
    static func arenaBytes(_ model: UnsafeRawPointer?, _ size: Int, kernels: FirmwareKernelSet) throws(Failure) -> Int {
        ArenaLayout.arenaBytes(try load(model, size), kernels: kernels)
    }

    /// Builds an interpreter in `arena` and returns the pointer C sees (the arena's start).
    static func create(_ model: UnsafeRawPointer?, _ modelSize: Int, _ arena: UnsafeMutableRawPointer?,
                       _ arenaSize: Int, kernels: FirmwareKernelSet) throws(Failure) -> UnsafeMutableRawPointer {
        guard let arena else { throw Failure(DYNQ_E_NULL_ARGUMENT, at: DYNQ_AT_ARENA, detail: "arena is NULL") }
        guard Int(bitPattern: arena) % ArenaLayout.alignment == 0 else {
            throw Failure(DYNQ_E_ARENA_MISALIGNED, at: DYNQ_AT_ARENA,
                          value: Int64(Int(bitPattern: arena) % ArenaLayout.alignment),
                          detail: "arena must start on a 16-byte boundary")
        }
        let m = try load(model, modelSize)
        let need = ArenaLayout.arenaBytes(m, kernels: kernels)
        let room = buffer(arena, arenaSize).count
        guard room >= need else {
            throw Failure(DYNQ_E_ARENA_TOO_SMALL, at: DYNQ_AT_ARENA, value: Int64(need),
                          detail: "arena too small; bytes needed")
        }
        let planArena = UnsafeMutableRawBufferPointer(start: arena + ArenaLayout.reservedBytes,
                                                      count: need - ArenaLayout.reservedBytes)
        let interpreter: Interpreter
        do throws(ModelError) {
            interpreter = try Interpreter(model: m, arena: planArena, options: kernels.options)
        } catch {
            throw Failure(error)
        }
        (arena + ArenaLayout.tagBytes).bindMemory(to: Instance.self, capacity: 1)
            .initialize(to: Instance(interpreter: interpreter, kernels: kernels, callback: nil, callbackContext: nil))
        arena.storeBytes(of: Instance.liveTag, as: UInt32.self)
        return arena
    }

    /// The live interpreter behind a C handle.
    static func instance(_ handle: OpaquePointer?) throws(Failure) -> UnsafeMutablePointer<Instance> {
        guard let handle else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "interpreter is NULL") }
        let p = UnsafeMutableRawPointer(handle)
        guard Int(bitPattern: p) % ArenaLayout.alignment == 0, p.load(as: UInt32.self) == Instance.liveTag else {
            throw Failure(DYNQ_E_BAD_HANDLE, detail: "not a live interpreter")
        }
        return (p + ArenaLayout.tagBytes).assumingMemoryBound(to: Instance.self)
    }

    /// Ends the interpreter: releases what `Instance` holds and clears the tag.
    static func destroy(_ handle: OpaquePointer?) {
        guard let i = try? instance(handle) else { return }
        i.deinitialize(count: 1)
        UnsafeMutableRawPointer(handle!).storeBytes(of: 0, as: UInt32.self)
    }

    /// Runs every op, calling the C callback around each one when there is one. One observer type for both
    /// cases, so the image holds one specialization of the interpreter's run loop, not two.
    static func invoke(_ i: UnsafeMutablePointer<Instance>) {
        var observer = CallbackObserver(callback: i.pointee.callback, context: i.pointee.callbackContext)
        i.pointee.interpreter.invoke(observer: &observer)
    }

    /// Shape, type and quantization of a tensor, as C sees them.
    static func info(_ m: Model, _ id: TensorID) -> dynq_tensor_info {
        let t = m.tensors[id.index]
        var dims: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &dims) { raw in
            let d = raw.bindMemory(to: Int32.self)
            for k in 0..<min(t.shape.count, 4) { d[k] = Int32(truncatingIfNeeded: t.shape[k]) }
        }
        let scale = FixedPointScale(binary32: t.scaleBits)
        return dynq_tensor_info(
            type: Int32(t.type.rawValue), rank: Int32(t.shape.count), dims: dims,
            zero_point: Int32(truncatingIfNeeded: t.zeroPoint), scale_q31: scale.q31,
            scale_exponent: scale.exponent, scale_bits: t.scaleBits, bytes: UInt32(truncatingIfNeeded: t.byteCount))
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
