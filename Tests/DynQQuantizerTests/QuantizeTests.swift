import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

@Suite struct QuantizeSmallGraphTests {
    static let methods: [CalibrationMethod] = [.minmax, .percentile(99.99), .mse]

    /// The small DyNet quantizes, the runtime accepts it, it reads back identical, and the int8 logits follow the
    /// float ones.
    @Test(arguments: methods)
    func smallDyNetEndToEnd(_ method: CalibrationMethod) throws {
        let model = smallDyNet(seed: 21)
        var r = SeededRandom(99)
        let n = model.graph.input.shape.reduce(1, *)
        let images = (0..<64).map { _ in r.pixels(n) }
        let inputs = try images.map { try model.graph.preprocess($0) }
        let (md, report) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs,
                                        options: QuantizationOptions(method: method))
        #expect(report.samples == 64)
        #expect(report.batchnormFolds.count == 2)
        #expect(report.fusedActivations.count == 3)
        let runner = try Int8Runner(md)
        #expect(runner.readBack == md)
        let engine = try FloatEngine(graph: model.graph, weights: model.weights)
        var worst = 0.0, agree = 0, span = 0.0
        for (img, x) in zip(images, inputs) {
            let f = try engine.run(x)[0].data.map(Double.init)
            let q = try runner.run(img, channels: 2)[0]
            span = max(span, (f.max()! - f.min()!))
            worst = max(worst, zip(f, q).map { abs($0 - $1) }.max()!)
            if f.firstIndex(of: f.max()!) == q.firstIndex(of: q.max()!) { agree += 1 }
        }
        // The int8 logits stay within a few percent of the logit spread (measured: < 1 %), and the class agrees.
        #expect(worst < 0.03 * span, "max |int8 − float| \(worst), logit spread \(span)")
        #expect(agree >= 56, "argmax agreement \(agree)/64")
    }

    @Test func reportHasEveryWeightedLayer() throws {
        let model = smallDyNet(seed: 22)
        let inputs = try randomInputs(model.graph, count: 16)
        let (_, report) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs)
        let names = report.layers.map(\.name)
        for l in ["input", "stem", "cpm.pool", "cpm.fc1", "cpm.fc2", "cpm.gate", "dyn1", "dyn2", "res", "pool", "hs",
                  "gap", "flat", "head", "prob"] {
            #expect(names.contains(l), "\(l) missing from \(names)")
        }
        let dyn1 = try #require(report.layers.first { $0.name == "dyn1" })
        #expect(dyn1.fusedKernel != nil && dyn1.fusionMax != nil && dyn1.sampleMultiplier != nil)
        #expect(dyn1.weightSQNRdB! > 35)
        let dyn2 = try #require(report.layers.first { $0.name == "dyn2" })
        #expect(dyn2.op == "dynamic_dwconv2d")
        #expect(report.coefficientPrecision.map(\.bits) == [8, 12, 15])
        let text = report.table()
        #expect(text.contains("dyn1") && text.contains("15 bits"))
        let json = report.json().serialized()
        #expect(json.contains("\"fused_kernel_range\""))
    }

    @Test func softmaxGatePerLayer() throws {
        let model = smallDyNet(seed: 23, gate: .softmax(temperature: 2, group: 3), mode: .perLayer)
        var r = SeededRandom(5)
        let n = model.graph.input.shape.reduce(1, *)
        let images = (0..<32).map { _ in r.pixels(n) }
        let inputs = try images.map { try model.graph.preprocess($0) }
        let (md, _) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs)
        let runner = try Int8Runner(md)
        #expect(runner.readBack == md)
        let engine = try FloatEngine(graph: model.graph, weights: model.weights)
        var worst = 0.0, span = 0.0
        for (img, x) in zip(images, inputs) {
            let f = try engine.run(x)[0].data.map(Double.init)
            let q = try runner.run(img, channels: 2)[0]
            span = max(span, f.max()! - f.min()!)
            worst = max(worst, zip(f, q).map { abs($0 - $1) }.max()!)
        }
        #expect(worst < 0.1 * span, "max |int8 − float| \(worst), logit spread \(span)")
    }

    /// The coefficient-precision study: rounding η to 8 / 12 / 15 bits; 15 bits keeps the fused kernels at
    /// ≥ 80 dB (far below the int8 kernel's own ~48 dB), 8 bits does not.
    @Test func coefficientBits() throws {
        let model = smallDyNet(seed: 26)
        let prepared = try prepare(graph: model.graph, weights: model.weights)
        let stats = try calibrate(prepared.model, inputs: try randomInputs(model.graph, count: 32),
                                  runner: try floatEngineRunner(prepared.model))
        print(coefficientStudy("small-dynet", stats))
        let byBits = Dictionary(uniqueKeysWithValues: stats.coefficientPrecision.map { ($0.bits, $0) })
        #expect(byBits[15]!.fusedKernelSQNRdB > 80)
        #expect(byBits[8]!.fusedKernelSQNRdB < byBits[12]!.fusedKernelSQNRdB)
        #expect(byBits[12]!.fusedKernelSQNRdB < byBits[15]!.fusedKernelSQNRdB)
        #expect(byBits[15]!.maxCoefficientError <= 1.0 / 65536 + 1e-12)
    }

    @Test func perTensorOption() throws {
        let model = smallDyNet(seed: 24)
        let inputs = try randomInputs(model.graph, count: 8)
        let (_, pc) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs)
        let (md, pt) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs,
                                    options: QuantizationOptions(granularity: .perTensor))
        _ = try md.serialized()
        for (a, b) in zip(pc.layers, pt.layers) where a.weightSQNRdB != nil {
            #expect(b.weightScales!.min == b.weightScales!.max, "\(b.name)")
            #expect(a.weightSQNRdB! >= b.weightSQNRdB! - 1e-9, "\(a.name)")
        }
    }

    @Test func weightLayoutsAreOHWI() throws {
        let model = smallDyNet(seed: 25)
        let inputs = try randomInputs(model.graph, count: 4)
        let prepared = try prepare(graph: model.graph, weights: model.weights)
        let (md, _) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs)
        // stem: OIHW [6, 2, 3, 3] float → OHWI int8; compare element (o=4, i=1, y=2, x=0).
        guard case .conv2d(let stem) = md.operations.first(where: { $0.name == "stem" })!.op else {
            Issue.record("stem is not conv2d"); return
        }
        guard case .conv2d(let c) = prepared.model.graph.nodes[0].op else { return }
        let wf = prepared.model.weights[c.weight]!
        let q = quantizeWeights(wf, channelAxis: 0)
        let blob = md.blobs[stem.weights.index]
        #expect(blob.shape == [6, 3, 3, 2])
        let (o, i, y, x) = (4, 1, 2, 0)
        #expect(blob.element(((o * 3 + y) * 3 + x) * 2 + i) == Int(q.values[((o * 2 + i) * 3 + y) * 3 + x]))
        // dyn2 is depthwise: [g][kh][kw][C].
        guard case .dynamicConv2d(let d2) = md.operations.first(where: { $0.name == "dyn2" })!.op else { return }
        #expect(d2.depthwise)
        #expect(md.blobs[d2.weights.index].shape == [3, 3, 3, 6])
    }
}

@Suite struct RefusalTests {
    @Test func multiplierOfTwoToTheThirtyNamesTheLayer() throws {
        // A conv whose output range is absurdly tiny next to input × weight scales: M ≥ 2^30.
        var r = SeededRandom(1)
        let w: [String: Tensor] = ["c.weight": r.tensor([2, 1, 1, 1], 50, 60)]
        let graph = Graph(name: "m", input: InputSpec(name: "input", shape: [1, 1, 2, 2]), outputs: ["y"],
                          nodes: [Node(name: "c", op: .conv2d(Conv2DAttrs(weight: "c.weight")), inputs: ["input"],
                                       outputs: ["y"])])
        let prepared = try prepare(graph: graph, weights: w)
        var stats = try calibrate(prepared.model, inputs: [Tensor(shape: [1, 1, 2, 2], data: [0, 1, 2, 3])],
                                  runner: try floatEngineRunner(prepared.model))
        var h = Histogram()
        h.add([Float](arrayLiteral: -1e-12, 1e-12))
        stats.histograms["y"] = h
        do {
            _ = try quantize(prepared, stats: stats)
            Issue.record("expected a refusal")
        } catch let e as DynQError {
            #expect(e.message.contains("layer c"))
            #expect(e.message.contains("≥ 2^30"))
        }
    }

    @Test func accumulatorOverflowNamesTheLayer() throws {
        // K = 3·3·7400 = 66 600 > 66 311 terms.
        let w: [String: Tensor] = ["big.weight": Tensor(shape: [1, 7400, 3, 3], data: [Float](repeating: 0.01, count: 66_600))]
        let graph = Graph(name: "m", input: InputSpec(name: "input", shape: [1, 7400, 3, 3]), outputs: ["y"],
                          nodes: [Node(name: "big", op: .conv2d(Conv2DAttrs(weight: "big.weight")), inputs: ["input"],
                                       outputs: ["y"])])
        var r = SeededRandom(2)
        let inputs = [r.tensor([1, 7400, 3, 3])]
        do {
            _ = try quantize(graph: graph, weights: w, calibration: inputs)
            Issue.record("expected a refusal")
        } catch let e as DynQError {
            #expect(e.message.contains("layer big"))
            #expect(e.message.contains("accumulator"))
        }
    }
}
