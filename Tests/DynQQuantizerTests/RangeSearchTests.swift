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

    /// The output divergence is KL(softmax(float) ‖ softmax(int8)): zero when exact, and a near tie closed by
    /// 0.1 costs more than a class 13 below the top moving up by 5; a flipped near tie costs more still.
    @Test func outputDivergenceIsTheSoftmaxKL() {
        let f: [Float] = [3, 2.9, -10]
        let exact = outputDivergence(float: f, int8: [3, 2.9, -10])
        let nearTieClosed = outputDivergence(float: f, int8: [3, 3.0, -10])
        let farMoved = outputDivergence(float: f, int8: [3, 2.9, -5])
        let flipped = outputDivergence(float: f, int8: [2.9, 3, -10])
        #expect(exact < 1e-12)
        #expect(abs(nearTieClosed - 0.0012484391) < 1e-8)       // numpy: Σ p·(log p − log q)
        #expect(abs(farMoved - 0.0001689756) < 1e-8)
        #expect(abs(flipped - 0.0049958316) < 1e-8)
    }
}
