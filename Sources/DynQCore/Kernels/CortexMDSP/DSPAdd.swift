// Cortex-M DSP element-wise add: bit-exact twin of `addReference` (TFLite's scheme, `AddParams`).
//
// Each input term `M_i.apply((q_i − z_i) << 20)` is one SMMUL-class multiply. With `x = (q − z)·2^20`
// (|x| < 2^28) and `n = 31 − e`:
// - `e ≤ −2`: `y = (SMMUL(x, m) + 2^(s−1)) >> s`, `s = −1 − e` (DSPRequantize.swift);
// - `−1 ≤ e ≤ 1`: `x' = x·2^(e+2)` fits int32 (|x'| < 2^31), and `y = (SMMUL(x', m) + 1) >> 1` = `⌊(x'·m + 2^32) /
//   2^33⌋` = `⌊(x·m + 2^(n−1)) / 2^n⌋` (the same argument with `s = 1`).
// So every input term is `(SMMUL((q − z) << L, m) + r) >> s` with per-input constants `L = 20 + max(0, e + 2)`,
// `s`, `r`, and never saturates (|y| < 2^29), as `apply` would not either. The sum of the two terms is then
// requantized by `DSPRequantizer` (its fast path for `−23 ≤ e_out ≤ −2`), 4 outputs per word store. Other
// multipliers (input `e ≥ 2`, M ≥ 2, which the quantizer never chooses) take `addReference` for the whole call.

import DynQIntrinsics

/// One add input's constants: `y = (SMMUL((q − z) << L, m) + r) >> s`, valid when `valid`.
struct DSPAddTerm {
    var zeroPoint: Int32
    var multiplier: Int32
    var leftShift: UInt32
    var shift: UInt32
    var rounding: Int32
    var valid: Bool

    @inline(always)
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

    @inline(always)
    func apply(_ q: Int8) -> Int32 {
        let x = (Int32(q) &- zeroPoint) &<< Int32(bitPattern: leftShift)
        return dynq_asr(dynq_smmul(x, multiplier) &+ rounding, shift)
    }
}

extension CortexMDSPKernels {
    /// DSP element-wise add of `count` int8 elements: same results as `addReference`. No scratch.
    public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                           output: UnsafeMutablePointer<Int8>) {
        let t1 = DSPAddTerm(zeroPoint: p.input1ZeroPoint, p.input1Multiplier)
        let t2 = DSPAddTerm(zeroPoint: p.input2ZeroPoint, p.input2Multiplier)
        let rq = DSPRequantizer(p.output)
        let out = rq.channel(p.outputMultiplier)
        if t1.valid && t2.valid && out.fast {
            @inline(always) func sum(_ i: Int) -> Int32 { rq.fast(t1.apply(a[i]) &+ t2.apply(b[i]), out) }
            let destination = UnsafeMutableRawPointer(output)
            var i = 0
            while i &+ 4 <= count {                               // 4 outputs clamped and stored as one word
                destination.storeBytes(of: rq.pack4(sum(i), sum(i &+ 1), sum(i &+ 2), sum(i &+ 3)), toByteOffset: i,
                                       as: UInt32.self)
                i &+= 4
            }
            while i < count {
                output[i] = Int8(truncatingIfNeeded: rq.pack2(sum(i), 0))
                i &+= 1
            }
        } else {
            addReference(p, count: count, input1: a, input2: b, output: output)
        }
    }
}
