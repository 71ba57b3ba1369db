// Issue 16 rows 1, 2 and 13 at the library level: `Model(bytes:)` on the committed reproducers
// (fixtures/hostile, PROVENANCE.md). Before the core fixes rows 1 and 2 trapped (arithmetic overflow in the
// validator's weight counts) and row 13 loaded.
import Foundation
import Testing
import DynQCore

/// A committed reproducer's bytes.
func hostileFile(_ name: String) throws -> [UInt8] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    return [UInt8](try #require(FileManager.default.contents(atPath: root + "/fixtures/hostile/" + name)))
}

@Suite("hostile .dynq files (issue 16, DynQCore rows)")
struct HostileModelTests {
    @Test("row 1: conv2d weight count O·kh·kw·I = 2^64 is a ModelError, not an overflow trap")
    func convWeightCount() throws {
        let e = loadError(try hostileFile("row01-conv-weight-count-overflow.dynq"))
        #expect(e?.location == .operation(2), "\(String(describing: e))")
    }

    @Test("row 2: dynamic_conv2d weight count g·O·kh·kw·I > 2^63 is a ModelError, not an overflow trap")
    func dynamicWeightCount() throws {
        let e = loadError(try hostileFile("row02-dynamic-weight-count-overflow.dynq"))
        #expect(e?.location == .operation(4), "\(String(describing: e))")
    }

    @Test("row 13: bytes after the file size the header records are refused")
    func trailingBytes() throws {
        let e = loadError(try hostileFile("row13-trailing-bytes.dynq"))
        #expect(e != nil, "a model with 100 bytes after its recorded size loads")
    }
}
