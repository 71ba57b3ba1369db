// NEON per-sample fusion of a dynamic depthwise layer: bit-exact twin of `dynamicFusionReference` (channels-last
// `[g][kh][kw][C]` kernels) followed by `packDepthwiseConv2dWeights`, written straight into the tap-pair layout the
// NEON (and SIMD128) depthwise kernel reads.
//
// Channels are the lanes. The coefficients go once into a `[g][C₈]` int16 table (zero for the padding channels);
// then per 8-channel block and kernel element `F = Σ_t η[c,t] · w[t,e,c]` is one `LD1` + `SXTL` of 8 weights and
// `SMLAL` + `SMLAL2` per kernel (`|F| ≤ g · 32767 · 127 < 2^31` for g ≤ 516: exact in the int32 lanes), stored to
// scratch with a running `max |F|` per lane. Each channel's `R = fusionReciprocal(A)`, bias and multiplier are the
// reference's (`fusionChannelFinish`, NEONFusion.swift); each fused value is `fusedKernelValue(F, R)`, stored as int16 at its
// tap-pair slot. A last block with fewer than 8 channels reads its weights through a zero-padded copy, so no byte
// past the kernels is read.
import DynQIntrinsics

/// Scratch bytes of `neonFuseDepthwise`: F (`K · C₈` int32), the coefficient table (`g · C₈` int16, rounded up to
/// 4 bytes) and the reciprocals (`C₈` UInt32).
public func neonDepthwiseFusionScratchBytes(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams) -> Int {
    let cp = depthwisePaddedChannels(p)
    return f.elementsPerChannel * cp * 4 + (f.kernelCount * cp * 2 + 3) / 4 * 4 + cp * 4
}

/// The fusion of one sample: `packed` ends equal to `packDepthwiseConv2dWeights(p)` of the reference's fused
/// kernel, `fusedBias` and `fusedMultipliers` to the reference's. `f` is the layer's fusion (`.channelsLast`,
/// `elementsPerChannel == kh·kw`, `outputChannels == C`); scratch of `neonDepthwiseFusionScratchBytes(f, p)` bytes.
@usableFromInline
internal func neonFuseDepthwise(_ f: DynamicFusionParams, _ p: DepthwiseConv2DParams, _ a: FusionArguments) {
    let g = f.kernelCount, c = f.outputChannels, k = f.elementsPerChannel
    let cp = depthwisePaddedChannels(p), blocks = cp / depthwiseBlockChannels
    let kernelSize = k * c
    let scratch = a.scratch!
    let fs = scratch.bindMemory(to: Int32.self, capacity: k * cp)
    let etaTable = (scratch + k * cp * 4).bindMemory(to: Int16.self, capacity: g * cp)
    let reciprocals = (scratch + k * cp * 4 + (g * cp * 2 + 3) / 4 * 4).bindMemory(to: UInt32.self, capacity: cp)
    let perChannel = f.coefficients == .perChannel
    for t in 0..<g {
        for ch in 0..<cp {
            etaTable[t &* cp &+ ch] = ch < c ? (perChannel ? a.coefficients[ch &* g &+ t] : a.coefficients[t]) : 0
        }
    }

    for b in 0..<blocks {
        let c0 = b &* depthwiseBlockChannels
        let full = c &- c0 >= depthwiseBlockChannels
        var max0 = SIMD4<Int32>(), max1 = SIMD4<Int32>()
        for e in 0..<k {
            var lo = SIMD4<Int32>(), hi = SIMD4<Int32>()
            var w = a.kernels + (e &* c &+ c0)
            for t in 0..<g {
                let w8: SIMD8<Int8>
                if full {
                    w8 = UnsafeRawPointer(w).loadUnaligned(as: SIMD8<Int8>.self)
                } else {                                      // the last channels: a zero-padded copy
                    var v = SIMD8<Int8>()
                    for l in 0..<(c &- c0) { v[l] = w[l] }
                    w8 = v
                }
                let eta = UnsafeRawPointer(etaTable + (t &* cp &+ c0)).loadUnaligned(as: SIMD8<Int16>.self)
                let wv = SIMD8<Int16>(truncatingIfNeeded: w8)
                lo = dynq_neon_smlal_low_s16(lo, wv, eta)
                hi = dynq_neon_smlal_high_s16(hi, wv, eta)
                w += kernelSize
            }
            let at = UnsafeMutableRawPointer(fs + (e &* cp &+ c0))
            at.storeBytes(of: lo, as: SIMD4<Int32>.self)
            at.storeBytes(of: hi, toByteOffset: 16, as: SIMD4<Int32>.self)
            max0 = dynq_neon_smax_s32(max0, dynq_neon_abs_s32(lo))
            max1 = dynq_neon_smax_s32(max1, dynq_neon_abs_s32(hi))
        }
        for l in 0..<depthwiseBlockChannels where c0 &+ l < c {
            let ch = c0 &+ l
            reciprocals[ch] = fusionChannelFinish(f, channel: ch, maxAbs: l < 4 ? max0[l] : max1[l &- 4], a,
                                                  values: fs + ch, stride: cp)
        }
    }

    // The fused values in the tap-pair layout: element e of channel ch at int16 slot ((e/2)·C₈ + ch)·2 + e mod 2.
    let packed = a.fusedWeights.bindMemory(to: Int16.self, capacity: (k &+ 1) / 2 &* cp &* 2)
    for e in 0..<k {
        let row = fs + (e &* cp)
        let slot = packed + ((e >> 1) &* cp &* 2 &+ (e & 1))
        for ch in 0..<c { slot[ch &* 2] = Int16(fusedKernelValue(row[ch], reciprocal: reciprocals[ch])) }
        for ch in c..<cp { slot[ch &* 2] = 0 }
    }
    if k & 1 == 1 {                                           // odd tap count: the last pair's second tap is zero
        let slot = packed + ((k >> 1) &* cp &* 2 &+ 1)
        for ch in 0..<cp { slot[ch &* 2] = 0 }
    }
}
