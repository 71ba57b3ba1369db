// The 4-lane fused-kernel quantizer of the SIMD fusion (`FusionRowDivider`) is exact round_half_away(127·f/a):
// exhaustively for small a, and around every rounding boundary (127·f/a within one step of j + ½) for large and
// extreme divisors, the same domains as `FusionDivider`'s tests.
import Testing
@testable import DynQCore

@Suite("FusionRowDivider is exact round_half_away(127·f/a) in every lane")
struct FusionRowDividerTests {
    /// Runs `values` through the divider 4 at a time (each value in a different lane position over the calls).
    private func check(_ a: Int32, _ values: [Int32]) -> String? {
        let d = FusionRowDivider(divisor: a)
        var v = values
        while v.count % 4 != 0 { v.append(0) }
        for shift in 0..<4 {                                     // every value visits every lane
            let r = (0..<v.count).map { v[($0 + shift) % v.count] }
            var i = 0
            while i < r.count {
                let got = d.fusedValues(SIMD4(r[i], r[i + 1], r[i + 2], r[i + 3]))
                for l in 0..<4 {
                    let want = Int32(roundingDivide(Int64(r[i + l]) * 127, by: Int64(a)))
                    if got[l] != want { return "a=\(a) f=\(r[i + l]) lane \(l): \(got[l]) vs \(want)" }
                }
                i += 4
            }
        }
        return nil
    }

    @Test("every f in -a...a for every a in 1...300")
    func exhaustiveSmall() {
        for a in Int32(1)...300 {
            if let msg = check(a, Array(-a...a)) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("f near the rounding boundaries for large and extreme a")
    func boundaries() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD18)
        var divisors: [Int32] = [Int32.max, Int32.max - 1, 1 << 30, (1 << 30) - 1, 1 << 24, (1 << 24) + 1,
                                 127 * 32767, 6 * 127 * 32767, 516 * 32767 * 127, 2, 3, 127, 254]
        for _ in 0..<(isDebugBuild ? 100 : 3000) { divisors.append(Int32.random(in: 1...Int32.max, using: &rng)) }
        for a in divisors {
            var values: [Int32] = [a, -a, 0, 1, -1]
            for j in stride(from: -128, through: 127, by: isDebugBuild ? 17 : 1) {
                let centre = (Int64(2 * j + 1) * Int64(a)) / 254     // 127·f/a ≈ j + ½
                for f in (centre - 2)...(centre + 2) where abs(f) <= Int64(a) { values.append(Int32(f)) }
            }
            if let msg = check(a, values) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}
