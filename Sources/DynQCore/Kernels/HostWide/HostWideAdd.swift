// HostWide element-wise add: bit-exact twin of `addReference`, 16 elements per step on 512-bit vectors.
//
// Per element, as the reference: `x_k = (q_k − z_k) << 20`, `t_k = M_k.apply(x_k)`, `out = finish(M.apply(t_1 + t_2))`.
// The input terms share one multiplier per input, so `apply` is computed for 16 lanes with one shift count:
// `t = (x·m + 2^(n−1)) >> n` with the signed 64-bit products of `vpmuldq` and an arithmetic shift. When both input
// multipliers have n ≥ 29 (M < 4; the quantizer chooses M ≤ 1): |x| < 2^28, so |x·m| < 2^59 (no overflow),
// |t| ≤ 2^28 · 2^31 / 2^29 = 2^30 (`apply`'s saturation never triggers) and the int32 sum t_1 + t_2 cannot overflow,
// so each lane equals the reference. The output requantization is `hostWideRequantize16` with every lane prepared
// for the output multiplier and no bias, exact for every int32 (HostWideRequantize.swift). Otherwise (M ≥ 4), and
// for the last `count mod 16` elements, the reference formula runs per element.
#if arch(x86_64)
import DynQIntrinsics

/// `(x·m + r) >> n` for 16 lanes with one multiplier `m` (in every int32 lane), rounding constant `r = 2^(n−1)` and
/// shift `n` (in every int64 lane); the caller guarantees that the result fits in int32.
@inline(__always)
internal func hostWideApplyUniform16(_ x: SIMD16<Int32>, _ m: SIMD16<Int32>, _ r: SIMD8<Int64>, _ n: SIMD8<Int64>)
    -> SIMD16<Int32> {
    let pE = dynq_x86_mul_even(x, m)
    let pO = dynq_x86_mul_even(unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int64>.self) &>> 32, to: SIMD16<Int32>.self), m)
    let yE = (pE &+ r) &>> n, yO = (pO &+ r) &>> n
    return unsafeBitCast((yE & SIMD8<Int64>(repeating: 0xFFFF_FFFF)) | (yO &<< 32), to: SIMD16<Int32>.self)
}

/// The 16-lane add: same contract and results as `addReference` (`count` int8 each; the output may not alias an
/// input), in any build. Scratch: none. `dispatch`: run the 16-lane loop with the run-time dispatched C loop
/// (`.vnni`: dynq_x86_dispatch.h, the CPU must have AVX-512 VNNI; `.avx2`: dynq_x86_avx2.h, the CPU must have
/// AVX2) or in Swift; the results are the same bits.
internal func hostWideAdd16(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                            output: UnsafeMutablePointer<Int8>, dispatch: HostWideDispatch = HostWideKernels.dispatch) {
    let n1 = 31 &- Int64(p.input1Multiplier.shift), n2 = 31 &- Int64(p.input2Multiplier.shift)
    @inline(__always) func scalar(_ i: Int) {
        let x1 = (Int32(a[i]) &- p.input1ZeroPoint) &<< AddParams.leftShift
        let x2 = (Int32(b[i]) &- p.input2ZeroPoint) &<< AddParams.leftShift
        output[i] = p.output.finish(p.outputMultiplier.apply(p.input1Multiplier.apply(x1)
                                                             &+ p.input2Multiplier.apply(x2)))
    }
    guard n1 >= 29 && n2 >= 29 else {
        for i in 0..<count { scalar(i) }
        return
    }
    // The output multiplier prepared in all 16 lanes (a local, 64-byte aligned block). On the stack: the
    // temporary allocation asks for the stack's own 16-byte alignment (a larger one makes Swift allocate it on the
    // heap: one malloc and free per call, caught by RuntimeAllocationTests) and the block starts at the first
    // 64-byte boundary inside it.
    withUnsafeTemporaryAllocation(byteCount: hostWideRequantizeBlockBytes + 48, alignment: 16) { buffer in
        let base = UInt(bitPattern: buffer.baseAddress!)
        let block = UnsafeMutableRawPointer(bitPattern: (base &+ 63) & ~UInt(63))!
        for l in 0..<16 { hostWideRequantizeLane(l, bias: 0, multiplier: p.outputMultiplier, into: block) }
        let stage = HostWideOutputStage(p.output)
        let m1 = SIMD16<Int32>(repeating: p.input1Multiplier.multiplier)
        let m2 = SIMD16<Int32>(repeating: p.input2Multiplier.multiplier)
        let r1 = SIMD8<Int64>(repeating: 1 << (n1 - 1)), s1 = SIMD8<Int64>(repeating: n1)
        let r2 = SIMD8<Int64>(repeating: 1 << (n2 - 1)), s2 = SIMD8<Int64>(repeating: n2)
        let z1 = SIMD16<Int32>(repeating: p.input1ZeroPoint), z2 = SIMD16<Int32>(repeating: p.input2ZeroPoint)
        var i = 0
        if dispatch != .swift {
            var args = dynq_x86_add16(
                a: a, b: b, output: output, count: count & ~15,
                prepared: UnsafeRawPointer(block).assumingMemoryBound(to: UInt8.self),
                input1ZeroPoint: p.input1ZeroPoint, input1Multiplier: p.input1Multiplier.multiplier,
                input2ZeroPoint: p.input2ZeroPoint, input2Multiplier: p.input2Multiplier.multiplier,
                input1Shift: n1, input2Shift: n2, activationMin: p.output.activationMin,
                activationMax: p.output.activationMax, zeroPoint: p.output.zeroPoint)
            if dispatch == .vnni { dynq_x86_add16_run(&args) } else { dynq_x86_avx2_add16_run(&args) }
            i = count & ~15
        }
        while i + 16 <= count {
            let x1 = (dynq_x86_widen_i8x16_i32(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Int8>.self)) &- z1) &<< 20
            let x2 = (dynq_x86_widen_i8x16_i32(UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Int8>.self)) &- z2) &<< 20
            let s = hostWideApplyUniform16(x1, m1, r1, s1) &+ hostWideApplyUniform16(x2, m2, r2, s2)
            UnsafeMutableRawPointer(output + i).storeBytes(of: hostWideRequantize16(s, block, stage),
                                                           as: SIMD16<Int8>.self)
            i += 16
        }
        while i < count { scalar(i); i += 1 }
    }
}
#endif
