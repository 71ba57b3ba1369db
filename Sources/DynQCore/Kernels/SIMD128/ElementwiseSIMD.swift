// SIMD element-wise add: bit-exact twin of `addReference`.
//
// Per element, as the reference: `x_k = (q_k − z_k) << 20`, `t_k = M_k.apply(x_k)`, `out = finish(M.apply(t_1 + t_2))`.
// 8 elements at a time. The input terms use one multiplier per input, so every lane shares m and n = 31 − e:
// `apply(x) = ⌊(x·m + 2^(n−1)) / 2^n⌋` is computed on |x| < 2^28 with 32×32→64-bit multiplies (x86 `pmuludq`) and
// one shift count, the sign restored after (for x < 0 the rounding constant is 2^(n−1) − 1, as in
// `requantize8`). When both input multipliers have n ≥ 29 (M < 4; the quantizer chooses M ≤ 1) every term is below
// 2^30 in magnitude, so `apply` never saturates and the int32 sum cannot overflow; otherwise, and for the last
// `count mod 8` elements, the scalar reference formula runs. When both input multipliers have n ≥ 32 (M < ½, what
// the quantizer produces), the terms use the offset form of `UniformRequantization` instead (`roundedProducts`: no
// absolute value or sign fix-up). The output requantization is `requantizedUniform8` with the output multiplier
// (the same in every lane) and no bias, equal to `finish(apply(·))` for every int32.

/// The input-term multiply of the SIMD add: `apply(x)` for 4 lanes with `|x| < 2^28`, n ≥ 29 (see above).
@inlinable @inline(__always)
internal func addInputTerm(_ x: SIMD4<Int32>, multiplier m: SIMD2<UInt64>, rounding r: SIMD2<UInt64>,
                           shift n: SIMD2<UInt64>) -> SIMD4<Int32> {
    let s = x &>> 31
    let u = unsafeBitCast((x ^ s) &- s, to: SIMD2<UInt64>.self)
    let s64 = unsafeBitCast(s, to: SIMD2<UInt64>.self)
    let low = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
    let pE = ((u & low) &* m &+ r &- (s64 & 1)) &>> n
    let pO = ((u &>> 32) &* m &+ r &- ((s64 &>> 32) & 1)) &>> n
    let y = unsafeBitCast((pE & low) | (pO &<< 32), to: SIMD4<Int32>.self)
    return (y ^ s) &- s
}

/// SIMD add: same contract and results as `addReference` (`input1`, `input2`, `output` of `count` int8; output may
/// not alias an input). Scratch: none.
public func add(
    _ p: AddParams, count: Int,
    input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    let n1 = 31 &- Int64(p.input1Multiplier.shift), n2 = 31 &- Int64(p.input2Multiplier.shift)
    @inline(__always) func scalar(_ i: Int) {
        let x1 = (Int32(input1[i]) &- p.input1ZeroPoint) &<< AddParams.leftShift
        let x2 = (Int32(input2[i]) &- p.input2ZeroPoint) &<< AddParams.leftShift
        let s = p.input1Multiplier.apply(x1) &+ p.input2Multiplier.apply(x2)
        output[i] = p.output.finish(p.outputMultiplier.apply(s))
    }
    guard n1 >= 29 && n2 >= 29 else {
        for i in 0..<count { scalar(i) }
        return
    }
    let out = UniformRequantization(bias: 0, multiplier: p.outputMultiplier)
    let t1 = UniformRequantization(bias: 0, multiplier: p.input1Multiplier)
    let t2 = UniformRequantization(bias: 0, multiplier: p.input2Multiplier)
    @inline(__always) func constants(_ t: UniformRequantization) -> (SIMD2<UInt64>, SIMD2<UInt64>, SIMD2<UInt64>) {
        (SIMD2(repeating: UInt64(t.multiplier)), SIMD2(repeating: t.rounding), SIMD2(repeating: t.shift))
    }
    let (m1, r1, s1) = constants(t1), (m2, r2, s2) = constants(t2)
    let z1 = SIMD4<Int32>(repeating: p.input1ZeroPoint), z2 = SIMD4<Int32>(repeating: p.input2ZeroPoint)
    let q = p.output
    let offsetTerms = t1.offsetForm && t2.offsetForm
    var i = 0
    while i + 8 <= count {
        let a = widen(widen(load8(input1 + i))), c = widen(widen(load8(input2 + i)))
        let aLo = (SIMD4<Int32>(a[0], a[1], a[2], a[3]) &- z1) &<< 20, aHi = (SIMD4<Int32>(a[4], a[5], a[6], a[7]) &- z1) &<< 20
        let cLo = (SIMD4<Int32>(c[0], c[1], c[2], c[3]) &- z2) &<< 20, cHi = (SIMD4<Int32>(c[4], c[5], c[6], c[7]) &- z2) &<< 20
        let sLo: SIMD4<Int32>, sHi: SIMD4<Int32>
        if offsetTerms {
            sLo = roundedProducts(aLo, t1) &+ roundedProducts(cLo, t2)
            sHi = roundedProducts(aHi, t1) &+ roundedProducts(cHi, t2)
        } else {
            sLo = addInputTerm(aLo, multiplier: m1, rounding: r1, shift: s1)
                &+ addInputTerm(cLo, multiplier: m2, rounding: r2, shift: s2)
            sHi = addInputTerm(aHi, multiplier: m1, rounding: r1, shift: s1)
                &+ addInputTerm(cHi, multiplier: m2, rounding: r2, shift: s2)
        }
        UnsafeMutableRawPointer(output + i).storeBytes(of: requantizedUniform8(sLo, sHi, out, q), as: SIMD8<Int8>.self)
        i += 8
    }
    while i < count { scalar(i); i += 1 }
}
