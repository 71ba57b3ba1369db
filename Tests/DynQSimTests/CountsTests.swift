import Testing
import DynQCore
import DynQGraph
import DynQQuantizer
import DynQSim

/// Small versions (32×32 input, 10 classes) of zoo models, quantized by the real quantizer.
///
/// Random weights can give a CPM layer whose output multiplier is ≥ 2, which the quantizer refuses by design
/// (docs/numerics.md); the helper then takes the next seed (at most four), so each model is deterministic.
func quantizedZooModel(_ model: ZooModel, seed: UInt64 = 1) throws -> ModelDescription {
    var lastError: Error?
    for s in seed..<(seed + 4) {
        let net = model.build(resolution: 32, classes: 10)
        let weights = Dictionary(uniqueKeysWithValues: net.materializeWeights(seed: s))
        var rng = SplitMix64(seed: s &+ 100)
        let calibration = (0..<4).map { _ in
            Tensor(shape: [1, 3, 32, 32], data: (0..<3 * 32 * 32).map { _ in 4 * rng.nextUnitFloat() - 2 })
        }
        do { return try quantize(graph: net.graph, weights: weights, calibration: calibration).0 } catch { lastError = error }
    }
    throw lastError!
}

func testImage(_ d: ModelDescription, seed: UInt64 = 9) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<d.tensors[d.input.index].elementCount).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

@Suite("Counts: analytic vs measured on the int8 interpreter")
struct SimCountsTests {
    @Test("every op's MACs, bytes written, and the arena high-water mark agree exactly",
          arguments: [ZooModel.dyMobile, .dyResnet18, .mobilenetV2, .shufflenetV2])
    func agree(model: ZooModel) throws {
        let d = try quantizedZooModel(model)
        let bytes = try d.serialized()
        let analytic = analyticCounts(d)
        let measured = try measureCounts(modelBytes: bytes, input: testImage(d))
        #expect(measured.runs == [Int](repeating: 1, count: d.operations.count), "every op ran exactly once")
        for (i, op) in analytic.ops.enumerated() {
            #expect(measured.macs[i] == op.macs, "\(op.name): MACs analytic \(op.macs) vs interpreter \(measured.macs[i])")
            #expect(measured.bytesWritten[i] == op.activationBytesWritten,
                    "\(op.name): bytes written analytic \(op.activationBytesWritten) vs measured \(measured.bytesWritten[i])")
        }
        // The plan the simulator reads is the interpreter's plan.
        #expect(measured.arenaBytes == analytic.plan.arenaBytes)
        // The highest byte the run touches is the end of the highest placed buffer (before alignment padding).
        let usedExtent = analytic.plan.buffers.map { $0.offset + $0.size }.max() ?? 0
        #expect(measured.highWaterMark == usedExtent,
                "high-water mark measured \(measured.highWaterMark) vs plan \(usedExtent) (arena \(analytic.plan.arenaBytes))")
        #expect(analytic.liveBytes.max() == analytic.plan.peakLiveBytes)
    }

    @Test("the int8 MAC split matches the float graph's (conv, CPM, fusion)")
    func splitMatchesGraph() throws {
        let net = ZooModel.dyMobile.build(resolution: 32, classes: 10)
        let graphMACs = try net.macs()
        let a = analyticCounts(try quantizedZooModel(.dyMobile))
        #expect(a.convMACs == graphMACs.conv)
        #expect(a.cpmMACs == graphMACs.cpm)
        #expect(a.fusionMACs == graphMACs.fusion)
    }

    @Test("kernel classes: 1×1, depthwise, k×k, linear are told apart")
    func classes() throws {
        let a = analyticCounts(try quantizedZooModel(.mobilenetV2))
        let byName = Dictionary(uniqueKeysWithValues: a.ops.map { ($0.name, $0.kernelClass) })
        #expect(byName["features.0.conv"] == .conv3x3)
        #expect(byName["features.2.dw"] == .depthwise)
        #expect(byName["features.2.expand"] == .conv1x1)
        #expect(byName["logits"] == .linear)
    }
}
