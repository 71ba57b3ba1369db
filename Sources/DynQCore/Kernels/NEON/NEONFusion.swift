// NEON per-sample dynamic fusion for conv layers (`[O][K]` kernels): the fused kernel written straight into the
// NEON tile's packed layout (NEONConv.swift), with each block's zero-point terms, so the conv reads it with no
// second pass. Values, bias and multipliers equal `dynamicFusionReference`'s (docs/numerics.md, "Dynamic
// convolution in fixed point"; Tests/DynQCoreTests/KernelsNEONTests.swift, KernelSetsTests.swift).
//
// Per output channel, in 16-element chunks of its K kernel elements:
//   F      for each kernel t: 16 int8 weights widened (SXTL, SXTL2) and multiplied by η[t] into 4 int32x4
//          (SMLAL, SMLAL2 × 2): `|η·q_w| ≤ 32767 · 127`, and the sum over `g ≤ 516` kernels is exact in int32.
//          η[t] is read as a broadcast int16x8 written to scratch once per channel (per layer: once).
//          F goes to scratch; `A = max|F|` is a running ABS + SMAX, then one SMAXV.
//   q_f    `round_half_away(F·R / 2^32)` as `sign(F) · ((|F|·R + 2^31) >> 32)`: UMULL/UMULL2 by R and RSHRN #32
//          (the magnitudes are < 2^31, so the product is < 2^63 and rounding to nearest, ties up, on the magnitude
//          is rounding half away from zero), narrowed to int8 with the sign mask and applied in int8
//          (`(q ^ s) − s`). 16 values go to the channel's 16-byte slot of the chunk in its block.
//   z term `z_in · Σ_k q_f` (SADDLP + SADALP of the int8 chunk, wrapping), beside the block's weights.
//   thin   (`thin: true`, NEONThin.swift's layout) the 16 values are widened to int16 and scattered into column
//          `ch mod 16` of the `[K][16]` block (one 2-byte store each, elements < K only); no z term.
// The K tail: for K ≥ 16 the row's last 16 elements are computed again (overlapping; the max is unchanged), for
// K < 16 element by element; F is zero from K to the chunk end, so the packed tail holds weight 0.
import DynQIntrinsics

/// Scratch bytes of `neonFuseConv`: F `[⌈K/16⌉·16]` int32, then the broadcast coefficients `[g]` int16x8.
@inlinable
internal func neonFusionScratchBytes(_ f: DynamicFusionParams, _ p: Conv2DParams) -> Int {
    neonConvRowBytes(p) * 4 + f.kernelCount * 16
}

/// Fuses one sample of a conv layer (contract: `KernelSet.fuseConv`; `f` must be `p`'s fusion,
/// `DynamicFusionParams(kernelCount:conv:coefficients:)`) into `fusedWeights` in the layout of
/// `NEONKernels.packConvWeights(p, .tileSMLAL)` (the same for `.tileSDOT`), or with `thin` in that of
/// `packConvWeights(p, .thin)`. Scratch: `neonFusionScratchBytes`, 16-byte aligned.
@inlinable
internal func neonFuseConv(_ f: DynamicFusionParams, _ p: Conv2DParams, _ a: FusionArguments, thin: Bool = false) {
    let g = f.kernelCount, o = p.outputChannels, k = p.weightsPerOutputChannel
    let k16 = neonConvRowBytes(p), chunks = k16 / 16
    let kernelSize = o * k
    let gOut = p.groupOutputChannels, blocks = neonConvBlocks(p), blockBytes = neonConvBlockBytes(p)
    let thinBlocks = neonThinBlocks(p), thinBlockBytes = neonThinBlockBytes(p)
    let perChannel = f.coefficients == .perChannel
    let scratch = a.scratch!
    let fv = scratch.bindMemory(to: Int32.self, capacity: k16)
    let etaVectors = UnsafeRawPointer(scratch + k16 * 4)         // [g] SIMD8<Int16>: η[t] in every lane
    let zIn = p.inputZeroPoint
    let fullEnd = k / 16 * 16
    let chunkStride = neonConvBlockChannels * 16

    /// F of elements `e ..< e + 16` of channel row `row` (kernel t's at `kernels + t·kernelSize + row + e`).
    @inline(__always) func fuse16(_ row: Int, _ e: Int) -> (SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>) {
        var a0 = SIMD4<Int32>(), a1 = SIMD4<Int32>(), a2 = SIMD4<Int32>(), a3 = SIMD4<Int32>()
        var kp = UnsafeRawPointer(a.kernels + (row &+ e))
        var ep = etaVectors
        for _ in 0..<g {
            let w = kp.loadUnaligned(as: SIMD16<Int8>.self)
            let eta = ep.load(as: SIMD8<Int16>.self)
            let lo = dynq_neon_sxtl_low_s8(w), hi = dynq_neon_sxtl_high_s8(w)
            a0 = dynq_neon_smlal_low_s16(a0, lo, eta); a1 = dynq_neon_smlal_high_s16(a1, lo, eta)
            a2 = dynq_neon_smlal_low_s16(a2, hi, eta); a3 = dynq_neon_smlal_high_s16(a3, hi, eta)
            kp += kernelSize
            ep += 16
        }
        return (a0, a1, a2, a3)
    }

    for ch in 0..<o {
        let row = ch &* k
        @inline(__always) func eta(_ t: Int) -> Int16 { perChannel ? a.coefficients[ch &* g &+ t] : a.coefficients[t] }
        if ch == 0 || perChannel {
            for t in 0..<g {
                UnsafeMutableRawPointer(mutating: etaVectors).storeBytes(
                    of: SIMD8<Int16>(repeating: eta(t)), toByteOffset: 16 &* t, as: SIMD8<Int16>.self)
            }
        }

        // F to scratch, A = max |F|.
        var maxv = SIMD4<Int32>()
        @inline(__always) func store16(_ e: Int, _ v: (SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>)) {
            let d = UnsafeMutableRawPointer(fv + e)
            d.storeBytes(of: v.0, as: SIMD4<Int32>.self)
            d.storeBytes(of: v.1, toByteOffset: 16, as: SIMD4<Int32>.self)
            d.storeBytes(of: v.2, toByteOffset: 32, as: SIMD4<Int32>.self)
            d.storeBytes(of: v.3, toByteOffset: 48, as: SIMD4<Int32>.self)
            let m01 = dynq_neon_smax_s32(dynq_neon_abs_s32(v.0), dynq_neon_abs_s32(v.1))
            let m23 = dynq_neon_smax_s32(dynq_neon_abs_s32(v.2), dynq_neon_abs_s32(v.3))
            maxv = dynq_neon_smax_s32(maxv, dynq_neon_smax_s32(m01, m23))
        }
        var e = 0
        while e < fullEnd { store16(e, fuse16(row, e)); e &+= 16 }
        var amax = dynq_neon_smaxv_s32(maxv)
        if e < k {
            if k >= 16 {
                store16(k &- 16, fuse16(row, k &- 16))          // the row's last 16 again
                amax = dynq_neon_smaxv_s32(maxv)
            } else {
                for i in 0..<k {                                  // K < 16: element by element
                    var s: Int32 = 0
                    for t in 0..<g { s &+= Int32(eta(t)) &* Int32(a.kernels[t &* kernelSize &+ row &+ i]) }
                    fv[i] = s
                    let m = s < 0 ? 0 &- s : s
                    amax = m > amax ? m : amax
                }
            }
            for i in k..<k16 { fv[i] = 0 }
        }

        // R, the fused bias and multiplier (the shared scalar arithmetic).
        let r = fusionChannelFinish(f, channel: ch, maxAbs: amax, a, values: fv, stride: 1)

        let group = ch / gOut, oc = ch &- group &* gOut
        if thin {
            // q_f, widened, into column j of the channel's [K][16] int16 block.
            let tb = oc / neonThinBlockChannels, j = oc &- tb &* neonThinBlockChannels
            let block = a.fusedWeights + (group &* thinBlocks &+ tb) &* thinBlockBytes
            var src = UnsafeRawPointer(fv)
            var dst = block + 2 &* j
            var e = 0
            while e < k {
                let q = neonFusedValues16(src, reciprocal: r)
                let lo = dynq_neon_sxtl_low_s8(q), hi = dynq_neon_sxtl_high_s8(q)
                if e &+ 16 <= k {
                    for i in 0..<8 {
                        dst.storeBytes(of: lo[i], toByteOffset: 32 &* i, as: Int16.self)
                        dst.storeBytes(of: hi[i], toByteOffset: 32 &* (i &+ 8), as: Int16.self)
                    }
                } else {
                    for i in 0..<(k &- e) {
                        dst.storeBytes(of: i < 8 ? lo[i] : hi[i &- 8], toByteOffset: 32 &* i, as: Int16.self)
                    }
                }
                src += 64
                dst += 16 &* 32
                e &+= 16
            }
            // The last channel of a group: its block's missing columns are weight 0.
            if oc == gOut &- 1 && j < neonThinBlockChannels &- 1 {
                for m in (j &+ 1)..<neonThinBlockChannels {
                    for i in 0..<k { block.storeBytes(of: Int16(0), toByteOffset: 2 &* (i &* 16 &+ m), as: Int16.self) }
                }
            }
            continue
        }

        // q_f into the channel's slots of its packed block, and its zero-point term.
        let bIndex = oc / neonConvBlockChannels, j = oc &- bIndex &* neonConvBlockChannels
        let block = a.fusedWeights + (group &* blocks &+ bIndex) &* blockBytes
        var sums = SIMD4<Int32>()
        var src = UnsafeRawPointer(fv)
        var dst = block + 16 &* j
        for _ in 0..<chunks {
            let q = neonFusedValues16(src, reciprocal: r)
            dst.storeBytes(of: q, as: SIMD16<Int8>.self)
            sums = dynq_neon_sadalp_s16(sums, dynq_neon_saddlp_s8(q))
            src += 64
            dst += chunkStride
        }
        let total = sums[0] &+ sums[1] &+ sums[2] &+ sums[3]
        block.storeBytes(of: zIn &* total, toByteOffset: neonConvBlockChannels &* k16 &+ 4 &* j, as: Int32.self)

        // The last channel of a group: its block's missing channels are weight 0 with a zero term.
        if oc == gOut &- 1 && j < neonConvBlockChannels &- 1 {
            for m in (j &+ 1)..<neonConvBlockChannels {
                var d = block + 16 &* m
                for _ in 0..<chunks { d.storeBytes(of: SIMD16<Int8>(), as: SIMD16<Int8>.self); d += chunkStride }
                block.storeBytes(of: Int32(0), toByteOffset: neonConvBlockChannels &* k16 &+ 4 &* m, as: Int32.self)
            }
        }
    }
}

/// Channel `ch`'s per-sample bias and multiplier, for both NEON fusions (conv tile / thin and depthwise) for `A = maxAbs` (`dynamicFusionReference`'s: the Q15 mixed-bias
/// sum plus the static bias · 2^15, `fusedBias`, `scaledByFusionReciprocal`, then the fused DC correction from the
/// channel's F row at `values`, `stride` apart, when `a.inputMeans` is set); returns `R = fusionReciprocal(A)`.
@inlinable @inline(__always)
internal func fusionChannelFinish(_ f: DynamicFusionParams, channel ch: Int, maxAbs: Int32,
                                  _ a: FusionArguments, values: UnsafePointer<Int32>, stride: Int) -> UInt32 {
    let r = fusionReciprocal(maxAbs)
    let g = f.kernelCount, o = f.outputChannels
    var b: Int64 = 0
    if let mb = a.mixedBias {
        for t in 0..<g {
            let eta = f.coefficients == .perChannel ? a.coefficients[ch &* g &+ t] : a.coefficients[t]
            b &+= Int64(eta) &* Int64(mb[t &* o &+ ch])
        }
    }
    if let sb = a.staticBias { b &+= Int64(sb[ch]) &<< 15 }
    a.fusedBias[ch] = fusedBias(b, reciprocal: r, terms: f.elementsPerChannel)
    a.fusedMultipliers[ch] = a.staticMultipliers[ch].scaledByFusionReciprocal(r)
    applyFusedDCCorrection(f, a, channel: ch, values: values, stride: stride, reciprocal: r)
    return r
}

/// The 16 fused int8 values of 16 consecutive int32 F at `src` (16-byte aligned) for one channel's reciprocal `r`:
/// `round_half_away(F · r / 2^32)` = `fusedKernelValue` lane by lane (the magnitude's rounded high word, `UMULL` +
/// `RSHRN`, then the sign restored; |F| < 2^31, so every value lies in [−127, 127]).
@inlinable @inline(__always)
internal func neonFusedValues16(_ src: UnsafeRawPointer, reciprocal r: UInt32) -> SIMD16<Int8> {
    let f0 = src.load(as: SIMD4<Int32>.self), f1 = src.load(fromByteOffset: 16, as: SIMD4<Int32>.self)
    let f2 = src.load(fromByteOffset: 32, as: SIMD4<Int32>.self)
    let f3 = src.load(fromByteOffset: 48, as: SIMD4<Int32>.self)
    let sign = dynq_neon_narrow4_s32_s8(f0 &>> 31, f1 &>> 31, f2 &>> 31, f3 &>> 31)
    let mag = dynq_neon_narrow4_s32_s8(
        dynq_neon_mul_rshrn32_u32(dynq_neon_abs_s32(f0), r), dynq_neon_mul_rshrn32_u32(dynq_neon_abs_s32(f1), r),
        dynq_neon_mul_rshrn32_u32(dynq_neon_abs_s32(f2), r), dynq_neon_mul_rshrn32_u32(dynq_neon_abs_s32(f3), r))
    return (mag ^ sign) &- sign
}
