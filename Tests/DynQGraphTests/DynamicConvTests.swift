import DynQCore
import Testing
@testable import DynQGraph

/// The CPM and dynamic convolution. CPMs here have all-zero fc1 weights, so their outputs are the gate applied
/// to fc1_bias: sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(−ln 3) = 1/4.
@Suite struct DynamicConvTests {
    /// One 2×2 channel 1 2 / 3 4.
    let x = T([1, 1, 2, 2], [1, 2, 3, 4])

    /// A sigmoid CPM on a `channels`-channel input whose output is sigmoid(`logits`).
    func cpm(_ logits: [Float], channels: Int = 1) -> (Node, [String: Tensor]) {
        (Node(name: "cpm", op: .cpm(CPMAttrs(fc1Weight: "fc1.w", fc1Bias: "fc1.b", gate: .sigmoid)),
              inputs: ["x"], outputs: ["eta"]),
         ["fc1.w": T([logits.count, channels], [Float](repeating: 0, count: logits.count * channels)),
          "fc1.b": T([logits.count], logits)])
    }

    /// g = 2 kernels of two 1×1 output channels: W[0] = (1, 10), W[1] = (2, 20).
    let kernels = T([2, 2, 1, 1, 1], [1, 10, 2, 20])

    @Test func perChannelMixesEachOutputChannelsOwnCoefficients() throws {
        // η = [η00 η01 η10 η11] = [1/2, 3/4, 1/4, 1/2]:
        //   W_0 = 1/2·1 + 3/4·2 = 2,   W_1 = 1/4·10 + 1/2·20 = 12.5
        // mixed_bias [[1 2] [4 8]]: b_0 = 1/2·1 + 3/4·4 = 3.5, b_1 = 1/4·2 + 1/2·8 = 4.5; bias [0.5 −0.5] → 4, 4.
        let (c, cw) = cpm([0, ln3, -ln3, 0])
        let conv = Node(name: "dyn", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "k", mode: .perChannel,
                                                                           mixedBias: "mb", bias: "b")),
                        inputs: ["x", "eta"], outputs: ["y"])
        let weights = cw.merging(["k": kernels, "mb": T([2, 2], [1, 2, 4, 8]), "b": T([2], [0.5, -0.5])]) { a, _ in a }
        var events: [String] = []
        var fused: Tensor?, fusedBias: Tensor?, coefficients: [Float] = []
        let y = try FloatEngine(graph: makeGraph([1, 1, 2, 2], [c, conv]), weights: weights).run(x) { e in
            switch e {
            case .tensor(let name, _): events.append(name)
            case .coefficients(let node, let values): events.append("coefficients:\(node)"); coefficients = values
            case .fusedKernel(let node, let w, let b): events.append("fused:\(node)"); fused = w; fusedBias = b
            }
        }[0]
        expectClose(y, [1, 2, 2, 2], [6, 8, 10, 12, 16.5, 29, 41.5, 54])
        #expect(events == ["x", "eta", "coefficients:dyn", "fused:dyn", "y"])
        expectClose(T([4], coefficients), [4], [0.5, 0.75, 0.25, 0.5])
        expectClose(try #require(fused), [2, 1, 1, 1], [2, 12.5])
        expectClose(try #require(fusedBias), [2], [4, 4])
    }

    @Test func perLayerSharesCoefficientsAcrossChannels() throws {
        // η = [1/4, 3/4]: W_0 = 1/4·1 + 3/4·2 = 1.75, W_1 = 1/4·10 + 3/4·20 = 17.5; no bias.
        let (c, cw) = cpm([-ln3, ln3])
        let conv = Node(name: "dyn", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "k", mode: .perLayer)),
                        inputs: ["x", "eta"], outputs: ["y"])
        var fusedBias: Tensor? = T([1], [99])
        let y = try FloatEngine(graph: makeGraph([1, 1, 2, 2], [c, conv]), weights: cw.merging(["k": kernels]) { a, _ in a })
            .run(x) { if case .fusedKernel(_, _, let b) = $0 { fusedBias = b } }[0]
        expectClose(y, [1, 2, 2, 2], [1.75, 3.5, 5.25, 7, 17.5, 35, 52.5, 70])
        #expect(fusedBias == nil)
    }

    @Test func oneCPMFeedsTwoDynamicConvsThroughCoefficientOffsets() throws {
        // CPM output (6): [1/2 3/4 1/4 1/2 | 1/4 3/4].
        // dyn1 (per_channel, offset 0) is the first test's conv without biases: channels 2·x and 12.5·x.
        // dyn2 (per_layer, offset 4): kernels W[0] = (1, 0), W[1] = (0, 1) over 2 input channels, so the fused
        // kernel is (1/4, 3/4): y = 1/4·2x + 3/4·12.5x = 9.875x.
        let (c, cw) = cpm([0, ln3, -ln3, 0, -ln3, ln3])
        let dyn1 = Node(name: "dyn1", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "k1", mode: .perChannel)),
                        inputs: ["x", "eta"], outputs: ["h"])
        let dyn2 = Node(name: "dyn2", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "k2", mode: .perLayer, coeffOffset: 4)),
                        inputs: ["h", "eta"], outputs: ["y"])
        let weights = cw.merging(["k1": kernels, "k2": T([2, 1, 2, 1, 1], [1, 0, 0, 1])]) { a, _ in a }
        var coefficients: [String: [Float]] = [:]
        let y = try FloatEngine(graph: makeGraph([1, 1, 2, 2], [c, dyn1, dyn2]), weights: weights).run(x) {
            if case .coefficients(let node, let values) = $0 { coefficients[node] = values }
        }[0]
        expectClose(y, [1, 1, 2, 2], [9.875, 19.75, 29.625, 39.5])
        expectClose(T([2], coefficients["dyn2"] ?? []), [2], [0.25, 0.75])
        #expect(coefficients["dyn1"]?.count == 4)
    }

    @Test func dynamicConvWithGroupsStrideAndPadding() throws {
        // Depthwise (groups 2) 1×1 dynamic conv, stride 2, padding [0, 0, 1, 1], per_layer η = [1/2, 1/2]:
        // kernels W[0] = (2, 4), W[1] = (0, 0) → fused (1, 2). Input channels 1…4 and 5…8 (2×2), padded to
        // 3×3; stride 2 reads pixels (0,0), (0,2)=pad, (2,0)=pad, (2,2)=pad.
        let (c, cw) = cpm([0, 0], channels: 2)
        let conv = Node(name: "dyn", op: .dynamicConv2d(DynamicConv2DAttrs(
            weight: "k", mode: .perLayer,
            stride: Pair(2, 2), padding: Padding(top: 0, left: 0, bottom: 1, right: 1), groups: 2)),
                        inputs: ["x", "eta"], outputs: ["y"])
        let weights = cw.merging(["k": T([2, 2, 1, 1, 1], [2, 4, 0, 0])]) { a, _ in a }
        let y = try FloatEngine(graph: makeGraph([1, 2, 2, 2], [c, conv]), weights: weights)
            .run(T([1, 2, 2, 2], iota(8)))[0]
        expectClose(y, [1, 2, 2, 2], [1, 0, 0, 0, 10, 0, 0, 0])
    }

    @Test func cpmWithHiddenLayerAndGroupedSoftmax() throws {
        // Input channels: [1 2 3 4] (mean 2.5) and [−1 −1 −1 −1] (mean −1).
        // fc1 = identity → h = [2.5, −1]; relu → [2.5, 0].
        // fc2 rows: (0 0), (0 0), (1 0), (0 5); fc2_bias [0, ln 3, −2.5, ln 3]
        //   → [0, ln 3, 0, ln 3] (the 5 is multiplied by relu(−1) = 0).
        // softmax over groups of 2: [1/4 3/4 1/4 3/4]; over the whole vector: [1 3 1 3] / 8.
        let x = T([1, 2, 2, 2], [1, 2, 3, 4, -1, -1, -1, -1])
        let weights: [String: Tensor] = [
            "w1": T([2, 2], [1, 0, 0, 1]), "b1": T([2], [0, 0]),
            "w2": T([4, 2], [0, 0, 0, 0, 1, 0, 0, 5]), "b2": T([4], [0, ln3, -2.5, ln3]),
        ]
        func cpm(_ gate: Gate) -> Op {
            .cpm(CPMAttrs(fc1Weight: "w1", fc1Bias: "b1", fc2Weight: "w2", fc2Bias: "b2", gate: gate))
        }
        expectClose(try runOp(cpm(.softmax(temperature: 1, group: 2)), x, weights: weights), [1, 4], [0.25, 0.75, 0.25, 0.75])
        expectClose(try runOp(cpm(.softmax(temperature: 1, group: Gate.wholeOutputGroup)), x, weights: weights),
                    [1, 4], [0.125, 0.375, 0.125, 0.375])
        // Temperature 0.5 doubles the logits: softmax([0, 2 ln 3]) = [1, 9] / 10.
        expectClose(try runOp(cpm(.softmax(temperature: 0.5, group: 2)), x, weights: weights), [1, 4], [0.1, 0.9, 0.1, 0.9])
        // Sigmoid: [1/2, 3/4, 1/2, 3/4].
        expectClose(try runOp(cpm(.sigmoid), x, weights: weights), [1, 4], [0.5, 0.75, 0.5, 0.75])
    }
}

@Suite struct EngineTests {
    @Test func observerSeesEveryProducedTensorInOrder() throws {
        let g = makeGraph([1, 2, 1, 1], [
            Node(name: "split", op: .channelSplit(sizes: [1, 1]), inputs: ["x"], outputs: ["a", "b"]),
            Node(name: "sum", op: .add, inputs: ["a", "b"], outputs: ["s"]),
            Node(name: "r", op: .relu, inputs: ["s"], outputs: ["y"]),
        ])
        var names: [String] = []
        let y = try FloatEngine(graph: g, weights: [:]).run(T([1, 2, 1, 1], [3, -5])) {
            if case .tensor(let n, _) = $0 { names.append(n) }
        }
        #expect(names == ["x", "a", "b", "s", "y"])
        expectClose(y[0], [1, 1, 1, 1], [0])
    }

    @Test func inputMayOmitTheBatchDimension() throws {
        let y = try runOp(.relu, T([1, 1, 1, 2], [-1, 1]))
        let e = try FloatEngine(graph: makeGraph([1, 1, 1, 2], [Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"])]),
                                weights: [:])
        #expect(try e.run(T([1, 1, 2], [-1, 1]))[0] == y)
    }

    @Test func wrongInputShapeIsAnError() throws {
        let e = try FloatEngine(graph: makeGraph([1, 1, 1, 2], [Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"])]),
                                weights: [:])
        expectError("input has shape [1, 1, 2, 1]", "expects [1, 1, 1, 2]") { _ = try e.run(T([1, 1, 2, 1], [0, 0])) }
    }

    @Test func preprocessFollowsTheGraphInput() throws {
        // (p · 1/255 − mean[c]) / std[c] with per-channel mean and std.
        var g = makeGraph([1, 2, 1, 2], [Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"])])
        g.input.preprocess = Preprocess(scale: 1.0 / 255, mean: [0, 0.5], std: [1, 0.25])
        let t = try g.preprocess([0, 255, 0, 255])
        expectClose(t, [1, 2, 1, 2], [0, 1, -2, 2])
        expectError("image has 3 pixels") { _ = try g.preprocess([0, 0, 0]) }
    }
}
