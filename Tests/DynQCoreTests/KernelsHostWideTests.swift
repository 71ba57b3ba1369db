// HostWide kernels (x86 AVX2 / AVX-512 VNNI set) == reference kernels, bit for bit, for every variant whatever the
// build: in a build without the ISA the intrinsics run their portable C models (dynq_x86.h), so the default SSE2
// build tests the same kernel code. Randomized shapes from a seeded SplitMix64 plus named edge cases; every failure
// names the seed, the parameters, the coordinate and both values.
#if arch(x86_64)
import Testing
@testable import DynQCore
#if canImport(Glibc)
import Glibc
#endif

/// `n` inputs within ±4 of the zero point `z` (small accumulators: with multipliers near ½ an accumulator off by
/// one changes many outputs).
private func nearZeroPoint(_ rng: inout SeededRNG, _ n: Int, _ z: Int32) -> [Int8] {
    (0..<n).map { _ in Int8(clamping: Int(z) + rng.int(-4...4)) }
}

/// A random conv layer within the reference's contract (accumulators far below 2^31).
private func randomConv(_ rng: inout SeededRNG, maxSide: Int) -> Conv2DParams {
    let groups = [1, 1, 1, 2, 3, 4][rng.int(0...5)]
    let gIn = [1, 2, 3, 4, 5, 8, 13, 16, 17][rng.int(0...8)], gOut = [1, 5, 8, 16, 17, 24, 33, 48, 64, 70][rng.int(0...9)]
    let kh = [1, 1, 2, 3, 3, 5, 7][rng.int(0...6)], kw = rng.int(0...3) == 0 ? [1, 2, 3, 5][rng.int(0...3)] : kh
    let dy = rng.int(0...4) == 0 ? 2 : 1, dx = rng.int(0...4) == 0 ? 2 : 1
    let pad = ConvPadding(top: rng.int(0...kh - 1), left: rng.int(0...kw - 1), bottom: rng.int(0...kh - 1),
                          right: rng.int(0...kw - 1))
    let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...maxSide + kh)
    let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...maxSide + kw)
    return Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: gIn * groups, outputChannels: gOut * groups,
                        kernelHeight: kh, kernelWidth: kw, strideY: rng.int(1...3), strideX: rng.int(1...3),
                        padding: pad, dilationY: dy, dilationX: dx, groups: groups, inputZeroPoint: rng.zeroPoint(),
                        output: rng.outputQuantization())
}

/// Runs `variant` of the HostWide conv and the reference on random data; returns a failure message or nil.
private func checkConv(_ p: Conv2DParams, _ v: HostWideKernels.Variant, _ rng: inout SeededRNG,
                       extreme: Bool = false, noBias: Bool = false, small: Bool = false) -> String? {
    let input: [Int8] = extreme ? (0..<p.inputCount).map { $0 & 1 == 0 ? 127 : -128 }
        : (small ? nearZeroPoint(&rng, p.inputCount, p.inputZeroPoint) : rng.int8s(p.inputCount))
    let weights: [Int8] = extreme ? (0..<p.weightCount).map { $0 % 3 == 0 ? -127 : 127 }
        : rng.int8s(p.weightCount, small ? -3...3 : -127...127)
    let bias: [Int32] = rng.int32s(p.outputChannels, small ? -50...50 : -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputChannels, shifts: small ? -1...0 : -20...0)
    var ref = [Int8](repeating: 0, count: p.outputCount), out = [Int8](repeating: 99, count: p.outputCount)
    let packedBytes = HostWideKernels.convPackedWeightBytes(p, v)
    return withScratch(packedBytes) { packed in
        HostWideKernels.packConvWeights(p, v, weights: weights, into: packed)
        return withScratch(HostWideKernels.convScratchBytes(p, v)) { scratch in
            bias.withUnsafeBufferPointer { bb in
                let b = noBias ? nil : bb.baseAddress
                conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
                input.withUnsafeBufferPointer { i in
                    mults.withUnsafeBufferPointer { m in
                        out.withUnsafeMutableBufferPointer { o in
                            HostWideKernels().conv2d(p, v, ConvArguments(
                                input: i.baseAddress!, weights: packed, bias: b, multipliers: m.baseAddress!,
                                output: o.baseAddress!, scratch: scratch))
                        }
                    }
                }
            }
            guard let at = (0..<p.outputCount).first(where: { ref[$0] != out[$0] }) else { return nil }
            let o = at % p.outputChannels, px = at / p.outputChannels
            return "seed=\(rng.seed) \(v) \(p): pixel (\(px / p.outputWidth), \(px % p.outputWidth)) channel \(o): "
                + "got \(out[at]), reference \(ref[at])"
        }
    }
}

@Suite("HostWide kernels equal the reference kernels bit for bit")
struct HostWideKernelTests {
    @Test("16-lane and SSE2 requantizations equal finish(apply(x)) for every multiplier exponent and extreme accumulators")
    func requantizationMatchesApply() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x16)
        let specials: [Int32] = [0, 1, -1, 255, -255, 256, -256, 1 << 20, -(1 << 20), Int32.max, Int32.min,
                                 Int32.max - 1, Int32.min + 1, 1 << 30, -(1 << 30)]
        for e in Int32(-31)...30 {
            for round in 0..<4 {
                var mults = (0..<16).map { _ in rng.multiplier(shifts: e...e) }
                if round == 3 { mults[5] = .zero; mults[0] = QuantizedMultiplier(multiplier: Int32.max, shift: e) }
                let q = rng.outputQuantization()
                let block = UnsafeMutableRawPointer.allocate(byteCount: hostWideRequantizeBlockBytes, alignment: 64)
                defer { block.deallocate() }
                let bias = rng.int32s(16, -1000...1000)
                hostWideRequantizePrepare(channels: 16, bias: bias, offsets: nil, multipliers: mults, into: block)
                var acc = SIMD16<Int32>()
                for l in 0..<16 {
                    acc[l] = round == 0 ? specials[(l + Int(e) + 64) % specials.count] &- bias[l]
                        : Int32(truncatingIfNeeded: Int64(rng.next() >> UInt64(rng.int(1...40))) - (1 << 22))
                }
                let r = hostWideRequantize16(acc, block, HostWideOutputStage(q))
                for l in 0..<16 {
                    let x = acc[l] &+ bias[l]
                    let want = q.finish(mults[l].apply(x))
                    #expect(r[l] == want, "e=\(e) lane \(l) x=\(x) m=\(mults[l]) \(q): got \(r[l]), want \(want)")
                }
                // The 8-lane SSE2 form on the same lanes, two blocks (offset form when every n ≥ 32, else general).
                let sse2 = UnsafeMutableRawPointer.allocate(byteCount: hostWideSSE2BlockBytes, alignment: 16)
                defer { sse2.deallocate() }
                for half in 0..<2 {
                    let m8 = Array(mults[(8 * half)..<(8 * half + 8)]), b8 = Array(bias[(8 * half)..<(8 * half + 8)])
                    hostWideSSE2Prepare(channels: 8, bias: b8, multipliers: m8, into: sse2)
                    let lo = SIMD4<Int32>(acc[8 * half], acc[8 * half + 1], acc[8 * half + 2], acc[8 * half + 3])
                    let hi = SIMD4<Int32>(acc[8 * half + 4], acc[8 * half + 5], acc[8 * half + 6], acc[8 * half + 7])
                    let v = hostWideRequantize8SSE2(lo, hi, sse2, HostWideSSE2Stage(q))
                    for l in 0..<8 {
                        let got = Int8(truncatingIfNeeded: v &>> Int64(8 * l))
                        let want = q.finish(m8[l].apply(acc[8 * half + l] &+ b8[l]))
                        #expect(got == want, "SSE2 e=\(e) lane \(l) m=\(m8[l]) \(q): got \(got), want \(want)")
                    }
                }
            }
        }
    }

    @Test("conv: every variant on random shapes (strides, dilations, padding, groups, tails)")
    func convRandomShapes() {
        let cases = isDebugBuild ? 6 : 120
        for c in 0..<cases {
            var rng = SeededRNG(seed: testBaseSeed &+ UInt64(c) &* 0x9E37)
            let p = randomConv(&rng, maxSide: isDebugBuild ? 5 : 12)
            for v in [HostWideKernels.Variant.vnni, .vnniPixels, .simd128Tile, .simd128PixelLane, HostWideKernels.chooseConv(p)] {
                if let failure = checkConv(p, v, &rng, noBias: c % 5 == 0, small: c % 3 == 1) {
                    Issue.record(Comment(rawValue: failure))
                    return
                }
            }
        }
    }

    struct Named: CustomTestStringConvertible, Sendable {
        let name: String
        let p: Conv2DParams
        var testDescription: String { name }
    }

    static let q = OutputQuantization(zeroPoint: 3, activationMin: -100, activationMax: 120)
    @Test("conv: named edge cases, extreme inputs and zero points", arguments: [
        Named(name: "3x3 64 → 64 pad 1 (the standard layer, small)", p: Conv2DParams(
            inputHeight: 5, inputWidth: 7, inputChannels: 64, outputChannels: 64, kernelHeight: 3, kernelWidth: 3,
            padding: ConvPadding(all: 1), inputZeroPoint: -128, output: q)),
        Named(name: "1x1 128 → 256, z_in = 127", p: Conv2DParams(
            inputHeight: 3, inputWidth: 5, inputChannels: 128, outputChannels: 256, kernelHeight: 1, kernelWidth: 1,
            inputZeroPoint: 127, output: q)),
        Named(name: "RGB stem 3x3 s2 3 → 32", p: Conv2DParams(
            inputHeight: 9, inputWidth: 11, inputChannels: 3, outputChannels: 32, kernelHeight: 3, kernelWidth: 3,
            strideY: 2, strideX: 2, padding: ConvPadding(all: 1), inputZeroPoint: -128, output: q)),
        Named(name: "ResNet stem 7x7 s2 pad 3, 3 → 64", p: Conv2DParams(
            inputHeight: 12, inputWidth: 10, inputChannels: 3, outputChannels: 64, kernelHeight: 7, kernelWidth: 7,
            strideY: 2, strideX: 2, padding: ConvPadding(all: 3), inputZeroPoint: 127, output: q)),
        Named(name: "1 input channel, 5 x 5, 9 outputs (channel tail)", p: Conv2DParams(
            inputHeight: 6, inputWidth: 6, inputChannels: 1, outputChannels: 9, kernelHeight: 5, kernelWidth: 5,
            padding: ConvPadding(all: 2), inputZeroPoint: 0, output: q)),
        Named(name: "9 channel blocks (passes 3 + 3 + 3), 7 pixels", p: Conv2DParams(
            inputHeight: 1, inputWidth: 7, inputChannels: 8, outputChannels: 144, kernelHeight: 1, kernelWidth: 1,
            inputZeroPoint: 5, output: q)),
        Named(name: "grouped 6 → 6 per group (Dy-mobile), 4 groups", p: Conv2DParams(
            inputHeight: 6, inputWidth: 6, inputChannels: 24, outputChannels: 24, kernelHeight: 3, kernelWidth: 3,
            padding: ConvPadding(all: 1), groups: 4, inputZeroPoint: -128, output: q)),
        Named(name: "grouped 6 → 6 s2, 4 groups merged 2 by 2 (Dy-mobile's strided 3x3)", p: Conv2DParams(
            inputHeight: 9, inputWidth: 8, inputChannels: 24, outputChannels: 24, kernelHeight: 3, kernelWidth: 3,
            strideY: 2, strideX: 2, padding: ConvPadding(all: 1), groups: 4, inputZeroPoint: 17, output: q)),
        Named(name: "grouped 1 → 1, 24 groups merged 12 by 12 (depthwise-like), 3x3 s2", p: Conv2DParams(
            inputHeight: 7, inputWidth: 9, inputChannels: 24, outputChannels: 24, kernelHeight: 3, kernelWidth: 3,
            strideY: 2, strideX: 2, padding: ConvPadding(all: 1), groups: 24, inputZeroPoint: -5, output: q)),
        Named(name: "grouped 5 → 3, 10 groups merged 5 by 5 (quads across groups), 1x1", p: Conv2DParams(
            inputHeight: 3, inputWidth: 4, inputChannels: 50, outputChannels: 30, kernelHeight: 1, kernelWidth: 1,
            groups: 10, inputZeroPoint: 100, output: q)),
        Named(name: "padding all around bigger than the image", p: Conv2DParams(
            inputHeight: 2, inputWidth: 1, inputChannels: 5, outputChannels: 20, kernelHeight: 3, kernelWidth: 3,
            padding: ConvPadding(top: 2, left: 2, bottom: 2, right: 2), dilationY: 2, inputZeroPoint: 127, output: q)),
    ])
    func convNamedCases(_ c: Named) {
        var rng = SeededRNG(seed: testBaseSeed ^ UInt64(c.p.weightCount))
        for v in [HostWideKernels.Variant.vnni, .vnniPixels, .simd128Tile, .simd128PixelLane, HostWideKernels.chooseConv(c.p)] {
            for extreme in [false, true] {
                if let failure = checkConv(c.p, v, &rng, extreme: extreme, noBias: extreme) {
                    Issue.record(Comment(rawValue: failure))
                }
            }
        }
    }
    @Test("maxpool: HostWide and SIMD128 kernels on random windows, strides, padding and channel counts")
    func maxPoolRandom() {
        let cases = isDebugBuild ? 10 : 200
        for c in 0..<cases {
            var rng = SeededRNG(seed: testBaseSeed &+ 0x9001 &+ UInt64(c))
            let kh = rng.int(1...4), kw = rng.int(1...4)
            let pad = ConvPadding(top: rng.int(0...kh - 1), left: rng.int(0...kw - 1), bottom: rng.int(0...kh - 1),
                                  right: rng.int(0...kw - 1))
            let ch = [1, 3, 7, 8, 9, 16, 17, 63, 64, 65, 100, 128, 130][rng.int(0...12)]
            let lo = rng.int(0...2) == 0 ? Int32(rng.int(-128...0)) : -128
            let hi = rng.int(0...2) == 0 ? Int32(rng.int(0...127)) : 127
            let p = Pool2DParams(inputHeight: rng.int(max(1, kh - pad.top - pad.bottom)...9),
                                 inputWidth: rng.int(max(1, kw - pad.left - pad.right)...9), channels: ch,
                                 kernelHeight: kh, kernelWidth: kw, strideY: rng.int(1...3), strideX: rng.int(1...3),
                                 padding: pad, zeroPoint: rng.zeroPoint(), activationMin: lo, activationMax: hi)
            let input = c % 7 == 0 ? [Int8](repeating: -128, count: p.inputHeight * p.inputWidth * ch)
                : rng.int8s(p.inputHeight * p.inputWidth * ch)
            var ref = [Int8](repeating: 0, count: p.outputCount)
            maxPool2dReference(p, input: input, output: &ref)
            for (name, run) in [("host-wide", { HostWideKernels().maxPool2d($0, input: $1, output: $2) }),
                                ("simd128", { DynQCore.maxPool2d($0, input: $1, output: $2) })]
                as [(String, (Pool2DParams, UnsafePointer<Int8>, UnsafeMutablePointer<Int8>) -> Void)] {
                var out = [Int8](repeating: 99, count: p.outputCount)
                run(p, input, &out)
                if let at = (0..<p.outputCount).first(where: { ref[$0] != out[$0] }) {
                    Issue.record(Comment(rawValue: "seed=\(rng.seed) \(name) \(p): output \(at) (pixel \(at / ch), "
                                         + "channel \(at % ch)): got \(out[at]), reference \(ref[at])"))
                    return
                }
            }
        }
    }
    @Test("depthwise: every variant on random shapes (channel tails, strides, dilations, padding, even tap counts)")
    func depthwiseRandom() {
        let cases = isDebugBuild ? 6 : 150
        for c in 0..<cases {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD00 &+ UInt64(c))
            let kh = [1, 2, 3, 3, 5][rng.int(0...4)], kw = rng.int(0...3) == 0 ? rng.int(1...4) : kh
            let dy = rng.int(0...4) == 0 ? 2 : 1, dx = rng.int(0...4) == 0 ? 2 : 1
            let pad = ConvPadding(top: rng.int(0...kh - 1), left: rng.int(0...kw - 1), bottom: rng.int(0...kh - 1),
                                  right: rng.int(0...kw - 1))
            let ch = [1, 5, 16, 31, 32, 33, 64, 96, 100, 144][rng.int(0...9)]
            let p = DepthwiseConv2DParams(
                inputHeight: rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9),
                inputWidth: rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9), channels: ch,
                kernelHeight: kh, kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...3), padding: pad,
                dilationY: dy, dilationX: dx, inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            let extreme = c % 9 == 0, small = c % 3 == 1
            let input: [Int8] = extreme ? [Int8](repeating: p.inputZeroPoint == -128 ? 127 : -128, count: p.inputCount)
                : (small ? nearZeroPoint(&rng, p.inputCount, p.inputZeroPoint) : rng.int8s(p.inputCount))
            let weights: [Int8] = extreme ? [Int8](repeating: -127, count: p.weightCount)
                : rng.int8s(p.weightCount, small ? -3...3 : -127...127)
            let bias = rng.int32s(ch, small ? -50...50 : -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(ch, shifts: small ? -1...0 : -20...0)
            let withBias = c % 4 != 0
            var ref = [Int8](repeating: 0, count: p.outputCount)
            bias.withUnsafeBufferPointer { b in
                depthwiseConv2dReference(p, input: input, weights: weights, bias: withBias ? b.baseAddress : nil,
                                         multipliers: mults, output: &ref)
            }
            for v in [HostWideKernels.Variant.wideDepthwise, .sse2Depthwise, .simd128Depthwise, HostWideKernels.chooseDepthwise(p)] {
                var out = [Int8](repeating: 99, count: p.outputCount)
                withScratch(HostWideKernels.depthwisePackedWeightBytes(p, v)) { packed in
                    HostWideKernels.packDepthwiseWeights(p, v, weights: weights, into: packed)
                    withScratch(HostWideKernels.depthwiseScratchBytes(p, v)) { scratch in
                        input.withUnsafeBufferPointer { i in
                            bias.withUnsafeBufferPointer { b in
                                mults.withUnsafeBufferPointer { m in
                                    out.withUnsafeMutableBufferPointer { o in
                                        HostWideKernels().depthwiseConv2d(p, v, ConvArguments(
                                            input: i.baseAddress!, weights: packed, bias: withBias ? b.baseAddress : nil,
                                            multipliers: m.baseAddress!, output: o.baseAddress!, scratch: scratch))
                                    }
                                }
                            }
                        }
                    }
                }
                if let at = (0..<p.outputCount).first(where: { ref[$0] != out[$0] }) {
                    Issue.record(Comment(rawValue: "seed=\(rng.seed) \(v) \(p): pixel \(at / ch) channel \(at % ch): "
                                         + "got \(out[at]), reference \(ref[at])"))
                    return
                }
            }
        }
    }
    @Test("add: random counts (tails), zero points and multipliers, including input multipliers ≥ 4 (scalar path)")
    func addRandom() {
        for c in 0..<(isDebugBuild ? 10 : 300) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xADD &+ UInt64(c))
            let count = [1, 15, 16, 17, 33, 64, 100, 257][rng.int(0...7)]
            let big = c % 10 == 0
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: rng.multiplier(shifts: big ? 1...3 : -10...0),
                              input2ZeroPoint: rng.zeroPoint(), input2Multiplier: rng.multiplier(shifts: -10...0),
                              outputMultiplier: rng.multiplier(shifts: -31...4), output: rng.outputQuantization())
            let a = c % 7 == 0 ? [Int8](repeating: 127, count: count) : rng.int8s(count)
            let b = c % 7 == 0 ? [Int8](repeating: -128, count: count) : rng.int8s(count)
            var ref = [Int8](repeating: 0, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            for wide in [true, false] {
                var out = [Int8](repeating: 99, count: count)
                if wide { hostWideAdd16(p, count: count, a, b, output: &out) }
                else { HostWideKernels().add(p, count: count, a, b, output: &out) }
                if let at = (0..<count).first(where: { ref[$0] != out[$0] }) {
                    Issue.record(Comment(rawValue: "seed=\(rng.seed) wide=\(wide) \(p): element \(at) "
                                         + "(\(a[at]) + \(b[at])): got \(out[at]), reference \(ref[at])"))
                    return
                }
            }
        }
    }

    @Test("linear: every variant on random feature counts (quad and block tails), zero points, nil bias")
    func linearRandom() {
        for c in 0..<(isDebugBuild ? 6 : 120) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0x11E &+ UInt64(c))
            let f = [1, 3, 4, 5, 8, 40, 63, 64, 129, 1280][rng.int(0...9)]
            let o = [1, 7, 16, 17, 63, 64, 65, 144, 300][rng.int(0...8)]
            let p = LinearParams(inputFeatures: f, outputFeatures: o, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            let small = c % 3 == 1
            let input = small ? nearZeroPoint(&rng, f, p.inputZeroPoint) : rng.int8s(f)
            let weights = rng.int8s(f * o, small ? -3...3 : -127...127)
            let bias = rng.int32s(o, small ? -50...50 : -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(o, shifts: small ? -1...0 : -20...0)
            let withBias = c % 3 != 0
            var ref = [Int8](repeating: 0, count: o)
            bias.withUnsafeBufferPointer { b in
                linearReference(p, input: input, weights: weights, bias: withBias ? b.baseAddress : nil,
                                multipliers: mults, output: &ref)
            }
            for v in [HostWideKernels.Variant.vnniLinear, .simd128Linear, HostWideKernels.chooseLinear(p)] {
                var out = [Int8](repeating: 99, count: o)
                withScratch(HostWideKernels.linearPackedWeightBytes(p, v)) { packed in
                    HostWideKernels.packLinearWeights(p, v, weights: weights, into: packed)
                    withScratch(HostWideKernels.linearScratchBytes(p, v)) { scratch in
                        input.withUnsafeBufferPointer { i in
                            bias.withUnsafeBufferPointer { b in
                                mults.withUnsafeBufferPointer { m in
                                    out.withUnsafeMutableBufferPointer { ob in
                                        HostWideKernels().linear(p, v, ConvArguments(
                                            input: i.baseAddress!, weights: packed, bias: withBias ? b.baseAddress : nil,
                                            multipliers: m.baseAddress!, output: ob.baseAddress!, scratch: scratch))
                                    }
                                }
                            }
                        }
                    }
                }
                if let at = (0..<o).first(where: { ref[$0] != out[$0] }) {
                    Issue.record(Comment(rawValue: "seed=\(rng.seed) \(v) \(p): output \(at): got \(out[at]), "
                                         + "reference \(ref[at])"))
                    return
                }
            }
        }
    }
    @Test("fusion: packed fused weights, bias and multipliers equal the reference fusion's, for conv and depthwise")
    func fusionMatchesReference() {
        for c in 0..<(isDebugBuild ? 4 : 40) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xF05 &+ UInt64(c))
            let g = rng.int(1...6)
            let mode: FusionCoefficientMode = c % 2 == 0 ? .perChannel : .perLayer
            let conv = randomConv(&rng, maxSide: 5)
            let dw = DepthwiseConv2DParams(inputHeight: 6, inputWidth: 5, channels: [3, 32, 40][c % 3], kernelHeight: 3,
                                           kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: rng.zeroPoint(),
                                           output: rng.outputQuantization())
            for isDepthwise in [false, true] {
                let f = isDepthwise ? DynamicFusionParams(kernelCount: g, depthwise: dw, coefficients: mode)
                    : DynamicFusionParams(kernelCount: g, conv: conv, coefficients: mode)
                let o = f.outputChannels
                let kernels = rng.int8s(g * f.kernelElements, -127...127)
                let eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
                let mixed = rng.int32s(g * o, -(1 << 16)...(1 << 16)), stat = rng.int32s(o, -(1 << 16)...(1 << 16))
                let m0 = rng.multipliers(o, shifts: -20...0)
                let (refKernel, refBias, refM) = referenceFusion(f, kernels: kernels, coefficients: eta,
                                                                 mixedBias: mixed, staticBias: stat, staticMultipliers: m0)
                let variants: [HostWideKernels.Variant] = isDepthwise ? [.wideDepthwise, .sse2Depthwise, .simd128Depthwise]
                    : [.vnni, .vnniPixels, .simd128Tile, .simd128PixelLane]
                for v in variants {
                    let name = "\(v)", cv = v, dv = v
                    let bytes = isDepthwise ? HostWideKernels.fusedDepthwiseWeightBytes(f, dw, dv)
                        : HostWideKernels.fusedConvWeightBytes(f, conv, cv)
                    let scratchBytes = isDepthwise ? HostWideKernels.depthwiseFusionScratchBytes(f, dw, dv)
                        : HostWideKernels.convFusionScratchBytes(f, conv, cv)
                    var bias = [Int32](repeating: 7, count: o), mults = [QuantizedMultiplier](repeating: .zero, count: o)
                    let same: Bool = withScratch(bytes) { fused in
                        withScratch(scratchBytes) { scratch in
                            kernels.withUnsafeBufferPointer { k in eta.withUnsafeBufferPointer { e in
                            mixed.withUnsafeBufferPointer { mb in stat.withUnsafeBufferPointer { sb in
                            m0.withUnsafeBufferPointer { m in bias.withUnsafeMutableBufferPointer { b in
                            mults.withUnsafeMutableBufferPointer { fm in
                                let args = FusionArguments(
                                    kernels: k.baseAddress!, coefficients: e.baseAddress!, mixedBias: mb.baseAddress,
                                    staticBias: sb.baseAddress, staticMultipliers: m.baseAddress!, fusedWeights: fused,
                                    fusedBias: b.baseAddress!, fusedMultipliers: fm.baseAddress!, scratch: scratch)
                                if isDepthwise { HostWideKernels().fuseDepthwise(f, dw, dv, args) }
                                else { HostWideKernels().fuseConv(f, conv, cv, args) }
                            } } } } } } }
                        }
                        return withScratch(bytes) { want in
                            if isDepthwise { HostWideKernels.packDepthwiseWeights(dw, dv, weights: refKernel, into: want) }
                            else { HostWideKernels.packConvWeights(conv, cv, weights: refKernel, into: want) }
                            return memcmp(fused, want, bytes) == 0
                        }
                    }
                    #expect(same, "seed=\(rng.seed) \(name) depthwise=\(isDepthwise) \(f): packed fused weights differ")
                    #expect(bias == refBias, "seed=\(rng.seed) \(name) \(f): fused bias differs")
                    #expect(mults == refM, "seed=\(rng.seed) \(name) \(f): fused multipliers differ")
                }
            }
        }
    }
}
#endif
