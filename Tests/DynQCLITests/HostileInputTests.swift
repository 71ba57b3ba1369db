// Issue 16: hostile input never crashes, hangs or lies. One test per row of the table, run through the
// `dynq` executable as a hostile user would; the reproducers are in fixtures/hostile (PROVENANCE.md) or are
// derived from the shipped fixtures here. "Refused" means exit status 1, no signal, no timeout, and the last
// stderr line `dynq: FILE: problem`.
import Foundation
import Testing

@Suite("hostile input (issue 16)")
struct HostileInputTests {
    // MARK: Rows 1, 2, 13: the .dynq reader (Sources/DynQCore)

    // Rows 1 and 2 trapped inside the model validator (Sources/DynQCore) before its overflow-safe products.
    @Test("row 1: a conv2d whose weight count O·kh·kw·I is 2^64 is refused, not an overflow trap")
    func convWeightCountOverflow() throws {
        let file = "\(hostile)/row01-conv-weight-count-overflow.dynq"
        for args in [["inspect", file], ["run", file, image], ["sim", file, "--target", "cortex-m4"], ["bench", file, "--runs", "1"]] {
            let r = try hostileDynq(args, timeout: 60)
            #expect(r.refused(naming: file), "\(args): \(r.summary)")
        }
    }

    @Test("row 2: a dynamic_conv2d whose weight count g·O·kh·kw·I exceeds 2^63 is refused, not an overflow trap")
    func dynamicWeightCountOverflow() throws {
        let file = "\(hostile)/row02-dynamic-weight-count-overflow.dynq"
        for args in [["inspect", file], ["run", file, image], ["sim", file, "--target", "cortex-m4"], ["bench", file, "--runs", "1"]] {
            let r = try hostileDynq(args, timeout: 60)
            #expect(r.refused(naming: file), "\(args): \(r.summary)")
        }
    }

    @Test("row 13: bytes after the size a .dynq header declares are refused by every command that opens it")
    func trailingBytes() throws {
        let file = "\(hostile)/row13-trailing-bytes.dynq"
        for args in [["inspect", file], ["run", file, image], ["sim", file, "--target", "cortex-m4"],
                     ["bench", file, "--runs", "1"], ["eval", file, "--data", image]] {
            let r = try hostileDynq(args, timeout: 60)
            #expect(r.refused(naming: file) && r.stderr.contains("100 bytes after"), "\(args): \(r.summary)")
        }
    }

    // MARK: Rows 3-5: the quantizer's calibration

    @Test("rows 3 and 5: a NaN or +inf calibration value is refused naming the image, not a trap or a hang",
          arguments: [("row03-calib-nan.npy", "nan"), ("row05-calib-inf.npy", "inf")])
    func nonFiniteCalibration(file: String, value: String) throws {
        let calib = "\(hostile)/\(file)"
        let r = try hostileDynq(["quantize", "--graph", fmnistGraph, "--weights", fmnistWeights, "--calib", calib,
                                 "-o", NSTemporaryDirectory() + "never.dynq"], timeout: 60)
        #expect(r.refused(naming: calib) && r.stderr.contains("image 1: value \(value) at index 406"), "\(r.summary)")
    }

    @Test("row 4: a 3e38 calibration value, outside what pixels 0…255 give, is refused naming the image, not a trap")
    func hugeCalibrationValue() throws {
        let calib = "\(hostile)/row04-calib-3e38.npy"
        let r = try hostileDynq(["quantize", "--graph", fmnistGraph, "--weights", fmnistWeights, "--calib", calib,
                                 "-o", NSTemporaryDirectory() + "never.dynq"], timeout: 60)
        #expect(r.refused(naming: calib) && r.stderr.contains("image 1") && r.stderr.contains("3e+38"), "\(r.summary)")
    }

    @Test("row 4: finite CPM weights of -2.5e38 that make the float CPM logits -inf are refused naming image and tensor")
    func hugeCPMWeight() throws {
        let dir = try scratchDirectory("cpm-weight")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weights = dir + "/huge-fc2.safetensors"
        // The first row of blocks.0's fc2 (16 weights): its logit is -2.5e38 times the sum of the hidden units.
        try patchSafetensors(repoRoot + "/" + fmnistWeights, to: weights, tensorSuffix: "cpm.fc2.weight", value: -2.5e38,
                             count: 16)
        let r = try hostileDynq(["quantize", "--graph", fmnistGraph, "--weights", weights, "--calib",
                                 "fixtures/fmnist/calib_images.npy", "--samples", "2", "-o", dir + "/never.dynq"], timeout: 120)
        #expect(r.refused(naming: "fixtures/fmnist/calib_images.npy")
                && r.stderr.contains("calibration image 0: tensor 'blocks.0.cpm.logits' holds -inf"), "\(r.summary)")
    }

    @Test("row 5: a graph whose preprocess.scale is 1e38 is refused at validation, not a hang in the histogram")
    func hugePreprocessScale() throws {
        let dir = try scratchDirectory("scale")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let graph = dir + "/scale-1e38.graph.json"
        let text = try String(contentsOfFile: repoRoot + "/" + fmnistGraph, encoding: .utf8)
        try text.replacingOccurrences(of: "\"scale\": 0.00392156862745098", with: "\"scale\": 1e38")
            .write(toFile: graph, atomically: true, encoding: .utf8)
        for args in [["quantize", "--graph", graph, "--weights", fmnistWeights, "--calib", "fixtures/fmnist/calib_images.npy",
                      "--samples", "2", "-o", dir + "/never.dynq"],
                     ["inspect", "--graph", graph, "--weights", fmnistWeights]] {
            let r = try hostileDynq(args, timeout: 60)
            #expect(r.refused(naming: graph) && r.stderr.contains("input.preprocess gives inf for pixel 255"),
                    "\(args[0]): \(r.summary)")
        }
    }

    // MARK: Row 6: target profiles

    @Test("row 6: a targets profile with a byte size of 1e19 (≥ 2^63) is refused naming the field, not a trap",
          arguments: ["sram_bytes", "flash_bytes", "sram_largest_block_bytes"])
    func hugeTargetSize(field: String) throws {
        let dir = try scratchDirectory("targets-\(field)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var json = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: repoRoot + "/targets/targets.json"))) as? [String: Any])
        var targets = try #require(json["targets"] as? [[String: Any]])
        targets[0][field] = ["value": 1e19, "source": "hostile"]
        json["targets"] = targets
        let path = dir + "/targets.json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let name = try #require(targets[0]["name"] as? String)
        let r = try hostileDynq(["sim", model, "--target", name, "--targets", path], timeout: 60)
        #expect(r.refused(naming: path) && r.stderr.contains(field) && r.stderr.contains("absurd"), "\(r.summary)")
    }

    // MARK: Row 7: a huge padding

    @Test("row 7: a graph with a padding of 1,000,000 is refused at validation before anything is allocated")
    func hugePadding() throws {
        let dir = try scratchDirectory("padding")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let graph = dir + "/padding.graph.json"
        let text = try String(contentsOfFile: repoRoot + "/" + fmnistGraph, encoding: .utf8)
        let stem = "\"weight\": \"stem.0.weight\", \"stride\": [1, 1], \"padding\": [1, 1, 1, 1]"
        #expect(text.contains(stem))
        try text.replacingOccurrences(of: stem, with: "\"weight\": \"stem.0.weight\", \"stride\": [1, 1], \"padding\": [1000000, 1, 1, 1]")
            .write(toFile: graph, atomically: true, encoding: .utf8)
        for args in [["quantize", "--graph", graph, "--weights", fmnistWeights, "--calib", "fixtures/fmnist/calib_images.npy",
                      "--samples", "2", "-o", dir + "/never.dynq"],
                     ["inspect", "--graph", graph, "--weights", fmnistWeights]] {
            // Within 256 MiB of data (main took 4.7 GiB and was still going after 60 s).
            let r = try hostileDynq(args, timeout: 60, dataLimitMiB: 256)
            #expect(r.refused(naming: graph) && r.stderr.contains("absurd shape [1, 16, 1000027, 28]"), "\(args[0]): \(r.summary)")
        }
    }

    // MARK: Row 8: arena ceiling

    @Test("row 8: a 1.5 KB model that asks for a 512 MiB arena is refused by run, eval, bench and sim --measure, saying how much")
    func hugeArena() throws {
        let file = "\(hostile)/row08-512mib-arena.dynq"
        for args in [["run", file, image], ["eval", file, "--data", image], ["bench", file, "--runs", "1"],
                     ["sim", file, "--target", "cortex-m4", "--measure"]] {
            // Within 128 MiB of data: the arena (and a 256 MiB bench input) must not be allocated.
            let r = try hostileDynq(args, timeout: 60, dataLimitMiB: 128)
            #expect(r.refused(naming: file) && r.stderr.contains("512.0 MiB") && r.stderr.contains("--max-arena"),
                    "\(args): \(r.summary)")
        }
    }

    @Test("row 8: --max-arena lowers and raises the ceiling; the refusal names the bytes the model asks for")
    func maxArenaOption() throws {
        /// The N of "rerun with --max-arena N" in a refusal.
        func asked(_ r: HostileRun) -> Int? {
            r.stderr.components(separatedBy: "--max-arena ").last?.split(separator: " ").first.flatMap { Int($0) }
        }
        let low = try hostileDynq("run", model, image, "--max-arena", "1000")
        // The refusal names the host's default kernel set (host-wide on x86-64, neon on AArch64, else simd128).
        let defaultSetNamed = ["host-wide", "neon", "simd128"].contains { low.stderr.contains("\($0) kernels") }
        #expect(low.refused(naming: model) && defaultSetNamed, "\(low.summary)")
        let need = try #require(asked(low))
        #expect(need > 1000)
        let enough = try hostileDynq("run", model, image, "--max-arena", "\(need)")
        #expect(enough.status == 0, "\(enough.summary)")
        let oneShort = try hostileDynq("run", model, image, "--max-arena", "\(need - 1)")
        #expect(oneShort.refused(naming: model), "\(oneShort.summary)")
        // eval with the float graph keeps every tensor: a larger plan, and the message says so.
        let keep = try hostileDynq("eval", model, "--data", image, "--graph", fmnistGraph, "--weights", fmnistWeights,
                                   "--max-arena", "\(need)")
        #expect(keep.refused(naming: model) && keep.stderr.contains("keeping every tensor"), "\(keep.summary)")
    }

    // MARK: Row 9: junk files are not read whole

    @Test("row 9: a 192 MB junk file is refused from its first bytes by every reader, within 64 MiB of data")
    func junkFilesAreNotReadWhole() throws {
        let dir = try scratchDirectory("junk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["junk.dynq", "junk.graph.json", "junk.npy", "junk.labels.npy", "junk.targets.json", "junk.log"] {
            try sparseFile(dir + "/" + name, size: 192 << 20)
        }
        let cases: [(String, [String])] = [
            ("junk.dynq", ["inspect", dir + "/junk.dynq"]),
            ("junk.dynq", ["sim", dir + "/junk.dynq", "--target", "cortex-m4"]),
            ("junk.graph.json", ["inspect", "--graph", dir + "/junk.graph.json", "--weights", fmnistWeights]),
            ("junk.npy", ["run", model, dir + "/junk.npy"]),
            ("junk.labels.npy", ["eval", model, "--data", "fixtures/fmnist/test_images.npy", "--labels", dir + "/junk.labels.npy"]),
            ("junk.targets.json", ["sim", model, "--target", "cortex-m4", "--targets", dir + "/junk.targets.json"]),
            ("junk.log", ["sim", model, "--target", "cortex-m4", "--qemu-log", dir + "/junk.log"]),
        ]
        for (name, args) in cases {
            // A reader that reads the file whole cannot allocate its 192 MiB under this cap.
            let r = try hostileDynq(args, timeout: 60, dataLimitMiB: 64)
            #expect(r.refused(naming: dir + "/" + name), "\(args): \(r.summary)")
        }
    }

    // MARK: Rows 10-12: confident wrong answers

    @Test("row 10: an all-NaN float32 image is refused naming the image, by run (int8 and float) and eval")
    func nanImage() throws {
        let file = "\(hostile)/row10-all-nan.npy"
        for args in [["run", model, file], ["run", "--float", "--graph", fmnistGraph, "--weights", fmnistWeights, file],
                     ["eval", model, "--data", file], ["eval", model, "--data", file, "--graph", fmnistGraph, "--weights", fmnistWeights]] {
            let r = try hostileDynq(args)
            #expect(r.refused(naming: file) && r.stderr.contains("image 0: value nan at index 0"), "\(args): \(r.summary)")
            #expect(!r.stdout.contains("Bag") && !r.stdout.contains("nan"), "\(args): printed scores: \(r.stdout)")
        }
    }

    @Test("row 10: -inf in image 0 is refused naming image 0; a finite 3e38 gets a warning naming its image for int8")
    func infAndHugeImages() throws {
        let file = "\(hostile)/row10-inf-and-3e38.npy"
        let inf = try hostileDynq("run", model, file)
        #expect(inf.refused(naming: file) && inf.stderr.contains("image 0: value -inf at index 88"), "\(inf.summary)")
        // Image 1 alone (via a copy without image 0): 3e38 is finite but no pixel; clamped with a warning.
        let dir = try scratchDirectory("huge")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = dir + "/one.npy"
        try Data(npyFloat32(shape: [1, 1, 28, 28], values: (0..<784).map { $0 == 0 ? 3e38 : 0.5 })).write(to: URL(fileURLWithPath: one))
        let r = try hostileDynq("run", model, one)
        #expect(r.status == 0 && r.stderr.contains("warning: \(one): image 0: 1 value falls outside"), "\(r.summary)")
    }

    @Test("row 11: labels outside the model's classes are refused naming the label index",
          arguments: [("row11-labels-99.npy", "label 99 at index 0"), ("row11-labels-minus1.npy", "label -1 at index 1")])
    func labelsOutOfRange(file: String, expected: String) throws {
        let labels = "\(hostile)/\(file)"
        let r = try hostileDynq("eval", model, "--data", "\(hostile)/row11-images.npy", "--labels", labels)
        #expect(r.refused(naming: labels) && r.stderr.contains(expected) && r.stderr.contains("10 classes"), "\(r.summary)")
        #expect(!r.stdout.contains("accuracy"), "printed an accuracy: \(r.stdout)")
    }

    @Test("row 12: eval against another float model is refused; against its own it still compares")
    func wrongFloatModel() throws {
        let other = "fixtures/fmnist_perlayer/model.graph.json"
        let r = try hostileDynq("eval", model, "--data", "fixtures/fmnist/test_images.npy", "--limit", "8",
                                "--graph", other, "--weights", "fixtures/fmnist_perlayer/model.safetensors")
        #expect(r.refused(naming: other) && r.stderr.contains("is not the float graph"), "\(r.summary)")
        #expect(!r.stdout.contains("SQNR"), "printed a comparison: \(r.stdout)")
        let own = try hostileDynq("eval", model, "--data", "fixtures/fmnist/test_images.npy", "--limit", "8",
                                  "--labels", "fixtures/fmnist/test_labels.npy", "--graph", fmnistGraph, "--weights", fmnistWeights)
        #expect(own.status == 0 && own.stdout.contains("SQNR"), "\(own.summary)")
    }

    // MARK: Found on the way

    @Test("a file name or header carrying control characters cannot forge terminal output: the error stays one line")
    func controlCharactersAreEscaped() throws {
        let dir = try scratchDirectory("escape")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/evil.npy"
        // An .npy header whose text holds an escape sequence and a newline.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x\u{1B}[2J\nforged': 1, }"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0]
        bytes += Array(header.utf8) + [0, 0, 0, 0]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try hostileDynq("run", model, path)
        #expect(r.refused(naming: path), "\(r.summary)")
        #expect(!r.stderr.contains("\u{1B}") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr.debugDescription)")
    }

    @Test("class and op names from a model file reach the terminal escaped (run, inspect)")
    func namesAreEscaped() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + model)))
        // "Bag" (a class name in the strings section) becomes "B<ESC>g"; the CRC is recomputed.
        let bag = Array("Bag".utf8)
        let at = try #require((0..<bytes.count - 3).first { Array(bytes[$0..<$0 + 3]) == bag })
        bytes[at + 1] = 0x1B
        let crc = crc32(bytes[24...])
        for k in 0..<4 { bytes[20 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
        let dir = try scratchDirectory("names")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/escape.dynq"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try hostileDynq("run", path, image, "--top", "10")
        #expect(r.status == 0 && r.stdout.contains("B\\u{1B}g") && !r.stdout.contains("\u{1B}"), "\(r.summary) \(r.stdout)")
        let i = try hostileDynq("inspect", path)
        #expect(i.status == 0 && i.stdout.contains("B\\u{1B}g") && !i.stdout.contains("\u{1B}"), "\(i.summary)")
    }

    @Test("a FIFO or device is refused as not a regular file instead of blocking or reading forever")
    func notARegularFile() throws {
        let r = try hostileDynq(["run", model, "/dev/zero"], timeout: 30)
        #expect(r.refused(naming: "/dev/zero") && r.stderr.contains("not a regular file"), "\(r.summary)")
    }
}

/// Copies a safetensors file, setting the first `count` elements of the first F32 tensor (by name) whose name ends in
/// `suffix` to `value`.
func patchSafetensors(_ source: String, to destination: String, tensorSuffix suffix: String, value: Float,
                      count: Int = 1) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
    let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<8 + n])) as? [String: Any])
    let name = try #require(header.keys.sorted().first { $0.hasSuffix(suffix) }, "no tensor ending in \(suffix)")
    let entry = try #require(header[name] as? [String: Any])
    #expect(entry["dtype"] as? String == "F32")
    let begin = try #require((entry["data_offsets"] as? [Int])?.first)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { v in
        for e in 0..<count { for k in 0..<4 { bytes[8 + n + begin + 4 * e + k] = v[k] } }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: destination))
}

/// A version-1 little-endian float32 `.npy` file.
func npyFloat32(shape: [Int], values: [Float]) -> [UInt8] {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
    out += Array(header.utf8)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
    return out
}

/// CRC-32 (zlib), for rewriting a `.dynq` header after an edit.
func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
    }
    return ~c
}
