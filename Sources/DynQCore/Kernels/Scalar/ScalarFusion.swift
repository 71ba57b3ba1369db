// The scalar set's per-sample dynamic kernel fusion and the fusion arithmetic every set shares (docs/numerics.md, "Dynamic convolution in fixed point").
//
//   F[o,k]      = Σ_t η_q[o,t] · q_w[t,o,k]                     int32: |F| ≤ g · 32767 · 127 < 2^31 (g ≤ 516)
//   A[o]        = max_k |F[o,k]|
//   R[o]        = min(⌊127 · 2^32 / A[o]⌋, 2^32 − 1)              the channel's Q32 rescale (A = 0 → 2^32 − 1)
//   q_f[o,k]    = round_half_away(F[o,k] · R[o] / 2^32)          ∈ [−127, 127]: one 32×32→64-bit multiply
//   B[o]        = Σ_t η_q[o,t] · mb_q[t,o] + b_q[o] · 2^15       Int64: |B| < 516·2^15·2^31 + 2^46 < 2^56
//   bias_acc[o] = round_half_away(B[o] · R[o] / 2^32)            clamped to ±(2^31 − 1 − K·255·127)
//   M[o]        = M0[o] · 2^32 / R[o]                            QuantizedMultiplier.scaledByFusionReciprocal
//
// `|F|·R ≤ A · 127·2^32 / A`, so `|q_f| ≤ 127`, and for A ≥ 128, `A·R / 2^32 > 127 − A/2^32 > 126.5`, so the
// channel's largest `|q_f|` is exactly 127: each channel uses the int8 range at every sample, at the scale
// `s_F · 2^32 / R` (within a factor `1 + A/(127·2^32)` of `s_F · A / 127`). The cap at 2^32 − 1 (only for A ≤ 127,
// including A = 0) gives `q_f = F` exactly. No division per element: one per channel, for R and M.

/// `R = min(⌊127 · 2^32 / A⌋, 2^32 − 1)`, the Q32 rescale of a fused channel whose largest `|F|` is `a ≥ 0`
/// (`a ≤ 127`, including 0, gives the cap).
@inlinable
public func fusionReciprocal(_ a: Int32) -> UInt32 {
    precondition(a >= 0, "fusionReciprocal: A = max|F| must be >= 0")
    if a <= 127 { return UInt32.max }
    return UInt32(truncatingIfNeeded: (UInt64(127) << 32) / UInt64(a))      // < 2^32 for a ≥ 128
}

/// `round_half_away(f · r / 2^32)`: the fused int8 kernel value (in `[−127, 127]` for `|f| ≤ A`,
/// `r = fusionReciprocal(A)`).
@inlinable @inline(__always)
public func fusedKernelValue(_ f: Int32, reciprocal r: UInt32) -> Int8 {
    let q = (UInt64(f.magnitude) &* UInt64(r) &+ (1 << 31)) &>> 32            // |f|·r < 2^63
    let v = Int32(truncatingIfNeeded: q)
    return Int8(truncatingIfNeeded: f < 0 ? 0 &- v : v)
}

/// `round_half_away(B · r / 2^32)`: the fused bias in the accumulator's scale `s_in · s_f`, clamped to
/// `±(2^31 − 1 − terms·255·127)` so that adding the conv's `terms` products `(q − z)·q_f` (each at most 255·127 in
/// magnitude) can never overflow the int32 accumulator. `bias_acc` grows as `A` shrinks, so it has no static
/// bound; a clamped bias already drives the output to its int8 limit. `terms ≤ 66 311` (the validator's bound).
@inlinable
public func fusedBias(_ b: Int64, reciprocal r: UInt32, terms: Int) -> Int32 {
    // |B| < 2^56 and r < 2^32: the product needs up to 88 bits.
    let headroom = UInt64(Int32.max) - UInt64(terms) * 255 * 127
    let (high, low) = b.magnitude.multipliedFullWidth(by: UInt64(r))
    let (rounded, carry) = low.addingReportingOverflow(1 << 31)
    let h = high &+ (carry ? 1 : 0)
    // ⌊(high·2^64 + low + 2^31) / 2^32⌋, saturated at the headroom (h ≥ 2^32 is far beyond it).
    let q = h >= 1 << 32 ? UInt64.max : (h &<< 32) | (rounded &>> 32)
    let v = Int64(truncatingIfNeeded: q < headroom ? q : headroom)
    return Int32(truncatingIfNeeded: b < 0 ? 0 &- v : v)
}

/// Scalar fusion (instrumented; the oracle is `dynamicFusionReference`). Layouts: `kernels` is `q_w[g]` one after another, each `O·K` int8 in `p.layout`
/// (`[O][K]` or `[K][O]`); `coefficients` is `η_q[O][g]` (per channel) or `η_q[g]` (per layer); `mixedBias` is
/// `mb_q[g][O]`; `staticBias` `b_q[O]`; `staticMultipliers` `(m0, e0)[O]`. Writes `fusedKernel` (`O·K`, same
/// layout), `biasAccumulator[O]` (the conv's bias for this sample) and `multipliers[O]` (the conv's per-channel
/// multipliers for this sample). Scratch: none — so each `F[o,k]` is computed twice, once to find `A[o]` and once
/// to write `q_f` (`2·g·O·K` fusion MACs; the SIMD kernel keeps a channel's `F` in scratch and does `g·O·K`).
/// Reports its work to `tally`: each fusion MAC with its coefficient (2 bytes) and
/// kernel (1 byte) loads, each rescale by `R[o]` (kernel values and bias), the bias, multiplier and output loads
/// and stores.
@inlinable
public func dynamicFusionScalar<T: KernelTally>(
    _ p: DynamicFusionParams,
    kernels: UnsafePointer<Int8>,
    coefficients: UnsafePointer<Int16>,
    mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?,
    staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    fusedKernel: UnsafeMutablePointer<Int8>,
    biasAccumulator: UnsafeMutablePointer<Int32>,
    multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
    inputMeans: UnsafePointer<Int16>? = nil,
    tally: T = NoTally()
) {
    let g = p.kernelCount, o = p.outputChannels, k = p.elementsPerChannel
    let kernelSize = o * k
    @inline(__always) func eta(_ ch: Int, _ t: Int) -> Int32 {
        let at = p.coefficients == .perChannel ? ch * g + t : t
        tally.read(coefficients + at)
        return Int32(coefficients[at])
    }
    @inline(__always) func index(_ ch: Int, _ e: Int) -> Int {
        p.layout == .outputMajor ? ch * k + e : e * o + ch
    }
    @inline(__always) func fused(_ ch: Int, _ e: Int) -> Int32 {
        var f: Int32 = 0
        for t in 0..<g {
            let at = t * kernelSize + index(ch, e)
            f &+= eta(ch, t) &* Int32(kernels[at])
            tally.count(.fusionMAC, 1); tally.read(kernels + at)
        }
        return f
    }
    for ch in 0..<o {
        var a: Int32 = 0
        for e in 0..<k {
            let f = fused(ch, e)
            let m = f < 0 ? 0 &- f : f
            if m > a { a = m }
        }
        let r = fusionReciprocal(a)
        // The fused DC correction's residual (Common/FusedDCCorrection.swift) from the same F, as `fusedDCResidual`.
        var d: Int64 = 0
        let means = inputMeans.map { $0 + (ch / p.groupOutputChannels) * p.groupInputChannels }
        for e in 0..<k {
            let f = fused(ch, e)
            fusedKernel[index(ch, e)] = fusedKernelValue(f, reciprocal: r)
            tally.count(.fusionRescale, 1); tally.write(fusedKernel + index(ch, e))
            if let m = means {
                let i = e % p.groupInputChannels
                d &+= Int64(fusedResidual16(f, reciprocal: r) &* Int32(m[i]))
                tally.count(.fusionRescale, 1); tally.read(m + i)
            }
        }
        var b: Int64 = 0
        if let mb = mixedBias {
            for t in 0..<g {
                b &+= Int64(eta(ch, t)) &* Int64(mb[t * o + ch])
                tally.count(.fusionMAC, 1); tally.read(mb + t * o + ch)
            }
        }
        if let sb = staticBias { b &+= Int64(sb[ch]) &<< 15; tally.read(sb + ch) }
        biasAccumulator[ch] = fusedBias(b, reciprocal: r, terms: p.elementsPerChannel)
        tally.count(.fusionRescale, 1); tally.write(biasAccumulator + ch)
        if means != nil {
            biasAccumulator[ch] = fusedDCCorrectedBias(biasAccumulator[ch], residual: d, terms: p.elementsPerChannel)
            tally.count(.elementOp, 1)
        }
        multipliers[ch] = staticMultipliers[ch].scaledByFusionReciprocal(r)
        tally.read(staticMultipliers + ch); tally.write(multipliers + ch)
    }
}
