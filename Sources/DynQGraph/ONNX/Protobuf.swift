/// A bounded reader of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/), written for
/// the ONNX messages DynQ reads (ONNXProto.swift); no generated code, no packages.
///
/// Every read is checked against the end of the enclosing message before anything is sliced or allocated: a
/// truncated varint, a length running past its message, a wrong wire type for a known field or a nesting deeper
/// than `maxDepth` is an error naming the message and field. Unknown fields are skipped (protobuf's rule).

/// One field of a message: its number and its value by wire type.
enum ProtoValue {
    case varint(UInt64)
    case fixed64(UInt64)
    case bytes(ArraySlice<UInt8>)
    case fixed32(UInt32)
}

/// Reads the fields of one message from `bytes[start..<end]`.
struct ProtoReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// The message being read, for error messages (`"TensorProto"`).
    let message: String
    let depth: Int
    let file: String?

    static let maxDepth = 64

    init(_ bytes: [UInt8], message: String, file: String?) {
        self.init(bytes, start: 0, end: bytes.count, message: message, depth: 0, file: file)
    }

    init(_ bytes: [UInt8], start: Int, end: Int, message: String, depth: Int, file: String?) {
        self.bytes = bytes; self.position = start; self.end = end; self.message = message; self.depth = depth
        self.file = file
    }

    func error(_ what: String) -> DynQError {
        DynQError(file: file, "not a valid ONNX file: \(message): \(what)")
    }

    var atEnd: Bool { position >= end }

    /// The next field, or nil at the end of the message.
    mutating func next() throws -> (field: Int, value: ProtoValue)? {
        guard position < end else { return nil }
        let at = position
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0, field < 1 << 29 else { throw error("bad field number \(key >> 3) at byte \(at)") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1:
            guard end - position >= 8 else { throw error("field \(field) truncated at byte \(position)") }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
            position += 8
            return (field, .fixed64(v))
        case 2:
            let n = try varint()
            guard n <= UInt64(end - position) else {
                throw error("field \(field) claims \(n) bytes at byte \(position), only \(end - position) remain")
            }
            let s = bytes[position..<(position + Int(n))]
            position += Int(n)
            return (field, .bytes(s))
        case 5:
            guard end - position >= 4 else { throw error("field \(field) truncated at byte \(position)") }
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[position + k]) << (8 * UInt32(k)) }
            position += 4
            return (field, .fixed32(v))
        default:
            throw error("unsupported wire type \(key & 7) for field \(field) at byte \(at)")
        }
    }

    private mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint at byte \(position)") }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw error("varint longer than 10 bytes at byte \(position)") }
            v |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    /// A reader for the embedded message in `value` (a length-delimited field).
    func submessage(_ value: ProtoValue, field: String, as name: String) throws -> ProtoReader {
        guard case .bytes(let s) = value else { throw error("field '\(field)' must be a message") }
        guard depth + 1 <= ProtoReader.maxDepth else { throw error("messages nested deeper than \(ProtoReader.maxDepth)") }
        return ProtoReader(bytes, start: s.startIndex, end: s.endIndex, message: name, depth: depth + 1, file: file)
    }

    func string(_ value: ProtoValue, field: String) throws -> String {
        guard case .bytes(let s) = value else { throw error("field '\(field)' must be a string") }
        guard let text = String(validating: s, as: UTF8.self) else { throw error("field '\(field)' is not UTF-8") }
        return text
    }

    func int(_ value: ProtoValue, field: String) throws -> Int64 {
        guard case .varint(let v) = value else { throw error("field '\(field)' must be a varint") }
        return Int64(bitPattern: v)
    }

    func float(_ value: ProtoValue, field: String) throws -> Float {
        guard case .fixed32(let v) = value else { throw error("field '\(field)' must be a 32-bit float") }
        return Float(bitPattern: v)
    }

    /// A repeated varint field, packed (one length-delimited run) or not (one value); appended to `out`.
    func ints(_ value: ProtoValue, field: String, into out: inout [Int64]) throws {
        switch value {
        case .varint(let v): out.append(Int64(bitPattern: v))
        case .bytes(let s):
            var r = ProtoReader(bytes, start: s.startIndex, end: s.endIndex, message: message, depth: depth, file: file)
            while !r.atEnd { out.append(Int64(bitPattern: try r.varint())) }
        default: throw error("field '\(field)' must be varints")
        }
    }

    /// A repeated fixed-width field (`width` 4 or 8 bytes), packed or not; appended to `out` as raw bits.
    func fixed(_ value: ProtoValue, width: Int, field: String, into out: inout [UInt64]) throws {
        switch (value, width) {
        case (.fixed32(let v), 4): out.append(UInt64(v))
        case (.fixed64(let v), 8): out.append(v)
        case (.bytes(let s), _):
            guard s.count % width == 0 else { throw error("packed field '\(field)' is \(s.count) bytes, not a multiple of \(width)") }
            out.reserveCapacity(out.count + s.count / width)
            var k = s.startIndex
            while k < s.endIndex {
                var v: UInt64 = 0
                for b in 0..<width { v |= UInt64(bytes[k + b]) << (8 * UInt64(b)) }
                out.append(v)
                k += width
            }
        default: throw error("field '\(field)' must be \(width * 8)-bit values")
        }
    }
}
