// The NEON kernel set (Kernels/NEON/) equals the reference kernels bit for bit, with both dot steps (SMLAL and SDOT),
// on randomized shapes and contents. On a host without NEON the DynQIntrinsics wrappers are their C models, so these
// tests check the algorithm (raw-int8 products, the zero-point term folded into the bias, the SRSHL requantization)
// and the models; scripts/qemu-a53-run.sh checks the instructions themselves on an emulated Cortex-A53.
// Every failure names the seed, the coordinate, both values and the accumulator.
import Testing
@testable import DynQCore

private func neonSeed(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325        // FNV-1a of the case name: stable per case
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x1_0000_0001_B3 }
    return testBaseSeed ^ 0x4E45_4F4E ^ h
}

/// The tile variants a host test runs: both dot steps, whatever the build chooses.
let neonTileVariants: [NEONKernels.Variant] = [.tileSMLAL, .tileSDOT]
/// The conv variants a host test runs on every shape: both tiles and the thin-K tile, whatever the chooser picks.
let neonConvVariants: [NEONKernels.Variant] = [.tileSMLAL, .tileSDOT, .thin]

/// The variant a test runs for `p`: the chooser's SIMD128 fallback where it takes one, else the tile `v`; the thin
/// variant runs every shape (any K, groups and channel counts), whether the chooser would pick it or not.
func neonVariant(_ p: Conv2DParams, _ v: NEONKernels.Variant) -> NEONKernels.Variant {
    if v == .thin { return v }
    if case .simd128 = NEONKernels.chooseConv(p) { return NEONKernels.chooseConv(p) }
    return v
}

/// Runs `conv2dReference` and NEON `conv2d` with variant `v` on the given data; a failure description or nil.
func checkNEONConv(_ p: Conv2DParams, _ v: NEONKernels.Variant, input: [Int8], weights: [Int8], bias: [Int32]?,
                   multipliers mults: [QuantizedMultiplier], seed: UInt64) -> String? {
    var ref = [Int8](repeating: 0, count: p.outputCount)
    var got = [Int8](repeating: 99, count: p.outputCount)
    bias.withOptionalPointer { b in
        conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
        withScratch(NEONKernels.convPackedWeightBytes(p, v)) { packed in
            NEONKernels.packConvWeights(p, v, weights: weights, into: packed)
            withScratch(NEONKernels.convScratchBytes(p, v)) { s in
                NEONKernels().conv2d(p, v, ConvArguments(input: input, weights: packed, bias: b, multipliers: mults,
                                                         output: &got, scratch: s))
            }
        }
    }
    if let msg = convMismatch(p, seed: seed, input: input, weights: weights, bias: bias, multipliers: mults,
                              reference: ref, simd: got) {
        return "NEON \(v): " + msg
    }
    return nil
}

/// Random contents for `p` (bias nil one time in four), then `checkNEONConv`.
func checkNEONConv(_ p: Conv2DParams, _ v: NEONKernels.Variant, rng: inout SeededRNG) -> String? {
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, -127...127)
    let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputChannels, shifts: -14 ... -4)
    return checkNEONConv(p, v, input: input, weights: weights, bias: bias, multipliers: mults, seed: rng.seed)
}

/// Shapes that exercise the NEON tile's own edges (the shared `convCases` run as well).
let neonConvCases: [ConvCase] = [
    ConvCase(name: "K % 16 == 0 (3x3x16), O % 4 == 0", h: 5, w: 5, ic: 16, oc: 8, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    ConvCase(name: "K % 16 == 8 (1x1x24): rows copied, half a chunk of zero weights", h: 4, w: 5, ic: 24, oc: 12, kh: 1, kw: 1),
    ConvCase(name: "K % 16 == 15 (1x1x31)", h: 3, w: 3, ic: 31, oc: 5, kh: 1, kw: 1),
    ConvCase(name: "1x1, channels % 16 == 0: rows read in place", h: 5, w: 3, ic: 32, oc: 7, kh: 1, kw: 1),
    ConvCase(name: "1x1 stride == 2, channels % 16 == 0: rows read in place, strided", h: 7, w: 6, ic: 16, oc: 9,
             kh: 1, kw: 1, sy: 2, sx: 2),
    ConvCase(name: "1x1 with padding, channels % 16 == 0: rows copied (padding holds z_in)", h: 3, w: 4, ic: 16, oc: 6,
             kh: 1, kw: 1, pad: ConvPadding(top: 1, left: 0, bottom: 0, right: 1)),
    ConvCase(name: "groups == 2, group slice % 16 == 0, 1x1: grouped rows in place", h: 4, w: 4, ic: 32, oc: 10,
             kh: 1, kw: 1, groups: 2),
    ConvCase(name: "groups == 3, O/groups == 5 (channel tail per group)", h: 5, w: 4, ic: 6, oc: 15, kh: 3, kw: 3,
             pad: ConvPadding(all: 1), groups: 3),
    ConvCase(name: "groups == 4, O/groups == 2 < 4: the 128-bit SIMD variant", h: 5, w: 5, ic: 8, oc: 8, kh: 3, kw: 3,
             pad: ConvPadding(all: 1), groups: 4),
    ConvCase(name: "O == 1, 1 output pixel", h: 3, w: 3, ic: 5, oc: 1, kh: 3, kw: 3),
    ConvCase(name: "output pixels % 4 == 1 (the 1x4 tile after full tiles)", h: 1, w: 5, ic: 12, oc: 6, kh: 1, kw: 1),
    ConvCase(name: "output pixels % 4 == 2", h: 2, w: 3, ic: 12, oc: 6, kh: 1, kw: 1),
    ConvCase(name: "stem: 3 input channels, 3x3 stride 2, pad 1 (K == 27)", h: 9, w: 8, ic: 3, oc: 16, kh: 3, kw: 3,
             sy: 2, sx: 2, pad: ConvPadding(all: 1)),
    ConvCase(name: "7x7 stride 2, pad 3, 3 input channels (K == 147)", h: 11, w: 10, ic: 3, oc: 8, kh: 7, kw: 7,
             sy: 2, sx: 2, pad: ConvPadding(all: 3)),
    ConvCase(name: "K == 2304 (3x3x256)", h: 3, w: 3, ic: 256, oc: 5, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    // The thin-K tile's edges (4 pixels x 16 channels, K in steps of 8 then a 1...7 tail).
    ConvCase(name: "thin: 1x1x24 -> 144, rows in place (24 % 8 == 0), pixels % 4 == 2", h: 3, w: 6, ic: 24, oc: 144,
             kh: 1, kw: 1),
    ConvCase(name: "thin: 1x1x32 -> 48 @7x7 (the fixture's: 49 pixels, one left over)", h: 7, w: 7, ic: 32, oc: 48,
             kh: 1, kw: 1),
    ConvCase(name: "thin: stem 1 channel 3x3 pad 1 (K == 9: one step of 8, a tail of 1), O == 16", h: 6, w: 7, ic: 1,
             oc: 16, kh: 3, kw: 3, pad: ConvPadding(all: 1)),
    ConvCase(name: "thin: K == 15 (1x1x15: rows copied, tail of 7), O == 17 (a block of 1)", h: 3, w: 5, ic: 15,
             oc: 17, kh: 1, kw: 1),
    ConvCase(name: "thin: K == 7 (< 8: tail only), O == 5", h: 4, w: 3, ic: 7, oc: 5, kh: 1, kw: 1),
    ConvCase(name: "thin: 1x1x8 stride 2 in place, pixels % 4 == 3", h: 5, w: 5, ic: 8, oc: 20, kh: 1, kw: 1,
             sy: 2, sx: 2),
    ConvCase(name: "thin: groups == 2, group slice 8, 1x1 in place, O/groups == 24", h: 3, w: 3, ic: 16, oc: 48,
             kh: 1, kw: 1, groups: 2),
    ConvCase(name: "thin: groups == 3, 3x3 pad 1, O/groups == 9 (block tail per group)", h: 4, w: 5, ic: 9, oc: 27,
             kh: 3, kw: 3, pad: ConvPadding(all: 1), groups: 3),
    ConvCase(name: "thin: K == 64 (1x1x64), O == 32", h: 2, w: 5, ic: 64, oc: 32, kh: 1, kw: 1),
    ConvCase(name: "thin: 1x1x16 with padding (rows copied, padding holds z_in)", h: 3, w: 4, ic: 16, oc: 16,
             kh: 1, kw: 1, pad: ConvPadding(top: 1, left: 2, bottom: 0, right: 1)),
]

@Suite("NEON conv2d equals conv2dReference bit for bit (SMLAL and SDOT dot steps)")
struct NEONConvTests {
    @Test("on every shared conv case and zero-point kind", arguments: convCases, zeroPointKinds)
    func sharedCases(c: ConvCase, zKind: String) {
        var rng = SeededRNG(seed: neonSeed(c.name + zKind))
        for v in neonConvVariants {
            let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
            if let msg = checkNEONConv(p, neonVariant(p, v), rng: &rng) {
                Issue.record(Comment(rawValue: msg)); return
            }
        }
    }

    @Test("on every NEON tile edge case and zero-point kind", arguments: neonConvCases, zeroPointKinds)
    func tileEdges(c: ConvCase, zKind: String) {
        var rng = SeededRNG(seed: neonSeed("edge " + c.name + zKind))
        for v in neonConvVariants {
            for _ in 0..<2 {
                let p = c.params(zIn: zeroPoint(ofKind: zKind, &rng), output: rng.outputQuantization())
                if let msg = checkNEONConv(p, neonVariant(p, v), rng: &rng) {
                    Issue.record(Comment(rawValue: msg)); return
                }
            }
        }
    }

    /// The int16 lanes of the SMLAL step hold two products: |q_in| ≤ 128 and |w| ≤ 127 bound them by 32 512. Inputs
    /// all −128 against weights all −127 (or +127) reach that bound in every lane and make every int32 sum extreme.
    @Test("extreme products: inputs all -128, weights all -127 or +127, z_in == 127, K == 576")
    func extremeProducts() {
        for w8 in [Int8(-127), 127] {
            for v in neonConvVariants {
                let p = Conv2DParams(inputHeight: 4, inputWidth: 4, inputChannels: 64, outputChannels: 8,
                                     kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: 127,
                                     output: OutputQuantization(zeroPoint: 0))
                let input = [Int8](repeating: -128, count: p.inputCount)
                let weights = [Int8](repeating: w8, count: p.weightCount)
                // Multipliers that keep the largest |acc| (576 · 255 · 127) inside the int8 range after scaling,
                // so a wrong sum shows as a different output, not as the same clamp.
                let mults = [QuantizedMultiplier](repeating: QuantizedMultiplier(multiplier: 1 << 30, shift: -17),
                                                  count: 8)
                let bias = [Int32](repeating: 12345, count: 8)
                if let msg = checkNEONConv(p, v, input: input, weights: weights, bias: bias, multipliers: mults,
                                           seed: 0) {
                    Issue.record(Comment(rawValue: msg)); return
                }
            }
        }
    }

    @Test("the chooser: short K takes the thin tile (K <= 64, or <= 160 in whole 16-channel blocks; SDOT: <= 32, or <= 72 above 1x1)")
    func thinChooser() {
        let q = OutputQuantization(zeroPoint: 0)
        func conv(_ ic: Int, _ oc: Int, k: Int = 1, groups: Int = 1) -> Conv2DParams {
            Conv2DParams(inputHeight: 8, inputWidth: 8, inputChannels: ic, outputChannels: oc, kernelHeight: k,
                         kernelWidth: k, groups: groups, inputZeroPoint: 0, output: q)
        }
        let expectations: [(Conv2DParams, smlal: Bool, sdot: Bool)] = [
            (conv(24, 144), true, true), (conv(3, 32, k: 3), true, true), (conv(32, 48), true, true),
            (conv(48, 48), true, false), (conv(64, 8), true, false), (conv(65, 8), false, false),
            (conv(8, 32, k: 3), true, true), (conv(9, 32, k: 3), true, false),          // K = 72, 81
            (conv(96, 576), true, false), (conv(160, 32), true, false), (conv(161, 32), false, false),
            (conv(144, 24), false, false), (conv(16, 4), false, false), (conv(16, 32, groups: 8), false, false),
        ]
        for (p, smlal, sdot) in expectations {
            #expect(neonThinPreferred(p, dotProduct: false) == smlal, "\(p)")
            #expect(neonThinPreferred(p, dotProduct: true) == sdot, "\(p)")
            let chosen = NEONKernels.hasDotProduct ? sdot : smlal
            #expect(NEONKernels.chooseConv(p) == (chosen ? .thin : NEONKernels.tile), "\(p)")
        }
        // Sizes: 1x1x24 -> 20: 2 blocks of [24][16] int16; scratch: 2 prepared blocks of 320 bytes, then 4 rows of
        // 24 bytes + 8 (im2col area; this layer reads in place), or 3 padded input rows of 8·3 + 8 bytes (direct).
        #expect(NEONKernels.convPackedWeightBytes(conv(24, 20), .thin) == 2 * 24 * 32)
        #expect(NEONKernels.convScratchBytes(conv(24, 20), .thin) == 2 * 320 + 4 * 24 + 8)
        #expect(NEONKernels.convScratchBytes(conv(3, 20, k: 3), .thin) == 2 * 320 + 3 * (8 * 3 + 8))
        #expect(NEONKernels.convScratchBytes(conv(6, 20, k: 3, groups: 2), .thin) == 2 * 320 + 4 * 32 + 8)   // im2col
    }

    @Test("the chooser: grouped layers with fewer than 4 channels per group take the SIMD variant, others the tile")
    func chooser() {
        let q = OutputQuantization(zeroPoint: 0)
        let grouped = Conv2DParams(inputHeight: 4, inputWidth: 4, inputChannels: 8, outputChannels: 8, kernelHeight: 3,
                                   kernelWidth: 3, groups: 4, inputZeroPoint: 0, output: q)
        let dense = Conv2DParams(inputHeight: 4, inputWidth: 4, inputChannels: 8, outputChannels: 2, kernelHeight: 3,
                                 kernelWidth: 3, inputZeroPoint: 0, output: q)
        #expect(NEONKernels.chooseConv(grouped) == .simd128(SIMD128Kernels.chooseConv(grouped)))
        #expect(NEONKernels.chooseConv(dense) == (NEONKernels.hasDotProduct ? .tileSDOT : .tileSMLAL))   // K = 72
        #expect(NEONKernels.convPackedWeightBytes(dense, .tileSMLAL) == 1 * (4 * 80 + 16))   // K = 72 → 80
    }
}

@Suite("NEON linear equals linearReference bit for bit")
struct NEONLinearTests {
    @Test("on every shape and zero-point kind", arguments: [
        LinearCase(name: "F == 1, O == 1", f: 1, o: 1),
        LinearCase(name: "F odd (7), O % 4 != 0 (9)", f: 7, o: 9),
        LinearCase(name: "F == 16, O == 64", f: 16, o: 64),
        LinearCase(name: "F == 100, O == 3", f: 100, o: 3),
        LinearCase(name: "F == 257, O == 17", f: 257, o: 17),
    ], zeroPointKinds)
    func matchesReference(c: LinearCase, zKind: String) {
        var rng = SeededRNG(seed: neonSeed("linear " + c.name + zKind))
        for v in neonTileVariants {
            let p = LinearParams(inputFeatures: c.f, outputFeatures: c.o, inputZeroPoint: zeroPoint(ofKind: zKind, &rng),
                                 output: rng.outputQuantization())
            let input = rng.int8s(p.inputFeatures)
            let weights = rng.int8s(p.inputFeatures * p.outputFeatures, -127...127)
            let bias: [Int32]? = rng.int(0...3) == 0 ? nil : rng.int32s(p.outputFeatures, -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(p.outputFeatures, shifts: -14 ... -4)
            var ref = [Int8](repeating: 0, count: p.outputFeatures), got = [Int8](repeating: 99, count: p.outputFeatures)
            bias.withOptionalPointer { b in
                linearReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
                withScratch(NEONKernels.linearPackedWeightBytes(p, v)) { packed in
                    NEONKernels.packLinearWeights(p, v, weights: weights, into: packed)
                    withScratch(NEONKernels.linearScratchBytes(p, v)) { s in
                        NEONKernels().linear(p, v, ConvArguments(input: input, weights: packed, bias: b,
                                                                 multipliers: mults, output: &got, scratch: s))
                    }
                }
            }
            if let o = (0..<ref.count).first(where: { ref[$0] != got[$0] }) {
                var acc = Int64(bias?[o] ?? 0)
                for i in 0..<p.inputFeatures {
                    acc += Int64(Int32(input[i]) - p.inputZeroPoint) * Int64(weights[o * p.inputFeatures + i])
                }
                Issue.record("seed=\(rng.seed) NEON \(v) \(p): at o=\(o) neon=\(got[o]) reference=\(ref[o]) acc=\(acc) M=\(mults[o])")
                return
            }
        }
    }
}

@Suite("NEON requantization equals the scalar requantize")
struct NEONRequantizeTests {
    @Test("the prepared block's fields lie back to back: 4 int32 biases, 4 int32 multipliers, 4 int64 shifts, 64 bytes")
    func blockLayout() {
        #expect(NEONPreparedBlock.bias == 0 && NEONPreparedBlock.multipliers == 16 && NEONPreparedBlock.shifts == 32)
        #expect(NEONPreparedBlock.bytes == 64 && neonPreparedBlockBytes == 64)
    }

    /// NEONRequantize4 (SMULL, SRSHL by −n, SQXTN, clamp, + z) against `OutputQuantization.requantize`, lane by lane:
    /// every shift e in [−31, 30] (n = 31 − e in [1, 62]), the zero multiplier, extreme accumulators (±2^31 and
    /// neighbours, where SQXTN saturates and the 64-bit rounding is widest), biases that wrap the int32 sum.
    @Test("for extreme and random accumulators, every shift, the zero multiplier, wrapping biases")
    func matchesScalar() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x4E52)
        var xs: [Int32] = [Int32.min, Int32.min + 1, -1, 0, 1, Int32.max, Int32.max - 1, 1 << 14, -(1 << 14)]
        for _ in 0..<(isDebugBuild ? 4000 : 100_000) {
            xs.append(Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...40))))
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: neonPreparedBlockBytes, alignment: 16)
        defer { block.deallocate() }
        var shiftsSeen = Set<Int32>()
        var i = 0
        while i + 4 <= xs.count {
            let mults = (0..<4).map { _ in
                rng.int(0...15) == 0 ? QuantizedMultiplier.zero
                    : QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                          shift: Int32.random(in: -31...30, using: &rng))
            }
            for m in mults { shiftsSeen.insert(m.shift) }
            let bias: [Int32] = (0..<4).map { _ in
                rng.int(0...3) == 0 ? Int32(truncatingIfNeeded: rng.next()) : Int32(rng.int(-1000...1000))
            }
            for l in 0..<4 { neonPrepareLane(l, effectiveBias: bias[l], multiplier: mults[l], into: block) }
            let o = rng.outputQuantization()
            let acc = SIMD4(xs[i], xs[i + 1], xs[i + 2], xs[i + 3])
            let got = NEONRequantize4(block, o)(acc)
            for l in 0..<4 {
                let want = o.requantize(acc[l] &+ bias[l], mults[l])
                let lane = Int8(truncatingIfNeeded: got >> UInt32(8 * l))
                if lane != want {
                    Issue.record("seed=\(rng.seed) lane \(l): acc=\(acc[l]) bias=\(bias[l]) M=\(mults[l]) z=\(o.zeroPoint) [\(o.activationMin),\(o.activationMax)]: neon=\(lane) scalar=\(want)")
                    return
                }
            }
            i += 4
        }
        #expect(shiftsSeen.count == 62, "every shift in [-31, 30] exercised: \(shiftsSeen.count)")
    }

    /// The two dot steps are different partitions of the same 16 products: each must give the exact int32 sum of
    /// all of them (modulo 2^32) once the four lanes are added, from any starting accumulator.
    @Test("both dot steps add the 16 products of a chunk exactly, including the extreme products")
    func dotSteps() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD07)
        for trial in 0..<(isDebugBuild ? 2000 : 50_000) {
            var x = SIMD16<Int8>(), w = SIMD16<Int8>()
            for j in 0..<16 {
                x[j] = trial % 7 == 0 ? -128 : Int8.random(in: -128...127, using: &rng)
                w[j] = trial % 7 == 0 ? (trial % 2 == 0 ? -127 : 127) : Int8.random(in: -127...127, using: &rng)
            }
            let start = SIMD4<Int32>(Int32(truncatingIfNeeded: rng.next()), Int32(rng.int(-9...9)), 0, Int32.max)
            var want = start[0] &+ start[1] &+ start[2] &+ start[3]
            for j in 0..<16 { want &+= Int32(x[j]) * Int32(w[j]) }
            for (name, r) in [("SMLAL", NEONDotSMLAL.accumulate(start, x, w)), ("SDOT", NEONDotSDOT.accumulate(start, x, w))] {
                let got = r[0] &+ r[1] &+ r[2] &+ r[3]
                if got != want {
                    Issue.record("seed=\(rng.seed) \(name): x=\(x) w=\(w) start=\(start): \(got) != \(want)")
                    return
                }
            }
        }
    }
}

@Suite("NEON dynamic fusion + conv equals dynamicFusionReference + conv2dReference")
struct NEONFusionTests {
    /// A fusion shape: the conv, g, the coefficient mode and the contents' kind.
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let h: Int, w: Int, ic: Int, oc: Int, k: Int, groups: Int, g: Int, perChannel: Bool
        /// "random", "small" (every |F| ≤ 127: R is capped, q_f == F), "extreme" (weights ±127, η == 32767)
        var contents = "random"
        var testDescription: String { name }
    }
    static let cases: [Case] = [
        Case(name: "per channel, 3x3x6 -> 10 (K == 54: tail recomputed), g == 4", h: 5, w: 6, ic: 6, oc: 10, k: 3,
             groups: 1, g: 4, perChannel: true),
        Case(name: "per layer, 1x1x32 -> 8 (rows in place), g == 3", h: 4, w: 4, ic: 32, oc: 8, k: 1, groups: 1, g: 3,
             perChannel: false),
        Case(name: "per channel, 1x1x6 -> 7 (K == 6 < 16), g == 1", h: 3, w: 3, ic: 6, oc: 7, k: 1, groups: 1, g: 1,
             perChannel: true),
        Case(name: "per channel, grouped 3x3, 2 groups of 5 outputs (block tails), g == 5", h: 4, w: 5, ic: 8, oc: 10,
             k: 3, groups: 2, g: 5, perChannel: true),
        Case(name: "per layer, 3x3x16 -> 4 (K == 144), small kernels (R capped)", h: 3, w: 3, ic: 16, oc: 4, k: 3,
             groups: 1, g: 2, perChannel: false, contents: "small"),
        Case(name: "per channel, 1x1x48 -> 6, g == 16, extreme kernels", h: 2, w: 2, ic: 48, oc: 6, k: 1, groups: 1,
             g: 16, perChannel: true, contents: "extreme"),
        Case(name: "per channel, 1x1x32 -> 48 @7x7 (the fixture's blocks.2.body.3), g == 4", h: 7, w: 7, ic: 32, oc: 48,
             k: 1, groups: 1, g: 4, perChannel: true),
        Case(name: "per layer, 1x1x24 -> 20 (K % 16 == 8: the thin column's partial chunk), g == 3", h: 3, w: 5,
             ic: 24, oc: 20, k: 1, groups: 1, g: 3, perChannel: false),
        Case(name: "per channel, 3x3x1 -> 16 (K == 9 < 16), g == 2", h: 5, w: 5, ic: 1, oc: 16, k: 3, groups: 1, g: 2,
             perChannel: true),
    ]

    @Test("fused values, bias and multipliers equal the reference's, and the packed conv gives the reference outputs",
          arguments: cases)
    func fusedConv(c: Case) {
        var rng = SeededRNG(seed: neonSeed(c.name))
        let conv = Conv2DParams(inputHeight: c.h, inputWidth: c.w, inputChannels: c.ic, outputChannels: c.oc,
                                kernelHeight: c.k, kernelWidth: c.k, padding: ConvPadding(all: c.k / 2),
                                groups: c.groups, inputZeroPoint: Int32(rng.int(-128...127)),
                                output: rng.outputQuantization())
        let g = c.g, perChannel = c.perChannel
        let f = DynamicFusionParams(kernelCount: g, conv: conv, coefficients: perChannel ? .perChannel : .perLayer)
        let kernels: [Int8] = c.contents == "extreme"
            ? (0..<(g * f.kernelElements)).map { _ in rng.int(0...1) == 0 ? -127 : 127 }
            : rng.int8s(g * f.kernelElements, c.contents == "small" ? -1...1 : -127...127)
        let eta: [Int16] = (0..<f.coefficientCount).map { _ in
            c.contents == "extreme" ? 32767 : Int16(rng.int(0...(c.contents == "small" ? 60 : 32767)))
        }
        let mixed = rng.int32s(g * conv.outputChannels, -(1 << 22)...(1 << 22))
        let stat = rng.int32s(conv.outputChannels, -(1 << 22)...(1 << 22))
        let m0 = rng.multipliers(conv.outputChannels, shifts: -31 ... -10)
        let input = rng.int8s(conv.inputCount)
        var fr = [Int8](repeating: 0, count: f.kernelElements)
        var br = [Int32](repeating: 0, count: conv.outputChannels), bn = [Int32](repeating: 7, count: conv.outputChannels)
        var mr = [QuantizedMultiplier](repeating: .zero, count: conv.outputChannels), mn = mr
        dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: mixed, staticBias: stat,
                               staticMultipliers: m0, fusedKernel: &fr, biasAccumulator: &br, multipliers: &mr)
        var ref = [Int8](repeating: 0, count: conv.outputCount), got = [Int8](repeating: 99, count: conv.outputCount)
        conv2dReference(conv, input: input, weights: fr, bias: br, multipliers: mr, output: &ref)
        for v in neonConvVariants {
            withScratch(NEONKernels.fusedConvWeightBytes(f, conv, v)) { fused in
                withScratch(NEONKernels.convFusionScratchBytes(f, conv, v)) { s in
                    NEONKernels().fuseConv(f, conv, v, FusionArguments(
                        kernels: kernels, coefficients: eta, mixedBias: mixed, staticBias: stat, staticMultipliers: m0,
                        fusedWeights: fused, fusedBias: &bn, fusedMultipliers: &mn, scratch: s))
                }
                // The fused weights as the conv reads them: packing the reference's fused kernel gives the same bytes.
                withScratch(NEONKernels.convPackedWeightBytes(conv, v)) { packed in
                    NEONKernels.packConvWeights(conv, v, weights: fr, into: packed)
                    let n = NEONKernels.convPackedWeightBytes(conv, v)
                    let same = (0..<n).allSatisfy { fused.load(fromByteOffset: $0, as: UInt8.self)
                        == packed.load(fromByteOffset: $0, as: UInt8.self) }
                    #expect(same, "seed=\(rng.seed) \(v): packed fused kernel differs from the packed reference kernel")
                }
                withScratch(NEONKernels.convScratchBytes(conv, v)) { s in
                    NEONKernels().conv2d(conv, v, ConvArguments(input: input, weights: fused, bias: bn, multipliers: mn,
                                                                output: &got, scratch: s))
                }
            }
            #expect(bn == br, "seed=\(rng.seed) \(v): fused bias")
            #expect(mn == mr, "seed=\(rng.seed) \(v): fused multipliers")
            let bad = (0..<ref.count).first { got[$0] != ref[$0] }
            #expect(bad == nil, "seed=\(rng.seed) \(v): conv on the fused kernel differs first at output \(bad ?? -1)")
        }
    }
}

@Suite("Randomized shape sweep: NEON == reference (large in release builds)")
struct NEONRandomSweepTests {
    @Test("random conv shapes (groups, strides, padding, dilation), both dot steps")
    func convSweep() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x4E0)
        for trial in 0..<(isDebugBuild ? 6 : 200) {
            let groups = [1, 1, 1, 2, 3][rng.int(0...4)]
            let ic = groups * rng.int(1...(isDebugBuild ? 8 : 40)), oc = groups * rng.int(1...(isDebugBuild ? 8 : 24))
            let kh = rng.int(1...4), kw = rng.int(1...4), dy = rng.int(1...2), dx = rng.int(1...2)
            let pad = rng.int(0...2) == 0 ? ConvPadding.zero
                : ConvPadding(top: rng.int(0...2), left: rng.int(0...2), bottom: rng.int(0...2), right: rng.int(0...2))
            let h = rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9)
            let w = rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9)
            let p = Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: ic, outputChannels: oc, kernelHeight: kh,
                                 kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...2), padding: pad,
                                 dilationY: dy, dilationX: dx, groups: groups, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            if p.outputHeight == 0 || p.outputWidth == 0 { continue }
            let v = neonVariant(p, neonConvVariants[trial % 3])
            if let msg = checkNEONConv(p, v, rng: &rng) { Issue.record(Comment(rawValue: msg)); return }
        }
    }
}

@Suite("NEON thin-K tile: both output stages equal the scalar requantize")
struct NEONThinStageTests {
    /// Writes the 16 lanes of a thin prepared block (multipliers and both shift forms; bias 0).
    func prepare(_ mults: [QuantizedMultiplier], into block: UnsafeMutableRawPointer) {
        for (l, m) in mults.enumerated() {
            let e: Int32 = m.multiplier == 0 ? 0 : m.shift
            block.storeBytes(of: Int32(0), toByteOffset: NEONThinPrepared.bias + 4 * l, as: Int32.self)
            block.storeBytes(of: m.multiplier, toByteOffset: NEONThinPrepared.multipliers + 4 * l, as: Int32.self)
            block.storeBytes(of: Int64(e) - 31, toByteOffset: NEONThinPrepared.shifts + 8 * l, as: Int64.self)
            block.storeBytes(of: e, toByteOffset: NEONThinPrepared.shifts32 + 4 * l, as: Int32.self)
        }
    }

    /// The fast stage (SQDMULH, SRSHL by e) for every e in [−31, −1] and the zero multiplier, the exact stage
    /// (64-bit product) for every e in [−31, 30]; accumulators random and extreme (±2^31 and neighbours).
    @Test("SQDMULH + SRSHL for e <= -1 and the 64-bit stage for every e, lane by lane, extreme accumulators")
    func stagesMatchScalar() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x7417)
        let block = UnsafeMutableRawPointer.allocate(byteCount: NEONThinPrepared.bytes, alignment: 16)
        defer { block.deallocate() }
        let extremes: [Int32] = [Int32.min, Int32.min + 1, -1, 0, 1, Int32.max, Int32.max - 1, 1 << 30, -(1 << 30)]
        var shiftsSeen: [Bool: Set<Int32>] = [true: [], false: []]
        for trial in 0..<(isDebugBuild ? 500 : 20_000) {
            for fast in [true, false] {
                let mults = (0..<16).map { _ in
                    rng.int(0...15) == 0 ? QuantizedMultiplier.zero
                        : QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &rng),
                                              shift: Int32.random(in: fast ? -31 ... -1 : -31...30, using: &rng))
                }
                for m in mults where m.multiplier != 0 { shiftsSeen[fast]!.insert(m.shift) }
                prepare(mults, into: block)
                let acc: [Int32] = (0..<16).map { _ in
                    trial % 5 == 0 ? extremes[rng.int(0...(extremes.count - 1))]
                        : Int32(truncatingIfNeeded: rng.next() >> UInt64(rng.int(0...40)))
                }
                let a = (0..<4).map { SIMD4(acc[4 * $0], acc[4 * $0 + 1], acc[4 * $0 + 2], acc[4 * $0 + 3]) }
                let o = rng.outputQuantization()
                let got = fast ? NEONThinFastStage(block, o)(a[0], a[1], a[2], a[3])
                               : NEONThinExactStage(block, o)(a[0], a[1], a[2], a[3])
                for l in 0..<16 where got[l] != o.requantize(acc[l], mults[l]) {
                    Issue.record("seed=\(rng.seed) \(fast ? "fast" : "exact") lane \(l): acc=\(acc[l]) M=\(mults[l]) z=\(o.zeroPoint) [\(o.activationMin),\(o.activationMax)]: neon=\(got[l]) scalar=\(o.requantize(acc[l], mults[l]))")
                    return
                }
            }
        }
        #expect(shiftsSeen[true]!.count == 31 && shiftsSeen[false]!.count == 62)
    }

    /// The conv picks the exact stage when one multiplier has e >= 0: the same outputs as the reference either way,
    /// with large biases (accumulators near ±2^30).
    @Test("thin conv with multipliers e in [-31, 30] (exact stage) and e in [-31, -1] (fast stage), biases near 2^30",
          arguments: [true, false])
    func convStages(fast: Bool) {
        var rng = SeededRNG(seed: neonSeed("thin stages \(fast)"))
        for c in neonConvCases.filter({ $0.name.hasPrefix("thin") }) {
            let p = c.params(zIn: rng.zeroPoint(), output: rng.outputQuantization())
            let input = rng.int8s(p.inputCount)
            let weights = rng.int8s(p.weightCount, -127...127)
            let bias = rng.int32s(p.outputChannels, -(1 << 30)...(1 << 30))
            let mults = rng.multipliers(p.outputChannels, shifts: fast ? -31 ... -1 : -31 ... 30)
            if let msg = checkNEONConv(p, .thin, input: input, weights: weights, bias: bias, multipliers: mults,
                                       seed: rng.seed) {
                Issue.record(Comment(rawValue: "\(c.name): " + msg)); return
            }
        }
    }
}
