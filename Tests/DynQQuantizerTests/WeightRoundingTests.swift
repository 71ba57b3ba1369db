import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// quantizer/WeightRounding.swift: output-aware (adaptive) rounding of int8 weights.
@Suite struct WeightRoundingTests {
    /// A random symmetric positive semi-definite `n × n` matrix: the second moments of `samples` correlated vectors
    /// (a shared component plus noise), as conv patches are.
    static func correlatedMoments(_ n: Int, seed: UInt64, samples: Int = 200) -> [Double] {
        var r = SeededRandom(seed)
        var m = [Double](repeating: 0, count: n * n)
        for _ in 0..<samples {
            let common = Double(r.uniform(-1, 1))
            let v = (0..<n).map { _ in common + 0.3 * Double(r.uniform(-1, 1)) }
            for i in 0..<n { for j in 0..<n { m[i * n + j] += v[i] * v[j] / Double(samples) } }
        }
        return m
    }

    /// With uncorrelated inputs of equal power (`M = I`) the output error is the weights' own squared error, which
    /// nearest rounding already minimises: adaptive rounding changes nothing.
    @Test func identityMomentsKeepNearestRounding() {
        var r = SeededRandom(31)
        let n = 27
        var eye = [Double](repeating: 0, count: n * n)
        for i in 0..<n { eye[i * n + i] = 1 }
        for _ in 0..<20 {
            let w = (0..<n).map { _ in Double(r.uniform(-1, 1)) }
            let s = w.map(abs).max()! / 127
            let res = eye.withUnsafeBufferPointer { adaptiveRounding(w, scale: s, moments: $0) }
            #expect(res.q == w.map { Int(($0 / s).rounded(.toNearestOrAwayFromZero)) })
            #expect(res.error == res.nearestError)
        }
    }

    /// With correlated inputs the chosen codes lower the output error `dᵀ M d` (never raise it), stay within one
    /// step of the weight (floor or floor + 1) and within [−127, 127], and the error returned is the codes' own.
    @Test func correlatedInputsLowerTheOutputErrorWithinOneStep() {
        var r = SeededRandom(32)
        var lowered = 0
        for trial in 0..<20 {
            let n = [9, 16, 27, 64][trial % 4]
            let m = Self.correlatedMoments(n, seed: UInt64(100 + trial))
            let w = (0..<n).map { _ in Double(r.uniform(-1, 1)) }
            let s = w.map(abs).max()! / 127
            let res = m.withUnsafeBufferPointer { adaptiveRounding(w, scale: s, moments: $0) }
            #expect(res.error <= res.nearestError)
            if res.error < 0.9 * res.nearestError { lowered += 1 }
            for k in 0..<n {
                let lo = Int((w[k] / s).rounded(.down))
                #expect(res.q[k] == lo || res.q[k] == lo + 1, "element \(k)")
                #expect(abs(res.q[k]) <= 127)
            }
            let d = (0..<n).map { s * Double(res.q[$0]) - w[$0] }
            var e = 0.0
            for i in 0..<n { for j in 0..<n { e += d[i] * m[i * n + j] * d[j] } }
            #expect(abs(e - res.error) <= 1e-9 * max(e, 1e-30))
        }
        // The shared component makes the rounding errors add up: the search removes most of that.
        #expect(lowered >= 15, "\(lowered) of 20 rows lowered their error by 10 % or more")
    }

    /// A graph small enough that every output position is sampled: conv 4 → 6 (3×3, groups 2, stride (1, 2),
    /// asymmetric padding), ReLU, flatten, linear.
    static func convLinearModel() -> FloatModel {
        var r = SeededRandom(33)
        let w: [String: Tensor] = ["conv.weight": r.tensor([6, 2, 3, 3], -0.5, 0.5), "conv.bias": r.tensor([6]),
                                   "fc.weight": r.tensor([3, 72], -0.2, 0.2), "fc.bias": r.tensor([3])]
        let conv = Conv2DAttrs(weight: "conv.weight", bias: "conv.bias", stride: Pair(1, 2),
                               padding: Padding(top: 1, left: 0, bottom: 2, right: 1), groups: 2)
        let nodes = [
            Node(name: "conv", op: .conv2d(conv), inputs: ["input"], outputs: ["conv"]),
            Node(name: "relu", op: .relu, inputs: ["conv"], outputs: ["relu"]),
            Node(name: "flat", op: .flatten, inputs: ["relu"], outputs: ["flat"]),
            Node(name: "fc", op: .linear(LinearAttrs(weight: "fc.weight", bias: "fc.bias")), inputs: ["flat"],
                 outputs: ["logits"]),
        ]
        let graph = Graph(name: "conv-linear", input: InputSpec(name: "input", shape: [1, 4, 5, 5],
                                                                   preprocess: Preprocess(scale: 1.0 / 255)),
                          outputs: ["logits"], classes: [], nodes: nodes)
        return FloatModel(graph: graph, weights: w)
    }

    /// The measured moments are the layer's real input statistics: for any weight change `d` of output channel
    /// `o`, the float engine's output changes by `dᵀ x` at every position, and the mean of its square over the
    /// images and positions equals `dᵀ M d` (conv: its group's patches, padding and stride included; linear: the
    /// input vector).
    @Test func momentsPredictTheFloatEnginesOutputChange() throws {
        let model = Self.convLinearModel()
        let inputs = try randomInputs(model.graph, count: 6)
        let moments = try measureInputMoments(model, inputs: inputs, workers: 2)
        #expect(Set(moments.keys) == ["conv", "fc"])
        let mc = try #require(moments["conv"]), mf = try #require(moments["fc"])
        #expect(mc.groups == 2 && mc.length == 18 && mc.count == 6 * 6 * 2)   // 6 images, 6 × 2 positions
        #expect(mf.groups == 1 && mf.length == 72 && mf.count == 6)

        var r = SeededRandom(34)
        for (layer, tensor, m, rows) in [("conv", "conv", mc, 6), ("fc", "logits", mf, 3)] {
            let wName = "\(layer).weight"
            var changed = model
            let n = m.length
            var d = [Double](repeating: 0, count: rows * n)
            for k in 0..<d.count { d[k] = Double(r.uniform(-0.01, 0.01)) }
            for k in 0..<d.count { changed.weights[wName]!.data[k] += Float(d[k]) }
            let a = try FloatEngine(graph: model.graph, weights: model.weights)
            let b = try FloatEngine(graph: changed.graph, weights: changed.weights)
            var sq = [Double](repeating: 0, count: rows), count = 0
            for x in inputs {
                var ya: Tensor?, yb: Tensor?
                _ = try a.run(x) { if case .tensor(let nm, let t) = $0, nm == tensor { ya = t } }
                _ = try b.run(x) { if case .tensor(let nm, let t) = $0, nm == tensor { yb = t } }
                let ta = try #require(ya), tb = try #require(yb)
                let per = ta.count / rows
                for o in 0..<rows {
                    for p in 0..<per {
                        let e = Double(tb.data[o * per + p]) - Double(ta.data[o * per + p])
                        sq[o] += e * e
                    }
                }
                count += per
            }
            for o in 0..<rows {
                let g = o / (rows / m.groups)
                var predicted = 0.0
                for i in 0..<n { for j in 0..<n { predicted += d[o * n + i] * m.values[(g * n + i) * n + j] * d[o * n + j] } }
                let measured = sq[o] / Double(count)
                // float32 engine against double moments: agreement to float precision of the products.
                #expect(abs(measured - predicted) <= 2e-3 * predicted, "\(layer) channel \(o): \(measured) vs \(predicted)")
            }
        }
    }

    /// Moments do not depend on the number of workers (each image's sums are added in input order).
    @Test func momentsAreTheSameForAnyWorkerCount() throws {
        let model = Self.convLinearModel()
        let inputs = try randomInputs(model.graph, count: 9, seed: 8)
        let one = try measureInputMoments(model, inputs: inputs, workers: 1)
        let three = try measureInputMoments(model, inputs: inputs, workers: 3)
        #expect(one == three)
    }

    /// Quantized with adaptive rounding, every static layer's output error on the calibration images is lower than
    /// with nearest rounding (the report notes it), the codes differ from nearest rounding by at most one step,
    /// and `--rounding nearest` (`.nearest`) gives exactly the weights of nearest rounding.
    @Test func adaptiveRoundingLowersEveryStaticLayersOutputError() throws {
        let m = smallDyNet(seed: 9)
        let inputs = try randomInputs(m.graph, count: 24)
        var nearestOptions = QuantizationOptions()
        nearestOptions.weightRounding = .nearest
        let (nearest, _) = try quantize(graph: m.graph, weights: m.weights, calibration: inputs, options: nearestOptions)
        let (adaptive, report) = try quantize(graph: m.graph, weights: m.weights, calibration: inputs)
        let rounded = report.layers.filter { $0.notes.contains { $0.hasPrefix("adaptive rounding") } }
        #expect(Set(rounded.map(\.name)) == ["stem", "cpm.fc1", "cpm.fc2", "head"])
        for l in rounded {
            let note = l.notes.first { $0.hasPrefix("adaptive rounding") }!
            #expect(!note.hasSuffix(" 0 %") && !note.contains("output error +"), "\(l.name): \(note)")
        }
        var differ = 0
        for (a, b) in zip(nearest.blobs, adaptive.blobs) where a.name.hasSuffix(".weights") {
            #expect(a.name == b.name)
            let qa = a.bytes.map { Int(Int8(bitPattern: $0)) }, qb = b.bytes.map { Int(Int8(bitPattern: $0)) }
            for (x, y) in zip(qa, qb) { #expect(abs(x - y) <= 1); if x != y { differ += 1 } }
        }
        #expect(differ > 0)
        // The dynamic layers' banks are rounded to nearest either way.
        for (a, b) in zip(nearest.blobs, adaptive.blobs) where a.name.hasPrefix("dyn") && a.name.hasSuffix(".weights") {
            #expect(a.bytes == b.bytes, "\(a.name)")
        }
    }
}
