// The C API of include/dynq.h, called through its C declarations (module CDynQ) as a C program would call it:
// results equal the Swift interpreter's, every error code comes back for the input that should produce it (with
// its diagnostic), and the arena size the API asks for is exactly enough.
import CDynQ
import DynQCore
import DynQGraph
@testable import DynQFirmware
import Foundation
import Testing

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The fixture model's bytes.
func fixtureBytes() throws -> [UInt8] { try FileIO.read(repoRoot + "/fixtures/fmnist/model.dynq") }

/// A 16-byte aligned copy of `bytes` at `offset` bytes past a 16-byte boundary, with `slack` spare bytes after
/// it, kept for `body`.
func aligned<R>(_ bytes: [UInt8], offset: Int = 0, slack: Int = 0,
                _ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
    let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + offset + slack + 16, alignment: 16)
    defer { p.deallocate() }
    (p + offset).initializeMemory(as: UInt8.self, repeating: 0, count: bytes.count + slack)
    bytes.withUnsafeBytes { if $0.count > 0 { (p + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    return try body(p + offset)
}

/// An arena of `count` bytes starting `offset` bytes past a 16-byte boundary, filled with `fill`.
func arena<R>(_ count: Int, offset: Int = 0, fill: UInt8 = 0xA5, _ body: (UnsafeMutableRawPointer) throws -> R)
    rethrows -> R
{
    try aligned([UInt8](repeating: fill, count: count), offset: offset, body)
}

/// The first test image of the fixture as uint8 HWC (28×28×1: HWC equals CHW for one channel).
func firstTestImage() throws -> [UInt8] {
    let batch = try loadImages(repoRoot + "/fixtures/fmnist/test_images.npy", channels: 1)
    guard case .uint8(let p) = batch.pixels else { throw CocoaError(.fileReadCorruptFile) }
    return Array(p[0..<(28 * 28)])
}

/// The arena bytes the C API needs for `model` with the library's set (`dynq_arena_bytes`, planning in a
/// scratch buffer of the size the header promises is always enough: the arena size itself).
func libraryArenaBytes(_ m: UnsafeRawPointer, _ size: Int) -> Int {
    var need = 0
    #expect(arenaBytes(m, size, &need, nil) == DYNQ_OK)
    return need
}

/// `dynq_arena_bytes` with 1 MiB of work memory (more than any test model needs), 3 bytes past a 16-byte
/// boundary (work may have any alignment).
func arenaBytes(_ m: UnsafeRawPointer?, _ size: Int, _ need: UnsafeMutablePointer<Int>?,
                _ d: UnsafeMutablePointer<dynq_diagnostic>?) -> dynq_status {
    let work = UnsafeMutableRawPointer.allocate(byteCount: (1 << 20) + 3, alignment: 16)
    defer { work.deallocate() }
    return dynq_arena_bytes(m, size, work + 3, 1 << 20, need, d)
}

/// Runs `input` through the C API's session with kernel set `K` (the library's set through the C functions
/// themselves, another set through the same Swift session the C functions call); returns the logits.
func cLogits<K: StatelessKernelSet>(_ model: [UInt8], _ input: [UInt8], _: K.Type) throws -> [Int8] {
    try aligned(model) { m in
        let plan = try withAlignedModel(model) { ArenaPlan(model: $0, kernels: K.self) }
        let need = ArenaLayout.reservedBytes + plan.arenaBytes
        // The session's sizing (what dynq_arena_bytes runs) agrees with the host planner, for every set.
        try arena(need) { w in
            let n = try FirmwareSession.arenaBytes(m, model.count, work: .init(start: w, count: need), K.self)
            #expect(n == need, "\(K.name)")
        }
        if K.self == LibraryKernels.self { #expect(libraryArenaBytes(m, model.count) == need) }
        return try arena(need) { a in
            if K.self == LibraryKernels.self {
                var h: OpaquePointer?
                let s = dynq_create(m, model.count, a, need, &h, nil)
                guard s == DYNQ_OK, let h else { throw Failure(s, detail: "create failed") }
                defer { dynq_destroy(h) }
                #expect(input.withUnsafeBytes { dynq_set_input(h, $0.baseAddress, $0.count) } == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                var out: UnsafePointer<Int8>?
                var n = 0
                #expect(dynq_output(h, 0, &out, &n) == DYNQ_OK)
                return Array(UnsafeBufferPointer(start: out, count: n))
            }
            let h = OpaquePointer(try FirmwareSession.create(m, model.count, a, need, kernels: K()))
            defer { FirmwareSession.destroy(h, K.self) }
            let i = try FirmwareSession.instance(h, K.self)
            try i.pointee.interpreter.setInput(input)
            FirmwareSession.invoke(i)
            return Array(i.pointee.interpreter.output(0))
        }
    }
}

func withAlignedModel<R>(_ bytes: [UInt8], _ body: (Model) throws -> R) throws -> R {
    try aligned(bytes) { p in
        let m = try Model(bytes: UnsafeRawBufferPointer(start: p, count: bytes.count))
        return try body(m)
    }
}

/// The Swift interpreter's logits for `input` with kernel set `K`, for comparison.
func swiftLogits<K: StatelessKernelSet>(_ model: [UInt8], _ input: [UInt8], _: K.Type) throws -> [Int8] {
    try withAlignedModel(model) { m in
        let need = ArenaPlan(model: m, kernels: K.self).arenaBytes
        return try arena(need) { a in
            let i = try Interpreter<K>(model: m, arena: UnsafeMutableRawBufferPointer(start: a, count: need))
            try i.setInput(input)
            i.invoke()
            return Array(i.output(0))
        }
    }
}

@Suite("C API (include/dynq.h)")
struct CAPITests {
    @Test("the fixture's first test image gives the host oracle interpreter's logits, with every host kernel set")
    func firstImageLogits() throws {
        let model = try fixtureBytes()
        let image = try firstTestImage()
        // Not pinned: the fixture may be re-quantized; the law is the oracle set run by the core's interpreter.
        let expected = try swiftLogits(model, image, OracleKernels.self)
        #expect(expected.count == 20 && Set(expected).count > 1, "\(expected)")   // the bytes of 10 int16 logits
        #expect(try cLogits(model, image, ScalarKernels<NoTally>.self) == expected)
        #expect(try cLogits(model, image, SIMD128Kernels.self) == expected)
        #expect(try cLogits(model, image, OracleKernels.self) == expected)
    }

    @Test("logits equal the oracle interpreter's for random inputs, with the scalar and SIMD128 sets")
    func randomInputsMatchInterpreter() throws {
        let model = try fixtureBytes()
        var rng = SplitMix64(seed: 0xF1_4A3E)
        for _ in 0..<3 {
            let input = (0..<784).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let law = try swiftLogits(model, input, OracleKernels.self)
            #expect(try cLogits(model, input, ScalarKernels<NoTally>.self) == law)
            #expect(try cLogits(model, input, SIMD128Kernels.self) == law)
        }
    }

    @Test("dynq_arena_bytes is exactly enough: one byte less is DYNQ_E_ARENA_TOO_SMALL with the bytes needed")
    func arenaExactlyEnough() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            var d = dynq_diagnostic()
            #expect(arenaBytes(m, model.count, &need, &d) == DYNQ_OK)
            #expect(d.status == DYNQ_OK && d.index == -1 && d.has_value == 0)
            let plan = try withAlignedModel(model) { ArenaPlan(model: $0, kernels: LibraryKernels.self) }
            #expect(need == ArenaLayout.reservedBytes + plan.arenaBytes)
            #expect(need == (try withAlignedModel(model) { FirmwareKernelSet.scalar.arenaBytes($0) }))
            try arena(need - 1) { a in
                var h: OpaquePointer? = OpaquePointer(bitPattern: 0x10)
                #expect(dynq_create(m, model.count, a, need - 1, &h, &d) == DYNQ_E_ARENA_TOO_SMALL)
                #expect(h == nil)
                #expect(d.status == DYNQ_E_ARENA_TOO_SMALL && d.location == DYNQ_AT_ARENA)
                #expect(d.has_value == 1 && d.value == Int64(need))
            }
            try arena(need) { a in
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, need, &h, &d) == DYNQ_OK)
                #expect(h == OpaquePointer(a))
                dynq_destroy(h)
            }
        }
    }

    @Test("dynq_arena_bytes plans in the caller's work memory: NULL or one byte short is refused with the bytes needed")
    func workMemory() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0, expected = 0
            var d = dynq_diagnostic()
            #expect(arenaBytes(m, model.count, &expected, nil) == DYNQ_OK)
            #expect(dynq_arena_bytes(m, model.count, nil, 0, &need, &d) == DYNQ_E_ARENA_TOO_SMALL)
            #expect(need == 0 && d.location == DYNQ_AT_ARENA && d.has_value == 1)
            let work = Int(d.value)
            let file = try withAlignedModel(model) { $0.file }
            #expect(work == ArenaLayout.workBytes(file, LibraryKernels.self))
            #expect(work < expected, "the arena itself is always enough work memory")
            // Any alignment: the work bytes include 15 bytes of slack.
            for offset in [0, 1, 7, 15] {
                try arena(work + 16, offset: offset) { w in
                    need = 0
                    #expect(dynq_arena_bytes(m, model.count, w, work - 1, &need, &d) == DYNQ_E_ARENA_TOO_SMALL)
                    #expect(need == 0 && d.value == Int64(work))
                    #expect(dynq_arena_bytes(m, model.count, w, work, &need, &d) == DYNQ_OK)
                    #expect(need == expected, "work at offset \(offset)")
                }
            }
            // The arena itself as the work memory (what the examples do), then created in it.
            try arena(expected) { a in
                need = 0
                #expect(dynq_arena_bytes(m, model.count, a, expected, &need, nil) == DYNQ_OK && need == expected)
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, expected, &h, nil) == DYNQ_OK)
                dynq_destroy(h)
            }
        }
    }

    @Test("an arena too small even to plan in is refused with a lower bound of the bytes needed, never a trap")
    func arenaTooSmallToPlan() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            for size in [0, 16, ArenaLayout.reservedBytes - 1, ArenaLayout.reservedBytes, ArenaLayout.reservedBytes + 64,
                         need / 2] {
                try arena(max(size, 1)) { a in
                    var h: OpaquePointer?
                    var d = dynq_diagnostic()
                    #expect(dynq_create(m, model.count, a, size, &h, &d) == DYNQ_E_ARENA_TOO_SMALL, "\(size)")
                    #expect(h == nil && d.has_value == 1 && d.value > Int64(size) && d.value <= Int64(need), "\(size)")
                }
            }
        }
    }

    /// `MemoryLayout` of the C API's record with a kernel set.
    struct InstanceLayout: KernelSetUser {
        func use<K: StatelessKernelSet>(_: K.Type) -> (size: Int, alignment: Int) {
            (MemoryLayout<Instance<K>>.size, MemoryLayout<Instance<K>>.alignment)
        }
    }

    @Test("the interpreter record fits the bytes reserved for it with every host kernel set (the 64-bit host has the largest layout)")
    func instanceFitsReserve() throws {
        #expect(KernelSetChoice.allCases.count >= 3)
        for choice in KernelSetChoice.allCases {
            let layout = try choice.with(InstanceLayout())
            #expect(layout.size <= ArenaLayout.reservedBytes - ArenaLayout.tagBytes, "\(choice)")
            #expect(layout.alignment <= ArenaLayout.tagBytes, "\(choice)")
        }
        #expect(ArenaLayout.reservedBytes % ArenaLayout.alignment == 0)
    }

    @Test("misaligned model bytes and arenas are refused with their own codes")
    func misalignment() throws {
        let model = try fixtureBytes()
        var need = 0
        try aligned(model, offset: 4) { m in
            var d = dynq_diagnostic()
            #expect(arenaBytes(m, model.count, &need, &d) == DYNQ_E_MODEL_MISALIGNED)
            #expect(d.location == DYNQ_AT_FILE && d.value == 4)
        }
        try aligned(model) { m in
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need + 16, offset: 8) { a in
                var h: OpaquePointer?
                var d = dynq_diagnostic()
                #expect(dynq_create(m, model.count, a, need + 8, &h, &d) == DYNQ_E_ARENA_MISALIGNED)
                #expect(h == nil && d.value == 8)
            }
        }
    }

    @Test("corrupt model bytes give bad magic, truncated, unsupported version, bad checksum and invalid model")
    func corruptModels() throws {
        let good = try fixtureBytes()
        func status(_ bytes: [UInt8], size: Int? = nil) -> (dynq_status, dynq_diagnostic) {
            aligned(bytes, slack: 0) { m in
                var need = 0
                var d = dynq_diagnostic()
                let s = arenaBytes(m, size ?? bytes.count, &need, &d)
                #expect(d.status == s)
                #expect(d.detail != nil && strlen(d.detail) > 0 || s == DYNQ_OK)
                return (s, d)
            }
        }
        func withCRC(_ b: [UInt8]) -> [UInt8] {
            var b = b
            let crc = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[ModelFormat.checksumStart...])) }
            withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { b[20 + k] = $0[k] } }
            return b
        }
        #expect(status(good).0 == DYNQ_OK)
        var magic = good; magic[1] = 0x45
        #expect(status(magic).0 == DYNQ_E_BAD_MAGIC)
        #expect(status(good, size: 79).0 == DYNQ_E_TRUNCATED)
        #expect(status(good, size: good.count - 1).0 == DYNQ_E_TRUNCATED)
        var version = good; version[8] = 2
        let (vs, vd) = status(version)
        #expect(vs == DYNQ_E_UNSUPPORTED_VERSION && vd.has_value == 1 && vd.value == 2)
        var body = good; body[good.count - 1] ^= 0x40
        #expect(status(body).0 == DYNQ_E_BAD_CHECKSUM)
        // Op 0's code (u16 at the op section's offset, header field 52) set to 999, CRC fixed: an invalid model,
        // located at op 0.
        var op = good
        let opsOffset = Int(good.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 52, as: UInt32.self) })
        op[opsOffset] = 0xE7; op[opsOffset + 1] = 0x03
        let (os, od) = status(withCRC(op))
        #expect(os == DYNQ_E_INVALID_MODEL)
        #expect(od.location == DYNQ_AT_OP && od.index == 0 && od.value == 999)
        #expect(String(cString: od.detail) == "unknown op code")
        // A trailing pad (a flash partition larger than the model) is fine.
        #expect(status(good + [UInt8](repeating: 0xFF, count: 13)).0 == DYNQ_OK)
    }

    @Test("NULL pointers give DYNQ_E_NULL_ARGUMENT from every function, never a crash")
    func nullArguments() throws {
        let model = try fixtureBytes()
        var need = 0
        #expect(arenaBytes(nil, 100, &need, nil) == DYNQ_E_NULL_ARGUMENT)
        try aligned(model) { m in
            #expect(dynq_arena_bytes(m, model.count, nil, 0, nil, nil) == DYNQ_E_NULL_ARGUMENT)
            #expect(dynq_arena_bytes(m, model.count, nil, 64, &need, nil) == DYNQ_E_NULL_ARGUMENT)
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, nil, need, &h, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_create(nil, model.count, a, need, &h, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_create(m, model.count, a, need, nil, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                var u: UInt32 = 0
                var info = dynq_tensor_info()
                #expect(dynq_input(h, nil, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_set_input(h, nil, 784) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_input_info(h, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_output(h, 0, nil, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_output_info(h, 0, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_op_count(h, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_output_count(h, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_invoke(nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_input_info(nil, &info) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_output_count(nil, &u) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_set_op_callback(nil, nil, nil) == DYNQ_E_NULL_ARGUMENT)
                #expect(dynq_op_type(nil, 0) == nil)
                dynq_destroy(nil)
                dynq_destroy(h)
            }
        }
    }

    @Test("a destroyed interpreter or an arena that never held one is DYNQ_E_BAD_HANDLE; the arena can be reused")
    func badHandles() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                #expect(dynq_invoke(OpaquePointer(a)) == DYNQ_E_BAD_HANDLE)
                #expect(dynq_invoke(OpaquePointer(a + 4)) == DYNQ_E_BAD_HANDLE)
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                dynq_destroy(h)
                #expect(dynq_invoke(h) == DYNQ_E_BAD_HANDLE)
                dynq_destroy(h)   // twice: ignored
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                dynq_destroy(h)
            }
        }
    }

    @Test("inputs of the wrong size and indices past the end are refused")
    func badSizesAndIndices() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                defer { dynq_destroy(h) }
                let pixels = [UInt8](repeating: 7, count: 785)
                #expect(pixels.withUnsafeBytes { dynq_set_input(h, $0.baseAddress, 783) } == DYNQ_E_BAD_INPUT_SIZE)
                #expect(pixels.withUnsafeBytes { dynq_set_input(h, $0.baseAddress, 785) } == DYNQ_E_BAD_INPUT_SIZE)
                #expect(pixels.withUnsafeBytes { dynq_set_input(h, $0.baseAddress, 784) } == DYNQ_OK)
                var out: UnsafePointer<Int8>?
                var info = dynq_tensor_info()
                var ops: UInt32 = 0, outputs: UInt32 = 0
                #expect(dynq_output_count(h, &outputs) == DYNQ_OK && outputs == 1)
                #expect(dynq_output(h, 1, &out, nil) == DYNQ_E_BAD_INDEX)
                #expect(dynq_output_info(h, 1, &info) == DYNQ_E_BAD_INDEX)
                #expect(dynq_op_count(h, &ops) == DYNQ_OK && ops == 35)
                #expect(dynq_op_type(h, ops) == nil)
                #expect(String(cString: dynq_op_type(h, 0)!) == "input_table")
            }
        }
    }

    @Test("input and output info: shapes, types, sizes and the integer scales")
    func tensorInfo() throws {
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                defer { dynq_destroy(h) }
                var i = dynq_tensor_info(), o = dynq_tensor_info()
                #expect(dynq_input_info(h, &i) == DYNQ_OK)
                #expect(i.type == DYNQ_TYPE_UINT8 && i.rank == 4 && i.bytes == 784)
                #expect(i.dims.0 == 1 && i.dims.1 == 28 && i.dims.2 == 28 && i.dims.3 == 1)
                #expect(i.scale_bits == 0x3F80_0000 && i.scale_q31 == 1 << 30 && i.scale_exponent == 1)
                #expect(dynq_output_info(h, 0, &o) == DYNQ_OK)
                #expect(o.type == DYNQ_TYPE_INT16 && o.rank == 2 && o.bytes == 20)   // wide logits
                #expect(o.dims.0 == 1 && o.dims.1 == 10 && o.dims.2 == 0 && o.dims.3 == 0)
                let real = Double(Float(bitPattern: o.scale_bits))
                #expect(Double(o.scale_q31) * pow(2, Double(o.scale_exponent - 31)) == real)
                var p: UnsafeMutablePointer<UInt8>?
                var n = 0
                #expect(dynq_input(h, &p, &n) == DYNQ_OK && n == 784 && p != nil)
            }
        }
    }

    @Test("wide logits: dynq_output_i16 and dynq_output_argmax read the fixture's int16 output; an int8 output is DYNQ_E_OUTPUT_TYPE")
    func wideLogits() throws {
        func withInterpreter(_ model: [UInt8], _ body: (OpaquePointer) throws -> Void) throws {
            try aligned(model) { m in
                var need = 0
                #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
                try arena(need) { a in
                    var h: OpaquePointer?
                    #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                    defer { dynq_destroy(h) }
                    try body(try #require(h))
                }
            }
        }
        let image = try firstTestImage()
        try withInterpreter(try fixtureBytes()) { h in
            #expect(image.withUnsafeBytes { dynq_set_input(h, $0.baseAddress, $0.count) } == DYNQ_OK)
            #expect(dynq_invoke(h) == DYNQ_OK)
            var info = dynq_tensor_info()
            #expect(dynq_output_info(h, 0, &info) == DYNQ_OK)
            #expect(info.type == DYNQ_TYPE_INT16 && info.bytes == 20 && info.zero_point == 0)
            var p: UnsafePointer<Int16>?
            var n = 0
            #expect(dynq_output_i16(h, 0, &p, &n) == DYNQ_OK && n == 10)
            let values = Array(UnsafeBufferPointer(start: p, count: n))
            // The same values as the output's bytes read little-endian, and the class is their first maximum.
            var bytes: UnsafePointer<Int8>?
            var size = 0
            #expect(dynq_output(h, 0, &bytes, &size) == DYNQ_OK && size == 20)
            let raw = UnsafeRawBufferPointer(start: bytes, count: size)
            #expect(values == (0..<10).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self) })
            var top: UInt32 = 99
            #expect(dynq_output_argmax(h, 0, &top) == DYNQ_OK)
            #expect(Int(top) == values.firstIndex(of: values.max()!)!)
            #expect(dynq_output_i16(h, 1, &p, &n) == DYNQ_E_BAD_INDEX)
            #expect(dynq_output_i16(h, 0, nil, &n) == DYNQ_E_NULL_ARGUMENT)
            #expect(dynq_output_argmax(h, 0, nil) == DYNQ_E_NULL_ARGUMENT)
            #expect(dynq_output_argmax(h, 1, &top) == DYNQ_E_BAD_INDEX)
        }
        // An int8 output (an op fixture of the fuzz corpus): dynq_output_i16 refuses it, argmax still reads it.
        let int8Model = try FileIO.read(repoRoot + "/fuzz/corpus/dynq/linear.dynq")
        try withInterpreter(int8Model) { h in
            var info = dynq_tensor_info()
            #expect(dynq_output_info(h, 0, &info) == DYNQ_OK && info.type == DYNQ_TYPE_INT8)
            var input: UnsafeMutablePointer<UInt8>?
            var n = 0
            #expect(dynq_input(h, &input, &n) == DYNQ_OK)
            for k in 0..<n { input![k] = UInt8(truncatingIfNeeded: 37 &* k &+ 11) }
            #expect(dynq_invoke(h) == DYNQ_OK)
            var p: UnsafePointer<Int16>?
            #expect(dynq_output_i16(h, 0, &p, nil) == DYNQ_E_OUTPUT_TYPE)
            var bytes: UnsafePointer<Int8>?
            var size = 0
            #expect(dynq_output(h, 0, &bytes, &size) == DYNQ_OK)
            let values = Array(UnsafeBufferPointer(start: bytes, count: size))
            var top: UInt32 = 99
            #expect(dynq_output_argmax(h, 0, &top) == DYNQ_OK)
            #expect(Int(top) == values.firstIndex(of: values.max()!)!)
        }
    }

    @Test("the per-op callback sees every op begin and end, in order, on every invoke")
    func opCallback() throws {
        final class Log { var events: [(UInt32, Int32)] = [] }
        let model = try fixtureBytes()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                var h: OpaquePointer?
                #expect(dynq_create(m, model.count, a, need, &h, nil) == DYNQ_OK)
                defer { dynq_destroy(h) }
                let log = Log()
                let callback: dynq_op_callback = { ctx, op, phase in
                    Unmanaged<Log>.fromOpaque(ctx!).takeUnretainedValue().events.append((op, phase))
                }
                #expect(dynq_set_op_callback(h, callback, Unmanaged.passUnretained(log).toOpaque()) == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                var expected: [(UInt32, Int32)] = []
                for _ in 0..<2 { for op in UInt32(0)..<35 { expected += [(op, DYNQ_OP_BEGIN), (op, DYNQ_OP_END)] } }
                #expect(log.events.count == expected.count)
                #expect(zip(log.events, expected).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
                #expect(dynq_set_op_callback(h, nil, nil) == DYNQ_OK)
                #expect(dynq_invoke(h) == DYNQ_OK)
                #expect(log.events.count == expected.count)
            }
        }
    }

    @Test("every status has its own non-empty static text; unknown codes have one too")
    func statusStrings() {
        var seen: Set<String> = []
        for s in Status.all {
            let p = dynq_status_string(s)!
            let text = String(cString: p)
            #expect(!text.isEmpty && !seen.contains(text), "\(s): \(text)")
            seen.insert(text)
        }
        #expect(Status.all.count == 14 && Status.all == Array(0...13).map(Int32.init))
        #expect(String(cString: dynq_status_string(99)) == "unknown dynq status")
        #expect(String(cString: dynq_status_string(-1)) == "unknown dynq status")
        #expect(String(cString: dynq_kernel_set()) == "scalar")
    }
}

@Suite("FixedPointScale")
struct FixedPointScaleTests {
    @Test("q31 · 2^(exponent − 31) equals the binary32 scale exactly, q31 in [2^30, 2^31), for normals and subnormals")
    func exact() {
        var rng = SplitMix64(seed: 0x5CA1E)
        var patterns: [UInt32] = [1, 0x7F_FFFF, 0x80_0000, 0x3F80_0000, 0x3800_0000, 0x7F7F_FFFF, 0x3C00_0000]
        for _ in 0..<20_000 { patterns.append(UInt32(truncatingIfNeeded: rng.next()) & 0x7FFF_FFFF) }
        for bits in patterns where (bits >> 23) != 0xFF && bits != 0 {
            let s = FixedPointScale(binary32: bits)
            #expect(s.q31 >= 1 << 30, "\(bits)")
            // Double holds the 31-bit q31 exactly, and a power-of-two factor keeps it exact.
            #expect(Double(s.q31) * pow(2, Double(s.exponent - 31)) == Double(Float(bitPattern: bits)), "\(bits)")
            #expect(s.exponent >= -148 && s.exponent <= 128, "\(bits)")
        }
    }

    @Test("zero, negative, infinite and NaN scales give (0, 0)")
    func invalid() {
        for bits: UInt32 in [0, 0x8000_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x8000_0001] {
            #expect(FixedPointScale(binary32: bits) == FixedPointScale(q31: 0, exponent: 0), "\(bits)")
        }
    }
}
