// The NEON depthwise kernel (Kernels/NEON/NEONDepthwise.swift) equals `depthwiseConv2dReference` bit for bit on
// random shapes (strides, dilations, asymmetric padding, kernels of 1…25 taps, channel counts around the 8-channel
// block), the extreme products, and behind the NEON set's chooser. On a host without NEON its instructions are the
// C models of dynq_neon.h; scripts/qemu-layers.sh --core a53 checks the instructions on an emulated Cortex-A53.
import Testing
@testable import DynQCore

/// Runs the reference and the NEON set's depthwise (chooser, packing, scratch, kernel); a failure description or nil.
private func checkNEONDepthwise(_ p: DepthwiseConv2DParams, input: [Int8], weights: [Int8], bias: [Int32]?,
                                multipliers mults: [QuantizedMultiplier], seed: UInt64) -> String? {
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var got = [Int8](repeating: 99, count: p.outputCount)
    let v = NEONKernels.chooseDepthwise(p)
    bias.withOptionalPointer { b in
        depthwiseConv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(NEONKernels.depthwisePackedWeightBytes(p, v)) { packed in
            weights.withUnsafeBufferPointer { w in
                NEONKernels.packDepthwiseWeights(p, v, weights: w.baseAddress!, into: packed)
            }
            withScratch(NEONKernels.depthwiseScratchBytes(p, v)) { s in
                NEONKernels().depthwiseConv2d(p, v, ConvArguments(input: input, weights: packed, bias: b,
                                                                  multipliers: mults, output: &got, scratch: s))
            }
        }
    }
    guard let i = (0..<ref.count).first(where: { ref[$0] != got[$0] }) else { return nil }
    let c = i % p.channels, ox = i / p.channels % p.outputWidth, oy = i / p.channels / p.outputWidth
    return "seed \(seed): \(p.inputHeight)x\(p.inputWidth)x\(p.channels) k \(p.kernelHeight)x\(p.kernelWidth) "
        + "s \(p.strideY),\(p.strideX) d \(p.dilationY),\(p.dilationX) pad \(p.padding) z_in \(p.inputZeroPoint): "
        + "output (\(oy), \(ox), \(c)) reference \(ref[i]), NEON \(got[i])"
}

@Suite("NEON depthwise kernel")
struct KernelsNEONDepthwiseTests {
    @Test("the chooser takes the NEON depthwise variant, which reads the SIMD set's packed layout")
    func chooser() {
        let p = DepthwiseCase(name: "", h: 5, w: 5, c: 13, kh: 3, kw: 3, pad: ConvPadding(all: 1))
            .params(zIn: 0, output: OutputQuantization(zeroPoint: 0))
        #expect(NEONKernels.chooseDepthwise(p) == .depthwise)
        #expect(NEONKernels.depthwisePackedWeightBytes(p, .depthwise)
                == SIMD128Kernels.depthwisePackedWeightBytes(p, .depthwise))
    }

    @Test("random shapes: strides 1-3, dilations 1-2, asymmetric padding, 1-25 taps, 1-40 channels",
          arguments: 0..<4)
    func randomShapes(batch: Int) {
        var rng = SeededRNG(seed: seed("neon-dw-random-\(batch)"))
        var failures: [String] = []
        for _ in 0..<30 {
            let kh = rng.int(1...5), kw = rng.int(1...5), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2),
                                  right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9)
            let c = DepthwiseCase(name: "", h: h, w: w, c: rng.int(1...40), kh: kh, kw: kw, sy: rng.int(1...3),
                                  sx: rng.int(1...3), pad: pad, dy: dy, dx: dx)
            let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.channels, -(1 << 20)...(1 << 20))
            if let f = checkNEONDepthwise(p, input: rng.int8s(p.inputCount),
                                          weights: rng.int8s(p.weightCount, -127...127), bias: bias,
                                          multipliers: rng.multipliers(p.channels, shifts: -14 ... -2),
                                          seed: rng.seed) {
                failures.append(f)
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failing shapes, first: \(failures.first ?? "")")
    }

    @Test("extreme products: inputs all -128 with z_in == 127 (q - z = -255), weights all -127 or +127, 5x5 taps",
          arguments: [Int8(-127), 127])
    func extremes(weight: Int8) {
        let c = DepthwiseCase(name: "", h: 7, w: 9, c: 19, kh: 5, kw: 5, pad: ConvPadding(all: 2))
        var rng = SeededRNG(seed: seed("neon-dw-extreme-\(weight)"))
        let p = c.params(zIn: 127, output: OutputQuantization(zeroPoint: 3))
        let f = checkNEONDepthwise(p, input: [Int8](repeating: -128, count: p.inputCount),
                                   weights: [Int8](repeating: weight, count: p.weightCount),
                                   bias: rng.int32s(p.channels, -(1 << 24)...(1 << 24)),
                                   multipliers: rng.multipliers(p.channels, shifts: -20 ... -10), seed: rng.seed)
        #expect(f == nil, "\(f ?? "")")
    }
}

@Suite("NEON depthwise fusion")
struct KernelsNEONDepthwiseFusionTests {
    /// Runs the reference fusion + `packDepthwiseConv2dWeights` and the NEON set's `fuseDepthwise`; a failure or nil.
    static func check(g: Int, c: Int, kh: Int, kw: Int, mode: FusionCoefficientMode, biases: Bool, extremes: Bool,
                      rng: inout SeededRNG) -> String? {
        let k = kh * kw
        let f = DynamicFusionParams(kernelCount: g, outputChannels: c, elementsPerChannel: k, layout: .channelsLast,
                                    coefficients: mode)
        let p = DepthwiseCase(name: "", h: kh + 2, w: kw + 2, c: c, kh: kh, kw: kw)
            .params(zIn: 0, output: OutputQuantization(zeroPoint: 0))
        let kernels: [Int8] = extremes ? (0..<g * k * c).map { _ in rng.int(0...1) == 0 ? -127 : 127 }
            : rng.int8s(g * k * c, -127...127)
        let etaCount = mode == .perChannel ? c * g : g
        let eta: [Int16] = (0..<etaCount).map { _ in extremes ? 32767 : Int16(rng.int(0...32767)) }
        let mixed: [Int32]? = biases ? rng.int32s(g * c, -(1 << 20)...(1 << 20)) : nil
        let stat: [Int32]? = biases ? rng.int32s(c, -(1 << 20)...(1 << 20)) : nil
        let m0 = rng.multipliers(c, shifts: -20 ... -2)
        var refKernel = [Int8](repeating: 0, count: k * c), refBias = [Int32](repeating: 0, count: c)
        var refM = [QuantizedMultiplier](repeating: .zero, count: c)
        mixed.withOptionalPointer { mb in
            stat.withOptionalPointer { sb in
                dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb,
                                       staticMultipliers: m0, fusedKernel: &refKernel, biasAccumulator: &refBias,
                                       multipliers: &refM)
            }
        }
        let v = NEONKernels.chooseDepthwise(p)
        let bytes = NEONKernels.fusedDepthwiseWeightBytes(f, p, v)
        var refPacked = [UInt8](repeating: 0, count: bytes), gotPacked = [UInt8](repeating: 0xAB, count: bytes)
        var gotBias = [Int32](repeating: 7, count: c)
        var gotM = [QuantizedMultiplier](repeating: QuantizedMultiplier(multiplier: 1 << 30, shift: 3), count: c)
        refPacked.withUnsafeMutableBytes { packDepthwiseConv2dWeights(p, weights: refKernel, into: $0.baseAddress!) }
        mixed.withOptionalPointer { mb in
            stat.withOptionalPointer { sb in
                withScratch(NEONKernels.depthwiseFusionScratchBytes(f, p, v)) { s in
                    gotPacked.withUnsafeMutableBytes { out in
                        NEONKernels().fuseDepthwise(f, p, v, FusionArguments(
                            kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb, staticMultipliers: m0,
                            fusedWeights: out.baseAddress!, fusedBias: &gotBias, fusedMultipliers: &gotM, scratch: s))
                    }
                }
            }
        }
        let what = "seed \(rng.seed): g \(g) C \(c) \(kh)x\(kw) \(mode) biases \(biases) extremes \(extremes)"
        if gotPacked != refPacked {
            let i = (0..<bytes).first { gotPacked[$0] != refPacked[$0] }!
            return "\(what): packed byte \(i) NEON \(gotPacked[i]) reference \(refPacked[i])"
        }
        if gotBias != refBias { return "\(what): bias NEON \(gotBias) reference \(refBias)" }
        if gotM != refM { return "\(what): multipliers differ" }
        return nil
    }

    @Test("random g 1-8, channels 1-40, kernels 1x1 to 5x5, both coefficient modes, with and without biases")
    func random() {
        var rng = SeededRNG(seed: seed("neon-dw-fusion"))
        var failures: [String] = []
        for round in 0..<120 {
            if let f = Self.check(g: rng.int(1...8), c: rng.int(1...40), kh: rng.int(1...5), kw: rng.int(1...5),
                                  mode: round % 2 == 0 ? .perChannel : .perLayer, biases: round % 3 != 0,
                                  extremes: round % 10 == 0, rng: &rng) {
                failures.append(f)
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failing cases, first: \(failures.first ?? "")")
    }

    @Test("the largest |F|: g = 516 kernels of +-127 against coefficients 32767")
    func largestSums() {
        var rng = SeededRNG(seed: seed("neon-dw-fusion-516"))
        let f = Self.check(g: 516, c: 11, kh: 3, kw: 3, mode: .perChannel, biases: true, extremes: true, rng: &rng)
        #expect(f == nil, "\(f ?? "")")
    }
}
