// Every kernel set of the host build, through the `KernelSet` interface exactly as the interpreter drives it
// (chooser once, packed size, packing, scratch size, kernel), equals the oracle bit for bit on the shared case
// tables (convCases, depthwiseCases, fusion shapes, pools, adds). A set added to `KernelSetChoice` is tested here
// with no new test code. Scratch is poisoned (0xA5) and sized exactly by the set's own size function.
import Testing
@testable import DynQCore

/// Runs one conv case through set `K`.
struct ConvThroughSet: KernelSetUser {
    let p: Conv2DParams
    let input: [Int8], weights: [Int8], bias: [Int32]?, mults: [QuantizedMultiplier]
    func use<K: StatelessKernelSet>(_ kernels: K.Type) -> [Int8] {
        let v = K.chooseConv(p)
        var out = [Int8](repeating: 0, count: p.outputCount)
        withScratch(K.convPackedWeightBytes(p, v)) { packed in
            withScratch(K.convScratchBytes(p, v)) { scratch in
                weights.withUnsafeBufferPointer { w in
                    let packedBytes = K.convPackedWeightBytes(p, v)
                    if packedBytes > 0 { K.packConvWeights(p, v, weights: w.baseAddress!, into: packed) }
                    input.withUnsafeBufferPointer { i in mults.withUnsafeBufferPointer { m in
                        out.withUnsafeMutableBufferPointer { o in
                            let outBase = o.baseAddress!
                            func run(_ b: UnsafePointer<Int32>?) {
                                K().conv2d(p, v, ConvArguments(
                                    input: i.baseAddress!,
                                    weights: packedBytes > 0 ? UnsafeRawPointer(packed) : UnsafeRawPointer(w.baseAddress!),
                                    bias: b, multipliers: m.baseAddress!, output: outBase,
                                    scratch: K.convScratchBytes(p, v) > 0 ? scratch : nil))
                            }
                            if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
                        }
                    } }
                }
            }
        }
        return out
    }
}

/// Runs one depthwise case through set `K`.
struct DepthwiseThroughSet: KernelSetUser {
    let p: DepthwiseConv2DParams
    let input: [Int8], weights: [Int8], bias: [Int32], mults: [QuantizedMultiplier]
    func use<K: StatelessKernelSet>(_ kernels: K.Type) -> [Int8] {
        let v = K.chooseDepthwise(p)
        var out = [Int8](repeating: 0, count: p.outputCount)
        let packedBytes = K.depthwisePackedWeightBytes(p, v), scratchBytes = K.depthwiseScratchBytes(p, v)
        withScratch(packedBytes) { packed in
            withScratch(scratchBytes) { scratch in
                weights.withUnsafeBufferPointer { w in
                    if packedBytes > 0 { K.packDepthwiseWeights(p, v, weights: w.baseAddress!, into: packed) }
                    K().depthwiseConv2d(p, v, ConvArguments(
                        input: input, weights: packedBytes > 0 ? UnsafeRawPointer(packed) : UnsafeRawPointer(w.baseAddress!),
                        bias: bias, multipliers: mults, output: &out, scratch: scratchBytes > 0 ? scratch : nil))
                }
            }
        }
        return out
    }
}

/// Fuses one sample with set `K` and runs its conv on the fused kernel (what a dynamic layer does).
struct FusedConvThroughSet: KernelSetUser {
    let f: DynamicFusionParams, p: Conv2DParams
    let input: [Int8], kernels: [Int8], eta: [Int16], mixedBias: [Int32]?, bias: [Int32]?, m0: [QuantizedMultiplier]
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
                    K().fuseConv(f, p, v, FusionArguments(kernels: kernels, coefficients: eta, mixedBias: mixedBias,
                                                          staticBias: bias, staticMultipliers: m0, fusedWeights: fused,
                                                          fusedBias: b.baseAddress!, fusedMultipliers: m.baseAddress!,
                                                          scratch: s))
                    K().conv2d(p, v, ConvArguments(input: input, weights: UnsafeRawPointer(fused),
                                                   bias: UnsafePointer(b.baseAddress!),
                                                   multipliers: UnsafePointer(m.baseAddress!), output: &out, scratch: s))
                } }
            }
        }
        return (out, fb, fm)
    }
}

/// Element-wise ops and pools through set `K`.
struct PoolsThroughSet: KernelSetUser {
    let pool: Pool2DParams, gap: GlobalAveragePoolParams, add: AddParams
    let input: [Int8], other: [Int8]
    func use<K: StatelessKernelSet>(_ kernels: K.Type) -> [[Int8]] {
        var mx = [Int8](repeating: 0, count: pool.outputCount), av = mx
        var g = [Int8](repeating: 0, count: gap.channels), s = [Int8](repeating: 0, count: input.count)
        K().maxPool2d(pool, input: input, output: &mx)
        K().avgPool2d(pool, input: input, output: &av)
        K().globalAveragePool(gap, input: input, output: &g)
        K().add(add, count: input.count, input, other, output: &s)
        return [mx, av, g, s]
    }
}

@Suite("Kernel sets equal the oracle through the KernelSet interface")
struct KernelSetsTests {
    static let sets = KernelSetChoice.allCases.filter { $0 != .oracle }

    @Test("conv2d: chooser, packing, scratch and kernel", arguments: sets, convCases)
    func conv(set: KernelSetChoice, c: ConvCase) throws {
        var rng = SeededRNG(seed: seed("set-conv-\(set)-\(c.name)"))
        for withBias in [true, false] {
            let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            let input = rng.int8s(p.inputCount), weights = rng.int8s(p.weightCount, -127...127)
            let bias = withBias ? rng.int32s(p.outputChannels, -40_000...40_000) : nil
            let mults = rng.multipliers(p.outputChannels)
            var expected = [Int8](repeating: 0, count: p.outputCount)
            conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &expected)
            let got = try set.with(ConvThroughSet(p: p, input: input, weights: weights, bias: bias, mults: mults))
            #expect(got == expected, "\(set) \(c.name) bias \(withBias), seed \(rng.seed)")
        }
    }

    @Test("depthwise conv2d: chooser, packing, scratch and kernel", arguments: sets, depthwiseCases)
    func depthwise(set: KernelSetChoice, c: DepthwiseCase) throws {
        var rng = SeededRNG(seed: seed("set-dw-\(set)-\(c.name)"))
        let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
        let input = rng.int8s(p.inputCount), weights = rng.int8s(p.weightCount, -127...127)
        let bias = rng.int32s(p.channels, -40_000...40_000), mults = rng.multipliers(p.channels)
        var expected = [Int8](repeating: 0, count: p.outputCount)
        depthwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &expected)
        let got = try set.with(DepthwiseThroughSet(p: p, input: input, weights: weights, bias: bias, mults: mults))
        #expect(got == expected, "\(set) \(c.name), seed \(rng.seed)")
    }

    @Test("dynamic fusion then conv: fused values, bias, multipliers and outputs",
          arguments: sets, ["per channel, 3x3 dense", "per layer, 1x1", "per channel, grouped 6/group",
                            "per channel, odd g, mixed bias"])
    func fusion(set: KernelSetChoice, shape: String) throws {
        var rng = SeededRNG(seed: seed("set-fusion-\(set)-\(shape)"))
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
        case "per channel, odd g, mixed bias":
            p = ConvCase(name: "", h: 6, w: 6, ic: 8, oc: 12, kh: 3, kw: 3, sy: 2, sx: 2, pad: ConvPadding(all: 1))
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
        var fk = [Int8](repeating: 0, count: p.weightCount)
        var fb = [Int32](repeating: 0, count: p.outputChannels)
        var fm = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels)
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: bias,
                               staticMultipliers: m0, fusedKernel: &fk, biasAccumulator: &fb, multipliers: &fm)
        var expected = [Int8](repeating: 0, count: p.outputCount)
        conv2dReference(p, input: input, weights: fk, bias: fb, multipliers: fm, output: &expected)
        let (out, gotBias, gotMults) = try set.with(FusedConvThroughSet(f: f, p: p, input: input, kernels: kernels,
                                                                        eta: eta, mixedBias: mb, bias: bias, m0: m0))
        #expect(gotBias == fb, "\(set) \(shape): fused bias, seed \(rng.seed)")
        #expect(gotMults == fm, "\(set) \(shape): fused multipliers, seed \(rng.seed)")
        #expect(out == expected, "\(set) \(shape): outputs, seed \(rng.seed)")
    }

    @Test("max / average / global pools and add", arguments: sets)
    func elementwise(set: KernelSetChoice) throws {
        var rng = SeededRNG(seed: seed("set-pools-\(set)"))
        for _ in 0..<8 {
            let h = rng.int(1...9), w = rng.int(1...9), c = rng.int(1...19), k = rng.int(1...3)
            let pad = rng.int(0...(k / 2))
            let z = rng.zeroPoint()
            let pool = Pool2DParams(inputHeight: h, inputWidth: w, channels: c, kernelHeight: k, kernelWidth: k,
                                    strideY: rng.int(1...2), strideX: rng.int(1...2), padding: ConvPadding(all: pad),
                                    countIncludePad: rng.int(0...1) == 1, zeroPoint: z,
                                    activationMin: Int32(rng.int(-128...0)), activationMax: Int32(rng.int(0...127)))
            guard pool.outputHeight > 0, pool.outputWidth > 0 else { continue }
            let gap = GlobalAveragePoolParams(height: h, width: w, channels: c, inputZeroPoint: z,
                                              multiplier: rng.multiplier(shifts: -8 ... -1),
                                              output: rng.outputQuantization())
            let add = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: rng.multiplier(shifts: -3...0),
                                input2ZeroPoint: rng.zeroPoint(), input2Multiplier: rng.multiplier(shifts: -3...0),
                                outputMultiplier: rng.multiplier(shifts: -22 ... -16), output: rng.outputQuantization())
            let input = rng.int8s(h * w * c), other = rng.int8s(h * w * c)
            var mx = [Int8](repeating: 0, count: pool.outputCount), av = mx
            var g = [Int8](repeating: 0, count: c), s = [Int8](repeating: 0, count: input.count)
            maxPool2dReference(pool, input: input, output: &mx)
            avgPool2dReference(pool, input: input, output: &av)
            globalAveragePoolReference(gap, input: input, output: &g)
            addReference(add, count: input.count, input1: input, input2: other, output: &s)
            let got = try set.with(PoolsThroughSet(pool: pool, gap: gap, add: add, input: input, other: other))
            #expect(got == [mx, av, g, s], "\(set) \(h)x\(w)x\(c) k\(k), seed \(rng.seed)")
        }
    }
}
