import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// quantizer/ClassifierRefit.swift: the classifier refitted on the int8 model's own features.
@Suite(.serialized) struct ClassifierRefitTests {
    /// `n` random feature vectors of length `f`, and the sums of (feature, `W x + b`) for a known `W` (`[O, F]`), `b`.
    func linearProblem(n: Int, f: Int, o: Int, seed: UInt64) -> (RidgeSums, w: [Double], b: [Double], x: [[Double]]) {
        var r = SeededRandom(seed)
        let w = (0..<(o * f)).map { _ in Double(r.uniform(-2, 2)) }, b = (0..<o).map { _ in Double(r.uniform(-1, 1)) }
        let x = (0..<n).map { _ in (0..<f).map { _ in Double(r.uniform(-1, 3)) } }
        var s = RidgeSums(features: f, outputs: o)
        for v in x { s.add(v, (0..<o).map { k in b[k] + (0..<f).reduce(0) { $0 + w[k * f + $1] * v[$1] } }) }
        return (s, w, b, x)
    }

    /// Without a penalty the solve recovers the map that made the targets, weights and bias, to rounding.
    @Test func ridgeSolveRecoversAKnownLinearMapWithoutPenalty() throws {
        let (s, w, b, _) = linearProblem(n: 60, f: 7, o: 4, seed: 3)
        let anchor = [Double](repeating: 0.5, count: w.count)
        let (w2, b2) = try ridgeSolve(s, anchor: anchor, lambda: 0)
        for k in w.indices { #expect(abs(w2[k] - w[k]) < 1e-9, "w[\(k)] \(w2[k]) vs \(w[k])") }
        for k in b.indices { #expect(abs(b2[k] - b[k]) < 1e-9, "b[\(k)] \(b2[k]) vs \(b[k])") }
        // A small penalty pulls the weights toward the anchor, but not far.
        let (w3, _) = try ridgeSolve(s, anchor: anchor, lambda: 0.01)
        let moved = zip(w3, w).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-6 && moved < 0.1, "\(moved)")
    }

    /// With a huge penalty the weights are the anchor, and the (unpenalized) bias is the best one for them.
    @Test func ridgeSolveReturnsTheAnchorForAHugePenalty() throws {
        let (s, w, _, x) = linearProblem(n: 30, f: 5, o: 3, seed: 8)
        var r = SeededRandom(1)
        let anchor = w.map { $0 + Double(r.uniform(-1, 1)) }
        let (w2, b2) = try ridgeSolve(s, anchor: anchor, lambda: 1e12)
        for k in w.indices { #expect(abs(w2[k] - anchor[k]) < 1e-8, "w[\(k)] \(w2[k]) vs \(anchor[k])") }
        let n = Double(x.count)
        for o in 0..<3 {
            let mean = s.z[o] / n - (0..<5).reduce(0) { $0 + anchor[o * 5 + $1] * s.x[$1] / n }
            #expect(abs(b2[o] - mean) < 1e-6, "b[\(o)] \(b2[o]) vs \(mean)")
        }
    }

    /// The cross-validation's shortcut (predictions `z̄ + Rᵀ (G + μI)⁻¹ (x − x̄)`, no weights formed) gives the
    /// held-out error of the weights `ridgeSolve` returns, for every `λ` of the grid, with more outputs than
    /// held-out images and the other way round.
    @Test func theHeldOutShortcutMatchesTheErrorOfTheSolvedWeights() throws {
        for (n, f, o) in [(30, 12, 9), (200, 6, 3)] {
            let p = refitProblem(n: n, f: f, o: o, gain: 1.2, offset: -0.4, noise: 0.3, seed: UInt64(n))
            var r = SeededRandom(5)
            let anchor = p.w.map { $0 + Double(r.uniform(-0.5, 0.5)) }
            var train = RidgeSums(features: f, outputs: o)
            let heldOut = Array(stride(from: 2, to: n, by: 5))
            for i in 0..<n where !heldOut.contains(i) { train.add(p.x[i], p.z[i]) }
            for lambda in classifierRefitLambdas + [0] {
                let (w, b) = try ridgeSolve(train, anchor: anchor, lambda: lambda)
                let want = heldOut.reduce(0.0) { $0 + squaredError(w, b, p.x[$1], p.z[$1]) }
                let got = try ridgeHeldOutLoss(train, anchor: anchor, lambda: lambda, features: p.x, targets: p.z,
                                               heldOut: heldOut)
                #expect(abs(got - want) <= 1e-9 * want, "n \(n) λ \(lambda): \(got) vs \(want)")
            }
        }
    }

    /// Features `x`, and targets `gain · (W x + b) + offset + noise` for a random classifier `W, b` (`[O, F]`, `[O]`);
    /// the noise (uniform in ±`noise`) is independent of `x`.
    func refitProblem(n: Int, f: Int, o: Int, gain: Double, offset: Double, noise: Double, seed: UInt64)
        -> (x: [[Double]], z: [[Double]], w: [Double], b: [Double])
    {
        var r = SeededRandom(seed)
        let w = (0..<(o * f)).map { _ in Double(r.uniform(-1, 1)) }, b = (0..<o).map { _ in Double(r.uniform(-1, 1)) }
        let x = (0..<n).map { _ in (0..<f).map { _ in Double(r.uniform(0, 2)) } }
        let z = x.map { v in
            (0..<o).map { k in
                gain * (b[k] + (0..<f).reduce(0) { $0 + w[k * f + $1] * v[$1] }) + offset + noise * Double(r.uniform(-1, 1))
            }
        }
        return (x, z, w, b)
    }

    /// With fewer images than classifier inputs and targets that differ from the classifier's output only by noise
    /// the features cannot predict, every `λ` of the grid fits that noise and does worse on the held-out folds than
    /// the classifier as it is: the cross-validation keeps it (no refit). With a systematic error the features do
    /// predict (a gain and an offset) and enough images, it refits.
    @Test func theCrossValidationKeepsTheClassifierWhenARefitWouldOnlyFitNoise() throws {
        let noisy = refitProblem(n: 40, f: 60, o: 4, gain: 1, offset: 0, noise: 0.5, seed: 11)
        let cv = try crossValidateRefit(features: noisy.x, targets: noisy.z, anchor: noisy.w, anchorBias: noisy.b)
        #expect(cv.best == nil, "loss \(cv.loss), keep \(cv.keepLoss)")
        #expect(cv.loss.count == classifierRefitLambdas.count && cv.loss.allSatisfy { $0 > cv.keepLoss })

        let biased = refitProblem(n: 400, f: 6, o: 4, gain: 1.1, offset: 0.3, noise: 0.5, seed: 12)
        let cv2 = try crossValidateRefit(features: biased.x, targets: biased.z, anchor: biased.w, anchorBias: biased.b)
        let best = try #require(cv2.best, "loss \(cv2.loss), keep \(cv2.keepLoss)")
        #expect(cv2.loss[best] < 0.5 * cv2.keepLoss, "loss \(cv2.loss), keep \(cv2.keepLoss)")
    }

    /// On fixtures/fmnist with its 500 calibration images, the refit (on by default) lowers the summed squared
    /// error of the int8 model's dequantized logits against the float logits on those images, and reports a lower
    /// float-classifier error too; with the default settings the model is byte for byte the committed one.
    @Test func refitLowersTheInt8ModelsCalibrationLogitErrorOnTheFixture() throws {
        guard Fixture.exists("fmnist") else { print("fixture fmnist absent: skipped"); return }
        let f = try Fixture("fmnist")
        let inputs = try f.calibInputs()
        let prepared = try prepare(graph: f.graph, weights: f.weights)
        let stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model))
        var off = QuantizationOptions()
        off.classifierRefit = false
        let on = QuantizationOptions()
        #expect(on.classifierRefit)
        let (p0, s0, r0) = try refine(prepared, stats: stats, inputs: inputs, images: f.calib, options: off)
        let (p1, s1, r1) = try refine(prepared, stats: stats, inputs: inputs, images: f.calib, options: on)
        #expect(r0.refit == nil && r0.refitSkipped == nil)
        let refit = try #require(r1.refit)
        print("refit fmnist: \(refit)")
        #expect(refit.node == "head.2" && refit.images == 500)
        #expect(refit.mseAfter < refit.mseBefore)
        #expect(refit.crossValidationLoss.count == classifierRefitLambdas.count)
        // Only the classifier changed, and no shared tensor was altered.
        for (name, t) in p0.model.weights { #expect(p1.model.weights[name] == t, "\(name)") }
        #expect(Set(p1.model.weights.keys).subtracting(p0.model.weights.keys) == ["head.2.weight.refit", "head.2.bias.refit"])
        // The classifier's adaptive rounding uses the int8 features' moments.
        #expect(s1.inputMoments["head.2"] != nil && s1.inputMoments["head.2"] != s0.inputMoments["head.2"])

        let engine = try FloatEngine(graph: prepared.model.graph, weights: prepared.model.weights)
        let targets = try inputs.map { try engine.run($0)[0].data.map(Double.init) }
        let hwc = try hwcImages(f.calib, count: inputs.count)
        func error(_ p: PreparedModel, _ s: CalibrationStats, _ o: QuantizationOptions) throws -> Double {
            let out = p.model.graph.outputs[0]
            let logits = try int8Features(p, stats: s, options: o, tensor: out, length: 10, images: hwc, workers: 2)
            var e = 0.0
            for (l, t) in zip(logits, targets) {
                for k in l.indices { let d: Double = l[k] - t[k]; e += d * d }
            }
            return e
        }
        // Both read as int8 logits (the wide logits, also a default, are measured in docs/calibration.md).
        var offInt8 = off, onInt8 = on
        offInt8.wideLogits = false; onInt8.wideLogits = false
        let before = try error(p0, s0, offInt8), after = try error(p1, s1, onInt8)
        print("refit fmnist: int8 logits' summed squared error against float on CALIB \(before) -> \(after)")
        #expect(after < 0.9 * before, "\(before) -> \(after)")

        let path = Fixture.path("fmnist") + "/model.dynq"
        if FileManager.default.fileExists(atPath: path) {
            let (md, _) = try quantize(graph: f.graph, weights: f.weights, calibration: inputs, images: f.calib,
                                       options: on)
            #expect(try md.serialized() == FileIO.read(path))
        }
    }

    /// A model whose graph output is not computed by a `linear` (the small DyNet's softmax only) is left as it
    /// was, and the refinement says why; with its logits an output too, the head is refitted.
    @Test func aModelWhoseOutputIsNotALinearIsLeftAlone() throws {
        var m = smallDyNet(seed: 6)
        let (batch, inputs) = try BiasCorrectionTests().images(m.graph, count: 20, seed: 4)
        let withLogits = try prepare(graph: m.graph, weights: m.weights)
        m.graph.outputs = ["prob"]
        let prepared = try prepare(graph: m.graph, weights: m.weights)
        let stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model))
        var options = QuantizationOptions()
        options.equalize = false
        let (p, _, r) = try refine(prepared, stats: stats, inputs: inputs, images: batch, options: options, workers: 1)
        #expect(r.refit == nil)
        #expect(r.refitSkipped?.contains("no linear layer computes a graph output") == true, "\(r.refitSkipped ?? "nil")")
        #expect(p.model.weights == prepared.model.weights && p.model.graph.nodes == prepared.model.graph.nodes)

        let stats2 = try calibrate(withLogits.model, inputs: inputs, runner: try floatEngineRunner(withLogits.model))
        let (p2, _, r2) = try refine(withLogits, stats: stats2, inputs: inputs, images: batch, options: options, workers: 1)
        #expect(r2.refit?.node == "head" && r2.refitSkipped == nil)
        #expect(p2.model.weights != withLogits.model.weights)
        // No pixels: skipped, and said so.
        let (_, _, r3) = try refine(withLogits, stats: stats2, inputs: inputs, images: nil, options: options, workers: 1)
        #expect(r3.refit == nil && r3.refitSkipped == "no calibration pixels given")
    }

    /// The refit is reproducible: the same model for any number of workers.
    @Test func refitDoesNotDependOnTheWorkerCount() throws {
        let m = smallDyNet(seed: 5)
        let (batch, inputs) = try BiasCorrectionTests().images(m.graph, count: 20, seed: 7)
        let prepared = try prepare(graph: m.graph, weights: m.weights)
        let stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model))
        let (a, sa, ra) = try refine(prepared, stats: stats, inputs: inputs, images: batch, options: QuantizationOptions(), workers: 1)
        let (b, sb, rb) = try refine(prepared, stats: stats, inputs: inputs, images: batch, options: QuantizationOptions(), workers: 3)
        #expect(ra.refit != nil && ra.refit == rb.refit)
        #expect(a.model.weights == b.model.weights)
        #expect(sa.inputMoments == sb.inputMoments)
    }
}
