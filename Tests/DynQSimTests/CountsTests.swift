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

/// The committed per-layer (DY-CNN softmax gate, mixed bias) fixture graph, quantized on 4 random images.
func quantizedPerLayerFixture() throws -> ModelDescription {
    let dir = repoRoot + "/fixtures/fmnist_perlayer"
    let graph = try loadGraph(dir + "/model.graph.json")
    let weights = try readSafetensors(dir + "/model.safetensors").tensors
    var rng = SplitMix64(seed: 5)
    let shape = graph.input.shape
    let calibration = (0..<4).map { _ in
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() })
    }
    return try quantize(graph: graph, weights: weights, calibration: calibration).0
}

/// Asserts that every measured field of every op equals the analytic counter's, and the arena facts.
func expectAgreement(_ d: ModelDescription, _ label: String) throws {
    let bytes = try d.serialized()
    let analytic = analyticCounts(d)
    let measured = try measureCounts(modelBytes: bytes, input: testImage(d))
    #expect(measured.runs == [Int](repeating: 1, count: d.operations.count), "every op ran exactly once")
    #expect(measured.strayBytes == 0, "every load and store is in the model or the arena")
    #expect(measured.ops.count == analytic.ops.count)
    for (a, m) in zip(analytic.ops, measured.ops) {
        #expect(a.name == m.name && a.kind == m.kind && a.kernelClass == m.kernelClass)
        for ((field, av), (_, mv)) in zip(a.measuredFields, m.measuredFields) {
            #expect(av == mv, "\(label) \(a.name) (\(a.kind)): \(field) analytic \(av) vs measured \(mv)")
        }
    }
    for (i, op) in analytic.ops.enumerated() {
        #expect(measured.macs[i] == op.nominalMACs,
                "\(op.name): nominal MACs analytic \(op.nominalMACs) vs interpreter \(measured.macs[i])")
        // Bytes stored (traffic) equal the distinct bytes the paint shows written: no op stores a byte twice.
        #expect(measured.bytesWritten[i] == op.activationBytesWritten,
                "\(op.name): bytes written analytic \(op.activationBytesWritten) vs painted \(measured.bytesWritten[i])")
    }
    // The plan the simulator reads is the interpreter's plan.
    #expect(measured.arenaBytes == analytic.plan.planBytes)
    // The highest byte the run touches is the end of the highest placed buffer (before alignment padding).
    let usedExtent = analytic.plan.buffers.map { $0.offset + $0.size }.max() ?? 0
    #expect(measured.highWaterMark == usedExtent,
            "high-water mark measured \(measured.highWaterMark) vs plan \(usedExtent) (arena \(analytic.plan.arenaBytes))")
    #expect(analytic.liveBytes.max() == analytic.plan.peakLiveBytes)
}

@Suite("Counts: analytic vs measured on the int8 interpreter")
struct SimCountsTests {
    @Test("every op's MACs, divisions, adds, requantizations, lookups, element ops and bytes agree exactly",
          arguments: [ZooModel.dyMobile, .dyResnet18, .mobilenetV2, .shufflenetV2, .dyShuffle, .resnet18])
    func agree(model: ZooModel) throws {
        try expectAgreement(try quantizedZooModel(model), model.rawValue)
    }

    @Test("the trained fixture (dynamic depthwise, per-channel sigmoid gates) agrees exactly")
    func fixture() throws {
        try expectAgreement(try SimFiles.loadModel(repoRoot + "/fixtures/fmnist/model.dynq").0, "fmnist")
    }

    @Test("the per-layer fixture (softmax gates, mixed biases) agrees exactly")
    func perLayerFixture() throws {
        try expectAgreement(try quantizedPerLayerFixture(), "fmnist_perlayer")
    }

    @Test("executed MACs skip the padding; nominal MACs match the float graph's conv, CPM and fusion split")
    func splitMatchesGraph() throws {
        let net = ZooModel.dyMobile.build(resolution: 32, classes: 10)
        let graphMACs = try net.macs()
        let a = analyticCounts(try quantizedZooModel(.dyMobile))
        #expect(a.nominalMACs == graphMACs.conv + graphMACs.cpm + graphMACs.fusion)
        #expect(a.cpmMACs == graphMACs.cpm, "CPM layers are linear: nothing to skip")
        #expect(a.convMACs < graphMACs.conv, "3x3 convs with padding 1 skip the border taps")
        // The reference fusion computes F twice; Dy-mobile has no mixed bias.
        #expect(a.fusionMACs == 2 * graphMACs.fusion)
    }

    @Test("in-image taps of a window along one axis")
    func taps() {
        // 3 taps, pad 1, stride 1 over 4 pixels: the first and last output lose one tap each.
        #expect(inImageTaps(input: 4, output: 4, kernel: 3, stride: 1, dilation: 1, padBefore: 1) == 10)
        // Stride 2, pad 1, 4 → 2 outputs: taps at −1, 0, 1 and 1, 2, 3.
        #expect(inImageTaps(input: 4, output: 2, kernel: 3, stride: 2, dilation: 1, padBefore: 1) == 5)
        // A 1×1 window never leaves the image.
        #expect(inImageTaps(input: 5, output: 3, kernel: 1, stride: 2, dilation: 1, padBefore: 0) == 3)
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
