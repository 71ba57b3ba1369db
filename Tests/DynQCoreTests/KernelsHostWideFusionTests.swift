// HostWide fusion straight into the VNNI packings (HostWideFusion.swift) == the reference fusion packed by the
// variant's own packing, bit for bit, in every build (the intrinsics' portable C models without the ISA). Shapes are
// Dy-mobile's (1×1 with 18–324 channels, grouped 3×3 with 6 channels per group, groups the VNNI conv merges into
// one channel block) plus K tails around 16 and 64,
// K < 16, signed coefficients and the extreme |F| of the g ≤ 516 bound.
#if arch(x86_64)
import Testing
@testable import DynQCore
#if canImport(Glibc)
import Glibc
#endif

/// Fuses with `HostWideKernels.fuseConv(_, _, v, _)` and with `dynamicFusionReference` + `packConvWeights`;
/// returns a failure message or nil.
private func checkVNNIFusion(_ conv: Conv2DParams, kernelCount g: Int, _ mode: FusionCoefficientMode,
                             _ v: HostWideKernels.Variant, _ rng: inout SeededRNG, extreme: Bool = false) -> String? {
    let f = DynamicFusionParams(kernelCount: g, conv: conv, coefficients: mode)
    let o = f.outputChannels
    let kernels: [Int8] = extreme ? (0..<(g * f.kernelElements)).map { $0 % 7 == 3 ? -127 : 127 }
        : rng.int8s(g * f.kernelElements, -127...127)
    let eta: [Int16] = extreme ? (0..<f.coefficientCount).map { $0 % 5 == 4 ? -32767 : 32767 }
        : (0..<f.coefficientCount).map { _ in Int16(rng.int(-32767...32767)) }
    let mixed = rng.int32s(g * o, -(1 << 16)...(1 << 16)), stat = rng.int32s(o, -(1 << 16)...(1 << 16))
    let m0 = rng.multipliers(o, shifts: -20...0)
    let (refKernel, refBias, refM) = referenceFusion(f, kernels: kernels, coefficients: eta, mixedBias: mixed,
                                                     staticBias: stat, staticMultipliers: m0)
    let bytes = HostWideKernels.fusedConvWeightBytes(f, conv, v)
    var bias = [Int32](repeating: 7, count: o), mults = [QuantizedMultiplier](repeating: .zero, count: o)
    let firstDiff: Int? = withScratch(bytes) { fused in
        withScratch(HostWideKernels.convFusionScratchBytes(f, conv, v)) { scratch in
            kernels.withUnsafeBufferPointer { k in eta.withUnsafeBufferPointer { e in
            mixed.withUnsafeBufferPointer { mb in stat.withUnsafeBufferPointer { sb in
            m0.withUnsafeBufferPointer { m in bias.withUnsafeMutableBufferPointer { b in
            mults.withUnsafeMutableBufferPointer { fm in
                HostWideKernels().fuseConv(f, conv, v, FusionArguments(
                    kernels: k.baseAddress!, coefficients: e.baseAddress!, mixedBias: mb.baseAddress,
                    staticBias: sb.baseAddress, staticMultipliers: m.baseAddress!, fusedWeights: fused,
                    fusedBias: b.baseAddress!, fusedMultipliers: fm.baseAddress!, scratch: scratch))
            } } } } } } }
        }
        return withScratch(bytes) { want in
            HostWideKernels.packConvWeights(conv, v, weights: refKernel, into: want)
            let a = fused.assumingMemoryBound(to: UInt8.self), w = want.assumingMemoryBound(to: UInt8.self)
            return (0..<bytes).first { a[$0] != w[$0] }
        }
    }
    if let at = firstDiff { return "seed=\(rng.seed) \(v) g=\(g) \(mode) \(conv): packed byte \(at) of \(bytes) differs" }
    if bias != refBias { return "seed=\(rng.seed) \(v) g=\(g) \(mode) \(conv): fused bias differs" }
    if mults != refM { return "seed=\(rng.seed) \(v) g=\(g) \(mode) \(conv): fused multipliers differ" }
    return nil
}

private func conv(_ cin: Int, _ cout: Int, k: Int = 1, groups: Int = 1, _ rng: inout SeededRNG) -> Conv2DParams {
    Conv2DParams(inputHeight: 20, inputWidth: 20, inputChannels: cin, outputChannels: cout, kernelHeight: k,
                 kernelWidth: k, padding: ConvPadding(all: k / 2), groups: groups, inputZeroPoint: rng.zeroPoint(),
                 output: rng.outputQuantization())
}

@Suite("HostWide fusion into the VNNI packings equals the reference fusion packed")
struct KernelsHostWideFusionTests {
    @Test("Dy-mobile's dynamic conv shapes, per-channel and per-layer signed coefficients, both VNNI variants",
          arguments: [(32, 18, 1, 1), (18, 18, 1, 1), (18, 18, 3, 3), (24, 24, 3, 4), (18, 24, 1, 1), (66, 66, 1, 1),
                      (66, 66, 3, 11), (96, 162, 1, 1), (162, 162, 1, 1), (324, 324, 1, 1), (162, 324, 1, 1),
                      (36, 36, 3, 6), (12, 12, 3, 12), (50, 30, 1, 10)])
    func dyMobileShapes(_ shape: (Int, Int, Int, Int)) {
        var rng = SeededRNG(seed: testBaseSeed &+ 0xF0F &+ UInt64(shape.0 * 1000 + shape.1 * 10 + shape.3))
        let c = conv(shape.0, shape.1, k: shape.2, groups: shape.3, &rng)
        for v in [HostWideKernels.Variant.vnni, .vnniPixels] {
            for mode in [FusionCoefficientMode.perChannel, .perLayer] {
                let failure = checkVNNIFusion(c, kernelCount: 6, mode, v, &rng)
                #expect(failure == nil, "\(failure ?? "")")
            }
        }
    }

    @Test("K tails around 16 and 64 (K = 1…80), odd and even kernel counts, groups with quad tails")
    func kernelElementTails() {
        var rng = SeededRNG(seed: testBaseSeed &+ 0xF10)
        for cin in [1, 3, 4, 5, 8, 13, 15, 16, 17, 20, 31, 32, 33, 48, 63, 64, 65, 80] {
            for (k, groups) in [(1, 1), (3, 1), (1, 2), (2, 1)] where cin % groups == 0 {
                let c = conv(cin, [5, 16, 17, 40][rng.int(0...3)] * groups, k: k, groups: groups, &rng)
                for v in [HostWideKernels.Variant.vnni, .vnniPixels] {
                    let g = rng.int(1...7)
                    let failure = checkVNNIFusion(c, kernelCount: g, rng.int(0...1) == 0 ? .perChannel : .perLayer,
                                                  v, &rng)
                    #expect(failure == nil, "\(failure ?? "")")
                }
            }
        }
    }

    @Test("extreme weights and coefficients up to the g ≤ 516 bound (|F| near 2^31)")
    func extremeSums() {
        var rng = SeededRNG(seed: testBaseSeed &+ 0xF11)
        for (g, cin) in [(516, 16), (516, 70), (2, 66), (515, 6)] {
            let c = conv(cin, 18, &rng)
            for v in [HostWideKernels.Variant.vnni, .vnniPixels] {
                let failure = checkVNNIFusion(c, kernelCount: g, .perChannel, v, &rng, extreme: true)
                #expect(failure == nil, "\(failure ?? "")")
            }
        }
    }
}
#endif
