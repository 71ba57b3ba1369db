// `dynq export`: the model and an input image as C source and raw blobs for a firmware (include/dynq.h).
import Foundation
import Testing

/// A fresh scratch directory, removed by the caller.
private func exportScratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "dynq-export-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
private func text(_ path: String) throws -> String { String(decoding: try bytes(path), as: UTF8.self) }

/// Runs `clang -fsyntax-only -Werror` on C files (the Swift toolchain always ships clang).
private func compiles(_ files: [String], include: [String]) throws -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["clang", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"] + include.map { "-I" + $0 } + files
    let err = Pipe()
    p.standardError = err
    try p.run()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(status: p.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self))
}

@Suite("dynq export")
struct ExportTests {
    /// Macros of the fixture's header that hold for any quantization of it (the architecture's shapes).
    static let goldenTensors = """
        #define FMNIST_MODEL_INPUT_SHAPE                { 1, 28, 28, 1 } /* NHWC */
        #define FMNIST_MODEL_INPUT_HEIGHT               28
        #define FMNIST_MODEL_INPUT_WIDTH                28
        #define FMNIST_MODEL_INPUT_CHANNELS             1
        #define FMNIST_MODEL_INPUT_BYTES                784u             /* H*W*C, in HWC order */
        """
    static let goldenOutput = """
        #define FMNIST_MODEL_OUTPUT_SHAPE               { 1, 10 }        /* N, features */
        #define FMNIST_MODEL_OUTPUT_BYTES               20u
        """
    /// How the arena macro follows the kernel-set flag (the set list grows as sets land; simd128 is first).
    static let goldenArenaSelection = """
        #define FMNIST_MODEL_ARENA_BYTES FMNIST_MODEL_ARENA_BYTES_SIMD128
        """

    /// `#define NAME VALUE` lines of a header (VALUE without a trailing comment).
    static func macros(_ h: String) -> [String: String] {
        var d: [String: String] = [:]
        for line in h.split(separator: "\n") where line.hasPrefix("#define ") {
            let parts = line.dropFirst(8).split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            let value = parts[1].components(separatedBy: "/*")[0].trimmingCharacters(in: .whitespaces)
            d[String(parts[0])] = value
        }
        return d
    }

    /// An integer macro value ("113840u", "0xa808f236u", "(-3)").
    static func integer(_ v: String?) -> Int64? {
        guard var t = v?.trimmingCharacters(in: CharacterSet(charactersIn: "()u")) else { return nil }
        var sign: Int64 = 1
        if t.hasPrefix("-") { sign = -1; t.removeFirst() }
        let n = t.hasPrefix("0x") ? Int64(t.dropFirst(2), radix: 16) : Int64(t)
        return n.map { $0 * sign }
    }

    @Test("--c writes the same bytes twice; the header has the golden macros, the source every model byte")
    func cSource() throws {
        let a = try exportScratchDirectory("a"), b = try exportScratchDirectory("b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        for dir in [a, b] {
            let r = try dynq("export", model, "--c", "-o", dir + "/fmnist_model")
            #expect(r.status == 0, "\(r.stderr)")
        }
        for ext in ["h", "c"] {
            #expect(try bytes("\(a)/fmnist_model.\(ext)") == bytes("\(b)/fmnist_model.\(ext)"), "\(ext)")
        }
        let h = try text(a + "/fmnist_model.h")
        for snippet in [Self.goldenTensors, Self.goldenOutput, Self.goldenArenaSelection] {
            #expect(h.contains(snippet + "\n"), "missing:\n\(snippet)\nin:\n\(h)")
        }
        // Values from the model itself (not pinned: the fixture may be re-quantized): its size, the header's
        // CRC-32 field, the op count and the output's quantization `dynq inspect` prints.
        let m = Self.macros(h), file = try bytes(repoRoot + "/" + model)
        #expect(Self.integer(m["FMNIST_MODEL_SIZE"]) == Int64(file.count))
        let crc = file[20..<24].reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) }
        #expect(Self.integer(m["FMNIST_MODEL_CRC32"]) == crc)
        let inspect = try dynq("inspect", model)
        #expect(inspect.status == 0)
        let ops = inspect.stdout.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(Self.integer(m["FMNIST_MODEL_OP_COUNT"]) == Int64(ops.count))
        // The last op's output, e.g. "→ logits 1×10 s=0.102944 z=0".
        let last = ops.isEmpty ? "" : String(inspect.stdout.components(separatedBy: String(ops.last!) + "\n")[1]
            .split(separator: "\n")[0])
        let fields = (last.components(separatedBy: "→").last ?? "").split(separator: " ")
        let s = fields.first { $0.hasPrefix("s=") }.flatMap { Double($0.dropFirst(2)) }
        let z = fields.first { $0.hasPrefix("z=") }.flatMap { Int64($0.dropFirst(2)) }
        #expect(Self.integer(m["FMNIST_MODEL_OUTPUT_ZERO_POINT"]) == z, "\(last)")
        // The fixed-point pair is exactly the binary32 scale, which is the one dynq inspect prints (6 digits).
        let q31 = Self.integer(m["FMNIST_MODEL_OUTPUT_SCALE_Q31"]), e = Self.integer(m["FMNIST_MODEL_OUTPUT_SCALE_EXP"])
        let bits = Self.integer(m["FMNIST_MODEL_OUTPUT_SCALE_BITS"])
        if let q31, let e, let bits, let s {
            let exact = Double(Float(bitPattern: UInt32(bits)))
            #expect(q31 >= 1 << 30 && q31 < 1 << 31)
            #expect(Double(q31) * pow(2, Double(e - 31)) == exact)
            #expect(abs(exact - s) <= 5e-6 * s, "\(exact) vs \(s)")
        } else {
            Issue.record("output scale macros or dynq inspect's scale missing:\n\(h)\n\(last)")
        }
        // Arena macros for the scalar and simd128 sets at least, each a multiple of 16 above the 320 B record.
        for set in ["SCALAR", "SIMD128"] {
            let n = Self.integer(m["FMNIST_MODEL_ARENA_BYTES_" + set]) ?? 0
            #expect(n > 320 && n % 16 == 0, "\(set): \(n)")
        }
        #expect(h.contains("    \"T-shirt/top\", \\\n") && h.contains("    \"Ankle boot\" \\\n}"))
        #expect(h.contains("extern const uint8_t fmnist_model_data[FMNIST_MODEL_SIZE];"))
        // Every model byte, in order, in the array.
        let c = try text(a + "/fmnist_model.c")
        let body = c[c.range(of: "fmnist_model_data[FMNIST_MODEL_SIZE] = {\n")!.upperBound...]
        let values = body.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "}" || $0 == ";" })
            .map { UInt8($0.dropFirst(2), radix: 16)! }
        #expect(values == (try bytes(repoRoot + "/" + model)))
        #expect(c.contains("#define FMNIST_MODEL_ALIGNED __attribute__((aligned(16)))"))
        let cc = try compiles([a + "/fmnist_model.c"], include: [a])
        #expect(cc.status == 0, "\(cc.stderr)")
        // FMNIST_MODEL_ARENA_BYTES follows the flag: scalar without one, simd128 with -DDYNQ_KERNELS_SIMD128.
        let check = a + "/arena_check.c"
        try Data("""
            #include "fmnist_model.h"
            #if defined(WANT_SIMD128)
            _Static_assert(FMNIST_MODEL_ARENA_BYTES == FMNIST_MODEL_ARENA_BYTES_SIMD128, "simd128");
            #else
            _Static_assert(FMNIST_MODEL_ARENA_BYTES == FMNIST_MODEL_ARENA_BYTES_SCALAR, "scalar");
            #endif
            _Static_assert(FMNIST_MODEL_ARENA_BYTES_SCALAR != FMNIST_MODEL_ARENA_BYTES_SIMD128, "distinct");

            """.utf8).write(to: URL(fileURLWithPath: check))
        for flags in [[], ["-DWANT_SIMD128", "-DDYNQ_KERNELS_SIMD128"]] {
            let r = try compiles(flags + [check], include: [a])
            #expect(r.status == 0, "\(flags): \(r.stderr)")
        }
    }

    @Test("--bin writes the model padded with zeros to 16 bytes, and a header of macros without the array")
    func binBlob() throws {
        let d = try exportScratchDirectory("bin")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try dynq("export", model, "--bin", "--output", d + "/m")
        #expect(r.status == 0, "\(r.stderr)")
        let blob = try bytes(d + "/m.bin"), file = try bytes(repoRoot + "/" + model)
        #expect(blob.count % 16 == 0 && blob.count >= file.count && blob.count < file.count + 16)
        #expect(Array(blob[0..<file.count]) == file && blob[file.count...].allSatisfy { $0 == 0 })
        let h = try text(d + "/m.h")
        #expect(h.contains("#define M_BIN_BYTES                             \(blob.count)u"))
        #expect(!h.contains("extern const uint8_t") && !FileManager.default.fileExists(atPath: d + "/m.c"))
    }

    @Test("--image writes the first test image as uint8 HWC bytes, as C and as a raw blob")
    func image() throws {
        let d = try exportScratchDirectory("img")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try dynq("export", model, "--c", "--bin", "-o", d + "/img", "--image", "fixtures/fmnist/test_images.npy",
                         "--index", "1")
        #expect(r.status == 0, "\(r.stderr)")
        // The .npy (uint8 [1000, 1, 28, 28]): its header length at byte 8, then image after image.
        let npy = try bytes(repoRoot + "/fixtures/fmnist/test_images.npy")
        let start = 10 + Int(npy[8]) + Int(npy[9]) << 8
        #expect(try bytes(d + "/img.bin") == Array(npy[(start + 784)..<(start + 2 * 784)]))
        let h = try text(d + "/img.h")
        #expect(h.contains("#define IMG_BYTES                               784u"))
        let cc = try compiles([d + "/img.c"], include: [d])
        #expect(cc.status == 0, "\(cc.stderr)")
    }

    @Test("the C identifier comes from the output's file name")
    func identifier() throws {
        let d = try exportScratchDirectory("ident")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try dynq("export", model, "--c", "-o", d + "/3D-model.v2")
        #expect(r.status == 0, "\(r.stderr)")
        let h = try text(d + "/3D-model.v2.h")
        #expect(h.contains("#define _3D_MODEL_V2_SIZE ") && h.contains("extern const uint8_t _3d_model_v2_data["))
    }

    @Test("mistakes and bad files give one-line errors and a non-zero exit")
    func errors() throws {
        let d = try exportScratchDirectory("err")
        defer { try? FileManager.default.removeItem(atPath: d) }
        var r = try dynq("export", model, "-o", d + "/x")
        #expect(r.status == 2 && r.stderr.hasPrefix("dynq export: give --c, --bin or both\n"))
        r = try dynq("export", model, "--c")
        #expect(r.status == 2 && r.stderr.hasPrefix("dynq export: missing -o NAME\n"))
        r = try dynq("export", model, "--c", "-o", d + "/x", "--index", "2")
        #expect(r.status == 2 && r.stderr.hasPrefix("dynq export: --index needs --image\n"))
        var corrupt = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + model))
        corrupt[100] ^= 0xFF
        let bad = try scratchFile("corrupt.dynq", corrupt)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        r = try dynq("export", bad, "--c", "-o", d + "/x")
        #expect(r.status == 1 && r.stderr == "dynq: \(bad): CRC-32 mismatch: the file is corrupted\n", "\(r.stderr)")
        r = try dynq("export", model, "--c", "-o", d + "/x", "--image", "fixtures/fmnist/test_images.npy", "--index", "1000")
        #expect(r.status == 1 && r.stderr == "dynq: fixtures/fmnist/test_images.npy: has 1000 images; --index 1000 is beyond them\n",
                "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: d + "/x.h"))
    }
}
