import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

@Suite struct CalibrationTests {
    /// Calibration runs the float engine on several threads and merges the samples in input order: the
    /// statistics, and so the model, do not depend on the number of workers.
    @Test(arguments: [2, 3, 8])
    func statisticsDoNotDependOnTheWorkerCount(_ workers: Int) throws {
        let model = smallDyNet(seed: 31)
        let prepared = try prepare(graph: model.graph, weights: model.weights)
        let inputs = try randomInputs(model.graph, count: 37)
        func stats(_ w: Int) throws -> CalibrationStats {
            try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model), workers: w)
        }
        let serial = try stats(1), parallel = try stats(workers)
        #expect(serial.samples == 37 && parallel.samples == 37)
        #expect(Set(serial.histograms.keys) == Set(parallel.histograms.keys))
        for (name, h) in serial.histograms {
            let p = try #require(parallel.histograms[name])
            #expect(h.counts == p.counts && h.lo == p.lo && h.width == p.width && h.exact == p.exact, "\(name)")
        }
        #expect(serial.coefficients == parallel.coefficients)
        #expect(serial.coefficientPrecision == parallel.coefficientPrecision)
        let a = try quantize(prepared, stats: serial).0.serialized()
        let b = try quantize(prepared, stats: parallel).0.serialized()
        #expect(a == b)
    }

    /// The outputs of global average pooling (the graph's `global_avgpool` and each CPM's pool) keep their whole
    /// observed range with every method: they feed the classifier and the coefficient predictors.
    @Test(arguments: [CalibrationMethod.percentile(90), .mse, .minmax])
    func globalPoolOutputsAreNeverClipped(_ method: CalibrationMethod) throws {
        let model = smallDyNet(seed: 32)
        let inputs = try randomInputs(model.graph, count: 24)
        let (_, report) = try quantize(graph: model.graph, weights: model.weights, calibration: inputs,
                                       options: QuantizationOptions(method: method))
        let pools = report.layers.filter { $0.op == "global_avgpool" }
        #expect(pools.count == 2, "the graph's gap and the CPM's pool")
        for p in pools {
            let chosen = try #require(p.outputRange), observed = try #require(p.observedRange)
            #expect(chosen.max >= observed.max && chosen.min <= Swift.min(observed.min, 0), "\(p.name): \(chosen) vs \(observed)")
        }
        // A 90th percentile does clip the tensors that are not pooled outputs.
        if case .percentile = method {
            let clipped = report.layers.filter { l in
                guard let c = l.outputRange, let o = l.observedRange, l.op != "global_avgpool" else { return false }
                return c.max < o.max
            }
            #expect(!clipped.isEmpty)
        }
    }

    /// docs/calibration.md: percentile 99.99 has the best mean and worst-model agreement of the three methods.
    @Test func theDefaultMethodIsTheMeasuredBest() {
        #expect(QuantizationOptions().method == .percentile(99.99))
        #expect(QuantizationOptions().method.name == "percentile")
    }
}
