// `dynq bench --standard-layers` body: times the standard layers with every host kernel set (through the
// `KernelSet` interface: chooser, packing, kernel) and a plain float32 NCHW loop. Build in release (`swift build -c release`); debug timings of SIMD code are meaningless.
import DynQCore

/// One timed layer implementation.
struct LayerTiming {
    var layer: String
    var implementation: String
    var macs: Int
    var milliseconds: [Double]          // one per run, sorted

    var median: Double { milliseconds[milliseconds.count / 2] }
    var minimum: Double { milliseconds.first! }
    var maximum: Double { milliseconds.last! }
    var gmacPerSecond: Double { Double(macs) / (median * 1e-3) / 1e9 }
}

/// Times `body` `runs` times (after one warm-up run) with the standard library's ContinuousClock.
func timeRuns(_ runs: Int, _ body: () -> Void) -> [Double] {
    body()
    let clock = ContinuousClock()
    var ms: [Double] = []
    for _ in 0..<max(1, runs) {
        let start = clock.now
        body()
        let d = clock.now - start
        ms.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
    }
    return ms.sorted()
}

/// Reproducible layer data.
private extension SplitMix64 {
    mutating func int8s(_ n: Int, _ lo: Int, _ hi: Int) -> [Int8] {
        (0..<n).map { _ in Int8(lo + Int(next() % UInt64(hi - lo + 1))) }
    }
    mutating func floats(_ n: Int) -> [Float] {
        (0..<n).map { _ in Float(Int(next() % 2001) - 1000) / 1000 }
    }
}

/// Plain float32 convolution, NCHW input `[I][H][W]`, weights `[O][I/groups][kh][kw]`, output `[O][OH][OW]`:
/// the loop order that lets the compiler vectorise along output columns (the usual direct-convolution baseline).
private func floatConv2dNCHW(_ p: Conv2DParams, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
    let oh = p.outputHeight, ow = p.outputWidth, h = p.inputHeight, wd = p.inputWidth
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels
    for o in 0..<p.outputChannels {
        let dst = out + o * oh * ow
        for i in 0..<(oh * ow) { dst[i] = bias[o] }
        let group = o / gOut
        for i in 0..<gIn {
            let src = x + (group * gIn + i) * h * wd
            for ky in 0..<p.kernelHeight {
                for kx in 0..<p.kernelWidth {
                    let wv = w[((o * gIn + i) * p.kernelHeight + ky) * p.kernelWidth + kx]
                    // valid output columns: 0 <= ox·s − pl + kx·d < W
                    let off = kx * p.dilationX - p.padding.left
                    var x0 = 0
                    while x0 < ow && x0 * p.strideX + off < 0 { x0 += 1 }
                    var x1 = ow
                    while x1 > x0 && (x1 - 1) * p.strideX + off >= wd { x1 -= 1 }
                    for oy in 0..<oh {
                        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
                        if iy < 0 || iy >= h { continue }
                        let srow = src + iy * wd + off
                        let drow = dst + oy * ow
                        if p.strideX == 1 {
                            for ox in x0..<x1 { drow[ox] += wv * srow[ox] }
                        } else {
                            for ox in x0..<x1 { drow[ox] += wv * srow[ox * p.strideX] }
                        }
                    }
                }
            }
        }
    }
}

/// The kernel sets the standard layers are timed with, slowest first (the first is the baseline the others are
/// checked against and compared with). The oracle is left out: it is the law, not a candidate.
let benchKernelSets: [KernelSetChoice] = KernelSetChoice.allCases.filter { $0 != .oracle }

/// Times one conv layer (`p`; depthwise when `depthwise` is given) through one kernel set's interface: the
/// chooser once, the packing once (load time), then the kernel.
private struct ConvTiming: KernelSetUser {
    let p: Conv2DParams, depthwise: DepthwiseConv2DParams?, runs: Int
    let input: [Int8], weights: [Int8], bias: [Int32], mults: [QuantizedMultiplier]
    func use<K: StatelessKernelSet>(_ kernels: K.Type) -> ([Double], [Int8], String) {
        let k = K()
        var output = [Int8](repeating: 0, count: p.outputCount)
        let v = depthwise.map { K.chooseDepthwise($0) } ?? K.chooseConv(p)
        let packedBytes = depthwise.map { K.depthwisePackedWeightBytes($0, v) } ?? K.convPackedWeightBytes(p, v)
        let scratchBytes = depthwise.map { K.depthwiseScratchBytes($0, v) } ?? K.convScratchBytes(p, v)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: max(1, packedBytes), alignment: 16)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, scratchBytes), alignment: 16)
        defer { packed.deallocate(); scratch.deallocate() }
        return weights.withUnsafeBufferPointer { w in
            if packedBytes > 0 {
                if let d = depthwise { K.packDepthwiseWeights(d, v, weights: w.baseAddress!, into: packed) }
                else { K.packConvWeights(p, v, weights: w.baseAddress!, into: packed) }
            }
            let ms = timeRuns(runs) {
                input.withUnsafeBufferPointer { i in bias.withUnsafeBufferPointer { b in
                    mults.withUnsafeBufferPointer { m in output.withUnsafeMutableBufferPointer { o in
                        let a = ConvArguments(input: i.baseAddress!,
                                              weights: packedBytes > 0 ? UnsafeRawPointer(packed) : UnsafeRawPointer(w.baseAddress!),
                                              bias: b.baseAddress, multipliers: m.baseAddress!, output: o.baseAddress!,
                                              scratch: scratchBytes > 0 ? scratch : nil)
                        if let d = depthwise { k.depthwiseConv2d(d, v, a) } else { k.conv2d(p, v, a) }
                    } }
                } }
            }
            return (ms, output, "\(v)")
        }
    }
}

/// Times one conv layer with every bench kernel set (outputs checked equal to the first set's) and a plain
/// float32 NCHW loop.
private func benchConv(_ name: String, _ p: Conv2DParams, depthwise: DepthwiseConv2DParams?, runs: Int,
                       rng: inout SplitMix64) -> [LayerTiming] {
    let t = ConvTiming(p: p, depthwise: depthwise, runs: runs, input: rng.int8s(p.inputCount, -128, 127),
                       weights: rng.int8s(p.weightCount, -127, 127),     // OHWI, or [kh][kw][C] for depthwise
                       bias: (0..<p.outputChannels).map { _ in Int32(truncatingIfNeeded: rng.next() % 20001) - 10000 },
                       mults: (0..<p.outputChannels).map { _ in
                           QuantizedMultiplier(multiplier: Int32(1 << 30) + Int32(truncatingIfNeeded: rng.next() % (1 << 29)), shift: -8)
                       })
    var results: [LayerTiming] = []
    var baseline: [Int8]?
    for set in benchKernelSets {
        let (ms, output, variant) = try! set.with(t)
        if baseline == nil { baseline = output }
        let same = output == baseline
        results.append(LayerTiming(layer: name, implementation: "int8 \(set.rawValue) (\(variant))" + (same ? "" : " MISMATCH!"),
                                   macs: p.macs, milliseconds: ms))
    }

    // Float32 NCHW.
    let fx = rng.floats(p.inputCount), fw = rng.floats(p.weightCount), fb = rng.floats(p.outputChannels)
    var fo = [Float](repeating: 0, count: p.outputCount)
    let floatMs = timeRuns(runs) { floatConv2dNCHW(p, fx, fw, fb, &fo) }
    results.append(LayerTiming(layer: name, implementation: "float32 NCHW loop", macs: p.macs, milliseconds: floatMs))
    return results
}

/// Times one set's per-sample fusion of a conv layer, writing the fused kernel in the layout its conv reads.
private struct FusionTiming: KernelSetUser {
    let f: DynamicFusionParams, p: Conv2DParams, runs: Int
    let kernels: [Int8], eta: [Int16], bias: [Int32], m0: [QuantizedMultiplier]
    func use<K: StatelessKernelSet>(_ set: K.Type) -> ([Double], [Int32], [QuantizedMultiplier]) {
        let k = K()
        let v = K.chooseConv(p)
        let fused = UnsafeMutableRawPointer.allocate(byteCount: max(1, K.fusedConvWeightBytes(f, p, v)), alignment: 16)
        let scratchBytes = K.convFusionScratchBytes(f, p, v)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, scratchBytes), alignment: 16)
        defer { fused.deallocate(); scratch.deallocate() }
        var fusedBias = [Int32](repeating: 0, count: p.outputChannels)
        var mults = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels)
        let ms = timeRuns(runs) {
            kernels.withUnsafeBufferPointer { w in eta.withUnsafeBufferPointer { e in bias.withUnsafeBufferPointer { b in
                m0.withUnsafeBufferPointer { m in fusedBias.withUnsafeMutableBufferPointer { fb in
                    mults.withUnsafeMutableBufferPointer { fm in
                        k.fuseConv(f, p, v, FusionArguments(kernels: w.baseAddress!, coefficients: e.baseAddress!,
                                                            mixedBias: nil, staticBias: b.baseAddress,
                                                            staticMultipliers: m.baseAddress!, fusedWeights: fused,
                                                            fusedBias: fb.baseAddress!, fusedMultipliers: fm.baseAddress!,
                                                            scratch: scratchBytes > 0 ? scratch : nil))
                    }
                } }
            } } }
        }
        return (ms, fusedBias, mults)
    }
}

/// Times the per-sample fusion of a dynamic conv layer (`g` kernels of `conv`, per-channel sigmoid coefficients)
/// with every bench kernel set (each includes writing the fused kernel in its conv's layout; fused biases and
/// multipliers checked equal to the first set's), and the float mix `W = Σ_t η_t·W_t` (no renormalisation: what
/// a float runtime does). MACs are `g·O·K`.
private func benchFusion(_ name: String, g: Int, conv p: Conv2DParams, runs: Int,
                         rng: inout SplitMix64) -> [LayerTiming] {
    let f = DynamicFusionParams(kernelCount: g, conv: p, coefficients: .perChannel)
    let t = FusionTiming(f: f, p: p, runs: runs, kernels: rng.int8s(g * p.weightCount, -127, 127),
                         eta: (0..<f.coefficientCount).map { _ in Int16(truncatingIfNeeded: rng.next() % 32768) },
                         bias: (0..<p.outputChannels).map { _ in Int32(truncatingIfNeeded: rng.next() % 20001) - 10000 },
                         m0: (0..<p.outputChannels).map { _ in
                             QuantizedMultiplier(multiplier: Int32(1 << 30) + Int32(truncatingIfNeeded: rng.next() % (1 << 29)), shift: -20)
                         })
    let macs = g * p.weightCount
    var results: [LayerTiming] = []
    var baseline: ([Int32], [QuantizedMultiplier])?
    for set in benchKernelSets {
        let (ms, fb, fm) = try! set.with(t)
        if baseline == nil { baseline = (fb, fm) }
        let same = fb == baseline!.0 && fm == baseline!.1
        results.append(LayerTiming(layer: name, implementation: "int8 \(set.rawValue)" + (same ? "" : " MISMATCH!"),
                                   macs: macs, milliseconds: ms))
    }
    let fk = rng.floats(g * p.weightCount), fe = rng.floats(g * p.outputChannels)
    var fw = [Float](repeating: 0, count: p.weightCount)
    let k = p.weightsPerOutputChannel, size = p.weightCount
    let floatMs = timeRuns(runs) {
        fk.withUnsafeBufferPointer { w in fe.withUnsafeBufferPointer { e in fw.withUnsafeMutableBufferPointer { out in
            for o in 0..<p.outputChannels {
                for i in 0..<k { out[o * k + i] = 0 }
                for t in 0..<g {
                    let c = e[o * g + t], src = t * size + o * k
                    for i in 0..<k { out[o * k + i] += c * w[src + i] }
                }
            }
        } } }
    }
    results.append(LayerTiming(layer: name, implementation: "float32 mix", macs: macs, milliseconds: floatMs))
    return results
}

/// Fixed-point decimal formatting without Foundation.
private func fixed(_ v: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let neg = v < 0
    let a = Int((neg ? -v : v) * scale + 0.5)          // round half up on the magnitude
    let whole = a / Int(scale), frac = a % Int(scale)
    var f = String(frac)
    while f.count < decimals { f = "0" + f }
    return (neg ? "-" : "") + String(whole) + (decimals > 0 ? "." + f : "")
}

private func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    s.count >= n ? s : (left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
}

/// The timings of the three standard layers (3×3 conv 64→64 at 56×56, depthwise 3×3 128 ch at 28×28,
/// 1×1 conv 128→256 at 28×28), each as int8 reference, int8 SIMD and float32, `runs` timed runs each.
func benchStandardLayerTimings(runs: Int) -> [LayerTiming] {
    var rng = SplitMix64(seed: 0xB0_0B1E5)
    let conv = Conv2DParams(inputHeight: 56, inputWidth: 56, inputChannels: 64, outputChannels: 64, kernelHeight: 3,
                            kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: -3,
                            output: OutputQuantization(zeroPoint: 5))
    let dw = DepthwiseConv2DParams(inputHeight: 28, inputWidth: 28, channels: 128, kernelHeight: 3, kernelWidth: 3,
                                   padding: ConvPadding(all: 1), inputZeroPoint: 7,
                                   output: OutputQuantization(zeroPoint: -2))
    let pw = Conv2DParams(inputHeight: 28, inputWidth: 28, inputChannels: 128, outputChannels: 256, kernelHeight: 1,
                          kernelWidth: 1, inputZeroPoint: -3, output: OutputQuantization(zeroPoint: 5))
    // Dy-mobile's dynamic layers at 14×14: a 1×1 conv 96→96 (K = 96) and the grouped 3×3 with 6 channels per group
    // (K = 54, the pixel-lane conv's packing).
    let fusionPointwise = Conv2DParams(inputHeight: 14, inputWidth: 14, inputChannels: 96, outputChannels: 96,
                                       kernelHeight: 1, kernelWidth: 1, inputZeroPoint: 0,
                                       output: OutputQuantization(zeroPoint: 0))
    let fusionGrouped = Conv2DParams(inputHeight: 14, inputWidth: 14, inputChannels: 96, outputChannels: 96,
                                     kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), groups: 16,
                                     inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
    return benchConv("conv 3x3 64->64 @56x56", conv, depthwise: nil, runs: runs, rng: &rng)
        + benchConv("depthwise 3x3 128 @28x28", dw.asGroupedConv, depthwise: dw, runs: runs, rng: &rng)
        + benchConv("conv 1x1 128->256 @28x28", pw, depthwise: nil, runs: runs, rng: &rng)
        + benchFusion("fusion g=6 1x1 96->96", g: 6, conv: fusionPointwise, runs: runs, rng: &rng)
        + benchFusion("fusion g=6 3x3 6/group", g: 6, conv: fusionGrouped, runs: runs, rng: &rng)
}

/// `dynq bench`: a table of median / min / max milliseconds, GMAC/s (at the median) and the speed-up over the
/// int8 reference, for the three standard layers. Meaningful only in a release build.
func benchStandardLayers(runs: Int) -> String {
    let rows = benchStandardLayerTimings(runs: runs)
    var s = pad("layer", 27) + pad("implementation", 30) + pad("median ms", 11, left: true) + pad("min ms", 10, left: true)
        + pad("max ms", 10, left: true) + pad("GMAC/s", 9, left: true) + pad("vs 1st", 9, left: true) + "\n"
    var refMedian = 1.0
    var layer = ""
    for r in rows {
        if r.layer != layer { layer = r.layer; refMedian = r.median }     // the first row of a layer: the baseline
        s += pad(r.layer, 27) + pad(r.implementation, 30) + pad(fixed(r.median, 3), 11, left: true)
            + pad(fixed(r.minimum, 3), 10, left: true) + pad(fixed(r.maximum, 3), 10, left: true)
            + pad(fixed(r.gmacPerSecond, 2), 9, left: true) + pad(fixed(refMedian / r.median, 1) + "x", 9, left: true) + "\n"
    }
    #if DEBUG
    s += "(debug build: SIMD timings are not meaningful; use swift build -c release)\n"
    #endif
    s += "runs per row: \(max(1, runs)) after one warm-up; every kernel set's output checked equal to the first set's (the scalar kernels, which the tests check against the oracle)\n"
    return s
}
