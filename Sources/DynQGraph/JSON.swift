/// A JSON value, a strict parser and a deterministic serializer.
///
/// Hand-written so that DynQ controls every failure: the parser never traps on any input, reports
/// `line L, column C` positions, refuses what RFC 8259 refuses (trailing garbage, bad escapes, lone surrogates,
/// control characters in strings, `NaN`/`Infinity`, leading zeros, invalid UTF-8), refuses duplicate object keys
/// and limits nesting depth. Objects keep their keys in insertion order, so serialization is deterministic.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number (always finite).
    case number(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// The maximum nesting of arrays and objects the parser accepts by default.
    public static let defaultDepthLimit = 128
}

/// A JSON object: keys in insertion order, unique.
public struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: JSON)]

    public init() { entries = [] }
    public init(_ entries: [(String, JSON)]) {
        self.entries = []
        for (k, v) in entries { self[k] = v }
    }
    public init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }

    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }

    /// Reading returns the value for `key`; writing a new key appends it, an existing key is replaced in place,
    /// `nil` removes it.
    public subscript(key: String) -> JSON? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONObject {
    /// Appends `key`, which the caller knows is not present yet (the parser's duplicate check), in O(1).
    mutating func appendNewKey(_ key: String, _ value: JSON) { entries.append((key, value)) }
}

// MARK: - Accessors

extension JSON {
    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }
    /// An `.int`, or a `.number` that is exactly an integer in `Int`'s range.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .number(let d):
            guard d.isFinite, d == d.rounded(), d >= -9.2e18, d <= 9.2e18 else { return nil }
            return Int(d)
        default: return nil
        }
    }
    /// Any number, as a `Double`.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }
    /// A short name of the value's kind, for error messages ("string", "array", ...).
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
    /// A number holding a `Float` exactly as its shortest decimal spelling (so `1e-5` is written `1e-05`,
    /// not `9.999999747378752e-06`).
    public static func float(_ f: Float) -> JSON {
        if f.isFinite, f == f.rounded(), abs(f) < 1e15 { return .int(Int(f)) }
        return .number(Double(f.description) ?? Double(f))
    }
}

// MARK: - Parsing

extension JSON {
    /// Parses one JSON document from UTF-8 bytes.
    ///
    /// - Throws: `DynQError(file: file, "invalid JSON at line L, column C: ...")` for any malformed input.
    public static func parse(_ bytes: [UInt8], file: String? = nil,
                             depthLimit: Int = JSON.defaultDepthLimit) throws -> JSON {
        var p = JSONParser(bytes: bytes, file: file, depthLimit: depthLimit)
        return try p.parseDocument()
    }

    /// Parses one JSON document from a string.
    public static func parse(_ text: String, file: String? = nil,
                             depthLimit: Int = JSON.defaultDepthLimit) throws -> JSON {
        try parse(Array(text.utf8), file: file, depthLimit: depthLimit)
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    let file: String?
    let depthLimit: Int
    var i = 0
    var depth = 0

    init(bytes: [UInt8], file: String?, depthLimit: Int) {
        self.bytes = bytes; self.file = file; self.depthLimit = depthLimit
    }

    func fail(_ message: String, at offset: Int? = nil) -> DynQError {
        let end = min(offset ?? i, bytes.count)
        var line = 1, column = 1
        for k in 0..<end {
            if bytes[k] == UInt8(ascii: "\n") { line += 1; column = 1 }
            else if bytes[k] & 0xC0 != 0x80 { column += 1 }
        }
        return DynQError(file: file, "invalid JSON at line \(line), column \(column): \(message)")
    }

    mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func parseDocument() throws -> JSON {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        skipWhitespace()
        guard i < bytes.count else { throw fail("empty document") }
        let v = try parseValue()
        skipWhitespace()
        guard i == bytes.count else { throw fail("unexpected data after the JSON value") }
        return v
    }

    func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    mutating func parseValue() throws -> JSON {
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw fail("NaN and Infinity are not JSON numbers")
        case let b: throw fail("unexpected \(describe(b))")
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else {
            throw fail("invalid literal (expected '\(word)')")
        }
        i += w.count
    }

    mutating func enter() throws {
        depth += 1
        if depth > depthLimit { throw fail("nesting deeper than \(depthLimit) levels") }
    }

    mutating func parseArray() throws -> JSON {
        try enter()
        i += 1
        var items: [JSON] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; break }
            throw fail("expected ',' or ']' in array, found \(describe(bytes[i]))")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseObject() throws -> JSON {
        try enter()
        i += 1
        var object = JSONObject()
        var seen = Set<String>()
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(object) }
        while true {
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated object") }
            guard bytes[i] == UInt8(ascii: "\"") else {
                throw fail("expected a string key in object, found \(describe(bytes[i]))")
            }
            let keyStart = i
            let key = try parseString()
            guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            i += 1
            skipWhitespace()
            let value = try parseValue()
            object.appendNewKey(key, value)      // `seen` refused duplicates: no linear search per key
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; break }
            throw fail("expected ',' or '}' in object, found \(describe(bytes[i]))")
        }
        depth -= 1
        return .object(object)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func parseString() throws -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string", at: start) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw fail("control character in string (must be escaped)") }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("unterminated string", at: start) }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate in \\u escape") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    i -= 2
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
                continue
            }
            out.append(b)
            i += 1
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw fail("string is not valid UTF-8", at: start)
        }
        return s
    }

    mutating func parseNumber() throws -> JSON {
        let start = i
        func isDigit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= 0x30 && bytes[k] <= 0x39 }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard isDigit(i) else {
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") { throw fail("NaN and Infinity are not JSON numbers") }
            throw fail("invalid number")
        }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
            if isDigit(i) { throw fail("leading zeros are not allowed in numbers") }
        } else {
            while isDigit(i) { i += 1 }
        }
        var integral = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard isDigit(i) else { throw fail("expected a digit after '.'") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw fail("expected a digit in exponent") }
            while isDigit(i) { i += 1 }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral, let v = Int(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else { throw fail("number out of range", at: start) }
        return .number(d)
    }
}

// MARK: - Serialization

extension JSON {
    /// The value as JSON text.
    ///
    /// Deterministic: object keys in insertion order, integers as integers, other numbers in Swift's shortest
    /// round-trippable form (`Double(text) == value`), non-finite numbers as `null`. With `pretty`, objects are
    /// indented by two spaces and arrays of scalars stay on one line.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let v): out += String(v)
        case .number(let d): out += d.isFinite ? d.description : "null"
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if !pretty || items.allSatisfy(\.isScalar) {
                out += "["
                for (k, item) in items.enumerated() {
                    if k > 0 { out += pretty ? ", " : "," }
                    item.write(into: &out, pretty: pretty, indent: indent)
                }
                out += "]"
            } else {
                let pad = String(repeating: " ", count: indent + 2)
                out += "[\n"
                for (k, item) in items.enumerated() {
                    out += pad
                    item.write(into: &out, pretty: pretty, indent: indent + 2)
                    out += k + 1 < items.count ? ",\n" : "\n"
                }
                out += String(repeating: " ", count: indent) + "]"
            }
        case .object(let o):
            if o.entries.isEmpty { out += "{}"; return }
            if !pretty {
                out += "{"
                for (k, e) in o.entries.enumerated() {
                    if k > 0 { out += "," }
                    JSON.writeString(e.key, into: &out)
                    out += ":"
                    e.value.write(into: &out, pretty: false, indent: 0)
                }
                out += "}"
            } else {
                let pad = String(repeating: " ", count: indent + 2)
                out += "{\n"
                for (k, e) in o.entries.enumerated() {
                    out += pad
                    JSON.writeString(e.key, into: &out)
                    out += ": "
                    e.value.write(into: &out, pretty: true, indent: indent + 2)
                    out += k + 1 < o.entries.count ? ",\n" : "\n"
                }
                out += String(repeating: " ", count: indent) + "}"
            }
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
