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
/// `low ≤ high` in `[−32768, 32767]`. Real value `s_out · out[o]`: the quantizer picks `s_out` 256 times finer
/// than the int8 logits' step would be, so the logits keep 8 more bits and (nearly) never tie. Scratch: none.
@inlinable
public func linearWide16(
    _ p: LinearParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, low: Int32, high: Int32, output: UnsafeMutablePointer<Int16>
) {
    let f = p.inputFeatures, z = p.inputZeroPoint
    for o in 0..<p.outputFeatures {
        var acc: Int32 = bias?[o] ?? 0
        let row = weights + o * f
        for i in 0..<f { acc &+= (Int32(input[i]) &- z) &* Int32(row[i]) }
        let y = multipliers[o].apply(acc)
        output[o] = Int16(truncatingIfNeeded: y < low ? low : (y > high ? high : y))
    }
}
