// Issue 16: graph validation bounds what a graph may allocate and refuses a preprocess that makes non-finite
// inputs; errors render as one printable line; label files parse from memory.
import DynQCore
import DynQGraph
import Foundation
import Testing

@Suite("hostile graphs and messages (issue 16)")
struct HostileGraphTests {
    func conv1x1(_ name: String, _ input: String, padding: Padding = .zero) -> Node {
        Node(name: name, op: .conv2d(Conv2DAttrs(weight: "w", padding: padding)),
             inputs: [input], outputs: [name])
    }

    @Test("a padding of 1,000,000 that makes one 448M-element tensor is refused at validation (limit 2^28 elements)")
    func hugePadding() {
        let g = makeGraph([1, 16, 28, 28], [conv1x1("stem", "x", padding: Padding(top: 1_000_000, left: 0, bottom: 0, right: 0))])
        expectError("node 'stem'", "absurd shape [1, 16, 1000028, 28]") {
            _ = try inferShapes(graph: g, weightShapes: ["w": [16, 16, 1, 1]])
        }
    }

    @Test("activations adding up past 2^27 elements are refused naming the tensor that crosses the limit")
    func activationTotal() {
        let g = makeGraph([1, 64, 1024, 1024], [Node(name: "a", op: .relu, inputs: ["x"], outputs: ["a"]),
                                                Node(name: "b", op: .relu, inputs: ["a"], outputs: ["b"])])
        expectError("node 'b'", "activations to \(3 << 26) elements", "limit of \(1 << 27)") {
            _ = try inferShapes(graph: g, weightShapes: [:])
        }
        // Two tensors of 2^26 are exactly at the limit.
        let ok = makeGraph([1, 64, 1024, 1024], [Node(name: "a", op: .relu, inputs: ["x"], outputs: ["a"])])
        #expect(throws: Never.self) { _ = try inferShapes(graph: ok, weightShapes: [:]) }
    }

    @Test("a preprocess that gives a non-finite input for some pixel is refused",
          arguments: [Preprocess(scale: 1e38, mean: [0], std: [1]), Preprocess(scale: 1, mean: [0], std: [1e-45]),
                      Preprocess(scale: 1, mean: [-3e38], std: [0.5])])
    func nonFinitePreprocess(_ p: Preprocess) {
        var g = makeGraph([1, 1, 4, 4], [Node(name: "a", op: .relu, inputs: ["x"], outputs: ["a"])])
        g.input.preprocess = p
        expectError("input.preprocess gives", "inputs must be finite") { _ = try inferShapes(graph: g, weightShapes: [:]) }
    }

    @Test("the same limits hold for a graph read from JSON: scale 1e38 is refused by validation")
    func jsonScale() throws {
        let text = """
            {"format": "dynq-graph", "version": 1, "name": "t",
             "input": {"name": "x", "shape": [1, 1, 2, 2], "preprocess": {"scale": 1e38}},
             "outputs": ["a"], "nodes": [{"name": "a", "op": "relu", "inputs": ["x"], "outputs": ["a"]}]}
            """
        let g = try decodeGraph(JSON.parse(text))
        expectError("gives inf for pixel 255") { _ = try inferShapes(graph: g, weights: [:]) }
    }

    @Test("an error quoting control characters from a file renders them as escapes, on one line")
    func printableErrors() {
        let e = DynQError(file: "a\u{1B}[2J.npy", "unexpected key 'x\nforged\u{7}'")
        #expect(e.description == "a\\u{1B}[2J.npy: unexpected key 'x\\u{A}forged\\u{7}'")
        #expect(DynQError("plain message").description == "plain message")
    }

    @Test("an .npy header longer than 64 KiB is refused before its text is parsed")
    func hugeNpyHeader() {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        withUnsafeBytes(of: UInt32(1 << 20).littleEndian) { bytes += $0 }
        bytes += [UInt8](repeating: 0x20, count: 16)
        expectError("header length 1048576 is absurd") { _ = try parseNpy(bytes) }
    }

    @Test("labels parse from memory like from a file (.npy and IDX)")
    func labelsFromMemory() throws {
        #expect(try parseLabels(encodeNpy(NpyArray(shape: [3], data: .int64([2, 0, 9])))) == [2, 0, 9])
        #expect(try parseLabels(encodeIDX(shape: [2], data: [4, 1])) == [4, 1])
        expectError("labels must be integers") { _ = try parseLabels(encodeNpy(NpyArray(shape: [1], data: .float32([1])))) }
    }

    @Test("a JSON object with 100,000 keys parses (keys are appended, not searched one by one)")
    func manyKeys() throws {
        var text = "{"
        for k in 0..<100_000 { text += (k > 0 ? "," : "") + "\"k\(k)\":\(k)" }
        text += "}"
        let o = try #require(try JSON.parse(text).objectValue)
        #expect(o.count == 100_000 && o.entries.last?.key == "k99999")
        expectError("duplicate key \"k5\"") { _ = try JSON.parse("{\"k5\":1,\"k6\":2,\"k5\":3}") }
    }
}
