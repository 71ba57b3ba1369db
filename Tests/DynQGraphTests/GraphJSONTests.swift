import DynQCore
import Foundation
import Testing
@testable import DynQGraph

/// A graph document with the given node objects (JSON text) after a 1×2×4×4 input "x".
func graphDocument(_ nodes: String, outputs: String = #"["y"]"#, extra: String = "") -> String {
    """
    {"format": "dynq-graph", "version": 1, "name": "t",\(extra)
     "input": {"name": "x", "shape": [1, 2, 4, 4], "layout": "NCHW"},
     "outputs": \(outputs),
     "nodes": [\(nodes)]}
    """
}

func decode(_ text: String) throws -> Graph { try decodeGraph(try JSON.parse(text, file: "g.json"), file: "g.json") }

@Suite struct GraphDecodingTests {
    @Test func decodesTopLevelAndAppliesDefaults() throws {
        let g = try decode("""
            {"format": "dynq-graph", "version": 1, "name": "demo",
             "input": {"name": "x", "shape": [1, 3, 8, 8], "layout": "NCHW",
                       "preprocess": {"scale": 0.00392156862745098, "mean": [0.5, 0.4, 0.3], "std": [0.25]}},
             "outputs": ["y"], "classes": ["cat", "dog"],
             "nodes": [
               {"name": "c", "op": "conv2d", "inputs": ["x"], "outputs": ["a"], "weight": "c.w"},
               {"name": "p", "op": "maxpool", "inputs": ["a"], "outputs": ["b"], "kernel": [2, 2]},
               {"name": "q", "op": "avgpool", "inputs": ["b"], "outputs": ["d"], "kernel": [3, 1], "padding": [1, 0, 1, 0],
                "count_include_pad": false},
               {"name": "m", "op": "cpm", "inputs": ["d"], "outputs": ["e"], "fc1_weight": "f", "gate": "softmax"},
               {"name": "s", "op": "softmax", "inputs": ["e"], "outputs": ["y"]}
             ]}
            """)
        #expect(g.name == "demo")
        #expect(g.input == InputSpec(name: "x", shape: [1, 3, 8, 8],
                                     preprocess: Preprocess(scale: Float(0.00392156862745098), mean: [0.5, 0.4, 0.3], std: [0.25])))
        #expect(g.classes == ["cat", "dog"])
        #expect(g.nodes[0].op == .conv2d(Conv2DAttrs(weight: "c.w")))
        #expect(g.nodes[1].op == .maxpool(PoolAttrs(kernel: Pair(2, 2), stride: Pair(2, 2))))
        #expect(g.nodes[2].op == .avgpool(PoolAttrs(kernel: Pair(3, 1), stride: Pair(3, 1),
                                                    padding: Padding(top: 1, left: 0, bottom: 1, right: 0), countIncludePad: false)))
        #expect(g.nodes[3].op == .cpm(CPMAttrs(fc1Weight: "f", gate: .softmax(temperature: 1, group: Gate.wholeOutputGroup))))
        #expect(g.nodes[4].op == .softmax(temperature: 1))
    }

    @Test func preprocessDefaults() throws {
        let g = try decode(graphDocument(#"{"name": "r", "op": "relu", "inputs": ["x"], "outputs": ["y"]}"#))
        #expect(g.input.preprocess == Preprocess(scale: 1, mean: [0], std: [1]))
    }

    @Test func encodeThenDecodeIsIdentity() throws {
        let g = try loadGraph(repositoryRoot + "/fixtures/ops/mini_dynet/graph.json")
        let text = encodeGraph(g).serialized(pretty: true)
        #expect(try decode(text) == g)
        // Deterministic: encoding twice gives the same bytes.
        #expect(encodeGraph(try decode(text)).serialized(pretty: true) == text)
    }

    @Test func everyOpRoundTrips() throws {
        let ops: [Op] = [
            .conv2d(Conv2DAttrs(weight: "w", bias: "b", stride: Pair(2, 1), padding: Padding(top: 0, left: 1, bottom: 2, right: 3),
                                                                               dilation: Pair(1, 2), groups: 2)),
            .dynamicConv2d(DynamicConv2DAttrs(weight: "w", mode: .perLayer, coeffOffset: 5, mixedBias: "mb", bias: "b")),
            .cpm(CPMAttrs(fc1Weight: "a", fc1Bias: "b", fc2Weight: "c", fc2Bias: "d", gate: .softmax(temperature: 0.3, group: 4))),
            .cpm(CPMAttrs(fc1Weight: "a", gate: .sigmoid)),
            .batchnorm(BatchnormAttrs(weight: "g", bias: "b", runningMean: "m", runningVar: "v", eps: 1e-3)),
            .relu, .relu6, .hardswish, .hardsigmoid, .silu, .sigmoid, .gelu, .leakyRelu(negativeSlope: 0.2),
            .add, .concat, .globalAvgpool, .flatten, .channelShuffle(groups: 3), .channelSplit(sizes: [1, 2]),
            .maxpool(PoolAttrs(kernel: Pair(3, 3), stride: Pair(2, 2), padding: Padding(all: 1))),
            .avgpool(PoolAttrs(kernel: Pair(2, 2), countIncludePad: false)),
            .linear(LinearAttrs(weight: "w")), .softmax(temperature: 2.5),
        ]
        let nodes = ops.enumerated().map { k, op -> Node in
            let inputs = [.add, .dynamicConv2d(DynamicConv2DAttrs(weight: "w", mode: .perLayer, coeffOffset: 5, mixedBias: "mb", bias: "b"))]
                .contains(op) ? ["x", "x"] : ["x"]
            let outputs: [String]
            if case .channelSplit(let s) = op { outputs = s.indices.map { "y\(k).\($0)" } } else { outputs = ["y\(k)"] }
            return Node(name: "n\(k)", op: op, inputs: inputs, outputs: outputs)
        }
        let g = Graph(name: "all", input: InputSpec(name: "x", shape: [1, 2, 4, 4]), outputs: ["y0"], nodes: nodes)
        #expect(try decodeGraph(try JSON.parse(encodeGraph(g).serialized())) == g)
    }

    @Test func writeThenLoad() throws {
        let dir = try temporaryDirectory()
        let g = try decode(graphDocument(#"{"name": "r", "op": "relu", "inputs": ["x"], "outputs": ["y"]}"#))
        try writeGraph(g, to: dir + "/g.json")
        #expect(try loadGraph(dir + "/g.json") == g)
    }

    @Test(arguments: [
        (#"{"name": "n", "op": "convolution", "inputs": ["x"], "outputs": ["y"]}"#,
         "g.json: node 'n': unknown op 'convolution' (known ops: add, avgpool,"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"]}"#,
         "g.json: node 'n' (conv2d): missing field 'weight'"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"], "weight": "w", "strides": [2, 2]}"#,
         "node 'n' (conv2d): unknown field 'strides'"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"], "weight": 3}"#,
         "node 'n' (conv2d): field 'weight' must be a string, not a number"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"], "weight": "w", "stride": [2]}"#,
         "node 'n' (conv2d): field 'stride' must be [height, width] with positive integers"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"], "weight": "w", "padding": [1, 1]}"#,
         "field 'padding' must be [top, left, bottom, right] with non-negative integers"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x"], "outputs": ["y"], "weight": "w", "groups": 0}"#,
         "field 'groups' must be in 1...1048576, not 0"),
        (#"{"name": "n", "op": "conv2d", "inputs": ["x", "z"], "outputs": ["y"], "weight": "w"}"#,
         "node 'n' (conv2d): takes 1 input, not 2"),
        (#"{"name": "n", "op": "relu", "inputs": ["x"], "outputs": ["y"], "inplace": true}"#,
         "unknown field 'inplace' (this op has no attributes)"),
        (#"{"name": "n", "op": "dynamic_conv2d", "inputs": ["x", "c"], "outputs": ["y"], "weight": "w", "mode": "per_pixel"}"#,
         "'mode' must be \"per_channel\" or \"per_layer\", not \"per_pixel\""),
        (#"{"name": "n", "op": "cpm", "inputs": ["x"], "outputs": ["y"], "fc1_weight": "w", "gate": "tanh"}"#,
         "'gate' must be \"sigmoid\" or \"softmax\""),
        (#"{"name": "n", "op": "cpm", "inputs": ["x"], "outputs": ["y"], "fc1_weight": "w", "gate": "sigmoid", "temperature": 2}"#,
         "'temperature' applies only to the softmax gate"),
        (#"{"name": "n", "op": "cpm", "inputs": ["x"], "outputs": ["y"], "fc1_weight": "w", "fc2_bias": "b", "gate": "sigmoid"}"#,
         "'fc2_bias' given without 'fc2_weight'"),
        (#"{"name": "n", "op": "concat", "inputs": ["x"], "outputs": ["y"], "axis": 2}"#,
         "concat supports only axis 1, not 2"),
        (#"{"name": "n", "op": "channel_split", "inputs": ["x"], "outputs": ["y"], "sizes": [1, 1]}"#,
         "'sizes' has 2 entries but the node has 1 outputs"),
        (#"{"name": "n", "op": "softmax", "inputs": ["x"], "outputs": ["y"], "temperature": 0}"#,
         "field 'temperature' must be positive"),
        (#"{"name": "n", "op": "batchnorm", "inputs": ["x"], "outputs": ["y"], "weight": "g", "bias": "b", "running_mean": "m"}"#,
         "node 'n' (batchnorm): missing field 'running_var'"),
        (#"{"op": "relu", "inputs": ["x"], "outputs": ["y"]}"#, "node #0: missing field 'name'"),
        (#"[1]"#, "node #0 must be an object, not a array"),
    ])
    func refusesMalformedNodes(_ node: String, _ message: String) {
        expectError(message) { _ = try decode(graphDocument(node)) }
    }

    @Test func refusesBadTopLevel() {
        let relu = #"{"name": "r", "op": "relu", "inputs": ["x"], "outputs": ["y"]}"#
        expectError("g.json: graph: 'format' must be \"dynq-graph\"") {
            _ = try decode(graphDocument(relu).replacingOccurrences(of: "dynq-graph", with: "onnx"))
        }
        expectError("unsupported 'version' (this DynQ reads version 1)") {
            _ = try decode(graphDocument(relu).replacingOccurrences(of: "\"version\": 1", with: "\"version\": 2"))
        }
        expectError("graph: unknown field 'extra'") { _ = try decode(graphDocument(relu, extra: #" "extra": 1,"#)) }
        expectError("graph: missing or empty field 'outputs'") { _ = try decode(graphDocument(relu, outputs: "[]")) }
        expectError("input: layout \"NHWC\" is not supported") {
            _ = try decode(graphDocument(relu).replacingOccurrences(of: "NCHW", with: "NHWC"))
        }
        expectError("input: 'shape' must be [1, C, H, W] with positive sizes") {
            _ = try decode(graphDocument(relu).replacingOccurrences(of: "[1, 2, 4, 4]", with: "[2, 2, 4, 4]"))
        }
        expectError("input.preprocess: 'mean' must have 1 or 2 entries, not 3") {
            _ = try decode(graphDocument(relu).replacingOccurrences(of: #""layout": "NCHW""#,
                                                                     with: #""layout": "NCHW", "preprocess": {"mean": [1, 2, 3]}"#))
        }
        expectError("g.json: invalid JSON at line 1") { _ = try decode("{") }
    }

    @Test func loadGraphNamesTheFile() {
        expectError("/no/such/graph.json: no such file") { _ = try loadGraph("/no/such/graph.json") }
    }
}
