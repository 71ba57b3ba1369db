/// NumPy `.npy` files (format versions 1, 2 and 3), C order, little- or big-endian, for the element types
/// DynQ exchanges: `uint8`, `float32`, `int32`, `int64`.

/// The elements of an `.npy` array.
public enum NpyData: Equatable, Sendable {
    case uint8([UInt8])
    case float32([Float])
    case int32([Int32])
    case int64([Int64])

    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .float32(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        }
    }

    /// NumPy's name for the element type.
    public var typeName: String {
        switch self {
        case .uint8: return "uint8"
        case .float32: return "float32"
        case .int32: return "int32"
        case .int64: return "int64"
        }
    }
}

/// An n-dimensional array read from or written to `.npy`. Contract: `data.count == shape.reduce(1, *)`.
public struct NpyArray: Equatable, Sendable {
    public var shape: [Int]
    public var data: NpyData

    public init(shape: [Int], data: NpyData) {
        precondition(Tensor.elementCount(shape) == data.count, "NpyArray: shape \(shape) does not hold \(data.count) elements")
        self.shape = shape
        self.data = data
    }

    /// A float32 array holding `tensor`.
    public init(_ tensor: Tensor) { self.init(shape: tensor.shape, data: .float32(tensor.data)) }

    /// The array as a float32 tensor (integers converted; `int64` may round).
    public var tensor: Tensor {
        switch data {
        case .float32(let v): return Tensor(shape: shape, data: v)
        case .uint8(let v): return Tensor(shape: shape, data: v.map(Float.init))
        case .int32(let v): return Tensor(shape: shape, data: v.map(Float.init))
        case .int64(let v): return Tensor(shape: shape, data: v.map(Float.init))
        }
    }
}

/// Reads an `.npy` file, header first: the array's declared size is checked against the file's size (and the
/// 4 GiB limit) before the data is read, so a junk or lying file costs at most the header's bytes.
public func readNpy(_ path: String) throws -> NpyArray {
    try parseNpy(try readInputFile(path, limit: 1 << 32), file: path)
}

/// Writes `array` as an `.npy` file (format version 1, little-endian, C order).
public func writeNpy(_ array: NpyArray, to path: String) throws {
    try FileIO.write(encodeNpy(array), to: path)
}

private let npyMagic: [UInt8] = [0x93] + Array("NUMPY".utf8)

/// The largest `.npy` header DynQ reads (NumPy itself refuses headers over 10,000 bytes by default).
public let npyMaxHeaderBytes = 1 << 16

/// What an `.npy` header declares.
struct NpyLayout {
    var shape: [Int]
    /// `u1`, `f4`, `i4` or `i8`.
    var kind: String
    var descr: String
    var bigEndian: Bool
    var count: Int
    /// Offset of the first data byte (the header's end).
    var dataStart: Int
    var byteCount: Int
    /// The file size the header implies.
    var fileSize: Int { dataStart + byteCount }
}

/// Parses the header of an `.npy` file from its first bytes (`bytes` may end anywhere after the header).
func parseNpyHeader(_ bytes: [UInt8], file: String?) throws -> NpyLayout {
    func fail(_ m: String) -> DynQError { DynQError(file: file, m) }
    guard bytes.count >= 10, Array(bytes[0..<6]) == npyMagic else { throw fail("not a .npy file (bad magic)") }
    let major = bytes[6]
    let headerLength: Int, headerStart: Int
    switch major {
    case 1: headerLength = Int(bytes.le(UInt16.self, at: 8)); headerStart = 10
    case 2, 3:
        guard bytes.count >= 12 else { throw fail("truncated .npy header") }
        headerLength = Int(bytes.le(UInt32.self, at: 8)); headerStart = 12
    default: throw fail("unsupported .npy format version \(major)")
    }
    guard headerLength <= npyMaxHeaderBytes else {
        throw fail(".npy header length \(headerLength) is absurd (limit \(npyMaxHeaderBytes) bytes)")
    }
    guard headerStart + headerLength <= bytes.count else {
        throw fail(".npy header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
    }
    guard let header = String(validating: bytes[headerStart..<headerStart + headerLength], as: UTF8.self) else {
        throw fail(".npy header is not valid text")
    }
    let dict: [String: NpyHeaderValue]
    do {
        var p = NpyHeaderParser(text: Array(header.unicodeScalars))
        dict = try p.parseDict()
    } catch let e as NpyHeaderParser.Failure {
        let text = header.trimmingCharacters()
        throw fail("bad .npy header (\(e.message)): \(text.prefix(120))\(text.count > 120 ? "…" : "")")
    }
    for key in dict.keys where !["descr", "fortran_order", "shape"].contains(key) {
        throw fail("bad .npy header: unexpected key '\(key)'")
    }
    guard case .string(let descr)? = dict["descr"] else { throw fail("bad .npy header: missing 'descr'") }
    guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail("bad .npy header: missing 'fortran_order'") }
    guard case .tuple(let shape)? = dict["shape"] else { throw fail("bad .npy header: missing 'shape'") }
    guard !fortran else { throw fail("Fortran-order arrays are not supported (save with C order)") }
    guard let count = Tensor.elementCount(shape) else { throw fail(".npy shape \(shape) is invalid") }

    var chars = Array(descr)
    var bigEndian = false
    if let first = chars.first, "<>|=".contains(first) {
        bigEndian = first == ">"
        chars.removeFirst()
    }
    let kind = String(chars)
    let itemSize: Int
    switch kind {
    case "u1": itemSize = 1
    case "f4", "i4": itemSize = 4
    case "i8": itemSize = 8
    default: throw fail("unsupported .npy dtype '\(descr)' (DynQ reads uint8, float32, int32, int64)")
    }
    let dataStart = headerStart + headerLength
    guard case (let byteCount, false) = count.multipliedReportingOverflow(by: itemSize),
          !dataStart.addingReportingOverflow(byteCount).overflow else {
        throw fail(".npy shape \(shape) is absurdly large")
    }
    return NpyLayout(shape: shape, kind: kind, descr: descr, bigEndian: bigEndian, count: count,
                     dataStart: dataStart, byteCount: byteCount)
}

/// Checks the data size an `.npy` header declares against the file's size.
func checkNpySize(_ layout: NpyLayout, fileSize: Int, file: String?) throws {
    let available = fileSize - layout.dataStart
    guard available >= layout.byteCount else {
        throw DynQError(file: file, "truncated .npy data: shape \(layout.shape) of \(layout.descr) needs \(layout.byteCount) bytes, the file has \(available)")
    }
    guard available == layout.byteCount else {
        throw DynQError(file: file, ".npy file has \(available - layout.byteCount) unexpected bytes after the array data")
    }
}

/// Parses the bytes of an `.npy` file.
public func parseNpy(_ bytes: [UInt8], file: String? = nil) throws -> NpyArray {
    let layout = try parseNpyHeader(bytes, file: file)
    try checkNpySize(layout, fileSize: bytes.count, file: file)
    let (shape, kind, bigEndian, count, dataStart) = (layout.shape, layout.kind, layout.bigEndian, layout.count,
                                                      layout.dataStart)
    func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { k in
                let v = raw.loadUnaligned(fromByteOffset: dataStart + k * MemoryLayout<T>.size, as: T.self)
                return bigEndian ? T(bigEndian: v) : T(littleEndian: v)
            }
        }
    }
    switch kind {
    case "u1": return NpyArray(shape: shape, data: .uint8(Array(bytes[dataStart...])))
    case "f4": return NpyArray(shape: shape, data: .float32(load(UInt32.self).map(Float.init(bitPattern:))))
    case "i4": return NpyArray(shape: shape, data: .int32(load(Int32.self)))
    default: return NpyArray(shape: shape, data: .int64(load(Int64.self)))
    }
}

/// The bytes of `array` as an `.npy` file (version 1, little-endian, C order, header padded to 64 bytes).
public func encodeNpy(_ array: NpyArray) -> [UInt8] {
    let descr: String
    switch array.data {
    case .uint8: descr = "|u1"
    case .float32: descr = "<f4"
    case .int32: descr = "<i4"
    case .int64: descr = "<i8"
    }
    let shape = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var out = npyMagic + [1, 0]
    withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    switch array.data {
    case .uint8(let v): out.append(contentsOf: v)
    case .float32(let v): for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    case .int32(let v): for x in v { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
    case .int64(let v): for x in v { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
    }
    return out
}

// MARK: - Header dictionary (a Python literal)

private enum NpyHeaderValue {
    case string(String)
    case bool(Bool)
    case tuple([Int])
}

private struct NpyHeaderParser {
    struct Failure: Error { var message: String }
    let text: [Unicode.Scalar]
    var i = 0

    init(text: [Unicode.Scalar]) { self.text = text }

    mutating func skipSpace() { while i < text.count, text[i].properties.isWhitespace { i += 1 } }

    mutating func expect(_ c: Unicode.Scalar) throws {
        skipSpace()
        guard i < text.count, text[i] == c else { throw Failure(message: "expected '\(c)'") }
        i += 1
    }

    mutating func peek(_ c: Unicode.Scalar) -> Bool {
        skipSpace()
        return i < text.count && text[i] == c
    }

    mutating func parseDict() throws -> [String: NpyHeaderValue] {
        try expect("{")
        var out: [String: NpyHeaderValue] = [:]
        while !peek("}") {
            let key = try parseString()
            try expect(":")
            guard out[key] == nil else { throw Failure(message: "duplicate key '\(key)'") }
            out[key] = try parseValue()
            if peek(",") { i += 1 } else { break }
        }
        try expect("}")
        skipSpace()
        guard i == text.count else { throw Failure(message: "unexpected text after the dictionary") }
        return out
    }

    mutating func parseString() throws -> String {
        skipSpace()
        guard i < text.count, text[i] == "'" || text[i] == "\"" else { throw Failure(message: "expected a quoted string") }
        let quote = text[i]
        i += 1
        var s = String.UnicodeScalarView()
        while i < text.count, text[i] != quote {
            s.append(text[i])
            i += 1
        }
        guard i < text.count else { throw Failure(message: "unterminated string") }
        i += 1
        return String(s)
    }

    mutating func parseValue() throws -> NpyHeaderValue {
        skipSpace()
        guard i < text.count else { throw Failure(message: "unexpected end") }
        if text[i] == "'" || text[i] == "\"" { return .string(try parseString()) }
        if text[i] == "(" {
            i += 1
            var dims: [Int] = []
            while !peek(")") {
                var digits = ""
                while i < text.count, ("0"..."9").contains(text[i]) {
                    digits.unicodeScalars.append(text[i])
                    i += 1
                }
                if peek("L") { i += 1 }
                guard let d = Int(digits) else { throw Failure(message: "shape entries must be non-negative integers") }
                dims.append(d)
                if peek(",") { i += 1 } else { break }
            }
            try expect(")")
            return .tuple(dims)
        }
        for (word, value) in [("True", true), ("False", false)] {
            let w = Array(word.unicodeScalars)
            if i + w.count <= text.count, Array(text[i..<i + w.count]) == w {
                i += w.count
                return .bool(value)
            }
        }
        throw Failure(message: "unexpected value")
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        return String(s)
    }
}
