// Helium global average pool (`GlobalAveragePoolParams`). Bit-exact with `globalAveragePoolReference`.
//
// 16 channels per pass in 4 int32 vectors (then 4 per pass): per pixel a widening `VLDRB.S32` and a `VADD` per
// 4 channels (the scalar default spends ~11 instructions per element). The zero point is taken out once per channel at the end:
// Σ (q − z_in) = Σ q − H·W·z_in, equal modulo 2^32 and the true value is below 2^31 in magnitude (`H·W·255 < 2^31`,
// checked by the params), so the int32 sums are equal. Then `heliumRequantize` (exact for every int32, see
// HeliumRequantize.swift). Channel tails (C % 4) use predicated loads and stores. No scratch.

import DynQIntrinsics

extension HeliumKernels {
    /// `output[c] = clamp(M.apply(Σ_hw (q[hw][c] − z_in)) + z_out)` for `c < C`.
    /// The fused DC correction's means (`fusedDCInputMeans`' values): 4 channels per pass, one widening load and
    /// one `VADD` per pixel (the last pass predicated), then `fusedDCMean` per channel.
    public static func fusedDCInputMeans(input: UnsafePointer<Int8>, positions pixels: Int, channels c: Int,
                                         zeroPoint: Int32, means: UnsafeMutablePointer<Int16>) {
        var cb = 0
        while cb < c {
            let n = UInt32(truncatingIfNeeded: c &- cb)       // lanes past 4 are ignored by the predicate
            var acc = dynq_mve_vdupq_s32(0)                    // Σ x: |Σ| ≤ 128·H·W < 2^31
            var x = input + cb
            if n >= 4 {
                for _ in 0..<pixels { acc = dynq_mve_vaddq_s32(acc, dynq_mve_vldrbq_s32(x)); x += c }
            } else {
                for _ in 0..<pixels { acc = dynq_mve_vaddq_s32(acc, dynq_mve_vldrbq_z_s32(x, n)); x += c }
            }
            for j in 0..<min(4, c &- cb) {
                means[cb &+ j] = fusedDCMean(sum: acc[j], positions: pixels, zeroPoint: zeroPoint)
            }
            cb &+= 4
        }
    }

    public static func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                         output: UnsafeMutablePointer<Int8>) {
        let c = p.channels, pixels = p.height &* p.width
        let (left, right) = heliumShifts(p.multiplier.shift)
        let m = p.multiplier.multiplier
        let zeroTerm = 0 &- Int32(truncatingIfNeeded: pixels) &* p.inputZeroPoint
        var cb = 0
        // 16 channels per pass: 4 widening loads at immediate offsets and 4 `VADD`s per pixel.
        while cb &+ 16 <= c {
            var a0 = dynq_mve_vdupq_s32(zeroTerm), a1 = a0, a2 = a0, a3 = a0
            var x = input + cb
            for _ in 0..<pixels {
                a0 = dynq_mve_vaddq_s32(a0, dynq_mve_vldrbq_s32(x))
                a1 = dynq_mve_vaddq_s32(a1, dynq_mve_vldrbq_s32(x + 4))
                a2 = dynq_mve_vaddq_s32(a2, dynq_mve_vldrbq_s32(x + 8))
                a3 = dynq_mve_vaddq_s32(a3, dynq_mve_vldrbq_s32(x + 12))
                x += c
            }
            let out = output + cb
            dynq_mve_vstrbq_s32(out, heliumRequantize(a0, m, left, right, p.output))
            dynq_mve_vstrbq_s32(out + 4, heliumRequantize(a1, m, left, right, p.output))
            dynq_mve_vstrbq_s32(out + 8, heliumRequantize(a2, m, left, right, p.output))
            dynq_mve_vstrbq_s32(out + 12, heliumRequantize(a3, m, left, right, p.output))
            cb &+= 16
        }
        // The rest, 4 channels per pass (the last one predicated).
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
