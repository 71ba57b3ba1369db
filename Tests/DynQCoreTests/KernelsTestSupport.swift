// Shared helpers of the Numerics* and Kernels* tests: a seeded, printable RNG and buffer helpers.
import Testing
@testable import DynQCore

/// SplitMix64: small, fast, and the same sequence everywhere. Every randomized test prints its seed in the failure
/// message, so `SeededRNG(seed:)` with that seed replays the failing case.
struct SeededRNG: RandomNumberGenerator {
    private var stream: SplitMix64
    let seed: UInt64
    init(seed: UInt64) { self.seed = seed; self.stream = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { stream.next() }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
    mutating func int8s(_ n: Int, _ r: ClosedRange<Int8> = -128...127) -> [Int8] {
        (0..<n).map { _ in Int8.random(in: r, using: &self) }
    }
    mutating func int32s(_ n: Int, _ r: ClosedRange<Int32>) -> [Int32] {
        (0..<n).map { _ in Int32.random(in: r, using: &self) }
    }
    /// A valid multiplier `m ∈ [2^30, 2^31)`, `e` in `shifts`.
    mutating func multiplier(shifts: ClosedRange<Int32> = -12 ... -4) -> QuantizedMultiplier {
        QuantizedMultiplier(multiplier: Int32.random(in: (1 << 30)...Int32.max, using: &self),
                            shift: Int32.random(in: shifts, using: &self))
    }
    mutating func multipliers(_ n: Int, shifts: ClosedRange<Int32> = -12 ... -4) -> [QuantizedMultiplier] {
        (0..<n).map { _ in multiplier(shifts: shifts) }
    }
    /// Zero points biased toward the extremes −128 and 127.
    mutating func zeroPoint() -> Int32 {
        switch int(0...3) { case 0: return -128; case 1: return 127; default: return Int32(int(-128...127)) }
    }
    mutating func outputQuantization() -> OutputQuantization {
        let z = zeroPoint()
        switch int(0...2) {
        case 0: return OutputQuantization(zeroPoint: z)
        case 1: return OutputQuantization(zeroPoint: z, activationMin: max(z, -128), activationMax: 127)   // ReLU
        default:
            let lo = Int32(int(-128...0)), hi = Int32(int(0...127))
            return OutputQuantization(zeroPoint: z, activationMin: lo, activationMax: hi)
        }
    }
}

/// A base seed for randomized tests: fixed so CI is reproducible; every case derives its own from it.
let testBaseSeed: UInt64 = 0x00D1_1A0C_2025

/// True in debug builds, where SIMD code runs ~1000× slower: randomized sweeps shrink there.
let isDebugBuild: Bool = _isDebugAssertConfiguration()

/// A scratch buffer for a kernel, 16-byte aligned, released after `body`.
func withScratch<R>(_ bytes: Int, _ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 16)
    defer { p.deallocate() }
    // Poison: kernels must not depend on scratch contents.
    p.initializeMemory(as: UInt8.self, repeating: 0xA5, count: max(bytes, 1))
    return try body(p)
}

// MARK: - Layer shapes every kernel set's tests use (each set keeps its own case table)

/// A conv layer shape with a name (a parameterized test's argument).
struct ConvCase: CustomTestStringConvertible, Sendable {
    let name: String
    var h: Int, w: Int, ic: Int, oc: Int, kh: Int, kw: Int
    var sy = 1, sx = 1
    var pad = ConvPadding.zero
    var dy = 1, dx = 1
    var groups = 1
    var testDescription: String { name }

    func params(zIn: Int32, output: OutputQuantization) -> Conv2DParams {
        Conv2DParams(inputHeight: h, inputWidth: w, inputChannels: ic, outputChannels: oc, kernelHeight: kh,
                     kernelWidth: kw, strideY: sy, strideX: sx, padding: pad, dilationY: dy, dilationX: dx,
                     groups: groups, inputZeroPoint: zIn, output: output)
    }
}

/// A depthwise layer shape with a name (a parameterized test's argument).
struct DepthwiseCase: CustomTestStringConvertible, Sendable {
    let name: String
    var h: Int, w: Int, c: Int, kh: Int, kw: Int
    var sy = 1, sx = 1
    var pad = ConvPadding.zero
    var dy = 1, dx = 1
    var testDescription: String { name }
    func params(zIn: Int32, output: OutputQuantization) -> DepthwiseConv2DParams {
        DepthwiseConv2DParams(inputHeight: h, inputWidth: w, channels: c, kernelHeight: kh, kernelWidth: kw,
                              strideY: sy, strideX: sx, padding: pad, dilationY: dy, dilationX: dx,
                              inputZeroPoint: zIn, output: output)
    }
}

extension SeededRNG {
    /// A random fully connected layer for the sweeps: 1...300 input features, 1...40 outputs, a random input zero
    /// point and output quantization.
    mutating func randomLinearParams() -> LinearParams {
        LinearParams(inputFeatures: int(1...300), outputFeatures: int(1...40), inputZeroPoint: zeroPoint(),
                     output: outputQuantization())
    }
}

/// The input zero point a zero-point kind (`zeroPointKinds`) names: the two extremes, or a random one from `rng`.
func zeroPoint(ofKind kind: String, _ rng: inout SeededRNG) -> Int32 {
    switch kind { case "z_in == -128": return -128; case "z_in == 127": return 127; default: return Int32(rng.int(-128...127)) }
}

/// The oracle's fusion of one sample (`dynamicFusionReference`) as arrays: the fused int8 kernel, the bias
/// accumulators and the per-sample output multipliers.
func referenceFusion(_ f: DynamicFusionParams, kernels: [Int8], coefficients: [Int16], mixedBias: [Int32],
                     staticBias: [Int32], staticMultipliers: [QuantizedMultiplier])
    -> (kernel: [Int8], bias: [Int32], multipliers: [QuantizedMultiplier]) {
    var kernel = [Int8](repeating: 0, count: f.kernelElements)
    var bias = [Int32](repeating: 0, count: f.outputChannels)
    var multipliers = [QuantizedMultiplier](repeating: .zero, count: f.outputChannels)
    dynamicFusionReference(f, kernels: kernels, coefficients: coefficients, mixedBias: mixedBias, staticBias: staticBias,
                           staticMultipliers: staticMultipliers, fusedKernel: &kernel, biasAccumulator: &bias,
                           multipliers: &multipliers)
    return (kernel, bias, multipliers)
}
