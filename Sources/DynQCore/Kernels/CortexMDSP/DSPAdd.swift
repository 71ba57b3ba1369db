// Cortex-M DSP element-wise add: bit-exact twin of `addReference` (TFLite's scheme, `AddParams`).
//
// Each input term `M_i.apply((q_i − z_i) << 20)` is one SMMUL-class multiply. With `x = (q − z)·2^20`
// (|x| < 2^28) and `n = 31 − e`:
// - `e ≤ −2`: `y = (SMMUL(x, m) + 2^(s−1)) >> s`, `s = −1 − e` (DSPRequantize.swift);
// - `−1 ≤ e ≤ 1`: `x' = x·2^(e+2)` fits int32 (|x'| < 2^31), and `y = (SMMUL(x', m) + 1) >> 1` = `⌊(x'·m + 2^32) /
//   2^33⌋` = `⌊(x·m + 2^(n−1)) / 2^n⌋` (the same argument with `s = 1`).
// So every input term is `(SMMUL((q − z) << L, m) + r) >> s` with per-input constants `L = 20 + max(0, e + 2)`,
// `s`, `r`, and never saturates (|y| < 2^29), as `apply` would not either. The sum of the two terms is then
// requantized by `DSPRequantizer` (its fast path for `e_out ≤ −2`). Input multipliers with `e ≥ 2` (M ≥ 2, which
// the quantizer never chooses) take the reference's arithmetic for the whole call.

import DynQIntrinsics

/// One add input's constants: `y = (SMMUL((q − z) << L, m) + r) >> s`, valid when `valid`.
struct DSPAddTerm {
    var zeroPoint: Int32
    var multiplier: Int32
    var leftShift: UInt32
    var shift: UInt32
    var rounding: Int32
    var valid: Bool

    @inline(__always)
    init(zeroPoint z: Int32, _ q: QuantizedMultiplier) {
        zeroPoint = z
        multiplier = q.multiplier
        valid = q.shift <= 1
        if q.shift <= -2 {
            leftShift = UInt32(AddParams.leftShift)
            shift = UInt32(truncatingIfNeeded: -1 &- q.shift)
        } else {
            leftShift = UInt32(truncatingIfNeeded: AddParams.leftShift &+ (valid ? q.shift &+ 2 : 0))
            shift = 1
        }
        rounding = Int32(bitPattern: UInt32(1) &<< (shift &- 1))
    }

    @inline(__always)
    func apply(_ q: Int8) -> Int32 {
        let x = (Int32(q) &- zeroPoint) &<< Int32(bitPattern: leftShift)
        return dynq_asr(dynq_smmul(x, multiplier) &+ rounding, shift)
    }
}

extension CortexMDSPKernels {
    /// DSP element-wise add of `count` int8 elements: same results as `addReference`. No scratch.
    public static func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                           output: UnsafeMutablePointer<Int8>) {
        let t1 = DSPAddTerm(zeroPoint: p.input1ZeroPoint, p.input1Multiplier)
        let t2 = DSPAddTerm(zeroPoint: p.input2ZeroPoint, p.input2Multiplier)
        let rq = DSPRequantizer(p.output)
        let out = DSPChannelMultiplier(p.outputMultiplier)
        if t1.valid && t2.valid && out.fast {
            for i in 0..<count {
                output[i] = rq.fast(t1.apply(a[i]) &+ t2.apply(b[i]), out)
            }
        } else {
            addReference(p, count: count, input1: a, input2: b, output: output)
        }
    }
}
