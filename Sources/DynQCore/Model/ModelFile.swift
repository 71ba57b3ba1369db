/// A `.dynq` file read in place, **without allocating** (docs/model-format.md): what the interpreter, the
/// validator and the planner work from, on a host and on a microcontroller alike.
///
/// `init(bytes:)` checks the framing: magic, version, sizes (the buffer must be exactly the recorded file size),
/// 16-byte alignment, the CRC-32 over the body, every section inside the file, every tensor and blob record
/// (types, ranks, dimensions, zero points, blob data inside the data section and aligned), every op record's code
/// and extent, and the model info's framing. The semantic rules (ids, shapes, ranges, accumulator bounds,
/// dataflow) are `validate(work:)`'s (ModelValidation.swift). Every count is bounded by the bytes that would hold
/// it, so a corrupt file ends in a `ModelError`, never in a trap or a long loop.
///
/// The bytes are not copied: they must stay valid (flash, an mmap, a buffer the caller keeps) while the view is
/// used. Little-endian targets only (all supported ones).
public struct ModelFile {
    /// The file, exactly `fileSize` bytes, 16-byte aligned.
    public let bytes: UnsafeRawBufferPointer
    let strings: Range<Int>
    let tensorTable: Int
    public let tensorCount: Int
    let blobTable: Int
    public let blobCount: Int
    let ops: Range<Int>
    public let opCount: Int
    let meta: Range<Int>
    let data: Range<Int>
    /// Offsets of the model info's lists (validated framing).
    let outputList: Int
    public let outputCount: Int
    let classList: Int
    public let classCount: Int
    let meanList: Int
    let meanCount: Int
    let stdList: Int
    let stdCount: Int
    let notesField: Int

    public init(bytes buffer: UnsafeRawBufferPointer) throws(ModelError) {
        // Magic first (when there are 8 bytes), so that any other file is called what it is.
        let m = ModelFormat.magic
        if buffer.count >= 8 {
            let magicOK = buffer[0] == m.0 && buffer[1] == m.1 && buffer[2] == m.2 && buffer[3] == m.3
                && buffer[4] == m.4 && buffer[5] == m.5 && buffer[6] == m.6 && buffer[7] == m.7
            guard magicOK else { throw ModelError(.badMagic, .header, "not a .dynq model (bad magic)") }
        }
        guard buffer.count >= ModelFormat.headerSize, let base = buffer.baseAddress else {
            throw ModelError(.truncated, .header, "file shorter than the 80-byte header", value: Int64(buffer.count))
        }
        guard Int(bitPattern: base) % ModelFormat.blobAlignment == 0 else {
            throw ModelError(.misaligned, .file, "model bytes must start on a 16-byte boundary",
                             value: Int64(Int(bitPattern: base) % ModelFormat.blobAlignment))
        }
        let version = ModelFile.u32(buffer, ModelFormat.fVersion)
        guard version == ModelFormat.version else {
            throw ModelError(.unsupportedVersion, .header, "unsupported format version (this reader knows 1)",
                             value: Int64(version))
        }
        let headerSize = ModelFile.u32(buffer, ModelFormat.fHeaderSize)
        guard headerSize == UInt32(ModelFormat.headerSize) else {
            throw ModelError(.badCount, .header, "header size is not 80", value: Int64(headerSize))
        }
        let fileSize = ModelFile.u32(buffer, ModelFormat.fFileSize)
        guard fileSize >= UInt32(ModelFormat.headerSize), fileSize <= UInt32(Int32.max) else {
            throw ModelError(.badCount, .header, "file size field out of range", value: Int64(fileSize))
        }
        guard Int(fileSize) <= buffer.count else {
            throw ModelError(.truncated, .file, "truncated: the header gives a larger file size than the bytes present",
                             value: Int64(fileSize))
        }
        guard Int(fileSize) == buffer.count else {
            throw ModelError(.badCount, .file, "bytes after the end the header records (appended data?)",
                             value: Int64(buffer.count - Int(fileSize)))
        }
        let file = buffer
        self.bytes = file
        let stored = ModelFile.u32(file, ModelFormat.fCRC)
        let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[ModelFormat.checksumStart...]))
        guard stored == computed else {
            throw ModelError(.checksumMismatch, .file, "CRC-32 mismatch: the file is corrupted")
        }
        guard ModelFile.u32(file, ModelFormat.fFlags) == 0 else {
            throw ModelError(.badParameter, .header, "unknown flags", value: Int64(ModelFile.u32(file, ModelFormat.fFlags)))
        }
        let size = Int(fileSize)
        func int(_ at: Int) -> Int { Int(Int32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: Int32.self))) }
        /// `[offset, offset + count)` from a header offset field, inside `[80, fileSize)`, 4-byte aligned.
        func section(_ offsetField: Int, _ count: Int, _ what: StaticString) throws(ModelError) -> Range<Int> {
            let off = int(offsetField)
            guard off >= ModelFormat.headerSize, off % 4 == 0, count >= 0, count <= size - off else {
                throw ModelError(.outOfBounds, .header, what, value: Int64(off))
            }
            return off..<(off + count)
        }
        /// A table of fixed-size records: the count is bounded by the bytes before anything is multiplied.
        func table(_ offsetField: Int, _ countField: Int, _ what: StaticString) throws(ModelError) -> (Int, Int) {
            let count = int(countField)
            guard count >= 0, count <= (size - ModelFormat.headerSize) / ModelFormat.recordSize,
                  count <= ModelFormat.maxListCount
            else { throw ModelError(.badCount, .header, what, value: Int64(count)) }
            return (try section(offsetField, count * ModelFormat.recordSize, what).lowerBound, count)
        }
        strings = try section(ModelFormat.fStringsOffset, int(ModelFormat.fStringsSize), "strings section outside the file")
        (tensorTable, tensorCount) = try table(ModelFormat.fTensorsOffset, ModelFormat.fTensorCount,
                                               "tensor table does not fit the file")
        (blobTable, blobCount) = try table(ModelFormat.fBlobsOffset, ModelFormat.fBlobCount,
                                           "blob table does not fit the file")
        data = try section(ModelFormat.fDataOffset, int(ModelFormat.fDataSize), "data section outside the file")
        guard data.lowerBound % ModelFormat.blobAlignment == 0 else {
            throw ModelError(.misaligned, .header, "data section not 16-byte aligned", value: Int64(data.lowerBound))
        }
        ops = try section(ModelFormat.fOpsOffset, int(ModelFormat.fOpsSize), "op section outside the file")
        opCount = int(ModelFormat.fOpCount)
        guard opCount >= 1, opCount <= ops.count / ModelFormat.opHeaderSize else {
            throw ModelError(.badCount, .header, "op count does not fit the op section", value: Int64(opCount))
        }
        meta = try section(ModelFormat.fMetaOffset, int(ModelFormat.fMetaSize), "model info outside the file")

        // Model info: name, input, outputs, classes, preprocess scale, mean, std, notes.
        var at = meta.lowerBound
        let end = meta.upperBound
        func word() throws(ModelError) -> Int {
            guard end - at >= 4 else { throw ModelError(.outOfBounds, .meta, "model info runs past its section") }
            defer { at += 4 }
            return int(at)
        }
        /// A list of `count` items of `itemBytes` each: the count must fit the rest of the section.
        func list(_ itemBytes: Int, _ what: StaticString) throws(ModelError) -> (Int, Int) {
            let n = try word()
            guard n >= 0, n <= (end - at) / itemBytes else { throw ModelError(.badCount, .meta, what, value: Int64(n)) }
            defer { at += n * itemBytes }
            return (at, n)
        }
        guard meta.count >= 8 else { throw ModelError(.outOfBounds, .meta, "model info runs past its section") }
        at += 8                                                             // name
        _ = try word()                                                      // input
        (outputList, outputCount) = try list(4, "output count does not fit")
        (classList, classCount) = try list(8, "class count does not fit")
        _ = try word()                                                      // preprocess scale
        (meanList, meanCount) = try list(4, "mean count does not fit")
        (stdList, stdCount) = try list(4, "std count does not fit")
        guard end - at >= 8 else { throw ModelError(.outOfBounds, .meta, "model info runs past its section") }
        notesField = at
        at += 8
        guard at == end else {
            throw ModelError(.badCount, .meta, "model info has bytes after its last field", value: Int64(end - at))
        }

        // Names, records and op framing.
        _ = try string(at: meta.lowerBound, .meta)
        _ = try string(at: notesField, .meta)
        for k in 0..<classCount { _ = try string(at: classList + 8 * k, .meta) }
        for i in 0..<tensorCount { _ = try tensorRecord(i) }
        for i in 0..<blobCount { _ = try blobRecord(i) }
        var op = ops.lowerBound
        for i in 0..<opCount {
            let r = try opRecord(at: op, index: i)
            op = r.end
        }
        guard op == ops.upperBound else {
            throw ModelError(.badCount, .header, "op section has bytes after the last op", value: Int64(ops.upperBound - op))
        }
    }

    // MARK: Reads

    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
    @inline(__always) func i32(_ at: Int) -> Int32 {
        Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int32.self))
    }
    @inline(__always) func int(_ at: Int) -> Int { Int(i32(at)) }

    /// The pool bytes of the (offset, length) string reference at `at`.
    func string(at: Int, _ location: ModelError.Location) throws(ModelError) -> UnsafeRawBufferPointer {
        let off = int(at), len = int(at + 4)
        guard off >= 0, len >= 0, off <= strings.count, len <= strings.count - off else {
            throw ModelError(.outOfBounds, location, "name outside the strings section", value: Int64(off))
        }
        let s = strings.lowerBound + off
        return UnsafeRawBufferPointer(rebasing: bytes[s..<(s + len)])
    }

    // MARK: Tensors

    /// The model input (validated to be a uint8 `[1, H, W, C]` tensor by `validate`).
    public var input: TensorID { TensorID(int(meta.lowerBound + 8)) }
    /// Model output `k` (the first is the logits).
    public func output(_ k: Int) -> TensorID { TensorID(int(outputList + 4 * k)) }

    /// Tensor `i`'s record (`i` in `0..<tensorCount`; checked at init).
    public func tensor(_ i: Int) -> TensorRecord { try! tensorRecord(i) }

    /// Tensor `i`'s element type alone, read from its record without decoding the rest (a validated model: the
    /// byte is a known type). For the ops that check it on every run.
    @inline(__always) public func tensorType(_ i: Int) -> ElementType {
        ElementType(rawValue: bytes[tensorTable + i * ModelFormat.recordSize + 8]) ?? .int8
    }

    func tensorRecord(_ i: Int) throws(ModelError) -> TensorRecord {
        let r = tensorTable + i * ModelFormat.recordSize
        let loc = ModelError.Location.tensor(i)
        _ = try string(at: r, loc)
        guard let type = ElementType(rawValue: bytes[r + 8]) else {
            throw ModelError(.badTensor, loc, "unknown element type", value: Int64(bytes[r + 8]))
        }
        guard bytes[r + 10] == 0, bytes[r + 11] == 0 else { throw ModelError(.badTensor, loc, "reserved bytes are not 0") }
        let shape = try dimensions(at: r + 20, rank: Int(bytes[r + 9]), maxRank: ModelFormat.maxTensorRank, loc)
        let zp = int(r + 12)
        let zpOK: Bool
        switch type {
        case .int8: zpOK = zp >= -128 && zp <= 127
        case .uint8: zpOK = zp >= 0 && zp <= 255
        case .int16, .int32: zpOK = zp == 0
        }
        guard zpOK else { throw ModelError(.badTensor, loc, "zero point out of the element type's range", value: Int64(zp)) }
        return TensorRecord(type: type, shape: shape, zeroPoint: zp, scaleBits: UInt32(bitPattern: i32(r + 16)))
    }

    /// Rank and dims of a record; every dim in `[1, 2^28]`, element count ≤ 2^28 (products checked for overflow:
    /// `Int` is 32-bit on Cortex-M).
    func dimensions(at: Int, rank: Int, maxRank: Int, _ location: ModelError.Location) throws(ModelError) -> Shape {
        guard rank >= 1, rank <= maxRank else { throw ModelError(.badCount, location, "rank out of range", value: Int64(rank)) }
        var shape = Shape()
        var n = 1
        for d in 0..<ModelFormat.maxBlobRank {
            let v = int(at + 4 * d)
            if d >= rank {
                guard v == 0 else { throw ModelError(.badCount, location, "dimension beyond the rank is not 0", value: Int64(v), index: d) }
                continue
            }
            guard v >= 1, v <= ModelFormat.maxElements else {
                throw ModelError(.badCount, location, "dimension not in [1, 2^28]", value: Int64(v), index: d)
            }
            let (product, overflow) = n.multipliedReportingOverflow(by: v)
            guard !overflow, product <= ModelFormat.maxElements else {
                throw ModelError(.badCount, location, "more than 2^28 elements", value: Int64(v), index: d)
            }
            n = product
            shape.append(v)
        }
        return shape
    }

    // MARK: Blobs

    /// Blob `i`'s record (`i` in `0..<blobCount`; checked at init).
    public func blob(_ i: Int) -> BlobRecord { try! blobRecord(i) }

    func blobRecord(_ i: Int) throws(ModelError) -> BlobRecord {
        let r = blobTable + i * ModelFormat.recordSize
        let loc = ModelError.Location.blob(i)
        _ = try string(at: r, loc)
        guard let type = ElementType(rawValue: bytes[r + 8]) else {
            throw ModelError(.badBlob, loc, "unknown element type", value: Int64(bytes[r + 8]))
        }
        guard bytes[r + 10] == 0, bytes[r + 11] == 0 else { throw ModelError(.badBlob, loc, "reserved bytes are not 0") }
        let shape = try dimensions(at: r + 20, rank: Int(bytes[r + 9]), maxRank: ModelFormat.maxBlobRank, loc)
        let off = int(r + 12), size = int(r + 16)
        guard size == shape.elementCount * type.size else {
            throw ModelError(.badBlob, loc, "byte count does not match shape and type", value: Int64(size))
        }
        guard off >= data.lowerBound, off <= data.upperBound, size <= data.upperBound - off else {
            throw ModelError(.outOfBounds, loc, "blob data outside the data section", value: Int64(off))
        }
        guard off % ModelFormat.blobAlignment == 0 else {
            throw ModelError(.misaligned, loc, "blob data not 16-byte aligned", value: Int64(off))
        }
        return BlobRecord(type: type, shape: shape, offset: off, byteCount: size)
    }

    /// A blob as a typed pointer, in place (element type validated per op).
    @inline(__always)
    public func pointer<T>(_ id: BlobID, as: T.Type) -> UnsafePointer<T> {
        let off = int(blobTable + id.index * ModelFormat.recordSize + 12)
        return UnsafePointer((bytes.baseAddress! + off).assumingMemoryBound(to: T.self))
    }
    @inline(__always)
    public func optionalPointer<T>(_ id: BlobID?, as: T.Type) -> UnsafePointer<T>? {
        guard let id else { return nil }
        return pointer(id, as: T.self)
    }

    // MARK: Ops

    /// The op record at byte `at` (its framing checked: a known code, words inside the op section).
    func opRecord(at: Int, index i: Int) throws(ModelError) -> OpRecord {
        guard ops.upperBound - at >= ModelFormat.opHeaderSize else {
            throw ModelError(.outOfBounds, .operation(i), "op record runs past the op section")
        }
        let rawCode = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))
        let n = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at + 2, as: UInt16.self)))
        guard let code = OpCode(rawValue: rawCode) else {
            throw ModelError(.badOperation, .operation(i), "unknown op code", value: Int64(rawCode))
        }
        _ = try string(at: at + 4, .operation(i))
        let start = at + ModelFormat.opHeaderSize
        guard n <= (ops.upperBound - start) / 4 else {
            throw ModelError(.outOfBounds, .operation(i), "op parameters run past the op section", value: Int64(n),
                             opCode: code)
        }
        let words = UnsafePointer((bytes.baseAddress! + start).assumingMemoryBound(to: Int32.self))
        return OpRecord(index: i, code: code, words: UnsafeBufferPointer(start: words, count: n), offset: at)
    }

    /// Calls `body` with every op record, in execution order.
    @inline(__always)
    public func forEachOp<E: Error>(_ body: (OpRecord) throws(E) -> Void) throws(E) {
        var at = ops.lowerBound
        for i in 0..<opCount {
            let r = try! opRecord(at: at, index: i)
            try body(r)
            at = r.end
        }
    }
}

/// Up to 6 dimensions, stored inline (no allocation).
@frozen
public struct Shape: Equatable, Sendable {
    public private(set) var rank = 0
    @usableFromInline var d = (0, 0, 0, 0, 0, 0)
    public init() {}
    public init(_ dims: [Int]) { for v in dims { append(v) } }
    @inlinable public subscript(_ i: Int) -> Int {
        switch i {
        case 0: return d.0
        case 1: return d.1
        case 2: return d.2
        case 3: return d.3
        case 4: return d.4
        default: return d.5
        }
    }
    mutating func append(_ v: Int) {
        switch rank {
        case 0: d.0 = v
        case 1: d.1 = v
        case 2: d.2 = v
        case 3: d.3 = v
        case 4: d.4 = v
        default: d.5 = v
        }
        rank += 1
    }
    /// The last dimension (channels of NHWC, features of `[1, F]`).
    @inlinable public var last: Int { self[rank - 1] }
    /// Product of the dimensions (≤ 2^28 for a validated record).
    public var elementCount: Int {
        var n = 1
        for i in 0..<rank { n *= self[i] }
        return n
    }
    public static func == (a: Shape, b: Shape) -> Bool {
        guard a.rank == b.rank else { return false }
        for i in 0..<a.rank where a[i] != b[i] { return false }
        return true
    }
    /// The dimensions as an array (host tools).
    public var dimensions: [Int] { (0..<rank).map { self[$0] } }
}

/// A tensor record, read in place.
public struct TensorRecord: Equatable, Sendable {
    public var type: ElementType
    public var shape: Shape
    public var zeroPoint: Int
    public var scaleBits: UInt32
    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { shape.elementCount * type.size }
}

/// A blob record, read in place.
public struct BlobRecord: Equatable, Sendable {
    public var type: ElementType
    public var shape: Shape
    /// Absolute offset in the file; a multiple of 16.
    public var offset: Int
    public var byteCount: Int
    public var elementCount: Int { byteCount / type.size }
}

/// One op of the file: its code and parameter words, in place.
public struct OpRecord {
    public var index: Int
    public var code: OpCode
    public var words: UnsafeBufferPointer<Int32>
    /// Byte offset of the record in the file.
    public var offset: Int
    var end: Int { offset + ModelFormat.opHeaderSize + 4 * words.count }

    /// Word `i` as an `Int`.
    @inline(__always) public subscript(_ i: Int) -> Int { Int(words[i]) }
    @inline(__always) func tensor(_ i: Int) -> TensorID { TensorID(Int(words[i])) }
    @inline(__always) func blob(_ i: Int) -> BlobID { BlobID(Int(words[i])) }
    @inline(__always) func optionalBlob(_ i: Int) -> BlobID? { words[i] == ModelFormat.none ? nil : BlobID(Int(words[i])) }
    @inline(__always) func clamp(_ i: Int) -> ModelDescription.Clamp { ModelDescription.Clamp(min: self[i], max: self[i + 1]) }
    @inline(__always) func requant(_ i: Int) -> ModelDescription.Requant {
        ModelDescription.Requant(multiplier: words[i], shift: words[i + 1])
    }
    @inline(__always) func window(_ i: Int) -> Window {
        Window(kernelH: self[i], kernelW: self[i + 1], strideH: self[i + 2], strideW: self[i + 3],
               dilationH: self[i + 4], dilationW: self[i + 5], padTop: self[i + 6], padLeft: self[i + 7],
               padBottom: self[i + 8], padRight: self[i + 9])
    }

    /// Throws unless the record has exactly `n` words.
    func expectWords(_ n: Int) throws(ModelError) {
        guard words.count == n else {
            throw ModelError(.badOperation, .operation(index), "wrong parameter word count", value: Int64(words.count),
                             opCode: code)
        }
    }
    func fail(_ kind: ModelError.Kind, _ msg: StaticString, _ value: Int? = nil) -> ModelError {
        ModelError(kind, .operation(index), msg, value: value.map { Int64($0) }, opCode: code)
    }
}

extension ModelFile {
    /// The model's name, UTF-8 bytes in place.
    public var modelName: UnsafeRawBufferPointer {
        (try? string(at: meta.lowerBound, .meta)) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
    /// Op `r`'s name (the graph node's), UTF-8 bytes in place.
    public func name(of r: OpRecord) -> UnsafeRawBufferPointer {
        (try? string(at: r.offset + 4, .operation(r.index))) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
    /// Class `i`'s name, UTF-8 bytes in place (empty past the class list).
    public func className(_ i: Int) -> UnsafeRawBufferPointer {
        guard i >= 0, i < classCount else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return (try? string(at: classList + 8 * i, .meta)) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
    /// Whether the op that writes tensor `t` is a softmax (its values are then probabilities).
    public func lastWriterIsSoftmax(_ t: TensorID) -> Bool {
        var softmax = false
        forEachOp { (r: OpRecord) in
            if r.code == .softmax, r.words.count >= 2, Int(r.words[1]) == t.index { softmax = true }
        }
        return softmax
    }
}
