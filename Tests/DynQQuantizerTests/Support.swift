import DynQCore
import DynQGraph
import Foundation
@testable import DynQQuantizer

/// The repository root (this file is Tests/DynQQuantizerTests/Support.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Deterministic test data from DynQCore's `SplitMix64`.
struct SeededRandom {
    private var stream: SplitMix64
    init(_ seed: UInt64) { stream = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { stream.next() }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { _ in uniform(lo, hi) })
    }
    mutating func pixels(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next() >> 56) } }
}

/// A small DyNet-style network with every folding / fusion situation:
/// conv → bn → relu; one CPM (sigmoid, two layers) feeding a per-channel dynamic conv (mixed bias) → bn → relu6
/// and a depthwise per-channel dynamic conv → relu; maxpool, hardswish, residual add, global pool, flatten,
/// linear, softmax.
func smallDyNet(seed: UInt64 = 1, gate: Gate = .sigmoid, mode: CoefficientMode = .perChannel) -> FloatModel {
    var r = SeededRandom(seed)
    var w: [String: Tensor] = [:]
    func bn(_ name: String, _ c: Int) -> BatchnormAttrs {
        w["\(name).weight"] = r.tensor([c], 0.5, 1.5)
        w["\(name).bias"] = r.tensor([c], -0.3, 0.3)
        w["\(name).running_mean"] = r.tensor([c], -0.5, 0.5)
        w["\(name).running_var"] = r.tensor([c], 0.2, 2)
        return BatchnormAttrs(weight: "\(name).weight", bias: "\(name).bias", runningMean: "\(name).running_mean",
                              runningVar: "\(name).running_var", eps: 1e-5)
    }
    let g = 3
    w["stem.weight"] = r.tensor([6, 2, 3, 3], -0.5, 0.5)
    let n1 = mode == .perChannel ? 6 * g : g, n2 = mode == .perChannel ? 6 * g : g
    w["cpm.fc1.weight"] = r.tensor([4, 6], -0.8, 0.8)
    w["cpm.fc1.bias"] = r.tensor([4], -0.2, 0.2)
    w["cpm.fc2.weight"] = r.tensor([n1 + n2, 4], -0.8, 0.8)
    w["cpm.fc2.bias"] = r.tensor([n1 + n2], -0.2, 0.2)
    w["dyn1.weight"] = r.tensor([g, 6, 6, 3, 3], -0.3, 0.3)
    w["dyn1.mixed_bias"] = r.tensor([g, 6], -0.2, 0.2)
    w["dyn2.weight"] = r.tensor([g, 6, 1, 3, 3], -0.5, 0.5)
    w["dyn2.bias"] = r.tensor([6], -0.2, 0.2)
    w["head.weight"] = r.tensor([5, 6], -0.6, 0.6)
    w["head.bias"] = r.tensor([5], -0.1, 0.1)
    let pad1 = Padding(all: 1)
    let nodes: [Node] = [
        Node(name: "stem", op: .conv2d(Conv2DAttrs(weight: "stem.weight", padding: pad1)), inputs: ["input"],
             outputs: ["stem"]),
        Node(name: "stem.bn", op: .batchnorm(bn("stem.bn", 6)), inputs: ["stem"], outputs: ["stem.bn"]),
        Node(name: "stem.relu", op: .relu, inputs: ["stem.bn"], outputs: ["stem.relu"]),
        Node(name: "cpm", op: .cpm(CPMAttrs(fc1Weight: "cpm.fc1.weight", fc1Bias: "cpm.fc1.bias",
                                            fc2Weight: "cpm.fc2.weight", fc2Bias: "cpm.fc2.bias", gate: gate)),
             inputs: ["stem.relu"], outputs: ["cpm"]),
        Node(name: "dyn1", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "dyn1.weight", mode: mode, coeffOffset: 0,
                                                                 mixedBias: "dyn1.mixed_bias", padding: pad1)),
             inputs: ["stem.relu", "cpm"], outputs: ["dyn1"]),
        Node(name: "dyn1.bn", op: .batchnorm(bn("dyn1.bn", 6)), inputs: ["dyn1"], outputs: ["dyn1.bn"]),
        Node(name: "dyn1.relu6", op: .relu6, inputs: ["dyn1.bn"], outputs: ["dyn1.relu6"]),
        Node(name: "dyn2", op: .dynamicConv2d(DynamicConv2DAttrs(
            weight: "dyn2.weight", mode: mode, coeffOffset: n1, bias: "dyn2.bias",
            padding: Padding(all: 1), groups: 6)),
             inputs: ["dyn1.relu6", "cpm"], outputs: ["dyn2"]),
        Node(name: "dyn2.relu", op: .relu, inputs: ["dyn2"], outputs: ["dyn2.relu"]),
        Node(name: "res", op: .add, inputs: ["dyn2.relu", "stem.relu"], outputs: ["res"]),
        Node(name: "pool", op: .maxpool(PoolAttrs(kernel: Pair(2, 2))), inputs: ["res"], outputs: ["pool"]),
        Node(name: "hs", op: .hardswish, inputs: ["pool"], outputs: ["hs"]),
        Node(name: "gap", op: .globalAvgpool, inputs: ["hs"], outputs: ["gap"]),
        Node(name: "flat", op: .flatten, inputs: ["gap"], outputs: ["flat"]),
        Node(name: "head", op: .linear(LinearAttrs(weight: "head.weight", bias: "head.bias")), inputs: ["flat"],
             outputs: ["logits"]),
        Node(name: "prob", op: .softmax(temperature: 1), inputs: ["logits"], outputs: ["prob"]),
    ]
    let graph = Graph(name: "small-dynet",
                      input: InputSpec(name: "input", shape: [1, 2, 8, 8],
                                       preprocess: Preprocess(scale: 1.0 / 255, mean: [0.5, 0.4], std: [0.25, 0.3])),
                      outputs: ["logits", "prob"], classes: ["a", "b", "c", "d", "e"], nodes: nodes)
    return FloatModel(graph: graph, weights: w)
}

/// Preprocessed random images for a graph.
func randomInputs(_ graph: Graph, count: Int, seed: UInt64 = 7) throws -> [Tensor] {
    var r = SeededRandom(seed)
    let n = graph.input.shape.reduce(1, *)
    return try (0..<count).map { _ in try graph.preprocess(r.pixels(n)) }
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
}
