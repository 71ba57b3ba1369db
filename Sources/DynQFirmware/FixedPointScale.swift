/// A tensor scale as integers: `scale = q31 · 2^(exponent − 31)`, so a caller without floating point can
/// dequantize (`real = scale · (q − zeroPoint)`) or compare scales.
///
/// Exact for every binary32 scale: a positive normal or subnormal binary32 value has at most 24 significant bits,
/// which `q31 ∈ [2^30, 2^31)` holds with 7 bits to spare. A zero, negative, infinite or NaN scale (not a valid
/// tensor scale) gives `q31 = 0`, `exponent = 0`. No floating point is used.
public struct FixedPointScale: Equatable, Sendable {
    /// In `[2^30, 2^31)` for a positive finite scale, else 0.
    public var q31: Int32
    /// Binary exponent: `scale = q31 · 2^(exponent − 31)`. In `[−148, 128]`.
    public var exponent: Int32

    public init(q31: Int32, exponent: Int32) { self.q31 = q31; self.exponent = exponent }

    /// The exact fixed-point form of the IEEE-754 binary32 scale with bit pattern `bits`.
    public init(binary32 bits: UInt32) {
        let sign = bits >> 31
        let biased = Int32((bits >> 23) & 0xFF)
        var mantissa = bits & 0x7F_FFFF
        guard sign == 0, biased != 0xFF, biased != 0 || mantissa != 0 else {
            self.init(q31: 0, exponent: 0)
            return
        }
        // value = mantissa24 · 2^(e − 150): normal e = biased with the hidden bit; subnormal e = 1, no hidden bit.
        var e = biased
        if biased == 0 { e = 1 } else { mantissa |= 0x80_0000 }
        // Normalize to [2^30, 2^31): shift left by the leading zeros minus one.
        let shift = Int32(mantissa.leadingZeroBitCount) - 1
        let q = mantissa << UInt32(shift)
        // value = q · 2^(e − 150 − shift) = q · 2^(exponent − 31)  ⇒  exponent = e − 119 − shift.
        self.init(q31: Int32(q), exponent: e - 119 - shift)
    }
}
