// The Q31 requantization multiplier (docs/numerics.md, "Requantization: Q31 multiplier and shift, single rounding").

/// A real multiplier `M ≈ m · 2^(e − 31)` stored as two Int32s, **`m` then `e`** (stride 8, so a model file
/// can store `[O]` interleaved pairs and the runtime can point at them directly).
///
/// Domain: `m ∈ [2^30, 2^31)` and `e ∈ [−31, 30]`, or `m = 0, e = 0` for `M = 0`. So `M < 2^30`.
///
/// `apply(x)` is TFLite's `TFLITE_SINGLE_ROUNDING` (CMSIS-NN's `CMSIS_NN_USE_SINGLE_ROUNDING`):
/// with `n = 31 − e ∈ [1, 62]`,
///
///     y = (x · m + 2^(n−1)) >> n          64-bit product, arithmetic shift
///
/// i.e. `y = ⌊x · m / 2^n + ½⌋`, **round to nearest, ties toward +∞**, one rounding of the exact rational,
/// saturated to Int32. Worked examples (tested):
///
///     QuantizedMultiplier(multiplier: 1 << 30, shift: 0).apply(3)  == 2     // 3 · ½ = 1.5 → 2
///     QuantizedMultiplier(multiplier: 1 << 30, shift: 0).apply(-3) == -1    // −1.5 → −1 (ties toward +∞)
///     QuantizedMultiplier(multiplier: 1 << 30, shift: 0).apply(-5) == -2    // −2.5 → −2
///     QuantizedMultiplier(multiplier: 1 << 30, shift: 1).apply(7)  == 7     // M = 1
///     QuantizedMultiplier(multiplier: 1 << 30, shift: 30).apply(4) == Int32.max   // 4 · 2^29 = 2^31, saturated
@frozen
public struct QuantizedMultiplier: Equatable, Sendable {
    /// `m`, in `[2^30, 2^31)`, or 0.
    public var multiplier: Int32
    /// `e`, in `[−31, 30]` (0 when `multiplier == 0`).
    public var shift: Int32

    @inlinable
    public init(multiplier: Int32, shift: Int32) {
        precondition(multiplier == 0 ? shift == 0 : (multiplier >= 1 << 30 && shift >= -31 && shift <= 30),
                     "QuantizedMultiplier: m must be in [2^30, 2^31) (or 0 with e = 0), e in [-31, 30]")
        self.multiplier = multiplier
        self.shift = shift
    }

    /// `M = 0`.
    public static let zero = QuantizedMultiplier(multiplier: 0, shift: 0)

    /// `⌊x · m / 2^(31−e) + ½⌋`, saturated to Int32.
    @inlinable @inline(__always)
    public func apply(_ x: Int32) -> Int32 {
        let n = Int64(31 &- shift)                         // 1...62 (31 for the zero multiplier: y = 0)
        let p = Int64(x) &* Int64(multiplier)              // |p| < 2^62
        let y = (p &+ (Int64(1) &<< (n &- 1))) &>> n      // |p| + 2^61 < 2^63
        return saturatingInt32(y)
    }

    /// The per-sample multiplier of a fused dynamic kernel: `M = M0 · 2^32 / R` (docs/numerics.md, "Output
    /// multiplier, derived in fixed point"), where `self` is the static `M0` and `R = fusionReciprocal(A) ≥ 1` is
    /// the channel's Q32 rescale (the fused kernel's scale is `s_F · 2^32 / R`).
    ///
    /// Computed without floating point and with a **single rounding**: `N = m0 · 2^32` (exact, < 2^63), the shift
    /// `s ≥ 0` that puts `N / (R · 2^s)` in `[2^30, 2^31)` (found from `⌊N / R⌋`'s bit length), then
    /// `m = ⌊N / (R · 2^s) + ½⌋` (half up), `e = e0 + s`. If the rounding reaches 2^31, `m = 2^30` and `e + 1`.
    /// Edge cases: `M0 = 0` → `.zero`; `e > 30` → saturates to `(2^31 − 1, 30)`. Since `2^32 / R > 1` for every
    /// `R < 2^32`, `M ≥ M0` and e never goes below `e0`.
    ///
    ///     QuantizedMultiplier(multiplier: 1 << 30, shift: 0).scaledByFusionReciprocal(1 << 31)
    ///         == QuantizedMultiplier(multiplier: 1 << 30, shift: 1)        // ×2
    ///     QuantizedMultiplier(multiplier: 1 << 30, shift: 0).scaledByFusionReciprocal(3 << 29)
    ///         == QuantizedMultiplier(multiplier: 1_431_655_765, shift: 1)  // ×8/3 = 1.333… · 2^1, rounded
    @inlinable
    public func scaledByFusionReciprocal(_ r: UInt32) -> QuantizedMultiplier {
        precondition(r > 0, "scaledByFusionReciprocal: R must be >= 1")
        if multiplier == 0 { return .zero }
        let n = UInt64(UInt32(bitPattern: multiplier)) &<< 32               // < 2^63
        let rr = UInt64(r)
        let whole = n / rr                                                   // ≥ m0 ≥ 2^30, < 2^63
        let bits = 64 &- whole.leadingZeroBitCount                           // ≥ 31
        let s = bits &- 31                                                   // ⌊N / (R·2^s)⌋ ∈ [2^30, 2^31)
        let d = rr &<< UInt64(s)                                             // ≤ N / 2^30 < 2^33
        var m = n / d
        let rem = n % d
        if rem >= d &- rem { m &+= 1 }                                       // half up
        var e = Int(shift) &+ s
        if m == UInt64(1) << 31 { m = UInt64(1) << 30; e &+= 1 }
        if e > 30 { return QuantizedMultiplier(multiplier: Int32.max, shift: 30) }
        return QuantizedMultiplier(multiplier: Int32(truncatingIfNeeded: m), shift: Int32(truncatingIfNeeded: e))
    }
}

/// The output stage every int8 kernel shares: `clamp(y + zeroPoint, activationMin, activationMax)`,
/// with `[activationMin, activationMax] ⊆ [−128, 127]` also carrying a fused ReLU / ReLU6.
@frozen
public struct OutputQuantization: Equatable, Sendable {
    /// Output zero point, in `[−128, 127]`.
    public var zeroPoint: Int32
    public var activationMin: Int32
    public var activationMax: Int32

    @inlinable
    public init(zeroPoint: Int32, activationMin: Int32 = -128, activationMax: Int32 = 127) {
        precondition(zeroPoint >= -128 && zeroPoint <= 127, "OutputQuantization: zero point out of [-128, 127]")
        precondition(-128 <= activationMin && activationMin <= activationMax && activationMax <= 127,
                     "OutputQuantization: activation range must be within [-128, 127]")
        self.zeroPoint = zeroPoint
        self.activationMin = activationMin
        self.activationMax = activationMax
    }

    /// `clamp(y + zeroPoint, activationMin, activationMax)` as Int8 (`y` is a requantized value; the add wraps
    /// only when `y` is within 127 of Int32.max, which then clamps correctly as well: see `finish`).
    @inlinable @inline(__always)
    public func finish(_ y: Int32) -> Int8 {
        // y is saturated Int32; adding a zero point in [-128,127] can only wrap at the extremes: clamp first.
        let c = y < -512 ? -512 : (y > 512 ? 512 : y)
        return clampToInt8(c &+ zeroPoint, activationMin, activationMax)
    }
}

extension OutputQuantization {
    /// `finish(m.apply(x))` computed in one 64-bit step for the fast kernels: the exact
    /// `⌊(x·m + 2^(n−1)) / 2^n⌋` clamped to `[activationMin − z, activationMax − z]`, plus `z`. Equal to
    /// `finish(m.apply(x))` for every `x`: the clamp bounds lie within `[−255, 255]`, inside both the Int32
    /// saturation and `finish`'s ±512 pre-clamp, and clamping commutes with adding `z`.
    @inlinable @inline(__always)
    public func requantize(_ x: Int32, _ m: QuantizedMultiplier) -> Int8 {
        let n = Int64(31 &- m.shift)
        var y = (Int64(x) &* Int64(m.multiplier) &+ (Int64(1) &<< (n &- 1))) &>> n
        let lo = Int64(activationMin &- zeroPoint), hi = Int64(activationMax &- zeroPoint)
        y = y < lo ? lo : (y > hi ? hi : y)
        return Int8(truncatingIfNeeded: Int32(truncatingIfNeeded: y) &+ zeroPoint)
    }
}
