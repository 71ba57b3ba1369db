// The fused-kernel DC correction of a dynamic convolution (docs/numerics.md, "Fused DC correction"; the design and
// its measurements: docs/proposals/fused-dc-correction.md). Optional per layer (the model's flag); every kernel set
// applies it with these functions, after its fusion has written channel o's bias, from the channel's int32 `F` row
// that every set keeps in scratch, so every set's corrected bias is the oracle's bit for bit.
//
// Each sample's fused kernel is rounded to int8 (`q_f = round_half_away(F·R/2^32)`); the conv then misses
// `Σ_k (F·R/2^32 − q_f)[o,k] · (x_k − z_in)`. Its mean over the output positions is about the rounding residual
// applied to the input's channel means, which is added to the channel's bias:
//
//   m[i]      = round_half_away(2^7 · Σ_{h,w} (x[h,w,i] − z_in) / (H·W))   int16 Q7 channel mean, |m| ≤ 255·2^7
//   P         = F·R + 2^31 − [F < 0]                                     Int64 (|F·R| < 2^63): q_f = ⌊P / 2^32⌋
//   ρ16[o,k]  = ⌊(P mod 2^32) / 2^16⌋ − 2^15  ∈ [−2^15, 2^15)             (F·R/2^32 − q_f) in units of 2^−16
//   D[o]      = Σ_k ρ16[o,k] · m[i(o,k)]                                   Int64: |D| ≤ K·2^15·32640 < 2^47
//   bias[o]  ← clamp(bias[o] + round_half_away(D[o] / 2^23), ±(2^31 − 1 − K·255·127))
//
// with `i(o,k) = ⌊o / O_g⌋·I_g + (k mod I_g)` for OHWI kernels (`k = tap·I_g + i`) and `i(o,k) = o` for depthwise
// ones (`I_g = O_g = 1`). `m` is the plain mean of the input (the zero padding is not counted). The clamp keeps
// the fused bias's contract (`fusedBias`): the conv's int32 accumulator cannot overflow.
//
// `P mod 2^32` needs no 64-bit product: it is the low word of `F·R`, so `ρ16 = (F·R − [F < 0] mod 2^32, as int32) >> 16`
// (arithmetic), one 32-bit multiply. Cost per sample: `I·H·W` adds for the means, and per fused element one 32-bit
// multiply, one shift and one multiply-add into an Int64.

/// `ρ16 = ⌊(P mod 2^32) / 2^16⌋ − 2^15` with `P = f·r + 2^31 − [f < 0]`: the rounding residual of
/// `fusedKernelValue(f, reciprocal: r)`, `f·r/2^32 − q_f ∈ [−1/2, 1/2]`, in units of `2^−16` (floored), in
/// `[−2^15, 2^15)`.
@inlinable @inline(__always)
public func fusedResidual16(_ f: Int32, reciprocal r: UInt32) -> Int32 {
    // P mod 2^32 = (F·R + 2^31 − [F < 0]) mod 2^32; flipping its top bit (− 2^31) gives (F·R − [F < 0]) mod 2^32,
    // whose int32 value is (P mod 2^32) − 2^31: the arithmetic shift by 16 is ⌊(P mod 2^32)/2^16⌋ − 2^15.
    (f &* Int32(bitPattern: r) &- (f &>> 31 & 1)) &>> 16
}

/// `D[o] = Σ_k ρ16(F[o,k], r) · m[i(o,k)]` for channel `channel` of `f`, its `F` row read at
/// `values[k·stride]`, `means` the layer's `m[I]` (the group's slice is found from `f`'s group sizes).
@inlinable
public func fusedDCResidual<T: KernelTally>(
    _ f: DynamicFusionParams, channel o: Int, values: UnsafePointer<Int32>, stride: Int, reciprocal r: UInt32,
    means: UnsafePointer<Int16>, tally: T = NoTally()
) -> Int64 {
    let ig = f.groupInputChannels
    let m = means + (o / f.groupOutputChannels) &* ig
    let taps = f.elementsPerChannel / ig
    let rs = Int32(bitPattern: r)
    var d: Int64 = 0
    var v = values
    for _ in 0..<taps {
        for i in 0..<ig {
            let f = v[0]
            let rho = (f &* rs &- (f &>> 31 & 1)) &>> 16                    // fusedResidual16(f, r)
            d &+= Int64(rho &* Int32(m[i]))                                  // |ρ16·m| ≤ 2^15·32640 < 2^30
            tally.count(.fusionRescale, 1); tally.read(m + i)
            v += stride
        }
    }
    return d
}

/// `clamp(bias + round_half_away(d / 2^23), ±(2^31 − 1 − terms·255·127))`: the corrected fused bias (`terms` the
/// conv's products per output, as for `fusedBias`; `|d| < 2^47`).
@inlinable @inline(__always)
public func fusedDCCorrectedBias(_ bias: Int32, residual d: Int64, terms: Int) -> Int32 {
    let headroom = Int64(Int32.max) &- Int64(terms) &* 255 &* 127
    let half: Int64 = 1 << 22
    let delta = d >= 0 ? (d &+ half) &>> 23 : 0 &- ((0 &- d &+ half) &>> 23)
    let b = Int64(bias) &+ delta
    return Int32(truncatingIfNeeded: b > headroom ? headroom : (b < 0 &- headroom ? 0 &- headroom : b))
}

/// Channel `channel`'s correction, when `a.inputMeans` is set: `a.fusedBias[channel]` (already the fusion's
/// bias) becomes `fusedDCCorrectedBias` of it. `values`/`stride`: the channel's `F` row; `r` its reciprocal.
@inlinable @inline(__always)
public func applyFusedDCCorrection<T: KernelTally>(
    _ f: DynamicFusionParams, _ a: FusionArguments, channel: Int, values: UnsafePointer<Int32>, stride: Int,
    reciprocal r: UInt32, tally: T = NoTally()
) {
    guard let means = a.inputMeans else { return }
    let d = fusedDCResidual(f, channel: channel, values: values, stride: stride, reciprocal: r, means: means,
                            tally: tally)
    a.fusedBias[channel] = fusedDCCorrectedBias(a.fusedBias[channel], residual: d, terms: f.elementsPerChannel)
    tally.count(.elementOp, 1)
}

/// `m[i] = round_half_away(2^7 · Σ_p (x[p,i] − z) / positions)` for `channels` interleaved channels (NHWC) over
/// `positions = H·W ≥ 1` pixels; `|m| ≤ 255·2^7 = 32640`. One add per input element (`Σ x`, then `− n·z`), one
/// division per channel. The means are scratch to the op (read by the fusion only): their stores are not reported.
@inlinable
public func fusedDCInputMeans<T: KernelTally>(
    input: UnsafePointer<Int8>, positions: Int, channels: Int, zeroPoint z: Int32,
    means: UnsafeMutablePointer<Int16>, tally: T = NoTally()
) {
    for i in 0..<channels {
        var sum: Int32 = 0                            // |Σ x| ≤ 128·H·W < 2^31 (the validator bounds H·W)
        var x = input + i
        for _ in 0..<positions {
            sum &+= Int32(x[0])
            tally.count(.add, 1); tally.read(x)
            x += channels
        }
        means[i] = fusedDCMean(sum: sum, positions: positions, zeroPoint: z)
        tally.count(.elementOp, 1)
    }
}

/// `round_half_away(2^7 · (Σ x − n·z) / n)` for a channel's `Σ x` over `n = positions` pixels: every set's mean.
@inlinable @inline(__always)
public func fusedDCMean(sum: Int32, positions: Int, zeroPoint z: Int32) -> Int16 {
    let n = Int64(positions)
    let s = (Int64(sum) &- n &* Int64(z)) &<< 7
    let q = (s.magnitude &+ UInt64(n / 2)) / UInt64(n)              // unsigned: no signed 64-bit division routine
    return Int16(truncatingIfNeeded: s < 0 ? 0 &- Int64(q) : Int64(q))
}

/// Bytes of `fusedDCInputMeans`'s means for `channels` input channels (`2·I`).
@inlinable
public func fusedDCBufferBytes(channels: Int) -> Int { 2 * channels }
