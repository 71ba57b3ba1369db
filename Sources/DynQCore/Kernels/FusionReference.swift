// Reference per-sample dynamic kernel fusion (docs/numerics.md, "Dynamic convolution in fixed point").
//
//   F[o,k]      = Σ_t η_q[o,t] · q_w[t,o,k]                     int32: |F| ≤ g · 32767 · 127 < 2^31 (g ≤ 516)
//   A[o]        = max_k |F[o,k]|                                 (A = 0 is used as A = 1, see below)
//   q_f[o,k]    = round_half_away(127 · F[o,k] / A[o])           ∈ [−127, 127], Int64 division
//   B[o]        = Σ_t η_q[o,t] · mb_q[t,o] + b_q[o] · 2^15       Int64: |B| < 516·2^15·2^31 + 2^46 < 2^56
//   bias_acc[o] = round_half_away(127 · B[o] / A[o])             clamped to ±(2^31 − 1 − K·255·127)
//   M[o]        = M0[o] · A[o] / 127                             QuantizedMultiplier.scaledByFusionMax(A[o])
//
// `A[o] = 0` means every F[o,k] is 0, so the fused kernel of channel o is 0 whatever the divisor; DynQ then
// divides by 1 instead of 0 (s_f = s_w·2^−15/127), which keeps the channel's bias in `bias_acc` and `M`.

/// The divisor of a fused channel: `max(A, 1)`.
@inlinable @inline(__always)
public func fusionDivisor(_ a: Int32) -> Int32 { a == 0 ? 1 : a }

/// `round_half_away(127 · f / a)` for `|f| ≤ a`, `a > 0`: the fused int8 kernel value.
@inlinable @inline(__always)
public func fusedKernelValue(_ f: Int32, divisor a: Int32) -> Int8 {
    Int8(truncatingIfNeeded: roundingDivide(Int64(f) &* 127, by: Int64(a)))
}

/// `round_half_away(127 · B / a)`: the fused bias in the accumulator's scale `s_in · s_f`, clamped to
/// `±(2^31 − 1 − terms·255·127)` so that adding the conv's `terms` products `(q − z)·q_f` (each at most 255·127 in
/// magnitude) can never overflow the int32 accumulator. `bias_acc` grows as `A` shrinks, so it has no static
/// bound; a clamped bias already drives the output to its int8 limit. `terms ≤ 66 311` (the validator's bound).
@inlinable
public func fusedBias(_ b: Int64, divisor a: Int32, terms: Int) -> Int32 {
    // |B| < 2^56, so 127·B < 2^63.
    let headroom = Int64(Int32.max) - Int64(terms) * 255 * 127
    let v = roundingDivide(b &* 127, by: Int64(a))
    return Int32(truncatingIfNeeded: min(max(v, -headroom), headroom))
}

/// Reference fusion. Layouts: `kernels` is `q_w[g]` one after another, each `O·K` int8 in `p.layout`
/// (`[O][K]` or `[K][O]`); `coefficients` is `η_q[O][g]` (per channel) or `η_q[g]` (per layer); `mixedBias` is
/// `mb_q[g][O]`; `staticBias` `b_q[O]`; `staticMultipliers` `(m0, e0)[O]`. Writes `fusedKernel` (`O·K`, same
/// layout), `biasAccumulator[O]` (the conv's bias for this sample) and `multipliers[O]` (the conv's per-channel
/// multipliers for this sample). Scratch: none — so each `F[o,k]` is computed twice, once to find `A[o]` and once
/// to write `q_f` (`2·g·O·K` fusion MACs; the SIMD kernel keeps a channel's `F` in scratch and does `g·O·K`).
/// Reports its work to `tally`: each fusion MAC with its coefficient (2 bytes) and
/// kernel (1 byte) loads, each division by `A[o]`, the bias, multiplier and output loads and stores.
@inlinable
public func dynamicFusionReference<T: KernelTally>(
    _ p: DynamicFusionParams,
    kernels: UnsafePointer<Int8>,
    coefficients: UnsafePointer<Int16>,
    mixedBias: UnsafePointer<Int32>?,
    staticBias: UnsafePointer<Int32>?,
    staticMultipliers: UnsafePointer<QuantizedMultiplier>,
    fusedKernel: UnsafeMutablePointer<Int8>,
    biasAccumulator: UnsafeMutablePointer<Int32>,
    multipliers: UnsafeMutablePointer<QuantizedMultiplier>,
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
        let d = fusionDivisor(a)
        for e in 0..<k {
            fusedKernel[index(ch, e)] = fusedKernelValue(fused(ch, e), divisor: d)
            tally.count(.fusionDivision, 1); tally.write(fusedKernel + index(ch, e))
        }
        var b: Int64 = 0
        if let mb = mixedBias {
            for t in 0..<g {
                b &+= Int64(eta(ch, t)) &* Int64(mb[t * o + ch])
                tally.count(.fusionMAC, 1); tally.read(mb + t * o + ch)
            }
        }
        if let sb = staticBias { b &+= Int64(sb[ch]) &<< 15; tally.read(sb + ch) }
        biasAccumulator[ch] = fusedBias(b, divisor: d, terms: p.elementsPerChannel)
        tally.count(.fusionDivision, 1); tally.write(biasAccumulator + ch)
        multipliers[ch] = staticMultipliers[ch].scaledByFusionMax(d)
        tally.read(staticMultipliers + ch); tally.write(multipliers + ch)
    }
}
