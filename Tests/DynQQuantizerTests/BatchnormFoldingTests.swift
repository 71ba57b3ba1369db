import DynQGraph
import Testing
@testable import DynQQuantizer

@Suite struct BatchnormFoldingTests {
    /// Every output of the folded graph equals the unfolded one (FloatEngine) within 1e-5.
    @Test(arguments: [CoefficientMode.perChannel, .perLayer])
    func foldedGraphMatches(_ mode: CoefficientMode) throws {
        let model = smallDyNet(seed: 3, mode: mode)
        let (folded, folds) = try foldBatchnorm(model)
        #expect(folds == [BatchnormFold(batchnorm: "stem.bn", into: "stem"),
                          BatchnormFold(batchnorm: "dyn1.bn", into: "dyn1")])
        #expect(!folded.graph.nodes.contains { if case .batchnorm = $0.op { return true }; return false })
        let a = try FloatEngine(graph: model.graph, weights: model.weights)
        let b = try FloatEngine(graph: folded.graph, weights: folded.weights)
        for x in try randomInputs(model.graph, count: 8) {
            let ya = try a.run(x), yb = try b.run(x)
            for (p, q) in zip(ya, yb) { #expect(maxAbsDiff(p, q) <= 1e-5) }
        }
    }

    /// Intermediate tensors too: the folded conv writes the batchnorm's output name.
    @Test func foldedTensorsMatch() throws {
        let model = smallDyNet(seed: 4)
        let (folded, _) = try foldBatchnorm(model)
        let x = try randomInputs(model.graph, count: 1)[0]
        var ta: [String: Tensor] = [:], tb: [String: Tensor] = [:]
        _ = try FloatEngine(graph: model.graph, weights: model.weights).run(x) {
            if case .tensor(let n, let t) = $0 { ta[n] = t }
        }
        _ = try FloatEngine(graph: folded.graph, weights: folded.weights).run(x) {
            if case .tensor(let n, let t) = $0 { tb[n] = t }
        }
        for name in ["stem.bn", "dyn1.bn", "dyn1.relu6", "dyn2.relu", "logits"] {
            let (p, q) = (try #require(ta[name]), try #require(tb[name]))
            #expect(maxAbsDiff(p, q) <= 1e-5, "\(name)")
        }
    }

    /// The original weights are untouched; the BN parameters are gone; a conv without bias gets one.
    @Test func weightsAreRenamedNotMutated() throws {
        let model = smallDyNet(seed: 5)
        let (folded, _) = try foldBatchnorm(model)
        guard case .conv2d(let c) = folded.graph.nodes[0].op else { Issue.record("stem is not a conv"); return }
        #expect(c.weight == "stem.weight.bnfold")
        #expect(c.bias == "stem.bias.bnfold")
        #expect(folded.weights["stem.bn.weight"] == nil)
        #expect(folded.weights["stem.weight"] == nil)   // no longer read by anyone
        guard case .dynamicConv2d(let d) = folded.graph.nodes.first(where: { $0.name == "dyn1" })?.op else { Issue.record("no dyn1"); return }
        #expect(d.mixedBias == "dyn1.mixed_bias.bnfold")
        // W'[t, o] = W[t, o] · γ/σ for every kernel t.
        let gamma = model.weights["dyn1.bn.weight"]!, v = model.weights["dyn1.bn.running_var"]!
        let w = model.weights["dyn1.weight"]!, fw = folded.weights[d.weight]!
        for t in 0..<3 {
            for o in 0..<6 {
                let f = Double(gamma.data[o]) / (Double(v.data[o]) + 1e-5).squareRoot()
                let i = (t * 6 + o) * 54
                #expect(abs(Double(fw.data[i]) - Double(w.data[i]) * f) < 1e-6)
            }
        }
    }

    @Test func refusesBatchnormAfterNonConv() throws {
        var model = smallDyNet()
        // Put a batchnorm after the maxpool.
        let i = model.graph.nodes.firstIndex { $0.name == "hs" }!
        model.graph.nodes[i] = Node(name: "hs", op: .batchnorm(BatchnormAttrs(
            weight: "stem.bn.weight", bias: "stem.bn.bias", runningMean: "stem.bn.running_mean",
            runningVar: "stem.bn.running_var")), inputs: ["pool"], outputs: ["hs"])
        #expect(throws: DynQError.self) { try foldBatchnorm(model) }
        do { _ = try foldBatchnorm(model) } catch let e as DynQError {
            #expect(e.message.contains("batchnorm hs"))
            #expect(e.message.contains("maxpool"))
        }
    }

    @Test func refusesSharedConvOutput() throws {
        var model = smallDyNet()
        // The stem's raw output is also read by the residual add.
        let i = model.graph.nodes.firstIndex { $0.name == "res" }!
        model.graph.nodes[i].inputs = ["dyn2.relu", "stem"]
        #expect(throws: DynQError.self) { try foldBatchnorm(model) }
    }

    @Test func fusionPlan() throws {
        let (folded, _) = try foldBatchnorm(smallDyNet())
        let plan = planActivationFusion(folded.graph)
        #expect(plan == ["stem.relu": "stem", "dyn1.relu6": "dyn1", "dyn2.relu": "dyn2"])
    }
}
