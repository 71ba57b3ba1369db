import DynQCore
import DynQGraph
import Foundation
import Testing

/// The accuracy contract of the shipped int8 model: `fixtures/fmnist/model.dynq` (made by the command in
/// `fixtures/fmnist/QUANTIZED.md`) run by the integer runtime's SIMD kernels, against the float32 reference engine
/// on the float graph it came from, over all 1,000 fixture test images.
///
/// - top-1 agreement of int8 and float ≥ 99 % (target 99.5 %);
/// - int8 accuracy at most 0.5 points below float;
/// - every int8 activation tensor that has a float twin (same name) at ≥ 20 dB SQNR,
///   `10·log10(Σ x² / Σ (x − x̂)²)` over all images, `x̂ = s·(q − z)`.
@Suite(.serialized) struct AccuracyDriftTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let fixture = root + "/fixtures/fmnist"

    @Test func shippedInt8ModelStaysWithinTheDriftBudgetOnAllFixtureImages() throws {
        let graph = try loadGraph(Self.fixture + "/model.graph.json")
        let weights = try readSafetensors(Self.fixture + "/model.safetensors").tensors
        let engine = try FloatEngine(graph: graph, weights: weights)
        let images = try readNpy(Self.fixture + "/test_images.npy")
        let labels = try loadLabels(Self.fixture + "/test_labels.npy")
        let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        guard case .uint8(let pixels) = images.data else {
            Issue.record("test_images.npy is not uint8"); return
        }
        #expect(n == 1000 && labels.count == n)

        let file = try FileIO.read(Self.fixture + "/model.dynq")
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: file.count, alignment: 16)
        defer { bytes.deallocate() }
        file.withUnsafeBytes { bytes.copyMemory(from: $0) }
        let model = try Model(bytes: UnsafeRawBufferPointer(bytes))
        // keepAll: every intermediate survives, for the SQNR.
        let arena = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(ArenaPlan(model: model, kernels: SIMD128Kernels.self, keepAll: true).arenaBytes, 16),
            alignment: 16)
        defer { arena.deallocate() }
        let interpreter = try Interpreter<SIMD128Kernels>(model: model, arena: arena, keepAll: true)

        // int8 tensors with a float twin of the same name (activations; not the uint8 input or Q15 coefficients),
        // and the int16 logits (the wide classifier output).
        let outputs = Set(model.outputs.map(\.index))
        let compared = model.tensors.indices.filter { i in
            let t = model.tensors[i]
            return (t.type == .int8 || (t.type == .int16 && outputs.contains(i))) && engine.shapes[t.name] != nil
        }
        // Equalized tensors (quantizer/Equalization.swift) hold x / s per channel and are renamed `X.equalized`:
        // no float twin, by design. Every other int8 activation must find its twin.
        let equalized = model.tensors.indices.filter { model.tensors[$0].name.hasSuffix(".equalized") }.count
        #expect(compared.count + equalized >= 15, "too few int8 tensors matched by name: \(compared.count)")
        var signal = [Double](repeating: 0, count: model.tensors.count)
        var noise = signal

        var floatCorrect = 0, int8Correct = 0, agree = 0
        var hwc = [UInt8](repeating: 0, count: c * h * w)
        for i in 0..<n {
            let image = Array(pixels[(i * c * h * w)..<((i + 1) * c * h * w)])
            var floats: [String: [Float]] = [:]
            let out = try engine.run(try graph.preprocess(image)) { event in
                if case .tensor(let name, let t) = event { floats[name] = t.data }
            }
            for ch in 0..<c { for p in 0..<(h * w) { hwc[p * c + ch] = image[ch * h * w + p] } }
            try interpreter.setInput(hwc)
            interpreter.invoke()

            let logits = out[0].data
            let floatTop = logits.indices.max { logits[$0] < logits[$1] }!
            let int8Top = interpreter.outputArgmax(0)
            if floatTop == labels[i] { floatCorrect += 1 }
            if int8Top == labels[i] { int8Correct += 1 }
            if floatTop == int8Top { agree += 1 }

            for k in compared {
                let t = model.tensors[k]
                let f = floats[t.name]!
                let s = Double(Float(bitPattern: t.scaleBits))
                let bytes = UnsafeRawBufferPointer(interpreter.tensorBytes(TensorID(k)))
                func raw(_ j: Int) -> Int {
                    t.type == .int16 ? Int(bytes.loadUnaligned(fromByteOffset: 2 * j, as: Int16.self))
                                     : Int(Int8(bitPattern: bytes[j]))
                }
                // NHWC int8 vs NCHW float.
                let shape = t.shape
                let (th, tw, tc) = shape.count == 4 ? (shape[1], shape[2], shape[3]) : (1, 1, shape.last!)
                for y in 0..<th { for x in 0..<tw { for ch in 0..<tc {
                    let real = s * Double(raw((y * tw + x) * tc + ch) - t.zeroPoint)
                    let ref = Double(f[(ch * th + y) * tw + x])
                    signal[k] += ref * ref
                    noise[k] += (ref - real) * (ref - real)
                } } }
            }
        }

        var report = ["fixture fmnist, \(n) images: float \(floatCorrect), int8 \(int8Correct), agreement \(agree)"]
        for k in compared {
            let db = noise[k] == 0 ? Double.infinity : 10 * log10(signal[k] / noise[k])
            report.append(String(format: "  %-22@ %6.1f dB", model.tensors[k].name as NSString, db))
            #expect(db >= 20, "\(model.tensors[k].name): SQNR \(db) dB < 20 dB")
        }
        print(report.joined(separator: "\n"))
        #expect(agree * 100 >= 99 * n, "top-1 agreement \(agree)/\(n) < 99 %")
        #expect((floatCorrect - int8Correct) * 1000 <= 5 * n, "accuracy drop \(floatCorrect - int8Correct)/\(n) > 0.5 points")
    }
}
