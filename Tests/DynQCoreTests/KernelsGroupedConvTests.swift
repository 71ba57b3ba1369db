// The small-group SIMD conv (`groupedConv2d`, GroupedConvSIMD.swift) equals `conv2dReference` bit for bit: on
// Dy-mobile's shape (6 input and 6 output channels per group, stride 1 and 2), on every group size below 8, odd
// input channels per group, padding, dilation, row tails (output width % 8 != 0), extreme zero points and
// multipliers; `conv2d` dispatches to it exactly when `groupedConv2dApplies`.
import Testing
@testable import DynQCore

struct GroupedConvCase: CustomTestStringConvertible, Sendable {
    let name: String
    var h: Int, w: Int, gIn: Int, gOut: Int, groups: Int, kh = 3, kw = 3
    var sy = 1, sx = 1
    var pad = ConvPadding(all: 1)
    var dy = 1, dx = 1
    var testDescription: String { name }

    func params(zIn: Int32, output: OutputQuantization) -> Conv2DParams {
        Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: gIn * groups, outputChannels: gOut * groups,
                     kernelHeight: kh, kernelWidth: kw, strideY: sy, strideX: sx, padding: pad, dilationY: dy,
                     dilationX: dx, groups: groups, inputZeroPoint: zIn, output: output)
    }
}

let groupedConvCases: [GroupedConvCase] = [
    GroupedConvCase(name: "Dy-mobile: 6 per group, 3 groups (18 channels), stride == 1", h: 9, w: 11, gIn: 6, gOut: 6,
                    groups: 3),
    GroupedConvCase(name: "Dy-mobile: 6 per group, 4 groups (24 channels), stride == 2", h: 10, w: 13, gIn: 6, gOut: 6,
                    groups: 4, sy: 2, sx: 2),
    GroupedConvCase(name: "6 per group, stride == 2, odd input size, asymmetric padding", h: 7, w: 9, gIn: 6, gOut: 6,
                    groups: 2, sy: 2, sx: 2, pad: ConvPadding(top: 0, left: 1, bottom: 1, right: 0)),
    GroupedConvCase(name: "output width == 16 (whole strips), 11 groups", h: 3, w: 16, gIn: 6, gOut: 6, groups: 11),
    GroupedConvCase(name: "output width == 1", h: 5, w: 1, gIn: 6, gOut: 6, groups: 2),
    GroupedConvCase(name: "O == 3 < 8 (a flat requantization block spans 3 pixels)", h: 4, w: 11, gIn: 2, gOut: 1,
                    groups: 3),
    GroupedConvCase(name: "O == 66 (O mod 8 == 2, 33 pattern blocks), width 13", h: 3, w: 13, gIn: 6, gOut: 6,
                    groups: 11),
    GroupedConvCase(name: "odd input channels per group (3 → 5)", h: 6, w: 7, gIn: 3, gOut: 5, groups: 3),
    GroupedConvCase(name: "one input channel per group (1 → 2)", h: 5, w: 9, gIn: 1, gOut: 2, groups: 4),
    GroupedConvCase(name: "gOut == 1 (depthwise as grouped)", h: 6, w: 6, gIn: 1, gOut: 1, groups: 9),
    GroupedConvCase(name: "gOut == 4, gIn == 8", h: 5, w: 10, gIn: 8, gOut: 4, groups: 3),
    GroupedConvCase(name: "gOut == 7 (passes of 4 and 3)", h: 4, w: 5, gIn: 7, gOut: 7, groups: 2),
    GroupedConvCase(name: "dilation == 2, pad 2", h: 9, w: 9, gIn: 6, gOut: 6, groups: 2, pad: ConvPadding(all: 2),
                    dy: 2, dx: 2),
    GroupedConvCase(name: "stride (1, 3), 5x2 kernel", h: 9, w: 14, gIn: 4, gOut: 3, groups: 2, kh: 5, kw: 2, sy: 1,
                    sx: 3, pad: ConvPadding(top: 2, left: 1, bottom: 2, right: 0)),
    GroupedConvCase(name: "padding larger than the kernel", h: 2, w: 3, gIn: 6, gOut: 6, groups: 2,
                    pad: ConvPadding(all: 4)),
    GroupedConvCase(name: "thin dense 1x1 (I == 18 → 18, one group)", h: 5, w: 13, gIn: 18, gOut: 18, groups: 1,
                    kh: 1, kw: 1, pad: .zero),
    GroupedConvCase(name: "thin dense 1x1, I == 32 (the limit), stride == 2", h: 7, w: 19,
                    gIn: 32, gOut: 24, groups: 1, kh: 1, kw: 1, sy: 2, sx: 2, pad: .zero),
    GroupedConvCase(name: "thin dense 3x3 stem (I == 3 → 32, K == 27), stride == 2", h: 11, w: 17, gIn: 3, gOut: 32,
                    groups: 1, sy: 2, sx: 2),
    GroupedConvCase(name: "thin dense 3x3, I == 1 (4-byte pixel reads near the row end)", h: 6, w: 13, gIn: 1,
                    gOut: 5, groups: 1),
    GroupedConvCase(name: "thin dense 2x2, I == 4, stride 3, no padding", h: 8, w: 29, gIn: 4, gOut: 3, groups: 1,
                    kh: 2, kw: 2, sy: 3, sx: 3, pad: .zero),
    GroupedConvCase(name: "thin dense 1x1, odd I (13) and padding", h: 4, w: 11, gIn: 13, gOut: 9, groups: 1,
                    kh: 1, kw: 1, pad: ConvPadding(top: 1, left: 0, bottom: 0, right: 1)),
]

/// Reference vs `groupedConv2d` called directly (whatever `groupedConv2dApplies` says); a failure names the seed,
/// the coordinate, both values and the accumulator.
func checkGroupedConv(_ p: Conv2DParams, rng: inout SeededRNG, extremeMultipliers: Bool = false) -> String? {
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
    let mults = extremeMultipliers
        ? (0..<p.outputChannels).map { _ in
            [QuantizedMultiplier.zero, QuantizedMultiplier(multiplier: Int32.max, shift: 0),
             QuantizedMultiplier(multiplier: 1 << 30, shift: -31), rng.multiplier(shifts: -20 ... 2)][rng.int(0...3)]
        }
        : rng.multipliers(p.outputChannels, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var simd = [Int8](repeating: 99, count: p.outputCount)
    bias.withOptionalPointer { b in
        conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(groupedConv2dPackedWeightBytes(p)) { packed in
            packGroupedConv2dWeights(p, weights: weights, into: packed)
            withScratch(groupedConv2dScratchBytes(p)) { s in
                groupedConv2d(p, input: input, packedWeights: packed, bias: b, multipliers: mults, output: &simd,
                              scratch: s)
            }
        }
    }
    return convMismatch(p, seed: rng.seed, input: input, weights: weights, bias: bias, multipliers: mults,
                        reference: ref, simd: simd)
}

extension Conv2DParams {
    /// The same layer on an input `width` pixels wide.
    func with(width: Int) -> Conv2DParams {
        var p = self
        p.inputWidth = width
        return p
    }
}

private func groupedSeed(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325        // FNV-1a of the case name: stable per case
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x1_0000_0001_B3 }
    return testBaseSeed ^ h
}

@Suite("Small-group SIMD conv (groupedConv2d) equals conv2dReference bit for bit")
struct SIMDGroupedConvTests {
    @Test("on every case, z_in ∈ {−128, 127, random}", arguments: groupedConvCases)
    func matchesReference(c: GroupedConvCase) {
        var rng = SeededRNG(seed: groupedSeed(c.name))
        for z: Int32 in [-128, 127, Int32(rng.int(-128...127))] {
            let p = c.params(zIn: z, output: rng.outputQuantization())
            #expect(groupedConv2dApplies(p))
            if let msg = checkGroupedConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("extreme multipliers (M == 0, M ≈ 1 with shift 0, tiny M) and saturating biases")
    func extremeMultipliers() {
        var rng = SeededRNG(seed: groupedSeed("extreme multipliers"))
        for c in groupedConvCases.prefix(3) {
            let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            if let msg = checkGroupedConv(p, rng: &rng, extremeMultipliers: true) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }

    @Test("conv2d takes the pixel-lane kernel exactly for 1 < groups with O/groups < 8 and for dense K <= 32")
    func dispatch() {
        let q = OutputQuantization(zeroPoint: 0)
        func p(_ ic: Int, _ oc: Int, _ g: Int) -> Conv2DParams {
            Conv2DParams(inputHeight: 4, inputWidth: 4, inputChannels: ic, outputChannels: oc, kernelHeight: 3,
                         kernelWidth: 3, groups: g, inputZeroPoint: 0, output: q)
        }
        #expect(groupedConv2dApplies(p(18, 18, 3)))
        #expect(groupedConv2dApplies(p(16, 14, 2)))
        #expect(!groupedConv2dApplies(p(16, 16, 2)))          // 8 output channels per group: the GEMM
        #expect(!groupedConv2dApplies(p(6, 6, 1)))            // one group, 3x3: the GEMM
        func pointwise(_ ic: Int, _ oc: Int, _ g: Int) -> Conv2DParams {
            Conv2DParams(inputHeight: 4, inputWidth: 4, inputChannels: ic, outputChannels: oc, kernelHeight: 1,
                         kernelWidth: 1, groups: g, inputZeroPoint: 0, output: q)
        }
        #expect(groupedConv2dApplies(pointwise(groupedConv2dThinWeights, 96, 1).with(width: 8)))   // thin dense 1x1
        #expect(!groupedConv2dApplies(pointwise(groupedConv2dThinWeights, 96, 1).with(width: 7)))  // < one strip
        #expect(!groupedConv2dApplies(pointwise(groupedConv2dThinWeights + 1, 96, 1).with(width: 8)))
        #expect(groupedConv2dApplies(p(3, 32, 1).with(width: 224)))   // the RGB stem: K = 3·3·3 = 27
        #expect(!groupedConv2dApplies(LinearParams(inputFeatures: 16, outputFeatures: 96, inputZeroPoint: 0,
                                                   output: q).asConv))     // linear: one pixel, the GEMM
        #expect(!groupedConv2dApplies(pointwise(64, 64, 2)))   // 1x1 with 32 output channels per group: the GEMM
        // The SIMD128 chooser follows groupedConv2dApplies, and its variant names the sizes.
        typealias S = SIMD128Kernels
        #expect(S.chooseConv(p(18, 18, 3)) == .pixelLane && S.chooseConv(p(16, 16, 2)) == .tile)
        #expect(S.convPackedWeightBytes(p(18, 18, 3), .pixelLane) == groupedConv2dPackedWeightBytes(p(18, 18, 3)))
        #expect(S.convScratchBytes(p(18, 18, 3), .pixelLane) == groupedConv2dScratchBytes(p(18, 18, 3)))
        #expect(S.convPackedWeightBytes(p(16, 16, 2), .tile) == conv2dPackedWeightBytes(p(16, 16, 2)))
    }

    @Test("random shapes through conv2d (group sizes 1...7, strides 1...3, padding, dilation, odd widths)")
    func sweepThroughConv2d() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x6C0)
        for _ in 0..<(isDebugBuild ? 6 : 300) {
            let groups = rng.int(2...(isDebugBuild ? 4 : 12))
            let gIn = rng.int(1...8), gOut = rng.int(1...7)
            let kh = rng.int(1...4), kw = rng.int(1...4), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...10)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...(isDebugBuild ? 10 : 27))
            let p = Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: groups * gIn,
                                 outputChannels: groups * gOut, kernelHeight: kh, kernelWidth: kw,
                                 strideY: rng.int(1...3), strideX: rng.int(1...3), padding: pad, dilationY: dy,
                                 dilationX: dx, groups: groups, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            #expect(groupedConv2dApplies(p))
            if let msg = checkConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("groupedConv2d is exact on shapes it is not chosen for (one group, 8+ channels per group)")
    func sweepAnyShape() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x6C1)
        for _ in 0..<(isDebugBuild ? 4 : 100) {
            let groups = rng.int(1...3)
            let p = Conv2DParams(inputHeight: rng.int(3...8), inputWidth: rng.int(3...12),
                                 inputChannels: groups * rng.int(1...9), outputChannels: groups * rng.int(8...13),
                                 kernelHeight: 3, kernelWidth: 3, strideY: rng.int(1...2), strideX: rng.int(1...2),
                                 padding: ConvPadding(all: rng.int(0...1)), groups: groups,
                                 inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            if let msg = checkGroupedConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}
