// The .dynq file: round trip field by field, every kind of corruption ends in a named ModelError.
import Testing
@testable import DynQCore

@Suite("Model format")
struct ModelFormatTests {
    @Test("CRC-32 check value: crc32(\"123456789\") == 0xCBF43926")
    func crcCheckValue() {
        let s = Array("123456789".utf8)
        #expect(s.withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { CRC32.checksum($0) } == 0)
    }

    @Test("round trip keeps every field of every op kind")
    func roundTrip() throws {
        let d = TestModels.allOps()
        // Every op kind is present (the fixture would silently lose coverage otherwise).
        let codes = Set(d.operations.map { $0.op.code.rawValue })
        #expect(codes.count == 16)
        let bytes = try d.serialized()
        let back = try withAligned(bytes) { try ModelDescription(Model(bytes: $0)) }
        #expect(back.name == d.name)
        #expect(back.input == d.input)
        #expect(back.outputs == d.outputs)
        #expect(back.classNames == d.classNames)
        #expect(back.preprocess == d.preprocess)
        #expect(back.tensors.count == d.tensors.count)
        for (a, b) in zip(back.tensors, d.tensors) { #expect(a == b, "tensor \(b.name)") }
        #expect(back.blobs.count == d.blobs.count)
        for (a, b) in zip(back.blobs, d.blobs) { #expect(a == b, "blob \(b.name)") }
        #expect(back.operations.count == d.operations.count)
        for (a, b) in zip(back.operations, d.operations) { #expect(a == b, "op \(b.name)") }
        #expect(back == d)
        // Writing is deterministic.
        #expect(try back.serialized() == bytes)
    }

    @Test("every blob is 16-byte aligned in the file and referenced in place")
    func blobsAlignedInPlace() throws {
        let bytes = try TestModels.allOps().serialized()
        try withAligned(bytes) { raw in
            let m = try Model(bytes: raw)
            for (i, b) in m.blobs.enumerated() {
                #expect(b.offset % 16 == 0)
                #expect(m.blobBytes(BlobID(i)).baseAddress == raw.baseAddress! + b.offset)
            }
        }
    }

    @Test("header layout: magic, version 1, file size, CRC over bytes 24...")
    func headerLayout() throws {
        let bytes = try TestModels.allOps().serialized()
        #expect(Array(bytes[0..<8]) == [0x89, 0x44, 0x59, 0x4E, 0x51, 0x0D, 0x0A, 0x1A])
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        #expect(u32(8) == 1)
        #expect(u32(12) == 80)
        #expect(Int(u32(16)) == bytes.count)
        #expect(u32(20) == bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[24...])) })
        #expect(bytes.count % 16 == 0)
    }

    // MARK: Corruption

    @Test("any single flipped byte is refused (CRC, magic, version or size)")
    func everyFlippedByte() throws {
        let bytes = try TestModels.allOps().serialized()
        for i in 0..<bytes.count {
            var b = bytes
            b[i] ^= 0x5A
            guard let e = loadError(b) else { Issue.record("flip at \(i) loaded"); continue }
            let expected: Set<ModelError.Kind> = [.badMagic, .unsupportedVersion, .badCount, .truncated,
                                                  .checksumMismatch]
            #expect(expected.contains(e.kind), "flip at \(i): \(e)")
            if i >= 24 { #expect(e.kind == .checksumMismatch, "flip at \(i): \(e)") }
        }
    }

    @Test("truncation at every length is refused as truncated")
    func truncation() throws {
        let bytes = try TestModels.allOps().serialized()
        for n in stride(from: 0, to: bytes.count, by: 7) {
            let e = loadError(Array(bytes[0..<n]))
            #expect(e?.kind == .truncated, "length \(n): \(String(describing: e))")
        }
        #expect(loadError(Array(bytes[0..<(bytes.count - 1)]))?.kind == .truncated)
    }

    @Test("wrong version is named")
    func wrongVersion() throws {
        var b = try TestModels.allOps().serialized()
        b[8] = 2
        let e = try #require(loadError(b))
        #expect(e.kind == .unsupportedVersion)
        #expect(e.value == 2)
        #expect(e.description == "header: unsupported format version (this reader knows 1) (value 2)")
    }

    @Test("bad magic is named")
    func badMagic() throws {
        var b = try TestModels.allOps().serialized()
        b[1] = UInt8(ascii: "X")
        #expect(loadError(b)?.kind == .badMagic)
        #expect(loadError(Array("hello, this is not a model".utf8))?.kind
                == .badMagic)
    }

    @Test("misaligned model bytes are refused")
    func misaligned() throws {
        let bytes = try TestModels.allOps().serialized()
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 16)
        defer { p.deallocate() }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: p[1...]).copyMemory(from: $0) }
        #expect(throws: ModelError.self) { _ = try Model(bytes: UnsafeRawBufferPointer(rebasing: p[1...])) }
        do throws(ModelError) { _ = try Model(bytes: UnsafeRawBufferPointer(rebasing: p[1...])) } catch { #expect(error.kind == .misaligned) }
    }

    /// Rewrites a field and fixes the CRC, to reach the checks behind it.
    static func patched(_ bytes: [UInt8], at: Int, _ value: UInt32) -> [UInt8] {
        var b = bytes
        for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        let crc = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[24...])) }
        for k in 0..<4 { b[20 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
        return b
    }
    static func u32(_ b: [UInt8], _ at: Int) -> Int { Int((0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * $1) }) }

    @Test("offsets past the end (with a valid CRC) are refused as out of bounds", arguments: [
        ("strings", 28), ("tensors", 36), ("blobs", 44), ("ops", 52), ("meta", 64), ("data", 72),
    ])
    func offsetPastEnd(section: String, field: Int) throws {
        let bytes = try TestModels.allOps().serialized()
        let e = try #require(loadError(Self.patched(bytes, at: field, UInt32(bytes.count + 64))), "\(section)")
        #expect(e.kind == .outOfBounds || e.kind == .badCount, "\(section): \(e)")
    }

    @Test("a blob offset past the end is refused, naming the blob")
    func blobOffsetPastEnd() throws {
        let bytes = try TestModels.allOps().serialized()
        let table = Self.u32(bytes, 44)
        let e = try #require(loadError(Self.patched(bytes, at: table + 3 * 44 + 12, UInt32(bytes.count))))
        #expect(e.kind == .outOfBounds)
        #expect(e.location == .blob(3))
        let e2 = try #require(loadError(Self.patched(bytes, at: table + 3 * 44 + 12, 0xFFFF_FFF0)))
        #expect(e2.kind == .outOfBounds)
    }

    @Test("absurd counts are refused without allocating or looping", arguments: [40, 48, 60])
    func absurdCounts(field: Int) throws {
        let bytes = try TestModels.allOps().serialized()
        for v: UInt32 in [0x7FFF_FFFF, 0xFFFF_FFFF, 1_000_000] {
            let e = loadError(Self.patched(bytes, at: field, v))
            #expect(e != nil)
            #expect(e?.kind == .badCount || e?.kind == .outOfBounds, "\(String(describing: e))")
        }
    }

    @Test("a file size field beyond the buffer reads as truncated")
    func fileSizeBeyondBuffer() throws {
        var b = try TestModels.allOps().serialized()
        let n = UInt32(b.count + 16)
        for k in 0..<4 { b[16 + k] = UInt8(truncatingIfNeeded: n >> (8 * k)) }
        #expect(loadError(b)?.kind == .truncated)
    }

    @Test("random garbage never traps", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func garbage(seed: UInt64) throws {
        // Valid header and CRC around random tables: every check behind the CRC is exercised.
        var r = SplitMix64(seed: seed)
        let good = try TestModels.allOps().serialized()
        for _ in 0..<200 {
            var b = good
            for _ in 0..<r.int(1, 8) { b[r.int(80, b.count - 1)] = UInt8(truncatingIfNeeded: r.next()) }
            let fixed = Self.patched(b, at: 24, 0)   // recompute the CRC (flags stay 0)
            _ = loadError(fixed)   // must return (either way), not trap
        }
    }
}

@Suite("Model validation")
struct ModelValidationTests {
    /// A one-conv model to mutate.
    static func conv(mult: Int32 = 1 << 30, shift: Int32 = -7, weights: [Int8] = [1, 2, 3, 4],
                     clamp: MD.Clamp = .none, outShape: [Int] = [1, 1, 1, 1]) -> ModelDescription {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 2, 2, 1], type: .uint8)
        let x = b.tensor("x", [1, 2, 2, 1])
        let y = b.tensor("y", outShape)
        let t = b.int8("t", shiftTable(channels: 1), [1, 256])
        b.op("in", .inputTable(.init(input: img, output: x, table: t)))
        let w = b.int8("w", weights, [1, 2, 2, 1])
        let m = b.blob(MD.Blob(name: "m", int32: [mult, shift], shape: [1, 2]))
        b.op("conv", .conv2d(.init(input: x, output: y, weights: w, bias: nil, multipliers: m,
                                   window: .init(kernelH: 2, kernelW: 2), clamp: clamp)))
        return b.build(outputs: [y])
    }

    static func error(_ d: ModelDescription) -> ModelError? {
        do throws(ModelError) { _ = try d.serialized(); return nil } catch { return error }
    }

    @Test("the base model is valid")
    func baseValid() throws { _ = try Self.conv().serialized() }

    @Test("multiplier not in [2^30, 2^31) is named with the channel",
          arguments: [(Int32(1 << 30) - 1, Int32(0)), (Int32(-5), Int32(0)), (Int32(1 << 30), Int32(31)),
                      (Int32(1 << 30), Int32(-32)), (Int32(0), Int32(3))])
    func badMultiplier(m: Int32, e: Int32) throws {
        let err = try #require(Self.error(Self.conv(mult: m, shift: e)))
        #expect(err.kind == .badParameter)
        #expect(err.location == .operation(1))
        #expect(err.index == 0)
        #expect(err.description.hasPrefix("op 1 (conv2d): "), "\(err)")
    }

    @Test("weight -128 is refused")
    func weightMinus128() {
        #expect(Self.error(Self.conv(weights: [1, -128, 3, 4]))?.kind == .badParameter)
    }

    @Test("clamp outside [-128, 127] or min > max is refused", arguments: [(-129, 127), (0, 128), (5, 4)])
    func badClamp(lo: Int, hi: Int) {
        #expect(Self.error(Self.conv(clamp: .init(min: lo, max: hi)))?.kind == .badParameter)
    }

    @Test("an output shape that does not match the window is named")
    func badOutputShape() {
        let e = Self.error(Self.conv(outShape: [1, 2, 1, 1]))
        #expect(e?.kind == .badShape)
        #expect(e?.messageText == "output height does not match the window")
    }

    @Test("zero point outside the type's range is refused")
    func badZeroPoint() {
        var d = Self.conv()
        d.tensors[1].zeroPoint = 128
        #expect(Self.error(d)?.kind == .badTensor)
        d = Self.conv()
        d.tensors[0].zeroPoint = -1
        #expect(Self.error(d)?.kind == .badTensor)
    }

    @Test("reading a tensor before it is written is refused")
    func dataflow() {
        var d = Self.conv()
        d.operations.swapAt(0, 1)
        #expect(Self.error(d)?.kind == .badDataflow)
    }

    @Test("an unknown tensor or blob id is refused")
    func unknownIds() {
        var d = Self.conv()
        if case .conv2d(var c) = d.operations[1].op { c.weights = BlobID(99); d.operations[1].op = .conv2d(c) }
        #expect(Self.error(d)?.kind == .badDataflow)
        d = Self.conv()
        if case .conv2d(var c) = d.operations[1].op { c.output = TensorID(-1); d.operations[1].op = .conv2d(c) }
        #expect(Self.error(d)?.kind == .badDataflow)
    }

    @Test("a blob of the wrong size or type is refused")
    func wrongBlob() {
        #expect(Self.error(Self.conv(weights: [1, 2, 3]))?.kind == .badBlob)
        var d = Self.conv()
        d.blobs[1] = MD.Blob(name: "w", int16: [1, 2, 3, 4], shape: [4])
        #expect(Self.error(d)?.kind == .badBlob)
    }

    @Test("a value beyond Int32 does not survive the file and is refused")
    func beyondInt32() {
        var d = Self.conv()
        d.tensors[2].shape = [1, 1, 1, 1 << 33]
        #expect(Self.error(d) != nil)
    }

    @Test("a coefficient slice past the gate's output is refused")
    func coefficientSlice() throws {
        var d = TestModels.allOps()
        let i = d.operations.firstIndex { $0.name == "dyn2" }!
        if case .dynamicConv2d(var p) = d.operations[i].op { p.coefficientOffset = 3; d.operations[i].op = .dynamicConv2d(p) }
        let e = try #require(Self.error(d))
        #expect(e.kind == .badShape)
        #expect(e.messageText == "coefficient slice runs past the coefficient tensor")
    }

    @Test("errors read as one line naming the place and the problem")
    func messages() {
        let e = ModelError(.badParameter, .operation(3), "multiplier not in [2^30, 2^31) (or 0)", value: 12, index: 5,
                           opCode: .conv2d)
        #expect(e.description == "op 3 (conv2d): multiplier not in [2^30, 2^31) (or 0) (element 5, value 12)")
    }
}
