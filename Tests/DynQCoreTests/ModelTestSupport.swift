// Small hand-built int8 models for the model-format and runtime tests.
@testable import DynQCore

typealias MD = ModelDescription

/// Test data from DynQCore's `SplitMix64` (seeded, printed, platform-independent).
extension SplitMix64 {
    mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }
    mutating func int8s(_ n: Int, _ lo: Int = -127, _ hi: Int = 127) -> [Int8] { (0..<n).map { _ in Int8(int(lo, hi)) } }
}

/// Appends blobs and tensors with readable helpers.
struct ModelBuilder {
    var tensors: [MD.Tensor] = []
    var blobs: [MD.Blob] = []
    var ops: [MD.Operation] = []

    /// 1/64 as a float bit pattern: an arbitrary but exact scale for tests.
    static let scale: UInt32 = 0x3C80_0000

    mutating func tensor(_ name: String, _ shape: [Int], zp: Int = 0, type: ElementType = .int8,
                         scale: UInt32 = ModelBuilder.scale) -> TensorID {
        tensors.append(MD.Tensor(name: name, type: type, shape: shape, scaleBits: scale, zeroPoint: zp))
        return TensorID(tensors.count - 1)
    }
    mutating func blob(_ b: MD.Blob) -> BlobID { blobs.append(b); return BlobID(blobs.count - 1) }
    mutating func int8(_ name: String, _ v: [Int8], _ shape: [Int]) -> BlobID { blob(MD.Blob(name: name, int8: v, shape: shape)) }
    mutating func int32(_ name: String, _ v: [Int32], _ shape: [Int]) -> BlobID { blob(MD.Blob(name: name, int32: v, shape: shape)) }
    mutating func int16(_ name: String, _ v: [Int16], _ shape: [Int]) -> BlobID { blob(MD.Blob(name: name, int16: v, shape: shape)) }
    mutating func multipliers(_ name: String, _ v: [(Int32, Int32)]) -> BlobID {
        blob(MD.Blob(name: name, multipliers: v.map { QuantizedMultiplier(multiplier: $0.0, shift: $0.1) }))
    }
    mutating func op(_ name: String, _ op: MD.Op) { ops.append(MD.Operation(name: name, op: op)) }

    func build(name: String = "test", input: TensorID = 0, outputs: [TensorID], classes: [String] = [])
        -> ModelDescription {
        ModelDescription(name: name, tensors: tensors, blobs: blobs, operations: ops, input: input, outputs: outputs,
                         classNames: classes)
    }
}

/// `(q − 128)` for every channel: the identity-ish input table (pixel p → int8 p − 128).
func shiftTable(channels: Int) -> [Int8] {
    (0..<channels).flatMap { _ in (0..<256).map { Int8($0 - 128) } }
}

enum TestModels {
    /// A model that uses every op kind (with random but valid parameters), for format round trips and
    /// planner / interpreter smoke tests.
    /// `correctsFusedDC`: both dynamic convs carry the fused DC correction's flag.
    static func allOps(seed: UInt64 = 0xD1_5EED, correctsFusedDC: Bool = false) -> ModelDescription {
        var r = SplitMix64(seed: seed)
        var b = ModelBuilder()
        func mults(_ n: Int) -> [(Int32, Int32)] {
            (0..<n).map { _ in (Int32(r.int(1 << 30, (1 << 31) - 1)), Int32(r.int(-12, -6))) }
        }
        let image = b.tensor("image", [1, 4, 4, 2], type: .uint8, scale: 0x3F80_0000)
        let x = b.tensor("x", [1, 4, 4, 2], zp: -3)
        let conv = b.tensor("conv", [1, 4, 4, 4], zp: 1)
        let dw = b.tensor("dw", [1, 4, 4, 4])
        let pool = b.tensor("pool", [1, 1, 1, 4], zp: 2)
        let pooledFlat = b.tensor("pool_flat", [1, 4], zp: 2)
        let fc1 = b.tensor("fc1", [1, 3], zp: -128)
        let fc2 = b.tensor("fc2", [1, 8], zp: 5)
        let coeffs = b.tensor("coeffs", [1, 8], type: .int16, scale: 0x3800_0000)
        let dyn = b.tensor("dyn", [1, 4, 4, 4], zp: -2)
        let sum = b.tensor("sum", [1, 4, 4, 4], zp: 3)
        let cat = b.tensor("cat", [1, 4, 4, 8], zp: 3)
        let shuf = b.tensor("shuf", [1, 4, 4, 8], zp: 3)
        let splitA = b.tensor("split_a", [1, 4, 4, 3], zp: 3)
        let splitB = b.tensor("split_b", [1, 4, 4, 5], zp: 3)
        let mp = b.tensor("mp", [1, 2, 2, 3], zp: 3)
        let ap = b.tensor("ap", [1, 2, 2, 5], zp: 3)
        let hs = b.tensor("hs", [1, 2, 2, 5], zp: -7)
        let flat = b.tensor("flat", [1, 20], zp: -7)
        let logits = b.tensor("logits", [1, 6], zp: 4)
        let probs = b.tensor("probs", [1, 6], zp: -128, scale: 0x3B80_0000)
        let fc2b = b.tensor("fc2b", [1, 4], zp: 0)
        let coeffs2 = b.tensor("coeffs2", [1, 4], type: .int16, scale: 0x3800_0000)
        let dyn2 = b.tensor("dyn2", [1, 2, 2, 3], zp: 0)

        let inTable = b.int8("input.table", shiftTable(channels: 2), [2, 256])
        b.op("input", .inputTable(.init(input: image, output: x, table: inTable)))
        let cw = b.int8("conv.w", r.int8s(4 * 9 * 2), [4, 3, 3, 2])
        let cb = b.int32("conv.b", [100, -200, 0, 5], [4])
        let cm = b.multipliers("conv.m", mults(4))
        b.op("conv", .conv2d(.init(input: x, output: conv, weights: cw, bias: cb, multipliers: cm,
                                   window: .init(kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
                                   clamp: .init(min: 1, max: 127))))
        let dww = b.int8("dw.w", r.int8s(9 * 4), [3, 3, 4])
        let dwm = b.multipliers("dw.m", mults(4))
        b.op("dw", .depthwiseConv2d(.init(input: conv, output: dw, weights: dww, bias: nil, multipliers: dwm,
                                          window: .init(kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1,
                                                        padRight: 1), groups: 4)))
        b.op("cpm.pool", .globalAvgPool(.init(input: conv, output: pool, requant: .init(multiplier: 1 << 30, shift: -3))))
        b.op("cpm.flatten", .flatten(.init(input: pool, output: pooledFlat)))
        let f1w = b.int8("cpm.fc1.w", r.int8s(12), [3, 4])
        let f1m = b.multipliers("cpm.fc1.m", mults(3))
        b.op("cpm.fc1", .linear(.init(input: pooledFlat, output: fc1, weights: f1w, bias: nil, multipliers: f1m,
                                      clamp: .init(min: -128, max: 127))))
        let f2w = b.int8("cpm.fc2.w", r.int8s(24), [8, 3])
        let f2b = b.int32("cpm.fc2.b", (0..<8).map { Int32($0 * 10 - 40) }, [8])
        let f2m = b.multipliers("cpm.fc2.m", mults(8))
        b.op("cpm.fc2", .linear(.init(input: fc1, output: fc2, weights: f2w, bias: f2b, multipliers: f2m)))
        let sig = b.int16("cpm.sigmoid", (0..<256).map { Int16(min(32767, $0 * 128)) }, [256])
        b.op("cpm.gate", .gate(.init(input: fc2, output: coeffs, kind: .sigmoid, table: sig, group: 8)))
        let dynW = b.int8("dyn.w", r.int8s(2 * 4 * 9 * 4), [2, 4, 3, 3, 4])
        let dynMB = b.int32("dyn.mixed_bias", (0..<8).map { Int32($0 * 1000 - 3000) }, [2, 4])
        let dynB = b.int32("dyn.bias", [7, 0, -7, 70], [4])
        let dynM = b.multipliers("dyn.m0", mults(4))
        b.op("dyn", .dynamicConv2d(.init(input: conv, coefficients: coeffs, coefficientOffset: 0, mode: .perChannel,
                                         kernelCount: 2, output: dyn, weights: dynW, mixedBias: dynMB, bias: dynB,
                                         multipliers: dynM,
                                         window: .init(kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1,
                                                       padRight: 1), correctsFusedDC: correctsFusedDC)))
        b.op("add", .add(.init(a: dw, b: dyn, output: sum, aRequant: .init(multiplier: 1 << 30, shift: 0),
                               bRequant: .init(multiplier: 1_500_000_000, shift: -1),
                               outputRequant: .init(multiplier: 1 << 30, shift: -19))))
        b.op("cat", .concat(.init(inputs: [sum, conv], requants: [.identity, .init(multiplier: 1_200_000_000, shift: 0)],
                                  output: cat)))
        b.op("shuffle", .channelShuffle(.init(input: cat, output: shuf, groups: 2)))
        b.op("split", .channelSplit(.init(input: shuf, outputs: [splitA, splitB])))
        b.op("maxpool", .maxPool(.init(input: splitA, output: mp, window: .init(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2))))
        b.op("avgpool", .avgPool(.init(input: splitB, output: ap,
                                       window: .init(kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1,
                                                     padLeft: 1, padBottom: 1, padRight: 1),
                                       countIncludePad: false)))
        let hsT = b.int8("hardswish.table", (0..<256).map { Int8(max(-128, min(127, ($0 - 128) / 2 - 7))) }, [256])
        b.op("hardswish", .table(.init(input: ap, output: hs, table: hsT)))
        b.op("flatten", .flatten(.init(input: hs, output: flat)))
        let hw = b.int8("head.w", r.int8s(120), [6, 20])
        let hb = b.int32("head.b", (0..<6).map { Int32($0 - 3) }, [6])
        let hm = b.multipliers("head.m", mults(6))
        b.op("head", .linear(.init(input: flat, output: logits, weights: hw, bias: hb, multipliers: hm)))
        let expT = b.int32("softmax.exp", (0..<256).map { Int32(65536 >> min($0 / 8, 16)) }, [256])
        b.op("softmax", .softmax(.init(input: logits, output: probs, expTable: expT)))
        let f2bw = b.int8("cpm2.fc.w", r.int8s(12), [4, 3])
        let f2bm = b.multipliers("cpm2.fc.m", mults(4))
        b.op("cpm2.fc", .linear(.init(input: fc1, output: fc2b, weights: f2bw, bias: nil, multipliers: f2bm)))
        let gateExp = b.int32("cpm2.exp", (0..<256).map { Int32(65536 >> min($0 / 16, 16)) }, [256])
        b.op("cpm2.gate", .gate(.init(input: fc2b, output: coeffs2, kind: .softmax, table: gateExp, group: 2)))
        let d2w = b.int8("dyn2.w", r.int8s(2 * 9 * 3), [2, 3, 3, 3])
        let d2m = b.multipliers("dyn2.m0", mults(3))
        b.op("dyn2", .dynamicConv2d(.init(input: mp, coefficients: coeffs2, coefficientOffset: 2, mode: .perLayer,
                                          kernelCount: 2, output: dyn2, weights: d2w, depthwise: true, mixedBias: nil,
                                          bias: nil, multipliers: d2m,
                                          window: .init(kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1,
                                                        padRight: 1), groups: 3, correctsFusedDC: correctsFusedDC)))
        var m = b.build(name: "all-ops", input: image, outputs: [logits, probs, dyn2],
                        classes: ["a", "b", "c", "d", "e", "f"])
        m.preprocess = MD.Preprocess(scaleBits: 0x3B80_8081, meanBits: [0x3E92_6E98, 0x3E80_0000],
                                     stdBits: [0x3EB4_BC6A])
        return m
    }
}

/// `bytes` copied into a 16-byte aligned buffer (what `Model(bytes:)` requires), for the closure's duration.
func withAligned<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
    defer { p.deallocate() }
    bytes.withUnsafeBytes { src in if src.count > 0 { p.copyMemory(from: src) } }
    return try body(UnsafeRawBufferPointer(rebasing: p[0..<bytes.count]))
}

/// Loads `bytes` and returns the error, or nil if it loads.
func loadError(_ bytes: [UInt8]) -> ModelError? {
    withAligned(bytes) { (raw) -> ModelError? in
        do throws(ModelError) { _ = try Model(bytes: raw); return nil } catch { return error }
    }
}

/// A serialized description loaded into its own aligned buffer (kept alive with the object).
final class AlignedModel {
    let buffer: UnsafeMutableRawBufferPointer
    let model: Model
    var file: ModelFile { model.file }
    init(_ bytes: [UInt8]) throws {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { src in if src.count > 0 { b.copyMemory(from: src) } }
        buffer = b
        do { model = try Model(bytes: UnsafeRawBufferPointer(rebasing: b[0..<bytes.count])) } catch {
            b.deallocate(); throw error
        }
    }
    deinit { buffer.deallocate() }
}

/// `d` serialized and loaded (validated).
func withAlignedFile(_ d: ModelDescription) throws -> AlignedModel { try AlignedModel(d.serialized()) }
