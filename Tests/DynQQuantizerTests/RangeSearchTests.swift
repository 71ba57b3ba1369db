import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// quantizer/RangeSearch.swift: clipping ranges chosen by the int8 model's top-1 risk on the calibration images.
@Suite(.serialized) struct RangeSearchTests {
    /// On the SiLU fixture's first 100 calibration images: the search changes some ranges, its reported risk is
    /// lower than the method's, and the model quantized with the returned overrides has exactly that risk when
    /// the runtime runs it again (the overrides are what the builder uses).
    @Test func searchedRangesLowerTheCalibrationRiskAndAreWhatTheBuilderUses() throws {
        guard Fixture.exists("fmnist_silu") else { print("fixture fmnist_silu absent: skipped"); return }
        let f = try Fixture("fmnist_silu")
        let n = 100
        let inputs = try f.calibInputs(n)
        let prepared = try prepare(graph: f.graph, weights: f.weights)
        let stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model))
        let engine = try FloatEngine(graph: prepared.model.graph, weights: prepared.model.weights)
        let floatOutputs = try inputs.map { try engine.run($0)[0].data }
        let options = QuantizationOptions()
        let result = try searchRanges(prepared, stats: stats, options: options, images: f.calib,
                                      floatOutputs: floatOutputs, workers: 2)
        #expect(!result.overrides.isEmpty)
        #expect(result.lossAfter < result.lossBefore, "\(result.lossBefore) -> \(result.lossAfter)")
        #expect(result.agreeAfter >= result.agreeBefore)

        let images = try hwcImages(f.calib, count: n)
        var searched = options
        searched.rangeOverrides = result.overrides
        let (md, _) = try quantize(prepared, stats: stats, options: searched)
        let again = try outputRisk(modelBytes: try md.serialized(), images: images, floatOutputs: floatOutputs,
                                   workers: 1)
        #expect(again.loss == result.lossAfter && again.agree == result.agreeAfter)
        let (plain, _) = try quantize(prepared, stats: stats, options: options)
        let before = try outputRisk(modelBytes: try plain.serialized(), images: images, floatOutputs: floatOutputs,
                                    workers: 1)
        #expect(before.loss == result.lossBefore && before.agree == result.agreeBefore)
    }

    /// The risk weighs near-tie margins most and ignores a class far below the top.
    @Test func outputRiskWeighsNearTiesMost() {
        let f: [Float] = [3, 2.9, -10]
        let exact = outputDivergence(float: f, int8: [3, 2.9, -10])
        let nearTieMoved = outputDivergence(float: f, int8: [3, 3.0, -10])      // margin 0.1 → 0.0
        let farMoved = outputDivergence(float: f, int8: [3, 2.9, -5])           // margin 13 → 8
        #expect(exact == 0)
        #expect(nearTieMoved > 0.009 && nearTieMoved < 0.0101)
        #expect(farMoved < 1e-4)
    }
}
