// The `dynq` command line as a user meets it: the executable built next to this test bundle, run in a child
// process. Good input succeeds with exit code 0; bad input (truncated or corrupt files, unknown targets, wrong
// files) fails with a non-zero exit code and a message that names the file and the problem.
import Foundation
import Testing

/// The repository root, from this source file's location.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// What one `dynq` run printed and returned.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The `dynq` executable of this build (same directory as the test bundle).
func dynqPath() throws -> String {
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("dynq").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw CLIError(message: "dynq executable not found near \(Bundle.main.bundleURL.path)")
}

struct CLIError: Error { let message: String }

/// Runs `dynq` with `arguments` in the repository root, with `environment` added to this process's, and waits
/// for it.
func dynq(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try dynqPath())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting: a full pipe would block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
               stderr: String(decoding: e, as: UTF8.self))
}

func dynq(_ arguments: String...) throws -> Run { try dynq(arguments) }

/// A scratch file with `bytes`, removed by the caller.
func scratchFile(_ name: String, _ bytes: Data) throws -> String {
    let path = NSTemporaryDirectory() + "dynq-cli-\(ProcessInfo.processInfo.processIdentifier)-" + name
    try bytes.write(to: URL(fileURLWithPath: path))
    return path
}

let model = "fixtures/fmnist/model.dynq"
let image = "fixtures/fmnist/sample0.pgm"

@Suite("dynq command line")
struct CLITests {
    @Test("run: int8 inference on the shipped model prints the top classes and exits 0")
    func runModel() throws {
        let r = try dynq("run", model, image, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"top\""), "\(r.stdout)")
    }

    @Test("sim --measure: every count of the instrumented run equals the analytic counter's, on every target")
    func simMeasure() throws {
        let r = try dynq("sim", model, "--target", "all", "--measure")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("every count equal to the analytic counter's"))
        #expect(r.stdout.contains("arena high-water mark 22656 B of the scalar kernels' 22656 B plan"))
        #expect(r.stdout.contains("cortex-m4") && r.stdout.contains("FITS"))
    }

    @Test("sim --json --svg write a report a program and a person can read")
    func simOutputs() throws {
        let svg = NSTemporaryDirectory() + "dynq-cli-\(ProcessInfo.processInfo.processIdentifier).svg"
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let r = try dynq("sim", model, "--target", "cortex-m4", "--json", "--svg", svg, "--measure")
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["counts"] as? String == "measured")
        #expect((json?["layers"] as? [Any])?.count == 35)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg") || text.hasPrefix("<?xml"))
    }

    @Test("sim --qemu-log compares the estimate with what DynQ's kernels executed on QEMU; another model's, set's or core's log is refused")
    func qemuLog() throws {
        let log = "fixtures/fmnist/qemu-cortex-m4-cortex-m-dsp.log"
        let r = try dynq("sim", model, "--target", "cortex-m4", "--qemu-log", log)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("QEMU instr") && r.stdout.contains("instructions per inference on QEMU's cortex-m4")
                && r.stdout.contains("estimate / QEMU-derived = "), "\(r.stdout)")
        // The scalar run's log beside the M4's cortex-m-dsp estimate: refused, naming the set to pass.
        let scalar = try dynq("sim", model, "--target", "cortex-m4", "--qemu-log", "fixtures/fmnist/qemu-cortex-m4-scalar.log")
        #expect(scalar.status != 0 && scalar.stderr.contains("--kernels scalar"), "\(scalar.stderr)")
        // With --kernels scalar it is shown, as a lower bound (the M4's costs are of cortex-m-dsp).
        let lower = try dynq("sim", model, "--target", "cortex-m4", "--kernels", "scalar", "--qemu-log",
                             "fixtures/fmnist/qemu-cortex-m4-scalar.log")
        #expect(lower.status == 0 && lower.stdout.contains("at least") && lower.stdout.contains("NOT of the scalar kernels"),
                "\(lower.stdout)")
        // --target all: the log goes beside the target it is of.
        let all = try dynq("sim", model, "--target", "all", "--qemu-log", "fixtures/fmnist/qemu-cortex-m55-helium.log")
        #expect(all.status == 0 && all.stdout.contains("cortex-m55: estimate / QEMU-derived = "), "\(all.stdout)")
        // The M55's log beside the M4's estimate: refused.
        let m55 = try dynq("sim", model, "--target", "cortex-m4", "--kernels", "helium", "--qemu-log",
                           "fixtures/fmnist/qemu-cortex-m55-helium.log")
        #expect(m55.status != 0 && m55.stderr.contains("cortex-m55"), "\(m55.stderr)")
        // The same log with another model's name: refused, naming the log.
        let text = try String(contentsOfFile: repoRoot + "/" + log, encoding: .utf8)
        let wrong = try scratchFile("other-model.log",
                                    Data(text.replacingOccurrences(of: "model: 'dynet-fmnist'", with: "model: 'other'").utf8))
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        let other = try dynq("sim", model, "--target", "cortex-m4", "--qemu-log", wrong)
        #expect(other.status != 0 && other.stderr.contains(wrong) && other.stderr.contains("'other'"), "\(other.stderr)")
    }

    @Test("a truncated model file: every command that opens it exits non-zero, naming the file and the problem")
    func truncated() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + model))
        let path = try scratchFile("truncated.dynq", bytes.prefix(100))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for args in [["run", path, image], ["inspect", path], ["sim", path, "--target", "cortex-m4"],
                     ["bench", path, "--runs", "1"]] {
            let r = try dynq(args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.contains(path) && r.stderr.contains("truncated"), "\(args): \(r.stderr)")
        }
    }

    @Test("a model with one flipped byte: the checksum catches it")
    func corrupt() throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + model))
        bytes[5000] ^= 0xFF
        let path = try scratchFile("flipped.dynq", bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for args in [["run", path, image], ["inspect", path], ["sim", path, "--target", "cortex-m4"]] {
            let r = try dynq(args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.contains(path) && r.stderr.contains("CRC-32"), "\(args): \(r.stderr)")
        }
    }

    @Test("a graph with an unknown op, and truncated weights: non-zero exit, file, node and problem named")
    func badGraphAndWeights() throws {
        let graph = try String(contentsOfFile: repoRoot + "/fixtures/fmnist/model.graph.json", encoding: .utf8)
        let badGraph = try scratchFile("unknown-op.graph.json",
                                       Data(graph.replacingOccurrences(of: "\"op\": \"conv2d\"",
                                                                       with: "\"op\": \"conv9d\"").utf8))
        defer { try? FileManager.default.removeItem(atPath: badGraph) }
        let weights = "fixtures/fmnist/model.safetensors"
        let r = try dynq("inspect", "--graph", badGraph, "--weights", weights)
        #expect(r.status != 0)
        #expect(r.stderr.contains(badGraph) && r.stderr.contains("unknown op 'conv9d'"), "\(r.stderr)")

        let w = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + weights))
        let cut = try scratchFile("truncated.safetensors", w.prefix(3000))
        defer { try? FileManager.default.removeItem(atPath: cut) }
        let q = try dynq("quantize", "--graph", "fixtures/fmnist/model.graph.json", "--weights", cut,
                         "--calib", "fixtures/fmnist/calib_images.npy", "-o", NSTemporaryDirectory() + "never.dynq")
        #expect(q.status != 0)
        #expect(q.stderr.contains(cut) && q.stderr.contains("past the end"), "\(q.stderr)")
    }

    @Test("an unknown target is refused with the list of known ones")
    func unknownTarget() throws {
        let r = try dynq("sim", model, "--target", "cortex-m9")
        #expect(r.status != 0)
        #expect(r.stderr.contains("cortex-m9") && r.stderr.contains("cortex-m4"), "\(r.stderr)")
    }

    @Test("--kernels switches the arena plan: the SIMD kernels' packed weights make it larger; a bad value is refused")
    func kernelsOption() throws {
        func arena(_ kernels: String) throws -> Int? {
            let r = try dynq("sim", model, "--target", "cortex-m7", "--kernels", kernels, "--json")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return (json?["ram"] as? [String: Any])?["arena"] as? Int
        }
        let reference = try #require(try arena("reference")), simd = try #require(try arena("simd"))
        #expect(reference == 576 + 22_656 + 15,
                "the interpreter's tables (an Int32 per tensor, a 12-byte slot per op), the scalar plan QEMU measured, plus alignment slack")
        #expect(simd > reference)
        let bad = try dynq("sim", model, "--target", "cortex-m7", "--kernels", "fast")
        #expect(bad.status != 0 && bad.stderr.contains("--kernels"))
    }

    @Test("an input that is not an image is refused, naming the file")
    func notAnImage() throws {
        let path = try scratchFile("not-an-image.json", Data("{\"format\":".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try dynq("run", model, path)
        #expect(r.status != 0)
        #expect(r.stderr.contains(path), "\(r.stderr)")
    }

    @Test("an unknown command prints usage and exits non-zero")
    func unknownCommand() throws {
        let r = try dynq("frobnicate")
        #expect(r.status != 0)
        #expect(r.stderr.contains("unknown command"))
    }
}
