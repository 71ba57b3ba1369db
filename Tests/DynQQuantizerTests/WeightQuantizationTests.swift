import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

@Suite struct WeightQuantizationTests {
    @Test func perChannelScaleIsSharedByTheKernelsOfAChannel() {
        // [g = 2, O = 2, 1, 1, 2]: channel 0 has max 0.5 (kernel 1), channel 1 max 2 (kernel 0).
        let w = Tensor(shape: [2, 2, 1, 1, 2], data: [0.1, -0.2, 2, 1, 0.5, 0.25, -1, 0])
        let q = quantizeWeights(w, channelAxis: 1)
        #expect(q.scales == [0.5 / 127, 2.0 / 127])
        #expect(q.values == [25, -51, 127, 64, 127, 64, -64, 0])
        #expect(q.maxAbsQ == [127, 127])
    }

    @Test func symmetricRangeNeverMinus128() {
        var r = SeededRandom(11)
        let w = r.tensor([8, 3, 3, 3], -2, 2)
        for g in [WeightGranularity.perChannel, .perTensor] {
            let q = quantizeWeights(w, channelAxis: 0, granularity: g)
            #expect(q.values.allSatisfy { $0 >= -127 })
            // Dequantization error ≤ half a step.
            for k in 0..<w.count {
                let s = q.scales[k / 27]
                #expect(abs(Double(w.data[k]) - Double(q.values[k]) * s) <= s / 2 + 1e-12)
            }
        }
    }

    @Test func perChannelBeatsPerTensorOnUnevenChannels() {
        var r = SeededRandom(12)
        var w = r.tensor([4, 8, 3, 3], -1, 1)
        for k in 0..<72 { w.data[k] *= 0.01 }    // channel 0 is 100× smaller
        let pc = quantizeWeights(w, channelAxis: 0, granularity: .perChannel)
        let pt = quantizeWeights(w, channelAxis: 0, granularity: .perTensor)
        #expect(pt.scales.allSatisfy { $0 == pt.scales[0] })
        #expect(pc.sqnrDB > pt.sqnrDB)
        // Uniform weights, 8 bits: about 6.02·8 − ... well above 35 dB.
        #expect(pc.sqnrDB > 35)
    }

    @Test func zeroChannelGetsAPositiveScale() {
        let w = Tensor(shape: [2, 2], data: [0, 0, 1, -1])
        let q = quantizeWeights(w, channelAxis: 0)
        #expect(q.scales[0] > 0)
        #expect(q.values == [0, 0, 127, -127])
        #expect(q.sqnrDB == .infinity)
    }
}
