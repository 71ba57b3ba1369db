// `dynq export`: the model and an input image as C source and raw blobs for a firmware (include/dynq.h).
import Foundation
import Testing

/// A fresh scratch directory, removed by the caller.
func scratchDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "dynq-export-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
func text(_ path: String) throws -> String { String(decoding: try bytes(path), as: UTF8.self) }

/// Runs `clang -fsyntax-only -Werror` on C files (the Swift toolchain always ships clang).
func compiles(_ files: [String], include: [String]) throws -> Run {
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
    /// The macros of the fixture's header (arena bytes: the C API's reserve of 320 B plus the plans'
    /// 22,656 B and 89,344 B; the output scale 0x3dd2d476 = 1768569600 · 2^(−3 − 31)).
    static let golden = """
        #define FMNIST_MODEL_SIZE                       113840u          /* model bytes (fmnist_model_data) */
        #define FMNIST_MODEL_CRC32                      0xa808f236u      /* the model's CRC-32 (header field) */
        #define FMNIST_MODEL_OP_COUNT                   35
        """
    static let goldenArena = """
        #define FMNIST_MODEL_ARENA_BYTES_SCALAR         22976u
        #define FMNIST_MODEL_ARENA_BYTES_SIMD128        89664u
        #if defined(DYNQ_KERNELS_SIMD128)
        #define FMNIST_MODEL_ARENA_BYTES FMNIST_MODEL_ARENA_BYTES_SIMD128
        """
    static let goldenTensors = """
        #define FMNIST_MODEL_INPUT_SHAPE                { 1, 28, 28, 1 } /* NHWC */
        #define FMNIST_MODEL_INPUT_HEIGHT               28
        #define FMNIST_MODEL_INPUT_WIDTH                28
        #define FMNIST_MODEL_INPUT_CHANNELS             1
        #define FMNIST_MODEL_INPUT_BYTES                784u             /* H*W*C, in HWC order */
        """
    static let goldenOutput = """
        #define FMNIST_MODEL_OUTPUT_SHAPE               { 1, 10 }        /* N, features */
        #define FMNIST_MODEL_OUTPUT_BYTES               10u
        #define FMNIST_MODEL_OUTPUT_ZERO_POINT          0                /* real = scale * (q - zero point) */
        #define FMNIST_MODEL_OUTPUT_SCALE_Q31           1768569600       /* scale = Q31 * 2^(EXP - 31) */
        #define FMNIST_MODEL_OUTPUT_SCALE_EXP           (-3)             /* scale = 0.1029443 */
        #define FMNIST_MODEL_OUTPUT_SCALE_BITS          0x3dd2d476u      /* the scale as binary32 bits */
        """

    @Test("--c writes the same bytes twice; the header has the golden macros, the source every model byte")
    func cSource() throws {
        let a = try scratchDirectory("a"), b = try scratchDirectory("b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        for dir in [a, b] {
            let r = try dynq("export", model, "--c", "-o", dir + "/fmnist_model")
            #expect(r.status == 0, "\(r.stderr)")
        }
        for ext in ["h", "c"] {
            #expect(try bytes("\(a)/fmnist_model.\(ext)") == bytes("\(b)/fmnist_model.\(ext)"), "\(ext)")
        }
        let h = try text(a + "/fmnist_model.h")
        for snippet in [Self.golden, Self.goldenArena, Self.goldenTensors, Self.goldenOutput] {
            #expect(h.contains(snippet + "\n"), "missing:\n\(snippet)\nin:\n\(h)")
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
    }

    @Test("--bin writes the model padded with zeros to 16 bytes, and a header of macros without the array")
    func binBlob() throws {
        let d = try scratchDirectory("bin")
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
        let d = try scratchDirectory("img")
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
        let d = try scratchDirectory("ident")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try dynq("export", model, "--c", "-o", d + "/3D-model.v2")
        #expect(r.status == 0, "\(r.stderr)")
        let h = try text(d + "/3D-model.v2.h")
        #expect(h.contains("#define _3D_MODEL_V2_SIZE ") && h.contains("extern const uint8_t _3d_model_v2_data["))
    }

    @Test("mistakes and bad files give one-line errors and a non-zero exit")
    func errors() throws {
        let d = try scratchDirectory("err")
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
