// SIMD element-wise add: bit-exact twin of `addReference`.
//
// Per element, as the reference: `x_k = (q_k − z_k) << 20`, `t_k = M_k.apply(x_k)`, `out = finish(M.apply(t_1 + t_2))`.
// 8 elements at a time. The input terms use one multiplier per input, so every lane shares m and n = 31 − e:
// `apply(x) = ⌊(x·m + 2^(n−1)) / 2^n⌋` is computed on |x| < 2^28 with 32×32→64-bit multiplies (x86 `pmuludq`) and
// one shift count, the sign restored after (for x < 0 the rounding constant is 2^(n−1) − 1, as in
// `requantize8`). When both input multipliers have n ≥ 29 (M < 4; the quantizer chooses M ≤ 1) every term is below
// 2^30 in magnitude, so `apply` never saturates and the int32 sum cannot overflow; otherwise, and for the last
// `count mod 8` elements, the scalar reference formula runs. The output requantization is `requantize8` with the
// output multiplier in every lane and no bias, equal to `finish(apply(·))` for every int32.

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
/// not alias an input). Scratch: none (the output multiplier's prepared block lives on the stack).
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
    // One prepared block (requantizeBlockBytes = 288 bytes) with the output multiplier in all 8 lanes, no bias.
    var block = (SIMD32<UInt64>(), SIMD4<UInt64>())
    var ms = (p.outputMultiplier, p.outputMultiplier, p.outputMultiplier, p.outputMultiplier,
              p.outputMultiplier, p.outputMultiplier, p.outputMultiplier, p.outputMultiplier)
    withUnsafeMutableBytes(of: &block) { b in
        withUnsafeBytes(of: &ms) { m in
            requantizePrepare(channels: 8, bias: nil,
                              multipliers: m.baseAddress!.assumingMemoryBound(to: QuantizedMultiplier.self),
                              into: b.baseAddress!)
        }
    }
    @inline(__always) func constants(_ m: QuantizedMultiplier, _ n: Int64)
        -> (SIMD2<UInt64>, SIMD2<UInt64>, SIMD2<UInt64>)
    {
        (SIMD2<UInt64>(repeating: UInt64(UInt32(bitPattern: m.multiplier))),
         SIMD2<UInt64>(repeating: UInt64(1) << UInt64(n &- 1)), SIMD2<UInt64>(repeating: UInt64(n)))
    }
    let (m1, r1, s1) = constants(p.input1Multiplier, n1)
    let (m2, r2, s2) = constants(p.input2Multiplier, n2)
    let z1 = SIMD4<Int32>(repeating: p.input1ZeroPoint), z2 = SIMD4<Int32>(repeating: p.input2ZeroPoint)
    let q = p.output
    withUnsafeBytes(of: &block) { b in
        let prepared = b.baseAddress!
        var i = 0
        while i + 8 <= count {
            let a = widen(widen(load8(input1 + i))), c = widen(widen(load8(input2 + i)))
            let aLo = SIMD4<Int32>(a[0], a[1], a[2], a[3]), aHi = SIMD4<Int32>(a[4], a[5], a[6], a[7])
            let cLo = SIMD4<Int32>(c[0], c[1], c[2], c[3]), cHi = SIMD4<Int32>(c[4], c[5], c[6], c[7])
            let sLo = addInputTerm((aLo &- z1) &<< 20, multiplier: m1, rounding: r1, shift: s1)
                &+ addInputTerm((cLo &- z2) &<< 20, multiplier: m2, rounding: r2, shift: s2)
            let sHi = addInputTerm((aHi &- z1) &<< 20, multiplier: m1, rounding: r1, shift: s1)
                &+ addInputTerm((cHi &- z2) &<< 20, multiplier: m2, rounding: r2, shift: s2)
            requantize8(sLo, sHi, prepared, q, output + i)
            i += 8
        }
        while i < count { scalar(i); i += 1 }
    }
}
