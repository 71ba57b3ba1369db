// Hand-checked tiny cases of every reference kernel: the numbers in each test are worked out in its comment.
import Testing
@testable import DynQCore

/// M = 1: `apply(x) == x`.
private let one = QuantizedMultiplier(multiplier: 1 << 30, shift: 1)
/// M = ½.
private let half = QuantizedMultiplier(multiplier: 1 << 30, shift: 0)

@Suite("Reference convolutions compute Σ (q − z_in)·w + bias, requantize, add z_out, clamp")
struct ReferenceConvTests {
    @Test("2x2 kernel on a 3x3 image with input and output zero points")
    func conv2x2() {
        // (q − 1) = [0 1 2; 3 4 5; 6 7 8], w = [1 2; 3 4], bias 10, M = 1, z_out = −5:
        // (0,0): 0+2+9+16 = 27 → 37 → 32; (0,1): 1+4+12+20 = 37 → 42; (1,0): 57 → 62; (1,1): 67 → 72.
        let p = Conv2DParams(inputHeight: 3, inputWidth: 3, inputChannels: 1, outputChannels: 1,
                             kernelHeight: 2, kernelWidth: 2, inputZeroPoint: 1,
                             output: OutputQuantization(zeroPoint: -5))
        var out = [Int8](repeating: 0, count: 4)
        conv2dReference(p, input: [1, 2, 3, 4, 5, 6, 7, 8, 9], weights: [1, 2, 3, 4], bias: [10],
                        multipliers: [one], output: &out)
        #expect(out == [32, 42, 62, 72])
    }

    @Test("3x3 ones, padding 1, stride 2: padded taps contribute zero")
    func paddingStride() {
        // windows centred on (0,0), (0,2), (2,0), (2,2) of [1..9]: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
        let p = Conv2DParams(inputHeight: 3, inputWidth: 3, inputChannels: 1, outputChannels: 1,
                             kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 2, padding: ConvPadding(all: 1),
                             inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        var out = [Int8](repeating: 0, count: 4)
        conv2dReference(p, input: [1, 2, 3, 4, 5, 6, 7, 8, 9], weights: [Int8](repeating: 1, count: 9), bias: nil,
                        multipliers: [one], output: &out)
        #expect(out == [12, 16, 24, 28])
    }

    @Test("dilation 2 reads the corners of a 3x3 image")
    func dilation() {
        let p = Conv2DParams(inputHeight: 3, inputWidth: 3, inputChannels: 1, outputChannels: 1,
                             kernelHeight: 2, kernelWidth: 2, dilationY: 2, dilationX: 2,
                             inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        var out: [Int8] = [0]
        conv2dReference(p, input: [1, 2, 3, 4, 5, 6, 7, 8, 9], weights: [1, 1, 1, 1], bias: nil,
                        multipliers: [one], output: &out)
        #expect(out == [20])   // 1 + 3 + 7 + 9
    }

    @Test("asymmetric padding (left only) shifts the window")
    func asymmetricPadding() {
        // row [1 2 3], kernel [1 10], pad left 1: [pad·1 + 1·10, 1 + 20, 2 + 30]
        let p = Conv2DParams(inputHeight: 1, inputWidth: 3, inputChannels: 1, outputChannels: 1,
                             kernelHeight: 1, kernelWidth: 2, padding: ConvPadding(top: 0, left: 1, bottom: 0, right: 0),
                             inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        #expect(p.outputWidth == 3)
        var out = [Int8](repeating: 0, count: 3)
        conv2dReference(p, input: [1, 2, 3], weights: [1, 10], bias: nil, multipliers: [one], output: &out)
        #expect(out == [10, 21, 32])
    }

    @Test("groups == 2: each output channel reads only its group's inputs")
    func grouped() {
        // input [1 2 3 4]; o0 = 1·1 + 2·1 = 3 (channels 0,1); o1 = 3·1 + 4·(−1) = −1 (channels 2,3)
        let p = Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: 4, outputChannels: 2,
                             kernelHeight: 1, kernelWidth: 1, groups: 2,
                             inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        var out: [Int8] = [0, 0]
        conv2dReference(p, input: [1, 2, 3, 4], weights: [1, 1, 1, -1], bias: nil, multipliers: [one, one], output: &out)
        #expect(out == [3, -1])
    }

    @Test("M = 1/2 rounds ties toward +infinity and the ReLU clamp holds at the zero point")
    func roundingAndClamp() {
        // acc = 3 → 1.5 → 2; acc = −3 → −1.5 → −1, then + z_out 4 = 3, clamped to act_min 4 (ReLU at z_out).
        let p = Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: 1, outputChannels: 2,
                             kernelHeight: 1, kernelWidth: 1, inputZeroPoint: 0,
                             output: OutputQuantization(zeroPoint: 4, activationMin: 4, activationMax: 127))
        var out: [Int8] = [0, 0]
        conv2dReference(p, input: [3], weights: [1, -1], bias: nil, multipliers: [half, half], output: &out)
        #expect(out == [6, 4])
    }

    @Test("depthwise: each channel convolves with its own [kh][kw] weights")
    func depthwise() {
        // HWC input (1,10) (2,20) (3,30) (4,40); weights [kh][kw][C] = (1,0) (1,0) (1,0) (1,1): ch0 = 10, ch1 = 40.
        let p = DepthwiseConv2DParams(inputHeight: 2, inputWidth: 2, channels: 2, kernelHeight: 2, kernelWidth: 2,
                                      inputZeroPoint: 0, output: OutputQuantization(zeroPoint: 0))
        var out: [Int8] = [0, 0]
        depthwiseConv2dReference(p, input: [1, 10, 2, 20, 3, 30, 4, 40], weights: [1, 0, 1, 0, 1, 0, 1, 1],
                                 bias: nil, multipliers: [one, one], output: &out)
        #expect(out == [10, 40])
    }

    @Test("pointwise: a 1x1 conv per pixel with weights [O][I]")
    func pointwise() {
        // pixels (1,2) and (3,−1), z_in = −1 → (2,3), (4,0); w = [1 1; 2 −1] → (5, 1), (4, 8)
        let p = Conv2DParams(inputHeight: 1, inputWidth: 2, inputChannels: 2, outputChannels: 2,
                             kernelHeight: 1, kernelWidth: 1, inputZeroPoint: -1, output: OutputQuantization(zeroPoint: 0))
        var out = [Int8](repeating: 0, count: 4)
        pointwiseConv2dScalar(p, input: [1, 2, 3, -1], weights: [1, 1, 2, -1], bias: nil,
                                 multipliers: [one, one], output: &out)
        #expect(out == [5, 1, 4, 8])
    }

    @Test("linear: (q − z_in)·W + bias")
    func linear() {
        // (q − 1) = [0 1 2]; W = [1 1 1; −1 0 2] → [3, 4]; bias [0, −4] → [3, 0]
        let p = LinearParams(inputFeatures: 3, outputFeatures: 2, inputZeroPoint: 1,
                             output: OutputQuantization(zeroPoint: 0))
        var out: [Int8] = [0, 0]
        linearReference(p, input: [1, 2, 3], weights: [1, 1, 1, -1, 0, 2], bias: [0, -4], multipliers: [one, one],
                        output: &out)
        #expect(out == [3, 0])
    }
}

@Suite("Reference fusion follows docs/numerics.md formula by formula")
struct ReferenceFusionTests {
    @Test("per-channel fusion: F, A, R, round-half-away q_f, bias_acc and M = M0·2^32/R")
    func perChannel() {
        // η = (½, ½) in Q15 = 16384 each; q_w[0] = [127, −127], q_w[1] = [127, 0]
        // F = [16384·254, −16384·127] = [4161536, −2080768]; A = 4161536 = 127·2^15, R = 127·2^32/A = 2^17
        // q_f = F·R/2^32 = F/2^15 = [127, round(−63.5) = −64 (away from zero)]
        // B = 16384·100 + 16384·200 + 1·2^15 = 4947968; bias_acc = B·R/2^32 = 151 exactly
        // M0 = (2^30, −10) → M = M0 · 2^32/R = M0 · 2^15 = (2^30, 5)
        let p = DynamicFusionParams(kernelCount: 2, outputChannels: 1, elementsPerChannel: 2, coefficients: .perChannel)
        var fused: [Int8] = [0, 0]
        var bias: [Int32] = [0]
        var m: [QuantizedMultiplier] = [.zero]
        dynamicFusionReference(p, kernels: [127, -127, 127, 0], coefficients: [16384, 16384], mixedBias: [100, 200],
                               staticBias: [1], staticMultipliers: [QuantizedMultiplier(multiplier: 1 << 30, shift: -10)],
                               fusedKernel: &fused, biasAccumulator: &bias, multipliers: &m)
        #expect(fused == [127, -64])
        #expect(bias == [151])
        #expect(m == [QuantizedMultiplier(multiplier: 1 << 30, shift: 5)])
    }

    @Test("per-layer fusion in the depthwise [K][C] layout")
    func perLayerDepthwise() {
        // g = 2, C = 2, K = 2, η = [32767, 0]: F = 32767·q_w[0]; q_w[0] = [[127, 10], [0, −10]] ([k][c])
        // c0: F = [127·32767, 0] → A = 127·32767, R = ⌊2^32/32767⌋ → [127, 0]; c1: F = ±10·32767 → [127, −127]
        let p = DynamicFusionParams(kernelCount: 2, outputChannels: 2, elementsPerChannel: 2, layout: .channelsLast,
                                    coefficients: .perLayer)
        var fused = [Int8](repeating: 0, count: 4)
        var bias: [Int32] = [0, 0]
        var m: [QuantizedMultiplier] = [.zero, .zero]
        let m0 = QuantizedMultiplier(multiplier: 1 << 30, shift: -20)
        dynamicFusionReference(p, kernels: [127, 10, 0, -10, 1, 0, 1, 0], coefficients: [32767, 0], mixedBias: nil,
                               staticBias: nil, staticMultipliers: [m0, m0],
                               fusedKernel: &fused, biasAccumulator: &bias, multipliers: &m)
        #expect(fused == [127, 127, 0, -127])
        #expect(bias == [0, 0])
        #expect(m == [m0.scaledByFusionReciprocal(fusionReciprocal(127 * 32767)),
                      m0.scaledByFusionReciprocal(fusionReciprocal(10 * 32767))])
    }

    @Test("A == 0 gives a zero kernel and keeps the static bias with the capped R = 2^32 − 1")
    func zeroChannel() {
        // η = 0: F = 0, A = 0 → R = 2^32 − 1; B = 3·2^15 → bias_acc = round(98304·(2^32 − 1)/2^32) = 98304;
        // M = M0·2^32/(2^32 − 1), which rounds to M0
        let p = DynamicFusionParams(kernelCount: 1, outputChannels: 1, elementsPerChannel: 3, coefficients: .perChannel)
        var fused: [Int8] = [9, 9, 9]
        var bias: [Int32] = [0]
        var m: [QuantizedMultiplier] = [.zero]
        let m0 = QuantizedMultiplier(multiplier: 1 << 30, shift: -3)
        dynamicFusionReference(p, kernels: [5, -5, 7], coefficients: [0], mixedBias: nil, staticBias: [3],
                               staticMultipliers: [m0], fusedKernel: &fused, biasAccumulator: &bias, multipliers: &m)
        #expect(fused == [0, 0, 0])
        #expect(bias == [3 * 32768])
        #expect(m == [m0])
    }

    @Test func fusedBiasIsClampedToTheAccumulatorHeadroom() {
        // A tiny fused kernel (A = 1, so R = 2^32 − 1 and q_f = F) with a large static bias: B·R/2^32 ≈ 2^20·2^15
        // overflows int32. It is clamped to 2^31 − 1 − K·255·127 (K = 3), so bias + K products (q − z)·q_f stays
        // inside int32.
        let p = DynamicFusionParams(kernelCount: 1, outputChannels: 1, elementsPerChannel: 3, coefficients: .perChannel)
        let headroom = Int32(Int64(Int32.max) - 3 * 255 * 127)
        for sign: Int32 in [1, -1] {
            var fused: [Int8] = [0, 0, 0]
            var bias: [Int32] = [0]
            var m: [QuantizedMultiplier] = [.zero]
            let m0 = QuantizedMultiplier(multiplier: 1 << 30, shift: -3)
            dynamicFusionReference(p, kernels: [1, 0, 0], coefficients: [1], mixedBias: nil, staticBias: [sign << 20],
                                   staticMultipliers: [m0], fusedKernel: &fused, biasAccumulator: &bias, multipliers: &m)
            #expect(fused == [1, 0, 0])
            #expect(bias == [sign * headroom])
            var simdFused: [Int8] = [0, 0, 0]
            var simdBias: [Int32] = [0]
            var simdM: [QuantizedMultiplier] = [.zero]
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: dynamicFusionScratchBytes(p), alignment: 16)
            defer { scratch.deallocate() }
            dynamicFusion(p, kernels: [1, 0, 0], coefficients: [1], mixedBias: nil, staticBias: [sign << 20],
                          staticMultipliers: [m0], fusedKernel: &simdFused, biasAccumulator: &simdBias,
                          multipliers: &simdM, scratch: scratch)
            #expect(simdFused == fused && simdBias == bias && simdM == m)
        }
    }
}

@Suite("Reference pooling keeps scale and zero point")
struct ReferencePoolTests {
    private func pool(_ p: Pool2DParams, _ input: [Int8], max: Bool) -> [Int8] {
        var out = [Int8](repeating: 0, count: p.outputCount)
        if max { maxPool2dReference(p, input: input, output: &out) } else { avgPool2dReference(p, input: input, output: &out) }
        return out
    }

    @Test("2x2 max and average pool of [1 2; 3 5] with z = 1")
    func window() {
        let p = Pool2DParams(inputHeight: 2, inputWidth: 2, channels: 1, kernelHeight: 2, kernelWidth: 2,
                             strideY: 2, strideX: 2, zeroPoint: 1)
        #expect(pool(p, [1, 2, 3, 5], max: true) == [5])
        #expect(pool(p, [1, 2, 3, 5], max: false) == [3])   // (0+1+2+4)/4 = 1.75 → 2, + z
    }

    @Test("padded avgpool divides by the window when countIncludePad, else by the in-image taps")
    func countIncludePad() {
        // each 2x2 window sees one pixel: (q − z) = 0, 1, 2, 4
        // include pad: 0/4, 1/4 = .25 → 0, 2/4 = .5 → 1 (tie away), 4/4 = 1; exclude: 0, 1, 2, 4
        var p = Pool2DParams(inputHeight: 2, inputWidth: 2, channels: 1, kernelHeight: 2, kernelWidth: 2,
                             strideY: 2, strideX: 2, padding: ConvPadding(all: 1), countIncludePad: true, zeroPoint: 1)
        #expect(pool(p, [1, 2, 3, 5], max: false) == [1, 1, 2, 2])
        p.countIncludePad = false
        #expect(pool(p, [1, 2, 3, 5], max: false) == [1, 2, 3, 5])
        #expect(pool(p, [1, 2, 3, 5], max: true) == [1, 2, 3, 5])     // padding is ignored by max
    }

    @Test("negative ties in avgpool round away from zero")
    func negativeTie() {
        // z = 5, q = 3 → (q − z) = −2, /4 = −0.5 → −1 → 4
        let p = Pool2DParams(inputHeight: 1, inputWidth: 1, channels: 1, kernelHeight: 2, kernelWidth: 2,
                             strideY: 1, strideX: 1, padding: ConvPadding(top: 1, left: 1, bottom: 0, right: 0),
                             countIncludePad: true, zeroPoint: 5)
        #expect(pool(p, [3], max: false) == [4])
    }

    @Test("global average pool: int32 sum then one requantization")
    func globalAverage() {
        // ch0 Σ = 10 · ¼ = 2.5 → 3 (ties up), ch1 Σ = −5 · ¼ = −1.25 → −1; z_out = 1 → [4, 0]
        let p = GlobalAveragePoolParams(height: 2, width: 2, channels: 2, inputZeroPoint: 0,
                                        multiplier: QuantizedMultiplier(multiplier: 1 << 30, shift: -1),
                                        output: OutputQuantization(zeroPoint: 1))
        var out: [Int8] = [0, 0]
        globalAveragePoolReference(p, input: [1, -1, 2, -1, 3, -1, 4, -2], output: &out)
        #expect(out == [4, 0])
    }
}

@Suite("Reference element-wise kernels")
struct ReferenceElementwiseTests {
    @Test("add: (q << 20)·½ per input, sum, ·2^−19 = q1 + q2 + z_out, clamped")
    func add() {
        let p = AddParams(input1ZeroPoint: 0, input1Multiplier: half, input2ZeroPoint: 0, input2Multiplier: half,
                          outputMultiplier: QuantizedMultiplier(multiplier: 1 << 30, shift: -18),
                          output: OutputQuantization(zeroPoint: 0))
        var out: [Int8] = [0, 0, 0]
        addReference(p, count: 3, input1: [1, 100, -100], input2: [2, 100, -100], output: &out)
        #expect(out == [3, 127, -128])
    }

    @Test("add subtracts each input's zero point")
    func addZeroPoints() {
        // (10 − 4) + (−3 − (−5)) = 8, z_out = −2 → 6
        let p = AddParams(input1ZeroPoint: 4, input1Multiplier: half, input2ZeroPoint: -5, input2Multiplier: half,
                          outputMultiplier: QuantizedMultiplier(multiplier: 1 << 30, shift: -18),
                          output: OutputQuantization(zeroPoint: -2))
        var out: [Int8] = [0]
        addReference(p, count: 1, input1: [10], input2: [-3], output: &out)
        #expect(out == [6])
    }

    @Test("table ops index by q + 128 over all 256 inputs")
    func tables() {
        let table = (0..<256).map { Int8(truncatingIfNeeded: 127 - $0) }       // q ↦ −1 − q
        let input = (0..<256).map { Int8(truncatingIfNeeded: $0 - 128) }
        var out = [Int8](repeating: 0, count: 256)
        lookupTable(count: 256, input: input, table: table, output: &out)
        #expect(out == input.map { -1 - $0 })
        let t16 = (0..<256).map { Int16($0 * 100) }
        var eta = [Int16](repeating: 0, count: 256)
        sigmoidGate(count: 256, logits: input, table: t16, coefficients: &eta)
        #expect(eta == t16)
    }

    @Test("per-channel input table maps uint8 pixels")
    func inputTables() {
        let tables = (0..<512).map { Int8(truncatingIfNeeded: $0 < 256 ? $0 - 128 : 127 - ($0 - 256)) }
        var out = [Int8](repeating: 0, count: 4)
        inputTable(pixels: 2, channels: 2, image: [0, 0, 255, 255], tables: tables, output: &out)
        #expect(out == [-128, 127, 127, -128])
    }

    /// E[d] = 2^16 / 2^d (d ≤ 16), 0 beyond: exp(−d·ln 2).
    private let expTable: [UInt32] = (0..<256).map { $0 <= 16 ? UInt32(65536) >> UInt32($0) : 0 }

    @Test("softmax gate: E = [2^16, 2^15] gives Q15 [21845, 10923] (2/3, 1/3, rounded)")
    func softmaxGate() {
        var eta = [Int16](repeating: 0, count: 5)
        DynQCore.softmaxGate(chunkCount: 1, chunkSize: 2, logits: [5, 4], expTable: expTable, coefficients: &eta)
        #expect(Array(eta[0..<2]) == [21845, 10923])
        // two chunks of 2 with equal logits: ½ each; a single-element chunk clamps 1.0 to 32767
        var eta2 = [Int16](repeating: 0, count: 4)
        DynQCore.softmaxGate(chunkCount: 2, chunkSize: 2, logits: [-7, -7, 100, 100], expTable: expTable, coefficients: &eta2)
        #expect(eta2 == [16384, 16384, 16384, 16384])
        var eta1: [Int16] = [0]
        DynQCore.softmaxGate(chunkCount: 1, chunkSize: 1, logits: [3], expTable: expTable, coefficients: &eta1)
        #expect(eta1 == [32767])
    }

    @Test("int8 softmax: scale 1/256, zero point −128")
    func softmaxInt8() {
        // 2/3 · 256 = 170.67 → 171 − 128 = 43; 1/3 · 256 = 85.33 → 85 − 128 = −43; one element: 256 → 255 → 127
        var out: [Int8] = [0, 0]
        DynQCore.softmaxInt8(chunkCount: 1, chunkSize: 2, logits: [5, 4], expTable: expTable, output: &out)
        #expect(out == [43, -43])
        var one: [Int8] = [0]
        DynQCore.softmaxInt8(chunkCount: 1, chunkSize: 1, logits: [-128], expTable: expTable, output: &one)
        #expect(one == [127])
    }
}

@Suite("Reference data movement")
struct ReferenceDataMovementTests {
    @Test("concat along channels, the second input requantized by ½ with zero points")
    func concat() {
        var out = [Int8](repeating: 0, count: 6)
        concatInput(outerCount: 2, inputInner: 1, outputInner: 3, offset: 0, input: [1, 2], requantize: nil, output: &out)
        // (q − 2)·½ + 1: 6 → 3, 3 → 1 (0.5 → 1), −2 → −1, 10 → 5
        let r = Requantize(inputZeroPoint: 2, multiplier: half, output: OutputQuantization(zeroPoint: 1))
        concatInput(outerCount: 2, inputInner: 2, outputInner: 3, offset: 1, input: [6, 3, -2, 10], requantize: r,
                    output: &out)
        #expect(out == [1, 3, 2, 2, -1, 5])
    }

    @Test("channel_shuffle with 2 groups interleaves the halves")
    func shuffle() {
        var out = [Int8](repeating: 0, count: 12)
        channelShuffle(pixels: 2, channels: 6, groups: 2, input: [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15],
                       output: &out)
        #expect(out == [0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15])
    }

    @Test("channel_split slices a channel range per pixel")
    func slice() {
        var out = [Int8](repeating: 0, count: 4)
        channelSlice(pixels: 2, inputChannels: 4, start: 1, count: 2, input: [0, 1, 2, 3, 10, 11, 12, 13], output: &out)
        #expect(out == [1, 2, 11, 12])
    }

    @Test("flatten reorders HWC to CHW")
    func flatten() {
        var out = [Int8](repeating: 0, count: 8)
        flattenHWCToCHW(height: 2, width: 2, channels: 2, input: [0, 10, 1, 11, 2, 12, 3, 13], output: &out)
        #expect(out == [0, 1, 2, 3, 10, 11, 12, 13])
    }
}
