// Issue 16 row 6: target profiles with absurd numbers are refused when read, and a profile built in code with
// one cannot make the report trap.
import DynQCore
import DynQGraph
import DynQSim
import Foundation
import Testing

@Suite("hostile target profiles (issue 16)")
struct HostileTargetsTests {
    /// The shipped targets file with one field of the first target replaced.
    func profile(_ field: String, _ value: JSON) throws -> JSON {
        var top = try #require(try JSON.parse(FileIO.read(repoRoot + "/targets/targets.json")).objectValue)
        var targets = try #require(top["targets"]?.arrayValue)
        var first = try #require(targets[0].objectValue)
        first[field] = .object(["value": value, "source": .string("hostile")])
        targets[0] = .object(first)
        top["targets"] = .array(targets)
        return .object(top)
    }

    @Test("a byte size ≥ 2^63 (or ≥ 2^48, or fractional) is refused naming the field",
          arguments: [("sram_bytes", JSON.number(1e19), "absurd"), ("flash_bytes", .number(9.3e18), "absurd"),
                      ("sram_largest_block_bytes", .number(Double(1 << 49)), "absurd"),
                      ("sram_bytes", .number(1024.5), "not a whole number")])
    func hugeByteSize(field: String, value: JSON, expected: String) throws {
        do {
            _ = try decodeTargets(try profile(field, value))
            Issue.record("accepted \(field) = \(value)")
        } catch let e as DynQError {
            #expect(e.message.contains(field) && e.message.contains(expected), "\(e)")
        }
    }

    @Test("a clock of 1e300 Hz or a cost of 1e300 cycles is refused")
    func hugeClockAndCost() throws {
        #expect(throws: DynQError.self) { try decodeTargets(try profile("clock_hz", .number(1e300))) }
        var top = try #require(try JSON.parse(FileIO.read(repoRoot + "/targets/targets.json")).objectValue)
        var targets = try #require(top["targets"]?.arrayValue)
        var first = try #require(targets[0].objectValue)
        var cycles = try #require(first["cycles"]?.objectValue)
        let key = try #require(cycles.keys.first)
        cycles[key] = .object(["per": .string("mac"), "value": .number(1e300), "source": .string("hostile")])
        first["cycles"] = .object(cycles)
        targets[0] = .object(first)
        top["targets"] = .array(targets)
        #expect(throws: DynQError.self) { try decodeTargets(.object(top)) }
    }

    @Test("a profile built in code with a 1e19-byte SRAM reports a clamped limit instead of trapping")
    func programmaticHugeProfile() throws {
        var m4 = try #require(try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == "cortex-m4" })
        m4.sramBytes.value = 1e19
        m4.flashBytes.value = .infinity
        var block = m4.sramBytes
        block.value = 1e30
        m4.sramLargestBlockBytes = block
        let d = try quantizedZooModel(.dyMobile)
        let r = simulate(counts: analyticCounts(d), modelBytes: 1000, code: SimulatorTests.code, target: m4)
        #expect(r.ramLimit == 1 << 48 && r.flashLimit == 1 << 48 && r.fits)
        #expect(r.table().contains("FITS"))
    }
}
