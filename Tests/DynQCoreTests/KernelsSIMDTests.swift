// SIMD kernels == reference kernels, bit for bit, on randomized shapes and contents. Every case is named by the
// condition it covers; every failure names the seed, the coordinate, both values and the accumulator.
import Testing
@testable import DynQCore

// MARK: - Case tables

let convCases: [ConvCase] = [
    ConvCase(name: "3x3 pad 1, channels % 16 != 0 (13 → 19)", h: 7, w: 6, ic: 13, oc: 19, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    ConvCase(name: "3x3 pad 1, 16 → 16", h: 5, w: 5, ic: 16, oc: 16, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    ConvCase(name: "1x1 pointwise 24 → 40", h: 5, w: 5, ic: 24, oc: 40, kh: 1, kw: 1),
    ConvCase(name: "1x1 stride == 2, odd channels", h: 6, w: 7, ic: 7, oc: 9, kh: 1, kw: 1, sy: 2, sx: 2),
    ConvCase(name: "3x3 stride == 2, asymmetric padding", h: 9, w: 8, ic: 5, oc: 8, kh: 3, kw: 3, sy: 2, sx: 2,
             pad: ConvPadding(top: 0, left: 1, bottom: 2, right: 1)),
    ConvCase(name: "3x3 dilation == 2, pad 2", h: 9, w: 9, ic: 6, oc: 11, kh: 3, kw: 3, pad: ConvPadding(all: 2), dy: 2, dx: 2),
    ConvCase(name: "groups == 4", h: 6, w: 6, ic: 16, oc: 12, kh: 3, kw: 3, pad: ConvPadding(all: 1), groups: 4),
    ConvCase(name: "groups == channels (depthwise as grouped)", h: 5, w: 6, ic: 10, oc: 10, kh: 3, kw: 3,
             pad: ConvPadding(all: 1), groups: 10),
    ConvCase(name: "K == 1 (1 input channel, 1x1)", h: 4, w: 5, ic: 1, oc: 5, kh: 1, kw: 1),
    ConvCase(name: "odd K == 3, 17 output channels", h: 3, w: 3, ic: 3, oc: 17, kh: 1, kw: 1),
    ConvCase(name: "5x3 kernel, stride (2, 1)", h: 9, w: 7, ic: 4, oc: 6, kh: 5, kw: 3, sy: 2, sx: 1,
             pad: ConvPadding(top: 2, left: 1, bottom: 2, right: 1)),
    ConvCase(name: "single output pixel", h: 3, w: 3, ic: 20, oc: 33, kh: 3, kw: 3),
    ConvCase(name: "K == 576 (3x3x64), 2 pixels (tile tail)", h: 3, w: 4, ic: 64, oc: 16, kh: 3, kw: 3),
    ConvCase(name: "output pixels % 4 == 3", h: 3, w: 5, ic: 8, oc: 8, kh: 3, kw: 3),
    ConvCase(name: "padding larger than the kernel", h: 2, w: 2, ic: 3, oc: 5, kh: 2, kw: 2, pad: ConvPadding(all: 3)),
]

let depthwiseCases: [DepthwiseCase] = [
    DepthwiseCase(name: "3x3 pad 1, channels == 16", h: 6, w: 6, c: 16, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "3x3 pad 1, channels % 8 != 0 (13)", h: 5, w: 7, c: 13, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "channels < 8 (3)", h: 5, w: 5, c: 3, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "channels == 1", h: 4, w: 4, c: 1, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "3x3 stride == 2, asymmetric padding", h: 9, w: 8, c: 24, kh: 3, kw: 3, sy: 2, sx: 2,
                  pad: ConvPadding(top: 0, left: 1, bottom: 1, right: 0)),
    DepthwiseCase(name: "3x3 odd output width 11, channels % 8 != 0 (29): pixel pairs, single pixel, tail block",
                  h: 4, w: 11, c: 29, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "3x3 stride == 2, odd output width 5, channels % 8 != 0 (21)", h: 7, w: 10, c: 21, kh: 3, kw: 3,
                  sy: 2, sx: 2, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "5x5 pad 2 (odd tap count 25)", h: 6, w: 6, c: 17, kh: 5, kw: 5, pad: ConvPadding(all: 2)),
    DepthwiseCase(name: "2x3 kernel (even tap count)", h: 5, w: 6, c: 9, kh: 2, kw: 3),
    DepthwiseCase(name: "1x1 kernel (one tap)", h: 3, w: 3, c: 20, kh: 1, kw: 1),
    DepthwiseCase(name: "dilation == 2", h: 8, w: 8, c: 8, kh: 3, kw: 3, pad: ConvPadding(all: 2), dy: 2, dx: 2),
    DepthwiseCase(name: "padding larger than the kernel", h: 2, w: 3, c: 8, kh: 3, kw: 3, pad: ConvPadding(all: 3)),
]

/// Input zero points each case runs with: both extremes and one random.
let zeroPointKinds: [String] = ["z_in == -128", "z_in == 127", "z_in random"]

func seed(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325        // FNV-1a of the case name: stable per case
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x1_0000_0001_B3 }
    return testBaseSeed ^ h
}

// MARK: - Runners (shared with the release sweep)

/// Runs reference and SIMD conv on random data; returns a failure description or nil.
func checkConv(_ p: Conv2DParams, rng: inout SeededRNG) -> String? {
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputChannels, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var simd = [Int8](repeating: 99, count: p.outputCount)
    bias.withOptionalPointer { b in
        conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(conv2dPackedWeightBytes(p)) { packed in
            packConv2dWeights(p, weights: weights, into: packed)
            withScratch(conv2dScratchBytes(p)) { s in
                conv2d(p, input: input, packedWeights: packed, bias: b, multipliers: mults, output: &simd, scratch: s)
            }
        }
    }
    return convMismatch(p, seed: rng.seed, input: input, weights: weights, bias: bias, multipliers: mults,
                        reference: ref, simd: simd)
}

/// The first output where `simd` differs from `ref`, named with the seed, the coordinate, both values and the
/// accumulator recomputed there; nil when they are equal.
func convMismatch(_ p: Conv2DParams, seed: UInt64, input: [Int8], weights: [Int8], bias: [Int32]?,
                  multipliers mults: [QuantizedMultiplier], reference ref: [Int8], simd: [Int8]) -> String? {
    guard let i = (0..<ref.count).first(where: { ref[$0] != simd[$0] }) else { return nil }
    let o = i % p.outputChannels, px = i / p.outputChannels
    let oy = px / p.outputWidth, ox = px % p.outputWidth
    var acc: Int64 = Int64(bias?[o] ?? 0)
    let gIn = p.groupInputChannels, group = o / p.groupOutputChannels
    for ky in 0..<p.kernelHeight { for kx in 0..<p.kernelWidth {
        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY, ix = ox * p.strideX - p.padding.left + kx * p.dilationX
        guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
        for c in 0..<gIn {
            acc += Int64(Int32(input[(iy * p.inputWidth + ix) * p.inputChannels + group * gIn + c]) - p.inputZeroPoint)
                * Int64(weights[((o * p.kernelHeight + ky) * p.kernelWidth + kx) * gIn + c])
        }
    } }
    return "seed=\(seed) \(p): at (y=\(oy), x=\(ox), o=\(o)) simd=\(simd[i]) reference=\(ref[i]) acc=\(acc) "
        + "M=\(mults[o])"
}

func checkDepthwise(_ p: DepthwiseConv2DParams, rng: inout SeededRNG) -> String? {
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.channels, -(1 << 18)...(1 << 18))
    let mults = rng.multipliers(p.channels, shifts: -10 ... -2)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var simd = [Int8](repeating: 99, count: p.outputCount)
    bias.withOptionalPointer { b in
        depthwiseConv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(depthwiseConv2dPackedWeightBytes(p)) { packed in
            packDepthwiseConv2dWeights(p, weights: weights, into: packed)
            withScratch(depthwiseConv2dScratchBytes(p)) { s in
                depthwiseConv2d(p, input: input, packedWeights: packed, bias: b, multipliers: mults, output: &simd,
                                scratch: s)
            }
        }
    }
    guard let i = (0..<ref.count).first(where: { ref[$0] != simd[$0] }) else { return nil }
    let c = i % p.channels, px = i / p.channels
    let oy = px / p.outputWidth, ox = px % p.outputWidth
    var acc: Int64 = Int64(bias?[c] ?? 0)
    for ky in 0..<p.kernelHeight { for kx in 0..<p.kernelWidth {
        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY, ix = ox * p.strideX - p.padding.left + kx * p.dilationX
        guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
        acc += Int64(Int32(input[(iy * p.inputWidth + ix) * p.channels + c]) - p.inputZeroPoint)
            * Int64(weights[(ky * p.kernelWidth + kx) * p.channels + c])
    } }
    return "seed=\(rng.seed) \(p): at (y=\(oy), x=\(ox), c=\(c)) simd=\(simd[i]) reference=\(ref[i]) acc=\(acc) "
        + "M=\(mults[c])"
}

func checkLinear(_ p: LinearParams, rng: inout SeededRNG) -> String? {
    let input = rng.int8s(p.inputFeatures)
    let weights = rng.int8s(p.inputFeatures * p.outputFeatures, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputFeatures, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputFeatures, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputFeatures)
    var simd = [Int8](repeating: 99, count: p.outputFeatures)
    bias.withOptionalPointer { b in
        linearReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(linearPackedWeightBytes(p)) { packed in
            packLinearWeights(p, weights: weights, into: packed)
            withScratch(linearScratchBytes(p)) { s in
                linear(p, input: input, packedWeights: packed, bias: b, multipliers: mults, output: &simd, scratch: s)
            }
        }
    }
    guard let o = (0..<ref.count).first(where: { ref[$0] != simd[$0] }) else { return nil }
    var acc = Int64(bias?[o] ?? 0)
    for i in 0..<p.inputFeatures {
        acc += Int64(Int32(input[i]) - p.inputZeroPoint) * Int64(weights[o * p.inputFeatures + i])
    }
    return "seed=\(rng.seed) \(p): at o=\(o) simd=\(simd[o]) reference=\(ref[o]) acc=\(acc) M=\(mults[o])"
}

extension Optional where Wrapped == [Int32] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Int32>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}

// MARK: - Tests

@Suite("SIMD conv2d equals conv2dReference bit for bit")
struct SIMDConvTests {
    @Test("on every case and zero-point kind", arguments: convCases, zeroPointKinds)
    func matchesReference(c: ConvCase, zKind: String) {
        var rng = SeededRNG(seed: seed(c.name + zKind))
        for _ in 0..<3 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("1x1 conv: the scalar pointwise kernel, the oracle and the SIMD tile agree")
    func pointwiseMatches() {
        var rng = SeededRNG(seed: seed("pointwise"))
        let p = Conv2DParams(inputHeight: 4, inputWidth: 5, inputChannels: 21, outputChannels: 10, kernelHeight: 1,
                             kernelWidth: 1, strideY: 2, strideX: 1, padding: ConvPadding(top: 1, left: 0, bottom: 0, right: 1),
                             inputZeroPoint: -128, output: OutputQuantization(zeroPoint: 127))
        let input = rng.int8s(p.inputCount), weights = rng.int8s(p.weightCount, -127...127)
        let bias = rng.int32s(10, -5000...5000), mults = rng.multipliers(10)
        var a = [Int8](repeating: 0, count: p.outputCount), b = a, r = a
        pointwiseConv2dScalar(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &a)
        conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &r)
        withScratch(conv2dPackedWeightBytes(p)) { packed in
            packConv2dWeights(p, weights: weights, into: packed)
            withScratch(conv2dScratchBytes(p)) { s in
                conv2d(p, input: input, packedWeights: packed, bias: bias, multipliers: mults, output: &b, scratch: s)
            }
        }
        #expect(a == r)
        #expect(a == b)
    }
}

@Suite("SIMD depthwiseConv2d equals depthwiseConv2dReference bit for bit")
struct SIMDDepthwiseTests {
    @Test("on every case and zero-point kind", arguments: depthwiseCases, zeroPointKinds)
    func matchesReference(c: DepthwiseCase, zKind: String) {
        var rng = SeededRNG(seed: seed(c.name + zKind))
        for _ in 0..<3 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("depthwise equals the same layer run as a grouped conv2dReference")
    func depthwiseIsGroupedConv() {
        var rng = SeededRNG(seed: seed("dw-as-grouped"))
        let p = DepthwiseConv2DParams(inputHeight: 5, inputWidth: 4, channels: 6, kernelHeight: 3, kernelWidth: 3,
                                      padding: ConvPadding(all: 1), inputZeroPoint: 3, output: OutputQuantization(zeroPoint: -7))
        let input = rng.int8s(p.inputCount), w = rng.int8s(p.weightCount, -127...127)
        let bias = rng.int32s(6, -3000...3000), mults = rng.multipliers(6)
        var ohwi = [Int8](repeating: 0, count: w.count)       // [kh][kw][C] → [C][kh][kw][1]
        for t in 0..<p.taps { for c in 0..<p.channels { ohwi[c * p.taps + t] = w[t * p.channels + c] } }
        var a = [Int8](repeating: 0, count: p.outputCount), b = a
        depthwiseConv2dReference(p, input: input, weights: w, bias: bias, multipliers: mults, output: &a)
        conv2dReference(p.asGroupedConv, input: input, weights: ohwi, bias: bias, multipliers: mults, output: &b)
        #expect(a == b)
    }
}

struct LinearCase: CustomTestStringConvertible, Sendable {
    let name: String, f: Int, o: Int
    var testDescription: String { name }
}

@Suite("SIMD linear equals linearReference bit for bit")
struct SIMDLinearTests {
    @Test("on every shape", arguments: [
        LinearCase(name: "F == 1, O == 1", f: 1, o: 1),
        LinearCase(name: "F odd (7), O % 8 != 0 (9)", f: 7, o: 9),
        LinearCase(name: "F == 16, O == 64", f: 16, o: 64),
        LinearCase(name: "F == 100, O == 3", f: 100, o: 3),
        LinearCase(name: "F == 257, O == 17", f: 257, o: 17),
    ], zeroPointKinds)
    func matchesReference(c: LinearCase, zKind: String) {
        var rng = SeededRNG(seed: seed(c.name + zKind))
        for _ in 0..<3 {
            let p = LinearParams(inputFeatures: c.f, outputFeatures: c.o, inputZeroPoint: zeroPoint(ofKind: zKind, &rng),
                                 output: rng.outputQuantization())
            if let msg = checkLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

@Suite("Randomized shape sweep: SIMD == reference (large in release builds)")
struct SIMDRandomSweepTests {
    @Test("random conv shapes (groups, strides, padding, dilation)")
    func convSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xC0)
        for _ in 0..<(isDebugBuild ? 6 : 300) {
            let groups = [1, 1, 1, 2, 3][rng.int(0...4)]
            let ic = groups * rng.int(1...(isDebugBuild ? 8 : 24)), oc = groups * rng.int(1...(isDebugBuild ? 8 : 24))
            let kh = rng.int(1...4), kw = rng.int(1...4), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9)
            let p = Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: ic, outputChannels: oc, kernelHeight: kh,
                                 kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...2), padding: pad,
                                 dilationY: dy, dilationX: dx, groups: groups, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            if let msg = checkConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("random depthwise shapes")
    func depthwiseSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD0)
        for _ in 0..<(isDebugBuild ? 6 : 300) {
            let kh = rng.int(1...5), kw = rng.int(1...5), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...10)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...10)
            let p = DepthwiseConv2DParams(inputHeight: h, inputWidth: w, channels: rng.int(1...(isDebugBuild ? 20 : 70)),
                                          kernelHeight: kh, kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...2),
                                          padding: pad, dilationY: dy, dilationX: dx, inputZeroPoint: rng.zeroPoint(),
                                          output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            if let msg = checkDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("random linear shapes")
    func linearSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xE0)
        for _ in 0..<(isDebugBuild ? 10 : 300) {
            let p = rng.randomLinearParams()
            if let msg = checkLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

@Suite("Vector requantization equals the scalar requantize")
struct SIMDRequantizeTests {
    @Test("requantize8 equals OutputQuantization.requantize for extreme accumulators, every shift, every bias kind")
    func matchesScalar() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x8E0)
        var xs: [Int32] = [Int32.min, Int32.min + 1, -1, 0, 1, Int32.max, Int32.max - 1, 1 << 14, -(1 << 14), 16383, -16385]
        for _ in 0..<(isDebugBuild ? 2000 : 100_000) {
            xs.append(Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...40))))
        }
        let prepared = UnsafeMutableRawPointer.allocate(byteCount: requantizeBlockBytes, alignment: 16)
        defer { prepared.deallocate() }
        var i = 0
        while i + 8 <= xs.count {
            let mults = (0..<8).map { _ in
                rng.int(0...15) == 0 ? QuantizedMultiplier.zero
                    : QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                          shift: Int32.random(in: -31...30, using: &rng))
            }
            let bias: [Int32]? = rng.int(0...1) == 0 ? nil : (0..<8).map { _ in Int32(rng.int(-1000...1000)) }
            let o = rng.outputQuantization()
            bias.withOptionalPointer { requantizePrepare(channels: 8, bias: $0, multipliers: mults, into: prepared) }
            let acc = Array(xs[i..<(i + 8)])
            var got = [Int8](repeating: 0, count: 8)
            requantize8(SIMD4(acc[0], acc[1], acc[2], acc[3]), SIMD4(acc[4], acc[5], acc[6], acc[7]), prepared, o, &got)
            for l in 0..<8 {
                let want = o.requantize(acc[l] &+ (bias?[l] ?? 0), mults[l])
                if got[l] != want {
                    Issue.record("seed=\(rng.seed) lane \(l): acc=\(acc[l]) bias=\(bias?[l] ?? 0) M=\(mults[l]) z=\(o.zeroPoint) [\(o.activationMin),\(o.activationMax)]: vector=\(got[l]) scalar=\(want)")
                    return
                }
            }
            i += 8
        }
    }

    @Test("the uniform (pixel-lane) requantization equals the scalar requantize: random accumulators, biases, output ranges, every shift, both forms")
    func uniformMatchesScalar() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x0F17)
        var offsetForm = 0, general = 0
        for _ in 0..<(isDebugBuild ? 3000 : 100_000) {
            let m = rng.int(0...15) == 0 ? QuantizedMultiplier.zero
                : QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                      shift: Int32.random(in: -31...30, using: &rng))
            let o = rng.outputQuantization()
            let bias = rng.int(0...2) == 0 ? 0 : Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(33...63)))
            let c = UniformRequantization(bias: bias, multiplier: m)
            if c.offsetForm { offsetForm += 1 } else { general += 1 }
            var acc = (0..<8).map { _ in Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...40))) }
            if rng.int(0...3) == 0 { acc[rng.int(0...7)] = [Int32.min, Int32.max, Int32.min + 1, -1][rng.int(0...3)] }
            let got = requantizedUniform8(SIMD4(acc[0], acc[1], acc[2], acc[3]), SIMD4(acc[4], acc[5], acc[6], acc[7]), c, o)
            for l in 0..<8 {
                let want = o.requantize(acc[l] &+ bias, m)
                if got[l] != want {
                    Issue.record("seed=\(rng.seed) acc=\(acc[l]) bias=\(bias) M=\(m) z=\(o.zeroPoint) [\(o.activationMin),\(o.activationMax)] offsetForm=\(c.offsetForm): \(got[l]) vs \(want)")
                    return
                }
            }
        }
        #expect(offsetForm > 1000 && general > 1000, "both forms exercised: \(offsetForm) / \(general)")
    }

    @Test("requantize8 and the uniform (pixel-lane) requantization equal the scalar requantize at and around the magnitude cap 2^max(0, n − 22), every shift")
    func aroundTheCap() {
        let prepared = UnsafeMutableRawPointer.allocate(byteCount: requantizeBlockBytes, alignment: 16)
        defer { prepared.deallocate() }
        let outputs = [OutputQuantization(zeroPoint: 0), OutputQuantization(zeroPoint: -128, activationMin: -128),
                       OutputQuantization(zeroPoint: 127), OutputQuantization(zeroPoint: 5, activationMin: -20, activationMax: 30)]
        for e in Int32(-31)...30 {
            let n = 31 - Int64(e)
            let cap = Int64(1) << max(0, n - 22)
            let ms: [Int32] = [1 << 30, (1 << 30) + 1, 1_518_500_250, Int32.max]
            for m in ms {
                let mults = [QuantizedMultiplier](repeating: QuantizedMultiplier(multiplier: m, shift: e), count: 8)
                requantizePrepare(channels: 8, bias: nil, multipliers: mults, into: prepared)
                // x around the cap, around the smallest |x| reaching 256, and the int32 extremes, both signs.
                let reach: Int64 = n + 8 < 63 ? ((Int64(1) << (n + 8)) + Int64(m) - 1) / Int64(m) : Int64(Int32.max)
                var xs: [Int64] = [0, 1, 2, Int64(Int32.max), -Int64(Int32.max) - 1]
                let centres: [Int64] = [cap, reach, 2 * cap, cap / 2]
                for c in centres {
                    for d in Int64(-2)...2 { xs.append(c + d); xs.append(-(c + d)) }
                }
                let acc = xs.filter { $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }.map { Int32($0) }
                var i = 0
                while i < acc.count {
                    let v = (0..<8).map { acc[(i + $0) % acc.count] }
                    for o in outputs {
                        var got = [Int8](repeating: 0, count: 8)
                        requantize8(SIMD4(v[0], v[1], v[2], v[3]), SIMD4(v[4], v[5], v[6], v[7]), prepared, o, &got)
                        let lo = SIMD4(v[0], v[1], v[2], v[3]), hi = SIMD4(v[4], v[5], v[6], v[7])
                        for bias: Int32 in [0, 77, -1000] {
                            let uniform = requantizedUniform8(lo &- SIMD4(repeating: bias), hi &- SIMD4(repeating: bias),
                                                              UniformRequantization(bias: bias, multiplier: mults[0]), o)
                            for l in 0..<8 where uniform[l] != o.requantize(v[l], mults[0]) {
                                Issue.record("uniform e=\(e) m=\(m) x=\(v[l]) bias=\(bias): \(uniform[l])")
                                return
                            }
                        }
                        for l in 0..<8 {
                            let want: Int8 = o.requantize(v[l], mults[l])
                            if got[l] != want {
                                Issue.record("e=\(e) m=\(m) x=\(v[l]) z=\(o.zeroPoint): vector=\(got[l]) scalar=\(want)")
                                return
                            }
                        }
                    }
                    i += 8
                }
            }
        }
    }
}
