// Dynamic fusion: SIMD `dynamicFusion` == `dynamicFusionReference` bit for bit, and the Q32 rescale of a fused channel.
import Testing
@testable import DynQCore

struct FusionCase: CustomTestStringConvertible, Sendable {
    let name: String
    var g: Int, o: Int, k: Int
    var layout: FusionWeightLayout
    var mode: FusionCoefficientMode
    var testDescription: String { name }
}

let fusionCases: [FusionCase] = [
    FusionCase(name: "per_channel, OHWI 3x3x5 (K == 45), g == 4", g: 4, o: 7, k: 45, layout: .outputMajor, mode: .perChannel),
    FusionCase(name: "per_layer, OHWI, K % 8 == 0, g == 2", g: 2, o: 16, k: 72, layout: .outputMajor, mode: .perLayer),
    FusionCase(name: "per_channel, g odd (3)", g: 3, o: 5, k: 27, layout: .outputMajor, mode: .perChannel),
    FusionCase(name: "g == 1", g: 1, o: 9, k: 16, layout: .outputMajor, mode: .perChannel),
    FusionCase(name: "K == 1 (linear 1 feature)", g: 4, o: 12, k: 1, layout: .outputMajor, mode: .perChannel),
    FusionCase(name: "per_channel, depthwise [K][C] layout, C % 8 != 0", g: 4, o: 13, k: 9, layout: .channelsLast, mode: .perChannel),
    FusionCase(name: "per_layer, depthwise [K][C] layout, C == 16", g: 5, o: 16, k: 9, layout: .channelsLast, mode: .perLayer),
    FusionCase(name: "depthwise layout, C < 8", g: 2, o: 3, k: 25, layout: .channelsLast, mode: .perChannel),
    FusionCase(name: "g == 64 (many kernels)", g: 64, o: 4, k: 18, layout: .outputMajor, mode: .perChannel),
    FusionCase(name: "g == 300 (largest |F| near 2^30)", g: 300, o: 3, k: 13, layout: .outputMajor,
               mode: .perChannel),
    FusionCase(name: "K < 8 (scalar rows)", g: 6, o: 11, k: 5, layout: .outputMajor, mode: .perChannel),
]

let biasKinds: [String] = ["no biases", "mixed bias only", "static bias only", "mixed and static bias"]

/// Runs reference and SIMD fusion; returns a failure description or nil. `extremes` drives η to 32767 and
/// weights to ±127 (largest |F|), and zeroes one channel's coefficients (A == 0).
func checkFusion(_ p: DynamicFusionParams, biasKind: String, extremes: Bool, rng: inout SeededRNG) -> String? {
    let kernels = extremes ? (0..<(p.kernelCount * p.kernelElements)).map { _ in rng.int(0...1) == 0 ? Int8(127) : -127 }
                           : rng.int8s(p.kernelCount * p.kernelElements, -127...127)
    var eta: [Int16] = (0..<p.coefficientCount).map { _ in extremes ? 32767 : Int16(rng.int(0...32767)) }
    if extremes && p.coefficients == .perChannel { for t in 0..<p.kernelCount { eta[t] = 0 } }   // channel 0: A == 0
    let mixed: [Int32]? = biasKind.contains("mixed") ? rng.int32s(p.kernelCount * p.outputChannels, -(1 << 24)...(1 << 24)) : nil
    let stat: [Int32]? = biasKind.contains("static") ? rng.int32s(p.outputChannels, -(1 << 24)...(1 << 24)) : nil
    let m0 = rng.multipliers(p.outputChannels, shifts: -31 ... -10)
    var fr = [Int8](repeating: 0, count: p.kernelElements), fs = [Int8](repeating: 99, count: p.kernelElements)
    var br = [Int32](repeating: 0, count: p.outputChannels), bs = [Int32](repeating: 7, count: p.outputChannels)
    var mr = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels), ms = mr
    mixed.withOptionalPointer { mb in stat.withOptionalPointer { sb in
        dynamicFusionReference(p, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb,
                               staticMultipliers: m0, fusedKernel: &fr, biasAccumulator: &br, multipliers: &mr)
        withScratch(dynamicFusionScratchBytes(p)) { s in
            dynamicFusion(p, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb, staticMultipliers: m0,
                          fusedKernel: &fs, biasAccumulator: &bs, multipliers: &ms, scratch: s)
        }
    } }
    let (o, k) = (p.outputChannels, p.elementsPerChannel)
    func coord(_ i: Int) -> (ch: Int, e: Int) { p.layout == .outputMajor ? (i / k, i % k) : (i % o, i / o) }
    func fAt(_ ch: Int, _ e: Int) -> Int64 {
        var f: Int64 = 0
        for t in 0..<p.kernelCount {
            let w = kernels[t * p.kernelElements + (p.layout == .outputMajor ? ch * k + e : e * o + ch)]
            let c = p.coefficients == .perChannel ? eta[ch * p.kernelCount + t] : eta[t]
            f += Int64(c) * Int64(w)
        }
        return f
    }
    if let i = (0..<fr.count).first(where: { fr[$0] != fs[$0] }) {
        let (ch, e) = coord(i)
        let a = (0..<k).map { abs(fAt(ch, $0)) }.max()!
        return "seed=\(rng.seed) \(p) \(biasKind): fused kernel at (o=\(ch), k=\(e)) simd=\(fs[i]) reference=\(fr[i]) "
            + "F=\(fAt(ch, e)) A=\(a)"
    }
    if let ch = (0..<o).first(where: { br[$0] != bs[$0] }) {
        return "seed=\(rng.seed) \(p) \(biasKind): bias_acc at o=\(ch) simd=\(bs[ch]) reference=\(br[ch])"
    }
    if let ch = (0..<o).first(where: { mr[$0] != ms[$0] }) {
        return "seed=\(rng.seed) \(p) \(biasKind): multiplier at o=\(ch) simd=\(ms[ch]) reference=\(mr[ch])"
    }
    return nil
}

@Suite("SIMD dynamicFusion equals dynamicFusionReference bit for bit")
struct SIMDFusionTests {
    @Test("on every case and bias kind", arguments: fusionCases, biasKinds)
    func matchesReference(c: FusionCase, biasKind: String) {
        var rng = SeededRNG(seed: testBaseSeed ^ UInt64(c.name.utf8.count * 131 + biasKind.utf8.count))
        let p = DynamicFusionParams(kernelCount: c.g, outputChannels: c.o, elementsPerChannel: c.k, layout: c.layout,
                                    coefficients: c.mode)
        for extremes in [false, true, false] {
            if let msg = checkFusion(p, biasKind: biasKind, extremes: extremes, rng: &rng) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }

    @Test("random fusion shapes, layouts and modes")
    func sweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xF5)
        for _ in 0..<(isDebugBuild ? 20 : 500) {
            let p = DynamicFusionParams(kernelCount: rng.int(1...9), outputChannels: rng.int(1...40),
                                        elementsPerChannel: rng.int(1...80),
                                        layout: rng.int(0...1) == 0 ? .outputMajor : .channelsLast,
                                        coefficients: rng.int(0...1) == 0 ? .perChannel : .perLayer)
            if let msg = checkFusion(p, biasKind: biasKinds[rng.int(0...3)], extremes: rng.int(0...4) == 0, rng: &rng) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }

    @Test("fusion then packed SIMD conv equals reference fusion then reference conv")
    func fusionThenConv() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xFC)
        let conv = Conv2DParams(inputHeight: 6, inputWidth: 5, inputChannels: 7, outputChannels: 10, kernelHeight: 3,
                                kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: -128,
                                output: OutputQuantization(zeroPoint: 3))
        let p = DynamicFusionParams(kernelCount: 4, conv: conv, coefficients: .perChannel)
        let kernels = rng.int8s(4 * conv.weightCount, -127...127)
        let eta = (0..<p.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
        let mixed = rng.int32s(40, -100_000...100_000), stat = rng.int32s(10, -100_000...100_000)
        let m0 = rng.multipliers(10, shifts: -31 ... -20)
        let input = rng.int8s(conv.inputCount)
        var fk = [Int8](repeating: 0, count: conv.weightCount), ba = [Int32](repeating: 0, count: 10)
        var mm = [QuantizedMultiplier](repeating: .zero, count: 10)
        dynamicFusionReference(p, kernels: kernels, coefficients: eta, mixedBias: mixed, staticBias: stat,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &ba, multipliers: &mm)
        var want = [Int8](repeating: 0, count: conv.outputCount), got = want
        conv2dReference(conv, input: input, weights: fk, bias: ba, multipliers: mm, output: &want)
        var fk2 = fk, ba2 = ba, mm2 = mm
        withScratch(dynamicFusionScratchBytes(p)) { s in
            dynamicFusion(p, kernels: kernels, coefficients: eta, mixedBias: mixed, staticBias: stat,
                          staticMultipliers: m0, fusedKernel: &fk2, biasAccumulator: &ba2, multipliers: &mm2, scratch: s)
        }
        withScratch(conv2dPackedWeightBytes(conv)) { packed in
            packConv2dWeights(conv, weights: fk2, into: packed)
            withScratch(conv2dScratchBytes(conv)) { s in
                conv2d(conv, input: input, packedWeights: packed, bias: ba2, multipliers: mm2, output: &got, scratch: s)
            }
        }
        #expect(got == want)
    }
}

/// `round_half_away(f·r/2^32)` computed with Int128, the definition `fusedKernelValue` implements.
private func rescaleDefinition(_ f: Int32, _ r: UInt32) -> Int32 {
    let p = Int128(f.magnitude) * Int128(r)
    let q = Int32((p + (1 << 31)) >> 32)
    return f < 0 ? -q : q
}

@Suite("Fused kernel rescale: R = min(⌊127·2^32/A⌋, 2^32 − 1), q_f = round_half_away(F·R/2^32)")
struct FusionRescaleTests {
    @Test("R: the Q32 reciprocal of A/127, capped at 2^32 − 1 for A ≤ 127")
    func reciprocal() {
        #expect(fusionReciprocal(0) == UInt32.max)
        #expect(fusionReciprocal(127) == UInt32.max)
        #expect(fusionReciprocal(128) == UInt32((UInt64(127) << 32) / 128))
        #expect(fusionReciprocal(127 << 15) == 1 << 17)
        #expect(fusionReciprocal(Int32.max) == 254)
    }

    @Test("every f in -A...A follows the definition, and |q_f| = 127 at f = ±A (A ≥ 128), for A in 1...400")
    func rangeAndEnds() {
        for a in Int32(1)...400 {
            let r = fusionReciprocal(a)
            for f in -a...a {
                let q = fusedKernelValue(f, reciprocal: r)
                if Int32(q) != rescaleDefinition(f, r) { Issue.record("A=\(a) f=\(f): \(q)"); return }
            }
            // A ≤ 127: q_f = F exactly; A ≥ 128: A·R/2^32 ∈ (127 − A/2^32, 127], so the largest value is 127.
            let top = fusedKernelValue(a, reciprocal: r)
            #expect(a <= 127 ? Int32(top) == a : top == 127, "A=\(a): q_f(A) = \(top)")
            #expect(fusedKernelValue(-a, reciprocal: r) == -top)
        }
    }

    @Test("the 4-lane rescale equals the scalar one, in every lane, near every rounding boundary")
    func vectorEqualsScalar() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD17)
        var divisors: [Int32] = [Int32.max, Int32.max - 1, 1 << 30, (1 << 30) - 1, 127 * 32767, 4 * 127 * 32767,
                                 516 * 32767 * 127, 1, 127, 128, 255]
        for _ in 0..<(isDebugBuild ? 200 : 5000) { divisors.append(Int32.random(in: 1...Int32.max, using: &rng)) }
        for a in divisors {
            let r = fusionReciprocal(a)
            var values: [Int32] = [a, -a, 0, 1, -1, Int32.min + 1]
            // f where f·R/2^32 is within a few steps of (j + ½): f ≈ (2j + 1)·2^31 / R
            for j in stride(from: -128, through: 127, by: isDebugBuild ? 17 : 1) {
                let centre = (Int64(2 * j + 1) << 31) / Int64(r)
                for f in (centre - 2)...(centre + 2) where abs(f) <= Int64(a) { values.append(Int32(f)) }
            }
            while values.count % 4 != 0 { values.append(0) }
            for shift in 0..<4 {
                let v = (0..<values.count).map { values[($0 + shift) % values.count] }
                var i = 0
                while i < v.count {
                    let got = fusedKernelValues(SIMD4(v[i], v[i + 1], v[i + 2], v[i + 3]), reciprocal: r)
                    for l in 0..<4 where got[l] != rescaleDefinition(v[i + l], r) {
                        Issue.record("A=\(a) f=\(v[i + l]) lane \(l): \(got[l]) vs \(rescaleDefinition(v[i + l], r))")
                        return
                    }
                    i += 4
                }
            }
        }
    }

    @Test("fused bias: round_half_away(B·R/2^32) over the whole |B| < 2^56 range, clamped to the headroom")
    func bias() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xB1A5)
        let terms = 54, headroom = Int128(Int32.max) - Int128(terms * 255 * 127)
        for _ in 0..<(isDebugBuild ? 2_000 : 200_000) {
            let b = Int64(bitPattern: rng.next()) >> Int64(rng.int(8...63))          // |B| < 2^56
            let r = max(1, UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(32...63))))
            let p = (Int128(b.magnitude) * Int128(r) + (1 << 31)) >> 32
            let want = Int32((b < 0 ? -1 : 1) * min(p, headroom))
            let got = fusedBias(b, reciprocal: r, terms: terms)
            if got != want { Issue.record("B=\(b) R=\(r): \(got) vs \(want)"); return }
        }
    }
}
