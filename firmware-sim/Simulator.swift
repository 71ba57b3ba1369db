import DynQCore
import DynQGraph
import Foundation

/// One op's estimate on a target.
public struct LayerEstimate: Sendable {
    public var counts: OpCounts
    public var cycles: Double
    /// Arena bytes alive while the op runs (from the runtime's plan).
    public var liveBytes: Int
}

/// A model on a target: cycles, latency, RAM and flash, and whether it fits (docs/firmware-sim.md).
public struct SimReport: Sendable {
    public var model: String
    public var target: TargetProfile
    public var layers: [LayerEstimate]
    public var totalCycles: Double
    public var latencySeconds: Double
    /// `ArenaPlan.arenaBytes` (+15 for an unaligned arena start).
    public var arenaBytes: Int
    public var stackBytes: Int
    public var staticRAMBytes: Int
    public var modelBytes: Int
    public var codeBytes: Int
    public var codeSource: String
    public var counts: ModelCounts
    /// `"analytic"` (from shapes) or `"measured"` (instrumented reference kernels; `dynq sim --measure`).
    public var countsSource: String
    /// DynQ's own kernels measured on QEMU's Cortex-M4 (`dynq sim --qemu-log`), when given.
    public var qemu: QemuProfile? = nil

    public var peakRAMBytes: Int { arenaBytes + stackBytes + staticRAMBytes }
    public var flashUsedBytes: Int { modelBytes + codeBytes }
    public var ramLimit: Int { Int(target.sramBytes.value) }
    public var flashLimit: Int { Int(target.flashBytes.value) }
    public var ramMargin: Int { ramLimit - peakRAMBytes }
    public var flashMargin: Int { flashLimit - flashUsedBytes }
    /// The arena also fits the largest contiguous block, when the profile gives one.
    public var arenaFitsBlock: Bool { target.sramLargestBlockBytes.map { arenaBytes <= Int($0.value) } ?? true }
    public var fitsRAM: Bool { ramMargin >= 0 && arenaFitsBlock }
    public var fitsFlash: Bool { flashMargin >= 0 }
    public var fits: Bool { fitsRAM && fitsFlash }
}

/// Cycles of one op on `target`. Conv/linear costs are end-to-end per-MAC figures (they include the per-output
/// requantization and loop overhead), so `requantize` is charged only to ops without MACs.
public func estimateCycles(_ c: OpCounts, on target: TargetProfile) -> Double {
    var cycles = 0.0
    if c.convMACs > 0 { cycles += Double(c.convMACs) * target.cost(c.kernelClass.rawValue) }
    cycles += Double(c.cpmMACs) * target.cost(KernelClass.linear.rawValue)
    cycles += Double(c.fusionMACs) * target.cost("fusion")
    cycles += Double(c.fusionRescales) * target.cost("fusion_normalize")
    if c.macs == 0 { cycles += Double(c.requantizations) * target.cost("requantize") }
    cycles += Double(c.tableLookups + c.elementOps + c.adds) * target.cost("elementwise")
    return cycles
}

public func simulate(counts: ModelCounts, modelBytes: Int, code: CodeSize, target: TargetProfile,
                     countsSource: String = "analytic") -> SimReport {
    var layers: [LayerEstimate] = []
    var total = 0.0
    for (i, c) in counts.ops.enumerated() {
        let cy = estimateCycles(c, on: target)
        total += cy
        layers.append(LayerEstimate(counts: c, cycles: cy, liveBytes: counts.liveBytes[i]))
    }
    return SimReport(model: counts.name, target: target, layers: layers, totalCycles: total,
                     latencySeconds: total / target.clockHz.value,
                     arenaBytes: counts.plan.arenaBytes + ArenaPlan.alignment - 1,
                     stackBytes: code.stackBound, staticRAMBytes: code.staticRAMBytes, modelBytes: modelBytes,
                     codeBytes: code.flashBytes, codeSource: code.source, counts: counts, countsSource: countsSource)
}

// MARK: - Formatting

func human(_ bytes: Int) -> String {
    let b = Double(bytes)
    if abs(b) >= Double(1 << 30) { return String(format: "%.2f GiB", b / Double(1 << 30)) }
    if abs(b) >= Double(1 << 20) { return String(format: "%.2f MiB", b / Double(1 << 20)) }
    if abs(b) >= 1024 { return String(format: "%.1f KiB", b / 1024) }
    return "\(bytes) B"
}

func humanCount(_ n: Double) -> String {
    if n >= 1e9 { return String(format: "%.2f G", n / 1e9) }
    if n >= 1e6 { return String(format: "%.2f M", n / 1e6) }
    if n >= 1e3 { return String(format: "%.1f k", n / 1e3) }
    return String(format: "%.0f", n)
}

func humanTime(_ s: Double) -> String {
    if s >= 1 { return String(format: "%.2f s", s) }
    if s >= 1e-3 { return String(format: "%.1f ms", s * 1e3) }
    return String(format: "%.0f µs", s * 1e6)
}

func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
    let c = s.count
    if c >= n { return s }
    return right ? String(repeating: " ", count: n - c) + s : s + String(repeating: " ", count: n - c)
}

extension SimReport {
    /// The per-layer table and the totals.
    public func table() -> String {
        var out = "\(model) on \(target.name) (\(target.part), \(humanCount(target.clockHz.value))Hz)\n\n"
        let header = [pad("op", 28), pad("kind", 16), pad("class", 11), pad("conv MAC", 10, right: true),
                      pad("CPM MAC", 9, right: true), pad("fuse MAC", 9, right: true), pad("requant", 9, right: true),
                      pad("weights", 9, right: true), pad("w loads", 9, right: true), pad("act R", 9, right: true),
                      pad("act W", 9, right: true),
                      pad("live", 10, right: true), pad("cycles", 10, right: true), pad("%", 6, right: true)]
            + (qemu == nil ? [] : [pad("QEMU instr", 11, right: true)])
        out += header.joined(separator: " ") + "\n"
        for (i, l) in layers.enumerated() {
            let c = l.counts
            let row = [pad(String(c.name.prefix(28)), 28), pad(c.kind, 16), pad(c.kernelClass.rawValue, 11),
                       pad(humanCount(Double(c.convMACs)), 10, right: true),
                       pad(humanCount(Double(c.cpmMACs)), 9, right: true),
                       pad(humanCount(Double(c.fusionMACs)), 9, right: true),
                       pad(humanCount(Double(c.requantizations)), 9, right: true),
                       pad(human(c.modelBytes), 9, right: true), pad(human(c.weightBytesRead), 9, right: true),
                       pad(human(c.activationBytesRead), 9, right: true),
                       pad(human(c.activationBytesWritten), 9, right: true), pad(human(l.liveBytes), 10, right: true),
                       pad(humanCount(l.cycles), 10, right: true),
                       pad(String(format: "%.1f", totalCycles > 0 ? 100 * l.cycles / totalCycles : 0), 6, right: true)]
                + (qemu.map { [pad(humanCount(Double($0.ops[i].instructions)), 11, right: true)] } ?? [])
            out += row.joined(separator: " ") + "\n"
        }
        out += "\n"
        out += "counts: \(countsSource) (work of the reference kernels; 'weights' = the op's model bytes, 'w loads', "
            + "'act R', 'act W' = bytes loaded from the model and loaded / stored in the arena)\n"
        out += "MACs executed: conv \(humanCount(Double(counts.convMACs))), CPM \(humanCount(Double(counts.cpmMACs))), "
            + "fusion \(humanCount(Double(counts.fusionMACs))), total \(humanCount(Double(counts.totalMACs))) "
            + "(nominal, padding included and fusion once: \(humanCount(Double(counts.nominalMACs))))\n"
        out += "cycles: \(humanCount(totalCycles)) -> estimated latency \(humanTime(latencySeconds)) at "
            + "\(humanCount(target.clockHz.value))Hz\n"
        if !target.simdKernels {
            out += "     (cycle costs of optimised CMSIS-NN-class int8 kernels; DynQ's portable reference kernels, which "
                + "this target's arena plan assumes, execute several times more instructions: docs/qemu.md)\n"
        }
        if let q = qemu {
            let seconds = Double(q.invokeInstructions) / target.clockHz.value
            out += "measured: DynQ's \(q.kernels) kernels execute \(humanCount(Double(q.invokeInstructions))) instructions "
                + "per inference on QEMU's Cortex-M4 (armv7em build): at least \(humanTime(seconds)) at "
                + "\(humanCount(target.clockHz.value))Hz (one instruction per cycle at best)\n"
        }
        out += "RAM: arena \(human(arenaBytes)) + stack bound \(human(stackBytes)) + static \(human(staticRAMBytes)) = "
            + "\(human(peakRAMBytes)) of \(human(ramLimit)) SRAM -> " + (fitsRAM ? "fits" : "DOES NOT FIT")
            + ", margin \(human(ramMargin))"
        if let packed = counts.packedLiveBytes.max(), packed > 0 {
            out += "\n     of the arena, \(human(packed)) are static weights the runtime repacks for its SIMD kernels and keeps for the whole run"
        }
        if let block = target.sramLargestBlockBytes {
            out += " (arena vs largest block \(human(Int(block.value))): " + (arenaFitsBlock ? "fits" : "DOES NOT FIT") + ")"
        }
        out += "\n"
        out += "flash: model \(human(modelBytes)) + code \(human(codeBytes)) = \(human(flashUsedBytes)) of "
            + "\(human(flashLimit)) -> " + (fitsFlash ? "fits" : "DOES NOT FIT") + ", margin \(human(flashMargin))\n"
        out += "verdict: " + (fits ? "FITS" : "DOES NOT FIT") + "\n"
        return out
    }

    /// The report as JSON (every count per layer, totals, verdicts, the profile's sources).
    public func json() -> JSON {
        let layerList: [JSON] = layers.map { l in
            let c = l.counts
            return .object(JSONObject([
                ("name", .string(c.name)), ("kind", .string(c.kind)), ("class", .string(c.kernelClass.rawValue)),
                ("conv_macs", .int(c.convMACs)), ("cpm_macs", .int(c.cpmMACs)), ("fusion_macs", .int(c.fusionMACs)),
                ("fusion_rescales", .int(c.fusionRescales)), ("adds", .int(c.adds)),
                ("requantizations", .int(c.requantizations)), ("table_lookups", .int(c.tableLookups)),
                ("element_ops", .int(c.elementOps)), ("model_bytes", .int(c.modelBytes)),
                ("weight_bytes_read", .int(c.weightBytesRead)), ("nominal_macs", .int(c.nominalMACs)),
                ("activation_bytes_read", .int(c.activationBytesRead)),
                ("activation_bytes_written", .int(c.activationBytesWritten)),
                ("live_bytes", .int(l.liveBytes)), ("cycles", .number(l.cycles.rounded())),
            ]))
        }
        return .object(JSONObject([
            ("model", .string(model)), ("target", .string(target.name)), ("part", .string(target.part)),
            ("clock_hz", .number(target.clockHz.value)), ("counts", .string(countsSource)),
            ("macs", .object(JSONObject([("conv", .int(counts.convMACs)), ("cpm", .int(counts.cpmMACs)),
                                         ("fusion", .int(counts.fusionMACs)), ("total", .int(counts.totalMACs)),
                                         ("nominal", .int(counts.nominalMACs))]))),
            ("cycles", .number(totalCycles.rounded())), ("latency_s", .number(latencySeconds)),
            ("ram", .object(JSONObject([("arena", .int(arenaBytes)), ("stack_bound", .int(stackBytes)),
                                        ("static", .int(staticRAMBytes)), ("peak", .int(peakRAMBytes)),
                                        ("arena_packed_weights", .int(counts.packedLiveBytes.max() ?? 0)),
                                        ("limit", .int(ramLimit)), ("margin", .int(ramMargin)),
                                        ("fits", .bool(fitsRAM))]))),
            ("flash", .object(JSONObject([("model", .int(modelBytes)), ("code", .int(codeBytes)),
                                          ("code_source", .string(codeSource)), ("used", .int(flashUsedBytes)),
                                          ("limit", .int(flashLimit)), ("margin", .int(flashMargin)),
                                          ("fits", .bool(fitsFlash))]))),
            ("fits", .bool(fits)),
            ("peak_operation", .string(layers.isEmpty ? "" : layers[counts.plan.peakOperation].counts.name)),
            ("qemu", qemu.map { q in .object(JSONObject([
                ("kernels", .string(q.kernels)), ("invoke_instructions", .int(q.invokeInstructions)),
                ("latency_lower_bound_s", .number(Double(q.invokeInstructions) / target.clockHz.value)),
                ("op_instructions", .array(q.ops.map { .int($0.instructions) })),
            ])) } ?? .null),
            ("layers", .array(layerList)),
        ]))
    }
}

/// `--target all`: one line per target.
public func sweepTable(_ reports: [SimReport]) -> String {
    guard let first = reports.first else { return "" }
    var out = "\(first.model): \(humanCount(Double(first.counts.totalMACs))) MACs, arena \(human(first.arenaBytes)), "
        + "model \(human(first.modelBytes))\n\n"
    out += [pad("target", 14), pad("part", 34), pad("clock", 9, right: true), pad("latency", 10, right: true),
            pad("peak RAM", 10, right: true), pad("SRAM", 10, right: true), pad("RAM", 5), pad("flash used", 11, right: true),
            pad("flash", 10, right: true), pad("flash", 5), "verdict"].joined(separator: " ") + "\n"
    for r in reports {
        out += [pad(r.target.name, 14), pad(String(r.target.part.prefix(34)), 34),
                pad(humanCount(r.target.clockHz.value) + "Hz", 9, right: true),
                pad(humanTime(r.latencySeconds), 10, right: true), pad(human(r.peakRAMBytes), 10, right: true),
                pad(human(r.ramLimit), 10, right: true), pad(r.fitsRAM ? "ok" : "NO", 5),
                pad(human(r.flashUsedBytes), 11, right: true), pad(human(r.flashLimit), 10, right: true),
                pad(r.fitsFlash ? "ok" : "NO", 5), r.fits ? "FITS" : "DOES NOT FIT"].joined(separator: " ") + "\n"
    }
    if let q = first.qemu {
        out += "\nmeasured on QEMU's Cortex-M4: DynQ's \(q.kernels) kernels execute "
            + "\(humanCount(Double(q.invokeInstructions))) instructions per inference (armv7em build; a lower bound on "
            + "cycles there, not comparable on other cores)\n"
    }
    return out
}
