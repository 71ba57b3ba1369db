// The C text `dynq export` writes: a header of macros and declarations and a source file with the bytes as a
// 16-byte aligned const array. Deterministic: only the model (or image) bytes and the identifier go in, no date,
// no path, no locale.
import DynQCore
import DynQFirmware
import DynQGraph
import Foundation

enum CExport {
    /// The C identifier for output path `output`: its last path component, lower case, every character other
    /// than a-z, 0-9 and _ replaced by _, prefixed with _ if it starts with a digit.
    static func identifier(forOutput output: String) throws -> String {
        let base = (output as NSString).lastPathComponent
        guard !base.isEmpty, base != ".", base != ".." else {
            throw UsageError("-o needs a file name (without extension), not '\(output)'")
        }
        var s = ""
        for u in base.lowercased().unicodeScalars {
            let ok = (u >= "a" && u <= "z") || (u >= "0" && u <= "9") || u == "_"
            s.unicodeScalars.append(ok ? u : "_")
        }
        if let f = s.unicodeScalars.first, f >= "0" && f <= "9" { s = "_" + s }
        return s
    }

    /// The model bytes padded with zeros to a multiple of 16 (`--bin`).
    static func paddedBlob(_ m: DynQCore.Model) -> [UInt8] {
        var b = Array(m.bytes)
        while b.count % 16 != 0 { b.append(0) }
        return b
    }

    /// `s` as a C string literal: printable ASCII as is (with \" and \\ escaped), anything else as 3-digit octal
    /// escapes (which, unlike \x, cannot swallow a following character).
    static func literal(_ s: String) -> String {
        var out = "\""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20...0x7E:
                // "??" starts a trigraph in older C: escape the second '?'.
                if b == UInt8(ascii: "?") && out.hasSuffix("?") { out += "\\?" } else { out.unicodeScalars.append(UnicodeScalar(b)) }
            default:
                let o = String(b, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - o.count) + o
            }
        }
        return out + "\""
    }

    /// Bytes as the body of a C array initializer: 16 per line, `0x..`, indented by 4.
    static func arrayBody(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 6 + bytes.count / 16 * 6)
        for (i, b) in bytes.enumerated() {
            if i % 16 == 0 { out += Array("    ".utf8) }
            out += [UInt8(ascii: "0"), UInt8(ascii: "x"), digits[Int(b >> 4)], digits[Int(b & 15)], UInt8(ascii: ",")]
            out.append(i % 16 == 15 || i == bytes.count - 1 ? UInt8(ascii: "\n") : UInt8(ascii: " "))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `#define NAME VALUE`, with the value aligned at column 48 and an optional comment.
    static func define(_ name: String, _ value: String, _ comment: String = "") -> String {
        var s = "#define " + name + " "
        while s.count < 48 { s += " " }
        s += value
        if !comment.isEmpty {
            while s.count < 64 { s += " " }
            s += " /* " + comment + " */"
        }
        return s + "\n"
    }

    /// `text` made safe inside a C block comment: printable ASCII only (anything else becomes ?), no `*/`.
    static func comment(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars { out.unicodeScalars.append(u.value >= 0x20 && u.value < 0x7F ? u : "?") }
        return out.replacingOccurrences(of: "*/", with: "* /")
    }

    /// `{ 1, 28, 28, 1 }`.
    static func initializer(_ values: [Int]) -> String {
        "{ " + values.map(String.init).joined(separator: ", ") + " }"
    }

    static func typeName(_ t: ElementType) -> String {
        switch t {
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .uint8: return "uint8"
        }
    }

    /// Macros for one tensor (`PREFIX_RANK`, `_SHAPE`, `_BYTES`, `_ZERO_POINT`, `_SCALE_Q31`, `_SCALE_EXP`,
    /// `_SCALE_BITS`, and `_HEIGHT/_WIDTH/_CHANNELS` for NHWC images).
    static func tensorMacros(_ prefix: String, _ t: ModelDescription.Tensor, role: String) -> String {
        var s = ""
        let layout = t.shape.count == 4 ? "NHWC" : "N, features"
        s += define(prefix + "_TYPE", "\(t.type.rawValue)",
                    "\(role): \(typeName(t.type)) (DYNQ_TYPE_\(typeName(t.type).uppercased()))")
        s += define(prefix + "_RANK", "\(t.shape.count)")
        s += define(prefix + "_SHAPE", initializer(t.shape), layout)
        if t.shape.count == 4 {
            s += define(prefix + "_HEIGHT", "\(t.shape[1])")
            s += define(prefix + "_WIDTH", "\(t.shape[2])")
            s += define(prefix + "_CHANNELS", "\(t.shape[3])")
        }
        s += define(prefix + "_BYTES", "\(t.byteCount)u", t.shape.count == 4 ? "H*W*C, in HWC order" : "")
        let scale = FixedPointScale(binary32: t.scaleBits)
        let real = Double(Float(bitPattern: t.scaleBits))
        s += define(prefix + "_ZERO_POINT", "\(t.zeroPoint)", "real = scale * (q - zero point)")
        s += define(prefix + "_SCALE_Q31", "\(scale.q31)", "scale = Q31 * 2^(EXP - 31)")
        s += define(prefix + "_SCALE_EXP", scale.exponent < 0 ? "(\(scale.exponent))" : "\(scale.exponent)", "scale = " + String(format: "%.9g", real))
        s += define(prefix + "_SCALE_BITS", String(format: "0x%08xu", t.scaleBits), "the scale as binary32 bits")
        return s
    }

    /// The alignment attribute block every generated .c file starts with.
    static func alignmentMacro(_ macro: String) -> String {
        """
        #if defined(__GNUC__) || defined(__clang__) || defined(__ICCARM__) || defined(__CC_ARM)
        #define \(macro) __attribute__((aligned(16)))
        #elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
        #define \(macro) _Alignas(16)
        #else
        #error "define \(macro) for this compiler (16-byte alignment)"
        #endif

        """
    }

    /// The exported model: NAME.h (macros, declarations) and NAME.c (the bytes).
    struct Model {
        var ident: String
        var model: DynQCore.Model
        var fileName: String
        var arenaBytes: [(FirmwareKernelSet, Int)]
        var withArray: Bool
        var withBin: Bool

        var macro: String { ident.uppercased() }

        func header() -> String {
            let m = model
            let M = macro
            let name = CExport.comment(m.name), fileName = CExport.comment(self.fileName)
            let guardName = M + "_H"
            let crc = UInt32(littleEndian: m.bytes.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
            var s = """
                /* \(ident).h: the DynQ model '\(name)' (\(fileName), \(m.bytes.count) bytes, \(m.operations.count) ops) for a
                 * firmware that links the DynQ library. Generated by `dynq export \(fileName)\(withArray ? " --c" : "")\(withBin ? " --bin" : "") -o \(ident)`;
                 * do not edit. Use with include/dynq.h (docs/firmware.md):
                 *
                 *     static uint8_t arena[\(M)_ARENA_BYTES] DYNQ_ALIGNED;
                 *     dynq_create(\(withArray ? ident + "_data" : "MODEL_ADDRESS"), \(M)_SIZE, arena, sizeof arena, &interpreter, NULL);
                 *
                 * Integers only: every scale is SCALE_Q31 * 2^(SCALE_EXP - 31) (exact), real = scale * (q - ZERO_POINT).
                 */
                #ifndef \(guardName)
                #define \(guardName)

                #include <stdint.h>

                #ifdef __cplusplus
                extern "C" {
                #endif


                """
            s += define(M + "_SIZE", "\(m.bytes.count)u", "model bytes (\(withArray ? ident + "_data" : fileName))")
            if withBin {
                s += define(M + "_BIN_BYTES", "\(CExport.paddedBlob(m).count)u", "\(ident).bin: the model padded to 16 bytes")
            }
            s += define(M + "_CRC32", String(format: "0x%08xu", crc), "the model's CRC-32 (header field)")
            s += define(M + "_OP_COUNT", "\(m.operations.count)")
            s += "\n/* Arena bytes dynq_create() needs (16-byte aligned), per kernel set; the library's set is\n"
            s += " * dynq_kernel_set(). Build with the same -DDYNQ_KERNELS_<SET> as the library to get\n"
            s += " * \(M)_ARENA_BYTES (no flag: SCALAR). Exact on the cores each set is built for:\n"
            for k in FirmwareKernelSet.allCases { s += " *   \(k.macro): \(k.cores)\n" }
            if !FirmwareKernelSet.pendingFlags.isEmpty {
                let flags = FirmwareKernelSet.pendingFlags.map { "DYNQ_KERNELS_" + $0 }.joined(separator: ", ")
                s += " * Not in this DynQ yet: \(flags);\n"
                s += " * scripts/build-libs.sh builds those cores' libraries with the scalar set (NEON: simd128),\n"
                s += " * and the lines below give that set's size. */\n"
            } else {
                s += " */\n"
            }
            for (k, n) in arenaBytes {
                s += define(M + "_ARENA_BYTES_" + k.macro, "\(n)u")
            }
            var first = true
            for (k, _) in arenaBytes where k != .scalar {
                let flags = [k.macro] + FirmwareKernelSet.pendingFlags.filter { FirmwareKernelSet.fallback($0) == k }
                let test = flags.map { "defined(DYNQ_KERNELS_\($0))" }.joined(separator: " || ")
                s += "#\(first ? "if" : "elif") \(test)\n"
                s += "#define \(M)_ARENA_BYTES \(M)_ARENA_BYTES_\(k.macro)\n"
                first = false
            }
            s += first ? "" : "#else\n"
            s += "#define \(M)_ARENA_BYTES \(M)_ARENA_BYTES_SCALAR\n"
            s += first ? "\n" : "#endif\n\n"
            s += "/* Input: uint8 pixels, no preprocessing (the model does it). */\n"
            s += CExport.tensorMacros(M + "_INPUT", m.tensors[m.input.index], role: "input")
            s += "\n"
            s += define(M + "_OUTPUT_COUNT", "\(m.outputs.count)")
            for (k, id) in m.outputs.enumerated() {
                s += "/* Output \(k)\(k == 0 ? " (the logits: the largest value is the class)" : ""). */\n"
                s += CExport.tensorMacros(M + (k == 0 ? "_OUTPUT" : "_OUTPUT\(k)"), m.tensors[id.index],
                                          role: "output \(k)")
            }
            s += "\n"
            s += define(M + "_CLASS_COUNT", "\(m.classNames.count)")
            if !m.classNames.isEmpty {
                s += "/* Class names, by output index. */\n"
                s += "#define \(M)_CLASS_NAMES { \\\n"
                for (i, c) in m.classNames.enumerated() {
                    s += "    " + CExport.literal(c) + (i == m.classNames.count - 1 ? " \\\n" : ", \\\n")
                }
                s += "}\n"
            }
            if withArray {
                s += "\n/* The model bytes (16-byte aligned, const: in flash) and the class names, in \(ident).c. */\n"
                s += "extern const uint8_t \(ident)_data[\(M)_SIZE];\n"
                if !m.classNames.isEmpty {
                    s += "extern const char *const \(ident)_class_names[\(M)_CLASS_COUNT];\n"
                }
            }
            s += """

                #ifdef __cplusplus
                }
                #endif

                #endif /* \(guardName) */

                """
            return s
        }

        func source() -> String {
            let M = macro
            let name = CExport.comment(model.name), fileName = CExport.comment(self.fileName)
            var s = """
                /* \(ident).c: the bytes of the DynQ model '\(name)' (\(fileName)). Generated by dynq export; do not edit.
                 * Define DYNQ_MODEL_SECTION (e.g. -DDYNQ_MODEL_SECTION='".rodata.model"') to place the array in a linker
                 * section of your own; by default it is const data (.rodata: flash). */
                #include "\(ident).h"


                """
            s += CExport.alignmentMacro(M + "_ALIGNED")
            s += """
                #ifdef DYNQ_MODEL_SECTION
                #define \(M)_SECTION __attribute__((section(DYNQ_MODEL_SECTION)))
                #else
                #define \(M)_SECTION
                #endif


                """
            if !model.classNames.isEmpty {
                s += "const char *const \(ident)_class_names[\(M)_CLASS_COUNT] = \(M)_CLASS_NAMES;\n\n"
            }
            s += "\(M)_ALIGNED \(M)_SECTION const uint8_t \(ident)_data[\(M)_SIZE] = {\n"
            s += CExport.arrayBody(model.bytes)
            s += "};\n"
            return s
        }
    }

    /// An input image: NAME.h (size macros) and NAME.c (the pixels).
    struct Image {
        var ident: String
        var pixels: [UInt8]
        var shape: [Int]
        var origin: String
        var modelName: String

        func header() -> String {
            let M = ident.uppercased()
            let origin = CExport.comment(self.origin), modelName = CExport.comment(self.modelName)
            var s = """
                /* \(ident).h: \(origin) as the input of \(modelName): uint8 pixels in HWC order (row by row, pixel by
                 * pixel, channel by channel), the bytes `dynq run` gives the interpreter. Generated by dynq export; do not edit. */
                #ifndef \(M)_H
                #define \(M)_H

                #include <stdint.h>


                """
            s += CExport.define(M + "_BYTES", "\(pixels.count)u")
            if shape.count == 4 {
                s += CExport.define(M + "_HEIGHT", "\(shape[1])")
                s += CExport.define(M + "_WIDTH", "\(shape[2])")
                s += CExport.define(M + "_CHANNELS", "\(shape[3])")
            }
            s += "\nextern const uint8_t \(ident)_data[\(M)_BYTES];\n\n#endif /* \(M)_H */\n"
            return s
        }

        func source() -> String {
            let M = ident.uppercased()
            let origin = CExport.comment(self.origin)
            var s = "/* \(ident).c: \(origin) (uint8 HWC). Generated by dynq export; do not edit. */\n"
            s += "#include \"\(ident).h\"\n\n"
            s += CExport.alignmentMacro(M + "_ALIGNED")
            s += "\(M)_ALIGNED const uint8_t \(ident)_data[\(M)_BYTES] = {\n"
            pixels.withUnsafeBytes { s += CExport.arrayBody($0) }
            s += "};\n"
            return s
        }
    }
}
