import CDynQ
import DynQCore

/// The C API's status codes (`DYNQ_OK`, `DYNQ_E_*` in include/dynq.h), their static texts, and the mapping of
/// the core's `ModelError` onto them.
enum Status {
    /// The static one-line text of `status` (`dynq_status_string`).
    static func text(_ status: dynq_status) -> StaticString {
        switch status {
        case DYNQ_OK: return "ok"
        case DYNQ_E_NULL_ARGUMENT: return "a required pointer argument is NULL"
        case DYNQ_E_MODEL_MISALIGNED: return "model bytes do not start on a 16-byte boundary"
        case DYNQ_E_TRUNCATED: return "model bytes are truncated (shorter than the header or its file size)"
        case DYNQ_E_BAD_MAGIC: return "not a .dynq model (bad magic)"
        case DYNQ_E_UNSUPPORTED_VERSION: return "unsupported .dynq format version"
        case DYNQ_E_BAD_CHECKSUM: return "model CRC-32 mismatch: the bytes are corrupted"
        case DYNQ_E_INVALID_MODEL: return "invalid model (see the diagnostic for the op, tensor or blob)"
        case DYNQ_E_ARENA_MISALIGNED: return "arena does not start on a 16-byte boundary"
        case DYNQ_E_ARENA_TOO_SMALL: return "arena too small for the model (see dynq_arena_bytes)"
        case DYNQ_E_BAD_INPUT_SIZE: return "input size differs from the model input's H*W*C bytes"
        case DYNQ_E_BAD_INDEX: return "output or op index out of range"
        case DYNQ_E_BAD_HANDLE: return "not a live interpreter (never created, destroyed, or arena overwritten)"
        case DYNQ_E_OUTPUT_TYPE: return "the output is not of the type asked for (see dynq_output_info)"
        default: return "unknown dynq status"
        }
    }

    /// Every defined status, for tests and the documentation's table.
    static let all: [dynq_status] = [
        DYNQ_OK, DYNQ_E_NULL_ARGUMENT, DYNQ_E_MODEL_MISALIGNED, DYNQ_E_TRUNCATED, DYNQ_E_BAD_MAGIC,
        DYNQ_E_UNSUPPORTED_VERSION, DYNQ_E_BAD_CHECKSUM, DYNQ_E_INVALID_MODEL, DYNQ_E_ARENA_MISALIGNED,
        DYNQ_E_ARENA_TOO_SMALL, DYNQ_E_BAD_INPUT_SIZE, DYNQ_E_BAD_INDEX, DYNQ_E_BAD_HANDLE,
        DYNQ_E_OUTPUT_TYPE,
    ]

    /// The status a core error maps to.
    static func of(_ e: ModelError) -> dynq_status {
        switch e.kind {
        case .truncated: return DYNQ_E_TRUNCATED
        case .badMagic: return DYNQ_E_BAD_MAGIC
        case .unsupportedVersion: return DYNQ_E_UNSUPPORTED_VERSION
        case .checksumMismatch: return DYNQ_E_BAD_CHECKSUM
        case .misaligned: return e.location == .file ? DYNQ_E_MODEL_MISALIGNED : DYNQ_E_INVALID_MODEL
        case .arenaTooSmall: return DYNQ_E_ARENA_TOO_SMALL
        case .badInput: return DYNQ_E_BAD_INPUT_SIZE
        case .outOfBounds, .badCount, .badTensor, .badBlob, .badOperation, .badParameter, .badShape, .badDataflow:
            return DYNQ_E_INVALID_MODEL
        }
    }
}

/// A NUL-terminated C string for a string literal (`StaticString` literals are stored with a terminating NUL).
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// A failure of the C API: the status, and where (for the optional `dynq_diagnostic`).
struct Failure: Error {
    var status: dynq_status
    var location: Int32 = DYNQ_AT_NONE
    var index: Int32 = -1
    var element: Int32 = -1
    var value: Int64? = nil
    var detail: StaticString
    var opType: StaticString? = nil

    init(_ status: dynq_status, at location: Int32 = DYNQ_AT_NONE, value: Int64? = nil, detail: StaticString) {
        self.status = status; self.location = location; self.value = value; self.detail = detail
    }

    init(_ e: ModelError) {
        status = Status.of(e)
        detail = e.message
        value = e.value
        if let i = e.index { element = Int32(truncatingIfNeeded: i) }
        switch e.location {
        case .file: location = DYNQ_AT_FILE
        case .header: location = DYNQ_AT_HEADER
        case .tensor(let i): location = DYNQ_AT_TENSOR; index = Int32(truncatingIfNeeded: i)
        case .blob(let i): location = DYNQ_AT_BLOB; index = Int32(truncatingIfNeeded: i)
        case .operation(let i):
            location = DYNQ_AT_OP; index = Int32(truncatingIfNeeded: i)
            opType = e.opCode?.name
        case .meta: location = DYNQ_AT_META
        case .arena: location = DYNQ_AT_ARENA
        case .input: location = DYNQ_AT_INPUT
        }
    }

    /// Writes the diagnostic (if the caller gave one) and returns the status.
    func report(_ diagnostic: UnsafeMutablePointer<dynq_diagnostic>?) -> dynq_status {
        if let d = diagnostic {
            d.pointee = dynq_diagnostic(
                status: status, location: location, index: index, element: element,
                has_value: value == nil ? 0 : 1, reserved: 0, value: value ?? 0, detail: cString(detail),
                op_type: opType.map(cString))
        }
        return status
    }

    /// The diagnostic of a success.
    static func reportSuccess(_ diagnostic: UnsafeMutablePointer<dynq_diagnostic>?) -> dynq_status {
        if let d = diagnostic {
            d.pointee = dynq_diagnostic(status: DYNQ_OK, location: DYNQ_AT_NONE, index: -1, element: -1,
                                        has_value: 0, reserved: 0, value: 0, detail: cString(""), op_type: nil)
        }
        return DYNQ_OK
    }
}
