/// Asymmetric int8 quantization of an activation tensor: `real = scale · (q − zeroPoint)`, q ∈ [−128, 127].
public struct ActivationQuant: Equatable, Sendable, CustomStringConvertible {
    public var scale: Double
    public var zeroPoint: Int
    public init(scale: Double, zeroPoint: Int) { self.scale = scale; self.zeroPoint = zeroPoint }

    /// TFLite's choice: the range is widened to contain 0, `scale = (max − min) / 255` and the zero point is the
    /// integer nearest to `−128 − min / scale` (so real 0 is exact; the range is nudged by less than one step).
    /// An empty or all-zero range gets scale 1/255... any positive scale with zero point 0 (nothing to represent).
    public init(range r: ValueRange) {
        let lo = Swift.min(r.isEmpty ? 0 : r.min, 0), hi = Swift.max(r.isEmpty ? 0 : r.max, 0)
        guard hi > lo else { self.init(scale: 1.0 / 256, zeroPoint: 0); return }
        let s = (hi - lo) / 255
        let z = (-128 - lo / s).rounded(.toNearestOrAwayFromZero)
        self.init(scale: s, zeroPoint: Int(Swift.max(-128, Swift.min(127, z))))
    }

    /// `clamp(round(x / scale) + zeroPoint)`.
    public func quantize(_ x: Double) -> Int {
        let q = (x / scale).rounded(.toNearestOrAwayFromZero) + Double(zeroPoint)
        return Int(Swift.max(-128, Swift.min(127, q)))
    }
    public func dequantize(_ q: Int) -> Double { scale * Double(q - zeroPoint) }

    /// The real interval the 256 codes cover.
    public var range: ValueRange { ValueRange(min: dequantize(-128), max: dequantize(127)) }

    public var description: String { "s=\(fmt(scale)) z=\(zeroPoint)" }
}
