import DynQCore
import Testing
@testable import DynQGraph

/// `inferShapes` refuses graphs that cannot run, naming the node and the problem.
@Suite struct GraphValidationTests {
    func node(_ name: String, _ op: Op, _ inputs: [String], _ outputs: [String]) -> Node {
        Node(name: name, op: op, inputs: inputs, outputs: outputs)
    }
    let conv = Conv2DAttrs(weight: "w", bias: "b")
    let weights: [String: [Int]] = ["w": [4, 2, 3, 3], "b": [4]]

    func check(_ nodes: [Node], outputs: [String]? = nil, weights: [String: [Int]]? = nil,
               input: [Int] = [1, 2, 8, 8]) throws -> [String: [Int]] {
        try inferShapes(graph: makeGraph(input, nodes, outputs: outputs), weightShapes: weights ?? self.weights, file: "g.json")
    }

    @Test func infersEveryTensorShape() throws {
        let shapes = try check([
            node("c", .conv2d(Conv2DAttrs(weight: "w", stride: Pair(2, 2), padding: Padding(top: 1, left: 1, bottom: 0, right: 0))), ["x"], ["a"]),
            node("p", .maxpool(PoolAttrs(kernel: Pair(2, 2))), ["a"], ["b"]),
            node("s", .channelSplit(sizes: [1, 3]), ["b"], ["s1", "s2"]),
            node("k", .concat, ["s2", "s1", "s1"], ["k"]),
            node("f", .flatten, ["k"], ["y"]),
        ])
        // conv: (8 + 1 − 3) / 2 + 1 = 4; pool: 2; split 1 + 3; concat 3 + 1 + 1 = 5; flatten 5·2·2 = 20.
        #expect(shapes == ["x": [1, 2, 8, 8], "a": [1, 4, 4, 4], "b": [1, 4, 2, 2], "s1": [1, 1, 2, 2], "s2": [1, 3, 2, 2],
                           "k": [1, 5, 2, 2], "y": [1, 20]])
    }

    @Test func missingTensor() {
        expectError("g.json: node 'r' (relu): input 'nope' is not the graph input or an output of an earlier node") {
            _ = try check([node("r", .relu, ["nope"], ["y"])])
        }
    }

    @Test func tensorsUsedBeforeTheyAreProduced() {
        expectError("node 'a' (relu): input 'b' is not the graph input or an output of an earlier node") {
            _ = try check([node("a", .relu, ["b"], ["y"]), node("b", .relu, ["x"], ["b"])])
        }
    }

    @Test func duplicateTensorsAndNodes() {
        expectError("node 'r2' (relu): output 'y' is already produced earlier in the graph") {
            _ = try check([node("r1", .relu, ["x"], ["y"]), node("r2", .relu, ["x"], ["y"])])
        }
        expectError("node 'r' (relu): output 'x' is already produced earlier in the graph") {
            _ = try check([node("r", .relu, ["x"], ["x"])], outputs: ["x"])
        }
        expectError("node 'r' (relu): duplicate node name 'r'") {
            _ = try check([node("r", .relu, ["x"], ["a"]), node("r", .relu, ["a"], ["y"])])
        }
    }

    @Test func outputsNoNodeProduces() {
        expectError("g.json: graph output 'logits' is not produced by any node") {
            _ = try check([node("r", .relu, ["x"], ["y"])], outputs: ["logits"])
        }
    }

    @Test func missingAndMisshapenWeights() {
        expectError("node 'c' (conv2d): missing weight 'w' (weight)") { _ = try check([node("c", .conv2d(conv), ["x"], ["y"])], weights: [:]) }
        expectError("node 'c' (conv2d): weight 'b' (bias) has shape [3], expected [4]") {
            _ = try check([node("c", .conv2d(conv), ["x"], ["y"])], weights: ["w": [4, 2, 3, 3], "b": [3]])
        }
        expectError("weight 'w' has shape [4, 2, 3], expected [O, C/groups, kh, kw]") {
            _ = try check([node("c", .conv2d(conv), ["x"], ["y"])], weights: ["w": [4, 2, 3], "b": [4]])
        }
    }

    @Test func channelMismatch() {
        expectError("node 'c' (conv2d): weight 'w' expects 3 input channels (3 per group × 1 groups), the input has 2") {
            _ = try check([node("c", .conv2d(conv), ["x"], ["y"])], weights: ["w": [4, 3, 3, 3], "b": [4]])
        }
        expectError("node 'bn' (batchnorm): weight 'g' (weight) has shape [3], expected [2]") {
            _ = try check([node("bn", .batchnorm(BatchnormAttrs(weight: "g", bias: "b", runningMean: "m", runningVar: "v")), ["x"], ["y"])],
                          weights: ["g": [3], "b": [2], "m": [2], "v": [2]])
        }
        expectError("node 'fc' (linear): weight 'w' has shape [10, 64], expected [O, 128]") {
            _ = try check([node("f", .flatten, ["x"], ["f"]), node("fc", .linear(LinearAttrs(weight: "w")), ["f"], ["y"])],
                          weights: ["w": [10, 64]])
        }
        expectError("node 'fc' (linear): input must be [1, F] (insert a flatten), not [1, 2, 8, 8]") {
            _ = try check([node("fc", .linear(LinearAttrs(weight: "w")), ["x"], ["y"])], weights: ["w": [10, 128]])
        }
    }

    @Test func groupsMustDivideChannels() {
        let grouped = Conv2DAttrs(weight: "w", groups: 2)
        expectError("node 'c' (conv2d): groups 2 does not divide the 3 input channels") {
            _ = try check([node("c", .conv2d(grouped), ["x"], ["y"])], weights: ["w": [4, 1, 1, 1]], input: [1, 3, 4, 4])
        }
        expectError("groups 2 does not divide the 3 output channels of 'w'") {
            _ = try check([node("c", .conv2d(grouped), ["x"], ["y"])], weights: ["w": [3, 1, 1, 1]])
        }
        expectError("node 's' (channel_shuffle): groups 3 does not divide the 2 channels") {
            _ = try check([node("s", .channelShuffle(groups: 3), ["x"], ["y"])])
        }
    }

    @Test func addAndConcatShapes() {
        expectError("node 'a' (add): cannot add shapes [1, 4, 6, 6] and [1, 2, 8, 8]") {
            _ = try check([node("c", .conv2d(conv), ["x"], ["c"]), node("a", .add, ["c", "x"], ["y"])])
        }
        expectError("node 'k' (concat): cannot concatenate shapes [1, 4, 6, 6], [1, 2, 8, 8] along channels") {
            _ = try check([node("c", .conv2d(conv), ["x"], ["c"]), node("k", .concat, ["c", "x"], ["y"])])
        }
    }

    @Test func splitSizesMustSumToChannels() {
        expectError("node 's' (channel_split): split sizes [1, 2] sum to 3, the input has 2 channels") {
            _ = try check([node("s", .channelSplit(sizes: [1, 2]), ["x"], ["y", "z"])])
        }
    }

    @Test func nonPositiveOutputSizes() {
        expectError("node 'c' (conv2d): kernel 9×9 (dilation 1×1) does not fit the padded input 8×8") {
            _ = try check([node("c", .conv2d(Conv2DAttrs(weight: "w")), ["x"], ["y"])], weights: ["w": [4, 2, 9, 9]])
        }
        expectError("node 'p' (maxpool): kernel 16×16 does not fit the padded input 8×8") {
            _ = try check([node("p", .maxpool(PoolAttrs(kernel: Pair(16, 16))), ["x"], ["y"])])
        }
        expectError("node 'p' (avgpool): padding [2, 0, 0, 0] exceeds half the kernel 2×2") {
            _ = try check([node("p", .avgpool(PoolAttrs(kernel: Pair(2, 2), padding: Padding(top: 2, left: 0, bottom: 0, right: 0))), ["x"], ["y"])])
        }
    }

    @Test func absurdSizes() {
        expectError("input 'x': shape [1, 65536, 65536, 65536] is absurdly large") {
            _ = try check([node("r", .relu, ["x"], ["y"])], input: [1, 65536, 65536, 65536])
        }
        expectError("weight 'w' has absurd shape [1048576, 1048576, 3, 3]") {
            _ = try check([node("c", .conv2d(Conv2DAttrs(weight: "w")), ["x"], ["y"])], weights: ["w": [1 << 20, 1 << 20, 3, 3]])
        }
        // 2 → 2^27 channels over an 8×8 image: 2^33 output elements (the weight's 2^28 is at the limit).
        expectError("node 'c' (conv2d): output 'y' would have absurd shape [1, 134217728, 8, 8]") {
            _ = try check([node("c", .conv2d(Conv2DAttrs(weight: "w")), ["x"], ["y"])], weights: ["w": [1 << 27, 2, 1, 1]])
        }
    }

    // Dynamic convolution and CPM.

    let cpm = CPMAttrs(fc1Weight: "f1", fc1Bias: "f1b", gate: .sigmoid)
    func dynamic(_ offset: Int, _ mode: CoefficientMode = .perChannel) -> Op {
        .dynamicConv2d(DynamicConv2DAttrs(weight: "k", mode: mode, coeffOffset: offset, mixedBias: "mb"))
    }

    @Test func coefficientSlicesMustFitTheCPMOutput() throws {
        // CPM N = 10; per_channel O = 4, g = 2 reads 8; per_layer reads 2.
        let w: [String: [Int]] = ["f1": [10, 2], "f1b": [10], "k": [2, 4, 2, 3, 3], "mb": [2, 4]]
        _ = try check([node("m", .cpm(cpm), ["x"], ["c"]), node("d", dynamic(2), ["x", "c"], ["y"])], weights: w)
        _ = try check([node("m", .cpm(cpm), ["x"], ["c"]), node("d", dynamic(8, .perLayer), ["x", "c"], ["y"])], weights: w)
        expectError("node 'd' (dynamic_conv2d): reads coefficients 3..<11 (per_channel: O·g = 4·2) but 'c' has only 10") {
            _ = try check([node("m", .cpm(cpm), ["x"], ["c"]), node("d", dynamic(3), ["x", "c"], ["y"])], weights: w)
        }
        expectError("reads coefficients 9..<11 (per_layer: g = 2) but 'c' has only 10") {
            _ = try check([node("m", .cpm(cpm), ["x"], ["c"]), node("d", dynamic(9, .perLayer), ["x", "c"], ["y"])], weights: w)
        }
        expectError("node 'd' (dynamic_conv2d): weight 'mb' (mixed_bias) has shape [4, 2], expected [2, 4]") {
            _ = try check([node("m", .cpm(cpm), ["x"], ["c"]), node("d", dynamic(0), ["x", "c"], ["y"])],
                          weights: w.merging(["mb": [4, 2]]) { $1 })
        }
        expectError("node 'd' (dynamic_conv2d): coefficients 'x' must be the output of a cpm node") {
            _ = try check([node("d", dynamic(0), ["x", "x"], ["y"])], weights: w)
        }
    }

    @Test func cpmShapes() {
        expectError("node 'm' (cpm): weight 'f1' (fc1_weight) has shape [10, 3], expected [H, 2]") {
            _ = try check([node("m", .cpm(cpm), ["x"], ["y"])], weights: ["f1": [10, 3], "f1b": [10]])
        }
        let softmax = CPMAttrs(fc1Weight: "f1", fc2Weight: "f2", gate: .softmax(temperature: 1, group: 4))
        expectError("node 'm' (cpm): softmax_group 4 does not divide the 6 coefficients") {
            _ = try check([node("m", .cpm(softmax), ["x"], ["y"])], weights: ["f1": [3, 2], "f2": [6, 3]])
        }
        expectError("weight 'f2' (fc2_weight) has shape [6, 4], expected [N, 3]") {
            _ = try check([node("m", .cpm(softmax), ["x"], ["y"])], weights: ["f1": [3, 2], "f2": [6, 4]])
        }
    }

    @Test func weightValuesMustBeUsable() {
        let g = makeGraph([1, 1, 2, 2], [node("bn", .batchnorm(BatchnormAttrs(weight: "g", bias: "b", runningMean: "m", runningVar: "v")), ["x"], ["y"])])
        let good: [String: Tensor] = ["g": T([1], [1]), "b": T([1], [0]), "m": T([1], [0]), "v": T([1], [1])]
        expectError("node 'bn' (batchnorm): weight 'm' holds NaN or infinite values") {
            _ = try inferShapes(graph: g, weights: good.merging(["m": T([1], [.nan])]) { $1 })
        }
        expectError("node 'bn' (batchnorm): running_var 'v' has negative entries") {
            _ = try inferShapes(graph: g, weights: good.merging(["v": T([1], [-1])]) { $1 })
        }
    }

    @Test func preprocessMustMatchTheChannels() {
        var g = makeGraph([1, 2, 2, 2], [node("r", .relu, ["x"], ["y"])])
        g.input.preprocess.std = [1, 2, 3]
        expectError("input.preprocess.std has 3 entries; the input has 2 channels") { _ = try inferShapes(graph: g, weights: [:]) }
    }
}
