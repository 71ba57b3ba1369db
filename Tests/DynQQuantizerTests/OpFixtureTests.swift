import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

/// Every PyTorch op case of fixtures/ops (see fixtures/ops/INDEX.md) quantized with random uint8 calibration
/// images, run by the int8 runtime and compared with the float engine on other random images.
@Suite struct OpFixtureTests {
    static let root = repositoryRoot + "/fixtures/ops"

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root + "/" + $0 + "/graph.json") }.sorted()
    }

    /// Cases the quantizer must refuse: a batchnorm that follows no convolution.
    static let refused: Set<String> = ["batchnorm"]

    @Test(arguments: cases)
    func quantizesAndFollowsFloat(_ name: String) throws {
        let dir = Self.root + "/" + name
        let graph = try loadGraph(dir + "/graph.json")
        let weights = try readSafetensors(dir + "/weights.safetensors").tensors
        let n = graph.input.shape.reduce(1, *)
        var r = SeededRandom(UInt64(name.utf8.reduce(5381) { ($0 &* 33) &+ UInt64($1) }))
        let calib = (0..<64).map { _ in r.pixels(n) }
        let test = (0..<8).map { _ in r.pixels(n) }
        if Self.refused.contains(name) {
            #expect(throws: DynQError.self) {
                try quantize(graph: graph, weights: weights, calibration: calib.map { try graph.preprocess($0) })
            }
            return
        }
        let (md, _) = try quantize(graph: graph, weights: weights, calibration: try calib.map { try graph.preprocess($0) },
                                   options: QuantizationOptions(method: .minmax))
        let runner = try Int8Runner(md)
        #expect(runner.readBack == md)
        let engine = try FloatEngine(graph: graph, weights: weights)
        // Values beyond the calibrated range saturate (that is calibration, not arithmetic): compare with the
        // float output clamped to what the output tensor can represent.
        let out = md.tensors[md.outputs[0].index]
        let s = Double(Float(bitPattern: out.scaleBits))
        // int16: Q15 coefficients (scale 2^−15, [0, 1)) or wide logits (zero point 0, the whole int16 range).
        let (lo, hi) = out.type == .int16
            ? (out.scaleBits == 0x3800_0000 ? (0.0, 32767 * s) : (-32768 * s, 32767 * s))
            : (s * Double(-128 - out.zeroPoint), s * Double(127 - out.zeroPoint))
        var worst = 0.0, span = 0.0
        for img in test {
            let f = try engine.run(try graph.preprocess(img))[0].data.map { min(max(Double($0), lo), hi) }
            let q = try runner.run(img, channels: graph.input.shape[1])[0]
            #expect(f.count == q.count)
            span = max(span, (f.max() ?? 0) - (f.min() ?? 0))
            worst = max(worst, zip(f, q).map { abs($0 - $1) }.max() ?? 0)
        }
        print("op \(name): max |int8 − float| \(worst) over a spread of \(span) (\(worst / max(span, 1e-12) * 100) %)")
        #expect(worst <= 0.05 * span + 1e-6, "\(name): max |int8 − float| \(worst), spread \(span)")
    }
}
