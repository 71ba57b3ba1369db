// Cortex-M DSP fully connected layer: bit-exact twin of `linearReference`.
//
// The input row is widened once into scratch as `(q − z_in)` A/B word pairs (SXTAB16, as in DSPConv.swift), then
// each pair of output channels runs a 2-channel × 1-row tile: per 4 features, one LDRD of the row pair, one
// unaligned LDR of 4 int8 weights per channel (`[O][F]`, in place), 4 widenings, 4 SMLAD (8 MACs). The `F mod 4`
// tail features are multiplied one by one from the input. An odd channel count repeats the last channel.

import DynQIntrinsics

extension CortexMDSPKernels {
    public static func chooseLinear(_ p: LinearParams) -> Variant { .channelPairs }

    /// 0: the int8 `[O][F]` weights are read in place.
    public static func linearPackedWeightBytes(_ p: LinearParams, _ v: Variant) -> Int { 0 }

    /// Nothing to pack.
    public static func packLinearWeights(_ p: LinearParams, _ v: Variant, weights: UnsafePointer<Int8>,
                                         into: UnsafeMutableRawPointer) {}

    /// Scratch bytes of `linear`: the widened input row, `⌊F/4⌋` A/B pairs (8 bytes each).
    public static func linearScratchBytes(_ p: LinearParams, _ v: Variant) -> Int {
        8 * (p.inputFeatures / 4)
    }

    /// DSP fully connected layer: same contract and results as `linearReference`; `a.weights` is the int8 `[O][F]`
    /// weights (any alignment), `a.scratch` at least `linearScratchBytes(p, v)` bytes, 4-byte aligned (may be nil
    /// when that is 0).
    public func linear(_ p: LinearParams, _ v: Variant, _ a: ConvArguments) {
        let f = p.inputFeatures, outC = p.outputFeatures
        let full = f >> 2, tail = f & 3
        precondition(full == 0 || a.scratch != nil, "CortexMDSPKernels.linear: no scratch")
        let row = a.scratch ?? UnsafeMutableRawPointer(a.output)          // never read when full == 0
        let z = p.inputZeroPoint
        dspWidenWords(UnsafeRawPointer(a.input), full, row, stride: 8, dspOffsetPair(z))
        let rq = DSPRequantizer(p.output)
        let weights = a.weights, mults = a.multipliers, bias = a.bias, output = a.output
        let tailInput = a.input + 4 &* full
        var o = 0
        while o < outC {
            let o1 = o &+ 1 < outC ? o &+ 1 : o
            var c0: Int32 = 0, c1: Int32 = 0
            if let b = bias { c0 = b[o]; c1 = b[o1] }
            let w0 = weights + o &* f, w1 = weights + o1 &* f
            dspDot2x1(UnsafeRawPointer(row), full, w0, w1, &c0, &c1)
            for j in 0..<tail {
                let x = Int32(tailInput[j]) &- z
                c0 &+= x &* Int32(w0.load(fromByteOffset: 4 &* full &+ j, as: Int8.self))
                c1 &+= x &* Int32(w1.load(fromByteOffset: 4 &* full &+ j, as: Int8.self))
            }
            let m0 = mults[o], m1 = mults[o1]
            let q0 = rq.channel(m0), q1 = rq.channel(m1)
            if q0.fast && q1.fast {
                let w = rq.pack2(rq.fast(c0, q0), rq.fast(c1, q1))
                output[o] = Int8(truncatingIfNeeded: w)
                output[o1] = Int8(truncatingIfNeeded: w &>> 8)     // o1 == o: the same value again
            } else {
                output[o] = rq.apply(c0, m0)
                output[o1] = rq.apply(c1, m1)
            }
            o &+= 2
        }
    }
}

/// One group of the 2×1 tile: 8 MACs.
@inline(always)
func dspStep2x1(_ r: UnsafeRawPointer, _ u0: UInt32, _ u1: UInt32, _ c0: inout Int32, _ c1: inout Int32) {
    let xa = r.load(as: UInt32.self), xb = r.load(fromByteOffset: 4, as: UInt32.self)
    c0 = dynq_smlad(xa, dynq_sxtb16(u0), c0); c0 = dynq_smlad(xb, dynq_sxtb16_ror8(u0), c0)
    c1 = dynq_smlad(xa, dynq_sxtb16(u1), c1); c1 = dynq_smlad(xb, dynq_sxtb16_ror8(u1), c1)
}

/// `c0 += row · w0`, `c1 += row · w1` over `groups` 4-element groups of a widened row (A/B pairs, 8 bytes each,
/// 4-byte aligned); weights int8, any alignment. Unrolled by 2 groups.
@inline(always)
func dspDot2x1(_ row: UnsafeRawPointer, _ groups: Int, _ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer,
               _ c0: inout Int32, _ c1: inout Int32) {
    var r = row, q0 = w0, q1 = w1
    var a0 = c0, a1 = c1
    if groups & 1 != 0 {
        dspStep2x1(r, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &a0, &a1)
        r += 8; q0 += 4; q1 += 4
    }
    var n = groups >> 1
    while n > 0 {
        dspStep2x1(r, q0.loadUnaligned(as: UInt32.self), q1.loadUnaligned(as: UInt32.self), &a0, &a1)
        dspStep2x1(r + 8, q0.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                   q1.loadUnaligned(fromByteOffset: 4, as: UInt32.self), &a0, &a1)
        r += 16; q0 += 8; q1 += 8
        n &-= 1
    }
    c0 = a0; c1 = a1
}
