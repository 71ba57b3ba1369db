// Cortex-M DSP kernel set == reference kernels, bit for bit. On the host the DSP wrappers are DynQIntrinsics'
// portable C models (the models themselves are checked against the instructions on an emulated Cortex-M4 by
// scripts/qemu-layers.sh), so these tests check the kernels' logic: tiling, im2col order, tails, padding,
// requantization. Every failure names the seed, the coordinate, both values and the accumulator.
import Testing
import DynQIntrinsics
@testable import DynQCore

private typealias DSP = CortexMDSPKernels

private func dspSeed(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x1_0000_0001_B3 }
    return testBaseSeed ^ 0xD5B ^ h
}

// MARK: - Runners

/// Runs the DSP conv (variant `v`, or the chooser's) and the reference on random data; a failure description or nil.
/// The chooser's variant (or `v`), and `.im2colWords` too when the chooser picks `.im2colStrip` (so the full
/// im2col stays covered on the layers the strip takes).
private func checkDSPConv(_ p: Conv2DParams, _ v: DSP.Variant? = nil, rng: inout SeededRNG) -> String? {
    let variant = v ?? DSP.chooseConv(p)
    if let msg = checkDSPConvVariant(p, variant, rng: &rng) { return msg }
    if v == nil && variant == .im2colStrip { return checkDSPConvVariant(p, .im2colWords, rng: &rng) }
    return nil
}

/// One variant against the reference, with exactly `convScratchBytes` of scratch followed by 64 guard bytes
/// that must stay untouched.
private func checkDSPConvVariant(_ p: Conv2DParams, _ variant: DSP.Variant, rng: inout SeededRNG) -> String? {
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputChannels, shifts: -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var dsp = [Int8](repeating: 99, count: p.outputCount)
    #expect(DSP.convPackedWeightBytes(p, variant) == 0)
    let scratchBytes = DSP.convScratchBytes(p, variant)
    var guardIntact = true
    bias.withOptionalPointer { b in
        conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(scratchBytes + 64) { s in
            input.withUnsafeBufferPointer { x in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                dsp.withUnsafeMutableBufferPointer { y in
                    DSP().conv2d(p, variant, .init(input: x.baseAddress!, weights: w.baseAddress!, bias: b,
                                                 multipliers: m.baseAddress!, output: y.baseAddress!, scratch: s))
                }
            } } }
            guardIntact = UnsafeRawBufferPointer(start: s + scratchBytes, count: 64).allSatisfy { $0 == 0xA5 }
        }
    }
    if !guardIntact { return "variant \(variant): wrote past its \(scratchBytes) scratch bytes, \(p)" }
    guard let msg = convMismatch(p, seed: rng.seed, input: input, weights: weights, bias: bias, multipliers: mults,
                                 reference: ref, simd: dsp) else { return nil }
    return "variant \(variant): " + msg.split(separator: "simd=", omittingEmptySubsequences: false).joined(separator: "dsp=")
}

private func checkDSPDepthwise(_ p: DepthwiseConv2DParams, rng: inout SeededRNG) -> String? {
    let v = DSP.chooseDepthwise(p)
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.channels, -(1 << 18)...(1 << 18))
    // Mostly fast-path shifts; one case in 4 mixes in e >= -1 (the general path) for some channels.
    let mixed = rng.int(0...3) == 0
    let mults = (0..<p.channels).map { _ in rng.multiplier(shifts: mixed && rng.int(0...2) == 0 ? -1...3 : -10 ... -2) }
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var dsp = [Int8](repeating: 99, count: p.outputCount)
    #expect(DSP.depthwisePackedWeightBytes(p, v) == 0)
    #expect(DSP.depthwiseScratchBytes(p, v) == (p.channels >= 4 ? 8 * p.taps : 0))
    bias.withOptionalPointer { b in
        depthwiseConv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        let bytes = DSP.depthwiseScratchBytes(p, v)
        withScratch(bytes) { s in
            input.withUnsafeBufferPointer { x in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                dsp.withUnsafeMutableBufferPointer { y in
                    DSP().depthwiseConv2d(p, v, .init(input: x.baseAddress!, weights: w.baseAddress!, bias: b,
                                                    multipliers: m.baseAddress!, output: y.baseAddress!,
                                                    scratch: bytes == 0 ? nil : s))
                }
            } } }
        }
    }
    guard let i = (0..<ref.count).first(where: { ref[$0] != dsp[$0] }) else { return nil }
    let c = i % p.channels, px = i / p.channels
    let oy = px / p.outputWidth, ox = px % p.outputWidth
    var acc = Int64(bias?[c] ?? 0)
    for ky in 0..<p.kernelHeight { for kx in 0..<p.kernelWidth {
        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY, ix = ox * p.strideX - p.padding.left + kx * p.dilationX
        guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
        acc += Int64(Int32(input[(iy * p.inputWidth + ix) * p.channels + c]) - p.inputZeroPoint)
            * Int64(weights[(ky * p.kernelWidth + kx) * p.channels + c])
    } }
    return "seed=\(rng.seed) \(p): at (y=\(oy), x=\(ox), c=\(c)) dsp=\(dsp[i]) reference=\(ref[i]) acc=\(acc) M=\(mults[c])"
}

private func checkDSPLinear(_ p: LinearParams, rng: inout SeededRNG) -> String? {
    let v = DSP.chooseLinear(p)
    let input = rng.int8s(p.inputFeatures)
    let weights = rng.int8s(p.inputFeatures * p.outputFeatures, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputFeatures, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputFeatures, shifts: rng.int(0...3) == 0 ? -14...2 : -14 ... -4)
    var ref = [Int8](repeating: 0, count: p.outputFeatures)
    var dsp = [Int8](repeating: 99, count: p.outputFeatures)
    #expect(DSP.linearPackedWeightBytes(p, v) == 0)
    bias.withOptionalPointer { b in
        linearReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        let bytes = DSP.linearScratchBytes(p, v)
        withScratch(bytes) { s in
            input.withUnsafeBufferPointer { x in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                dsp.withUnsafeMutableBufferPointer { y in
                    DSP().linear(p, v, .init(input: x.baseAddress!, weights: w.baseAddress!, bias: b,
                                           multipliers: m.baseAddress!, output: y.baseAddress!,
                                           scratch: bytes == 0 ? nil : s))
                }
            } } }
        }
    }
    guard let o = (0..<ref.count).first(where: { ref[$0] != dsp[$0] }) else { return nil }
    var acc = Int64(bias?[o] ?? 0)
    for i in 0..<p.inputFeatures {
        acc += Int64(Int32(input[i]) - p.inputZeroPoint) * Int64(weights[o * p.inputFeatures + i])
    }
    return "seed=\(rng.seed) \(p): at o=\(o) dsp=\(dsp[o]) reference=\(ref[o]) acc=\(acc) M=\(mults[o])"
}

// MARK: - Instruction models

@Suite("DynQIntrinsics' DSP wrappers on the host follow the instructions' definitions")
struct DSPIntrinsicModelTests {
    private static func lane(_ x: UInt32, _ top: Bool) -> Int64 {
        Int64(Int16(truncatingIfNeeded: top ? x >> 16 : x))
    }
    private static func byte(_ x: UInt32, _ i: UInt32) -> Int64 { Int64(Int8(truncatingIfNeeded: x >> (8 * i))) }

    @Test("the host build uses the portable models")
    func portable() {
        #expect(DSP.usesDSPInstructions == false)
    }

    @Test("worked examples: SMLAD wraps at 2^31, SXTAB16 wraps each lane, SMMULR rounds half up, SSAT clamps")
    func examples() {
        #expect(dynq_smlad(0x8000_8000, 0x8000_8000, 0) == Int32.min)              // 2 · 2^30 = 2^31 wraps
        #expect(dynq_smlad(0x0002_FFFF, 0x0003_0005, 10) == 10 - 5 + 6)
        #expect(dynq_sxtb16(0x80FF_7F01) == 0xFFFF_0001)                          // bytes 0, 2 → (1, −1)
        #expect(dynq_sxtb16_ror8(0x80FF_7F01) == 0xFF80_007F)                     // bytes 1, 3 → (127, −128)
        #expect(dynq_sxtab16(0x7FFF_0001, 0x0001_00FF) == 0x8000_0000)            // 1 + (−1) = 0; 32767 + 1 wraps
        #expect(dynq_smlabt(0x0000_0003, 0xFFFE_0000, 1) == 1 - 6)
        #expect(dynq_smlatb(0xFFFE_0000, 0x0000_0003, 1) == 1 - 6)
        #expect(dynq_smmul(Int32.min, Int32.min) == 1 << 30)
        #expect(dynq_smmul(-1, 1) == -1)                                          // ⌊−1/2^32⌋
        #expect(dynq_smmulr(1 << 30, 2) == 1)                                     // 2^31/2^32 = ½ → 1
        #expect(dynq_smmulr(-(1 << 30), 2) == 0)                                  // −½ → 0 (half up)
        #expect(dynq_ssat8(200) == 127 && dynq_ssat8(-129) == -128 && dynq_ssat8(-5) == -5)
        #expect(dynq_qadd(Int32.max, 1) == Int32.max && dynq_qadd(Int32.min, -1) == Int32.min)
        #expect(dynq_asr(-7, 1) == -4)
        #expect(dynq_pkhbt16(0x1111_2222, 0x3333_4444) == 0x4444_2222)
        #expect(dynq_pkhtb16(0x1111_2222, 0x3333_4444) == 0x1111_3333)
    }

    @Test("random operands: every wrapper equals its definition computed in Int64")
    func random() {
        var rng = SeededRNG(seed: dspSeed("intrinsics"))
        for _ in 0..<(isDebugBuild ? 2_000 : 50_000) {
            let a = UInt32(truncatingIfNeeded: rng.next()), b = UInt32(truncatingIfNeeded: rng.next())
            let c = Int32(truncatingIfNeeded: rng.next())
            func wrap(_ v: Int64) -> Int32 { Int32(truncatingIfNeeded: v) }
            func lanes(_ lo: Int64, _ hi: Int64) -> UInt32 {
                UInt32(UInt16(truncatingIfNeeded: lo)) | UInt32(UInt16(truncatingIfNeeded: hi)) << 16
            }
            let l = Self.lane, y = Self.byte
            #expect(dynq_smlad(a, b, c) == wrap(Int64(c) + l(a, false) * l(b, false) + l(a, true) * l(b, true)))
            #expect(dynq_smlabb(a, b, c) == wrap(Int64(c) + l(a, false) * l(b, false)))
            #expect(dynq_smlabt(a, b, c) == wrap(Int64(c) + l(a, false) * l(b, true)))
            #expect(dynq_smlatb(a, b, c) == wrap(Int64(c) + l(a, true) * l(b, false)))
            #expect(dynq_smlatt(a, b, c) == wrap(Int64(c) + l(a, true) * l(b, true)))
            #expect(dynq_sxtb16(a) == lanes(y(a, 0), y(a, 2)))
            #expect(dynq_sxtb16_ror8(a) == lanes(y(a, 1), y(a, 3)))
            #expect(dynq_sxtab16(b, a) == lanes(l(b, false) + y(a, 0), l(b, true) + y(a, 2)))
            #expect(dynq_sxtab16_ror8(b, a) == lanes(l(b, false) + y(a, 1), l(b, true) + y(a, 3)))
            let p = Int64(Int32(bitPattern: a)) * Int64(Int32(bitPattern: b))
            #expect(dynq_smmul(Int32(bitPattern: a), Int32(bitPattern: b)) == wrap(p >> 32))
            #expect(dynq_smmulr(Int32(bitPattern: a), Int32(bitPattern: b)) == wrap((p + (1 << 31)) >> 32))
            #expect(dynq_asr(Int32(bitPattern: a), b & 31) == Int32(bitPattern: a) >> Int32(b & 31))
            #expect(dynq_lsl(a, b & 31) == a << (b & 31))
            let s = Int64(Int32(bitPattern: a)) + Int64(c)
            #expect(dynq_qadd(Int32(bitPattern: a), c) == Int32(clamping: s))
        }
    }
}

// MARK: - Requantization

@Suite("DSP requantization equals OutputQuantization.requantize")
struct DSPRequantizeTests {
    @Test("every shift e in [-31, 30], extreme and random accumulators, every output range")
    func everyShift() {
        var rng = SeededRNG(seed: dspSeed("requantize"))
        let outputs = [OutputQuantization(zeroPoint: 0), OutputQuantization(zeroPoint: -128, activationMin: -128),
                       OutputQuantization(zeroPoint: 127), OutputQuantization(zeroPoint: -128, activationMin: -128,
                                                                               activationMax: -128),
                       OutputQuantization(zeroPoint: 5, activationMin: -20, activationMax: 30)]
        var fast = 0
        for e in Int32(-31)...30 {
            for m in [Int32(1 << 30), Int32.max, Int32(1 << 30) + 1, Int32.random(in: (1 << 30)...Int32.max, using: &rng)] {
                let q = QuantizedMultiplier(multiplier: m, shift: e)
                var xs: [Int32] = [Int32.min, Int32.min + 1, -1, 0, 1, Int32.max, Int32.max - 1]
                for _ in 0..<(isDebugBuild ? 50 : 1000) {
                    xs.append(Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(32...63))))
                }
                // Around the rounding ties of this (m, e): x·m ≈ (j + ½)·2^n.
                if e <= -2 {
                    let n = 31 - Int64(e)
                    for j in Int64(-3)...3 {
                        let x0 = ((2 * j + 1) << (n - 1)) / Int64(m)
                        for d in Int64(-2)...2 where x0 + d >= Int64(Int32.min) && x0 + d <= Int64(Int32.max) {
                            xs.append(Int32(x0 + d))
                        }
                    }
                }
                for o in outputs {
                    let r = DSPRequantizer(o)
                    let c = r.channel(q)
                    #expect(c.fast == (e <= -2 && e >= -23))
                    var i = 0
                    while i + 4 <= xs.count {
                        let want = (0..<4).map { o.requantize(xs[i + $0], q) }
                        let single = (0..<4).map { r.apply(xs[i + $0], q) }
                        let four = r.apply4(xs[i], q, xs[i + 1], q, xs[i + 2], q, xs[i + 3], q)
                        var packed: UInt32? = nil
                        if c.fast {
                            packed = r.pack4(r.fast(xs[i], c), r.fast(xs[i + 1], c), r.fast(xs[i + 2], c), r.fast(xs[i + 3], c))
                            fast += 4
                        }
                        for l in 0..<4 {
                            let byte = { (w: UInt32) in Int8(truncatingIfNeeded: w >> (8 * UInt32(l))) }
                            if single[l] != want[l] || byte(four) != want[l] || packed.map(byte) ?? want[l] != want[l] {
                                Issue.record("x=\(xs[i + l]) M=\(q) z=\(o.zeroPoint) [\(o.activationMin),\(o.activationMax)]: apply=\(single[l]) apply4=\(byte(four)) fast=\(packed.map(byte).map { "\($0)" } ?? "-") reference=\(want[l])")
                                return
                            }
                        }
                        i += 4
                    }
                }
            }
        }
        #expect(DSPRequantizer(OutputQuantization(zeroPoint: 3)).apply(12345, .zero) == 3)       // M = 0
        #expect(fast > 1000)
    }

    @Test("pack4 saturates each lane to int8, then clamps each byte to the activation range")
    func pack4() {
        let r = DSPRequantizer(OutputQuantization(zeroPoint: 0, activationMin: -20, activationMax: 30))
        #expect(r.pack4(-1000, 5, 31, Int32.max) == UInt32(bitPattern: Int32(0x1E1E_05EC)))   // (-20, 5, 30, 30)
        let full = DSPRequantizer(OutputQuantization(zeroPoint: -128))
        #expect(full.pack4(Int32.min, -128, 127, 200) == 0x7F7F_8080)
    }
}

// MARK: - Conv

@Suite("Cortex-M DSP conv2d equals the reference conv bit for bit")
struct DSPConvTests {
    @Test("the chooser names the variant for each layer kind")
    func chooser() {
        let o = OutputQuantization(zeroPoint: 0)
        func p(_ ic: Int, _ k: Int, stride: Int = 1, pad: Int = 0, groups: Int = 1) -> Conv2DParams {
            Conv2DParams(inputHeight: 8, inputWidth: 8, inputChannels: ic, outputChannels: 8 * groups, kernelHeight: k,
                         kernelWidth: k, strideY: stride, strideX: stride, padding: ConvPadding(all: pad),
                         groups: groups, inputZeroPoint: 0, output: o)
        }
        #expect(DSP.chooseConv(p(32, 1)) == .pointwise)
        #expect(DSP.chooseConv(p(32, 1, stride: 2)) == .im2colWords)
        #expect(DSP.chooseConv(p(32, 1, pad: 1)) == .im2colWords)
        #expect(DSP.chooseConv(p(18, 1)) == .im2colElements)
        #expect(DSP.chooseConv(p(32, 3, pad: 1)) == .im2colStrip)                    // output 8 wide: pairs
        #expect(DSP.chooseConv(p(16, 3, pad: 1)) == .im2colWords)                    // 16 channels: no strip
        #expect(DSP.chooseConv(p(1, 3, pad: 1)) == .im2colElements)                  // the stem
        #expect(DSP.chooseConv(p(128, 3, groups: 4)) == .im2colStrip)                // 32 channels per group
        #expect(DSP.chooseConv(p(16, 3, groups: 4)) == .im2colWords)                 // 4 channels per group
        #expect(DSP.chooseConv(p(16, 3, groups: 8)) == .im2colElements)              // 2 channels per group
        #expect(DSP.chooseConv(p(32, 2)) == .im2colWords)                            // output 7 wide: odd
        #expect(DSP.chooseConv(p(32, 3, stride: 2)) == .im2colWords)                 // stride 2 across
        #expect(DSP.convScratchBytes(p(32, 3), .im2colWords) == 1152)               // 2 pixels × 288 int16
        // The fixture's peak layer, 3×3 32 → 32 @14×14: 3 kernel rows × 4 columns × 32 int16.
        let peak = Conv2DParams(inputHeight: 14, inputWidth: 14, inputChannels: 32, outputChannels: 32,
                                kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: -128,
                                output: o)
        #expect(DSP.chooseConv(peak) == .im2colStrip)
        #expect(DSP.convScratchBytes(peak, .im2colStrip) == 768)
        #expect(!DSP.convVariantApplies(.pointwise, p(32, 3)))
        #expect(!DSP.convVariantApplies(.im2colWords, p(18, 3)))
        #expect(!DSP.convVariantApplies(.im2colStrip, p(18, 3)))
    }

    @Test("on every case of the SIMD table and zero-point kind, with the chooser's variant and with .im2colElements",
          arguments: convCases, zeroPointKinds)
    func matchesReference(c: ConvCase, zKind: String) {
        var rng = SeededRNG(seed: dspSeed(c.name + zKind))
        for round in 0..<4 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            let v: DSP.Variant? = round % 2 == 0 ? nil : .im2colElements
            if let msg = checkDSPConv(p, v, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("the issue's layer shapes: 3x3 16→32 and 32→32 pad 1, 1x1 32→48 and 16→32, the 1-channel stem",
          arguments: [(14, 16, 32, 3, 1), (14, 32, 32, 3, 1), (7, 32, 48, 1, 0), (14, 16, 32, 1, 0), (28, 1, 16, 3, 1)])
    func issueShapes(h: Int, ic: Int, oc: Int, k: Int, pad: Int) {
        var rng = SeededRNG(seed: dspSeed("issue \(h) \(ic) \(oc) \(k)"))
        let p = Conv2DParams(inputHeight: h, inputWidth: h, inputChannels: ic, outputChannels: oc, kernelHeight: k,
                             kernelWidth: k, padding: ConvPadding(all: pad), inputZeroPoint: -128,
                             output: OutputQuantization(zeroPoint: -128, activationMin: -128))
        if let msg = checkDSPConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)) }
    }

    @Test("K mod 4 in 1...3 and odd pixel / channel counts, every variant that applies")
    func tails() {
        var rng = SeededRNG(seed: dspSeed("tails"))
        for ic in [1, 2, 3, 4, 5, 7, 8, 12] {
            for (k, oc) in [(1, 1), (1, 3), (3, 2), (2, 5)] {
                let p = Conv2DParams(inputHeight: 3, inputWidth: 5, inputChannels: ic, outputChannels: oc,
                                     kernelHeight: k, kernelWidth: k, padding: ConvPadding(all: k / 2),
                                     inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
                for v in [DSP.Variant.pointwise, .im2colWords, .im2colStrip, .im2colElements]
                    where DSP.convVariantApplies(v, p) {
                    if let msg = checkDSPConv(p, v, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
                }
            }
        }
    }

    @Test("multipliers with e >= -1 (the general requantization path) in some channels")
    func generalRequantization() {
        var rng = SeededRNG(seed: dspSeed("general-rq"))
        let p = Conv2DParams(inputHeight: 5, inputWidth: 5, inputChannels: 8, outputChannels: 7, kernelHeight: 3,
                             kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: 17,
                             output: OutputQuantization(zeroPoint: -3))
        let input = rng.int8s(p.inputCount), weights = rng.int8s(p.weightCount, -127...127)
        let mults = (0..<7).map { i in rng.multiplier(shifts: i % 3 == 0 ? -1...3 : -14 ... -6) }
        var ref = [Int8](repeating: 0, count: p.outputCount), dsp = ref
        conv2dReference(p, input: input, weights: weights, bias: nil, multipliers: mults, output: &ref)
        withScratch(DSP.convScratchBytes(p, .im2colWords)) { s in
            input.withUnsafeBufferPointer { x in weights.withUnsafeBytes { w in mults.withUnsafeBufferPointer { m in
                dsp.withUnsafeMutableBufferPointer { y in
                    DSP().conv2d(p, .im2colWords, .init(input: x.baseAddress!, weights: w.baseAddress!, bias: nil,
                                                      multipliers: m.baseAddress!, output: y.baseAddress!, scratch: s))
                }
            } } }
        }
        #expect(ref == dsp)
    }

    @Test("im2colStrip on random shapes with 32 channels per group (windows, padding, stride and dilation down, groups, odd channel counts), and im2colWords on the same")
    func stripShapes() {
        var rng = SeededRNG(seed: dspSeed("strip"))
        var strips = 0
        for _ in 0..<(isDebugBuild ? 6 : 80) {
            let groups = rng.int(1...2), kh = rng.int(1...3), kw = rng.int(2...4), dy = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...6)
            let w = rng.int(max(1, kw - pad.left - pad.right)...9)
            let p = Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: 32 * groups,
                                 outputChannels: groups * rng.int(1...5), kernelHeight: kh, kernelWidth: kw,
                                 strideY: rng.int(1...2), padding: pad, dilationY: dy, groups: groups,
                                 inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            guard p.outputHeight > 0, p.outputWidth > 0, DSP.convVariantApplies(.im2colStrip, p) else { continue }
            #expect(DSP.chooseConv(p) == .im2colStrip)
            strips += 1
            if let msg = checkDSPConv(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
        #expect(strips >= (isDebugBuild ? 1 : 20))
    }

    @Test("random conv shapes (groups, strides, padding, dilation, zero points, clamps, nil bias)")
    func randomShapes() {
        var rng = SeededRNG(seed: dspSeed("random conv"))
        for _ in 0..<(isDebugBuild ? 8 : 400) {
            let groups = [1, 1, 1, 2, 3, 4][rng.int(0...5)]
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
            let v: DSP.Variant? = rng.int(0...2) == 0 ? .im2colElements : nil
            if let msg = checkDSPConv(p, v, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

// MARK: - Depthwise and linear

@Suite("Cortex-M DSP depthwiseConv2d equals depthwiseConv2dReference bit for bit")
struct DSPDepthwiseTests {
    @Test("on every case of the SIMD table and zero-point kind", arguments: depthwiseCases, zeroPointKinds)
    func matchesReference(c: DepthwiseCase, zKind: String) {
        var rng = SeededRNG(seed: dspSeed(c.name + zKind))
        for _ in 0..<4 {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkDSPDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("the issue's depthwise shapes: 3x3 pad 1, 32 ch @14 stride 2 and 1, 16 ch @28 s2, 48 ch @7",
          arguments: [(14, 32, 2), (14, 32, 1), (28, 16, 2), (7, 48, 1)])
    func issueShapes(h: Int, c: Int, stride: Int) {
        var rng = SeededRNG(seed: dspSeed("dw issue \(h) \(c) \(stride)"))
        let p = DepthwiseConv2DParams(inputHeight: h, inputWidth: h, channels: c, kernelHeight: 3, kernelWidth: 3,
                                      strideY: stride, strideX: stride, padding: ConvPadding(all: 1),
                                      inputZeroPoint: -128, output: OutputQuantization(zeroPoint: -128))
        if let msg = checkDSPDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)) }
    }

    @Test("random depthwise shapes (channels % 4 in 0...3, windows, strides, padding, dilation)")
    func randomShapes() {
        var rng = SeededRNG(seed: dspSeed("random dw"))
        for _ in 0..<(isDebugBuild ? 8 : 400) {
            let kh = rng.int(1...5), kw = rng.int(1...5), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = ConvPadding(top: rng.int(0...3), left: rng.int(0...3), bottom: rng.int(0...3), right: rng.int(0...3))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...10)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...10)
            let p = DepthwiseConv2DParams(inputHeight: h, inputWidth: w, channels: rng.int(1...(isDebugBuild ? 20 : 70)),
                                          kernelHeight: kh, kernelWidth: kw, strideY: rng.int(1...3),
                                          strideX: rng.int(1...3), padding: pad, dilationY: dy, dilationX: dx,
                                          inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            if let msg = checkDSPDepthwise(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

@Suite("Cortex-M DSP linear equals linearReference bit for bit")
struct DSPLinearTests {
    @Test("F mod 4 in 0...3, F < 4, odd O, the fixture's FC shapes", arguments: [
        (1, 1), (3, 2), (4, 1), (5, 3), (7, 9), (16, 16), (16, 192), (32, 16), (48, 10), (48, 16), (100, 3), (257, 17),
    ])
    func shapes(f: Int, o: Int) {
        var rng = SeededRNG(seed: dspSeed("linear \(f) \(o)"))
        for z in zeroPointKinds {
            let p = LinearParams(inputFeatures: f, outputFeatures: o, inputZeroPoint: zeroPoint(ofKind: z, &rng),
                                 output: rng.outputQuantization())
            if let msg = checkDSPLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("random linear shapes")
    func randomShapes() {
        var rng = SeededRNG(seed: dspSeed("random linear"))
        for _ in 0..<(isDebugBuild ? 10 : 400) {
            let p = rng.randomLinearParams()
            if let msg = checkDSPLinear(p, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

// MARK: - Fusion and add

@Suite("Cortex-M DSP fusion equals dynamicFusionReference, written in the layout the DSP conv reads")
struct DSPFusionTests {
    private static func check(_ f: DynamicFusionParams, rng: inout SeededRNG) -> String? {
        let g = f.kernelCount, o = f.outputChannels
        let kernels = rng.int8s(g * f.kernelElements, -127...127)
        var eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
        if rng.int(0...3) == 0 { for i in eta.indices where rng.int(0...2) == 0 { eta[i] = 0 } }   // all-zero channels
        let mixed: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(g * o, -(1 << 24)...(1 << 24))
        let stat: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(o, -(1 << 20)...(1 << 20))
        let m0 = rng.multipliers(o, shifts: -20 ... -2)
        var refK = [Int8](repeating: 0, count: f.kernelElements), refB = [Int32](repeating: 0, count: o)
        var refM = [QuantizedMultiplier](repeating: .zero, count: o)
        var dspK = [Int8](repeating: 99, count: f.kernelElements), dspB = [Int32](repeating: 7, count: o)
        var dspM = [QuantizedMultiplier](repeating: .zero, count: o)
        mixed.withOptionalPointer { mb in stat.withOptionalPointer { sb in
            dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mb, staticBias: sb,
                                   staticMultipliers: m0, fusedKernel: &refK, biasAccumulator: &refB, multipliers: &refM)
            let scratchBytes = f.layout == .outputMajor ? 4 * f.elementsPerChannel : 4 * f.elementsPerChannel
            withScratch(scratchBytes) { s in
                kernels.withUnsafeBufferPointer { k in eta.withUnsafeBufferPointer { e in m0.withUnsafeBufferPointer { m in
                    dspK.withUnsafeMutableBytes { fk in dspB.withUnsafeMutableBufferPointer { fb in
                        dspM.withUnsafeMutableBufferPointer { fm in
                            let a = FusionArguments(
                                kernels: k.baseAddress!, coefficients: e.baseAddress!, mixedBias: mb, staticBias: sb,
                                staticMultipliers: m.baseAddress!, fusedWeights: fk.baseAddress!,
                                fusedBias: fb.baseAddress!, fusedMultipliers: fm.baseAddress!, scratch: s)
                            if f.layout == .outputMajor {
                                let conv = Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: f.elementsPerChannel,
                                                        outputChannels: o, kernelHeight: 1, kernelWidth: 1,
                                                        inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
                                let v = DSP.chooseConv(conv)
                                #expect(DSP.fusedConvWeightBytes(f, conv, v) == f.kernelElements)
                                #expect(DSP.convFusionScratchBytes(f, conv, v) <= scratchBytes)
                                DSP().fuseConv(f, conv, v, a)
                            } else {
                                let dw = DepthwiseConv2DParams(inputHeight: 1, inputWidth: 1, channels: o,
                                                               kernelHeight: 1, kernelWidth: f.elementsPerChannel,
                                                               inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
                                let v = DSP.chooseDepthwise(dw)
                                #expect(DSP.fusedDepthwiseWeightBytes(f, dw, v) == f.kernelElements)
                                #expect(DSP.depthwiseFusionScratchBytes(f, dw, v) <= scratchBytes)
                                DSP().fuseDepthwise(f, dw, v, a)
                            }
                        }
                    } }
                } } }
            }
        } }
        if let i = (0..<refK.count).first(where: { refK[$0] != dspK[$0] }) {
            return "seed=\(rng.seed) \(f): fused kernel element \(i): dsp=\(dspK[i]) reference=\(refK[i])"
        }
        if let c = (0..<o).first(where: { refB[$0] != dspB[$0] || refM[$0] != dspM[$0] }) {
            return "seed=\(rng.seed) \(f): channel \(c): bias dsp=\(dspB[c]) reference=\(refB[c]), multiplier dsp=\(dspM[c]) reference=\(refM[c])"
        }
        return nil
    }

    @Test("the 32-bit-divide per-channel math equals fusionReciprocal, scaledByFusionReciprocal and UInt64 division")
    func channelMath() {
        var rng = SeededRNG(seed: dspSeed("fusion math"))
        // 64/32 division, u1 < v: every divisor bit length, edges of the normalization.
        for _ in 0..<(isDebugBuild ? 20_000 : 400_000) {
            let v = UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(32...63))) | 1
            let u1 = UInt32(truncatingIfNeeded: rng.next()) % v, u0 = UInt32(truncatingIfNeeded: rng.next())
            let n = UInt64(u1) << 32 | UInt64(u0)
            let got = dspDivide64by32(u1, u0, v)
            if UInt64(got.quotient) != n / UInt64(v) || UInt64(got.remainder) != n % UInt64(v) {
                Issue.record("\(u1):\(u0) / \(v): \(got) vs \(n / UInt64(v)), \(n % UInt64(v))"); return
            }
        }
        for (u1, u0, v): (UInt32, UInt32, UInt32) in [(0, 0, 1), (0, UInt32.max, 1), (UInt32.max - 1, UInt32.max, UInt32.max),
                                                      (0x7FFF_FFFF, UInt32.max, 0x8000_0000), (127, 0, 128), (0, 5, 0xFFFF),
                                                      (0xFFFE, UInt32.max, 0xFFFF), (0x8000, 0, 0x8001)] {
            let n = UInt64(u1) << 32 | UInt64(u0), got = dspDivide64by32(u1, u0, v)
            #expect(UInt64(got.quotient) == n / UInt64(v) && UInt64(got.remainder) == n % UInt64(v), "\(u1):\(u0) / \(v)")
        }
        // The fused value: signed SMLAL form against fusedKernelValue, around the rounding ties.
        for _ in 0..<(isDebugBuild ? 20_000 : 400_000) {
            let a = Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(33...63))) & Int32.max
            let r = fusionReciprocal(a), f = Int32(rng.int(-Int(a)...Int(a)))
            let got = dspFusedValue(f, Int32(bitPattern: r), Int32(bitPattern: r) >> 31)
            if got != fusedKernelValue(f, reciprocal: r) { Issue.record("F=\(f) R=\(r): \(got) vs \(fusedKernelValue(f, reciprocal: r))"); return }
        }
        for r: UInt32 in [UInt32.max, 1 << 31, (1 << 31) - 1, 1 << 30, 3 << 29, 254] {
            for f in [Int32(0), 1, -1, 2, -2, 127, -127, 128, -128, Int32.max, Int32.min + 1] {
                #expect(dspFusedValue(f, Int32(bitPattern: r), Int32(bitPattern: r) >> 31) == fusedKernelValue(f, reciprocal: r), "F=\(f) R=\(r)")
            }
        }
        // R for every A class, and the multipliers scaled by it.
        var aValues: [Int32] = [0, 1, 127, 128, 129, 255, 256, 32767, 32768, 65535, 65536, Int32.max - 1, Int32.max]
        for b in 7..<31 { aValues += [Int32(1) << b, (Int32(1) << b) - 1, (Int32(1) << b) + 1] }
        for _ in 0..<(isDebugBuild ? 2_000 : 50_000) { aValues.append(Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(33...63)))) }
        for a in aValues where a >= 0 {
            let r = dspFusionReciprocal(a)
            if r != fusionReciprocal(a) { Issue.record("A=\(a): \(r) vs \(fusionReciprocal(a))"); return }
            for q in [QuantizedMultiplier.zero, QuantizedMultiplier(multiplier: 1 << 30, shift: -31),
                      QuantizedMultiplier(multiplier: Int32.max, shift: 30), QuantizedMultiplier(multiplier: Int32.max, shift: -5),
                      rng.multiplier(shifts: -31...30)] {
                let want = q.scaledByFusionReciprocal(r), got = dspScaledByFusionReciprocal(q, r)
                if got != want { Issue.record("M0=\(q) R=\(r): \(got) vs \(want)"); return }
            }
        }
        for r in [UInt32(1), 2, 3, 254, 255, UInt32(1) << 31, UInt32.max - 1, UInt32.max] {
            for q in [QuantizedMultiplier(multiplier: 1 << 30, shift: 0), QuantizedMultiplier(multiplier: Int32.max, shift: -31),
                      QuantizedMultiplier(multiplier: 1_431_655_765, shift: 7)] {
                #expect(dspScaledByFusionReciprocal(q, r) == q.scaledByFusionReciprocal(r), "M0=\(q) R=\(r)")
            }
        }
    }

    @Test("random g, O, K (K mod 4 in 0...3), both layouts, both coefficient modes, nil biases")
    func random() {
        var rng = SeededRNG(seed: dspSeed("fusion"))
        for round in 0..<(isDebugBuild ? 20 : 300) {
            let layout: FusionWeightLayout = round % 2 == 0 ? .outputMajor : .channelsLast
            let f = DynamicFusionParams(kernelCount: rng.int(1...6), outputChannels: rng.int(1...20),
                                        elementsPerChannel: rng.int(1...(layout == .outputMajor ? 80 : 25)),
                                        layout: layout, coefficients: rng.int(0...1) == 0 ? .perChannel : .perLayer)
            if let msg = Self.check(f, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }

    @Test("the fixture's dynamic layers: g = 4, per channel; 3x3x32 conv, 1x1 16→32, depthwise 3x3 x 32")
    func fixtureShapes() {
        var rng = SeededRNG(seed: dspSeed("fusion fixture"))
        for f in [DynamicFusionParams(kernelCount: 4, outputChannels: 32, elementsPerChannel: 288, coefficients: .perChannel),
                  DynamicFusionParams(kernelCount: 4, outputChannels: 32, elementsPerChannel: 16, coefficients: .perChannel),
                  DynamicFusionParams(kernelCount: 4, outputChannels: 32, elementsPerChannel: 9, layout: .channelsLast,
                                      coefficients: .perChannel)] {
            if let msg = Self.check(f, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

@Suite("Cortex-M DSP add equals addReference bit for bit")
struct DSPAddTests {
    @Test("random and extreme operands; input shifts on the SMMUL path, the shifted-SMMUL path (-1...1) and off it",
          arguments: [1, 3, 8, 9, 64, 1001])
    func matchesReference(count: Int) {
        var rng = SeededRNG(seed: dspSeed("add \(count)"))
        for round in 0..<(isDebugBuild ? 20 : 400) {
            let extreme = round % 5 == 0
            let a: [Int8] = extreme ? (0..<count).map { _ in rng.int(0...1) == 0 ? -128 : 127 } : rng.int8s(count)
            let b: [Int8] = extreme ? (0..<count).map { _ in rng.int(0...1) == 0 ? -128 : 127 } : rng.int8s(count)
            let shifts: ClosedRange<Int32> = round % 7 == 0 ? 2...6 : (round % 3 == 0 ? -1...1 : -20 ... -2)
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: rng.multiplier(shifts: shifts),
                              input2ZeroPoint: rng.zeroPoint(),
                              input2Multiplier: round % 11 == 0 ? .zero : rng.multiplier(shifts: -20...1),
                              outputMultiplier: rng.multiplier(shifts: round % 13 == 0 ? -1...4 : -31 ... -2),
                              output: rng.outputQuantization())
            var ref = [Int8](repeating: 0, count: count), dsp = [Int8](repeating: 99, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            DSP().add(p, count: count, a, b, output: &dsp)
            if let i = (0..<count).first(where: { ref[$0] != dsp[$0] }) {
                Issue.record(Comment(rawValue: "seed=\(rng.seed) \(p): at \(i) a=\(a[i]) b=\(b[i]) dsp=\(dsp[i]) reference=\(ref[i])"))
                return
            }
        }
    }
}

@Suite("Cortex-M DSP global average pool equals globalAveragePoolReference bit for bit")
struct DSPPoolTests {
    @Test("H·W above and below the 128-pixel lane flush, channels % 4 in 0...3, zero points, multipliers, clamps")
    func matchesReference() {
        var rng = SeededRNG(seed: dspSeed("gap"))
        for round in 0..<(isDebugBuild ? 20 : 300) {
            let h = rng.int(1...(round % 5 == 0 ? 40 : 12)), w = rng.int(1...(round % 5 == 0 ? 40 : 12))
            let c = rng.int(1...(isDebugBuild ? 12 : 50))
            let extreme = round % 7 == 0
            let input: [Int8] = extreme ? (0..<(h * w * c)).map { _ in rng.int(0...1) == 0 ? -128 : 127 }
                                        : rng.int8s(h * w * c)
            let p = GlobalAveragePoolParams(height: h, width: w, channels: c, inputZeroPoint: rng.zeroPoint(),
                                            multiplier: rng.multiplier(shifts: round % 6 == 0 ? -2...3 : -30 ... -2),
                                            output: rng.outputQuantization())
            var ref = [Int8](repeating: 0, count: c), dsp = [Int8](repeating: 99, count: c)
            globalAveragePoolReference(p, input: input, output: &ref)
            DSP().globalAveragePool(p, input: input, output: &dsp)
            if let i = (0..<c).first(where: { ref[$0] != dsp[$0] }) {
                Issue.record(Comment(rawValue: "seed=\(rng.seed) \(p): channel \(i) dsp=\(dsp[i]) reference=\(ref[i])"))
                return
            }
        }
    }
}
