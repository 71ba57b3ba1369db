// Helium global average pool (`GlobalAveragePoolParams`). Bit-exact with `globalAveragePoolReference`.
//
// 4 channels per pass in int32 lanes: per pixel one widening `VLDRB.S32` of the 4 channels and one `VADD` (the
// scalar default spends ~11 instructions per element). The zero point is taken out once per channel at the end:
// Σ (q − z_in) = Σ q − H·W·z_in, equal modulo 2^32 and the true value is below 2^31 in magnitude (`H·W·255 < 2^31`,
// checked by the params), so the int32 sums are equal. Then `heliumRequantize` (exact for every int32, see
// HeliumRequantize.swift). Channel tails (C % 4) use predicated loads and stores. No scratch.

import DynQIntrinsics

extension HeliumKernels {
    /// `output[c] = clamp(M.apply(Σ_hw (q[hw][c] − z_in)) + z_out)` for `c < C`.
    public static func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                         output: UnsafeMutablePointer<Int8>) {
        let c = p.channels, pixels = p.height &* p.width
        let (left, right) = heliumShifts(p.multiplier.shift)
        let m = p.multiplier.multiplier
        let zeroTerm = 0 &- Int32(truncatingIfNeeded: pixels) &* p.inputZeroPoint
        var cb = 0
        while cb < c {
            let n = UInt32(truncatingIfNeeded: c &- cb)       // lanes past 4 are ignored by the predicate
            var acc = dynq_mve_vdupq_s32(zeroTerm)
            var x = input + cb
            if n >= 4 {
                for _ in 0..<pixels {
                    acc = dynq_mve_vaddq_s32(acc, dynq_mve_vldrbq_s32(x))
                    x += c
                }
            } else {
                for _ in 0..<pixels {
                    acc = dynq_mve_vaddq_s32(acc, dynq_mve_vldrbq_z_s32(x, n))
                    x += c
                }
            }
            dynq_mve_vstrbq_p_s32(output + cb, heliumRequantize(acc, m, left, right, p.output), n)
            cb &+= 4
        }
    }
}
