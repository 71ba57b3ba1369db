/// What is wrong with a model file, a model description, an arena or an input, precisely enough for a one-line
/// message: `description` reads like `op 3 (conv2d): multiplier not in [2^30, 2^31) (element 5, value 12)`.
///
/// Thrown by `Model(bytes:)`, `ModelDescription.serialized()`, `ArenaPlan` and `Interpreter` (typed throws).
public struct ModelError: Error, Equatable, CustomStringConvertible {
    public enum Kind: UInt8, Equatable, Sendable {
        /// The buffer ends before the header or before `fileSize`.
        case truncated
        /// The first 8 bytes are not the DynQ magic.
        case badMagic
        /// A format version this reader does not know.
        case unsupportedVersion
        /// The CRC-32 over the body does not match the header.
        case checksumMismatch
        /// An offset or size points outside the file or its section.
        case outOfBounds
        /// The model bytes or a blob are not 16-byte aligned.
        case misaligned
        /// A count is absurd (more records than the file can hold, zero outputs, ...).
        case badCount
        /// A tensor record is invalid (type, rank, dimension, zero point).
        case badTensor
        /// A blob record is invalid (type, rank, size vs shape).
        case badBlob
        /// Unknown op code or a record of the wrong size.
        case badOperation
        /// A parameter out of its range (multiplier, shift, clamp, stride, ...), or a blob value out of range.
        case badParameter
        /// Shapes or element types that do not fit the op.
        case badShape
        /// A tensor read before it is written, written twice, or an unknown tensor / blob id.
        case badDataflow
        /// The caller's arena is smaller than the plan.
        case arenaTooSmall
        /// The caller's input does not fit the model input.
        case badInput
    }

    /// Where the problem is.
    public enum Location: Equatable, Sendable {
        case file
        case header
        case tensor(Int)
        case blob(Int)
        case operation(Int)
        case meta
        case arena
        case input
    }

    public var kind: Kind
    public var location: Location
    /// What is wrong, in words ("multiplier not in [2^30, 2^31)").
    public var message: StaticString
    /// The offending value, if one helps.
    public var value: Int64?
    /// The element / dimension index the value belongs to, if any.
    public var index: Int?
    /// The op code of `.operation` locations, for the message.
    public var opCode: OpCode?

    public init(_ kind: Kind, _ location: Location, _ message: StaticString, value: Int64? = nil, index: Int? = nil,
                opCode: OpCode? = nil) {
        self.kind = kind; self.location = location; self.message = message; self.value = value
        self.index = index; self.opCode = opCode
    }

    public var messageText: String {
        message.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }

    public var description: String {
        var s: String
        switch location {
        case .file: s = ""
        case .header: s = "header"
        case .tensor(let i): s = "tensor \(i)"
        case .blob(let i): s = "blob \(i)"
        case .operation(let i):
            s = "op \(i)"
            if let c = opCode { s += " (" + c.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } + ")" }
        case .meta: s = "model info"
        case .arena: s = "arena"
        case .input: s = "input"
        }
        s += (s.isEmpty ? "" : ": ") + messageText
        switch (index, value) {
        case (let i?, let v?): s += " (element \(i), value \(v))"
        case (let i?, nil): s += " (element \(i))"
        case (nil, let v?): s += " (value \(v))"
        case (nil, nil): break
        }
        return s
    }

    public static func == (a: ModelError, b: ModelError) -> Bool {
        a.kind == b.kind && a.location == b.location && a.value == b.value && a.index == b.index
            && a.opCode == b.opCode && a.messageText == b.messageText
    }
}
