/// A validated `.dynq` model whose blobs are used in place.
///
/// `Model(bytes:)` checks everything before anything runs: header (magic, version, sizes, CRC-32 over the body),
/// every record and offset (inside the file and its section, blobs 16-byte aligned), every op's arity, tensor
/// ids, element types and shapes, every parameter's range (multipliers in `[2^30, 2^31)`, shifts in `[−31, 30]`,
/// clamps, zero points, weights in `[−127, 127]`, table values), the int32 accumulator bound, and the dataflow
/// (each tensor written once, before it is read). A malformed input of any kind ends in a `ModelError`, never in a
/// trap or a long loop: every count is bounded by the bytes that would hold it.
///
/// The bytes are not copied: `bytes` must stay valid (flash, an mmap, a buffer the caller keeps) for the model's
/// lifetime, and must start on a 16-byte boundary. Loading allocates the tables (names, shapes, op list);
/// running does not.
public struct Model {
    /// The file, exactly `fileSize` bytes.
    public let bytes: UnsafeRawBufferPointer
    public let name: String
    public let tensors: [ModelDescription.Tensor]
    public let blobs: [BlobRef]
    public let operations: [ModelDescription.Operation]
    public let input: TensorID
    public let outputs: [TensorID]
    public let classNames: [String]
    public let preprocess: ModelDescription.Preprocess
    /// The quantizer's notes (its per-layer report table), for tools; may be empty. Never read by the runtime.
    public let notes: String

    /// Where a blob's bytes are in the file.
    public struct BlobRef: Equatable, Sendable {
        public var name: String
        public var type: ElementType
        public var shape: [Int]
        /// Absolute offset in the file; a multiple of 16.
        public var offset: Int
        public var byteCount: Int
        public var elementCount: Int { byteCount / type.size }
    }

    /// A blob's bytes, in place.
    public func blobBytes(_ id: BlobID) -> UnsafeRawBufferPointer {
        let b = blobs[id.index]
        return UnsafeRawBufferPointer(rebasing: bytes[b.offset..<(b.offset + b.byteCount)])
    }
    /// A blob as a typed pointer, in place (the element type was validated at load; the file is little-endian,
    /// so this is for little-endian targets, which all supported targets are).
    public func pointer<T>(_ id: BlobID, as: T.Type) -> UnsafePointer<T> {
        UnsafePointer((bytes.baseAddress! + blobs[id.index].offset).assumingMemoryBound(to: T.self))
    }
    public func optionalPointer<T>(_ id: BlobID?, as: T.Type) -> UnsafePointer<T>? {
        guard let id else { return nil }
        return pointer(id, as: T.self)
    }

    public init(bytes buffer: UnsafeRawBufferPointer) throws(ModelError) {
        let p = try Parser(buffer)
        self.bytes = p.file
        self.tensors = try p.tensors()
        self.blobs = try p.blobs()
        self.operations = try p.operations()
        let meta = try p.meta(tensorCount: tensors.count)
        self.name = meta.name
        self.input = meta.input
        self.outputs = meta.outputs
        self.classNames = meta.classNames
        self.preprocess = meta.preprocess
        self.notes = meta.notes
        try ModelValidator(file: p.file, tensors: tensors, blobs: blobs, operations: operations, input: input,
                           outputs: outputs, preprocess: preprocess).validate()
    }
}

extension ModelDescription {
    /// Copies a loaded model back into an owned description (for tools and round-trip tests).
    public init(_ m: Model) {
        var blobs: [Blob] = []
        blobs.reserveCapacity(m.blobs.count)
        for (i, b) in m.blobs.enumerated() {
            blobs.append(Blob(name: b.name, type: b.type, shape: b.shape, bytes: Array(m.blobBytes(BlobID(i)))))
        }
        self.init(name: m.name, tensors: m.tensors, blobs: blobs, operations: m.operations, input: m.input,
                  outputs: m.outputs, classNames: m.classNames, preprocess: m.preprocess, notes: m.notes)
    }
}

// MARK: - Parsing (bounds, records)

/// Bounds-checked little-endian reads of the header, tables and meta section.
struct Parser {
    let file: UnsafeRawBufferPointer
    let fileSize: Int
    var strings: Range<Int> = 0..<0

    init(_ buffer: UnsafeRawBufferPointer) throws(ModelError) {
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
        let version = Parser.u32(buffer, ModelFormat.fVersion)
        guard version == ModelFormat.version else {
            throw ModelError(.unsupportedVersion, .header, "unsupported format version (this reader knows 1)",
                             value: Int64(version))
        }
        let headerSize = Parser.u32(buffer, ModelFormat.fHeaderSize)
        guard headerSize == UInt32(ModelFormat.headerSize) else {
            throw ModelError(.badCount, .header, "header size is not 80", value: Int64(headerSize))
        }
        let fileSize = Parser.u32(buffer, ModelFormat.fFileSize)
        guard fileSize >= UInt32(ModelFormat.headerSize), fileSize <= UInt32(Int32.max) else {
            throw ModelError(.badCount, .header, "file size field out of range", value: Int64(fileSize))
        }
        guard Int(fileSize) <= buffer.count else {
            throw ModelError(.truncated, .file, "truncated: the header gives a larger file size than the bytes present",
                             value: Int64(fileSize))
        }
        self.fileSize = Int(fileSize)
        self.file = UnsafeRawBufferPointer(rebasing: buffer[0..<Int(fileSize)])
        let stored = Parser.u32(buffer, ModelFormat.fCRC)
        let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[ModelFormat.checksumStart...]))
        guard stored == computed else {
            throw ModelError(.checksumMismatch, .file, "CRC-32 mismatch: the file is corrupted")
        }
        guard Parser.u32(buffer, ModelFormat.fFlags) == 0 else {
            throw ModelError(.badParameter, .header, "unknown flags", value: Int64(Parser.u32(buffer, ModelFormat.fFlags)))
        }
        strings = try section(ModelFormat.fStringsOffset, size: Int(Parser.u32(file, ModelFormat.fStringsSize)),
                              "strings section outside the file")
    }

    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
    func i32(_ at: Int) -> Int32 { Int32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: Int32.self)) }
    func int(_ at: Int) -> Int { Int(i32(at)) }

    /// `[offset, offset + size)` from a header offset field, checked against `[80, fileSize)`, 4-byte aligned.
    func section(_ offsetField: Int, size: Int, _ what: StaticString) throws(ModelError) -> Range<Int> {
        let off = int(offsetField)
        guard off >= ModelFormat.headerSize, off % 4 == 0, size >= 0, size <= fileSize - off else {
            throw ModelError(.outOfBounds, .header, what, value: Int64(off))
        }
        return off..<(off + size)
    }

    /// A table of `count` fixed-size records.
    func table(_ offsetField: Int, _ countField: Int, recordSize: Int, _ what: StaticString)
        throws(ModelError) -> (Range<Int>, Int)
    {
        let count = int(countField)
        guard count >= 0, count <= (fileSize - ModelFormat.headerSize) / recordSize, count <= ModelFormat.maxListCount
        else { throw ModelError(.badCount, .header, what, value: Int64(count)) }
        return (try section(offsetField, size: count * recordSize, what), count)
    }

    /// A string of the pool, by (offset, length) fields at `at`.
    func string(at: Int, _ location: ModelError.Location) throws(ModelError) -> String {
        let off = int(at), len = int(at + 4)
        guard off >= 0, len >= 0, off <= strings.count, len <= strings.count - off else {
            throw ModelError(.outOfBounds, location, "name outside the strings section", value: Int64(off))
        }
        let s = strings.lowerBound + off
        return String(decoding: UnsafeRawBufferPointer(rebasing: file[s..<(s + len)]), as: UTF8.self)
    }

    /// Rank and dims of a record; every dim in `[1, 2^28]`, element count ≤ 2^28.
    func shape(at: Int, rank: Int, maxRank: Int, _ location: ModelError.Location)
        throws(ModelError) -> ([Int], Int)
    {
        guard rank >= 1, rank <= maxRank else {
            throw ModelError(rank == 0 ? .badCount : .badCount, location, "rank out of range", value: Int64(rank))
        }
        var dims: [Int] = []
        dims.reserveCapacity(rank)
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
            let (product, overflow) = n.multipliedReportingOverflow(by: v)   // 32-bit Int on Cortex-M
            guard !overflow, product <= ModelFormat.maxElements else {
                throw ModelError(.badCount, location, "more than 2^28 elements", value: Int64(v), index: d)
            }
            n = product
            dims.append(v)
        }
        return (dims, n)
    }

    func tensors() throws(ModelError) -> [ModelDescription.Tensor] {
        let (range, count) = try table(ModelFormat.fTensorsOffset, ModelFormat.fTensorCount,
                                       recordSize: ModelFormat.recordSize, "tensor table does not fit the file")
        var out: [ModelDescription.Tensor] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let r = range.lowerBound + i * ModelFormat.recordSize
            let loc = ModelError.Location.tensor(i)
            let name = try string(at: r, loc)
            guard let type = ElementType(rawValue: file[r + 8]) else {
                throw ModelError(.badTensor, loc, "unknown element type", value: Int64(file[r + 8]))
            }
            guard file[r + 10] == 0, file[r + 11] == 0 else {
                throw ModelError(.badTensor, loc, "reserved bytes are not 0")
            }
            let (shape, _) = try shape(at: r + 20, rank: Int(file[r + 9]), maxRank: ModelFormat.maxTensorRank, loc)
            let zp = int(r + 12)
            let zpOK: Bool
            switch type {
            case .int8: zpOK = zp >= -128 && zp <= 127
            case .uint8: zpOK = zp >= 0 && zp <= 255
            case .int16, .int32: zpOK = zp == 0
            }
            guard zpOK else { throw ModelError(.badTensor, loc, "zero point out of the element type's range", value: Int64(zp)) }
            out.append(ModelDescription.Tensor(name: name, type: type, shape: shape,
                                               scaleBits: UInt32(bitPattern: i32(r + 16)), zeroPoint: zp))
        }
        return out
    }

    func blobs() throws(ModelError) -> [Model.BlobRef] {
        let (range, count) = try table(ModelFormat.fBlobsOffset, ModelFormat.fBlobCount,
                                       recordSize: ModelFormat.recordSize, "blob table does not fit the file")
        let data = try section(ModelFormat.fDataOffset, size: int(ModelFormat.fDataSize),
                               "data section outside the file")
        guard data.lowerBound % ModelFormat.blobAlignment == 0 else {
            throw ModelError(.misaligned, .header, "data section not 16-byte aligned", value: Int64(data.lowerBound))
        }
        var out: [Model.BlobRef] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let r = range.lowerBound + i * ModelFormat.recordSize
            let loc = ModelError.Location.blob(i)
            let name = try string(at: r, loc)
            guard let type = ElementType(rawValue: file[r + 8]) else {
                throw ModelError(.badBlob, loc, "unknown element type", value: Int64(file[r + 8]))
            }
            guard file[r + 10] == 0, file[r + 11] == 0 else {
                throw ModelError(.badBlob, loc, "reserved bytes are not 0")
            }
            let (shape, n) = try shape(at: r + 20, rank: Int(file[r + 9]), maxRank: ModelFormat.maxBlobRank, loc)
            let off = int(r + 12), size = int(r + 16)
            guard size == n * type.size else {
                throw ModelError(.badBlob, loc, "byte count does not match shape and type", value: Int64(size))
            }
            guard off >= data.lowerBound, off <= data.upperBound, size <= data.upperBound - off else {
                throw ModelError(.outOfBounds, loc, "blob data outside the data section", value: Int64(off))
            }
            guard off % ModelFormat.blobAlignment == 0 else {
                throw ModelError(.misaligned, loc, "blob data not 16-byte aligned", value: Int64(off))
            }
            out.append(Model.BlobRef(name: name, type: type, shape: shape, offset: off, byteCount: size))
        }
        return out
    }

    func operations() throws(ModelError) -> [ModelDescription.Operation] {
        let range = try section(ModelFormat.fOpsOffset, size: int(ModelFormat.fOpsSize), "op section outside the file")
        let count = int(ModelFormat.fOpCount)
        guard count >= 1, count <= range.count / ModelFormat.opHeaderSize else {
            throw ModelError(.badCount, .header, "op count does not fit the op section", value: Int64(count))
        }
        var out: [ModelDescription.Operation] = []
        out.reserveCapacity(count)
        var at = range.lowerBound
        for i in 0..<count {
            guard range.upperBound - at >= ModelFormat.opHeaderSize else {
                throw ModelError(.outOfBounds, .operation(i), "op record runs past the op section")
            }
            let rawCode = UInt16(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt16.self))
            let nWords = Int(UInt16(littleEndian: file.loadUnaligned(fromByteOffset: at + 2, as: UInt16.self)))
            guard let code = OpCode(rawValue: rawCode) else {
                throw ModelError(.badOperation, .operation(i), "unknown op code", value: Int64(rawCode))
            }
            let name = try string(at: at + 4, .operation(i))
            let start = at + ModelFormat.opHeaderSize
            guard nWords <= (range.upperBound - start) / 4 else {
                throw ModelError(.outOfBounds, .operation(i), "op parameters run past the op section",
                                 value: Int64(nWords), opCode: code)
            }
            var words: [Int32] = []
            words.reserveCapacity(nWords)
            for k in 0..<nWords { words.append(i32(start + 4 * k)) }
            let op = try words.withUnsafeBufferPointer { (w) throws(ModelError) -> ModelDescription.Op in
                try ModelDescription.Op.decode(code: code, words: w, op: i)
            }
            out.append(ModelDescription.Operation(name: name, op: op))
            at = start + 4 * nWords
        }
        guard at == range.upperBound else {
            throw ModelError(.badCount, .header, "op section has bytes after the last op", value: Int64(range.upperBound - at))
        }
        return out
    }

    struct Meta {
        var name: String
        var input: TensorID
        var outputs: [TensorID]
        var classNames: [String]
        var preprocess: ModelDescription.Preprocess
        var notes: String
    }

    func meta(tensorCount: Int) throws(ModelError) -> Meta {
        let range = try section(ModelFormat.fMetaOffset, size: int(ModelFormat.fMetaSize), "model info outside the file")
        var at = range.lowerBound
        func word() throws(ModelError) -> Int {
            guard range.upperBound - at >= 4 else {
                throw ModelError(.outOfBounds, .meta, "model info runs past its section")
            }
            defer { at += 4 }
            return int(at)
        }
        func count(_ what: StaticString) throws(ModelError) -> Int {
            let n = try word()
            guard n >= 0, n <= (range.upperBound - at) / 4 else { throw ModelError(.badCount, .meta, what, value: Int64(n)) }
            return n
        }
        guard range.count >= 8 else { throw ModelError(.outOfBounds, .meta, "model info runs past its section") }
        let name = try string(at: at, .meta)
        at += 8
        let input = try word()
        let nOut = try count("output count does not fit")
        var outputs: [TensorID] = []
        for _ in 0..<nOut { outputs.append(TensorID(try word())) }
        let nClass = try count("class count does not fit")
        guard nClass <= (range.upperBound - at) / 8 else {
            throw ModelError(.badCount, .meta, "class count does not fit", value: Int64(nClass))
        }
        var classes: [String] = []
        classes.reserveCapacity(nClass)
        for _ in 0..<nClass { classes.append(try string(at: at, .meta)); at += 8 }
        let scale = UInt32(bitPattern: Int32(truncatingIfNeeded: try word()))
        let nMean = try count("mean count does not fit")
        var mean: [UInt32] = []
        for _ in 0..<nMean { mean.append(UInt32(bitPattern: Int32(truncatingIfNeeded: try word()))) }
        let nStd = try count("std count does not fit")
        var std: [UInt32] = []
        for _ in 0..<nStd { std.append(UInt32(bitPattern: Int32(truncatingIfNeeded: try word()))) }
        guard range.upperBound - at >= 8 else { throw ModelError(.outOfBounds, .meta, "model info runs past its section") }
        let notes = try string(at: at, .meta)
        at += 8
        guard at == range.upperBound else {
            throw ModelError(.badCount, .meta, "model info has bytes after its last field", value: Int64(range.upperBound - at))
        }
        _ = tensorCount
        return Meta(name: name, input: TensorID(input), outputs: outputs, classNames: classes,
                    preprocess: ModelDescription.Preprocess(scaleBits: scale, meanBits: mean, stdBits: std),
                    notes: notes)
    }
}
