// The wide linear: a `linear` whose output tensor is int16 (the classifier's "wide logits", docs/numerics.md).
// Every kernel set runs this one kernel (it is also its own law): a classifier is a few hundred to a few
// thousand MACs, so a per-set kernel would buy nothing, and one kernel keeps every set bit-identical.

/// `linear` `[1, F] → [1, O]` with an int16 output, weights int8 `[O][F]` in place, per-output-channel
/// multipliers:
///
///     acc[o] = bias[o] + Σ_i (x[i] − z_in) · w[o][i]          exact int32 (|acc| < 2^31: the validator's bound
///                                                              K·255·127 + max|bias| < 2^31, as for every linear)
///     out[o] = clamp(M[o].apply(acc[o]), low, high)            zero point 0; `QuantizedMultiplier.apply`: one
///                                                              rounding, ties toward +∞, saturating to int32
///
/// `low ≤ high` in `[−32768, 32767]`. Real value `s_out · out[o]` (the quantizer's scale: twice the calibration
/// extreme over 32767, docs/numerics.md "Wide logits"). Scratch: none. Reports its work to `tally` as
/// `linearScalar` does, the store being 2 bytes.
@inlinable
public func linearWide16<T: KernelTally>(
    _ p: LinearParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, low: Int32, high: Int32, output: UnsafeMutablePointer<Int16>,
    tally: T = NoTally()
) {
    let f = p.inputFeatures, z = p.inputZeroPoint
    for o in 0..<p.outputFeatures {
        var acc: Int32 = 0
        if let b = bias { acc = b[o]; tally.read(b + o) }
        let row = weights + o * f
        for i in 0..<f {
            acc &+= (Int32(input[i]) &- z) &* Int32(row[i])
            tally.count(.mac, 1); tally.read(input + i); tally.read(row + i)
        }
        let y = multipliers[o].apply(acc)
        output[o] = Int16(truncatingIfNeeded: y < low ? low : (y > high ? high : y))
        tally.read(multipliers + o); tally.count(.requantization, 1); tally.write(output + o)
    }
}
