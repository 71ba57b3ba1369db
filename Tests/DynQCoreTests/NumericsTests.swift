// Numerics: QuantizedMultiplier (Q31 single rounding), rounding division, per-sample multiplier derivation, Q15.
// Tested against exact Int128 arithmetic by the defining inequalities, not by re-running the same formula.
import Testing
@testable import DynQCore

/// The defining property of `apply`: y is the unique integer with `(2y − 1)·2^(n−1) ≤ x·m < (2y + 1)·2^(n−1)`
/// (round to nearest, ties toward +∞), then saturated to Int32.
private func exactApply(_ x: Int32, _ q: QuantizedMultiplier) -> Int32 {
    let n = Int(31 - q.shift)
    let prod = Int128(x) * Int128(q.multiplier)
    // floor((prod + 2^(n−1)) / 2^n) via floor division on Int128 (no shifts: an independent route).
    let num = prod + (Int128(1) << (n - 1))
    let den = Int128(1) << n
    var y = num / den
    if (num % den != 0) && (num < 0) { y -= 1 }
    #expect((2 * y - 1) * (den / 2) <= prod && prod < (2 * y + 1) * (den / 2))
    return y > Int128(Int32.max) ? Int32.max : (y < Int128(Int32.min) ? Int32.min : Int32(y))
}

private let extremeXs: [Int32] = {
    var xs: [Int32] = [Int32.min, Int32.min + 1, Int32.min + 2, -1, 0, 1, 2, 3, Int32.max - 2, Int32.max - 1, Int32.max]
    for k in 0..<31 {
        let v = Int32(1) << k
        xs += [v, v - 1, v &+ 1, -v, -v - 1, -v + 1]
    }
    return xs
}()

private let extremeMs: [Int32] = [1 << 30, (1 << 30) + 1, (1 << 30) + (1 << 29), Int32.max - 1, Int32.max, 1_518_500_250]

@Suite("QuantizedMultiplier.apply is one rounding of x·m/2^(31−e), ties toward +∞, saturated")
struct QuantizedMultiplierApplyTests {
    @Test("doc-comment worked examples hold")
    func docExamples() {
        let half = QuantizedMultiplier(multiplier: 1 << 30, shift: 0)
        #expect(half.apply(3) == 2)
        #expect(half.apply(-3) == -1)
        #expect(half.apply(-5) == -2)
        #expect(QuantizedMultiplier(multiplier: 1 << 30, shift: 1).apply(7) == 7)
        #expect(QuantizedMultiplier(multiplier: 1 << 30, shift: 30).apply(3) == 3 << 29)
        #expect(QuantizedMultiplier(multiplier: 1 << 30, shift: 30).apply(4) == Int32.max)
        #expect(QuantizedMultiplier.zero.apply(Int32.min) == 0)
        #expect(QuantizedMultiplier.zero.apply(Int32.max) == 0)
    }

    @Test("every shift e in -31...30 with extreme x and m equals the exact result", arguments: Array(Int32(-31)...30))
    func extremesAtShift(e: Int32) {
        for m in extremeMs {
            let q = QuantizedMultiplier(multiplier: m, shift: e)
            for x in extremeXs {
                let got = q.apply(x), want = exactApply(x, q)
                #expect(got == want, "x=\(x) m=\(m) e=\(e): apply=\(got) exact=\(want)")
            }
        }
    }

    @Test("exact ties x·m = (2k+1)·2^(n−1) round toward +∞ at every shift", arguments: Array(Int32(-31)...30))
    func tiesRoundUp(e: Int32) {
        // m = 2^30: x·2^30 / 2^n = x / 2^(n−30) with n = 31 − e; ties exist when n − 30 ≥ 1, i.e. e ≤ 0.
        let q = QuantizedMultiplier(multiplier: 1 << 30, shift: e)
        let d = Int(1 - e)                                   // x / 2^d
        guard d >= 1 && d <= 31 else { return }
        for k in [-5, -2, -1, 0, 1, 4] {
            let x128 = Int128(2 * k + 1) << (d - 1)          // (k + ½)·2^d
            guard x128 >= Int128(Int32.min) && x128 <= Int128(Int32.max) else { continue }
            let x = Int32(x128)
            #expect(q.apply(x) == Int32(k + 1), "tie x=\(x) e=\(e): got \(q.apply(x)), want \(k + 1)")
        }
    }

    @Test("a seeded random sweep of x, m, e equals the exact result")
    func randomSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xA11)
        let n = isDebugBuild ? 100_000 : 2_000_000
        for _ in 0..<n {
            let q = QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                        shift: Int32.random(in: -31...30, using: &rng))
            let x = Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...33)))
            let got = q.apply(x), want = exactApply(x, q)
            if got != want {
                Issue.record("seed=\(rng.seed) x=\(x) m=\(q.multiplier) e=\(q.shift): apply=\(got) exact=\(want)")
                return
            }
        }
    }

    @Test("requantize(x, m) equals finish(apply(x)) for every zero point and activation range")
    func requantizeEqualsFinishApply() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xF1)
        let n = isDebugBuild ? 100_000 : 1_000_000
        for i in 0..<n {
            let q = QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                        shift: Int32.random(in: -31...30, using: &rng))
            let x = i < extremeXs.count ? extremeXs[i] : Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...33)))
            let o = rng.outputQuantization()
            let a = o.requantize(x, q), b = o.finish(q.apply(x))
            if a != b {
                let msg = "seed=\(rng.seed) x=\(x) m=\(q.multiplier) e=\(q.shift) z=\(o.zeroPoint) "
                    + "[\(o.activationMin),\(o.activationMax)]: requantize=\(a) finish(apply)=\(b)"
                Issue.record(Comment(rawValue: msg))
                return
            }
        }
    }
}

/// The defining property of round-half-away division: |n − q·d| ≤ |d|/2, and on a tie |q| is the larger one.
private func checkRoundingDivide(_ n: Int64, _ d: Int64) -> Bool {
    let q = Int128(roundingDivide(n, by: d))
    let r = Int128(n) - q * Int128(d)                    // remainder of the rounded quotient
    let twice = 2 * (r < 0 ? -r : r), ad = Int128(d < 0 ? -Int128(d) : Int128(d))
    if twice > ad { return false }
    if twice == ad {                                     // tie: away from zero means |q·d| > |n|
        let qd = q * Int128(d)
        return (qd < 0 ? -qd : qd) > (Int128(n) < 0 ? -Int128(n) : Int128(n))
    }
    return true
}

@Suite("roundingDivide rounds to nearest, ties away from zero")
struct RoundingDivideTests {
    @Test("doc-comment worked examples hold")
    func docExamples() {
        #expect(roundingDivide(Int64(7), by: 2) == 4)
        #expect(roundingDivide(Int64(-7), by: 2) == -4)
        #expect(roundingDivide(Int64(5), by: 3) == 2)
        #expect(roundingDivide(Int64(-5), by: 3) == -2)
        #expect(roundingDivide(Int64(4), by: -3) == -1)
        #expect(roundingDivide(Int32(-7), by: 2) == -4)
        #expect(roundingDivide(Int32.min, by: -1) == Int32.max)
    }

    @Test("every n in -400...400 and d in -25...25 (d != 0) satisfies the definition")
    func exhaustiveSmall() {
        for n in Int64(-400)...400 {
            for d in Int64(-25)...25 where d != 0 {
                #expect(checkRoundingDivide(n, d), "n=\(n) d=\(d) gave \(roundingDivide(n, by: d))")
            }
        }
    }

    @Test("Int64 extremes satisfy the definition")
    func extremes() {
        let ns: [Int64] = [Int64.min + 1, Int64.min + 2, -1, 0, 1, Int64.max - 1, Int64.max, 1 << 62, -(1 << 62)]
        let ds: [Int64] = [1, 2, 3, 127, -127, Int64.max, Int64.min + 1, 1 << 40, 2_147_483_647]
        for n in ns { for d in ds { #expect(checkRoundingDivide(n, d), "n=\(n) d=\(d)") } }
        #expect(roundingDivide(Int64.min, by: 2) == Int64.min / 2)
        #expect(roundingDivide(Int64.min, by: Int64.min) == 1)
    }

    @Test("a seeded random sweep satisfies the definition")
    func randomSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD1)
        for _ in 0..<(isDebugBuild ? 100_000 : 1_000_000) {
            let n = Int64(bitPattern: rng.next()) >> Int64(rng.int(0...62))
            var d = Int64(bitPattern: rng.next()) >> Int64(rng.int(1...62))
            if d == 0 { d = 1 }
            if !checkRoundingDivide(n, d) { Issue.record("seed=\(rng.seed) n=\(n) d=\(d)"); return }
        }
    }
}

/// The defining property of `scaledByFusionReciprocal`: `(m, e)` in range and `m = ⌊m0·2^32·2^(e0−e)/R + ½⌋`
/// exactly, i.e. `(2m − 1)·R·2^s ≤ 2·m0·2^32 < (2m + 1)·R·2^s` with `s = e − e0 ≥ 0`.
private func checkScaled(_ m0: QuantizedMultiplier, _ r: UInt32) -> String? {
    let got = m0.scaledByFusionReciprocal(r)
    if m0.multiplier == 0 { return got == .zero ? nil : "expected .zero, got \(got)" }
    if got.multiplier < (1 << 30) { return "m=\(got.multiplier) below 2^30" }
    if got.shift == 30 && got.multiplier == Int32.max { return nil }   // saturated: tested separately
    let s = Int(got.shift) - Int(m0.shift)
    if s < 0 { return "m0=\(m0) R=\(r): e = \(got.shift) below e0" }
    let lhs = 2 * Int128(m0.multiplier) << 32
    let lo = ((2 * Int128(got.multiplier) - 1) * Int128(r)) << s, hi = ((2 * Int128(got.multiplier) + 1) * Int128(r)) << s
    return (lo <= lhs && lhs < hi) ? nil : "m0=\(m0) R=\(r): got \(got), not the half-up rounding of m0·2^32/R"
}

@Suite("QuantizedMultiplier.scaledByFusionReciprocal derives M0·2^32/R with one rounding")
struct ScaledByFusionReciprocalTests {
    @Test("doc-comment worked examples hold")
    func docExamples() {
        let m0 = QuantizedMultiplier(multiplier: 1 << 30, shift: 0)
        #expect(m0.scaledByFusionReciprocal(1 << 31) == QuantizedMultiplier(multiplier: 1 << 30, shift: 1))
        #expect(m0.scaledByFusionReciprocal(3 << 29) == QuantizedMultiplier(multiplier: 1_431_655_765, shift: 1))
        #expect(QuantizedMultiplier.zero.scaledByFusionReciprocal(1000) == .zero)
        // R = fusionReciprocal(127·2^15) = 2^17: M = M0·2^15.
        #expect(m0.scaledByFusionReciprocal(fusionReciprocal(127 << 15)) == QuantizedMultiplier(multiplier: 1 << 30, shift: 15))
    }

    @Test("extreme R and m0 at several shifts give the exact half-up rounding",
          arguments: [Int32(-31), -20, -8, 0, 5])
    func extremes(e0: Int32) {
        let rs: [UInt32] = [1, 2, 127, 254, 255, 32767, 1 << 16, 131_076, 1 << 31, (1 << 31) + 1, UInt32.max - 1, UInt32.max]
        for m in extremeMs {
            for r in rs {
                let m0 = QuantizedMultiplier(multiplier: m, shift: e0)
                if let msg = checkScaled(m0, r) { Issue.record(Comment(rawValue: msg)) }
            }
        }
    }

    @Test("a seeded random sweep gives the exact half-up rounding")
    func randomSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x5CA1E)
        for _ in 0..<(isDebugBuild ? 50_000 : 1_000_000) {
            let m0 = QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                         shift: Int32.random(in: -31...10, using: &rng))
            let r = max(1, UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(32...63))))
            if let msg = checkScaled(m0, r) { Issue.record("seed=\(rng.seed) \(msg)"); return }
        }
    }

    @Test("exponent overflow saturates")
    func exponentLimits() {
        let big = QuantizedMultiplier(multiplier: Int32.max, shift: 30)
        #expect(big.scaledByFusionReciprocal(254) == QuantizedMultiplier(multiplier: Int32.max, shift: 30))
        let tiny = QuantizedMultiplier(multiplier: 1 << 30, shift: -31)
        // R = 2^32 − 1 (A ≤ 127): M = M0 · 2^32/(2^32 − 1), which rounds back to M0.
        #expect(tiny.scaledByFusionReciprocal(UInt32.max) == tiny)
    }
}

@Suite("Q15 helpers round half away from zero and clamp to 32767")
struct Q15Tests {
    @Test("doc-comment worked examples hold")
    func docExamples() {
        #expect(Q15.ratio(1, over: 2) == 16384)
        #expect(Q15.ratio(1, over: 3) == 10923)
        #expect(Q15.ratio(1, over: 65536) == 1)
        #expect(Q15.ratio(5, over: 5) == 32767)
        #expect(Q15.ratio(0, over: 7) == 0)
        #expect(Q15.multiply(16384, 16384) == 8192)
        #expect(Q15.multiply(-1, 16384) == -1)
        #expect(Q15.multiply(-32768, -32768) == 32767)
    }

    @Test("ratio(n, d) is the nearest integer to 2^15·n/d (ties up) for all n <= d <= 300")
    func ratioExhaustive() {
        for d in UInt64(1)...300 {
            for n in UInt64(0)...d {
                let q = Int64(Q15.ratio(n, over: d))
                let num = Int64(n) << 15, den = Int64(d)
                let want = min(32767, (2 * num + den) / (2 * den))
                #expect(q == want, "n=\(n) d=\(d): \(q) vs \(want)")
            }
        }
    }
}
