/// `ModelDescription → [UInt8]`, the `.dynq` file (docs/model-format.md).
///
/// The writer lays the file out; `serialized()` then reads the bytes back with the runtime's own validator
/// (`Model(bytes:)`) and compares the result with the description, so a model that the runtime would refuse, or
/// a value that does not survive the file (an `Int` beyond Int32), is refused here, with the same error.
extension ModelDescription {
    public func serialized() throws(ModelError) -> [UInt8] {
        for (i, o) in operations.enumerated() {
            if case .concat(let c) = o.op, c.requants.count != c.inputs.count {
                throw ModelError(.badCount, .operation(i), "concat needs one requant per input",
                                 value: Int64(c.requants.count), opCode: .concat)
            }
        }
        let bytes = ModelWriter.layout(self)
        let back: Result<ModelDescription, ModelError> = bytes.withUnsafeBytes { raw in
            do throws(ModelError) { return .success(ModelDescription(try Model(bytes: raw))) } catch { return .failure(error) }
        }
        let read: ModelDescription
        switch back {
        case .success(let d): read = d
        case .failure(let e): throw e
        }
        if read != self {
            throw ModelError(.badParameter, .file, "a value does not fit the file format (beyond Int32?)")
        }
        return bytes
    }
}

enum ModelWriter {
    /// Little-endian byte sink.
    struct Sink {
        var b: [UInt8] = []
        mutating func u8(_ v: UInt8) { b.append(v) }
        mutating func u16(_ v: UInt16) { b.append(UInt8(truncatingIfNeeded: v)); b.append(UInt8(truncatingIfNeeded: v >> 8)) }
        mutating func u32(_ v: UInt32) {
            b.append(UInt8(truncatingIfNeeded: v)); b.append(UInt8(truncatingIfNeeded: v >> 8))
            b.append(UInt8(truncatingIfNeeded: v >> 16)); b.append(UInt8(truncatingIfNeeded: v >> 24))
        }
        mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
        mutating func int(_ v: Int) { i32(Int32(truncatingIfNeeded: v)) }
        mutating func align(_ a: Int) { while b.count % a != 0 { b.append(0) } }
        mutating func set32(_ at: Int, _ v: UInt32) {
            b[at] = UInt8(truncatingIfNeeded: v); b[at + 1] = UInt8(truncatingIfNeeded: v >> 8)
            b[at + 2] = UInt8(truncatingIfNeeded: v >> 16); b[at + 3] = UInt8(truncatingIfNeeded: v >> 24)
        }
        mutating func setInt(_ at: Int, _ v: Int) { set32(at, UInt32(truncatingIfNeeded: v)) }
    }

    /// String pool: UTF-8 bytes, referenced by (offset in the pool, length).
    struct Strings {
        var bytes: [UInt8] = []
        mutating func add(_ s: String) -> (Int, Int) {
            let off = bytes.count
            bytes.append(contentsOf: s.utf8)
            return (off, bytes.count - off)
        }
    }

    static func layout(_ m: ModelDescription) -> [UInt8] {
        var strings = Strings()
        var out = Sink()
        for _ in 0..<ModelFormat.headerSize { out.u8(0) }
        let mg = ModelFormat.magic
        out.b[0] = mg.0; out.b[1] = mg.1; out.b[2] = mg.2; out.b[3] = mg.3
        out.b[4] = mg.4; out.b[5] = mg.5; out.b[6] = mg.6; out.b[7] = mg.7
        out.set32(ModelFormat.fVersion, ModelFormat.version)
        out.setInt(ModelFormat.fHeaderSize, ModelFormat.headerSize)

        // Strings are collected while the tables are written into side sinks, then placed first.
        var tensors = Sink()
        for t in m.tensors {
            let (o, n) = strings.add(t.name)
            tensors.int(o); tensors.int(n)
            tensors.u8(t.type.rawValue); tensors.u8(UInt8(truncatingIfNeeded: t.shape.count)); tensors.u16(0)
            tensors.int(t.zeroPoint); tensors.u32(t.scaleBits)
            for d in 0..<ModelFormat.maxBlobRank { tensors.int(d < t.shape.count ? t.shape[d] : 0) }
        }
        // Blob data offsets are absolute, so they are filled in once the data section's start is known.
        var blobs = Sink()
        var blobDataFields: [Int] = []
        for bl in m.blobs {
            let (o, n) = strings.add(bl.name)
            blobs.int(o); blobs.int(n)
            blobs.u8(bl.type.rawValue); blobs.u8(UInt8(truncatingIfNeeded: bl.shape.count)); blobs.u16(0)
            blobDataFields.append(blobs.b.count)
            blobs.u32(0); blobs.int(bl.bytes.count)
            for d in 0..<ModelFormat.maxBlobRank { blobs.int(d < bl.shape.count ? bl.shape[d] : 0) }
        }
        var ops = Sink()
        for o in m.operations {
            let words = o.op.parameterWords
            let (so, sn) = strings.add(o.name)
            ops.u16(o.op.code.rawValue); ops.u16(UInt16(truncatingIfNeeded: words.count))
            ops.int(so); ops.int(sn)
            for w in words { ops.i32(w) }
        }
        var meta = Sink()
        let (no, nn) = strings.add(m.name)
        meta.int(no); meta.int(nn)
        meta.int(m.input.index)
        meta.int(m.outputs.count)
        for t in m.outputs { meta.int(t.index) }
        meta.int(m.classNames.count)
        for c in m.classNames { let (o, n) = strings.add(c); meta.int(o); meta.int(n) }
        meta.u32(m.preprocess.scaleBits)
        meta.int(m.preprocess.meanBits.count)
        for v in m.preprocess.meanBits { meta.u32(v) }
        meta.int(m.preprocess.stdBits.count)
        for v in m.preprocess.stdBits { meta.u32(v) }
        let (to, tn) = strings.add(m.notes)
        meta.int(to); meta.int(tn)

        func section(_ bytes: [UInt8], _ offsetField: Int, _ sizeField: Int?) {
            out.align(4)
            out.setInt(offsetField, out.b.count)
            if let sizeField { out.setInt(sizeField, bytes.count) }
            out.b.append(contentsOf: bytes)
        }
        section(strings.bytes, ModelFormat.fStringsOffset, ModelFormat.fStringsSize)
        section(tensors.b, ModelFormat.fTensorsOffset, nil)
        out.setInt(ModelFormat.fTensorCount, m.tensors.count)
        let blobTable = out.b.count + (4 - out.b.count % 4) % 4
        section(blobs.b, ModelFormat.fBlobsOffset, nil)
        out.setInt(ModelFormat.fBlobCount, m.blobs.count)
        section(ops.b, ModelFormat.fOpsOffset, ModelFormat.fOpsSize)
        out.setInt(ModelFormat.fOpCount, m.operations.count)
        section(meta.b, ModelFormat.fMetaOffset, ModelFormat.fMetaSize)

        out.align(ModelFormat.blobAlignment)
        let dataStart = out.b.count
        out.setInt(ModelFormat.fDataOffset, dataStart)
        for (i, bl) in m.blobs.enumerated() {
            out.align(ModelFormat.blobAlignment)
            out.setInt(blobTable + blobDataFields[i], out.b.count)
            out.b.append(contentsOf: bl.bytes)
        }
        out.align(ModelFormat.blobAlignment)
        out.setInt(ModelFormat.fDataSize, out.b.count - dataStart)
        out.setInt(ModelFormat.fFileSize, out.b.count)
        let crc = out.b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[ModelFormat.checksumStart...])) }
        out.set32(ModelFormat.fCRC, crc)
        return out.b
    }
}
