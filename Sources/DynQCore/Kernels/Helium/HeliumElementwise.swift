// Helium element-wise add (TFLite's scheme, `AddParams`). Bit-exact with `addReference`.
//
// 4 elements per step in int32 lanes: two widening `VLDRB.S32`, per input `(q − z)·2^20` (`VSUB`, `VSHL`) and its
// requantization `M_i.apply` (VQSHL, VQDMULH, VRSHL: HeliumRequantize.swift), `VADD`, the output requantization
// with z_out and the clamp, one narrowing `VSTRB.32`. The element tail uses predicated loads and stores.
//
// Exactness: the three-instruction requantization equals `apply(x)` whenever VQSHL does not saturate, i.e.
// |x|·2^(e+1) < 2^31. Here |x| ≤ 255·2^20, so every input exponent e ≤ 2 qualifies (255·2^23 < 2^31), and then
// |y_i| < 255·2^20·2 < 2^29: no Int32 saturation in `apply`, and the sum cannot wrap. The quantizer picks input
// multipliers ≤ 1 (e ≤ 1); a layer with an input exponent above 2 runs `addReference` instead. The output stage
// is `heliumRequantize`, exact for every int32.

import DynQIntrinsics

extension HeliumKernels {
    /// `output[i] = clamp(M_out.apply(M_1.apply((a_i − z_1)·2^20) + M_2.apply((b_i − z_2)·2^20)) + z_out)`, `count`
    /// elements. `a`, `b`, `output` may alias element for element. Scratch: none.
    public static func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                           output: UnsafeMutablePointer<Int8>) {
        guard p.input1Multiplier.shift <= 2 && p.input2Multiplier.shift <= 2 else {
            return addReference(p, count: count, input1: a, input2: b, output: output)
        }
        let (l1, r1) = heliumShifts(p.input1Multiplier.shift)
        let (l2, r2) = heliumShifts(p.input2Multiplier.shift)
        let (lo, ro) = heliumShifts(p.outputMultiplier.shift)
        let m1 = p.input1Multiplier.multiplier, m2 = p.input2Multiplier.multiplier, mo = p.outputMultiplier.multiplier
        let z1 = 0 &- p.input1ZeroPoint &<< AddParams.leftShift, z2 = 0 &- p.input2ZeroPoint &<< AddParams.leftShift
        let q = p.output
        @inline(__always) func step(_ x1: SIMD4<Int32>, _ x2: SIMD4<Int32>) -> SIMD4<Int32> {
            // (q − z)·2^20 = q·2^20 − z·2^20; VQSHL by 20 + L is exact here (no saturation), so it also does
            // the ·2^20.
            var y1 = dynq_mve_vqshlq_r_s32(x1, 20), y2 = dynq_mve_vqshlq_r_s32(x2, 20)
            y1 = dynq_mve_vaddq_n_s32(y1, z1); y2 = dynq_mve_vaddq_n_s32(y2, z2)
            y1 = dynq_mve_vrshlq_n_s32(dynq_mve_vqdmulhq_n_s32(dynq_mve_vqshlq_r_s32(y1, l1), m1), r1)
            y2 = dynq_mve_vrshlq_n_s32(dynq_mve_vqdmulhq_n_s32(dynq_mve_vqshlq_r_s32(y2, l2), m2), r2)
            return heliumRequantize(dynq_mve_vaddq_s32(y1, y2), mo, lo, ro, q)
        }
        var i = 0
        while i &+ 4 <= count {
            dynq_mve_vstrbq_s32(output + i, step(dynq_mve_vldrbq_s32(a + i), dynq_mve_vldrbq_s32(b + i)))
            i &+= 4
        }
        if i < count {
            let n = UInt32(truncatingIfNeeded: count &- i)
            dynq_mve_vstrbq_p_s32(output + i, step(dynq_mve_vldrbq_z_s32(a + i, n), dynq_mve_vldrbq_z_s32(b + i, n)), n)
        }
    }
}
