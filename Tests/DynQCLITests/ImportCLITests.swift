// `dynq import` as a user runs it: an ONNX file in, a graph + weights out that the other commands accept.
import Foundation
import Testing

/// A fresh scratch directory.
func scratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "dynq-import-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("dynq import")
struct ImportCLITests {
    @Test("import → quantize → run: an ONNX DyNet becomes a .dynq model in three commands")
    func journey() throws {
        let dir = try scratchDirectory()
        let r = try dynq("import", "fixtures/onnx/dynet.onnx", "-o", "\(dir)/dynet")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("5 dynamic convolutions, 3 coefficient predictors"), "\(r.stdout)")
        let f = try dynq("run", "--float", "--graph", "\(dir)/dynet.graph.json", "--weights", "\(dir)/dynet.safetensors",
                         "fixtures/onnx/dynet.input.npy", "--json")
        #expect(f.status == 0, "\(f.stderr)")
        let q = try dynq("quantize", "--graph", "\(dir)/dynet.graph.json", "--weights", "\(dir)/dynet.safetensors",
                         "--calib", "fixtures/onnx/dynet.input.npy", "-o", "\(dir)/dynet.dynq")
        #expect(q.status == 0, "\(q.stderr)")
        let i = try dynq("run", "\(dir)/dynet.dynq", "fixtures/onnx/dynet.input.npy", "--json")
        #expect(i.status == 0, "\(i.stderr)")
        #expect(i.stdout.contains("\"top\""))
    }

    @Test("import writes the preprocess given on the command line into the graph")
    func preprocess() throws {
        let dir = try scratchDirectory()
        let r = try dynq("import", "fixtures/onnx/plain.onnx", "-o", "\(dir)/p", "--mean", "0.5,0.4,0.3", "--std", "0.2")
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: "\(dir)/p.graph.json", encoding: .utf8)
        #expect(text.contains("0.4") && text.contains("0.003921"), "\(text.prefix(400))")
    }

    @Test("a truncated or foreign file fails with exit 1 and one line naming it")
    func badFiles() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/fixtures/onnx/resnet.onnx"))
        for data in [bytes.prefix(bytes.count / 3), Data("not onnx".utf8)] {
            let path = try scratchFile("bad.onnx", Data(data))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let r = try dynq("import", path, "-o", NSTemporaryDirectory() + "never")
            #expect(r.status == 1)
            #expect(r.stderr.hasPrefix("dynq: \(path): ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }

    @Test("a missing -o is a usage error")
    func usage() throws {
        let r = try dynq("import", "fixtures/onnx/plain.onnx")
        #expect(r.status == 2)
        #expect(r.stderr.contains("missing --output"))
    }
}
