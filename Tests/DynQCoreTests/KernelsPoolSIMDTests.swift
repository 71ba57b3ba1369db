// SIMD global average pooling equals `globalAveragePoolReference` bit for bit: channel counts below, at and not a
// multiple of the 8-channel block (the overlapping last block), more pixels than the int16 flush interval,
// all-extreme inputs and zero points, random multipliers.
import Testing
@testable import DynQCore

@Suite("SIMD globalAveragePool equals globalAveragePoolReference bit for bit")
struct SIMDGlobalAveragePoolTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let name: String, h: Int, w: Int, c: Int
        var testDescription: String { name }
    }

    @Test("on every shape, random and extreme inputs", arguments: [
        Shape(name: "channels < 8 (3)", h: 5, w: 7, c: 3),
        Shape(name: "channels == 8", h: 4, w: 4, c: 8),
        Shape(name: "channels % 8 != 0 (18, overlapping last block)", h: 6, w: 5, c: 18),
        Shape(name: "H·W > 256 (int16 flush), channels == 32", h: 23, w: 19, c: 32),
        Shape(name: "H·W == 257, channels == 9", h: 257, w: 1, c: 9),
        Shape(name: "1x1 image, channels == 324", h: 1, w: 1, c: 324),
    ])
    func matchesReference(s: Shape) {
        var rng = SeededRNG(seed: testBaseSeed ^ UInt64(s.h * 1_000_003 + s.w * 1009 + s.c))
        for kind in ["random", "all 127", "all -128"] {
            for _ in 0..<3 {
                let n = s.h * s.w * s.c
                let input: [Int8] = kind == "random" ? rng.int8s(n) : [Int8](repeating: kind == "all 127" ? 127 : -128,
                                                                           count: n)
                let p = GlobalAveragePoolParams(height: s.h, width: s.w, channels: s.c, inputZeroPoint: rng.zeroPoint(),
                                                multiplier: rng.multiplier(shifts: -20 ... 0),
                                                output: rng.outputQuantization())
                var ref = [Int8](repeating: 0, count: s.c), simd = [Int8](repeating: 99, count: s.c)
                globalAveragePoolReference(p, input: input, output: &ref)
                globalAveragePool(p, input: input, output: &simd)
                if let ch = (0..<s.c).first(where: { ref[$0] != simd[$0] }) {
                    var sum: Int64 = 0
                    for i in 0..<(s.h * s.w) { sum += Int64(input[i * s.c + ch]) - Int64(p.inputZeroPoint) }
                    let msg = "seed=\(rng.seed) \(kind) \(p): channel \(ch) simd=\(simd[ch]) reference=\(ref[ch]) sum=\(sum)"
                    Issue.record(Comment(rawValue: msg))
                    return
                }
            }
        }
    }
}
