// Helium (MVE) kernel set == reference kernels, bit for bit. On the host the MVE wrappers are their portable C
// models (Sources/DynQIntrinsics/include/dynq_arm_mve.h), so these tests run the kernels' own logic; on the M55
// (QEMU mps3-an547) the same kernels run as MVE instructions. Every failure names the seed, the coordinate and
// both values.
import Testing
@testable import DynQCore

// MARK: - Helpers

private func heliumSeed(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325        // FNV-1a of the case name: stable per case
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x1_0000_0001_B3 }
    return testBaseSeed ^ h ^ 0x4E11_0000
}

private func withOptional<R>(_ a: [Int32]?, _ body: (UnsafePointer<Int32>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

extension SeededRNG {
    /// Multipliers with realistic exponents most of the time, sometimes any exponent in [−31, 30] or M = 0.
    mutating func heliumMultipliers(_ n: Int, shifts: ClosedRange<Int32>) -> [QuantizedMultiplier] {
        (0..<n).map { _ in
            switch int(0...9) {
            case 0: return .zero
            case 1: return QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &self),
                                               shift: Int32.random(in: -31...30, using: &self))
            case 2: return QuantizedMultiplier(multiplier: [1 << 30, Int32.max][int(0...1)],
                                               shift: Int32.random(in: shifts, using: &self))
            default: return multiplier(shifts: shifts)
            }
        }
    }
    mutating func heliumBias(_ n: Int, _ magnitude: Int32) -> [Int32]? {
        int(0...3) == 0 ? nil : int32s(n, -magnitude...magnitude)
    }
}

let heliumConvCases: [ConvCase] = [
    ConvCase(name: "3x3 pad 1, 16 → 32 (benchmark layer, smaller image)", h: 6, w: 5, ic: 16, oc: 32, kh: 3, kw: 3,
                   pad: ConvPadding(all: 1)),
    ConvCase(name: "3x3 pad 1, K % 16 != 0 (13 → 19)", h: 7, w: 6, ic: 13, oc: 19, kh: 3, kw: 3,
                   pad: ConvPadding(all: 1)),
    ConvCase(name: "1x1 pointwise 24 → 40 (in place)", h: 5, w: 5, ic: 24, oc: 40, kh: 1, kw: 1),
    ConvCase(name: "1x1 pointwise K == 16 → 7", h: 3, w: 5, ic: 16, oc: 7, kh: 1, kw: 1),
    ConvCase(name: "1x1 pointwise K == 5 (< 16), pixels % 4 == 1", h: 3, w: 3, ic: 5, oc: 6, kh: 1, kw: 1),
    ConvCase(name: "1x1 stride 2, odd channels (im2col)", h: 6, w: 7, ic: 7, oc: 9, kh: 1, kw: 1, sy: 2, sx: 2),
    ConvCase(name: "1x1 with padding (im2col, padded pixels = bias only)", h: 3, w: 4, ic: 20, oc: 5, kh: 1, kw: 1,
                   pad: ConvPadding(top: 1, left: 2, bottom: 0, right: 1)),
    ConvCase(name: "stem 3x3, 1 → 16 channels, pad 1 (K == 9)", h: 7, w: 9, ic: 1, oc: 16, kh: 3, kw: 3,
                   pad: ConvPadding(all: 1)),
    ConvCase(name: "stem K == 16 exactly (2x2x4)", h: 5, w: 5, ic: 4, oc: 6, kh: 2, kw: 2),
    ConvCase(name: "stem 3x3x1, stride 2, dilation 2, asymmetric padding (border masks)", h: 11, w: 10, ic: 1,
                   oc: 5, kh: 3, kw: 3, sy: 2, sx: 2, pad: ConvPadding(top: 2, left: 0, bottom: 1, right: 3), dy: 2, dx: 2),
    ConvCase(name: "K <= 16 but a window wider than 255 bytes (general, register rows)", h: 4, w: 140, ic: 1,
                   oc: 3, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    ConvCase(name: "RGB stem 3x3x3, stride 2 (K == 27)", h: 9, w: 8, ic: 3, oc: 8, kh: 3, kw: 3, sy: 2, sx: 2,
                   pad: ConvPadding(all: 1)),
    ConvCase(name: "3x3 stride 2, asymmetric padding", h: 9, w: 8, ic: 5, oc: 8, kh: 3, kw: 3, sy: 2, sx: 2,
                   pad: ConvPadding(top: 0, left: 1, bottom: 2, right: 1)),
    ConvCase(name: "3x3 dilation 2, pad 2", h: 9, w: 9, ic: 6, oc: 11, kh: 3, kw: 3, pad: ConvPadding(all: 2),
                   dy: 2, dx: 2),
    ConvCase(name: "groups == 4", h: 6, w: 6, ic: 16, oc: 12, kh: 3, kw: 3, pad: ConvPadding(all: 1), groups: 4),
    ConvCase(name: "groups == channels (depthwise as grouped)", h: 5, w: 6, ic: 10, oc: 10, kh: 3, kw: 3,
                   pad: ConvPadding(all: 1), groups: 10),
    ConvCase(name: "5x3 kernel, stride (2, 1)", h: 9, w: 7, ic: 4, oc: 6, kh: 5, kw: 3, sy: 2, sx: 1,
                   pad: ConvPadding(top: 2, left: 1, bottom: 2, right: 1)),
    ConvCase(name: "single output pixel, K == 180", h: 3, w: 3, ic: 20, oc: 33, kh: 3, kw: 3),
    ConvCase(name: "K == 576, 2 pixels (pixel tail)", h: 3, w: 4, ic: 64, oc: 16, kh: 3, kw: 3),
    ConvCase(name: "padding larger than the kernel", h: 2, w: 2, ic: 3, oc: 5, kh: 2, kw: 2, pad: ConvPadding(all: 3)),
]

let heliumZeroPointKinds = ["z_in == -128", "z_in == 127", "z_in random"]

// MARK: - Runners

/// Reference and Helium conv (variant `v`, default the chosen one) on random data: a failure description or nil.
func checkHeliumConv(_ p: Conv2DParams, _ variant: HeliumKernels.ConvVariant? = nil, rng: inout SeededRNG) -> String? {
    let v = variant ?? HeliumKernels.chooseConv(p)
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias = rng.heliumBias(p.outputChannels, 1 << 20)
    let mults = rng.heliumMultipliers(p.outputChannels, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var got = [Int8](repeating: 99, count: p.outputCount)
    #expect(HeliumKernels.convPackedWeightBytes(p, v) == 0)
    withOptional(bias) { b in
        conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(HeliumKernels.convScratchBytes(p, v)) { s in
            input.withUnsafeBufferPointer { i in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                got.withUnsafeMutableBufferPointer { o in
                    HeliumKernels.conv2d(p, v, ConvArguments(input: i.baseAddress!, weights: w.baseAddress!, bias: b,
                                                             multipliers: m.baseAddress!, output: o.baseAddress!,
                                                             scratch: s))
                }
            } } }
        }
    }
    guard let i = (0..<ref.count).first(where: { ref[$0] != got[$0] }) else { return nil }
    let o = i % p.outputChannels, px = i / p.outputChannels
    return "seed=\(rng.seed) \(v) \(p): at (y=\(px / p.outputWidth), x=\(px % p.outputWidth), o=\(o)) "
        + "helium=\(got[i]) reference=\(ref[i]) bias=\(bias?[o] ?? 0) M=\(mults[o])"
}

// MARK: - Requantization

@Suite("Helium requantization (VQSHL, VQDMULH, VRSHL models) equals OutputQuantization.requantize")
struct HeliumRequantizeTests {
    @Test("every exponent in [−31, 30], random and extreme accumulators, M = 0, both multiplier extremes, random clamps")
    func matchesScalar() {
        var rng = SeededRNG(seed: heliumSeed("requantize"))
        let xs: [Int32] = [Int32.min, Int32.min + 1, -(1 << 30), -65536, -3, -2, -1, 0, 1, 2, 3, 65535, 1 << 30,
                           Int32.max - 1, Int32.max]
        for e in Int32(-31)...30 {
            for trial in 0..<(isDebugBuild ? 40 : 400) {
                let m: Int32 = trial == 0 ? 1 << 30 : (trial == 1 ? Int32.max : Int32.random(in: (1 << 30)...Int32.max, using: &rng))
                let qm = QuantizedMultiplier(multiplier: m, shift: e)
                let o = rng.outputQuantization()
                var acc = (0..<4).map { _ in Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...63))) }
                if trial < xs.count { acc[0] = xs[trial]; acc[1] = xs[xs.count - 1 - trial] }
                let (l, r) = heliumShifts(e)
                let scalarLanes = heliumRequantize(SIMD4(acc[0], acc[1], acc[2], acc[3]), m, l, r, o)
                let vectorLanes = heliumRequantize(SIMD4(acc[0], acc[1], acc[2], acc[3]), SIMD4(repeating: m),
                                                   SIMD4(repeating: l), SIMD4(repeating: r), o)
                for lane in 0..<4 {
                    let want = Int32(o.requantize(acc[lane], qm))
                    guard scalarLanes[lane] == want, vectorLanes[lane] == want else {
                        Issue.record("seed=\(rng.seed) x=\(acc[lane]) M=\(qm) z=\(o.zeroPoint) [\(o.activationMin), \(o.activationMax)]: helium \(scalarLanes[lane]) / \(vectorLanes[lane]), reference \(want)")
                        return
                    }
                }
            }
        }
        let o = OutputQuantization(zeroPoint: -3)
        let (l, r) = heliumShifts(0)
        let zero = heliumRequantize(SIMD4(Int32.min, -5, 7, Int32.max), 0, l, r, o)
        #expect(zero == SIMD4(repeating: -3), "M = 0 gives z_out")
    }

    @Test("ties round toward +infinity, as QuantizedMultiplier.apply documents")
    func tiesTowardPlusInfinity() {
        let o = OutputQuantization(zeroPoint: 0)
        let (l, r) = heliumShifts(0)                                   // M = 2^30 · 2^-31 = 1/2
        let y = heliumRequantize(SIMD4(3, -3, -5, 5), 1 << 30, l, r, o)
        #expect(y == SIMD4(2, -1, -2, 3))
    }
}

// MARK: - Conv

@Suite("Helium conv2d equals conv2dReference bit for bit")
struct HeliumConvTests {
    @Test("chosen variant and .general, on every case and zero-point kind", arguments: heliumConvCases, heliumZeroPointKinds)
    func matchesReference(c: ConvCase, zKind: String) {
        var rng = SeededRNG(seed: heliumSeed(c.name + zKind))
        for _ in 0..<3 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkHeliumConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
            if let msg = checkHeliumConv(p, .general, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("the chooser names the variant by shape")
    func chooser() {
        let q = OutputQuantization(zeroPoint: 0)
        func p(_ ic: Int, _ oc: Int, _ k: Int, stride: Int = 1, pad: Int = 0, groups: Int = 1) -> Conv2DParams {
            Conv2DParams(inputHeight: 8, inputWidth: 8, inputChannels: ic, outputChannels: oc, kernelHeight: k,
                         kernelWidth: k, strideY: stride, strideX: stride, padding: ConvPadding(all: pad),
                         groups: groups, inputZeroPoint: 0, output: q)
        }
        #expect(HeliumKernels.chooseConv(p(16, 32, 1)) == .pointwise)
        #expect(HeliumKernels.chooseConv(p(4, 32, 1)) == .pointwise)
        #expect(HeliumKernels.chooseConv(p(16, 32, 1, stride: 2)) == .stem)      // K = 16: one vector per row
        #expect(HeliumKernels.chooseConv(p(32, 32, 1, stride: 2)) == .general)
        #expect(HeliumKernels.chooseConv(p(1, 16, 3, pad: 1)) == .stem)
        #expect(HeliumKernels.chooseConv(p(3, 16, 3, pad: 1)) == .general)       // K = 27
        let wide = Conv2DParams(inputHeight: 4, inputWidth: 200, inputChannels: 1, outputChannels: 8, kernelHeight: 3,
                                kernelWidth: 3, inputZeroPoint: 0, output: q)
        #expect(HeliumKernels.chooseConv(wide) == .general)                        // window spans 403 bytes
        #expect(HeliumKernels.convScratchBytes(p(1, 16, 3, pad: 1), .stem) == 16 * 16 + 64)     // table + 4 windows
        #expect(HeliumKernels.chooseConv(p(16, 32, 3, pad: 1)) == .general)
        #expect(HeliumKernels.chooseConv(p(4, 4, 3, pad: 1, groups: 4)) == .general)
        #expect(HeliumKernels.convScratchBytes(p(16, 32, 1), .pointwise) == 16 * 32 + 4 * 16)   // table + 4 rows
        #expect(HeliumKernels.convScratchBytes(p(16, 30, 3), .general) == 16 * 32 + 4 * 144)  // table + 4 im2col rows
    }

    @Test("random shapes: groups, strides, padding, dilation, every variant that applies")
    func randomShapes() {
        var rng = SeededRNG(seed: heliumSeed("conv sweep"))
        for _ in 0..<(isDebugBuild ? 20 : 300) {
            let groups = [1, 1, 1, 2, 3][rng.int(0...4)]
            let ic = groups * rng.int(1...20), oc = groups * rng.int(1...20)
            let kh = rng.int(1...4), kw = rng.int(1...4), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9)
            let p = Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: ic, outputChannels: oc, kernelHeight: kh,
                                 kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...2), padding: pad,
                                 dilationY: dy, dilationX: dx, groups: groups, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            if let msg = checkHeliumConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
            if HeliumKernels.chooseConv(p) != .general, let msg = checkHeliumConv(p, .general, rng: &rng) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }
}

// MARK: - Depthwise

let heliumDepthwiseCases: [DepthwiseCase] = [
    DepthwiseCase(name: "3x3 pad 1, 32 channels, stride 1 (benchmark layer, smaller image)", h: 7, w: 9, c: 32,
                        kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "3x3 pad 1, stride 2, 16 channels", h: 9, w: 10, c: 16, kh: 3, kw: 3, sy: 2, sx: 2,
                        pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "channels % 4 != 0 (13): predicated tail block", h: 5, w: 7, c: 13, kh: 3, kw: 3,
                        pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "channels < 4 (3)", h: 5, w: 5, c: 3, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "channels == 1", h: 4, w: 6, c: 1, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "output width % 4 == 3 and == 1 rows (pixel tails)", h: 6, w: 7, c: 8, kh: 3, kw: 3,
                        pad: ConvPadding(all: 1)),
    DepthwiseCase(name: "asymmetric padding, stride 2", h: 9, w: 8, c: 24, kh: 3, kw: 3, sy: 2, sx: 2,
                        pad: ConvPadding(top: 0, left: 1, bottom: 1, right: 0)),
    DepthwiseCase(name: "5x5 pad 2 (generic window path)", h: 6, w: 6, c: 17, kh: 5, kw: 5, pad: ConvPadding(all: 2)),
    DepthwiseCase(name: "2x3 kernel, no padding", h: 5, w: 6, c: 9, kh: 2, kw: 3),
    DepthwiseCase(name: "1x1 kernel", h: 3, w: 3, c: 20, kh: 1, kw: 1),
    DepthwiseCase(name: "dilation 2 (row cache keeps rows a window skips)", h: 8, w: 8, c: 8, kh: 3, kw: 3,
                        pad: ConvPadding(all: 2), dy: 2, dx: 2),
    DepthwiseCase(name: "stride 3 > kernel rows needed again", h: 10, w: 10, c: 6, kh: 2, kw: 2, sy: 3, sx: 3),
    DepthwiseCase(name: "padding larger than the kernel", h: 2, w: 3, c: 8, kh: 3, kw: 3, pad: ConvPadding(all: 3)),
]

func checkHeliumDepthwise(_ p: DepthwiseConv2DParams, rng: inout SeededRNG) -> String? {
    let v = HeliumKernels.chooseDepthwise(p)
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias = rng.heliumBias(p.channels, 1 << 18)
    let mults = rng.heliumMultipliers(p.channels, shifts: -10 ... -2)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var got = [Int8](repeating: 99, count: p.outputCount)
    #expect(HeliumKernels.depthwisePackedWeightBytes(p, v) == 0)
    withOptional(bias) { b in
        depthwiseConv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(HeliumKernels.depthwiseScratchBytes(p, v)) { s in
            input.withUnsafeBufferPointer { i in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                got.withUnsafeMutableBufferPointer { o in
                    HeliumKernels.depthwiseConv2d(p, v, ConvArguments(
                        input: i.baseAddress!, weights: w.baseAddress!, bias: b, multipliers: m.baseAddress!,
                        output: o.baseAddress!, scratch: s))
                }
            } } }
        }
    }
    guard let i = (0..<ref.count).first(where: { ref[$0] != got[$0] }) else { return nil }
    let c = i % p.channels, px = i / p.channels
    return "seed=\(rng.seed) \(p): at (y=\(px / p.outputWidth), x=\(px % p.outputWidth), c=\(c)) "
        + "helium=\(got[i]) reference=\(ref[i]) bias=\(bias?[c] ?? 0) M=\(mults[c])"
}

@Suite("Helium depthwiseConv2d equals depthwiseConv2dReference bit for bit")
struct HeliumDepthwiseTests {
    @Test("on every case and zero-point kind", arguments: heliumDepthwiseCases, heliumZeroPointKinds)
    func matchesReference(c: DepthwiseCase, zKind: String) {
        var rng = SeededRNG(seed: heliumSeed(c.name + zKind))
        for _ in 0..<3 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkHeliumDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("random shapes: windows, strides, padding, dilation, channel counts")
    func randomShapes() {
        var rng = SeededRNG(seed: heliumSeed("depthwise sweep"))
        for _ in 0..<(isDebugBuild ? 20 : 300) {
            let kh = rng.int(1...5), kw = rng.int(1...5), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...10)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...10)
            let p = DepthwiseConv2DParams(inputHeight: h, inputWidth: w, channels: rng.int(1...40), kernelHeight: kh,
                                          kernelWidth: kw, strideY: rng.int(1...3), strideX: rng.int(1...3),
                                          padding: pad, dilationY: dy, dilationX: dx, inputZeroPoint: rng.zeroPoint(),
                                          output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            if let msg = checkHeliumDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

// MARK: - Linear

func checkHeliumLinear(_ p: LinearParams, rng: inout SeededRNG) -> String? {
    let v = HeliumKernels.chooseLinear(p)
    let input = rng.int8s(p.inputFeatures)
    let weights = rng.int8s(p.inputFeatures * p.outputFeatures, -127...127)
    let bias = rng.heliumBias(p.outputFeatures, 1 << 20)
    let mults = rng.heliumMultipliers(p.outputFeatures, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputFeatures)
    var got = [Int8](repeating: 99, count: p.outputFeatures)
    #expect(HeliumKernels.linearPackedWeightBytes(p, v) == 0 && HeliumKernels.linearScratchBytes(p, v) == 0)
    withOptional(bias) { b in
        linearReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        input.withUnsafeBufferPointer { i in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
            got.withUnsafeMutableBufferPointer { o in
                HeliumKernels.linear(p, v, ConvArguments(input: i.baseAddress!, weights: w.baseAddress!, bias: b,
                                                         multipliers: m.baseAddress!, output: o.baseAddress!,
                                                         scratch: nil))
            }
        } } }
    }
    guard let o = (0..<ref.count).first(where: { ref[$0] != got[$0] }) else { return nil }
    return "seed=\(rng.seed) \(p): at o=\(o) helium=\(got[o]) reference=\(ref[o]) bias=\(bias?[o] ?? 0) M=\(mults[o])"
}

@Suite("Helium linear equals linearReference bit for bit")
struct HeliumLinearTests {
    @Test("shapes around the 16-element vector and 4-row blocks", arguments: [
        (1, 1), (7, 9), (16, 4), (17, 5), (48, 10), (100, 3), (257, 17), (384, 48)
    ] as [(Int, Int)], heliumZeroPointKinds)
    func matchesReference(shape: (Int, Int), zKind: String) {
        var rng = SeededRNG(seed: heliumSeed("linear \(shape) \(zKind)"))
        for _ in 0..<3 {
            let p = LinearParams(inputFeatures: shape.0, outputFeatures: shape.1,
                                 inputZeroPoint: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkHeliumLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("random shapes")
    func randomShapes() {
        var rng = SeededRNG(seed: heliumSeed("linear sweep"))
        for _ in 0..<(isDebugBuild ? 20 : 300) {
            let p = rng.randomLinearParams()
            if let msg = checkHeliumLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

// MARK: - Fusion

struct HeliumFusionCase: CustomTestStringConvertible, Sendable {
    let name: String
    var g: Int, o: Int, k: Int
    var depthwise: Bool
    var mode: FusionCoefficientMode
    var testDescription: String { name }
}

let heliumFusionCases: [HeliumFusionCase] = [
    HeliumFusionCase(name: "conv, per channel, K == 288 (3x3x32), g == 4", g: 4, o: 8, k: 288, depthwise: false, mode: .perChannel),
    HeliumFusionCase(name: "conv, per layer, K % 4 != 0 (45), g == 2", g: 2, o: 7, k: 45, depthwise: false, mode: .perLayer),
    HeliumFusionCase(name: "conv, g == 1", g: 1, o: 9, k: 16, depthwise: false, mode: .perChannel),
    HeliumFusionCase(name: "conv, K == 1", g: 4, o: 5, k: 1, depthwise: false, mode: .perChannel),
    HeliumFusionCase(name: "conv, K == 3 (< 4 lanes)", g: 3, o: 6, k: 3, depthwise: false, mode: .perLayer),
    HeliumFusionCase(name: "conv, g == 300 (|F| near 2^30)", g: 300, o: 3, k: 13, depthwise: false, mode: .perChannel),
    HeliumFusionCase(name: "depthwise 3x3, per channel, C % 4 != 0 (13)", g: 4, o: 13, k: 9, depthwise: true, mode: .perChannel),
    HeliumFusionCase(name: "depthwise 3x3, per layer, C == 32", g: 5, o: 32, k: 9, depthwise: true, mode: .perLayer),
    HeliumFusionCase(name: "depthwise 5x5, C < 4 (3)", g: 2, o: 3, k: 25, depthwise: true, mode: .perChannel),
    HeliumFusionCase(name: "depthwise, g == 64", g: 64, o: 6, k: 9, depthwise: true, mode: .perChannel),
]

let heliumBiasKinds = ["no biases", "mixed bias only", "static bias only", "mixed and static bias"]

/// Reference and Helium fusion on random (or extreme) data: a failure description or nil. The Helium fusion
/// writes the layout the Helium conv / depthwise reads, which is the model's, so values compare element by element.
func checkHeliumFusion(_ c: HeliumFusionCase, biasKind: String, extremes: Bool, rng: inout SeededRNG) -> String? {
    let q = OutputQuantization(zeroPoint: 0)
    let conv = Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: c.k, outputChannels: c.o, kernelHeight: 1,
                            kernelWidth: 1, inputZeroPoint: 0, output: q)
    let dw = DepthwiseConv2DParams(inputHeight: c.k, inputWidth: 1, channels: c.o, kernelHeight: c.k, kernelWidth: 1,
                                   inputZeroPoint: 0, output: q)
    let p = c.depthwise ? DynamicFusionParams(kernelCount: c.g, depthwise: dw, coefficients: c.mode)
                        : DynamicFusionParams(kernelCount: c.g, conv: conv, coefficients: c.mode)
    let kernels = extremes ? (0..<(p.kernelCount * p.kernelElements)).map { _ in rng.int(0...1) == 0 ? Int8(127) : -127 }
                           : rng.int8s(p.kernelCount * p.kernelElements, -127...127)
    var eta: [Int16] = (0..<p.coefficientCount).map { _ in extremes ? 32767 : Int16(rng.int(0...32767)) }
    if extremes && p.coefficients == .perChannel { for t in 0..<p.kernelCount { eta[t] = 0 } }   // channel 0: A == 0
    if !extremes && rng.int(0...2) == 0 {                                                     // some small A ≤ 127
        for t in 0..<p.coefficientCount where t % 3 == 0 { eta[t] = Int16(rng.int(0...2)) }
    }
    let mixed: [Int32]? = biasKind.contains("mixed") ? rng.int32s(p.kernelCount * p.outputChannels, -(1 << 24)...(1 << 24)) : nil
    let stat: [Int32]? = biasKind.contains("static") ? rng.int32s(p.outputChannels, -(1 << 24)...(1 << 24)) : nil
    let m0 = rng.multipliers(p.outputChannels, shifts: -31 ... -10)
    var fr = [Int8](repeating: 0, count: p.kernelElements), fh = [Int8](repeating: 99, count: p.kernelElements)
    var br = [Int32](repeating: 0, count: p.outputChannels), bh = [Int32](repeating: 7, count: p.outputChannels)
    var mr = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels), mh = mr
    withOptional(mixed) { mb in withOptional(stat) { sb in
        dynamicFusionReference(p, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb,
                               staticMultipliers: m0, fusedKernel: &fr, biasAccumulator: &br, multipliers: &mr)
        let bytes = c.depthwise ? HeliumKernels.depthwiseFusionScratchBytes(p, dw, .general)
                                : HeliumKernels.convFusionScratchBytes(p, conv, HeliumKernels.chooseConv(conv))
        #expect((c.depthwise ? HeliumKernels.fusedDepthwiseWeightBytes(p, dw, .general)
                             : HeliumKernels.fusedConvWeightBytes(p, conv, .pointwise)) == p.kernelElements)
        withScratch(bytes) { s in
            kernels.withUnsafeBufferPointer { kp in eta.withUnsafeBufferPointer { ep in m0.withUnsafeBufferPointer { mp in
                fh.withUnsafeMutableBytes { fp in bh.withUnsafeMutableBufferPointer { bp in
                    mh.withUnsafeMutableBufferPointer { mhp in
                        let args = FusionArguments(kernels: kp.baseAddress!, coefficients: ep.baseAddress!,
                                                   mixedBias: mb, staticBias: sb, staticMultipliers: mp.baseAddress!,
                                                   fusedWeights: fp.baseAddress!, fusedBias: bp.baseAddress!,
                                                   fusedMultipliers: mhp.baseAddress!, scratch: s)
                        if c.depthwise {
                            HeliumKernels.fuseDepthwise(p, dw, .general, args)
                        } else {
                            HeliumKernels.fuseConv(p, conv, HeliumKernels.chooseConv(conv), args)
                        }
                    }
                } }
            } } }
        }
    } }
    let (o, k) = (p.outputChannels, p.elementsPerChannel)
    if let i = (0..<fr.count).first(where: { fr[$0] != fh[$0] }) {
        let (ch, e) = c.depthwise ? (i % o, i / o) : (i / k, i % k)
        return "seed=\(rng.seed) \(c.name) \(biasKind): fused kernel at (o=\(ch), k=\(e)) helium=\(fh[i]) reference=\(fr[i])"
    }
    if let ch = (0..<o).first(where: { br[$0] != bh[$0] }) {
        return "seed=\(rng.seed) \(c.name) \(biasKind): bias at o=\(ch) helium=\(bh[ch]) reference=\(br[ch])"
    }
    if let ch = (0..<o).first(where: { mr[$0] != mh[$0] }) {
        return "seed=\(rng.seed) \(c.name) \(biasKind): multiplier at o=\(ch) helium=\(mh[ch]) reference=\(mr[ch])"
    }
    return nil
}

@Suite("Helium fusion equals dynamicFusionReference bit for bit (kernel values, bias, multipliers)")
struct HeliumFusionTests {
    @Test("on every case and bias kind", arguments: heliumFusionCases, heliumBiasKinds)
    func matchesReference(c: HeliumFusionCase, biasKind: String) {
        var rng = SeededRNG(seed: heliumSeed("fusion " + c.name + biasKind))
        for trial in 0..<4 {
            if let msg = checkHeliumFusion(c, biasKind: biasKind, extremes: trial == 3, rng: &rng) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }
}

@Suite("Helium fusion's per-channel divisions equal the reference's 64-bit ones")
struct HeliumFusionDivisionTests {
    @Test("heliumDivide equals the UInt64 division whenever the quotient fits 32 bits")
    func divide() {
        var rng = SeededRNG(seed: heliumSeed("divlu"))
        let edges: [UInt32] = [1, 2, 3, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x10001, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE,
                               0xFFFF_FFFF]
        var cases: [(UInt32, UInt32, UInt32)] = []
        for v in edges { for hi in [0, v / 2, v &- 1] { for lo in [0, 1, 0x8000_0000, UInt32.max] { cases.append((hi, lo, v)) } } }
        for _ in 0..<(isDebugBuild ? 20_000 : 400_000) {
            let v = UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...31))) | 1
            let hi = UInt32(truncatingIfNeeded: rng.next()) % v
            cases.append((hi, UInt32(truncatingIfNeeded: rng.next()), v))
        }
        for (hi, lo, v) in cases {
            let want = UInt32((UInt64(hi) << 32 | UInt64(lo)) / UInt64(v))
            let got = heliumDivide(hi, lo, by: v)
            guard got == want else { Issue.record("(\(hi)·2^32 + \(lo)) / \(v): helium \(got), UInt64 \(want)"); return }
        }
    }

    @Test("heliumFusionReciprocal equals fusionReciprocal for every A in [0, 2^16] and random larger A")
    func reciprocal() {
        var rng = SeededRNG(seed: heliumSeed("reciprocal"))
        var values = Array(0...65536)
        for _ in 0..<(isDebugBuild ? 10_000 : 200_000) { values.append(rng.int(0...Int(Int32.max))) }
        for a in values {
            let want = fusionReciprocal(Int32(a)), got = heliumFusionReciprocal(UInt32(a))
            guard got == want else { Issue.record("A=\(a): helium \(got), reference \(want)"); return }
        }
    }

    @Test("heliumScaledByFusionReciprocal equals scaledByFusionReciprocal: every exponent, random and extreme m and R")
    func scaled() {
        var rng = SeededRNG(seed: heliumSeed("scaled"))
        let rs: [UInt32] = [1, 2, 3, 127, 128, 254, 255, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, UInt32.max - 1, UInt32.max]
        for e in Int32(-31)...30 {
            for trial in 0..<(isDebugBuild ? 100 : 2000) {
                let m: Int32 = trial == 0 ? 1 << 30 : (trial == 1 ? Int32.max
                    : Int32.random(in: (1 << 30)...Int32.max, using: &rng))
                let r: UInt32 = trial < rs.count ? rs[trial]
                    : UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...31))) | 1
                let m0 = QuantizedMultiplier(multiplier: m, shift: e)
                let want = m0.scaledByFusionReciprocal(r), got = heliumScaledByFusionReciprocal(m0, r)
                guard got == want else { Issue.record("M0=\(m0) R=\(r): helium \(got), reference \(want)"); return }
            }
        }
        #expect(heliumScaledByFusionReciprocal(.zero, 12345) == .zero)
    }
}

// MARK: - Add

@Suite("Helium add equals addReference bit for bit")
struct HeliumAddTests {
    @Test("random counts (element tails), zero points, output ranges; input exponents in [−31, 2] and above (reference path)")
    func matchesReference() {
        var rng = SeededRNG(seed: heliumSeed("add"))
        for trial in 0..<(isDebugBuild ? 60 : 600) {
            let count = [0, 1, 3, 4, 5, 16, 17, 1000][trial % 8] + (trial % 3 == 0 ? rng.int(0...70) : 0)
            func inputMultiplier() -> QuantizedMultiplier {
                switch rng.int(0...5) {
                case 0: return .zero
                case 1: return QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                                   shift: Int32.random(in: -31...30, using: &rng))
                case 2: return QuantizedMultiplier(multiplier: [1 << 30, Int32.max][rng.int(0...1)],
                                                   shift: Int32.random(in: 0...2, using: &rng))
                default: return rng.multiplier(shifts: -3 ... 1)
                }
            }
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: inputMultiplier(),
                              input2ZeroPoint: rng.zeroPoint(), input2Multiplier: inputMultiplier(),
                              outputMultiplier: rng.heliumMultipliers(1, shifts: -26 ... -14)[0],
                              output: rng.outputQuantization())
            let a = rng.int8s(count), b = rng.int8s(count)
            var ref = [Int8](repeating: 0, count: count), got = [Int8](repeating: 99, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in got.withUnsafeMutableBufferPointer { op in
                HeliumKernels.add(p, count: count, ap.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                                  bp.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                                  output: op.baseAddress ?? UnsafeMutablePointer(bitPattern: 16)!)
            } } }
            if let i = (0..<count).first(where: { ref[$0] != got[$0] }) {
                Issue.record("seed=\(rng.seed) \(p) count \(count): at \(i) (a=\(a[i]), b=\(b[i])) helium=\(got[i]) reference=\(ref[i])")
                return
            }
        }
    }
}

// MARK: - Global average pool

@Suite("Helium global average pool equals globalAveragePoolReference bit for bit")
struct HeliumGlobalPoolTests {
    @Test("channel counts around the 4- and 16-channel passes, random sizes, zero points, multipliers, clamps")
    func matchesReference() {
        var rng = SeededRNG(seed: heliumSeed("global-pool"))
        let channelCounts = [1, 3, 4, 5, 12, 15, 16, 17, 19, 20, 31, 32, 33, 48]
        for trial in 0..<(isDebugBuild ? 56 : 280) {
            let c = channelCounts[trial % channelCounts.count]
            let h = rng.int(1...12), w = rng.int(1...12)
            let p = GlobalAveragePoolParams(height: h, width: w, channels: c, inputZeroPoint: rng.zeroPoint(),
                                            multiplier: rng.heliumMultipliers(1, shifts: -12 ... 1)[0],
                                            output: rng.outputQuantization())
            let x = rng.int8s(h * w * c)
            var ref = [Int8](repeating: 0, count: c), got = [Int8](repeating: 99, count: c + 1)
            globalAveragePoolReference(p, input: x, output: &ref)
            HeliumKernels.globalAveragePool(p, input: x, output: &got)
            #expect(got[c] == 99, "seed=\(rng.seed) \(h)x\(w)x\(c): wrote past the last channel")
            if let i = (0..<c).first(where: { ref[$0] != got[$0] }) {
                Issue.record("seed=\(rng.seed) \(p): channel \(i) helium=\(got[i]) reference=\(ref[i])")
                return
            }
        }
    }
}
