// The interpreter on small hand-built models; every expected integer is computed by hand from
// docs/numerics.md (the arithmetic is spelled out next to each case).
import Testing
@testable import DynQCore

/// Runs `d` on `pixels` (uint8 HWC) with kernel set `kernels` and returns every output as [Int] (int16 outputs
/// widened too); `check` sees the interpreter after the run (the scalar one, whose fused kernel is plain int8:
/// the run then uses that set).
func run(_ d: ModelDescription, _ pixels: [UInt8], keepAll: Bool = false, kernels: KernelSetChoice = .simd128,
         check: ((Interpreter<ScalarKernels<NoTally>>) -> Void)? = nil) throws -> [[Int]] {
    struct Runner: KernelSetUser {
        let model: Model, pixels: [UInt8], keepAll: Bool
        let check: ((Interpreter<ScalarKernels<NoTally>>) -> Void)?
        func use<K: StatelessKernelSet>(_ kernels: K.Type) throws -> [[Int]] {
            let plan = ArenaPlan(model: model, kernels: K.self, keepAll: keepAll)
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.arenaBytes + 16, alignment: 16)
            defer { arena.deallocate() }
            let it = try Interpreter<K>(model: model, arena: arena, keepAll: keepAll)
            try it.setInput(pixels)
            it.invoke()
            if let check, let scalar = it as? Interpreter<ScalarKernels<NoTally>> { check(scalar) }
            return model.outputs.map { id in readTensor(it, id) }
        }
    }
    let bytes = try d.serialized()
    return try withAligned(bytes) { raw in
        let model = try Model(bytes: raw)
        return try (check == nil ? kernels : .scalar).with(Runner(model: model, pixels: pixels, keepAll: keepAll,
                                                                     check: check))
    }
}

func readTensor<K: KernelSet>(_ it: Interpreter<K>, _ id: TensorID) -> [Int] {
    let raw = it.tensorBytes(id)
    switch it.model.tensor(id.index).type {
    case .int8: return raw.map { Int(Int8(bitPattern: $0)) }
    case .uint8: return raw.map { Int($0) }
    case .int16: return (0..<(raw.count / 2)).map { Int(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
    case .int32: return (0..<(raw.count / 4)).map { Int(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
    }
}

/// Pixel values for wanted int8 inputs under the shift table (`x = p − 128`).
func pixels(_ x: [Int]) -> [UInt8] { x.map { UInt8($0 + 128) } }

@Suite("Runtime: interpreter")
struct RuntimeInterpreterTests {
    static let mHalf = (Int32(1 << 30), Int32(0))   // M = 0.5

    /// image [1,3,3,1] → x (z = −3) → conv 2×2 (weights 1 2 / 3 4, bias 10, M = 0.5, z_out = 5).
    @Test("conv2d 2×2: acc = 10 + Σ (x + 3)·w, y = ⌊acc/2 + ½⌋ + 5")
    func conv() throws {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 3, 3, 1], type: .uint8)
        let x = b.tensor("x", [1, 3, 3, 1], zp: -3)
        let y = b.tensor("y", [1, 2, 2, 1], zp: 5)
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 1), [1, 256]))))
        b.op("conv", .conv2d(.init(input: x, output: y, weights: b.int8("w", [1, 2, 3, 4], [1, 2, 2, 1]),
                                   bias: b.int32("b", [10], [1]), multipliers: b.multipliers("m", [Self.mHalf]),
                                   window: .init(kernelH: 2, kernelW: 2))))
        // (x − z) = 4 5 6 / 7 8 9 / 10 11 12
        // (0,0): 10 + 4·1 + 5·2 + 7·3 + 8·4 = 77 → 38.5 → 39 → 44;  (0,1): 87 → 44 → 49
        // (1,0): 107 → 54 → 59;  (1,1): 117 → 59 → 64
        for kernels in KernelSetChoice.allCases {
            let out = try run(b.build(outputs: [y]), pixels([1, 2, 3, 4, 5, 6, 7, 8, 9]), kernels: kernels)
            #expect(out[0] == [44, 49, 59, 64])
        }
    }

    /// image [1,1,1,3] → x (z = −2) → flatten → linear 3 → 2 with an int16 output (wide logits, z_out = 0):
    /// w = [[100, −127, 3], [−1, 2, 127]], bias [1000, −7]; M0 = 2^30·2^2/2^31 = 2, M1 = 1.5·2^30·2^−1/2^31 = 0.375.
    @Test("linear with an int16 output: acc = bias + Σ (x − z)·w, y = M·acc rounded once, clamped to the int16 clamp")
    func wideLinear() throws {
        func model(_ clamp: MD.Clamp) -> (ModelDescription, TensorID) {
            var b = ModelBuilder()
            let img = b.tensor("image", [1, 1, 1, 3], type: .uint8)
            let x = b.tensor("x", [1, 1, 1, 3], zp: -2)
            let xf = b.tensor("xf", [1, 3], zp: -2)
            let y = b.tensor("logits", [1, 2], zp: 0, type: .int16)
            b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 3), [3, 256]))))
            b.op("flat", .flatten(.init(input: x, output: xf)))
            b.op("head", .linear(.init(input: xf, output: y, weights: b.int8("w", [100, -127, 3, -1, 2, 127], [2, 3]),
                                       bias: b.int32("b", [1000, -7], [2]),
                                       multipliers: b.multipliers("m", [(1 << 30, 2), (1_610_612_736, -1)]),
                                       clamp: clamp)))
            return (b.build(outputs: [y]), y)
        }
        // x = [127, −127, 2]: (x − z) = [129, −125, 4]: acc0 = 1000 + 12900 + 15875 + 12 = 29787 → ·2 = 59574 → 32767;
        // acc1 = −7 − 129 − 250 + 508 = 122 → ·0.375 = 45.75 → 46
        for kernels in KernelSetChoice.allCases {
            let (wide, _) = model(.init(min: -32768, max: 32767))
            let a = try run(wide, pixels([127, -127, 2]), kernels: kernels)[0]
            #expect(a == [32767, 46])
            let (clamped, _) = model(.init(min: -500, max: 500))
            let b = try run(clamped, pixels([127, -127, 2]), kernels: kernels)[0]
            #expect(b == [500, 46])
            // (x − z) = [−125, 129, −126]: acc0 = 1000 − 12500 − 16383 − 378 = −28261 → −56522 → −32768;
            // acc1 = −7 + 125 + 258 − 16002 = −15626 → −5859.75 → −5860; with clamp [−500, 500]: −500, −500
            let c = try run(wide, pixels([-127, 127, -128]), kernels: kernels)[0]
            #expect(c == [-32768, -5860])
            let d = try run(clamped, pixels([-127, 127, -128]), kernels: kernels)[0]
            #expect(d == [-500, -500])
        }
    }

    /// A DyNet block in miniature: CPM (global avgpool → flatten → linear → sigmoid table) feeding a
    /// per-channel dynamic 1×1 conv with mixed and static bias. Expected values from /docs/numerics.md:
    ///   pool = [28, −4]; h = [23, 38, 17, 33]; η = T[h + 128] = 100·(h + 128) = [15100, 16600, 14500, 16100]
    ///   o = 0: F = [1178000, 1041000], A = 1178000, R = ⌊127·2^32/A⌋ = 463039, q_f = [127, 112],
    ///          B = 48398304, bias = round(B·R/2^32) = 5218, M = M0·2^32/R = (1215772221, −7)
    ///   o = 1: F = [241000, 117600], A = 241000, R = 2263323, q_f = [127, 62], B = −7381072, bias = −3890,
    ///          M = (1389871441, −4)
    static func dyNetBlock() -> (ModelDescription, TensorID, TensorID) {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 2, 2, 2], type: .uint8)
        let x = b.tensor("x", [1, 2, 2, 2], zp: -1)
        let pool = b.tensor("pool", [1, 1, 1, 2], zp: 2)
        let pf = b.tensor("pool_flat", [1, 2], zp: 2)
        let h = b.tensor("h", [1, 4])
        let eta = b.tensor("eta", [1, 4], type: .int16, scale: 0x3800_0000)
        let y = b.tensor("y", [1, 2, 2, 2], zp: -3)
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 2), [2, 256]))))
        b.op("cpm.pool", .globalAvgPool(.init(input: x, output: pool, requant: .init(multiplier: 1 << 30, shift: -1))))
        b.op("cpm.flatten", .flatten(.init(input: pool, output: pf)))
        b.op("cpm.fc", .linear(.init(input: pf, output: h, weights: b.int8("fc.w", [2, 1, -1, 0, 1, -3, 3, 2], [4, 2]),
                                     bias: b.int32("fc.b", [0, 101, -10, 0], [4]),
                                     multipliers: b.multipliers("fc.m", Array(repeating: Self.mHalf, count: 4)))))
        let table = b.int16("sigmoid", (0..<256).map { Int16(min(32767, $0 * 100)) }, [256])
        b.op("cpm.gate", .gate(.init(input: h, output: eta, kind: .sigmoid, table: table, group: 4)))
        // q_w [g][O][K]: t0 = [[100, −30], [−50, 7]], t1 = [[−20, 90], [60, 1]]
        let w = b.int8("dyn.w", [100, -30, -50, 7, -20, 90, 60, 1], [2, 2, 1, 1, 2])
        b.op("dyn", .dynamicConv2d(.init(input: x, coefficients: eta, coefficientOffset: 0, mode: .perChannel,
                                         kernelCount: 2, output: y, weights: w,
                                         mixedBias: b.int32("dyn.mb", [1000, -500, 2000, 0], [2, 2]),
                                         bias: b.int32("dyn.b", [3, -4], [2]),
                                         multipliers: b.multipliers("dyn.m0", [(1 << 30, -20), (1_500_000_000, -15)]),
                                         window: .init(kernelH: 1, kernelW: 1), clamp: .init(min: -100, max: 100))))
        return (b.build(outputs: [y, eta]), eta, y)
    }

    @Test("CPM + sigmoid gate + per-channel dynamic conv match the hand-computed integers")
    func dyNet() throws {
        let (d, _, _) = Self.dyNetBlock()
        // x pixels (HWC): [10, −5], [20, 7], [30, 0], [40, −30]
        let px = pixels([10, -5, 20, 7, 30, 0, 40, -30])
        for kernels in KernelSetChoice.allCases {
            let out = try run(d, px, kernels: kernels)
            #expect(out[1] == [15100, 16600, 14500, 16100])
            // pixel 0, o = 1: acc = −3890 + 11·127 − 4·62 = −2741 → −111 − 3 → clamped to −100
            #expect(out[0] == [24, -100, 36, -32, 38, 1, 29, -22])
        }
    }

    @Test("per-sample fusion buffers hold q_f, bias_acc and M of the last sample")
    func fusionBuffers() throws {
        let (d, _, _) = Self.dyNetBlock()
        _ = try run(d, pixels([10, -5, 20, 7, 30, 0, 40, -30])) { it in
            let op = 5
            let fk = it.planRegion.baseAddress! + it.plan.fusedWeightOffsets[op]
            let kernel = (0..<4).map { Int(fk.load(fromByteOffset: $0, as: Int8.self)) }
            #expect(kernel == [127, 112, 127, 62])
            let fb = it.planRegion.baseAddress! + it.plan.fusedBiasOffsets[op]
            #expect((0..<2).map { fb.load(fromByteOffset: 4 * $0, as: Int32.self) } == [5218, -3890])
            let fm = it.planRegion.baseAddress! + it.plan.fusedMultiplierOffsets[op]
            #expect((0..<2).map { fm.load(fromByteOffset: 8 * $0, as: QuantizedMultiplier.self) }
                    == [QuantizedMultiplier(multiplier: 1_215_772_221, shift: -7),
                        QuantizedMultiplier(multiplier: 1_389_871_441, shift: -4)])
        }
    }

    /// Softmax gate over chunks of 2 and a per-layer dynamic depthwise 2×1 conv reading the second chunk:
    ///   pooled logits = [5, −30, 40, 10]; E[d] = 2^16 >> (d/16)
    ///   chunk 0: d = [0, 35] → E = [65536, 16384] → η = round(2^15·E/ΣE) = [26214, 6554]
    ///   chunk 1: d = [0, 30] → E = [65536, 32768] → η = [21845, 10923]
    ///   the conv reads η = [21845, 10923] (offset 2) for every channel.
    @Test("softmax gate + per-layer dynamic depthwise conv match the hand-computed integers")
    func softmaxGateDepthwise() throws {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 2, 1, 4], type: .uint8)
        let x = b.tensor("x", [1, 2, 1, 4])
        let pool = b.tensor("pool", [1, 1, 1, 4])
        let pf = b.tensor("pool_flat", [1, 4])
        let eta = b.tensor("eta", [1, 4], type: .int16, scale: 0x3800_0000)
        let y = b.tensor("y", [1, 1, 1, 4])
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 4), [4, 256]))))
        b.op("pool", .globalAvgPool(.init(input: x, output: pool, requant: .init(multiplier: 1 << 30, shift: 0))))
        b.op("flatten", .flatten(.init(input: pool, output: pf)))
        let exp = b.int32("exp", (0..<256).map { Int32(65536 >> min($0 / 16, 16)) }, [256])
        b.op("gate", .gate(.init(input: pf, output: eta, kind: .softmax, table: exp, group: 2)))
        // [g][kh][kw][C]: t0 = [10, −20, 30, 127] / [4, 4, −4, 0], t1 = [−127, 5, 0, 50] / [2, 100, 9, −1]
        let w = b.int8("w", [10, -20, 30, 127, 4, 4, -4, 0, -127, 5, 0, 50, 2, 100, 9, -1], [2, 2, 1, 4])
        b.op("dyn", .dynamicConv2d(.init(input: x, coefficients: eta, coefficientOffset: 2, mode: .perLayer,
                                         kernelCount: 2, output: y, weights: w, depthwise: true, mixedBias: nil,
                                         bias: nil, multipliers: b.multipliers("m0", Array(repeating: (1 << 30, -20), count: 4)),
                                         window: .init(kernelH: 2, kernelW: 1), groups: 4)))
        // c = 0: F = [−1168771, 109226], R = 466696, q_f = [−127, 12], acc = 10·(−127) = −1270,
        // M = M0·2^32/R = (1206245508, −7) → −6
        // c = 1: q_f = [−41, 127], acc = 2460 → 11;  c = 2: q_f = [127, 2], acc = 10160 → 25
        // c = 3: q_f = [127, 0], acc = 2540 → 32
        for kernels in KernelSetChoice.allCases {
            let out = try run(b.build(outputs: [y, eta]), pixels([10, -60, 80, 20, 0, 0, 0, 0]), kernels: kernels)
            #expect(out[1] == [26214, 6554, 21845, 10923])
            #expect(out[0] == [-6, 11, 25, 32])
        }
    }

    /// a = x (z = 3), b = T[x] = ⌊x/2⌋ (z = −2), out z = 1, M_a = 0.5, M_b = 1500000000·2^−32, M_out = 2^−20:
    ///   (50, 25): ⌊(47·2^19) + (27·2^20·0.3492)⌋ … = 32.93·2^20 → 33 + 1 = 34;  (−20, −10): −13
    @Test("add: TFLite's (q − z) << 20 scheme")
    func add() throws {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 1, 1, 2], type: .uint8)
        let x = b.tensor("x", [1, 1, 1, 2], zp: 3)
        let half = b.tensor("half", [1, 1, 1, 2], zp: -2)
        let y = b.tensor("y", [1, 1, 1, 2], zp: 1)
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 2), [2, 256]))))
        let t = b.int8("half.t", (0..<256).map { Int8(($0 - 128) >> 1) }, [256])
        b.op("half", .table(.init(input: x, output: half, table: t)))
        b.op("add", .add(.init(a: x, b: half, output: y, aRequant: .init(multiplier: 1 << 30, shift: 0),
                               bRequant: .init(multiplier: 1_500_000_000, shift: -1),
                               outputRequant: .init(multiplier: 1 << 30, shift: -19))))
        let out = try run(b.build(outputs: [y, half]), pixels([50, -20]))
        #expect(out[1] == [25, -10])
        #expect(out[0] == [34, -13])
    }

    /// x [2,2,2] = [1,2] [3,4] [5,6] [7,8] → concat(x, x·½) → shuffle(2) → split [1, 3] → maxpool 2×2 on the
    /// first part, avgpool 2×2 on the second, flatten, softmax.
    @Test("concat, shuffle, split, max/avg pool, flatten (HWC → CHW), softmax")
    func dataMovement() throws {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 2, 2, 2], type: .uint8)
        let x = b.tensor("x", [1, 2, 2, 2])
        let cat = b.tensor("cat", [1, 2, 2, 4])
        let shuf = b.tensor("shuf", [1, 2, 2, 4])
        let sa = b.tensor("a", [1, 2, 2, 1]), sb = b.tensor("b", [1, 2, 2, 3])
        let mp = b.tensor("mp", [1, 1, 1, 1]), ap = b.tensor("ap", [1, 1, 1, 3])
        let apf = b.tensor("ap_flat", [1, 3]), bf = b.tensor("b_flat", [1, 12])
        let probs = b.tensor("probs", [1, 3], zp: -128, scale: 0x3B80_0000)
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 2), [2, 256]))))
        b.op("cat", .concat(.init(inputs: [x, x], requants: [.identity, .init(multiplier: 1 << 30, shift: 0)], output: cat)))
        b.op("shuffle", .channelShuffle(.init(input: cat, output: shuf, groups: 2)))
        b.op("split", .channelSplit(.init(input: shuf, outputs: [sa, sb])))
        b.op("maxpool", .maxPool(.init(input: sa, output: mp, window: .init(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2))))
        b.op("avgpool", .avgPool(.init(input: sb, output: ap, window: .init(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2))))
        b.op("flatten", .flatten(.init(input: ap, output: apf)))
        b.op("flatten_b", .flatten(.init(input: sb, output: bf)))
        let exp = b.int32("exp", (0..<256).map { Int32(65536 >> min($0, 16)) }, [256])
        b.op("softmax", .softmax(.init(input: apf, output: probs, expTable: exp)))
        var inter: [String: [Int]] = [:]
        let out = try run(b.build(outputs: [mp, bf, probs, cat, shuf]), pixels([1, 2, 3, 4, 5, 6, 7, 8]), keepAll: true) { it in
            inter["ap"] = readTensor(it, ap)
        }
        // concat: [x0, x1, ⌊x0/2 + ½⌋, ⌊x1/2 + ½⌋] per pixel
        #expect(out[3] == [1, 2, 1, 1, 3, 4, 2, 2, 5, 6, 3, 3, 7, 8, 4, 4])
        // shuffle (groups 2): out[j·2 + i] = in[i·2 + j] → channels 0 2 1 3
        #expect(out[4] == [1, 1, 2, 1, 3, 2, 4, 2, 5, 3, 6, 3, 7, 4, 8, 4])
        #expect(out[0] == [7])
        // avgpool: [10/4 → 3 (half away), 20/4 = 5, 10/4 → 3]
        #expect(inter["ap"] == [3, 5, 3])
        // flatten of b [2,2,3] in CHW order
        #expect(out[1] == [1, 2, 3, 4, 2, 4, 6, 8, 1, 2, 3, 4])
        // softmax of [3, 5, 3]: d = [2, 0, 2], E = [16384, 65536, 16384], ΣE = 98304
        //   256·E/ΣE = [42.67, 170.67, 42.67] → [43, 171, 43] − 128
        #expect(out[2] == [-85, 43, -85])
    }

    @Test("every op kind runs; SIMD and reference paths agree exactly; keepAll changes no value")
    func allOpsAgree() throws {
        let d = TestModels.allOps()
        var r = SplitMix64(seed: 42)
        for _ in 0..<5 {
            let px = (0..<32).map { _ in UInt8(truncatingIfNeeded: r.next()) }
            let simd = try run(d, px)
            let ref = try run(d, px, kernels: .scalar)
            let oracle = try run(d, px, kernels: .oracle)
            #expect(oracle == ref)
            let keep = try run(d, px, keepAll: true)
            #expect(simd == ref)
            #expect(simd == keep)
            #expect(simd[0].count == 6 && simd[1].count == 6 && simd[2].count == 12)
        }
    }

    @Test("the observer sees every op once, in order; MACs include fusion")
    func observer() throws {
        struct Recorder: InterpreterObserver {
            var events: [Int] = []
            mutating func willRun(operation index: Int) { events.append(index) }
            mutating func didRun(operation index: Int) { events.append(-1 - index) }
        }
        let (d, _, _) = Self.dyNetBlock()
        let bytes = try d.serialized()
        try withAligned(bytes) { raw in
            let m = try Model(bytes: raw)
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
            defer { arena.deallocate() }
            let it = try Interpreter<SIMD128Kernels>(model: m, arena: arena)
            var rec = Recorder()
            it.invoke(observer: &rec)
            #expect(rec.events == [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6])
            // fc: 2·4; dynamic: fusion g·O·K = 2·2·2 plus conv H·W·O·K = 2·2·2·2
            #expect(it.macs == [0, 0, 0, 8, 0, 8 + 16])
        }
    }

    @Test("wrong input size and a too small arena are named errors")
    func errors() throws {
        let (d, _, _) = Self.dyNetBlock()
        let bytes = try d.serialized()
        try withAligned(bytes) { raw in
            let m = try Model(bytes: raw)
            let need = ArenaPlan(model: m, kernels: SIMD128Kernels.self).arenaBytes
            let small = UnsafeMutableRawBufferPointer.allocate(byteCount: need - 1, alignment: 16)
            defer { small.deallocate() }
            #expect(throws: ModelError.self) { _ = try Interpreter<SIMD128Kernels>(model: m, arena: small) }
            do throws(ModelError) { _ = try Interpreter<SIMD128Kernels>(model: m, arena: small) } catch {
                #expect(error.kind == .arenaTooSmall)
                #expect(error.value == Int64(need))
            }
            // A misaligned arena works when 15 more bytes are given.
            let big = UnsafeMutableRawBufferPointer.allocate(byteCount: need + 16, alignment: 16)
            defer { big.deallocate() }
            let it = try Interpreter<SIMD128Kernels>(model: m, arena: UnsafeMutableRawBufferPointer(rebasing: big[1...]))
            #expect(Int(bitPattern: it.arena.baseAddress!) % 16 == 0)
            let wrong = [UInt8](repeating: 0, count: 7)
            do throws(ModelError) { try it.setInput(wrong) } catch {
                #expect(error.kind == .badInput)
                #expect(error.value == 8)
            }
        }
    }
}
