// The arena planner: no two live buffers share bytes, sharing happens where lifetimes allow, pinned sizes.
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
        let plan = ArenaPlan(description: Self.chain(), simd: false)
        #expect(plan.findOverlap() == nil)
        #expect(plan.arenaBytes == 128)
        #expect(plan.peakLiveBytes == 128)
        #expect(plan.unsharedBytes == 6 * 64)
        let keep = ArenaPlan(description: Self.chain(), keepAll: true, simd: false)
        #expect(keep.arenaBytes == 6 * 64)   // every tensor stays, the input included
        #expect(keep.findOverlap() == nil)
    }

    @Test("the model input and outputs are distinct from every tensor alive with them")
    func inputOutput() {
        let d = Self.chain()
        let plan = ArenaPlan(description: d)
        let out = plan.tensorOffsets[d.outputs[0].index]
        let x = plan.tensorOffsets[1]
        #expect(out != plan.tensorOffsets[4])   // c2 is read by the op that writes c3
        #expect(plan.tensorOffsets[0] != x)
    }

    @Test("keepAll: every tensor has its own bytes and the values survive the run")
    func keepAll() throws {
        let d = TestModels.allOps()
        let plan = ArenaPlan(description: d, keepAll: true)
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
            let plan = ArenaPlan(description: TestModels.allOps(), keepAll: keepAll)
            #expect(plan.findOverlap() == nil)
            #expect(plan.peakLiveBytes <= plan.arenaBytes)
            #expect(plan.arenaBytes <= plan.unsharedBytes)
            let dyn = TestModels.allOps().operations.indices.filter {
                if case .dynamicConv2d = TestModels.allOps().operations[$0].op { return true } else { return false }
            }
            for i in dyn {
                #expect(plan.fusedKernelOffsets[i] >= 0 && plan.fusedBiasOffsets[i] >= 0
                        && plan.fusedMultiplierOffsets[i] >= 0)
            }
        }
    }

    /// Pinned numbers (TFLite Micro's memory-threshold test): a change of the planner or of the fixture shows
    /// up here and must be explained.
    @Test("SIMD plan of the chain: packed weights stay for the run, scratch per op")
    func chainSIMD() throws {
        let d = Self.chain()
        let plan = ArenaPlan(description: d)
        #expect(plan.findOverlap() == nil)
        // Per conv: the kernels' own sizes (conv2dPackedWeightBytes / conv2dScratchBytes): packed weights for
        // the whole run, scratch for the op only.
        let conv = KernelRequirements(operation: d.operations[1].op, tensors: d.tensors)
        let cp = Step.convParams(.init(kernelH: 1, kernelW: 1), groups: 1, input: d.tensors[1], output: d.tensors[2],
                                 clamp: .none)
        #expect(conv.packedWeightBytes == conv2dPackedWeightBytes(cp))
        #expect(conv.scratchBytes == conv2dScratchBytes(cp))
        let persistent = plan.buffers.filter { $0.purpose == .packedWeights }
        #expect(persistent.count == 4 && persistent.allSatisfy { $0.firstUse == 0 && $0.lastUse == 4 })
        // 2 × 64 activations + 4 packed weight buffers + one scratch buffer shared by the four convs.
        let expected = 128 + 4 * ArenaPlan.aligned(conv.packedWeightBytes) + ArenaPlan.aligned(conv.scratchBytes)
        #expect(plan.arenaBytes == expected)
        #expect(plan.peakLiveBytes == expected)
    }

    @Test("pinned arena sizes of the all-ops fixture")
    func pinned() {
        let ref = ArenaPlan(description: TestModels.allOps(), simd: false)
        let refKeep = ArenaPlan(description: TestModels.allOps(), keepAll: true, simd: false)
        #expect(ref.arenaBytes == 416)       // = the peak: the greedy plan is optimal here
        #expect(ref.peakLiveBytes == 416)
        #expect(refKeep.arenaBytes == 1056)
        // SIMD plans depend on the kernels' buffer-size functions: invariants only.
        let simd = ArenaPlan(description: TestModels.allOps())
        let simdKeep = ArenaPlan(description: TestModels.allOps(), keepAll: true)
        #expect(simd.findOverlap() == nil && simdKeep.findOverlap() == nil)
        #expect(simd.arenaBytes >= ref.arenaBytes && simdKeep.arenaBytes >= simd.arenaBytes)
    }

    @Test("the measured high-water mark stays inside the plan")
    func highWater() throws {
        let d = TestModels.allOps()
        let bytes = try d.serialized()
        try withAligned(bytes) { raw in
            let m = try Model(bytes: raw)
            let need = ArenaPlan(model: m).arenaBytes
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: need + 256, alignment: 16)
            defer { arena.deallocate() }
            arena.initializeMemory(as: UInt8.self, repeating: 0xA5)
            let it = try Interpreter(model: m, arena: arena)
            #expect(it.arena.count == need)
            it.paint()
            try it.setInput([UInt8](repeating: 77, count: 32))
            it.invoke()
            #expect(it.measuredHighWaterMark() <= need)
            #expect(it.measuredHighWaterMark() > need / 2)
            // Bytes after the plan were never touched.
            #expect(arena[need..<(need + 256)].allSatisfy { $0 == 0xA5 })
        }
    }
}
