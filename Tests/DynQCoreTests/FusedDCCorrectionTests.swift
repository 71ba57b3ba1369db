// The fused DC correction (Kernels/Common/FusedDCCorrection.swift): its arithmetic on hand-computed cases, its
// clamp, and every kernel set's corrected fusion equal to the oracle's, through the KernelSet interface.
import Testing
@testable import DynQCore

/// Fuses one sample with set `K` (with or without the correction's means) and runs its conv on the fused kernel.
struct CorrectedConvThroughSet: KernelSetUser {
    let f: DynamicFusionParams, p: Conv2DParams
    let input: [Int8], kernels: [Int8], eta: [Int16], mixedBias: [Int32]?, bias: [Int32]?, m0: [QuantizedMultiplier]
    let means: [Int16]?
    func use<K: StatelessKernelSet>(_ set: K.Type) -> ([Int8], [Int32], [QuantizedMultiplier]) {
        let v = K.chooseConv(p)
        var out = [Int8](repeating: 0, count: p.outputCount)
        var fb = [Int32](repeating: 0, count: p.outputChannels)
        var fm = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels)
        let scratchBytes = max(K.convScratchBytes(p, v), K.convFusionScratchBytes(f, p, v))
        withScratch(K.fusedConvWeightBytes(f, p, v)) { fused in
            withScratch(scratchBytes) { scratch in
                let s = scratchBytes > 0 ? scratch : nil
                fb.withUnsafeMutableBufferPointer { b in fm.withUnsafeMutableBufferPointer { m in
                    withOptional(means) { mp in
                        K().fuseConv(f, p, v, FusionArguments(
                            kernels: kernels, coefficients: eta, mixedBias: mixedBias, staticBias: bias,
                            staticMultipliers: m0, fusedWeights: fused, fusedBias: b.baseAddress!,
                            fusedMultipliers: m.baseAddress!, scratch: s, inputMeans: mp))
                    }
                    K().conv2d(p, v, ConvArguments(input: input, weights: UnsafeRawPointer(fused),
                                                   bias: UnsafePointer(b.baseAddress!),
                                                   multipliers: UnsafePointer(m.baseAddress!), output: &out, scratch: s))
                } }
            }
        }
        return (out, fb, fm)
    }
}

/// The same for a depthwise layer.
struct CorrectedDepthwiseThroughSet: KernelSetUser {
    let f: DynamicFusionParams, p: DepthwiseConv2DParams
    let input: [Int8], kernels: [Int8], eta: [Int16], bias: [Int32]?, m0: [QuantizedMultiplier]
    let means: [Int16]?
    func use<K: StatelessKernelSet>(_ set: K.Type) -> ([Int8], [Int32], [QuantizedMultiplier]) {
        let v = K.chooseDepthwise(p)
        var out = [Int8](repeating: 0, count: p.outputCount)
        var fb = [Int32](repeating: 0, count: p.channels)
        var fm = [QuantizedMultiplier](repeating: .zero, count: p.channels)
        let scratchBytes = max(K.depthwiseScratchBytes(p, v), K.depthwiseFusionScratchBytes(f, p, v))
        withScratch(K.fusedDepthwiseWeightBytes(f, p, v)) { fused in
            withScratch(scratchBytes) { scratch in
                let s = scratchBytes > 0 ? scratch : nil
                fb.withUnsafeMutableBufferPointer { b in fm.withUnsafeMutableBufferPointer { m in
                    withOptional(means) { mp in
                        K().fuseDepthwise(f, p, v, FusionArguments(
                            kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: bias,
                            staticMultipliers: m0, fusedWeights: fused, fusedBias: b.baseAddress!,
                            fusedMultipliers: m.baseAddress!, scratch: s, inputMeans: mp))
                    }
                    K().depthwiseConv2d(p, v, ConvArguments(input: input, weights: UnsafeRawPointer(fused),
                                                            bias: UnsafePointer(b.baseAddress!),
                                                            multipliers: UnsafePointer(m.baseAddress!), output: &out,
                                                            scratch: s))
                } }
            }
        }
        return (out, fb, fm)
    }
}

/// The set's `fusedDCInputMeans` on one input.
struct MeansThroughSet: KernelSetUser {
    let input: [Int8], positions: Int, channels: Int, zeroPoint: Int32
    func use<K: StatelessKernelSet>(_ set: K.Type) -> [Int16] {
        var m = [Int16](repeating: 0x5A5A, count: channels)
        K().fusedDCInputMeans(input: input, positions: positions, channels: channels, zeroPoint: zeroPoint, means: &m)
        return m
    }
}

/// `body` with a pointer to `values`' elements, or nil.
func withOptional<T, R>(_ values: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress!) }
}

@Suite("Fused DC correction")
struct FusedDCCorrectionTests {
    static let sets = KernelSetChoice.allCases.filter { $0 != .oracle }

    @Test("the residual is the fused value's rounding error in units of 2^-16, floored, within one unit")
    func theResidualIsTheRoundingErrorOfTheFusedValue() {
        var rng = SeededRNG(seed: seed("dc-residual"))
        for i in 0..<20_000 {
            let a = Int32(rng.int(1...(516 * 32767 * 127)))
            let f = i % 3 == 0 ? a : Int32(rng.int(-Int(a)...Int(a)))
            let r = fusionReciprocal(a)
            let q = Int64(fusedKernelValue(f, reciprocal: r))
            let exact = Int64(f) * Int64(r) - q * (1 << 32)              // F·R − q_f·2^32, |.| ≤ 2^31
            let rho = fusedResidual16(f, reciprocal: r)
            #expect(rho >= -32768 && rho <= 32767)
            #expect(abs(Int64(rho) * 65536 - exact) <= 65536, "F \(f) R \(r): ρ16 \(rho), exact \(exact)")
        }
    }

    @Test("a hand-computed channel: residuals 0, −½, +½, −½ on means 1, 2, −1, 10 move the bias by −6")
    func aHandComputedChannelGetsItsRoundedCorrection() throws {
        // g = 2, η = (2, 1) (Q15 codes), kernels w0 = [127, 50, −50, 0], w1 = [0, 1, −1, 3]: F = [254, 101, −101, 3],
        // A = 254, R = 127·2^32/254 = 2^31 exactly, so q_f = round_half_away(F/2) = [127, 51, −51, 2] and
        // F·R/2^32 − q_f = [0, −0.5, +0.5, −0.5]. ρ16 = [0, −32768, 32767, −32768] (+0.5 floors to 32767/65536).
        // Means (Q7) 128, 256, −128, 1280 = 1, 2, −1, 10 input units:
        // D = −32768·256 + 32767·(−128) − 32768·1280 = −54,525,824; D/2^23 = −6.49998 → −6.
        // Static bias 1000: B = 1000·2^15, bias_acc = B·R/2^32 = 16,384,000 → 16,383,994.
        let p = Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: 4, outputChannels: 1, kernelHeight: 1,
                             kernelWidth: 1, strideY: 1, strideX: 1, padding: .zero, dilationY: 1, dilationX: 1,
                             groups: 1, inputZeroPoint: 0,
                             output: OutputQuantization(zeroPoint: 0, activationMin: -128, activationMax: 127))
        let f = DynamicFusionParams(kernelCount: 2, conv: p, coefficients: .perLayer)
        let kernels: [Int8] = [127, 50, -50, 0, 0, 1, -1, 3], eta: [Int16] = [2, 1]
        let m0 = [QuantizedMultiplier(multiplier: 1 << 30, shift: -10)]
        #expect(fusionReciprocal(254) == 1 << 31)
        for (f32, want) in zip([254, 101, -101, 3] as [Int32], [0, -32768, 32767, -32768] as [Int32]) {
            #expect(fusedResidual16(f32, reciprocal: 1 << 31) == want, "F \(f32)")
        }
        var fk = [Int8](repeating: 0, count: 4), fb: [Int32] = [0], fm = [QuantizedMultiplier.zero]
        let means: [Int16] = [128, 256, -128, 1280]
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: [1000],
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &fb, multipliers: &fm)
        #expect(fk == [127, 51, -51, 2])
        #expect(fb == [16_384_000])
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: [1000],
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &fb, multipliers: &fm,
                               inputMeans: means)
        #expect(fb == [16_383_994])
        for set in Self.sets {
            let (_, bias, _) = try set.with(CorrectedConvThroughSet(f: f, p: p, input: [1, 2, 3, 4], kernels: kernels,
                                                                    eta: eta, mixedBias: nil, bias: [1000], m0: m0,
                                                                    means: means))
            #expect(bias == [16_383_994], "\(set)")
        }
    }

    @Test("the corrected bias rounds half away from zero and is clamped to the fused bias's headroom")
    func theCorrectedBiasRoundsAndIsClamped() {
        let half: Int64 = 1 << 22
        #expect(fusedDCCorrectedBias(10, residual: 3 * (1 << 23) + half, terms: 9) == 14)
        #expect(fusedDCCorrectedBias(10, residual: 3 * (1 << 23) + half - 1, terms: 9) == 13)
        #expect(fusedDCCorrectedBias(10, residual: -(3 * (1 << 23) + half), terms: 9) == 6)
        #expect(fusedDCCorrectedBias(10, residual: -(3 * (1 << 23) + half - 1), terms: 9) == 7)
        let headroom = Int32(Int64(Int32.max) - 9 * 255 * 127)
        #expect(fusedDCCorrectedBias(headroom - 5, residual: 1 << 46, terms: 9) == headroom)
        #expect(fusedDCCorrectedBias(-headroom + 5, residual: -(1 << 46), terms: 9) == -headroom)
        #expect(fusedDCCorrectedBias(headroom - 5, residual: -(1 << 46), terms: 9) == headroom - 5 - (1 << 23))
    }

    @Test("the Q7 channel means: per channel over H·W, rounded half away from zero")
    func theChannelMeansAreRoundedHalfAway() {
        // 3 pixels, 2 channels, z = −5: sums 1 and 24 → 128/3 = 42.67 → 43 and 24·128/3 = 1024.
        var means = [Int16](repeating: 0, count: 2)
        let x: [Int8] = [-5, 10, -4, -128, -5, 127]
        fusedDCInputMeans(input: x, positions: 3, channels: 2, zeroPoint: -5, means: &means)
        #expect(means == [43, 1024])
        // 256 pixels, one at −1: 128·(−1)/256 = −0.5 → −1; at +1: +1; the extremes: ±255·128.
        var one = [Int8](repeating: 0, count: 256); one[7] = -1
        var m1 = [Int16](repeating: 0, count: 1)
        fusedDCInputMeans(input: one, positions: 256, channels: 1, zeroPoint: 0, means: &m1)
        #expect(m1 == [-1])
        one[7] = 1
        fusedDCInputMeans(input: one, positions: 256, channels: 1, zeroPoint: 0, means: &m1)
        #expect(m1 == [1])
        fusedDCInputMeans(input: [Int8](repeating: 127, count: 5), positions: 5, channels: 1, zeroPoint: -128,
                          means: &m1)
        #expect(m1 == [32640])
        fusedDCInputMeans(input: [Int8](repeating: -128, count: 5), positions: 5, channels: 1, zeroPoint: 127,
                          means: &m1)
        #expect(m1 == [-32640])
    }

    @Test("every set's input means equal the scalar kernel's (channel counts 1…9, 129 and 300 pixels, extreme inputs)",
          arguments: sets)
    func everySetsMeansEqualTheScalarKernels(set: KernelSetChoice) throws {
        var rng = SeededRNG(seed: seed("dc-means-\(set)"))
        for channels in [1, 3, 4, 5, 8, 9] {
            for positions in [1, 129, 300] {
                for kind in 0..<3 {
                    let input: [Int8] = kind == 0 ? rng.int8s(channels * positions)
                        : [Int8](repeating: kind == 1 ? 127 : -128, count: channels * positions)
                    let z: Int32 = kind == 0 ? rng.zeroPoint() : (kind == 1 ? -128 : 127)
                    var want = [Int16](repeating: 0, count: channels)
                    fusedDCInputMeans(input: input, positions: positions, channels: channels, zeroPoint: z,
                                      means: &want)
                    let got = try set.with(MeansThroughSet(input: input, positions: positions, channels: channels,
                                                           zeroPoint: z))
                    #expect(got == want, "\(set) C \(channels) n \(positions) kind \(kind)")
                }
            }
        }
    }

    @Test("every set's corrected conv fusion equals the oracle's (bias, multipliers, outputs), and the correction moves the bias",
          arguments: sets, ["per channel, 3x3 dense", "per layer, 1x1", "per channel, grouped 6/group",
                            "per channel, odd g, mixed bias, K mod 16 ≠ 0"])
    func everySetsCorrectedConvFusionEqualsTheOracle(set: KernelSetChoice, shape: String) throws {
        var rng = SeededRNG(seed: seed("dc-conv-\(set)-\(shape)"))
        let p: Conv2DParams
        var g = 4, mode = FusionCoefficientMode.perChannel, mixed = false
        switch shape {
        case "per layer, 1x1":
            p = ConvCase(name: "", h: 5, w: 5, ic: 24, oc: 17, kh: 1, kw: 1).params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            mode = .perLayer
        case "per channel, grouped 6/group":
            p = ConvCase(name: "", h: 8, w: 9, ic: 24, oc: 24, kh: 3, kw: 3, pad: ConvPadding(all: 1), groups: 4)
                .params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            g = 6
        case "per channel, odd g, mixed bias, K mod 16 ≠ 0":
            p = ConvCase(name: "", h: 6, w: 6, ic: 5, oc: 12, kh: 3, kw: 3, sy: 2, sx: 2, pad: ConvPadding(all: 1))
                .params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            g = 5; mixed = true
        default:
            p = ConvCase(name: "", h: 7, w: 6, ic: 16, oc: 20, kh: 3, kw: 3, pad: ConvPadding(all: 1))
                .params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
        }
        let f = DynamicFusionParams(kernelCount: g, conv: p, coefficients: mode)
        let input = rng.int8s(p.inputCount), kernels = rng.int8s(g * p.weightCount, -127...127)
        let eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
        let mb = mixed ? rng.int32s(g * p.outputChannels, -100_000...100_000) : nil
        let bias = rng.int32s(p.outputChannels, -40_000...40_000)
        let m0 = rng.multipliers(p.outputChannels, shifts: -20 ... -12)
        let means = (0..<p.inputChannels).map { _ in Int16(rng.int(-32640...32640)) }
        var fk = [Int8](repeating: 0, count: p.weightCount)
        var plain = [Int32](repeating: 0, count: p.outputChannels), fb = plain
        var fm = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels)
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: bias,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &plain, multipliers: &fm)
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: bias,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &fb, multipliers: &fm,
                               inputMeans: means)
        #expect(fb != plain, "the correction changed no bias: \(shape)")
        var expected = [Int8](repeating: 0, count: p.outputCount)
        conv2dReference(p, input: input, weights: fk, bias: fb, multipliers: fm, output: &expected)
        let (out, gotBias, gotMults) = try set.with(CorrectedConvThroughSet(
            f: f, p: p, input: input, kernels: kernels, eta: eta, mixedBias: mb, bias: bias, m0: m0, means: means))
        #expect(gotBias == fb, "\(set) \(shape): corrected bias, seed \(rng.seed)")
        #expect(gotMults == fm, "\(set) \(shape): multipliers, seed \(rng.seed)")
        #expect(out == expected, "\(set) \(shape): outputs, seed \(rng.seed)")
    }

    @Test("every set's corrected depthwise fusion equals the oracle's",
          arguments: sets, ["3x3 C=24 per channel", "3x3 C=13 per layer, stride 2", "5x5 C=8 per channel"])
    func everySetsCorrectedDepthwiseFusionEqualsTheOracle(set: KernelSetChoice, shape: String) throws {
        var rng = SeededRNG(seed: seed("dc-dw-\(set)-\(shape)"))
        let c: DepthwiseCase, mode: FusionCoefficientMode
        switch shape {
        case "3x3 C=13 per layer, stride 2":
            c = DepthwiseCase(name: "", h: 9, w: 7, c: 13, kh: 3, kw: 3, sy: 2, sx: 2, pad: ConvPadding(all: 1))
            mode = .perLayer
        case "5x5 C=8 per channel":
            c = DepthwiseCase(name: "", h: 7, w: 7, c: 8, kh: 5, kw: 5, pad: ConvPadding(all: 2)); mode = .perChannel
        default:
            c = DepthwiseCase(name: "", h: 6, w: 6, c: 24, kh: 3, kw: 3, pad: ConvPadding(all: 1)); mode = .perChannel
        }
        let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
        let g = 4
        let f = DynamicFusionParams(kernelCount: g, depthwise: p, coefficients: mode)
        let input = rng.int8s(p.inputCount), kernels = rng.int8s(g * p.weightCount, -127...127)
        let eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
        let bias = rng.int32s(p.channels, -40_000...40_000)
        let m0 = rng.multipliers(p.channels, shifts: -20 ... -12)
        let means = (0..<p.channels).map { _ in Int16(rng.int(-32640...32640)) }
        var fk = [Int8](repeating: 0, count: p.weightCount)
        var plain = [Int32](repeating: 0, count: p.channels), fb = plain
        var fm = [QuantizedMultiplier](repeating: .zero, count: p.channels)
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: bias,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &plain, multipliers: &fm)
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: bias,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &fb, multipliers: &fm,
                               inputMeans: means)
        #expect(fb != plain, "the correction changed no bias: \(shape)")
        var expected = [Int8](repeating: 0, count: p.outputCount)
        depthwiseConv2dReference(p, input: input, weights: fk, bias: fb, multipliers: fm, output: &expected)
        let (out, gotBias, gotMults) = try set.with(CorrectedDepthwiseThroughSet(
            f: f, p: p, input: input, kernels: kernels, eta: eta, bias: bias, m0: m0, means: means))
        #expect(gotBias == fb, "\(set) \(shape): corrected bias, seed \(rng.seed)")
        #expect(gotMults == fm, "\(set) \(shape): multipliers, seed \(rng.seed)")
        #expect(out == expected, "\(set) \(shape): outputs, seed \(rng.seed)")
    }

    /// (The all-ops model's random multipliers saturate its dynamic convs, so the correction need not change its
    /// outputs; that it changes a real model's is checked on the quantized fixture, FusedDCQuantizerTests.)
    @Test("a model with the flag: round trip keeps it, every set equals the oracle through the interpreter")
    func aFlaggedModelRunsTheSameOnEverySet() throws {
        let d = TestModels.allOps(correctsFusedDC: true)
        let bytes = try d.serialized()
        let back = try withAligned(bytes) { try ModelDescription(Model(bytes: $0)) }
        #expect(back == d)
        let flags = back.operations.compactMap { o -> Bool? in
            if case .dynamicConv2d(let p) = o.op { return p.correctsFusedDC } else { return nil }
        }
        #expect(flags == [true, true])
        var r = SplitMix64(seed: 7)
        for _ in 0..<5 {
            let px = (0..<32).map { _ in UInt8(truncatingIfNeeded: r.next()) }
            let oracle = try run(d, px, kernels: .oracle)
            for set in Self.sets { #expect(try run(d, px, kernels: set) == oracle, "\(set)") }
            #expect(try run(d, px, keepAll: true) == oracle)
        }
    }

    @Test("the flag word: 2 and 3 load (the correction, without and with depthwise); 4 is refused")
    func theFlagWordIsChecked() throws {
        var d = TestModels.allOps(correctsFusedDC: true)
        let i = d.operations.firstIndex { $0.name == "dyn" }!
        guard case .dynamicConv2d(let p) = d.operations[i].op else { Issue.record("no dyn"); return }
        #expect(DynamicConv2DOp.words(p)[7] == 2)
        let dw = d.operations.firstIndex { $0.name == "dyn2" }!
        guard case .dynamicConv2d(let p2) = d.operations[dw].op else { Issue.record("no dyn2"); return }
        #expect(DynamicConv2DOp.words(p2)[7] == 3)
        // Word 7 = 4 (an unknown bit) in the written file: the loader names the problem.
        var bytes = try d.serialized()
        let words = DynamicConv2DOp.words(p)
        let needle = words.prefix(8).flatMap { w in withUnsafeBytes(of: w.littleEndian) { Array($0) } }
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: needle) })
        #expect(loadError(bytes) == nil)
        bytes = ModelFormatTests.patched(bytes, at: at + 28, 4)
        let error = try #require(loadError(bytes))
        #expect(error.kind == .badParameter && error.messageText.contains("flags word is not 0...3"), "\(error)")
        d.operations[i].op = .dynamicConv2d(p)
    }
}
