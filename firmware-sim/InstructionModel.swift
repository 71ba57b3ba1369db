import DynQGraph

/// One class's instruction cost: instructions per unit of `KernelWork` (`mac`, `output`, `channel`, `call`),
/// fitted to the per-layer QEMU benchmark of the kernel set on the core (docs/firmware-sim.md).
public struct InstructionCost: Equatable, Sendable {
    /// Instructions per MAC (conv, depthwise, linear, fusion), per element (add, pools, element-wise ops).
    public var perMAC = 0.0
    /// Per output element (conv/linear: the requantization and the output loop), per pool channel.
    public var perOutput = 0.0
    /// Per output element whose window reaches into the padding (`KernelWork.edgeOutputs`).
    public var perEdgeOutput = 0.0
    /// Per input element with the padding (`KernelWork.paddedInputs`).
    public var perInput = 0.0
    /// Per weight (`KernelWork.weights`, `O·K`).
    public var perWeight = 0.0
    /// Per output channel: of a fusion (`A[o]`, its Q32 reciprocal and the fused multiplier), of a conv or
    /// depthwise layer (per-channel set-up).
    public var perChannel = 0.0
    /// Per call.
    public var perCall = 0.0
    public var source: String

    public init(perMAC: Double = 0, perOutput: Double = 0, perEdgeOutput: Double = 0, perInput: Double = 0,
                perWeight: Double = 0, perChannel: Double = 0, perCall: Double = 0, source: String) {
        self.perMAC = perMAC; self.perOutput = perOutput; self.perEdgeOutput = perEdgeOutput
        self.perInput = perInput; self.perWeight = perWeight
        self.perChannel = perChannel; self.perCall = perCall; self.source = source
    }

    /// Instructions for `macs` MACs (or elements), `outputs` outputs (`edge` of them at the padding), `inputs`
    /// padded input elements, `weights` weights and `channels` channels, one call.
    public func instructions(macs: Int, outputs: Int, edge: Int = 0, inputs: Int = 0, weights: Int = 0,
                             channels: Int) -> Double {
        perMAC * Double(macs) + perOutput * Double(outputs) + perEdgeOutput * Double(edge)
            + perInput * Double(inputs) + perWeight * Double(weights) + perChannel * Double(channels) + perCall
    }
}

/// A calibrated latency model of one kernel set on one core (targets.json `"instructions"` + `"cpi"`):
///
///     instructions(op) = cost[class].instructions(work) (+ cost[fusion class] for a dynamic conv's fusion,
///                        + cost["fused_dc"] for its fused DC correction when the profile prices it)
///                        + cost["op"].perCall                       (the interpreter's per-op work)
///     cycles(op)       = Σ over the op's parts: instructions(part) × cpi[part's class] (or cpi["default"])
///
/// A class is looked up as `class@variant` first (the kernel set's chooser answer, e.g. `conv3x3@im2colElements`
/// for the DSP set's 1-channel stem), then `class`.
public struct InstructionModel: Equatable, Sendable {
    public var costs: [String: InstructionCost]
    /// Cycles per instruction, by class; `"default"` for the others.
    public var cpi: [String: Sourced]

    /// The classes every calibrated profile must price.
    public static let requiredClasses = ["conv3x3", "depthwise", "conv1x1", "linear", "fusion_conv", "fusion_depthwise",
                                         "add", "global_avgpool", "elementwise", "op"]

    public func cost(_ kernelClass: String, variant: String?) -> (key: String, cost: InstructionCost)? {
        if let v = variant, let c = costs[kernelClass + "@" + v] { return (kernelClass + "@" + v, c) }
        return costs[kernelClass].map { (kernelClass, $0) }
    }

    /// `cpi[key]`, else the class without its variant (`conv3x3@stem` → `conv3x3`), else `cpi["default"]`.
    public func cyclesPerInstruction(_ key: String) -> Double {
        if let c = cpi[key] { return c.value }
        if let base = key.split(separator: "@").first, let c = cpi[String(base)] { return c.value }
        return cpi["default"]?.value ?? 1
    }

    /// The op's estimate, part by part: (class key, instructions, cycles). Every part of an op is priced at the
    /// CPI of the op's class (`cpi` is measured per op: scripts/qemu-mix.py cannot split a dynamic conv's
    /// fusion from its conv, nor the interpreter's per-op work from the kernel).
    public func estimate(_ w: KernelWork) -> [(key: String, instructions: Double, cycles: Double)] {
        var parts: [(String, Double, Double)] = []
        let cpi = cyclesPerInstruction(for: w)
        func add(_ key: String, _ n: Double) { parts.append((key, n, n * cpi)) }
        if let (key, c) = cost(w.kernelClass, variant: w.variant) {
            add(key, c.instructions(macs: w.macs, outputs: w.outputs, edge: w.edgeOutputs, inputs: w.paddedInputs,
                                    weights: w.weights, channels: w.channels))
        }
        if let f = w.fusionClass, let (key, c) = cost(f, variant: nil) {
            add(key, c.instructions(macs: w.fusionMACs, outputs: 0, channels: w.fusionChannels))
        }
        if w.fusedDCElements > 0, let (key, c) = cost("fused_dc", variant: nil) {   // optional class
            add(key, c.instructions(macs: w.fusedDCElements, outputs: 0, inputs: w.fusedDCInputs, channels: 0))
        }
        if let (key, op) = cost("op", variant: w.opKind) { add(key, op.perCall) }
        return parts
    }

    /// Measured instructions of an op turned into cycles with the same timing model: at the CPI of the op's class.
    public func cycles(measuredInstructions n: Int, for w: KernelWork) -> Double {
        Double(n) * cyclesPerInstruction(for: w)
    }

    /// The CPI of an op: `cpi["class@variant"]` (the chooser's answer), else that of its cost key, its class,
    /// `cpi["default"]`.
    public func cyclesPerInstruction(for w: KernelWork) -> Double {
        if let v = w.variant, let c = cpi[w.kernelClass + "@" + v] { return c.value }
        return cyclesPerInstruction(cost(w.kernelClass, variant: w.variant)?.key ?? w.kernelClass)
    }
}

/// `"instructions"` (per class: `per_mac`, `per_output`, `per_edge_output`, `per_input`, `per_weight`,
/// `per_channel`, `per_call`, `source`) and `"cpi"` (per
/// class, `"default"` required: `value`, `source`), when the target has them.
func decodeInstructionModel(_ t: JSON, target name: String, kernelSet: String,
                            fail: (String) -> DynQError) throws -> InstructionModel? {
    guard let list = t["instructions"] else { return nil }
    guard let entries = list.objectValue else { throw fail("target '\(name)': 'instructions' must be an object") }
    var costs: [String: InstructionCost] = [:]
    let limit = TargetProfile.maxCyclesPerUnit
    for (k, v) in entries.entries where k != "about" {
        let what = "target '\(name)' instructions.\(k)"
        guard let s = v["source"]?.stringValue, !s.trimmingCharactersInSpaces.isEmpty else {
            throw fail("\(what): every number needs a 'source'")
        }
        var c = InstructionCost(source: s)
        var any = false
        let fields: Set<String> = ["per_mac", "per_output", "per_edge_output", "per_input", "per_weight",
                                   "per_channel", "per_call", "source"]
        if let unknown = v.objectValue?.keys.first(where: { !fields.contains($0) }) {
            throw fail("\(what): unknown field '\(unknown)' (per_mac, per_output, per_edge_output, per_input, "
                       + "per_weight, per_channel, per_call, source)")
        }
        for (field, path) in [("per_mac", \InstructionCost.perMAC), ("per_output", \.perOutput),
                              ("per_edge_output", \.perEdgeOutput), ("per_input", \.perInput),
                              ("per_weight", \.perWeight), ("per_channel", \.perChannel),
                              ("per_call", \.perCall)] {
            guard let j = v[field] else { continue }
            guard let x = j.doubleValue, x.isFinite, x >= 0, x <= limit else {
                throw fail("\(what).\(field): must be a number in [0, \(limit)]")
            }
            c[keyPath: path] = x
            any = true
        }
        guard any else { throw fail("\(what): no per_mac, per_output, per_channel or per_call") }
        costs[k] = c
    }
    for k in InstructionModel.requiredClasses where costs[k] == nil {
        throw fail("target '\(name)': missing instructions.\(k) (kernel set \(kernelSet))")
    }
    var cpi: [String: Sourced] = [:]
    guard let c = t["cpi"]?.objectValue else { throw fail("target '\(name)': 'instructions' needs a 'cpi' object") }
    for (k, v) in c.entries where k != "about" {
        guard let x = v["value"]?.doubleValue, x.isFinite, x > 0, x <= 100 else {
            throw fail("target '\(name)' cpi.\(k): value must be a number in (0, 100]")
        }
        guard let s = v["source"]?.stringValue, !s.trimmingCharactersInSpaces.isEmpty else {
            throw fail("target '\(name)' cpi.\(k): every number needs a 'source'")
        }
        cpi[k] = Sourced(value: x, source: s)
    }
    guard cpi["default"] != nil else { throw fail("target '\(name)': missing cpi.default") }
    return InstructionModel(costs: costs, cpi: cpi)
}
