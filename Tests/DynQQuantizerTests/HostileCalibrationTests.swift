// Issue 16 rows 3-5: calibration data or weights that are NaN, infinite or huge never trap, hang or produce a
// model quietly; and the quantizer validates a graph before folding it.
import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

@Suite("hostile calibration (issue 16)")
struct HostileCalibrationTests {
    @Test("Histogram.add of +inf, -inf or NaN terminates, bins nothing and counts them as non-finite",
          .timeLimit(.minutes(1)), arguments: [Float.infinity, -.infinity, .nan])
    func nonFiniteValues(_ v: Float) {
        var h = Histogram(bins: 16)
        h.add([1, 2, 3])
        h.add([v, 2])
        #expect(h.nonFinite == 1)
        #expect(h.total == 4)
        #expect(h.exact == ValueRange(min: 1, max: 3))
        var first = Histogram(bins: 16)
        first.add([v])
        #expect(first.total == 0 && first.nonFinite == 1 && chooseRange(first, method: .mse) == ValueRange(min: 0, max: 0))
    }

    @Test("Histogram.add of ±3e38 after a narrow batch grows without a trap; every method gives a range inside the data",
          .timeLimit(.minutes(1)))
    func hugeFiniteValues() {
        var h = Histogram(bins: 64)
        h.add([0.001, 0.002])
        h.add([3e38, -3e38, 1])
        h.add([Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude])
        #expect(h.total == 7 && h.nonFinite == 0)
        for method in [CalibrationMethod.minmax, .percentile(99), .mse] {
            let r = chooseRange(h, method: method)
            #expect(r.min.isFinite && r.max.isFinite && r.min >= h.exact.min && r.max <= h.exact.max, "\(method): \(r)")
        }
    }

    @Test("calibrate refuses a tensor holding inf, naming the calibration image and the tensor")
    func calibrateRefusesNonFiniteTensor() throws {
        let model = smallDyNet()
        let prepared = try prepare(graph: model.graph, weights: model.weights)
        let inputs = try randomInputs(model.graph, count: 3)
        let engine = try floatEngineRunner(prepared.model)
        // The runner is @Sendable (calibration runs samples concurrently): it recognises image 1 by its values.
        let poisoned = inputs[1].data
        let runner: FloatRunner = { input, observe in
            let hit = input.data == poisoned
            try engine(input) { name, t in
                var t = t
                if hit && name == "res" { t.data[5] = -.infinity }
                observe(name, t)
            }
        }
        do {
            _ = try calibrate(prepared.model, inputs: inputs, runner: runner)
            Issue.record("calibrate accepted a tensor holding -inf")
        } catch let e as DynQError {
            #expect(e.message.contains("calibration image 1: tensor 'res' holds -inf at index 5"), "\(e)")
        }
    }

    @Test("CPM fc2 weights of -3.4e38 (finite, so validation passes) overflow the CPM logits: refused, not a trap")
    func hugeCPMWeight() throws {
        var model = smallDyNet()
        // Hidden units near 10 (fc1 bias) times -3.4e38 in every weight of fc2's first row: the logit is -inf.
        model.weights["cpm.fc1.bias"] = Tensor(shape: [4], data: [10, 10, 10, 10])
        for j in 0..<4 { model.weights["cpm.fc2.weight"]!.data[j] = -3.4e38 }
        let inputs = try randomInputs(model.graph, count: 2)
        do {
            _ = try quantize(graph: model.graph, weights: model.weights, calibration: inputs)
            Issue.record("quantize accepted a CPM whose float output is infinite")
        } catch let e as DynQError {
            #expect(e.message.contains("calibration image 0: tensor 'cpm.logits' holds -inf at index 0"), "\(e)")
        }
    }

    @Test("prepare validates the graph before folding: a conv bias shorter than its channels is refused, not a trap")
    func prepareValidatesFirst() throws {
        var model = smallDyNet()
        model.graph.nodes[0].op = .conv2d(Conv2DAttrs(weight: "stem.weight", bias: "short.bias",
                                                      padding: Padding(all: 1)))
        model.weights["short.bias"] = Tensor(shape: [2], data: [0, 0])
        do {
            _ = try prepare(graph: model.graph, weights: model.weights)
            Issue.record("prepare accepted a 2-entry bias for a 6-channel conv")
        } catch let e as DynQError {
            #expect(e.message.contains("short.bias"), "\(e)")
        }
    }

    @Test("folding a batchnorm whose scale overflows float32 is refused naming the batchnorm and its layer")
    func foldingOverflow() throws {
        var model = smallDyNet()
        model.weights["stem.bn.weight"]!.data[0] = 3e38
        model.weights["stem.bn.running_var"]!.data[0] = 0
        do {
            _ = try prepare(graph: model.graph, weights: model.weights)
            Issue.record("prepare accepted folded weights beyond float32")
        } catch let e as DynQError {
            #expect(e.message.contains("batchnorm stem.bn: folding it into stem gives non-finite weights"), "\(e)")
        }
    }
}
