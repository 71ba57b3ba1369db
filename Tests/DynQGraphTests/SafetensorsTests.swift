import Foundation
import Testing
@testable import DynQGraph

/// A safetensors file from a header text and data bytes (header length computed, unless `length` is given).
func safetensorsBytes(_ header: String, _ data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + Array(header.utf8) + data
}

@Suite struct SafetensorsReadingTests {
    @Test func writerOutputReadsBack() throws {
        let dir = try temporaryDirectory()
        let a = T([2, 3], iota(6)), b = T([], [-1.5]), c = T([0, 4], [])
        try writeSafetensors([("a", a), ("b", b), ("c", c)], metadata: ["format": "pt"], to: dir + "/w.safetensors")
        let f = try readSafetensors(dir + "/w.safetensors")
        #expect(f.tensors == ["a": a, "b": b, "c": c])
        #expect(f.names == ["a", "b", "c"])
        #expect(f.metadata == ["format": "pt"])
        // The header is padded so that data starts at a multiple of 8 bytes.
        #expect(try readSafetensorsHeader(dir + "/w.safetensors").dataStart % 8 == 0)
    }

    @Test func convertsEveryDType() throws {
        // One entry per dtype, laid out contiguously (offsets in bytes).
        let header = """
            {"f32":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "f16":{"dtype":"F16","shape":[3],"data_offsets":[4,10]},
             "bf16":{"dtype":"BF16","shape":[1],"data_offsets":[10,12]},
             "f64":{"dtype":"F64","shape":[1],"data_offsets":[12,20]},
             "i8":{"dtype":"I8","shape":[2],"data_offsets":[20,22]},
             "u8":{"dtype":"U8","shape":[1],"data_offsets":[22,23]},
             "b":{"dtype":"BOOL","shape":[2],"data_offsets":[23,25]},
             "i16":{"dtype":"I16","shape":[1],"data_offsets":[25,27]},
             "i32":{"dtype":"I32","shape":[1],"data_offsets":[27,31]},
             "i64":{"dtype":"I64","shape":[1],"data_offsets":[31,39]}}
            """
        var data: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        put(Float(1.5).bitPattern)
        put(UInt16(0x3C00)); put(UInt16(0xC000)); put(UInt16(0x0001))  // F16: 1, −2, smallest subnormal 2^−24
        put(UInt16(0x4049))                                            // BF16: 3.140625
        put(Double(-0.25).bitPattern)
        put(Int8(-128)); put(Int8(127))
        put(UInt8(200))
        put(UInt8(0)); put(UInt8(1))
        put(Int16(-300))
        put(Int32(-70000))
        put(Int64(1 << 40))
        let f = try parseSafetensors(safetensorsBytes(header, data))
        #expect(f.tensors["f32"]?.data == [1.5])
        #expect(f.tensors["f16"]?.data == [1, -2, Float(sign: .plus, exponent: -24, significand: 1)])
        #expect(f.tensors["bf16"]?.data == [3.140625])
        #expect(f.tensors["f64"]?.data == [-0.25])
        #expect(f.tensors["i8"]?.data == [-128, 127])
        #expect(f.tensors["u8"]?.data == [200])
        #expect(f.tensors["b"]?.data == [0, 1])
        #expect(f.tensors["i16"]?.data == [-300])
        #expect(f.tensors["i32"]?.data == [-70000])
        #expect(f.tensors["i64"]?.data == [Float(1 << 40)])
    }

    @Test func halfFloatSpecialValues() {
        #expect(floatFromHalfBits(0x7C00) == .infinity)
        #expect(floatFromHalfBits(0xFC00) == -.infinity)
        #expect(floatFromHalfBits(0x7E00).isNaN)
        #expect(floatFromHalfBits(0x8000) == 0 && floatFromHalfBits(0x8000).sign == .minus)
        #expect(floatFromHalfBits(0x7BFF) == 65504)
        #expect(floatFromHalfBits(0x83FF) == -Float(0x3FF) * Float(sign: .plus, exponent: -24, significand: 1))
    }

    @Test func emptyFileWithEmptyHeaderIsValid() throws {
        #expect(try parseSafetensors(safetensorsBytes("{}      ")).tensors.isEmpty)
    }

    let one = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func truncatedFile() {
        expectError("w.st: not a safetensors file: 5 bytes") { _ = try parseSafetensors([1, 0, 0, 0, 0], file: "w.st") }
        expectError("w.st: tensor 'w': data_offsets [0, 8] run past the end of the data (4 bytes)") {
            _ = try parseSafetensors(safetensorsBytes(one, [0, 0, 0, 0]), file: "w.st")
        }
    }

    @Test func headerLengthPastEndOfFile() {
        expectError("w.st: safetensors header length 1000 runs past the end of the file") {
            _ = try parseSafetensors(safetensorsBytes(one, [UInt8](repeating: 0, count: 8), length: 1000), file: "w.st")
        }
    }

    @Test func absurdHeaderLength() {
        expectError("safetensors header length 18446744073709551615 is absurd") {
            _ = try parseSafetensors(safetensorsBytes(one, [], length: .max))
        }
        expectError("safetensors header length is 0") { _ = try parseSafetensors(safetensorsBytes("", [], length: 0)) }
    }

    @Test func badHeaderJSON() {
        expectError("w.st: safetensors header: invalid JSON at line 1, column 7: unexpected '}'") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w": }"#), file: "w.st")
        }
        expectError("safetensors header is not a JSON object") { _ = try parseSafetensors(safetensorsBytes("[1]")) }
        expectError("tensor 'w': missing array 'shape'") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F32","data_offsets":[0,0]}}"#))
        }
        expectError("__metadata__ value for 'k' is a number, not a string") {
            _ = try parseSafetensors(safetensorsBytes(#"{"__metadata__":{"k":1}}"#))
        }
    }

    @Test func unknownDType() {
        expectError("w.st: tensor 'w': unknown dtype 'F8_E4M3'") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, [0, 0]),
                                     file: "w.st")
        }
    }

    @Test func overlappingOffsets() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectError("tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]") {
            _ = try parseSafetensors(safetensorsBytes(header, [UInt8](repeating: 0, count: 12)))
        }
    }

    @Test func holesAndTrailingBytes() {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        expectError("data bytes 4..<8 are not covered by any tensor") {
            _ = try parseSafetensors(safetensorsBytes(gap, [UInt8](repeating: 0, count: 12)))
        }
        expectError("data bytes 8..<9 are not covered by any tensor") {
            _ = try parseSafetensors(safetensorsBytes(one, [UInt8](repeating: 0, count: 9)))
        }
    }

    @Test func outOfRangeAndInconsistentOffsets() {
        expectError("tensor 'w': data_offsets [8, 0] are not an increasing range") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, [UInt8](repeating: 0, count: 8)))
        }
        expectError("tensor 'w': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8)))
        }
        expectError("tensor 'w': shape [4294967296, 4294967296, 4294967296] is absurdly large") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#))
        }
        expectError("tensor 'w': shape entries must be non-negative integers") {
            _ = try parseSafetensors(safetensorsBytes(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#))
        }
    }

    @Test func invalidBoolBytes() {
        expectError("tensor 'b': BOOL data holds a byte other than 0 or 1") {
            _ = try parseSafetensors(safetensorsBytes(#"{"b":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}"#, [7]))
        }
    }

    @Test func fileErrorsNameTheFile() throws {
        expectError("/nonexistent/w.safetensors: no such file") { _ = try readSafetensors("/nonexistent/w.safetensors") }
        let dir = try temporaryDirectory()
        try FileIO.write(safetensorsBytes(one, [1, 2, 3]), to: dir + "/short.safetensors")
        expectError(dir + "/short.safetensors: tensor 'w': data_offsets [0, 8] run past the end of the data (3 bytes)") {
            _ = try readSafetensors(dir + "/short.safetensors")
        }
        try FileIO.write(safetensorsBytes(one, [], length: 4000), to: dir + "/long.safetensors")
        expectError("runs past the end of the file") { _ = try readSafetensors(dir + "/long.safetensors") }
    }

    @Test func writerRefusesDuplicateNames() {
        expectError("duplicate tensor name 'a'") { _ = try encodeSafetensors([("a", T([1], [0])), ("a", T([1], [1]))]) }
    }
}
