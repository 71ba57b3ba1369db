// Cortex-M DSP global average pool: bit-exact twin of `globalAveragePoolReference`.
//
// Four channels at a time: one LDR per pixel, and SXTAB16 adds its bytes (channels c, c+2, and with ROR #8 c+1,
// c+3) to two words of int16 lane sums: 3 instructions per 4 elements. Every 128 pixels the lanes (|Σ| ≤ 128·128 =
// 2^14) are added to int32 sums. `Σ (q − z) = Σ q − n·z` (|n·z| < 2^30 for the `H·W < 2^23` the params allow),
// then `requantize` by `DSPRequantizer`, 4 outputs per word. The `C mod 4` last channels run one by one.

import DynQIntrinsics

extension CortexMDSPKernels {
    /// DSP global average pool `[H][W][C] → [C]`: same contract and results as `globalAveragePoolReference`.
    /// No scratch.
    public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                         output: UnsafeMutablePointer<Int8>) {
        let c = p.channels, n = p.height &* p.width, quads = c >> 2
        let rq = DSPRequantizer(p.output)
        let q = rq.channel(p.multiplier)
        let start = 0 &- Int32(truncatingIfNeeded: n) &* p.inputZeroPoint
        for quad in 0..<quads {
            var s0 = start, s1 = start, s2 = start, s3 = start
            var x = UnsafeRawPointer(input + quad &* 4)
            var left = n
            while left > 0 {
                let chunk = left < 128 ? left : 128
                var even: UInt32 = 0, odd: UInt32 = 0                 // int16 lanes: (c, c+2), (c+1, c+3)
                for _ in 0..<chunk {
                    let u = x.loadUnaligned(as: UInt32.self)
                    even = dynq_sxtab16(even, u); odd = dynq_sxtab16_ror8(odd, u)
                    x += c
                }
                s0 &+= Int32(Int16(truncatingIfNeeded: even)); s2 &+= Int32(Int16(truncatingIfNeeded: even &>> 16))
                s1 &+= Int32(Int16(truncatingIfNeeded: odd)); s3 &+= Int32(Int16(truncatingIfNeeded: odd &>> 16))
                left &-= chunk
            }
            let word = q.fast ? rq.pack4(rq.fast(s0, q), rq.fast(s1, q), rq.fast(s2, q), rq.fast(s3, q))
                              : rq.apply4(s0, p.multiplier, s1, p.multiplier, s2, p.multiplier, s3, p.multiplier)
            UnsafeMutableRawPointer(output + quad &* 4).storeBytes(of: word, as: UInt32.self)
        }
        for ch in (quads &* 4)..<c {
            var sum = start
            var x = input + ch
            for _ in 0..<n { sum &+= Int32(x[0]); x += c }
            output[ch] = rq.apply(sum, p.multiplier)
        }
    }

    /// The fused DC correction's means (`fusedDCInputMeans`' values): the channel sums as `globalAveragePool`
    /// takes them (SXTAB16, 4 channels per word, int16 lanes flushed every 128 pixels), then `fusedDCMean`.
    public func fusedDCInputMeans(input: UnsafePointer<Int8>, positions n: Int, channels c: Int, zeroPoint: Int32,
                                  means: UnsafeMutablePointer<Int16>) {
        let quads = c >> 2
        for quad in 0..<quads {
            var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
            var x = UnsafeRawPointer(input + quad &* 4)
            var left = n
            while left > 0 {
                let chunk = left < 128 ? left : 128
                var even: UInt32 = 0, odd: UInt32 = 0                 // int16 lanes: (c, c+2), (c+1, c+3)
                for _ in 0..<chunk {
                    let u = x.loadUnaligned(as: UInt32.self)
                    even = dynq_sxtab16(even, u); odd = dynq_sxtab16_ror8(odd, u)
                    x += c
                }
                s0 &+= Int32(Int16(truncatingIfNeeded: even)); s2 &+= Int32(Int16(truncatingIfNeeded: even &>> 16))
                s1 &+= Int32(Int16(truncatingIfNeeded: odd)); s3 &+= Int32(Int16(truncatingIfNeeded: odd &>> 16))
                left &-= chunk
            }
            let m = means + quad &* 4
            m[0] = fusedDCMean(sum: s0, positions: n, zeroPoint: zeroPoint)
            m[1] = fusedDCMean(sum: s1, positions: n, zeroPoint: zeroPoint)
            m[2] = fusedDCMean(sum: s2, positions: n, zeroPoint: zeroPoint)
            m[3] = fusedDCMean(sum: s3, positions: n, zeroPoint: zeroPoint)
        }
        for ch in (quads &* 4)..<c {
            var sum: Int32 = 0
            var x = input + ch
            for _ in 0..<n { sum &+= Int32(x[0]); x += c }
            means[ch] = fusedDCMean(sum: sum, positions: n, zeroPoint: zeroPoint)
        }
    }
}
