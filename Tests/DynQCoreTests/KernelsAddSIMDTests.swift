// SIMD add equals `addReference` bit for bit: element counts with and without a tail (count % 8 != 0), extreme
// zero points, input multipliers on the vector path (n = 31 − e ≥ 29) and off it (the scalar fallback), output
// multipliers of every size, inputs at the int8 extremes.
import Testing
@testable import DynQCore

@Suite("SIMD add equals addReference bit for bit")
struct SIMDAddTests {
    @Test("random and extreme operands, vector path and fallback", arguments: [1, 7, 8, 9, 64, 1001])
    func matchesReference(count: Int) {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xADD ^ UInt64(count))
        for round in 0..<(isDebugBuild ? 20 : 400) {
            let extreme = round % 5 == 0
            let a: [Int8] = extreme ? (0..<count).map { _ in rng.int(0...1) == 0 ? -128 : 127 } : rng.int8s(count)
            let b: [Int8] = extreme ? (0..<count).map { _ in rng.int(0...1) == 0 ? -128 : 127 } : rng.int8s(count)
            // Input shifts: mostly ≤ 2 (vector path, M < 4), sometimes larger (fallback); output: any.
            let shifts: ClosedRange<Int32> = round % 7 == 0 ? 3...12 : -20...2
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: rng.multiplier(shifts: shifts),
                              input2ZeroPoint: rng.zeroPoint(),
                              input2Multiplier: round % 11 == 0 ? .zero : rng.multiplier(shifts: -20...2),
                              outputMultiplier: rng.multiplier(shifts: -31...8), output: rng.outputQuantization())
            var ref = [Int8](repeating: 0, count: count), simd = [Int8](repeating: 99, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            add(p, count: count, input1: a, input2: b, output: &simd)
            if let i = (0..<count).first(where: { ref[$0] != simd[$0] }) {
                let msg = "seed=\(rng.seed) \(p): at \(i) a=\(a[i]) b=\(b[i]) simd=\(simd[i]) reference=\(ref[i])"
                Issue.record(Comment(rawValue: msg))
                return
            }
        }
    }
}
