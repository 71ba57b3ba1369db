// Helium fully connected layer (weights `[O][F]` read in place). Bit-exact with `linearReference`.
//
// 4 output features at a time: one loop over F loads 16 inputs once and 16 weights of each of the 4 rows
// (`VMLAVA` per row), and sums each row's weights (`VADDVA`) on the way, so the zero-point term
// `z_in · Σ w` costs no second pass and no packed copy: acc = bias + Σ x·w − z_in·Σ w (modulo 2^32, exact as in
// HeliumKernels.swift). The 4 accumulators are 4 consecutive outputs: requantized with per-lane multipliers
// (`VLD2` de-interleaves the `(m, e)` pairs) and stored with one `VSTRB.32`. Output tails (O % 4) repeat the last
// row and store fewer lanes. No scratch.

import DynQIntrinsics

extension HeliumKernels {
    /// One kernel runs every linear layer: `.linear`.
    public static func chooseLinear(_ p: LinearParams) -> LinearVariant { .linear }

    /// 0: the int8 `[O][F]` weights are read in place.
    public static func linearPackedWeightBytes(_ p: LinearParams, _ v: LinearVariant) -> Int { 0 }

    /// 0: no scratch.
    public static func linearScratchBytes(_ p: LinearParams, _ v: LinearVariant) -> Int { 0 }

    /// Nothing to pack.
    public static func packLinearWeights(_ p: LinearParams, _ v: LinearVariant, weights: UnsafePointer<Int8>,
                                         into: UnsafeMutableRawPointer) {}

    /// Fully connected layer `p`. `a.weights`: int8 `[O][F]`; `a.scratch` unused.
    public static func linear(_ p: LinearParams, _ v: LinearVariant, _ a: ConvArguments) {
        let f = p.inputFeatures, outF = p.outputFeatures
        let weights = a.weights.assumingMemoryBound(to: Int8.self)
        let z = p.inputZeroPoint
        let q = p.output
        var o = 0
        while o < outF {
            let lanes = min(4, outF - o)
            let r0 = weights + o * f
            let r1 = lanes > 1 ? r0 + f : r0, r2 = lanes > 2 ? r0 + 2 * f : r0, r3 = lanes > 3 ? r0 + 3 * f : r0
            let (dots, sums) = heliumDot4WithSums(a.input, r0, r1, r2, r3, count: f)
            var acc = dynq_mve_vmlaq_n_s32(dots, sums, 0 &- z)
            var m = SIMD4<Int32>(), e = SIMD4<Int32>()
            if lanes == 4 {
                if let b = a.bias { acc = dynq_mve_vaddq_s32(acc, dynq_mve_vldrwq_s32(b + o)) }
                a.multipliers.withMemoryRebound(to: Int32.self, capacity: 2 * outF) {
                    dynq_mve_vld2q_s32($0 + 2 * o, &m, &e)
                }
            } else {
                let j1 = lanes > 1 ? o + 1 : o, j2 = lanes > 2 ? o + 2 : o
                if let b = a.bias { acc = dynq_mve_vaddq_s32(acc, dynq_mve_vcreate_s32(b[o], b[j1], b[j2], b[o])) }
                let mm = a.multipliers
                m = dynq_mve_vcreate_s32(mm[o].multiplier, mm[j1].multiplier, mm[j2].multiplier, mm[o].multiplier)
                e = dynq_mve_vcreate_s32(mm[o].shift, mm[j1].shift, mm[j2].shift, mm[o].shift)
            }
            // heliumShifts per lane: right = min(e, −1), left = e − right.
            let right = dynq_mve_vminq_s32(e, dynq_mve_vdupq_s32(-1))
            let left = dynq_mve_vsubq_s32(e, right)
            let y = heliumRequantize(acc, m, left, right, q)
            if lanes == 4 {
                dynq_mve_vstrbq_s32(a.output + o, y)
            } else {
                dynq_mve_vstrbq_p_s32(a.output + o, y, UInt32(truncatingIfNeeded: lanes))
            }
            o += 4
        }
    }
}
