// Kernel benchmark of the HostWide set against the SIMD128 kernels (scripts/bench-hostwide.sh builds and runs it):
// for each standard layer, every implementation runs once to check its output equals the reference kernel's (a
// "MISMATCH" line otherwise), then ROUNDS interleaved rounds time one call of each (thread CPU time, so load from
// other processes on a shared machine inflates the numbers less); prints each one's median, min, GMAC/s and its
// ratio to the first implementation. Usage: Bench [ROUNDS] [FILTER] (FILTER: conv3x3, conv1x1, stem, thin,
// depthwise, add, linear, maxpool).
import DynQCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func cpuNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

var rng = SplitMix64(seed: 42)
func i8s(_ n: Int, _ lo: Int = -128, _ hi: Int = 127) -> [Int8] {
    (0..<n).map { _ in Int8(lo + Int(rng.next() % UInt64(hi - lo + 1))) }
}

struct Impl { let name: String; let run: () -> Void; let check: () -> Bool }
struct Layer { let name: String; let macs: Int; let impls: [Impl] }

let args = CommandLine.arguments
let rounds = args.count > 1 ? Int(args[1])! : 5
let filter = args.count > 2 ? args[2] : ""

func convLayer(_ name: String, _ p: Conv2DParams) -> Layer {
    let input = i8s(p.inputCount), weights = i8s(p.weightCount, -127, 127)
    let bias = (0..<p.outputChannels).map { _ in Int32(truncatingIfNeeded: rng.next() % 20001) - 10000 }
    let mults = (0..<p.outputChannels).map { _ in
        QuantizedMultiplier(multiplier: Int32(1 << 30) + Int32(truncatingIfNeeded: rng.next() % (1 << 29)), shift: -8)
    }
    var ref = [Int8](repeating: 0, count: p.outputCount)
    conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
    let out = UnsafeMutablePointer<Int8>.allocate(capacity: p.outputCount)
    var impls: [Impl] = []
    func check() -> Bool { (0..<p.outputCount).allSatisfy { out[$0] == ref[$0] } }
    for (vname, v) in [("simd128", SIMD128Kernels.chooseConv(p) == .pixelLane ? HostWideKernels.Variant.simd128PixelLane : .simd128Tile), ("hw-vnni", .vnni), ("hw-pix", .vnniPixels)] {
        let pb = HostWideKernels.convPackedWeightBytes(p, v), sb = HostWideKernels.convScratchBytes(p, v)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: pb, alignment: 64)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: sb, alignment: 64)
        HostWideKernels.packConvWeights(p, v, weights: weights, into: packed)
        let a = ConvArguments(input: input.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }, weights: packed, bias: bias.withUnsafeBufferPointer { $0.baseAddress! },
                              multipliers: mults.withUnsafeBufferPointer { $0.baseAddress! }, output: out, scratch: scratch)
        let inp = UnsafeMutablePointer<Int8>.allocate(capacity: p.inputCount); inp.initialize(from: input, count: p.inputCount)
        let bb = UnsafeMutablePointer<Int32>.allocate(capacity: bias.count); bb.initialize(from: bias, count: bias.count)
        let mm = UnsafeMutablePointer<QuantizedMultiplier>.allocate(capacity: mults.count); mm.initialize(from: mults, count: mults.count)
        var aa = a; aa.input = UnsafePointer(inp); aa.bias = UnsafePointer(bb); aa.multipliers = UnsafePointer(mm)
        let fixed = aa
        impls.append(Impl(name: vname, run: { HostWideKernels().conv2d(p, v, fixed) }, check: check))
    }
    return Layer(name: name, macs: p.macs, impls: impls)
}

func poolLayer(_ name: String, _ p: Pool2DParams) -> Layer {
    let input = i8s(p.inputHeight * p.inputWidth * p.channels)
    var ref = [Int8](repeating: 0, count: p.outputCount)
    maxPool2dReference(p, input: input, output: &ref)
    let inp = UnsafeMutablePointer<Int8>.allocate(capacity: input.count); inp.initialize(from: input, count: input.count)
    let out = UnsafeMutablePointer<Int8>.allocate(capacity: p.outputCount)
    func check() -> Bool { (0..<p.outputCount).allSatisfy { out[$0] == ref[$0] } }
    return Layer(name: name, macs: p.outputCount * p.kernelHeight * p.kernelWidth, impls: [
        Impl(name: "reference", run: { maxPool2dReference(p, input: inp, output: out) }, check: check),
        Impl(name: "simd128", run: { maxPool2d(p, input: inp, output: out) }, check: check),
        Impl(name: "hw", run: { HostWideKernels().maxPool2d(p, input: inp, output: out) }, check: check),
    ])
}

func dwLayer(_ name: String, _ p: DepthwiseConv2DParams) -> Layer {
    let input = i8s(p.inputCount), weights = i8s(p.weightCount, -127, 127)
    let bias = (0..<p.channels).map { _ in Int32(truncatingIfNeeded: rng.next() % 20001) - 10000 }
    let mults = (0..<p.channels).map { _ in
        QuantizedMultiplier(multiplier: Int32(1 << 30) + Int32(truncatingIfNeeded: rng.next() % (1 << 29)), shift: -8)
    }
    var ref = [Int8](repeating: 0, count: p.outputCount)
    depthwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
    let out = UnsafeMutablePointer<Int8>.allocate(capacity: p.outputCount)
    func check() -> Bool { (0..<p.outputCount).allSatisfy { out[$0] == ref[$0] } }
    var impls: [Impl] = []
    for (vname, v) in [("simd128", HostWideKernels.Variant.simd128Depthwise), ("hw-sse2", .sse2Depthwise), ("hw-wide", .wideDepthwise)] {
        let packed = UnsafeMutableRawPointer.allocate(byteCount: HostWideKernels.depthwisePackedWeightBytes(p, v), alignment: 64)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: HostWideKernels.depthwiseScratchBytes(p, v), alignment: 64)
        HostWideKernels.packDepthwiseWeights(p, v, weights: weights, into: packed)
        let inp = UnsafeMutablePointer<Int8>.allocate(capacity: p.inputCount); inp.initialize(from: input, count: p.inputCount)
        let bb = UnsafeMutablePointer<Int32>.allocate(capacity: bias.count); bb.initialize(from: bias, count: bias.count)
        let mm = UnsafeMutablePointer<QuantizedMultiplier>.allocate(capacity: mults.count); mm.initialize(from: mults, count: mults.count)
        let a = ConvArguments(input: inp, weights: packed, bias: bb, multipliers: mm, output: out, scratch: scratch)
        impls.append(Impl(name: vname, run: { HostWideKernels().depthwiseConv2d(p, v, a) }, check: check))
    }
    return Layer(name: name, macs: p.macs, impls: impls)
}

func addLayer(_ name: String, count: Int) -> Layer {
    let a = i8s(count), b = i8s(count)
    let p = AddParams(input1ZeroPoint: 5, input1Multiplier: QuantizedMultiplier(multiplier: 1_500_000_000, shift: -1),
                      input2ZeroPoint: -9, input2Multiplier: QuantizedMultiplier(multiplier: 1_200_000_000, shift: -1),
                      outputMultiplier: QuantizedMultiplier(multiplier: 1_400_000_000, shift: -19), output: OutputQuantization(zeroPoint: 2))
    var ref = [Int8](repeating: 0, count: count)
    addReference(p, count: count, input1: a, input2: b, output: &ref)
    let pa = UnsafeMutablePointer<Int8>.allocate(capacity: count); pa.initialize(from: a, count: count)
    let pb = UnsafeMutablePointer<Int8>.allocate(capacity: count); pb.initialize(from: b, count: count)
    let out = UnsafeMutablePointer<Int8>.allocate(capacity: count)
    func check() -> Bool { (0..<count).allSatisfy { out[$0] == ref[$0] } }
    return Layer(name: name, macs: count, impls: [
        Impl(name: "simd128", run: { add(p, count: count, input1: pa, input2: pb, output: out) }, check: check),
        Impl(name: "hw", run: { HostWideKernels().add(p, count: count, pa, pb, output: out) }, check: check),
    ])
}

func linearLayer(_ name: String, _ p: LinearParams) -> Layer {
    let input = i8s(p.inputFeatures), weights = i8s(p.macs, -127, 127)
    let bias = (0..<p.outputFeatures).map { _ in Int32(truncatingIfNeeded: rng.next() % 20001) - 10000 }
    let mults = (0..<p.outputFeatures).map { _ in
        QuantizedMultiplier(multiplier: Int32(1 << 30) + Int32(truncatingIfNeeded: rng.next() % (1 << 29)), shift: -8)
    }
    var ref = [Int8](repeating: 0, count: p.outputFeatures)
    linearReference(p, input: input, weights: weights, bias: bias, multipliers: mults, output: &ref)
    let out = UnsafeMutablePointer<Int8>.allocate(capacity: p.outputFeatures)
    func check() -> Bool { (0..<p.outputFeatures).allSatisfy { out[$0] == ref[$0] } }
    var impls: [Impl] = []
    for (vname, v) in [("simd128", HostWideKernels.Variant.simd128Linear), ("hw-vnni", .vnniLinear)] {
        let packed = UnsafeMutableRawPointer.allocate(byteCount: HostWideKernels.linearPackedWeightBytes(p, v), alignment: 64)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: HostWideKernels.linearScratchBytes(p, v), alignment: 64)
        HostWideKernels.packLinearWeights(p, v, weights: weights, into: packed)
        let inp = UnsafeMutablePointer<Int8>.allocate(capacity: input.count); inp.initialize(from: input, count: input.count)
        let bb = UnsafeMutablePointer<Int32>.allocate(capacity: bias.count); bb.initialize(from: bias, count: bias.count)
        let mm = UnsafeMutablePointer<QuantizedMultiplier>.allocate(capacity: mults.count); mm.initialize(from: mults, count: mults.count)
        let a = ConvArguments(input: inp, weights: packed, bias: bb, multipliers: mm, output: out, scratch: scratch)
        impls.append(Impl(name: vname, run: { HostWideKernels().linear(p, v, a) }, check: check))
    }
    return Layer(name: name, macs: p.macs, impls: impls)
}

let oq = OutputQuantization(zeroPoint: -5, activationMin: -128, activationMax: 127)
var layers: [Layer] = []
func want(_ n: String) -> Bool { filter.isEmpty || n.contains(filter) }
if want("conv3x3") {
layers.append(convLayer("conv3x3 64->64 @56", Conv2DParams(inputHeight: 56, inputWidth: 56, inputChannels: 64, outputChannels: 64,
    kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: 3, output: oq)))
}
if want("conv1x1") {
layers.append(convLayer("conv1x1 128->256 @28", Conv2DParams(inputHeight: 28, inputWidth: 28, inputChannels: 128, outputChannels: 256,
    kernelHeight: 1, kernelWidth: 1, inputZeroPoint: -7, output: oq)))
}
if want("stem") {
layers.append(convLayer("stem3x3 s2 3->32 @224", Conv2DParams(inputHeight: 224, inputWidth: 224, inputChannels: 3, outputChannels: 32,
    kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 2, padding: ConvPadding(all: 1), inputZeroPoint: 0, output: oq)))
layers.append(convLayer("stem7x7 s2 3->64 @224", Conv2DParams(inputHeight: 224, inputWidth: 224, inputChannels: 3, outputChannels: 64,
    kernelHeight: 7, kernelWidth: 7, strideY: 2, strideX: 2, padding: ConvPadding(all: 3), inputZeroPoint: 0, output: oq)))
}
if want("thin") {
layers.append(convLayer("grouped3x3 18 g3 @112", Conv2DParams(inputHeight: 112, inputWidth: 112, inputChannels: 18, outputChannels: 18,
    kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), groups: 3, inputZeroPoint: -128, output: oq)))
layers.append(convLayer("grouped3x3 s2 24 g4 @112", Conv2DParams(inputHeight: 112, inputWidth: 112, inputChannels: 24, outputChannels: 24,
    kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 2, padding: ConvPadding(all: 1), groups: 4, inputZeroPoint: -128, output: oq)))
layers.append(convLayer("1x1 32->18 @112", Conv2DParams(inputHeight: 112, inputWidth: 112, inputChannels: 32, outputChannels: 18,
    kernelHeight: 1, kernelWidth: 1, inputZeroPoint: -128, output: oq)))
layers.append(convLayer("1x1 18->18 @112", Conv2DParams(inputHeight: 112, inputWidth: 112, inputChannels: 18, outputChannels: 18,
    kernelHeight: 1, kernelWidth: 1, inputZeroPoint: -128, output: oq)))
}
if want("depthwise") {
layers.append(dwLayer("depthwise 3x3 128 @28", DepthwiseConv2DParams(inputHeight: 28, inputWidth: 28, channels: 128, kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: 3, output: oq)))
layers.append(dwLayer("depthwise 3x3 s2 96 @112", DepthwiseConv2DParams(inputHeight: 112, inputWidth: 112, channels: 96, kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 2, padding: ConvPadding(all: 1), inputZeroPoint: 3, output: oq)))
layers.append(dwLayer("depthwise 3x3 144 @56", DepthwiseConv2DParams(inputHeight: 56, inputWidth: 56, channels: 144, kernelHeight: 3, kernelWidth: 3, padding: ConvPadding(all: 1), inputZeroPoint: 3, output: oq)))
}
if want("add") {
layers.append(addLayer("add 56x56x24", count: 56 * 56 * 24))
layers.append(addLayer("add 28x28x32", count: 28 * 28 * 32))
}
if want("linear") {
layers.append(linearLayer("linear 1280->1000", LinearParams(inputFeatures: 1280, outputFeatures: 1000, inputZeroPoint: 3, output: oq)))
layers.append(linearLayer("linear 40->5832", LinearParams(inputFeatures: 40, outputFeatures: 5832, inputZeroPoint: 3, output: oq)))
}
if want("maxpool") {
layers.append(poolLayer("maxpool 3x3 s2 112x112x64", Pool2DParams(inputHeight: 112, inputWidth: 112, channels: 64, kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 2, padding: ConvPadding(all: 1), zeroPoint: 0)))
}
for l in layers {
    var times = [[Double]](repeating: [], count: l.impls.count)
    for (i, im) in l.impls.enumerated() { im.run(); if !im.check() { print("MISMATCH \(l.name) \(im.name)") } }
    for _ in 0..<rounds {
        for (i, im) in l.impls.enumerated() {
            let t0 = cpuNanos(); im.run(); let t1 = cpuNanos()
            times[i].append(Double(t1 - t0) / 1e6)
        }
    }
    let base = times[0].sorted()[rounds / 2]
    for (i, im) in l.impls.enumerated() {
        let s = times[i].sorted(); let med = s[rounds / 2]
        let g = Double(l.macs) / (med * 1e-3) / 1e9
        print(l.name.padding(toLength: 26, withPad: " ", startingAt: 0), im.name.padding(toLength: 10, withPad: " ", startingAt: 0),
              "median", String(format: "%.3f", med), "ms min", String(format: "%.3f", s[0]), "GMAC/s", String(format: "%.1f", g),
              "x", String(format: "%.2f", base / med))
    }
}
