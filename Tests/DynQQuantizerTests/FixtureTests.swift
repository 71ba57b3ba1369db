import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// The trained FMNIST fixtures (fixtures/fmnist: DyNet per-channel, sigmoid gates; fixtures/fmnist_perlayer:
/// DY-CNN per-layer, softmax gates). Skipped while a fixture is absent.
struct Fixture {
    let dir: String
    let graph: Graph
    let weights: [String: Tensor]
    let calib: ImageBatch
    let test: ImageBatch?

    static func path(_ name: String) -> String { repositoryRoot + "/fixtures/" + name }
    /// A fixture's own data file, or fixtures/fmnist's (the per-layer fixture shares the FMNIST images).
    static func data(_ name: String, _ file: String) -> String? {
        for dir in [path(name), path("fmnist")] where FileManager.default.fileExists(atPath: dir + "/" + file) {
            return dir + "/" + file
        }
        return nil
    }
    static func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: path(name) + "/model.graph.json")
            && FileManager.default.fileExists(atPath: path(name) + "/model.safetensors")
            && data(name, "calib_images.npy") != nil
    }

    init(_ name: String) throws {
        dir = Fixture.path(name)
        graph = try loadGraph(dir + "/model.graph.json")
        weights = try readSafetensors(dir + "/model.safetensors").tensors
        let channels = graph.input.shape[1]
        calib = try loadImages(Fixture.data(name, "calib_images.npy")!, channels: channels)
        if let testPath = Fixture.data(name, "test_images.npy") {
            test = try loadImages(testPath, channels: channels, labels: Fixture.data(name, "test_labels.npy"))
        } else {
            test = nil
        }
    }

    func calibInputs(_ n: Int? = nil) throws -> [Tensor] {
        try (0..<min(n ?? calib.count, calib.count)).map { try calib.input($0, for: graph) }
    }

    func rawImage(_ batch: ImageBatch, _ i: Int) -> [UInt8] {
        guard case .uint8(let p) = batch.pixels else { return [] }
        return Array(p[(i * batch.imageSize)..<((i + 1) * batch.imageSize)])
    }
}

let fixtureNames = ["fmnist", "fmnist_perlayer"]

@Suite(.serialized) struct FixtureTests {
    @Test(arguments: fixtureNames)
    func foldedGraphMatchesUnfolded(_ name: String) throws {
        guard Fixture.exists(name) else { print("fixture \(name) absent: skipped"); return }
        let f = try Fixture(name)
        let (folded, folds) = try foldBatchnorm(FloatModel(graph: f.graph, weights: f.weights))
        #expect(!folds.isEmpty)
        let a = try FloatEngine(graph: f.graph, weights: f.weights)
        let b = try FloatEngine(graph: folded.graph, weights: folded.weights)
        var worst: Float = 0
        for x in try f.calibInputs(32) {
            for (p, q) in zip(try a.run(x), try b.run(x)) { worst = max(worst, maxAbsDiff(p, q)) }
        }
        print("fixture \(name): \(folds.count) batchnorms folded, max |folded − unfolded| = \(worst)")
        #expect(worst <= 1e-5)
    }

    @Test(arguments: fixtureNames)
    func perChannelWeightSQNR(_ name: String) throws {
        guard Fixture.exists(name) else { return }
        let f = try Fixture(name)
        let prepared = try prepare(graph: f.graph, weights: f.weights)
        for node in prepared.model.graph.nodes {
            let (w, axis): (String, Int)
            switch node.op {
            case .conv2d(let c): (w, axis) = (c.weight, 0)
            case .dynamicConv2d(let d): (w, axis) = (d.weight, 1)
            default: continue
            }
            let pc = quantizeWeights(prepared.model.weights[w]!, channelAxis: axis)
            let pt = quantizeWeights(prepared.model.weights[w]!, channelAxis: axis, granularity: .perTensor)
            print("fixture \(name) \(node.name): weight SQNR per-channel \(String(format: "%.1f", pc.sqnrDB)) dB, "
                  + "per-tensor \(String(format: "%.1f", pt.sqnrDB)) dB")
            #expect(pc.sqnrDB >= 35, "\(node.name)")
        }
    }

    /// Quantizes with every method on all calibration images, checks the file reads back field by field, and
    /// measures int8 accuracy against the float engine on the test images.
    @Test(arguments: fixtureNames)
    func quantizeEveryMethod(_ name: String) throws {
        guard Fixture.exists(name) else { return }
        let f = try Fixture(name)
        let prepared = try prepare(graph: f.graph, weights: f.weights)
        let stats = try calibrate(prepared.model, inputs: try f.calibInputs(),
                                  runner: try floatEngineRunner(prepared.model))
        #expect(stats.samples == f.calib.count)
        print(coefficientStudy(name, stats))
        if stats.fused.count > 0 {
            let q15 = try #require(stats.coefficientPrecision.first { $0.bits == 15 })
            let q8 = try #require(stats.coefficientPrecision.first { $0.bits == 8 })
            #expect(q15.fusedKernelSQNRdB > q8.fusedKernelSQNRdB + 30)
            #expect(q15.maxCoefficientError <= 1.0 / 65536 + 1e-9)
        }
        let engine = try FloatEngine(graph: f.graph, weights: f.weights)
        for (method, granularity) in [(CalibrationMethod.minmax, WeightGranularity.perChannel), (.percentile(99.99), .perChannel),
                                      (.mse, .perChannel), (.percentile(99.99), .perTensor)] {
            let (md, report) = try quantize(prepared, stats: stats,
                                            options: QuantizationOptions(method: method, granularity: granularity))
            print(report.table())
            let runner = try Int8Runner(md)
            expectFieldByField(runner.readBack, md)
            guard let test = f.test else { continue }
            // 500 by default (CI time); DYNQ_FIXTURE_IMAGES=N to measure on more.
            let limit = ProcessInfo.processInfo.environment["DYNQ_FIXTURE_IMAGES"].flatMap { Int($0) } ?? 500
            let n = min(test.count, limit)
            var floatCorrect = 0, intCorrect = 0, agree = 0
            for i in 0..<n {
                let y = try engine.run(try test.input(i, for: f.graph))[0].data
                let q = try runner.run(f.rawImage(test, i), channels: f.graph.input.shape[1])[0]
                let fc = y.indices.max { y[$0] < y[$1] }!, qc = q.indices.max { q[$0] < q[$1] }!
                if let labels = test.labels {
                    if fc == labels[i] { floatCorrect += 1 }
                    if qc == labels[i] { intCorrect += 1 }
                }
                if fc == qc { agree += 1 }
            }
            print("fixture \(name) [\(method), \(granularity.rawValue)]: \(n) test images, float accuracy \(floatCorrect), int8 accuracy "
                  + "\(intCorrect), top-1 agreement \(agree)")
            #expect(agree >= n * 97 / 100)
            if test.labels != nil { #expect(intCorrect >= floatCorrect - n / 100) }
        }
    }

    /// The committed fixtures/fmnist/model.dynq loads with the runtime and equals a fresh quantization with the
    /// command recorded in QUANTIZED.md (the default settings, all 500 calibration images).
    @Test func committedModelIsReproducible() throws {
        let path = Fixture.path("fmnist") + "/model.dynq"
        guard Fixture.exists("fmnist"), FileManager.default.fileExists(atPath: path) else { return }
        let f = try Fixture("fmnist")
        let file = try FileIO.read(path)
        let committed = try file.withUnsafeBytes { raw -> ModelDescription in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: raw.count, alignment: 16)
            defer { buffer.deallocate() }
            buffer.copyMemory(from: raw)
            return ModelDescription(try Model(bytes: UnsafeRawBufferPointer(buffer)))
        }
        // The pixels too: the default bias correction runs the int8 model on them, as `dynq quantize` does.
        let (md, _) = try quantize(graph: f.graph, weights: f.weights, calibration: try f.calibInputs(),
                                   images: f.calib, options: QuantizationOptions())
        expectFieldByField(committed, md)
        #expect(try md.serialized() == file)
    }
}

func coefficientStudy(_ name: String, _ stats: CalibrationStats) -> String {
    var lines = ["fixture \(name): coefficient precision over \(stats.samples) samples and \(stats.fused.count) "
                 + "dynamic layers (fused-kernel error from rounding η alone):"]
    for c in stats.coefficientPrecision {
        lines.append("  \(c.bits) bits: max |Δη| = \(c.maxCoefficientError), fused-kernel SQNR = "
                     + String(format: "%.1f dB", c.fusedKernelSQNRdB))
    }
    return lines.joined(separator: "\n")
}

/// `a == b`, field by field so that a failure says which.
func expectFieldByField(_ a: ModelDescription, _ b: ModelDescription) {
    #expect(a.name == b.name)
    #expect(a.input == b.input)
    #expect(a.outputs == b.outputs)
    #expect(a.classNames == b.classNames)
    #expect(a.preprocess == b.preprocess)
    #expect(a.notes == b.notes)
    #expect(a.tensors.count == b.tensors.count)
    for (x, y) in zip(a.tensors, b.tensors) { #expect(x == y, "tensor \(y.name)") }
    #expect(a.blobs.count == b.blobs.count)
    for (x, y) in zip(a.blobs, b.blobs) { #expect(x == y, "blob \(y.name)") }
    #expect(a.operations.count == b.operations.count)
    for (x, y) in zip(a.operations, b.operations) { #expect(x == y, "operation \(y.name)") }
    #expect(a == b)
}
