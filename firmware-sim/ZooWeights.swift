import DynQCore
import DynQGraph
import Foundation

extension SplitMix64 {
    /// Uniform in `[0, 1)` with 24 random bits (every value exactly representable as a `Float`).
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}

/// FNV-1a over the UTF-8 bytes: a stable 64-bit hash of a tensor name.
public func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return h
}

extension WeightSpec {
    /// The tensor's values: a SplitMix64 stream seeded with `seed ^ fnv1a64(name)`, normals by Box–Muller
    /// (both outputs used). Depends only on `seed`, the name, the shape and the initialiser.
    public func materialize(seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed ^ fnv1a64(name))
        let n = count
        var data = [Float](repeating: 0, count: n)
        switch initializer {
        case .constant(let v):
            for i in 0..<n { data[i] = v }
        case .uniform(let lo, let hi):
            for i in 0..<n { data[i] = lo + (hi - lo) * rng.nextUnitFloat() }
        case .normal(let std):
            var i = 0
            while i < n {
                // u1 in (0, 1] so that log(u1) is finite.
                let u1 = 1 - rng.nextUnitFloat()
                let u2 = rng.nextUnitFloat()
                let r = (-2 * log(u1)).squareRoot() * std
                let theta = 2 * Float.pi * u2
                data[i] = r * cos(theta)
                if i + 1 < n { data[i + 1] = r * sin(theta) }
                i += 2
            }
        }
        return Tensor(shape: shape, data: data)
    }
}

extension ZooNetwork {
    /// Every weight's values, in spec order, from `seed`.
    public func materializeWeights(seed: UInt64 = 0) -> [(String, Tensor)] {
        weights.map { ($0.name, $0.materialize(seed: seed)) }
    }
}
