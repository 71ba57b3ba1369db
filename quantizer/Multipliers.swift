import DynQCore
import DynQGraph
import Foundation

/// `M_real ≈ m · 2^(e − 31)` with `m ∈ [2^30, 2^31)` (docs/numerics.md, "Requantization"): `m` is `M_real`'s
/// mantissa rounded once to 31 bits (half away from zero; a mantissa that rounds up to 2^31 becomes 2^30 with
/// `e + 1`).
///
/// - `M_real = 0` → `.zero`.
/// - `M_real < 2^−32` → `.zero` as well: `|x| < 2^31` makes every product round to 0, so this is exact.
/// - `M_real ≥ 2^30` (exponent `e > 30`, after rounding) is refused with `layer` and `what` named; multipliers
///   above 1 are fine (docs/numerics.md).
public func quantizeMultiplier(_ real: Double, layer: String, what: String) throws -> QuantizedMultiplier {
    guard real.isFinite, real >= 0 else {
        throw DynQError("layer \(layer): \(what) multiplier \(real) is not a finite non-negative number")
    }
    if real == 0 { return .zero }
    let (m, e) = mantissa31(real)
    if e > 30 {
        throw DynQError("layer \(layer): \(what) multiplier \(fmt(real, 6)) ≥ 2^30 cannot be represented "
                        + "(input scale × weight scale is more than 2^30 times the output scale)")
    }
    if e < -31 { return .zero }
    return QuantizedMultiplier(multiplier: Int32(m), shift: Int32(e))
}

/// `(m, e)` with `real ≈ m · 2^(e − 31)`, `m ∈ [2^30, 2^31)`, for `real > 0`, no range check on `e`.
func mantissa31(_ real: Double) -> (m: Int64, e: Int) {
    let f = frexp(real)                                   // real = f.0 · 2^f.1, f.0 ∈ [0.5, 1)
    var m = Int64((f.0 * 2147483648.0).rounded(.toNearestOrAwayFromZero))
    var e = f.1
    if m == 1 << 31 { m = 1 << 30; e += 1 }
    return (m, e)
}

/// The real value a multiplier stands for.
public func realValue(_ q: QuantizedMultiplier) -> Double {
    Double(q.multiplier) * pow(2.0, Double(q.shift) - 31)
}
