import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// quantizer/Equalization.swift: cross-layer equalization of activation ranges.
@Suite(.serialized) struct EqualizationTests {
    /// On the DyNet fixture: the five conv → ReLU → {depthwise dynamic conv, pointwise dynamic conv, CPM} pairs are
    /// equalized (the tensors also read by a residual add are not), each tensor's channel spread shrinks, and the
    /// equalized float model computes what the original computes (ReLU is positively homogeneous).
    @Test func fixturePairsAreEqualizedWithoutChangingTheFloatModel() throws {
        guard Fixture.exists("fmnist") else { print("fixture fmnist absent: skipped"); return }
        let f = try Fixture("fmnist")
        let inputs = try f.calibInputs(64)
        let prepared = try prepare(graph: f.graph, weights: f.weights)
        let stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model))
        let (equalized, pairs) = try equalizeActivations(prepared, stats: stats)
        #expect(pairs.map(\.tensor) == ["stem.2", "blocks.0.body.2", "blocks.1.body.2", "blocks.2.body.2",
                                        "blocks.3.body.2"])
        for p in pairs { #expect(p.spreadAfter < 0.75 * p.spreadBefore, "\(p)") }
        let a = try FloatEngine(graph: prepared.model.graph, weights: prepared.model.weights)
        let b = try FloatEngine(graph: equalized.model.graph, weights: equalized.model.weights)
        var worst: Float = 0
        for x in inputs.prefix(16) { worst = max(worst, maxAbsDiff(try a.run(x)[0], try b.run(x)[0])) }
        print("equalization: max |logit change| \(worst)")
        #expect(worst < 1e-4)
        // Calibrated again, the equalized tensors' channel maxima are as planned.
        let again = try calibrate(equalized.model, inputs: inputs, runner: try floatEngineRunner(equalized.model))
        for p in pairs {
            #expect(p.renamed == p.tensor + ".equalized")
            #expect(again.channelMaxAbs[p.tensor] == nil)
            let r = try #require(again.channelMaxAbs[p.renamed]).filter { $0 > 0 }
            #expect(abs((r.max()! / r.min()!) / p.spreadAfter - 1) < 1e-3, "\(p.tensor)")
        }
    }

    /// Tensors read by an add, and ReLU6 outputs, are left alone: the small DyNet has no eligible pair, and
    /// equalization returns its weights unchanged.
    @Test func addReadersAndRelu6AreNotEqualized() throws {
        let m = smallDyNet(seed: 6)
        let prepared = try prepare(graph: m.graph, weights: m.weights)
        let stats = try calibrate(prepared.model, inputs: try randomInputs(m.graph, count: 4),
                                  runner: try floatEngineRunner(prepared.model))
        let (equalized, pairs) = try equalizeActivations(prepared, stats: stats)
        #expect(pairs.isEmpty)
        #expect(equalized.model.weights == prepared.model.weights)
        #expect(equalized.model.graph.nodes.map(\.op) == prepared.model.graph.nodes.map(\.op))
    }
}
