// Weight packing for the SIMD conv kernels: `packConv2dWeights` writes every byte of its buffer with the layout
// its doc comment states (checked against an independent index formula on a poisoned buffer), and the fusion's
// per-channel packing (`dynamicFusion(…, packFor:packed:)`) equals packing the reference fused kernel.
import Testing
@testable import DynQCore

/// The packed int16 value at element `index` of `packConv2dWeights(p, w)`, from the stated layouts:
/// GEMM `[group][block of 8][K/2][8][2]`, small groups `[group][tap][pair][channel in group][4][2]`.
private func expectedPacked(_ p: Conv2DParams, _ w: [Int8], _ index: Int) -> Int16 {
    let k = p.weightsPerOutputChannel, gOut = p.groupOutputChannels
    if groupedConv2dApplies(p) {
        let gIn = p.groupInputChannels, pairs = (gIn + 1) / 2, taps = p.kernelHeight * p.kernelWidth
        var r = index / 8                                    // 16-byte entry
        let h = index % 2
        let ch = r % gOut; r /= gOut
        let j = r % pairs; r /= pairs
        let t = r % taps; let g = r / taps
        let i = 2 * j + h
        return i < gIn ? Int16(w[(g * gOut + ch) * k + t * gIn + i]) : 0
    }
    let kp = (k + 1) / 2, blocks = (gOut + 7) / 8
    var r = index
    let h = r % 2; r /= 2
    let lane = r % 8; r /= 8
    let pair = r % kp; r /= kp
    let b = r % blocks; let g = r / blocks
    let oc = b * 8 + lane, e = 2 * pair + h
    return oc < gOut && e < k ? Int16(w[(g * gOut + oc) * k + e]) : 0
}

private let packingShapes: [(String, Conv2DParams)] = {
    let q = OutputQuantization(zeroPoint: 0)
    func c(_ ic: Int, _ oc: Int, _ k: Int, _ g: Int) -> Conv2DParams {
        Conv2DParams(inputHeight: 5, inputWidth: 5, inputChannels: ic, outputChannels: oc, kernelHeight: k,
                     kernelWidth: k, padding: ConvPadding(all: k / 2), groups: g, inputZeroPoint: 0, output: q)
    }
    return [("1x1, O % 8 == 2 (18 → 18)", c(18, 18, 1, 1)), ("3x3, odd K (3 → 13)", c(3, 13, 3, 1)),
            ("1x1, O == 16, K == 32", c(32, 16, 1, 1)), ("grouped 2 x (8 → 9)", c(16, 18, 3, 2)),
            ("small groups 3 x (6 → 6)", c(18, 18, 3, 3)), ("small groups, odd I_g (3 → 5)", c(9, 15, 3, 3))]
}()

@Suite("SIMD weight packing")
struct SIMDPackingTests {
    @Test("the SIMD128 chooser's packing writes every byte of its packed size with the documented layout")
    func layout() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x9AC)
        for (name, p) in packingShapes {
            let w = rng.int8s(p.weightCount, -127...127)
            let v = SIMD128Kernels.chooseConv(p)
            let bytes = SIMD128Kernels.convPackedWeightBytes(p, v)
            withScratch(bytes) { packed in                              // poisoned with 0xA5
                SIMD128Kernels.packConvWeights(p, v, weights: w, into: packed)
                let values = packed.bindMemory(to: Int16.self, capacity: bytes / 2)
                for i in 0..<(bytes / 2) where values[i] != expectedPacked(p, w, i) {
                    Issue.record("\(name): packed element \(i) = \(values[i]), expected \(expectedPacked(p, w, i))")
                    return
                }
            }
        }
    }

    @Test("dynamicFusion(packFor:pixelLane:packed:) equals the chosen variant's packing of the reference fused kernel")
    func fusionPacksEachChannel() {
        var rng = SeededRNG(seed: testBaseSeed ^ 0x9AD)
        for (name, p) in packingShapes {
            for mode in [FusionCoefficientMode.perChannel, .perLayer] {
                let g = rng.int(1...6)
                let f = DynamicFusionParams(kernelCount: g, conv: p, coefficients: mode)
                let kernels = rng.int8s(g * f.kernelElements, -127...127)
                let eta = (0..<f.coefficientCount).map { _ in Int16(rng.int(0...32767)) }
                let m0 = rng.multipliers(p.outputChannels, shifts: -31 ... -10)
                var fr = [Int8](repeating: 0, count: f.kernelElements), fs = fr
                var br = [Int32](repeating: 0, count: p.outputChannels), bs = br
                var mr = [QuantizedMultiplier](repeating: .zero, count: p.outputChannels), ms = mr
                dynamicFusionReference(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: nil,
                                       staticMultipliers: m0, fusedKernel: &fr, biasAccumulator: &br, multipliers: &mr)
                let v = SIMD128Kernels.chooseConv(p)
                let bytes = SIMD128Kernels.convPackedWeightBytes(p, v)
                withScratch(bytes) { want in
                    SIMD128Kernels.packConvWeights(p, v, weights: fr, into: want)
                    withScratch(bytes) { got in
                        withScratch(dynamicFusionScratchBytes(f)) { s in
                            dynamicFusion(f, kernels: kernels, coefficients: eta, mixedBias: nil, staticBias: nil,
                                          staticMultipliers: m0, fusedKernel: &fs, biasAccumulator: &bs,
                                          multipliers: &ms, scratch: s, packFor: p, pixelLane: v == .pixelLane,
                                          packed: got)
                        }
                        #expect(fs == fr, "\(name) \(mode): fused kernel")
                        #expect(bs == br && ms == mr, "\(name) \(mode): bias / multipliers")
                        if let i = (0..<bytes).first(where: { got.load(fromByteOffset: $0, as: UInt8.self)
                                                              != want.load(fromByteOffset: $0, as: UInt8.self) }) {
                            Issue.record("seed=\(rng.seed) \(name) \(mode) g=\(g): packed byte \(i) differs")
                        }
                    }
                }
            }
        }
    }
}

@Suite("SIMD requantization block layout")
struct RequantizeBlockTests {
    @Test("the block's fields lie back to back: 3 × 8 int32 lanes then 3 × 8 uint64 lanes, 288 bytes")
    func layout() {
        #expect(RequantizeBlock.bias == 0 && RequantizeBlock.cap == 32 && RequantizeBlock.capReplacement == 64)
        #expect(RequantizeBlock.multipliers == 96 && RequantizeBlock.rounding == 160 && RequantizeBlock.shifts == 224)
        #expect(RequantizeBlock.bytes == 288 && requantizeBlockBytes == 288)
    }
}
