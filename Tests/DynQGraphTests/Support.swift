import Foundation
import Testing
@testable import DynQGraph

/// Shorthand for a tensor literal.
func T(_ shape: [Int], _ data: [Float]) -> Tensor { Tensor(shape: shape, data: data) }

/// `1, 2, …, n` as floats.
func iota(_ n: Int, from start: Float = 1) -> [Float] { (0..<n).map { start + Float($0) } }

let ln3 = Float(log(3.0))

/// A graph with input "x" of `inputShape` and the given nodes; the output is the last node's first output
/// unless `outputs` is given.
func makeGraph(_ inputShape: [Int], _ nodes: [Node], outputs: [String]? = nil) -> Graph {
    Graph(name: "test", input: InputSpec(name: "x", shape: inputShape),
          outputs: outputs ?? [nodes.last!.outputs[0]], nodes: nodes)
}

/// Runs a one-node graph `x -> op -> y` and returns `y`. A `[1, F]` input enters the graph as `[1, F, 1, 1]`
/// followed by a flatten (graph inputs are always `[1, C, H, W]`).
func runOp(_ op: Op, _ input: Tensor, weights: [String: Tensor] = [:]) throws -> Tensor {
    if input.shape.count == 2 {
        let g = makeGraph(input.shape + [1, 1], [Node(name: "flat", op: .flatten, inputs: ["x"], outputs: ["f"]),
                                                 Node(name: "n", op: op, inputs: ["f"], outputs: ["y"])])
        return try FloatEngine(graph: g, weights: weights).run(input.reshaped(input.shape + [1, 1]))[0]
    }
    let g = makeGraph(input.shape, [Node(name: "n", op: op, inputs: ["x"], outputs: ["y"])])
    return try FloatEngine(graph: g, weights: weights).run(input)[0]
}

/// Expects `t` to have `shape` and data within `tolerance` of `expected`.
func expectClose(_ t: Tensor, _ shape: [Int], _ expected: [Float], tolerance: Float = 1e-5,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(t.shape == shape, sourceLocation: sourceLocation)
    #expect(t.data.count == expected.count, sourceLocation: sourceLocation)
    let worst = zip(t.data, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "got \(t.data), expected \(expected)", sourceLocation: sourceLocation)
}

/// Expects `body` to throw a `DynQError` whose description contains every one of `fragments`.
func expectError(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let e as DynQError {
        for f in fragments {
            #expect(e.description.contains(f), "error \"\(e.description)\" lacks \"\(f)\"", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a DynQError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// A fresh temporary directory for one test.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "dynq-graph-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The repository root (three levels above this file: Tests/DynQGraphTests/Support.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
