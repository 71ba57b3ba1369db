import DynQGraph
import Foundation

/// The 256-entry tables the runtime looks values up in (docs/numerics.md). Index `i` stands for the int8 code
/// `q = i − 128` unless said otherwise.
public enum Tables {
    /// Sigmoid gate: `T[h + 128] = round(2^15 · sigmoid(s_h · (h − z_h)))`, clamped to [0, 32767].
    public static func sigmoidGate(_ h: ActivationQuant) -> [Int16] {
        (0..<256).map { i in
            let x = h.dequantize(i - 128)
            let v = (32768.0 / (1 + exp(-x))).rounded(.toNearestOrAwayFromZero)
            return Int16(max(0, min(32767, v)))
        }
    }

    /// Softmax (gate or op) with temperature `T` folded in: `E[d] = round(2^16 · exp(−s_h · d / T))` for
    /// `d = max(h) − h ∈ [0, 255]`.
    public static func softmaxExp(inputScale: Double, temperature: Double) -> [UInt32] {
        (0..<256).map { d in UInt32((65536.0 * exp(-inputScale * Double(d) / temperature)).rounded()) }
    }

    /// An element-wise int8 → int8 function: `T[q + 128] = quantize_out(f(dequantize_in(q)))`.
    public static func unary(_ f: (Double) -> Double, input: ActivationQuant, output: ActivationQuant) -> [Int8] {
        (0..<256).map { i in Int8(output.quantize(f(input.dequantize(i - 128)))) }
    }

    /// The uint8 → int8 input table of each channel: `T[c][p] = quantize(x)` with
    /// `x = (p · scale − mean[c]) / std[c]` (graph `input.preprocess`), index = the raw pixel p.
    public static func input(_ pre: Preprocess, channels: Int, quant: ActivationQuant) -> [[Int8]] {
        (0..<channels).map { c in
            (0..<256).map { p in Int8(quant.quantize(preprocessed(p, channel: c, pre))) }
        }
    }

    /// The real value the graph feeds for a raw pixel `p` of channel `c`.
    public static func preprocessed(_ p: Int, channel c: Int, _ pre: Preprocess) -> Double {
        let mean = Double(pre.mean.count == 1 ? pre.mean[0] : pre.mean[c])
        let std = Double(pre.std.count == 1 ? pre.std[0] : pre.std[c])
        return (Double(p) * Double(pre.scale) - mean) / std
    }
}
