// Integer rounding helpers shared by every kernel (docs/numerics.md). No floating point.

/// `round(n / d)` with ties rounded **away from zero** (gemmlowp's `RoundingDivideByPOT` rule, C's `lround`),
/// computed exactly on magnitudes, so `Int64.min` numerators are fine. `d` must be non-zero.
///
///     roundingDivide( 7, by: 2) ==  4        //  3.5 →  4
///     roundingDivide(-7, by: 2) == -4        // -3.5 → -4
///     roundingDivide( 5, by: 3) ==  2        //  1.67
///     roundingDivide(-5, by: 3) == -2
///     roundingDivide( 4, by: -3) == -1       // -1.33
@inlinable
public func roundingDivide(_ n: Int64, by d: Int64) -> Int64 {
    precondition(d != 0, "roundingDivide: division by zero")
    let un = n.magnitude, ud = d.magnitude
    var q = un / ud
    let r = un % ud
    if r >= ud &- r { q &+= 1 }          // 2r >= |d| without overflow
    let negative = (n < 0) != (d < 0)
    // |q| <= 2^63 (only for Int64.min / ±1); the quotient is representable except Int64.min / -1.
    return negative ? Int64(truncatingIfNeeded: 0 &- q) : Int64(truncatingIfNeeded: q)
}

/// Int32 form of `roundingDivide(_:by:)`: ties away from zero; the quotient saturates to Int32
/// (only `Int32.min / -1` needs it).
@inlinable
public func roundingDivide(_ n: Int32, by d: Int32) -> Int32 {
    saturatingInt32(roundingDivide(Int64(n), by: Int64(d)))
}

/// Clamps an Int64 into Int32.
@inlinable @inline(__always)
public func saturatingInt32(_ x: Int64) -> Int32 {
    x > Int64(Int32.max) ? Int32.max : (x < Int64(Int32.min) ? Int32.min : Int32(truncatingIfNeeded: x))
}

/// Clamps an Int32 into `[lo, hi]` and narrows to Int8 (`[lo, hi] ⊆ [-128, 127]`).
@inlinable @inline(__always)
public func clampToInt8(_ x: Int32, _ lo: Int32, _ hi: Int32) -> Int8 {
    Int8(truncatingIfNeeded: x < lo ? lo : (x > hi ? hi : x))
}

/// Number of leading zero bits of a 64-bit value (64 for 0).
@inlinable @inline(__always)
internal func leadingZeros64(_ x: UInt64) -> Int { x.leadingZeroBitCount }

/// Q15 fixed point: `value = q / 2^15`. Dynamic coefficients η are Q15 int16 in `[0, 32767]`
/// (1.0 is not representable and is clamped to 32767, docs/numerics.md).
public enum Q15 {
    /// 2^15, the Q15 scale.
    public static let one: Int32 = 32768
    /// The largest Q15 coefficient, `32767 ≈ 0.99997`.
    public static let max: Int16 = 32767

    /// `round_half_away(2^15 · numerator / denominator)` clamped to `[0, 32767]`; the softmax gate's
    /// `η_q = round_half_away(2^15 · E / ΣE)`. `numerator >= 0`, `denominator > 0`.
    ///
    ///     Q15.ratio(1, over: 2) == 16384
    ///     Q15.ratio(1, over: 3) == 10923      // 10922.67
    ///     Q15.ratio(1, over: 65536) == 1      // 0.5 → 1 (tie away from zero)
    ///     Q15.ratio(5, over: 5) == 32767      // 1.0 clamped
    @inlinable
    public static func ratio(_ numerator: UInt64, over denominator: UInt64) -> Int16 {
        precondition(denominator > 0, "Q15.ratio: zero denominator")
        precondition(numerator <= UInt64(1) << 47, "Q15.ratio: numerator too large")
        let n = numerator << 15
        var q = n / denominator
        let r = n % denominator
        if r >= denominator &- r { q &+= 1 }
        return q >= 32767 ? Q15.max : Int16(truncatingIfNeeded: q)
    }

    /// `round_half_away(a · b / 2^15)` of two Q15 numbers, saturated to Int16 (`-32768 · -32768` → 32767).
    ///
    ///     Q15.multiply(16384, 16384) == 8192     // 0.5 · 0.5 = 0.25
    ///     Q15.multiply(-1, 16384) == -1          // -0.5 → -1 (away from zero)
    @inlinable
    public static func multiply(_ a: Int16, _ b: Int16) -> Int16 {
        let p = Int64(a) * Int64(b)
        let r = roundingDivide(p, by: 32768)
        return r > 32767 ? 32767 : Int16(truncatingIfNeeded: r)
    }
}
