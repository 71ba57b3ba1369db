import CDynQ
import DynQCore

// The C functions of include/dynq.h (`@_cdecl`): argument checks and conversions only; the work is in
// `FirmwareSession`. The header documents every function; the Swift signatures follow its declarations (the
// header is imported as the module CDynQ, so the structs and constants have one definition). Every function
// instantiates the session with the library's kernel set, `LibraryKernels` (KernelSelection.swift).

/// The live interpreter behind a C handle, with the library's kernel set.
@inline(__always)
private func live(_ handle: OpaquePointer?) throws(Failure) -> UnsafeMutablePointer<Instance<LibraryKernels>> {
    try FirmwareSession.instance(handle, LibraryKernels.self)
}

/// `index` as an output index of `i`'s model, or `DYNQ_E_BAD_INDEX` (the check of every `dynq_output*` function).
private func outputIndex(_ i: UnsafeMutablePointer<Instance<LibraryKernels>>, _ index: UInt32) throws(Failure) -> Int {
    guard Int(index) < i.pointee.interpreter.model.outputCount else {
        throw Failure(DYNQ_E_BAD_INDEX, detail: "output index out of range")
    }
    return Int(index)
}

@_cdecl("dynq_status_string")
public func dynqStatusString(_ status: dynq_status) -> UnsafePointer<CChar> {
    cString(Status.text(status))
}

@_cdecl("dynq_kernel_set")
public func dynqKernelSet() -> UnsafePointer<CChar> {
    cString(LibraryKernels.name)
}

@_cdecl("dynq_arena_bytes")
public func dynqArenaBytes(_ model: UnsafeRawPointer?, _ modelSize: Int, _ work: UnsafeMutableRawPointer?,
                           _ workSize: Int, _ bytesNeeded: UnsafeMutablePointer<Int>?,
                           _ diagnostic: UnsafeMutablePointer<dynq_diagnostic>?) -> dynq_status {
    do throws(Failure) {
        guard let bytesNeeded else {
            throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "bytes_needed is NULL")
        }
        guard work != nil || workSize == 0 else {
            throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "work is NULL with a non-zero work_size")
        }
        // NULL work (size 0) is refused as too small, with the work bytes needed: a way to ask for them.
        let w = work.map { UnsafeMutableRawBufferPointer(mutating: FirmwareSession.buffer($0, workSize)) }
            ?? UnsafeMutableRawBufferPointer(start: nil, count: 0)
        bytesNeeded.pointee = try FirmwareSession.arenaBytes(model, modelSize, work: w, LibraryKernels.self)
        return Failure.reportSuccess(diagnostic)
    } catch {
        return error.report(diagnostic)
    }
}

@_cdecl("dynq_create")
public func dynqCreate(_ model: UnsafeRawPointer?, _ modelSize: Int, _ arena: UnsafeMutableRawPointer?,
                       _ arenaSize: Int, _ interpreter: UnsafeMutablePointer<OpaquePointer?>?,
                       _ diagnostic: UnsafeMutablePointer<dynq_diagnostic>?) -> dynq_status {
    do throws(Failure) {
        guard let interpreter else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "interpreter is NULL") }
        interpreter.pointee = nil
        interpreter.pointee = OpaquePointer(try FirmwareSession.create(model, modelSize, arena, arenaSize,
                                                                       kernels: LibraryKernels()))
        return Failure.reportSuccess(diagnostic)
    } catch {
        return error.report(diagnostic)
    }
}

@_cdecl("dynq_destroy")
public func dynqDestroy(_ interpreter: OpaquePointer?) {
    FirmwareSession.destroy(interpreter, LibraryKernels.self)
}

@_cdecl("dynq_input")
public func dynqInput(_ interpreter: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                      _ size: UnsafeMutablePointer<Int>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let data else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "data is NULL") }
        let input = i.pointee.interpreter.input
        data.pointee = input.baseAddress
        size?.pointee = input.count
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_set_input")
public func dynqSetInput(_ interpreter: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let data else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "data is NULL") }
        do throws(ModelError) {
            try i.pointee.interpreter.setInput(FirmwareSession.buffer(data, size))
        } catch {
            throw Failure(error)
        }
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_input_info")
public func dynqInputInfo(_ interpreter: OpaquePointer?, _ info: UnsafeMutablePointer<dynq_tensor_info>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let info else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "info is NULL") }
        let m = i.pointee.interpreter.model
        info.pointee = FirmwareSession.info(m, m.input)
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_invoke")
public func dynqInvoke(_ interpreter: OpaquePointer?) -> dynq_status {
    do throws(Failure) {
        FirmwareSession.invoke(try live(interpreter))
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_set_op_callback")
public func dynqSetOpCallback(_ interpreter: OpaquePointer?, _ callback: dynq_op_callback?,
                              _ context: UnsafeMutableRawPointer?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        i.pointee.callback = callback
        i.pointee.callbackContext = context
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_op_count")
public func dynqOpCount(_ interpreter: OpaquePointer?, _ count: UnsafeMutablePointer<UInt32>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let count else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "count is NULL") }
        count.pointee = UInt32(truncatingIfNeeded: i.pointee.interpreter.model.opCount)
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_op_type")
public func dynqOpType(_ interpreter: OpaquePointer?, _ index: UInt32) -> UnsafePointer<CChar>? {
    guard let i = try? live(interpreter) else { return nil }
    return FirmwareSession.opName(i.pointee.interpreter.model, Int(index)).map(cString)
}

@_cdecl("dynq_output_count")
public func dynqOutputCount(_ interpreter: OpaquePointer?, _ count: UnsafeMutablePointer<UInt32>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let count else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "count is NULL") }
        count.pointee = UInt32(truncatingIfNeeded: i.pointee.interpreter.model.outputCount)
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_output")
public func dynqOutput(_ interpreter: OpaquePointer?, _ index: UInt32,
                       _ data: UnsafeMutablePointer<UnsafePointer<Int8>?>?, _ size: UnsafeMutablePointer<Int>?)
    -> dynq_status
{
    do throws(Failure) {
        let i = try live(interpreter)
        guard let data else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "data is NULL") }
        let k = try outputIndex(i, index)
        let out = i.pointee.interpreter.output(k)
        data.pointee = out.baseAddress
        size?.pointee = out.count
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_output_i16")
public func dynqOutputI16(_ interpreter: OpaquePointer?, _ index: UInt32,
                          _ data: UnsafeMutablePointer<UnsafePointer<Int16>?>?, _ count: UnsafeMutablePointer<Int>?)
    -> dynq_status
{
    do throws(Failure) {
        let i = try live(interpreter)
        guard let data else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "data is NULL") }
        let k = try outputIndex(i, index)
        guard i.pointee.interpreter.outputType(k) == .int16 else {
            throw Failure(DYNQ_E_OUTPUT_TYPE, detail: "output is not int16")
        }
        let out = i.pointee.interpreter.outputInt16(k)
        data.pointee = out.baseAddress
        count?.pointee = out.count
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_output_argmax")
public func dynqOutputArgmax(_ interpreter: OpaquePointer?, _ index: UInt32,
                             _ argmax: UnsafeMutablePointer<UInt32>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let argmax else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "argmax is NULL") }
        let k = try outputIndex(i, index)
        argmax.pointee = UInt32(truncatingIfNeeded: i.pointee.interpreter.outputArgmax(k))
        return DYNQ_OK
    } catch {
        return error.status
    }
}

@_cdecl("dynq_output_info")
public func dynqOutputInfo(_ interpreter: OpaquePointer?, _ index: UInt32,
                           _ info: UnsafeMutablePointer<dynq_tensor_info>?) -> dynq_status {
    do throws(Failure) {
        let i = try live(interpreter)
        guard let info else { throw Failure(DYNQ_E_NULL_ARGUMENT, detail: "info is NULL") }
        let k = try outputIndex(i, index)
        let m = i.pointee.interpreter.model
        info.pointee = FirmwareSession.info(m, m.output(k))
        return DYNQ_OK
    } catch {
        return error.status
    }
}
