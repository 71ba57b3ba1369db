import DynQGraph
import Foundation

/// What the quantizer measured and chose for one runtime operation.
public struct LayerReport: Sendable {
    /// The graph node (CPM parts are `<cpm>.pool`, `<cpm>.fc1`, `<cpm>.fc2`, `<cpm>.gate`).
    public var name: String
    /// The runtime op (`conv2d`, `depthwise_conv2d`, `dynamic_conv2d`, `linear`, `gate`, …).
    public var op: String
    /// `min_o s_w[o] … max_o s_w[o]` (weighted layers).
    public var weightScales: ValueRange?
    /// Weight SQNR in dB over the layer (weighted layers).
    public var weightSQNRdB: Double?
    public var input: ActivationQuant?
    /// nil for the int16 gate output.
    public var output: ActivationQuant?
    /// The clipping range chosen for the output tensor (what its 256 codes cover).
    public var outputRange: ValueRange?
    /// The output's range seen in calibration (before clipping).
    public var observedRange: ValueRange?
    /// Dynamic layers: range of the float fused kernels `Σ_t η W[t,o]` over calibration.
    public var fusedKernel: ValueRange?
    /// Dynamic layers: range of `max_k |W_o[k]|` over channels and samples.
    public var fusedChannelMaxAbs: ValueRange?
    /// Dynamic layers: range of the integer `A[o]` (Q15 coefficients rounded from the float ones).
    public var fusionMax: ValueRange?
    /// Dynamic layers: range of the per-sample output multiplier `M0 · A / 127` over calibration.
    public var sampleMultiplier: ValueRange?
    /// Range of the stored requantization multipliers.
    public var multipliers: ValueRange?
    public var accumulator: AccumulatorBound?
    /// Weighted layers rounded adaptively: their output error with nearest and with adaptive rounding.
    public var rounding: RoundingError?
    public var notes: [String] = []

    public init(name: String, op: String) { self.name = name; self.op = op }

    /// Records what adaptive rounding did to the layer's output error on the calibration inputs (and notes it).
    mutating func noteRounding(_ q: QuantizedWeights) {
        guard let e = q.outputError, let change = e.change else { return }
        rounding = e
        notes.append("adaptive rounding: output error \(change)")
    }
}

/// The quantizer's account of a model: one `LayerReport` per runtime op plus the global measurements.
public struct QuantReport: Sendable {
    public var model: String
    public var method: CalibrationMethod
    public var granularity: WeightGranularity
    public var samples: Int
    public var layers: [LayerReport]
    public var batchnormFolds: [BatchnormFold]
    /// `(activation node, node it was fused into)`.
    public var fusedActivations: [(activation: String, into: String)]
    /// The coefficient-bits study (8/12/15 bits by default).
    public var coefficientPrecision: [CoefficientPrecision]
    /// The coefficient format used (15: Q15).
    public var coefficientBits: Int = 15

    /// A fixed-width text table, one row per op that has parameters worth showing.
    public func table() -> String {
        var lines: [String] = []
        lines.append("model \(model): method \(method), \(granularity.rawValue) weights, \(samples) calibration samples, "
                     + "\(batchnormFolds.count) batchnorm folded, \(fusedActivations.count) activation(s) fused")
        let header = [pad("layer", 20), pad("op", 16), pad("weight scale", 21), pad("SQNR dB", 8),
                      pad("activation range (observed)", 40), "fused kernel range / A / M"]
        lines.append(header.joined(separator: " "))
        for l in layers {
            let ws = l.weightScales.map { "\(fmt($0.min, 3))…\(fmt($0.max, 3))" } ?? ""
            let sq = l.weightSQNRdB.map { String(format: "%.1f", $0) } ?? ""
            var act = l.outputRange.map { "\($0)" } ?? (l.op == "gate" ? "Q15 [0, 1)" : "")
            if let o = l.observedRange, l.outputRange != nil, o != l.outputRange { act += " (\(o))" }
            var fused = ""
            if let f = l.fusedKernel {
                fused = "\(f)"
                if let a = l.fusionMax { fused += " A∈[\(Int(a.min)), \(Int(a.max))]" }
                if let m = l.sampleMultiplier { fused += " M∈[\(fmt(m.min, 3)), \(fmt(m.max, 3))]" }
            }
            lines.append([pad(l.name, 20), pad(l.op, 16), pad(ws, 21), pad(sq, 8), pad(act, 40), fused]
                .joined(separator: " "))
        }
        if layers.contains(where: { $0.fusedKernel != nil }), !coefficientPrecision.isEmpty {
            lines.append("coefficient precision (fused-kernel error from rounding η alone):")
            for c in coefficientPrecision {
                lines.append("  \(c.bits) bits: max |Δη| \(fmt(c.maxCoefficientError, 3)), fused-kernel SQNR "
                             + String(format: "%.1f dB", c.fusedKernelSQNRdB)
                             + (c.bits == coefficientBits ? "  (used)" : ""))
            }
        }
        return lines.joined(separator: "\n")
    }

    public func json() -> JSON {
        func r(_ v: ValueRange?) -> JSON {
            guard let v, !v.isEmpty else { return .null }
            return .array([num(v.min), num(v.max)])
        }
        func num(_ x: Double) -> JSON { x.isFinite ? .number(x) : .null }
        func q(_ a: ActivationQuant?) -> JSON {
            guard let a else { return .null }
            return .object(["scale": num(a.scale), "zero_point": .int(a.zeroPoint)])
        }
        let layers: [JSON] = self.layers.map { l in
            var o: JSONObject = ["name": .string(l.name), "op": .string(l.op)]
            if let w = l.weightScales { o["weight_scale"] = r(w) }
            if let s = l.weightSQNRdB { o["weight_sqnr_db"] = num(s) }
            if l.input != nil { o["input"] = q(l.input) }
            if l.output != nil { o["output"] = q(l.output) }
            if let v = l.outputRange { o["activation_range"] = r(v) }
            if let v = l.observedRange { o["observed_range"] = r(v) }
            if let v = l.fusedKernel { o["fused_kernel_range"] = r(v) }
            if let v = l.fusedChannelMaxAbs { o["fused_channel_max_abs"] = r(v) }
            if let v = l.fusionMax { o["fusion_max_A"] = r(v) }
            if let v = l.sampleMultiplier { o["sample_multiplier"] = r(v) }
            if let v = l.multipliers { o["multiplier_range"] = r(v) }
            if let a = l.accumulator {
                o["accumulator"] = .object(["bound": .int(a.bound), "tight_bound": .int(a.tightBound),
                                            "terms": .int(a.terms), "bias": .int(a.bias),
                                            "bias_headroom": .int(a.biasHeadroom)])
            }
            if !l.notes.isEmpty { o["notes"] = .array(l.notes.map(JSON.string)) }
            return .object(o)
        }
        return .object([
            "model": .string(model), "method": .string("\(method)"), "weights": .string(granularity.rawValue),
            "samples": .int(samples),
            "batchnorm_folds": .array(batchnormFolds.map { .object(["batchnorm": .string($0.batchnorm),
                                                                    "into": .string($0.into)]) }),
            "fused_activations": .array(fusedActivations.map { .object(["activation": .string($0.activation),
                                                                        "into": .string($0.into)]) }),
            "coefficient_bits": .int(coefficientBits),
            "coefficient_precision": .array(coefficientPrecision.map {
                .object(["bits": .int($0.bits), "max_coefficient_error": num($0.maxCoefficientError),
                         "fused_kernel_sqnr_db": num($0.fusedKernelSQNRdB)])
            }),
            "layers": .array(layers),
        ])
    }
}

func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
}
