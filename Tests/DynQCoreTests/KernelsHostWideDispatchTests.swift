// The run-time dispatched x86 kernels (dynq_x86_dispatch.h: C passes compiled for AVX-512 VNNI by a target
// attribute, picked by CPUID; dynq_x86_avx2.h: the same loops for AVX2) equal the reference kernels bit for bit,
// and so do the Swift paths they replace, in the same build: the channel- and pixel-lane VNNI convs, the VNNI
// linear layer, the fusion into their packings, the 32-channel depthwise and the 16-lane add (the AVX2 loops: the
// channel-lane conv, the linear layer and the fusion), on the shapes MobileNetV2, Dy-mobile and ResNet18 use (stems,
// thin and wide 1×1, grouped 3×3 with 6 channels per group, strides, padding, odd channel counts) and on extreme
// operands at the largest K. Each dispatched variant needs a CPU with its level (skipped elsewhere; an AVX-512 VNNI
// CPU runs both); the CPU query is checked against /proc/cpuinfo.
#if arch(x86_64)
import Testing
import DynQIntrinsics
@testable import DynQCore
#if canImport(Glibc)
import Glibc
#endif

/// Whether this CPU can run `d`'s loops (the CPU's own level, whatever `DYNQ_HOST_DISPATCH` says).
private func canRun(_ d: HostWideDispatch) -> Bool {
    switch d {
    case .swift: return true
    case .avx2: return dynq_x86_detect_level() >= DYNQ_X86_LEVEL_AVX2
    case .vnni: return dynq_x86_detect_level() >= DYNQ_X86_LEVEL_AVX512VNNI
    }
}

/// Runs the channel-lane (or, with `pixels`, the pixel-lane, which has no AVX2 loop) VNNI conv (`dispatch`'s C
/// passes or the Swift tiles) and the reference on random data; returns a failure message or nil.
private func checkVNNIConv(_ p: Conv2DParams, dispatch: HostWideDispatch, pixels: Bool = false,
                           _ rng: inout SeededRNG) -> String? {
    let dispatched = dispatch == .vnni
    let small = rng.int(0...2) == 0
    let input = rng.int8s(p.inputCount)
    let weights = rng.int8s(p.weightCount, small ? -3...3 : -127...127)
    let bias = rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
    let mults = rng.multipliers(p.outputChannels, shifts: small ? -8...0 : -20...0)
    let withBias = rng.int(0...3) != 0
    var ref = [Int8](repeating: 0, count: p.outputCount), out = [Int8](repeating: 99, count: p.outputCount)
    withScratch(pixels ? hostWidePixelPackedBytes(p) : hostWideVNNIConvPackedBytes(p)) { packed in
        if pixels { hostWidePixelPack(p, weights: weights, into: packed) }
        else { hostWideVNNIConvPack(p, weights: weights, into: packed) }
        withScratch(pixels ? hostWidePixelScratchBytes(p) : hostWideVNNIConvScratchBytes(p)) { scratch in
            bias.withUnsafeBufferPointer { bb in
                let b = withBias ? bb.baseAddress : nil
                conv2dReference(p, input: input, weights: weights, bias: b, multipliers: mults, output: &ref)
                out.withUnsafeMutableBufferPointer { o in
                    if pixels {
                        hostWidePixelConv(p, input: input, packed: packed, bias: b, multipliers: mults,
                                          output: o.baseAddress!, scratch: scratch, dispatched: dispatched)
                    } else {
                        hostWideVNNIConv(p, input: input, packed: packed, bias: b, multipliers: mults,
                                         output: o.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
        }
    }
    guard let at = (0..<p.outputCount).first(where: { ref[$0] != out[$0] }) else { return nil }
    let o = at % p.outputChannels, px = at / p.outputChannels
    return "seed=\(rng.seed) dispatch=\(dispatch) pixels=\(pixels) \(p): pixel (\(px / p.outputWidth), \(px % p.outputWidth)) "
        + "channel \(o): got \(out[at]), reference \(ref[at])"
}

/// A conv layer of `side`×`side` (square kernel `k`, symmetric "same" padding unless `pad` is given).
private func layer(_ side: Int, _ cin: Int, _ cout: Int, k: Int, stride: Int = 1, groups: Int = 1, pad: Int? = nil,
                   _ rng: inout SeededRNG) -> Conv2DParams {
    let pp = pad ?? (k - 1) / 2
    return Conv2DParams(inputHeight: side, inputWidth: side + 1, inputChannels: cin, outputChannels: cout,
                        kernelHeight: k, kernelWidth: k, strideY: stride, strideX: stride,
                        padding: ConvPadding(top: pp, left: pp, bottom: pp, right: pp), dilationY: 1, dilationX: 1,
                        groups: groups, inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
}

/// The networks' conv shapes at small spatial sizes, plus odd channel counts, asymmetric padding and dilation.
private func networkShapes(_ rng: inout SeededRNG) -> [Conv2DParams] {
    var shapes = [
        layer(17, 3, 32, k: 3, stride: 2, &rng),                  // MobileNetV2 / Dy-mobile RGB stem
        layer(23, 3, 64, k: 7, stride: 2, &rng),                  // ResNet18 stem
        layer(9, 16, 96, k: 1, &rng), layer(7, 24, 144, k: 1, &rng), layer(5, 144, 24, k: 1, &rng),
        layer(4, 96, 576, k: 1, &rng), layer(3, 320, 1280, k: 1, &rng), layer(6, 160, 960, k: 1, &rng),
        layer(8, 64, 64, k: 3, &rng), layer(7, 128, 128, k: 3, stride: 2, &rng),      // ResNet 3×3
        layer(11, 32, 18, k: 1, &rng), layer(11, 18, 18, k: 1, &rng), layer(9, 18, 24, k: 1, &rng),  // thin 1×1
        layer(12, 18, 18, k: 3, groups: 3, &rng), layer(10, 24, 24, k: 3, stride: 2, groups: 4, &rng),
        layer(9, 66, 66, k: 3, groups: 11, &rng), layer(6, 162, 162, k: 3, groups: 27, &rng),  // groups of 6
        layer(8, 36, 36, k: 3, stride: 2, groups: 6, &rng),
        layer(7, 13, 17, k: 3, &rng), layer(6, 5, 33, k: 5, stride: 3, &rng), layer(5, 9, 70, k: 2, pad: 0, &rng),
        layer(1, 40, 7, k: 1, &rng), layer(2, 1, 1, k: 1, &rng),
    ]
    var dilated = layer(9, 12, 20, k: 3, &rng)
    dilated.dilationY = 2; dilated.dilationX = 2; dilated.padding = ConvPadding(top: 2, left: 1, bottom: 0, right: 3)
    shapes.append(dilated)
    var wide = layer(6, 10, 30, k: 3, groups: 2, &rng)
    wide.kernelWidth = 1; wide.padding = ConvPadding(top: 0, left: 0, bottom: 2, right: 0); wide.strideX = 2
    shapes.append(wide)
    return shapes
}

@Suite("Run-time dispatched x86 kernels equal the reference kernels bit for bit")
struct HostWideDispatchTests {
    @Test("the CPU query reports AVX-512 VNNI exactly when /proc/cpuinfo lists avx512f, avx512bw, avx512vl and avx512_vnni, AVX2 when it lists avx2")
    func cpuQueryMatchesCPUInfo() throws {
        guard let f = fopen("/proc/cpuinfo", "r") else { return }
        defer { fclose(f) }
        var flags: Set<Substring> = []
        var line = [CChar](repeating: 0, count: 1 << 16)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("flags") {
                flags = Set(s.split(separator: ":", maxSplits: 1).last!.split(whereSeparator: { $0 == " " || $0 == "\n" }))
                break
            }
        }
        try #require(!flags.isEmpty)
        let listed = ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"].allSatisfy { flags.contains(Substring($0)) }
        #expect((dynq_x86_detect_level() >= DYNQ_X86_LEVEL_AVX512VNNI) == listed)
        #expect((dynq_x86_detect_level() >= DYNQ_X86_LEVEL_AVX2) == flags.contains("avx2"))
    }

    @Test("DYNQ_HOST_DISPATCH caps the level: off to the baseline, avx2 to at most AVX2, other values leave it")
    func environmentCapsTheLevel() {
        let levels = [DYNQ_X86_LEVEL_BASELINE, DYNQ_X86_LEVEL_AVX2, DYNQ_X86_LEVEL_AVX512VNNI]
        for l in levels {
            #expect(dynq_x86_cap_level(l, "off") == DYNQ_X86_LEVEL_BASELINE)
            #expect(dynq_x86_cap_level(l, "avx2") == min(l, DYNQ_X86_LEVEL_AVX2))
            #expect(dynq_x86_cap_level(l, "on") == l)
            #expect(dynq_x86_cap_level(l, "avx") == l)
            #expect(dynq_x86_cap_level(l, "avx22") == l)
            #expect(dynq_x86_cap_level(l, nil) == l)
        }
    }

    @Test("the choosers pick the VNNI conv and linear whenever the build or the CPU has AVX-512 VNNI, the AVX2 level's choices on an AVX2 CPU, else the 128-bit kernels")
    func choosersFollowTheCPU() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0xD15)
        let lin0 = LinearParams(inputFeatures: 40, outputFeatures: 17, inputZeroPoint: 3,
                                output: OutputQuantization(zeroPoint: 0))
        let vnni = HostWideKernels.hasAVX512VNNI || HostWideKernels.cpuHasAVX512VNNI
        let level = HostWideKernels.cpuLevel
        #expect(HostWideKernels.runsVNNI == (vnni || level >= DYNQ_X86_LEVEL_AVX2))
        #expect(HostWideKernels.dispatchesVNNI == (!HostWideKernels.hasAVX512VNNI && HostWideKernels.cpuHasAVX512VNNI))
        // At the AVX2 level (any CPU: the choice only depends on the level) the channel-lane conv runs where the
        // VNNI level runs it, the 128-bit pixel lanes where it runs its pixel lanes (no AVX2 loop), the linear layer
        // is the VNNI one, the depthwise the 32-channel one.
        let avx2 = DYNQ_X86_LEVEL_AVX2
        #expect(HostWideKernels.dispatch(atLevel: avx2) == (HostWideKernels.hasAVX512VNNI ? .swift : .avx2))
        #expect(HostWideKernels.dispatch(atLevel: DYNQ_X86_LEVEL_BASELINE) == .swift)
        for p in networkShapes(&rng) {
            let v = HostWideKernels.chooseConv(p, atLevel: avx2)
            let full = HostWideKernels.chooseConv(p, atLevel: DYNQ_X86_LEVEL_AVX512VNNI)
            if !HostWideKernels.hasAVX512VNNI {
                #expect(v == (full == .vnniPixels ? .simd128PixelLane : .vnni), "\(p): \(v)")
            }
        }
        #expect(HostWideKernels.chooseLinear(lin0, atLevel: avx2) == .vnniLinear)
        let dw = DepthwiseConv2DParams(inputHeight: 8, inputWidth: 8, channels: 40, kernelHeight: 3, kernelWidth: 3,
                                       strideY: 1, strideX: 1, padding: ConvPadding(all: 1), dilationY: 1,
                                       dilationX: 1, inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        #expect(HostWideKernels.chooseDepthwise(dw, atLevel: avx2) == .wideDepthwise)
        #expect(HostWideKernels.chooseDepthwise(dw, atLevel: DYNQ_X86_LEVEL_BASELINE)
                    == (HostWideKernels.hasAVX2 ? .wideDepthwise : .sse2Depthwise))
        #expect(HostWideKernels.chooseLinear(lin0, atLevel: DYNQ_X86_LEVEL_BASELINE)
                    == (HostWideKernels.hasAVX512VNNI ? .vnniLinear : .simd128Linear))
        // This process's choices are those of its level (DYNQ_HOST_DISPATCH=avx2 or off picks the lower levels').
        for p in networkShapes(&rng) {
            let v = HostWideKernels.chooseConv(p)
            #expect(v == HostWideKernels.chooseConv(p, atLevel: level), "\(p): \(v)")
            if vnni || level < DYNQ_X86_LEVEL_AVX2 { #expect((v == .vnni || v == .vnniPixels) == vnni, "\(p): \(v)") }
        }
        let lin = LinearParams(inputFeatures: 1280, outputFeatures: 1000, inputZeroPoint: 3,
                               output: OutputQuantization(zeroPoint: 0))
        #expect((HostWideKernels.chooseLinear(lin) == .vnniLinear) == HostWideKernels.runsVNNI)
    }

    @Test("channel- and pixel-lane VNNI convs: dispatched C passes (VNNI, AVX2) and Swift tiles on the networks' shapes",
          arguments: HostWideDispatch.allCases, [false, true])
    func convNetworkShapes(dispatch: HostWideDispatch, pixels: Bool) {
        guard canRun(dispatch) && !(pixels && dispatch == .avx2) else { return }
        for round in 0..<(isDebugBuild ? 1 : 3) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD1 &+ UInt64(round) &* 0x51)
            for p in networkShapes(&rng) {
                if let failure = checkVNNIConv(p, dispatch: dispatch, pixels: pixels, &rng) {
                    Issue.record(Comment(rawValue: failure))
                    return
                }
            }
        }
    }

    @Test("channel- and pixel-lane VNNI convs: dispatched C passes on random shapes (strides, dilations, padding, groups, tails)",
          arguments: [HostWideDispatch.vnni, .avx2], [false, true])
    func convRandomShapes(dispatch: HostWideDispatch, pixels: Bool) {
        guard canRun(dispatch) && !(pixels && dispatch == .avx2) else { return }
        for c in 0..<(isDebugBuild ? 6 : 150) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD2 &+ UInt64(c) &* 0x9E37)
            let groups = [1, 1, 2, 3, 4, 11][rng.int(0...5)]
            let gIn = [1, 3, 4, 5, 6, 8, 13, 17, 32][rng.int(0...8)]
            let gOut = [1, 5, 6, 8, 16, 17, 24, 33, 48, 64, 70][rng.int(0...10)]
            let k = [1, 1, 2, 3, 3, 5][rng.int(0...5)]
            var p = layer(rng.int(k...13), gIn * groups, gOut * groups, k: k, stride: rng.int(1...3), groups: groups,
                          pad: rng.int(0...k - 1), &rng)
            p.padding.right = rng.int(0...k - 1)
            if rng.int(0...4) == 0 { p.dilationX = 2; p.inputWidth += k }
            if let failure = checkVNNIConv(p, dispatch: dispatch, pixels: pixels, &rng) {
                Issue.record(Comment(rawValue: failure))
                return
            }
        }
    }

    @Test("channel-lane conv, linear and depthwise, every dispatch: extreme operands (all −128 or 127 activations and weights, and mixes) at the largest K the quantizer allows",
          arguments: HostWideDispatch.allCases)
    func extremeOperands(dispatch: HostWideDispatch) {
        guard canRun(dispatch) else { return }
        // (input, input zero point, weight): u = q + 128 is 255 or 0 and w = −128, the products `vpmaddubsw` would
        // saturate; |Σ (q − z)·w| reaches K · 255 · 128 < 2^31 (K = 63,000 for the conv: 9 taps × 7,000 channels;
        // 65,000 for the linear layer), just inside the quantizer's accumulator bound.
        let cases: [(q: Int8?, z: Int32, w: Int8?)] = [(127, -128, -128), (-128, 127, -128), (-128, 127, 127),
                                                     (127, -128, 127), (-128, -128, 127), (nil, -128, nil),
                                                     (nil, 127, nil)]
        var varied = 0                                  // cases whose conv outputs are not all one value
        defer { #expect(varied >= 5, "only \(varied) cases give more than one output value") }
        for (c, e) in cases.enumerated() {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xDE &+ UInt64(c))
            @inline(__always) func values(_ n: Int, _ v: Int8?) -> [Int8] {
                (0..<n).map { _ in v ?? (rng.int(0...1) == 0 ? -128 : 127) }
            }
            let out = OutputQuantization(zeroPoint: Int32(rng.int(-128...127)))
            // Conv 3×3, 7,000 → 19 channels (a full and a partial block) on a 3×4 image with "same" padding.
            let p = Conv2DParams(inputHeight: 3, inputWidth: 4, inputChannels: 7000, outputChannels: 19,
                                 kernelHeight: 3, kernelWidth: 3, strideY: 1, strideX: 1,
                                 padding: ConvPadding(all: 1), dilationY: 1, dilationX: 1, groups: 1,
                                 inputZeroPoint: e.z, output: out)
            let input = values(p.inputCount, e.q), weights = values(p.weightCount, e.w)
            let bias = rng.int32s(p.outputChannels, -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(p.outputChannels, shifts: -31 ... -22)
            var ref = [Int8](repeating: 0, count: p.outputCount), got = [Int8](repeating: 99, count: p.outputCount)
            conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
            withScratch(hostWideVNNIConvPackedBytes(p)) { packed in
                hostWideVNNIConvPack(p, weights: weights, into: packed)
                withScratch(hostWideVNNIConvScratchBytes(p)) { scratch in
                    got.withUnsafeMutableBufferPointer { o in
                        hostWideVNNIConv(p, input: input, packed: packed, bias: bias, multipliers: mults,
                                         output: o.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
            #expect(got == ref, "conv case \(c) \(e) dispatch=\(dispatch): \(got.prefix(19)) against \(ref.prefix(19))")
            if Set(ref).count > 1 { varied += 1 }
            // Linear 65,000 → 17.
            let l = LinearParams(inputFeatures: 65000, outputFeatures: 17, inputZeroPoint: e.z, output: out)
            let li = values(l.inputFeatures, e.q), lw = values(l.inputFeatures * l.outputFeatures, e.w)
            var lref = [Int8](repeating: 0, count: 17), lgot = [Int8](repeating: 99, count: 17)
            linearReference(l, input: li, weights: lw, bias: bias, multipliers: mults, output: &lref)
            withScratch(hostWideVNNIConvPackedBytes(l.asConv)) { packed in
                hostWideVNNIConvPack(l.asConv, weights: lw, into: packed)
                withScratch(hostWideVNNILinearScratchBytes(l)) { scratch in
                    lgot.withUnsafeMutableBufferPointer { o in
                        hostWideVNNILinear(l, input: li, packed: packed, bias: bias, multipliers: mults,
                                           output: o.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
            #expect(lgot == lref, "linear case \(c) \(e) dispatch=\(dispatch): \(lgot) against \(lref)")
            // Depthwise 5×5 on 40 channels: |q − z| = 255 against ±128 in the int16 pairs.
            let d = DepthwiseConv2DParams(inputHeight: 6, inputWidth: 7, channels: 40, kernelHeight: 5,
                                          kernelWidth: 5, strideY: 1, strideX: 1, padding: ConvPadding(all: 2),
                                          dilationY: 1, dilationX: 1, inputZeroPoint: e.z, output: out)
            let di = values(d.inputCount, e.q), dw = values(d.weightCount, e.w)
            let dm = rng.multipliers(d.channels, shifts: -20 ... -8)
            var dref = [Int8](repeating: 0, count: d.outputCount), dgot = [Int8](repeating: 99, count: d.outputCount)
            depthwiseConv2dReference(d, input: di, weights: dw, bias: bias + bias + bias, multipliers: dm,
                                     output: &dref)
            withScratch(hostWideDepthwisePackedBytes(d)) { packed in
                hostWideDepthwisePack(d, weights: dw, into: packed)
                withScratch(hostWideDepthwiseScratchBytes(d)) { scratch in
                    dgot.withUnsafeMutableBufferPointer { o in
                        hostWideDepthwise(d, input: di, packed: packed, bias: bias + bias + bias, multipliers: dm,
                                          output: o.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
            #expect(dgot == dref, "depthwise case \(c) \(e) dispatch=\(dispatch)")
        }
    }

    @Test("VNNI linear: dispatched C passes (VNNI, AVX2) and Swift passes on random feature counts (quad and block tails)",
          arguments: HostWideDispatch.allCases)
    func linearRandom(dispatch: HostWideDispatch) {
        guard canRun(dispatch) else { return }
        for c in 0..<(isDebugBuild ? 6 : 100) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD3 &+ UInt64(c))
            let f = [1, 3, 4, 5, 8, 40, 63, 64, 129, 1280][rng.int(0...9)]
            let o = [1, 7, 16, 17, 63, 64, 65, 144, 1000][rng.int(0...8)]
            let p = LinearParams(inputFeatures: f, outputFeatures: o, inputZeroPoint: rng.zeroPoint(),
                                 output: rng.outputQuantization())
            let input = rng.int8s(f), weights = rng.int8s(f * o)
            let bias = rng.int32s(o, -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(o, shifts: -20...0)
            var ref = [Int8](repeating: 0, count: o), out = [Int8](repeating: 99, count: o)
            linearReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
            withScratch(hostWideVNNIConvPackedBytes(p.asConv)) { packed in
                hostWideVNNIConvPack(p.asConv, weights: weights, into: packed)
                withScratch(hostWideVNNILinearScratchBytes(p)) { scratch in
                    out.withUnsafeMutableBufferPointer { ob in
                        hostWideVNNILinear(p, input: input, packed: packed, bias: bias, multipliers: mults,
                                           output: ob.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
            if let at = (0..<o).first(where: { ref[$0] != out[$0] }) {
                Issue.record(Comment(rawValue: "seed=\(rng.seed) dispatch=\(dispatch) \(p): output \(at): "
                                     + "got \(out[at]), reference \(ref[at])"))
                return
            }
        }
    }

    @Test("fusion into the VNNI packings: dispatched C steps (VNNI, AVX2) and Swift steps on the networks' shapes",
          arguments: HostWideDispatch.allCases)
    func fusionShapes(dispatch: HostWideDispatch) {
        guard canRun(dispatch) else { return }
        var shapeRNG = SeededRNG(seed: testBaseSeed ^ 0xD4)
        let shapes = networkShapes(&shapeRNG)
        for c in 0..<(isDebugBuild ? 4 : 2 * shapes.count) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD5 &+ UInt64(c))
            let conv = shapes[c % shapes.count]
            let g = [1, 2, 4, 5, 8][rng.int(0...4)]
            let mode: FusionCoefficientMode = c % 2 == 0 ? .perChannel : .perLayer
            let f = DynamicFusionParams(kernelCount: g, conv: conv, coefficients: mode)
            let o = f.outputChannels
            let kernels = rng.int8s(g * f.kernelElements, -127...127)
            let eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
            let mixed = rng.int32s(g * o, -(1 << 16)...(1 << 16)), stat = rng.int32s(o, -(1 << 16)...(1 << 16))
            let m0 = rng.multipliers(o, shifts: -20...0)
            let (refKernel, refBias, refM) = referenceFusion(f, kernels: kernels, coefficients: eta, mixedBias: mixed,
                                                             staticBias: stat, staticMultipliers: m0)
            for pixelLane in [false, true] {
                let v: HostWideKernels.Variant = pixelLane ? .vnniPixels : .vnni
                let bytes = HostWideKernels.fusedConvWeightBytes(f, conv, v)
                var bias = [Int32](repeating: 7, count: o), mults = [QuantizedMultiplier](repeating: .zero, count: o)
                let same: Bool = withScratch(bytes) { fused in
                    withScratch(hostWideFusionScratchBytes(f, conv)) { scratch in
                        bias.withUnsafeMutableBufferPointer { b in
                            mults.withUnsafeMutableBufferPointer { fm in
                                hostWideFuseConv(f, conv, pixelLane: pixelLane, kernels: kernels, coefficients: eta,
                                                 mixedBias: mixed, staticBias: stat, staticMultipliers: m0,
                                                 biasAccumulator: b.baseAddress!, multipliers: fm.baseAddress!,
                                                 packed: fused, scratch: scratch, dispatch: dispatch)
                            }
                        }
                    }
                    return withScratch(bytes) { want in
                        HostWideKernels.packConvWeights(conv, v, weights: refKernel, into: want)
                        return memcmp(fused, want, bytes) == 0
                    }
                }
                #expect(same, "seed=\(rng.seed) \(v) dispatch=\(dispatch) \(f) \(conv): packed fused weights differ")
                #expect(bias == refBias, "seed=\(rng.seed) \(v) \(f): fused bias differs")
                #expect(mults == refM, "seed=\(rng.seed) \(v) \(f): fused multipliers differ")
            }
        }
    }

    @Test("depthwise: dispatched C rows (VNNI, AVX2) and Swift rows on MobileNetV2's shapes and random ones (tails, strides, dilations)",
          arguments: HostWideDispatch.allCases)
    func depthwiseShapes(dispatch: HostWideDispatch) {
        guard canRun(dispatch) else { return }
        for c in 0..<(isDebugBuild ? 6 : 120) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD6 &+ UInt64(c))
            let named: [(side: Int, ch: Int, stride: Int)] = [(12, 32, 1), (11, 96, 2), (8, 144, 1), (7, 144, 2),
                                                              (6, 192, 1), (5, 384, 1), (4, 576, 2), (3, 960, 1)]
            let p: DepthwiseConv2DParams
            if c < named.count {
                let s = named[c]
                p = DepthwiseConv2DParams(inputHeight: s.side, inputWidth: s.side + 2, channels: s.ch, kernelHeight: 3,
                                          kernelWidth: 3, strideY: s.stride, strideX: s.stride,
                                          padding: ConvPadding(all: 1), dilationY: 1, dilationX: 1,
                                          inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            } else {
                let kh = [1, 2, 3, 3, 5][rng.int(0...4)], kw = rng.int(0...3) == 0 ? rng.int(1...4) : kh
                let dy = rng.int(0...4) == 0 ? 2 : 1, dx = rng.int(0...4) == 0 ? 2 : 1
                let pad = ConvPadding(top: rng.int(0...kh - 1), left: rng.int(0...kw - 1), bottom: rng.int(0...kh - 1),
                                      right: rng.int(0...kw - 1))
                p = DepthwiseConv2DParams(
                    inputHeight: rng.int(max(1, dy * (kh - 1) + 1 - pad.top - pad.bottom)...9),
                    inputWidth: rng.int(max(1, dx * (kw - 1) + 1 - pad.left - pad.right)...9),
                    channels: [1, 5, 16, 31, 32, 33, 64, 96, 100, 144][rng.int(0...9)], kernelHeight: kh,
                    kernelWidth: kw, strideY: rng.int(1...2), strideX: rng.int(1...3), padding: pad, dilationY: dy,
                    dilationX: dx, inputZeroPoint: rng.zeroPoint(), output: rng.outputQuantization())
            }
            let input = rng.int8s(p.inputCount), weights = rng.int8s(p.weightCount, -127...127)
            let bias = rng.int32s(p.channels, -(1 << 20)...(1 << 20))
            let mults = rng.multipliers(p.channels, shifts: -20...0)
            var ref = [Int8](repeating: 0, count: p.outputCount), out = [Int8](repeating: 99, count: p.outputCount)
            depthwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
            withScratch(hostWideDepthwisePackedBytes(p)) { packed in
                hostWideDepthwisePack(p, weights: weights, into: packed)
                withScratch(hostWideDepthwiseScratchBytes(p)) { scratch in
                    out.withUnsafeMutableBufferPointer { o in
                        hostWideDepthwise(p, input: input, packed: packed, bias: bias, multipliers: mults,
                                          output: o.baseAddress!, scratch: scratch, dispatch: dispatch)
                    }
                }
            }
            if let at = (0..<p.outputCount).first(where: { ref[$0] != out[$0] }) {
                Issue.record(Comment(rawValue: "seed=\(rng.seed) dispatch=\(dispatch) \(p): output \(at) "
                                     + "(channel \(at % p.channels)): got \(out[at]), reference \(ref[at])"))
                return
            }
        }
    }

    @Test("add: dispatched C loops (VNNI, AVX2) and Swift loop on residual-add sizes and random counts, zero points and multipliers",
          arguments: HostWideDispatch.allCases)
    func addShapes(dispatch: HostWideDispatch) {
        guard canRun(dispatch) else { return }
        for c in 0..<(isDebugBuild ? 6 : 100) {
            var rng = SeededRNG(seed: testBaseSeed &+ 0xD7 &+ UInt64(c))
            let count = c < 4 ? [56 * 56 * 24, 28 * 28 * 32, 14 * 14 * 64, 7 * 7 * 160][c] : rng.int(1...700)
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: rng.multiplier(shifts: -10...0),
                              input2ZeroPoint: rng.zeroPoint(), input2Multiplier: rng.multiplier(shifts: -10...0),
                              outputMultiplier: rng.multiplier(shifts: -30...0), output: rng.outputQuantization())
            let a = rng.int8s(count), b = rng.int8s(count)
            var ref = [Int8](repeating: 0, count: count), out = [Int8](repeating: 99, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            hostWideAdd16(p, count: count, a, b, output: &out, dispatch: dispatch)
            if let at = (0..<count).first(where: { ref[$0] != out[$0] }) {
                Issue.record(Comment(rawValue: "seed=\(rng.seed) dispatch=\(dispatch) \(p) count \(count): "
                                     + "element \(at): got \(out[at]), reference \(ref[at])"))
                return
            }
        }
    }
}

#endif
