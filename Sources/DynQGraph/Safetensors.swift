/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length
/// `n`, `n` bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
/// then the data buffer. Offsets are relative to the start of the data buffer.
///
/// The reader enforces the format's rules: the header fits in the file and is at most 16 MiB (DynQ's limit; the
/// reference implementation allows 100 MB, but parsing costs about 10 bytes of memory per header byte), is a JSON object,
/// every tensor's byte length equals `product(shape) × dtype size`, offsets lie in the buffer, and the tensors
/// cover the buffer exactly (no overlaps, no holes, no trailing bytes). Every dtype DynQ knows is converted to
/// float32 (`F64`, `I32` and `I64` may round; `BOOL` becomes 0 or 1).

/// The element types a safetensors file may hold that DynQ reads.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i8 = "I8", u8 = "U8", i16 = "I16", i32 = "I32", i64 = "I64", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16: return 2
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        }
    }
}

/// One entry of a safetensors header.
public struct SafetensorsEntry: Equatable, Sendable {
    public init(name: String, dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.begin = begin; self.end = end
    }
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Byte range in the data buffer.
    public var begin: Int, end: Int
}

/// A parsed safetensors header: entries in file order and the `__metadata__` strings.
public struct SafetensorsHeader: Equatable, Sendable {
    public var entries: [SafetensorsEntry]
    public var metadata: [String: String]
    /// Bytes before the data buffer (`8 + n`).
    public var dataStart: Int
    /// Bytes in the data buffer.
    public var dataCount: Int
}

/// The tensors of a safetensors file, converted to float32, with the file's metadata.
public struct SafetensorsFile: Sendable {
    public var tensors: [String: Tensor]
    /// Tensor names in header order.
    public var names: [String]
    public var metadata: [String: String]
}

/// The largest header the reader accepts: 16 MiB, room for about 300,000 tensor entries (the paper's ResNet50 with
/// its batchnorms needs about 40 KB). The reference implementation allows 100 MB; DynQ's JSON parser holds about
/// 10 bytes per header byte, so 100 MB of header would cost a gigabyte.
public let safetensorsMaxHeaderBytes = 1 << 24

/// Reads and validates a safetensors file.
///
/// Sizes are checked against the file's size before anything large is allocated.
/// - Throws: `DynQError(file: path, ...)` naming the problem (and the tensor, when one is at fault).
public func readSafetensors(_ path: String) throws -> SafetensorsFile {
    let header = try readSafetensorsHeader(path)
    let data = try FileIO.read(path, offset: header.dataStart, count: header.dataCount)
    return try decodeSafetensorsData(header, data: data, dataOffset: 0, file: path)
}

/// Reads only the header of a safetensors file (names, dtypes, shapes), validating it against the file size.
public func readSafetensorsHeader(_ path: String) throws -> SafetensorsHeader {
    let fileSize = try FileIO.size(of: path)
    guard fileSize >= 8 else {
        throw DynQError(file: path, "not a safetensors file: \(fileSize) bytes, shorter than the 8-byte header length")
    }
    let prefix = try FileIO.read(path, offset: 0, count: 8)
    let n = try checkedHeaderLength(prefix.le(UInt64.self, at: 0), fileSize: fileSize, file: path)
    let headerBytes = try FileIO.read(path, offset: 8, count: n)
    return try parseSafetensorsHeader(headerBytes, dataStart: 8 + n, dataCount: fileSize - 8 - n, file: path)
}

/// Parses a whole safetensors file held in memory.
public func parseSafetensors(_ bytes: [UInt8], file: String? = nil) throws -> SafetensorsFile {
    guard bytes.count >= 8 else {
        throw DynQError(file: file, "not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
    }
    let n = try checkedHeaderLength(bytes.le(UInt64.self, at: 0), fileSize: bytes.count, file: file)
    let header = try parseSafetensorsHeader(Array(bytes[8..<8 + n]), dataStart: 8 + n,
                                            dataCount: bytes.count - 8 - n, file: file)
    return try decodeSafetensorsData(header, data: bytes, dataOffset: header.dataStart, file: file)
}

private func checkedHeaderLength(_ raw: UInt64, fileSize: Int, file: String?) throws -> Int {
    guard raw > 0 else { throw DynQError(file: file, "safetensors header length is 0") }
    guard raw <= UInt64(safetensorsMaxHeaderBytes) else {
        throw DynQError(file: file, "safetensors header length \(raw) is absurd (limit \(safetensorsMaxHeaderBytes) bytes)")
    }
    let n = Int(raw)
    guard n <= fileSize - 8 else {
        throw DynQError(file: file, "safetensors header length \(n) runs past the end of the file (\(fileSize) bytes)")
    }
    return n
}

/// Parses and validates header JSON bytes for a data buffer of `dataCount` bytes.
public func parseSafetensorsHeader(_ headerBytes: [UInt8], dataStart: Int, dataCount: Int,
                                   file: String?) throws -> SafetensorsHeader {
    func fail(_ m: String) -> DynQError { DynQError(file: file, m) }
    guard headerBytes.first == UInt8(ascii: "{") else {
        throw fail("safetensors header is not a JSON object (must start with '{')")
    }
    let json: JSON
    do {
        json = try JSON.parse(headerBytes, file: file)
    } catch let e as DynQError {
        throw fail("safetensors header: \(e.message)")
    }
    guard let object = json.objectValue else { throw fail("safetensors header is not a JSON object") }

    var entries: [SafetensorsEntry] = []
    var metadata: [String: String] = [:]
    for (name, value) in object.entries {
        if name == "__metadata__" {
            guard let m = value.objectValue else { throw fail("safetensors __metadata__ is not an object") }
            for (k, v) in m.entries {
                guard let s = v.stringValue else {
                    throw fail("safetensors __metadata__ value for '\(k)' is a \(v.kindName), not a string")
                }
                metadata[k] = s
            }
            continue
        }
        guard let info = value.objectValue else { throw fail("tensor '\(name)': header entry is not an object") }
        for key in info.keys where !["dtype", "shape", "data_offsets"].contains(key) {
            throw fail("tensor '\(name)': unexpected header field '\(key)'")
        }
        guard let dtypeName = info["dtype"]?.stringValue else { throw fail("tensor '\(name)': missing string 'dtype'") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw fail("tensor '\(name)': unknown dtype '\(dtypeName)' (DynQ reads "
                       + SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        guard let shapeItems = info["shape"]?.arrayValue else { throw fail("tensor '\(name)': missing array 'shape'") }
        var shape: [Int] = []
        for d in shapeItems {
            guard let v = d.intValue, v >= 0 else {
                throw fail("tensor '\(name)': shape entries must be non-negative integers")
            }
            shape.append(v)
        }
        guard let offsets = info["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin = offsets[0].intValue, let end = offsets[1].intValue else {
            throw fail("tensor '\(name)': 'data_offsets' must be [begin, end] integers")
        }
        guard begin >= 0, end >= begin else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] are not an increasing range")
        }
        guard end <= dataCount else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] run past the end of the data (\(dataCount) bytes)")
        }
        guard let elements = Tensor.elementCount(shape),
              case (let bytes, false) = elements.multipliedReportingOverflow(by: dtype.size) else {
            throw fail("tensor '\(name)': shape \(shape) is absurdly large")
        }
        guard bytes == end - begin else {
            throw fail("tensor '\(name)': shape \(shape) of \(dtypeName) needs \(bytes) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        entries.append(SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
    }

    // Coverage: sorted by begin, the ranges must tile [0, dataCount) exactly.
    let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var covered = 0
    var previous: SafetensorsEntry?
    for e in sorted {
        if e.begin < covered, let p = previous {
            throw fail("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap tensor '\(p.name)' [\(p.begin), \(p.end)]")
        }
        if e.begin > covered {
            throw fail("data bytes \(covered)..<\(e.begin) are not covered by any tensor")
        }
        covered = e.end
        previous = e
    }
    if covered != dataCount {
        throw fail("data bytes \(covered)..<\(dataCount) are not covered by any tensor")
    }
    return SafetensorsHeader(entries: entries, metadata: metadata, dataStart: dataStart, dataCount: dataCount)
}

private func decodeSafetensorsData(_ header: SafetensorsHeader, data: [UInt8], dataOffset: Int,
                                   file: String?) throws -> SafetensorsFile {
    var tensors: [String: Tensor] = [:]
    for e in header.entries {
        let n = (e.end - e.begin) / e.dtype.size
        if n == 0 { tensors[e.name] = Tensor(shape: e.shape, data: []); continue }
        var out = [Float](repeating: 0, count: n)
        var badBool = false
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataOffset + e.begin
            out.withUnsafeMutableBufferPointer { o in
                func load<T: FixedWidthInteger>(_: T.Type, _ k: Int) -> T {
                    T(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: k * MemoryLayout<T>.size, as: T.self))
                }
                switch e.dtype {
                case .f32: for k in 0..<n { o[k] = Float(bitPattern: load(UInt32.self, k)) }
                case .f64: for k in 0..<n { o[k] = Float(Double(bitPattern: load(UInt64.self, k))) }
                case .f16: for k in 0..<n { o[k] = floatFromHalfBits(load(UInt16.self, k)) }
                case .bf16: for k in 0..<n { o[k] = Float(bitPattern: UInt32(load(UInt16.self, k)) << 16) }
                case .i8: for k in 0..<n { o[k] = Float(load(Int8.self, k)) }
                case .u8: for k in 0..<n { o[k] = Float(load(UInt8.self, k)) }
                case .i16: for k in 0..<n { o[k] = Float(load(Int16.self, k)) }
                case .i32: for k in 0..<n { o[k] = Float(load(Int32.self, k)) }
                case .i64: for k in 0..<n { o[k] = Float(load(Int64.self, k)) }
                case .bool:
                    for k in 0..<n {
                        let b = load(UInt8.self, k)
                        if b > 1 { badBool = true }
                        o[k] = b == 0 ? 0 : 1
                    }
                }
            }
        }
        if badBool { throw DynQError(file: file, "tensor '\(e.name)': BOOL data holds a byte other than 0 or 1") }
        tensors[e.name] = Tensor(shape: e.shape, data: out)
    }
    return SafetensorsFile(tensors: tensors, names: header.entries.map(\.name), metadata: header.metadata)
}

/// IEEE 754 binary16 bits to `Float` (exact; handles subnormals, infinities and NaN).
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
    if exponent == 0 {
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
}

/// Serializes float32 tensors as safetensors bytes: entries in the given order, data contiguous in that order,
/// header padded with spaces to a multiple of 8 bytes, `metadata` (if any) first with sorted keys.
/// - Throws: on duplicate tensor names.
public func encodeSafetensors(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                              file: String? = nil) throws -> [UInt8] {
    var header = JSONObject()
    if !metadata.isEmpty {
        header["__metadata__"] = .object(JSONObject(metadata.keys.sorted().map { ($0, JSON.string(metadata[$0]!)) }))
    }
    var offset = 0
    var seen = Set<String>()
    for (name, t) in tensors {
        guard name != "__metadata__" else { throw DynQError(file: file, "'__metadata__' cannot name a tensor") }
        guard seen.insert(name).inserted else { throw DynQError(file: file, "duplicate tensor name '\(name)'") }
        let bytes = t.count * 4
        header[name] = .object(["dtype": .string("F32"), "shape": .array(t.shape.map { .int($0) }),
                                "data_offsets": .array([.int(offset), .int(offset + bytes)])])
        offset += bytes
    }
    var headerBytes = Array(JSON.object(header).serialized().utf8)
    while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + headerBytes.count + offset)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: headerBytes)
    for (_, t) in tensors {
        for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    }
    return out
}

/// Writes float32 tensors to a safetensors file (see `encodeSafetensors`).
public func writeSafetensors(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
    try FileIO.write(try encodeSafetensors(tensors, metadata: metadata, file: path), to: path)
}
