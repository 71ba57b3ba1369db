import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// fixtures/fmnist_silu: the plain SiLU CNN trained for the calibration study (tools/train_fmnist_silu.py), held
/// out from tuning (docs/calibration.md). The float engine reproduces PyTorch on it, and the default settings keep
/// the int8 model's top-1 agreement where the study measured it (99.0 % on these 1,000 images).
@Suite(.serialized) struct SiluFixtureTests {
    static let name = "fmnist_silu"

    @Test func floatEngineMatchesPyTorchLogits() throws {
        guard Fixture.exists(Self.name) else { print("fixture \(Self.name) absent: skipped"); return }
        let f = try Fixture(Self.name)
        let test = try #require(f.test)
        let engine = try FloatEngine(graph: f.graph, weights: f.weights)
        let torch = try readNpy(f.dir + "/torch_logits.npy").tensor
        #expect(torch.shape == [1000, 10] && test.count == 1000)
        var worst: Float = 0, sameTop = 0
        for i in 0..<test.count {
            let logits = try engine.run(try test.input(i, for: f.graph))[0].data
            let reference = Array(torch.data[i * 10..<(i + 1) * 10])
            worst = max(worst, zip(logits, reference).map { abs($0 - $1) }.max()!)
            if logits.firstIndex(of: logits.max()!) == reference.firstIndex(of: reference.max()!) { sameTop += 1 }
        }
        #expect(worst <= 1e-4, "max |logit error| \(worst)")
        #expect(sameTop == 1000)
    }

    @Test func defaultSettingsKeepTheMeasuredAgreement() throws {
        guard Fixture.exists(Self.name) else { return }
        let f = try Fixture(Self.name)
        let test = try #require(f.test)
        let (md, report) = try quantize(graph: f.graph, weights: f.weights, calibration: try f.calibInputs())
        #expect(report.method == .percentile(99.99))
        #expect(md.operations.contains { if case .table = $0.op { return true }; return false }, "silu as a table")
        let runner = try Int8Runner(md)
        let engine = try FloatEngine(graph: f.graph, weights: f.weights)
        var agree = 0
        for i in 0..<test.count {
            let img = f.rawImage(test, i)
            let fl = try engine.run(try f.graph.preprocess(img))[0].data
            let q = try runner.run(img, channels: 1)[0]
            if fl.firstIndex(of: fl.max()!) == q.firstIndex(of: q.max()!) { agree += 1 }
        }
        print("fixture \(Self.name) [default]: top-1 agreement \(agree)/\(test.count)")
        #expect(agree >= 985, "top-1 agreement \(agree)/1000 (measured 990 when committed)")
    }
}
