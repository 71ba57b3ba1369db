// What `dynq` prints, checked as a user reads it (issue 17): complete and unambiguous sim tables, one MAC figure,
// round SVG ticks with op names, no progress bars in logs, one-line errors naming the right file, raw logits,
// tensor dumps, and the same results on one core or several.
import Foundation
import Testing

/// The first `count` float32 values of row `row` of a C-order 2-D float32 `.npy` (format 1.0).
func npyRow(_ path: String, row: Int, count: Int) throws -> [Float] {
    let d = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + path))
    let headerLength = Int(d[8]) | Int(d[9]) << 8
    let start = 10 + headerLength + row * count * 4
    return (0..<count).map { k in
        let b = d[(start + 4 * k)..<(start + 4 * k + 4)]
        return Float(bitPattern: UInt32(b[b.startIndex]) | UInt32(b[b.startIndex + 1]) << 8
                     | UInt32(b[b.startIndex + 2]) << 16 | UInt32(b[b.startIndex + 3]) << 24)
    }
}

/// A scratch directory, removed by the caller.
func scratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "dynq-cli-\(ProcessInfo.processInfo.processIdentifier)-" + name
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let fixtureGraph = "fixtures/fmnist/model.graph.json"
let fixtureWeights = "fixtures/fmnist/model.safetensors"

@Suite("dynq output")
struct CLIOutputTests {
    @Test("sim --target all: whole part names, one name per column, code size only where it was measured")
    func simSweep() throws {
        let r = try dynq("sim", model, "--target", "all")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(r.stdout.contains("Raspberry Pi RP2040 (Raspberry Pi Pico board)"))
        #expect(r.stdout.contains("Broadcom BCM2837 (Raspberry Pi 3 Model B)"))
        let header = try #require(lines.first { $0.hasPrefix("target") })
        let columns = header.split(separator: " ", omittingEmptySubsequences: true)
        #expect(!header.contains("SRAM RAM") && !header.contains("flash flash"), "\(header)")
        #expect(columns.count == 21, "\(header)")   // 14 columns; 'kernel set', 'RAM used' and friends are two words
        // Each row names the kernel set its estimate is for (* = literature cycle costs).
        for (target, set) in [("cortex-m4", "cortex-m-dsp "), ("cortex-m55", "helium "), ("cortex-m0plus", "scalar*"),
                              ("cortex-a53", "neon*")] {
            let row = try #require(lines.first { $0.hasPrefix(target + " ") })
            #expect(row.contains(set), "\(row)")
        }
        // The armv7em code size applies to the Cortex-M4 and M7 rows only.
        for (target, measured) in [("cortex-m4", true), ("cortex-m7", true), ("cortex-m0plus", false),
                                   ("cortex-m55", false), ("cortex-a53", false)] {
            let row = try #require(lines.first { $0.hasPrefix(target + " ") })
            #expect(row.contains("n/a") != measured, "\(row)")
        }
        #expect(r.stdout.contains("code 247.0 KiB (armv7em build)") || r.stdout.contains("(armv7em build)"))
    }

    @Test("one MAC figure per model: inspect, sim (table, sweep, JSON) and bench print the same number")
    func oneMACTotal() throws {
        let inspect = try dynq("inspect", "--graph", fixtureGraph, "--weights", fixtureWeights)
        #expect(inspect.stdout.contains("MACs per image: 2,407,536"), "\(inspect.stdout)")
        let table = try dynq("sim", model, "--target", "cortex-m4")
        #expect(table.stdout.contains("MACs per image: 2,407,536"), "\(table.stdout)")
        #expect(!table.stdout.contains("2.41 M") && !table.stdout.contains("2.28 M"))
        let sweep = try dynq("sim", model, "--target", "all")
        #expect(sweep.stdout.contains("2,407,536 MACs per image"))
        let json = try dynq("sim", model, "--target", "cortex-m4", "--json")
        let j = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(j?["macs_per_image"] as? Int == 2_407_536)
        let bench = try dynq("bench", model, "--runs", "1", "--reference-runs", "1")
        #expect(bench.stdout.contains("2,407,536 MACs per image"), "\(bench.stdout)")
    }

    @Test("sim --measure names the targets each measured arena belongs to")
    func measuredArenas() throws {
        let r = try dynq("sim", model, "--target", "all", "--measure")
        let measured = r.stdout.split(separator: "\n").filter { $0.hasPrefix("measured (--measure") }
        #expect(measured.count == 4)
        #expect(measured.contains { $0.contains("scalar-kernel targets: cortex-m0plus") })
        #expect(measured.contains { $0.contains("cortex-m-dsp-kernel targets: cortex-m4, cortex-m7") })
        #expect(measured.contains { $0.contains("helium-kernel targets: cortex-m55") })
        #expect(measured.contains { $0.contains("neon-kernel targets: cortex-a53") })
    }

    @Test("the SVG names the ops on its x axis and puts its ticks on round values")
    func svgAxes() throws {
        let svg = NSTemporaryDirectory() + "dynq-cli-\(ProcessInfo.processInfo.processIdentifier)-axes.svg"
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let r = try dynq("sim", model, "--target", "cortex-m4", "--svg", svg)
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        for op in ["stem.0", "blocks.0.body.0", "blocks.3.add", "head.2"] {
            #expect(text.contains(">\(op)</text>"), "op \(op) not on the axis")
        }
        // Tick labels: the right-aligned 11-px texts left of each panel.
        let ticks = text.split(separator: "\n").filter { $0.contains("font-size=\"11\" text-anchor=\"end\"") }
            .compactMap { line -> String? in
                guard let a = line.range(of: "\">"), let b = line.range(of: "</text>") else { return nil }
                return String(line[a.upperBound..<b.lowerBound])
            }
        #expect(ticks.count >= 6, "\(ticks)")
        for t in ticks {
            #expect(t.wholeMatch(of: /0|[125]0*( B| KiB| MiB| k| M| G)?|[1-9][0-9]*( B| KiB| MiB| k| M| G)?/) != nil,
                    "tick '\(t)' is not round")
            let number = Int(t.prefix { $0.isNumber }) ?? -1
            #expect(number >= 0 && !t.contains("."), "tick '\(t)'")
        }
    }

    @Test("eval: no progress bar when stderr is not a terminal; the same report on one thread and on two")
    func evalLogsAndThreads() throws {
        func eval(_ jobs: String) throws -> Run {
            try dynq("eval", model, "--data", "fixtures/fmnist/test_images.npy", "--labels",
                     "fixtures/fmnist/test_labels.npy", "--graph", fixtureGraph, "--weights", fixtureWeights,
                     "--limit", "120", "--json", "--jobs", jobs)
        }
        let one = try eval("1"), two = try eval("2")
        #expect(one.status == 0 && two.status == 0, "\(one.stderr) \(two.stderr)")
        #expect(!one.stderr.contains("\r") && !two.stderr.contains("\r"))
        #expect(one.stdout == two.stdout)
        #expect(one.stdout.contains("\"images\":120"))
    }

    @Test("quantize: the same model on one thread and on two; stderr not a terminal: one calibration line, no progress")
    func quantizeThreads() throws {
        let dir = try scratchDirectory("quantize-jobs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for jobs in ["1", "2"] {
            let r = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                             "fixtures/fmnist/calib_images.npy", "--samples", "40", "--jobs", jobs,
                             "-o", dir + "/m\(jobs).dynq")
            #expect(r.status == 0, "\(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("calibrating:") }
            #expect(lines.count == 1 && lines[0].hasPrefix("calibrating: 40/40 samples"), "\(r.stderr)")
        }
        #expect(FileManager.default.contentsEqual(atPath: dir + "/m1.dynq", andPath: dir + "/m2.dynq"))
    }

    @Test("quantize: the classifier refit runs by default and says so on stderr; --no-refit builds without it; both flags refused")
    func quantizeRefit() throws {
        let dir = try scratchDirectory("quantize-refit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let on = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                          "fixtures/fmnist/calib_images.npy", "--samples", "40", "-o", dir + "/on.dynq")
        #expect(on.status == 0, "\(on.stderr)")
        #expect(on.stderr.contains("classifier refit: head.2 on 40 images, λ "), "\(on.stderr)")
        let off = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                           "fixtures/fmnist/calib_images.npy", "--samples", "40", "--no-refit", "-o", dir + "/off.dynq")
        #expect(off.status == 0 && !off.stderr.contains("refit"), "\(off.stderr)")
        #expect(!FileManager.default.contentsEqual(atPath: dir + "/on.dynq", andPath: dir + "/off.dynq"))
        let both = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                            "fixtures/fmnist/calib_images.npy", "--refit", "--no-refit", "-o", dir + "/x.dynq")
        #expect(both.status != 0 && both.stderr.contains("--refit and --no-refit exclude each other"), "\(both.stderr)")
    }

    @Test("-o naming a directory: a one-line error before any work, no Cocoa error")
    func outputDirectory() throws {
        let dir = try scratchDirectory("out-dir")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                         "fixtures/fmnist/calib_images.npy", "-o", dir)
        #expect(r.status == 1)
        #expect(r.stderr == "dynq: \(dir): is a directory; give the name of a file to write\n", "\(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("calibrating"))
        let missing = try dynq("quantize", "--graph", fixtureGraph, "--weights", fixtureWeights, "--calib",
                               "fixtures/fmnist/calib_images.npy", "-o", dir + "/no/such/dir/m.dynq")
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
    }

    @Test("a NaN weight: the error names the weights file and the trained tensor, not a folded one")
    func weightErrorNamesTheFile() throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + fixtureWeights))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: bytes[8..<(8 + headerLength)]) as? [String: Any]
        let entry = try #require(header?["stem.0.weight"] as? [String: Any])
        let offset = try #require((entry["data_offsets"] as? [Int])?.first)
        let at = 8 + headerLength + offset
        bytes.replaceSubrange(at..<(at + 4), with: [0x00, 0x00, 0xC0, 0x7F])   // float32 NaN
        let path = try scratchFile("nan.safetensors", bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try dynq("quantize", "--graph", fixtureGraph, "--weights", path, "--calib",
                         "fixtures/fmnist/calib_images.npy", "-o", NSTemporaryDirectory() + "never.dynq")
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("dynq: \(path): ") && r.stderr.contains("'stem.0.weight'"), "\(r.stderr)")
        #expect(!r.stderr.contains("bnfold"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test("run --float --logits prints PyTorch's raw logits; the int8 model's are close")
    func rawLogits() throws {
        let expected = try npyRow("fixtures/fmnist/torch_logits.npy", row: 0, count: 10)
        func logits(_ r: Run) -> [Float] {
            r.stdout.split(separator: "\n").first.map { line in
                line.split(separator: " ").dropFirst(2).compactMap { Float(String($0)) }
            } ?? []
        }
        let float = try dynq("run", "--float", "--graph", fixtureGraph, "--weights", fixtureWeights, image, "--logits")
        #expect(float.status == 0, "\(float.stderr)")
        let f = logits(float)
        #expect(f.count == 10)
        for (a, b) in zip(f, expected) { #expect(abs(a - b) <= 1e-4 * max(1, abs(b)), "\(f) vs \(expected)") }
        let int8 = try dynq("run", model, image, "--logits")
        let q = logits(int8)
        #expect(q.count == 10)
        for (a, b) in zip(q, expected) { #expect(abs(a - b) <= 1.0, "\(q) vs \(expected)") }
        let both = try dynq("run", model, image, "--logits", "--top", "3")
        #expect(both.status == 2)
    }

    @Test("run --dump writes every float and int8 tensor as .npy, named like the graph's tensors")
    func dump() throws {
        let dir = try scratchDirectory("dump")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let float = try dynq("run", "--float", "--graph", fixtureGraph, "--weights", fixtureWeights, image,
                             "--dump", dir + "/float")
        let int8 = try dynq("run", model, image, "--dump", dir + "/int8")
        #expect(float.status == 0 && int8.status == 0, "\(float.stderr) \(int8.stderr)")
        let floatFiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/float")
        let int8Files = try FileManager.default.contentsOfDirectory(atPath: dir + "/int8")
        #expect(floatFiles.count == 37, "every graph tensor and the input")
        // An equalized tensor (quantizer/Equalization.swift, the default) holds x / s per channel in the int8
        // model and is dumped under its own name, never as the float tensor's.
        #expect(int8Files.contains("stem.2.equalized.npy") && !int8Files.contains("stem.2.npy"))
        for name in ["input", "blocks.0.body.5", "blocks.1.post", "head.0", "logits"] {
            #expect(floatFiles.contains(name + ".npy"))
            #expect(int8Files.contains(name + ".npy") && int8Files.contains(name + ".q.npy"), "\(name)")
            // Same shape header in both dumps.
            func shape(_ path: String) throws -> String {
                let d = try Data(contentsOf: URL(fileURLWithPath: path))
                let h = String(decoding: d[10..<(10 + (Int(d[8]) | Int(d[9]) << 8))], as: UTF8.self)
                return String(h[h.range(of: "'shape': ")!.upperBound...].prefix { $0 != ")" })
            }
            #expect(try shape(dir + "/float/\(name).npy") == shape(dir + "/int8/\(name).npy"), "\(name)")
        }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/int8/tensors.json")))
        #expect((index as? [Any])?.count == int8Files.filter { $0.hasSuffix(".q.npy") }.count)
    }
}
