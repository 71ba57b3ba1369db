// The arena planner: no two live buffers share bytes, sharing happens where lifetimes allow, pinned sizes.
import Foundation
import Testing
@testable import DynQCore

@Suite("Runtime: arena plan")
struct RuntimeArenaTests {
    /// image [1,8,8,1] → x → conv → conv → conv → conv (1×1, one channel): a chain, so two activation buffers
    /// alternate. Every tensor is 64 bytes.
    static func chain(length: Int = 4) -> ModelDescription {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, 8, 8, 1], type: .uint8)
        var prev = b.tensor("x", [1, 8, 8, 1])
        b.op("in", .inputTable(.init(input: img, output: prev, table: b.int8("t", shiftTable(channels: 1), [1, 256]))))
        let w = b.int8("w", [1], [1, 1, 1, 1])
        let m = b.multipliers("m", [(1 << 30, 1)])
        for i in 0..<length {
            let y = b.tensor("c\(i)", [1, 8, 8, 1])
            b.op("conv\(i)", .conv2d(.init(input: prev, output: y, weights: w, bias: nil, multipliers: m,
                                           window: .init(kernelH: 1, kernelW: 1))))
            prev = y
        }
        return b.build(outputs: [prev])
    }

    @Test("a chain ping-pongs between two 64-byte buffers (reference kernels: no packing, no scratch)")
    func chainSharing() throws {
        let plan = ArenaPlan(description: Self.chain(), kernels: ScalarKernels<NoTally>.self)
        #expect(plan.findOverlap() == nil)
        #expect(plan.planBytes == 128)
        #expect(plan.peakLiveBytes == 128)
        #expect(plan.unsharedBytes == 6 * 64)
        let keep = ArenaPlan(description: Self.chain(), kernels: ScalarKernels<NoTally>.self, keepAll: true)
        #expect(keep.planBytes == 6 * 64)   // every tensor stays, the input included
        #expect(keep.findOverlap() == nil)
    }

    @Test("the model input and outputs are distinct from every tensor alive with them")
    func inputOutput() {
        let d = Self.chain()
        let plan = ArenaPlan(description: d, kernels: SIMD128Kernels.self)
        let out = plan.tensorOffsets[d.outputs[0].index]
        let x = plan.tensorOffsets[1]
        #expect(out != plan.tensorOffsets[4])   // c2 is read by the op that writes c3
        #expect(plan.tensorOffsets[0] != x)
    }

    @Test("keepAll: every tensor has its own bytes and the values survive the run")
    func keepAll() throws {
        let d = TestModels.allOps()
        let plan = ArenaPlan(description: d, kernels: SIMD128Kernels.self, keepAll: true)
        #expect(plan.findOverlap() == nil)
        var ranges: [(Int, Int)] = []
        for (i, t) in d.tensors.enumerated() where plan.tensorOffsets[i] >= 0 {
            ranges.append((plan.tensorOffsets[i], plan.tensorOffsets[i] + t.byteCount))
        }
        // Input only shares with buffers that come after op 0; every other pair of tensors is disjoint.
        for a in 1..<ranges.count {
            for b in (a + 1)..<ranges.count {
                #expect(ranges[a].1 <= ranges[b].0 || ranges[b].1 <= ranges[a].0)
            }
        }
    }

    @Test("planner invariants on the all-ops model: peak live ≤ arena ≤ unshared; fusion buffers planned")
    func invariants() {
        for keepAll in [false, true] {
            let plan = ArenaPlan(description: TestModels.allOps(), kernels: SIMD128Kernels.self, keepAll: keepAll)
            #expect(plan.findOverlap() == nil)
            #expect(plan.peakLiveBytes <= plan.planBytes)
            #expect(plan.planBytes <= plan.unsharedBytes)
            let dyn = TestModels.allOps().operations.indices.filter {
                if case .dynamicConv2d = TestModels.allOps().operations[$0].op { return true } else { return false }
            }
            for i in dyn {
                #expect(plan.fusedWeightOffsets[i] >= 0 && plan.fusedBiasOffsets[i] >= 0
                        && plan.fusedMultiplierOffsets[i] >= 0)
            }
        }
    }

    /// Pinned numbers (TFLite Micro's memory-threshold test): a change of the planner or of the fixture shows
    /// up here and must be explained.
    @Test("SIMD plan of the chain: packed weights stay for the run, scratch per op")
    func chainSIMD() throws {
        let d = Self.chain()
        let plan = ArenaPlan(description: d, kernels: SIMD128Kernels.self)
        #expect(plan.findOverlap() == nil)
        // Per conv: the kernels' own sizes (conv2dPackedWeightBytes / conv2dScratchBytes): packed weights for
        // the whole run, scratch for the op only.
        let file = try withAlignedFile(d)
        let conv = opRequirements(file.file, op: 1, kernels: SIMD128Kernels.self)
        let cp = Conv2DParams(inputHeight: 8, inputWidth: 8, inputChannels: 1, outputChannels: 1, kernelHeight: 1,
                              kernelWidth: 1, inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        #expect(conv.variant == SIMD128Kernels.chooseConv(cp))
        #expect(conv.packedWeights == SIMD128Kernels.convPackedWeightBytes(cp, conv.variant!))
        #expect(conv.scratch == SIMD128Kernels.convScratchBytes(cp, conv.variant!))
        let persistent = plan.buffers.filter { $0.purpose == .packedWeights }
        #expect(persistent.count == 4 && persistent.allSatisfy { $0.firstUse == 0 && $0.lastUse == 4 })
        // 2 × 64 activations + 4 packed weight buffers + one scratch buffer shared by the four convs.
        let expected = 128 + 4 * ArenaPlan.aligned(conv.packedWeights) + ArenaPlan.aligned(conv.scratch)
        #expect(plan.planBytes == expected)
        #expect(plan.peakLiveBytes == expected)
    }

    @Test("pinned arena sizes of the all-ops fixture")
    func pinned() {
        let ref = ArenaPlan(description: TestModels.allOps(), kernels: ScalarKernels<NoTally>.self)
        let refKeep = ArenaPlan(description: TestModels.allOps(), kernels: ScalarKernels<NoTally>.self, keepAll: true)
        #expect(ref.planBytes == 416)        // = the peak: the greedy plan is optimal here
        #expect(ref.peakLiveBytes == 416)
        #expect(refKeep.planBytes == 1056)
        // The interpreter's tables: an Int32 offset per tensor and a slot per op, each rounded up to 16 bytes.
        #expect(ref.tableBytes == ArenaPlan.aligned(4 * TestModels.allOps().tensors.count)
                + ArenaPlan.aligned(MemoryLayout<OpSlot<ScalarKernels<NoTally>.Variant>>.stride * TestModels.allOps().operations.count))
        #expect(ref.arenaBytes == ref.tableBytes + max(ref.planBytes, Interpreter<ScalarKernels<NoTally>>.workBytes(try! withAlignedFile(TestModels.allOps()).file)))
        // SIMD plans depend on the kernels' buffer-size functions: invariants only.
        let simd = ArenaPlan(description: TestModels.allOps(), kernels: SIMD128Kernels.self)
        let simdKeep = ArenaPlan(description: TestModels.allOps(), kernels: SIMD128Kernels.self, keepAll: true)
        #expect(simd.findOverlap() == nil && simdKeep.findOverlap() == nil)
        #expect(simd.arenaBytes >= ref.arenaBytes && simdKeep.arenaBytes >= simd.arenaBytes)
    }

    /// Issue 13's RAM bound: the committed fixture on a Cortex-M4 with the DSP set needs at most 24,000 bytes of
    /// arena (24 KB however "KB" is read). The same planner runs in the firmware (`scripts/qemu-run.sh` checks that
    /// the host plan equals the device's), so the host's plan is the device's arena.
    @Test("fixtures/fmnist: the Cortex-M DSP arena is at most 24,000 bytes (pinned: 576 B of tables + 23,424 B)")
    func fixtureCortexMDSP() throws {
        try withFixtureModel { m in
            let dsp = ArenaPlan(model: m, kernels: CortexMDSPKernels.self)
            #expect(dsp.findOverlap() == nil)
            #expect(dsp.arenaBytes <= 24_000)
            // 36 tensor offsets (144 B) + 35 op slots of 12 bytes (two offsets and the variant: 432 B).
            #expect(MemoryLayout<OpSlot<CortexMDSPKernels.Variant>>.stride == 12)
            #expect(dsp.tableBytes == 576)
            // The peak is the 3×3 32 → 32 dynamic layer (op 14): input and output 2 × 6,272, fused kernel 9,216,
            // fused bias 128 and multipliers 256, the coefficients 512 and the conv's strip im2col 768; its fusion's
            // F row (1,152 B) lives in the output tensor. The greedy plan reaches the peak: no fragmentation.
            #expect(dsp.peakOperation == 14)
            #expect(dsp.scratchOffsets[14] >= 0 && dsp.buffers.contains { $0.purpose == .scratch && $0.owner == 14 && $0.size == 768 })
            #expect(dsp.planBytes == 23_424 && dsp.peakLiveBytes == 23_424)
            #expect(dsp.arenaBytes == 24_000)
            // The scalar set has no conv scratch there.
            let scalar = ArenaPlan(model: m, kernels: ScalarKernels<NoTally>.self)
            #expect(scalar.findOverlap() == nil)
            #expect(scalar.arenaBytes == 23_232)
        }
    }

    /// The NEON set packs weights that live for the whole run. Placed by size alone they land above short-lived
    /// tensors and leave holes (57,648 B of plan); the planner's second order, longest lifetime first, reaches
    /// the peak. It keeps the smaller plan, so the Cortex-M DSP plan above is unchanged.
    @Test("fixtures/fmnist with the NEON set: the plan reaches the peak of live bytes (50,688 B, as the A53 run plans it)")
    func fixtureNEONReachesPeak() throws {
        try withFixtureModel { m in
            let neon = ArenaPlan(model: m, kernels: NEONKernels.self)
            #expect(neon.findOverlap() == nil)
            #expect(neon.buffers.contains { $0.purpose == .packedWeights && $0.firstUse == 0 })
            #expect(neon.planBytes == neon.peakLiveBytes)
            #expect(neon.planBytes == 50_688)
            #expect(neon.arenaBytes == 51_264)
        }
    }

    /// Runs `body` on the committed fixtures/fmnist/model.dynq, loaded in place from 16-byte aligned bytes.
    func withFixtureModel(_ body: (Model) throws -> Void) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/fmnist/model.dynq")
        try withAligned([UInt8](try Data(contentsOf: url))) { raw in try body(try Model(bytes: raw)) }
    }

    @Test("the measured high-water mark stays inside the plan")
    func highWater() throws {
        let d = TestModels.allOps()
        let bytes = try d.serialized()
        try withAligned(bytes) { raw in
            let m = try Model(bytes: raw)
            let need = ArenaPlan(model: m, kernels: SIMD128Kernels.self).arenaBytes
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: need + 256, alignment: 16)
            defer { arena.deallocate() }
            arena.initializeMemory(as: UInt8.self, repeating: 0xA5)
            let it = try Interpreter<SIMD128Kernels>(model: m, arena: arena)
            #expect(it.arena.count == need)
            it.paint()
            try it.setInput([UInt8](repeating: 77, count: 32))
            it.invoke()
            #expect(it.measuredHighWaterMark() <= it.planBytes)
            #expect(it.measuredHighWaterMark() > it.planBytes / 2)
            // Bytes after the plan were never touched.
            #expect(arena[need..<(need + 256)].allSatisfy { $0 == 0xA5 })
        }
    }
}
