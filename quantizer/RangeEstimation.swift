import Foundation

/// How a tensor's clipping range is chosen from its calibration statistics.
public enum CalibrationMethod: Equatable, Sendable, CustomStringConvertible {
    /// The observed minimum and maximum.
    case minmax
    /// The `p`-th and `(100 − p)`-th percentiles of the histogram (default p = 99.99).
    case percentile(Double)
    /// The range minimising the expected quantization MSE (clipping + rounding) of the histogram.
    case mse

    public static let defaultPercentile = 99.99

    /// The method's command-line name (`minmax`, `percentile`, `mse`).
    public var name: String {
        switch self {
        case .minmax: return "minmax"
        case .percentile: return "percentile"
        case .mse: return "mse"
        }
    }

    public var description: String {
        switch self {
        case .minmax: return "minmax"
        case .percentile(let p): return p == Self.defaultPercentile ? "percentile" : "percentile(\(p))"
        case .mse: return "mse"
        }
    }

    /// Parses `minmax`, `percentile`, `percentile:99.9`, `mse`.
    public init?(parsing s: String) {
        switch s {
        case "minmax": self = .minmax
        case "percentile": self = .percentile(Self.defaultPercentile)
        case "mse": self = .mse
        default:
            guard s.hasPrefix("percentile:"), let p = Double(s.dropFirst("percentile:".count)), p > 50, p <= 100
            else { return nil }
            self = .percentile(p)
        }
    }
}

/// A real interval `[min, max]`.
public struct ValueRange: Equatable, Sendable, CustomStringConvertible {
    public var min: Double
    public var max: Double
    public init(min: Double, max: Double) { self.min = min; self.max = max }
    public static let empty = ValueRange(min: .infinity, max: -.infinity)
    public var isEmpty: Bool { min > max }
    public mutating func include(_ x: Double) {
        if x < min { min = x }
        if x > max { max = x }
    }
    public mutating func include(_ r: ValueRange) {
        if r.min < min { min = r.min }
        if r.max > max { max = r.max }
    }
    public var description: String { isEmpty ? "[empty]" : "[\(fmt(min)), \(fmt(max))]" }
}

func fmt(_ x: Double, _ digits: Int = 4) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return x > 0 ? "inf" : (x < 0 ? "-inf" : "nan") }
    let a = Swift.abs(x)
    if a >= 1e5 || a < 1e-3 { return String(format: "%.\(digits - 1)e", x) }
    return String(format: "%.\(digits)g", x)
}

/// A histogram over a range that grows as values arrive: `bins` equal bins over `[lo, lo + width·bins)`. When a
/// value falls outside, the width doubles (pairs of bins merge) and the range extends towards the value, so the
/// final range is within a factor 2 of the data's and at least half the bins cover it. Also keeps the exact
/// minimum, maximum and count.
///
/// Only finite values are binned: NaN and ±infinity are skipped and counted in `nonFinite` (`calibrate` refuses
/// them before they get here). With finite float32 inputs the range stays within ±2^129 and the width within
/// 2^130 / bins, so every bin index is computed in range and `grow` runs at most ~300 times per call.
public struct Histogram: Sendable {
    public private(set) var counts: [Double]
    public private(set) var lo: Double = 0
    public private(set) var width: Double = 0
    public private(set) var exact = ValueRange.empty
    public private(set) var total: Double = 0
    /// NaN and ±infinity values seen (not binned).
    public private(set) var nonFinite = 0

    public init(bins: Int = 2048) {
        precondition(bins >= 2 && bins % 2 == 0)
        counts = [Double](repeating: 0, count: bins)
    }

    public var bins: Int { counts.count }
    public var hi: Double { lo + width * Double(bins) }

    /// Adds a batch of values (NaN and ±infinity are skipped and counted in `nonFinite`).
    public mutating func add<C: Collection>(_ values: C) where C.Element == Float {
        var r = ValueRange.empty
        var finite = 0
        for v in values where v.isFinite { r.include(Double(v)); finite += 1 }
        nonFinite += values.count - finite
        if r.isEmpty { return }
        exact.include(r)
        if width == 0 {
            // First batch: the batch's range, slightly widened so its maximum falls inside.
            let span = r.max - r.min
            width = span > 0 ? span * (1 + 1e-9) / Double(bins) : Swift.max(Swift.abs(r.min), 1e-12) / Double(bins)
            lo = span > 0 ? r.min : r.min - width * Double(bins / 2)
        }
        while r.min < lo || r.max >= hi { grow(towardsLow: r.min < lo) }
        let inv = 1 / width
        let n = bins
        counts.withUnsafeMutableBufferPointer { c in
            for v in values where v.isFinite {
                // In [0, n] for v in [lo, hi); clamped in Double first, so no value can make the conversion trap.
                let b = Int(Swift.min(Swift.max((Double(v) - lo) * inv, 0), Double(n - 1)))
                c[b] += 1
            }
        }
        total += Double(finite)
    }

    private mutating func grow(towardsLow: Bool) {
        let n = bins, half = n / 2
        var merged = [Double](repeating: 0, count: n)
        for i in 0..<half { merged[i] = counts[2 * i] + counts[2 * i + 1] }
        if towardsLow {
            // New range [hi − 2·span, hi): the merged bins go to the upper half.
            let oldHi = hi
            for i in 0..<half { merged[half + i] = merged[i]; merged[i] = 0 }
            width *= 2
            lo = oldHi - width * Double(n)
        } else {
            width *= 2
        }
        counts = merged
    }

    /// Centre of bin `i`.
    public func center(_ i: Int) -> Double { lo + (Double(i) + 0.5) * width }

    /// The value below which a fraction `q` of the samples lie (linear inside a bin), clamped to the exact range.
    public func quantile(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let target = q * total
        var acc = 0.0
        for i in 0..<bins {
            let c = counts[i]
            if acc + c >= target && c > 0 {
                let x = lo + (Double(i) + (target - acc) / c) * width
                return Swift.min(Swift.max(x, exact.min), exact.max)
            }
            acc += c
        }
        return exact.max
    }
}

/// The clipping range of a tensor from its histogram (always containing 0, so that real 0 is exact).
public func chooseRange(_ h: Histogram, method: CalibrationMethod) -> ValueRange {
    guard h.total > 0 else { return ValueRange(min: 0, max: 0) }
    var r: ValueRange
    switch method {
    case .minmax:
        r = h.exact
    case .percentile(let p):
        let tail = (100 - p) / 100
        r = ValueRange(min: h.exact.min >= 0 ? h.exact.min : h.quantile(tail),
                       max: h.exact.max <= 0 ? h.exact.max : h.quantile(1 - tail))
    case .mse:
        r = mseRange(h)
    }
    return ValueRange(min: Swift.min(r.min, 0), max: Swift.max(r.max, 0))
}

/// Expected squared error of quantizing the histogram to 256 levels over `[a, b]` (a ≤ 0 ≤ b): values outside are
/// clipped (error to the edge, per bin centre), values inside get the uniform rounding noise `s²/12`.
/// Searched on a grid of bin edges for both ends, with prefix sums (O(1) per candidate).
func mseRange(_ h: Histogram) -> ValueRange {
    let n = h.bins
    // Prefix sums of count, count·x, count·x² over bin centres.
    var c0 = [Double](repeating: 0, count: n + 1), c1 = c0, c2 = c0
    for i in 0..<n {
        let x = h.center(i), c = h.counts[i]
        c0[i + 1] = c0[i] + c; c1[i + 1] = c1[i] + c * x; c2[i + 1] = c2[i] + c * x * x
    }
    // Error of clipping bins [i, j) to the value t: Σ c (x − t)².
    func clipErr(_ i: Int, _ j: Int, _ t: Double) -> Double {
        guard j > i else { return 0 }
        let n0 = c0[j] - c0[i], n1 = c1[j] - c1[i], n2 = c2[j] - c2[i]
        return Swift.max(0, n2 - 2 * t * n1 + t * t * n0)
    }
    let mn = Swift.min(h.exact.min, 0), mx = Swift.max(h.exact.max, 0)
    // Candidate ends: `steps` points from the zero end to the observed extreme.
    let steps = 256
    var lows: [Double] = mn < 0 ? (1...steps).map { mn * Double($0) / Double(steps) } : [0]
    var highs: [Double] = mx > 0 ? (1...steps).map { mx * Double($0) / Double(steps) } : [0]
    lows.append(mn); highs.append(mx)
    func binIndex(_ x: Double) -> Int { Swift.min(Swift.max(Int(((x - h.lo) / h.width).rounded(.down)), 0), n) }
    var best = (err: Double.infinity, r: ValueRange(min: mn, max: mx))
    for a in lows {
        let ia = binIndex(a)               // bins [0, ia) are clipped to a
        let lowErr = clipErr(0, ia, a)
        for b in highs where b > a {
            let ib = Swift.max(binIndex(b) + 1, ia)  // bins [ib, n) are clipped to b
            let s = (b - a) / 255
            let inside = c0[ib] - c0[ia]
            let e = lowErr + clipErr(ib, n, b) + inside * s * s / 12
            if e < best.err { best = (e, ValueRange(min: a, max: b)) }
        }
    }
    return best.r
}
