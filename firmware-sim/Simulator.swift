import DynQCore
import DynQGraph
import Foundation

/// One op's estimate on a target.
public struct LayerEstimate: Sendable {
    public var counts: OpCounts
    public var cycles: Double
    /// Of `cycles`, the part of a dynamic conv's per-sample fusion.
    public var fusionCycles: Double = 0
    /// The calibrated model's instructions for the op (nil with literature cycle costs).
    public var instructions: Double? = nil
    /// The work in the calibrated model's units (nil with literature cycle costs).
    public var work: KernelWork? = nil
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
    /// The runtime core's flash bytes (0 when `codeMeasured` is false).
    public var codeBytes: Int
    public var codeSource: String
    /// Whether the recorded code size (and stack bound) is of this target's instruction set (`TargetProfile.arch`
    /// equals `CodeSize.arch`); when not, code, stack and static RAM are "n/a" and the verdicts count the model
    /// and the arena only.
    public var codeMeasured: Bool = true
    /// The instruction set the code size was measured for (`CodeSize.arch`).
    public var codeArch: String = ""
    public var counts: ModelCounts
    /// `"analytic"` (from shapes) or `"measured"` (instrumented reference kernels; `dynq sim --measure`).
    public var countsSource: String
    /// DynQ's own kernels measured on QEMU (`dynq sim --qemu-log`), when given: a run of the same kernel set.
    public var qemu: QemuProfile? = nil

    /// The kernel set the arena is planned for (`TargetProfile.kernelSet`).
    public var kernelSet: String { target.kernelSet }
    /// Whether the cycles come from a calibrated instruction model of that kernel set.
    public var calibrated: Bool { target.instructionModel != nil && target.costsMatchKernelSet }
    /// What the latency is for, in words (every output prints it).
    public var latencyModel: String {
        if target.instructionModel != nil {
            return target.costsMatchKernelSet
                ? "calibrated model of DynQ's \(kernelSet) kernels on \(target.name)"
                : "calibrated model of DynQ's \(target.costsKernelSet) kernels, NOT of the \(kernelSet) kernels this arena is planned for"
        }
        return "literature cycle costs of optimised CMSIS-NN-class kernels, not a model of DynQ's \(kernelSet) kernels"
    }
    /// The calibrated model's instructions per inference (nil with literature costs).
    public var totalInstructions: Double? {
        target.instructionModel == nil ? nil : layers.reduce(0) { $0 + ($1.instructions ?? 0) }
    }

    /// The QEMU-derived figure: the log's per-op instructions × the same timing model (nil without a log or a
    /// calibrated model). `between` is the interpreter's work between ops (whole invoke − Σ per-op), at cpi.default.
    public var qemuDerived: (perOp: [Double], between: Double, total: Double)? {
        guard calibrated, let q = qemu, let m = target.instructionModel, q.ops.count == layers.count,
              q.kernels == kernelSet else { return nil }
        let perOp = zip(q.ops, layers).map { op, l in
            l.work.map { m.cycles(measuredInstructions: op.instructions, for: $0) } ?? Double(op.instructions) * m.cyclesPerInstruction("default")
        }
        let between = Double(q.invokeInstructions - q.ops.reduce(0) { $0 + $1.instructions }) * m.cyclesPerInstruction("default")
        return (perOp, between, perOp.reduce(0, +) + between)
    }

    public var peakRAMBytes: Int { arenaBytes + stackBytes + staticRAMBytes }
    public var flashUsedBytes: Int { modelBytes + codeBytes }
    public var ramLimit: Int { byteCount(target.sramBytes.value) }
    public var flashLimit: Int { byteCount(target.flashBytes.value) }
    public var ramMargin: Int { ramLimit - peakRAMBytes }
    public var flashMargin: Int { flashLimit - flashUsedBytes }
    /// The arena also fits the largest contiguous block, when the profile gives one.
    public var arenaFitsBlock: Bool { target.sramLargestBlockBytes.map { arenaBytes <= byteCount($0.value) } ?? true }
    public var fitsRAM: Bool { ramMargin >= 0 && arenaFitsBlock }
    public var fitsFlash: Bool { flashMargin >= 0 }
    public var fits: Bool { fitsRAM && fitsFlash }
}

/// A profile's byte size as `Int`: `decodeTargets` admits whole numbers up to 2^48; a profile built in code with
/// a larger (or non-finite) value is clamped to [0, 2^48] instead of trapping.
func byteCount(_ value: Double) -> Int {
    guard value.isFinite else { return value > 0 ? 1 << 48 : 0 }
    return Int(Swift.min(Swift.max(value, 0), TargetProfile.maxBytes))
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

/// A target with a calibrated instruction model charges each op its model's cycles for `counts.work` (the ops'
/// work in the model's units, `kernelWork`); any other target, the literature `cycles` per unit of `OpCounts`.
public func simulate(counts: ModelCounts, modelBytes: Int, code: CodeSize, target: TargetProfile,
                     countsSource: String = "analytic") -> SimReport {
    let work: [KernelWork]? = counts.work.count == counts.ops.count ? counts.work : nil
    var layers: [LayerEstimate] = []
    var total = 0.0
    for (i, c) in counts.ops.enumerated() {
        var l = LayerEstimate(counts: c, cycles: estimateCycles(c, on: target), liveBytes: counts.liveBytes[i])
        if target.instructionModel == nil {
            l.fusionCycles = Double(c.fusionMACs) * target.cost("fusion") + Double(c.fusionRescales) * target.cost("fusion_normalize")
        }
        if let m = target.instructionModel, let w = work, w.count == counts.ops.count {
            let parts = m.estimate(w[i])
            l.work = w[i]
            l.instructions = parts.reduce(0) { $0 + $1.instructions }
            l.cycles = parts.reduce(0) { $0 + $1.cycles }
            l.fusionCycles = parts.filter { $0.key.hasPrefix("fusion") }.reduce(0) { $0 + $1.cycles }
        }
        total += l.cycles
        layers.append(l)
    }
    // A code size measured for one instruction set says nothing about another (a profile without `arch` is
    // taken to be of the measured one).
    let measured = target.arch.isEmpty || target.arch == code.arch
    return SimReport(model: counts.name, target: target, layers: layers, totalCycles: total,
                     latencySeconds: total / target.clockHz.value,
                     arenaBytes: counts.plan.arenaBytes + ArenaPlan.alignment - 1,
                     stackBytes: measured ? code.stackBound : 0, staticRAMBytes: measured ? code.staticRAMBytes : 0,
                     modelBytes: modelBytes, codeBytes: measured ? code.flashBytes : 0,
                     codeSource: measured ? code.source : "not measured for \(target.arch)",
                     codeMeasured: measured, codeArch: code.arch, counts: counts, countsSource: countsSource)
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
        var out = "\(model) on \(target.name) (\(target.part), \(humanCount(target.clockHz.value))Hz), kernel set "
            + "\(kernelSet)\n\n"
        let derived = qemuDerived
        let header = [pad("op", 28), pad("kind", 16), pad("class", 11), pad("conv MAC", 10, right: true),
                      pad("CPM MAC", 9, right: true), pad("fuse MAC", 9, right: true), pad("requant", 9, right: true),
                      pad("weights", 9, right: true), pad("w loads", 9, right: true), pad("act R", 9, right: true),
                      pad("act W", 9, right: true),
                      pad("live", 10, right: true)]
            + (target.instructionModel == nil ? [] : [pad("instr", 10, right: true)])
            + [pad("cycles", 10, right: true), pad("%", 6, right: true)]
            + (qemu == nil ? [] : [pad("QEMU instr", 11, right: true)])
            + (derived == nil ? [] : [pad("QEMU cyc", 10, right: true), pad("est/QEMU", 9, right: true)])
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
                       pad(human(c.activationBytesWritten), 9, right: true), pad(human(l.liveBytes), 10, right: true)]
                + (target.instructionModel == nil ? [] : [pad(humanCount(l.instructions ?? 0), 10, right: true)])
                + [pad(humanCount(l.cycles), 10, right: true),
                   pad(String(format: "%.1f", totalCycles > 0 ? 100 * l.cycles / totalCycles : 0), 6, right: true)]
                + (qemu.map { [pad(humanCount(Double($0.ops[i].instructions)), 11, right: true)] } ?? [])
                + (derived.map { [pad(humanCount($0.perOp[i]), 10, right: true),
                                  pad(String(format: "%.3f", $0.perOp[i] > 0 ? l.cycles / $0.perOp[i] : 0), 9, right: true)] } ?? [])
            out += row.joined(separator: " ") + "\n"
        }
        out += "\n"
        out += "counts: \(countsSource) (work of the scalar kernels; 'weights' = the op's model bytes, 'w loads', "
            + "'act R', 'act W' = bytes loaded from the model and loaded / stored in the arena)\n"
        out += "MACs per image: \(grouped(counts.nominalMACs)) (outputs × kernel size, padding taps included, each "
            + "fused kernel built once; the figure of dynq inspect and dynq bench)\n"
        out += (target.instructionModel == nil ? "work the cycles are counted from: " : "work of the scalar kernels: ")
            + "the scalar kernels execute \(grouped(counts.totalMACs)) "
            + "multiply-accumulates (conv \(grouped(counts.convMACs)), CPM \(grouped(counts.cpmMACs)), fusion "
            + "\(grouped(counts.fusionMACs)): taps in the zero padding skipped, each fused weight computed twice)"
            + (target.instructionModel == nil ? "" : "; the calibrated model prices the shapes' nominal work per kernel "
               + "class instead")
            + "\n"
        out += "cycles: \(humanCount(totalCycles)) -> estimated latency \(humanTime(latencySeconds)) at "
            + "\(humanCount(target.clockHz.value))Hz, kernel set \(kernelSet)\n"
        if let n = totalInstructions {
            out += "     (\(latencyModel): \(humanCount(n)) instructions from the per-class costs fitted to the per-layer "
                + "QEMU benchmark, × the core's cycles per instruction: docs/firmware-sim.md)\n"
        } else {
            out += "     (\(latencyModel); DynQ's own kernels may execute several times more instructions: docs/qemu.md)\n"
        }
        if let q = qemu {
            let seconds = Double(q.invokeInstructions) / target.clockHz.value
            out += "measured: DynQ's \(q.kernels) kernels execute \(humanCount(Double(q.invokeInstructions))) instructions "
                + "per inference on QEMU's \(q.core ?? "Cortex-M4")"
            if let d = derived {
                out += "; × the same timing model: \(humanCount(d.total)) cycles, \(humanTime(d.total / target.clockHz.value)) "
                    + "at \(humanCount(target.clockHz.value))Hz; estimate / QEMU-derived = "
                    + String(format: "%.3f", totalCycles / d.total) + "\n"
            } else {
                out += ": at least \(humanTime(seconds)) at \(humanCount(target.clockHz.value))Hz (one instruction per "
                    + "cycle at best)\n"
            }
        }
        if codeMeasured {
            out += "RAM: arena \(human(arenaBytes)) + stack bound \(human(stackBytes)) + static \(human(staticRAMBytes)) = "
                + "\(human(peakRAMBytes)) of \(human(ramLimit)) SRAM -> " + (fitsRAM ? "fits" : "DOES NOT FIT")
                + ", margin \(human(ramMargin))"
        } else {
            out += "RAM: arena \(human(arenaBytes)) + stack n/a + static n/a (measured for \(codeArch) only) of "
                + "\(human(ramLimit)) SRAM -> arena " + (fitsRAM ? "fits" : "DOES NOT FIT") + ", margin \(human(ramMargin))"
        }
        if let packed = counts.packedLiveBytes.max(), packed > 0 {
            out += "\n     of the arena, \(human(packed)) are static weights the runtime repacks for its SIMD kernels and keeps for the whole run"
        }
        if let block = target.sramLargestBlockBytes {
            out += " (arena vs largest block \(human(byteCount(block.value))): " + (arenaFitsBlock ? "fits" : "DOES NOT FIT") + ")"
        }
        out += "\n"
        if codeMeasured {
            out += "flash: model \(human(modelBytes)) + code \(human(codeBytes)) (\(codeArch) build) = "
                + "\(human(flashUsedBytes)) of \(human(flashLimit)) -> " + (fitsFlash ? "fits" : "DOES NOT FIT")
                + ", margin \(human(flashMargin))\n"
        } else {
            out += "flash: model \(human(modelBytes)) + code n/a (code size measured for \(codeArch) only, this target "
                + "is \(target.arch)) of \(human(flashLimit)) -> model " + (fitsFlash ? "fits" : "DOES NOT FIT")
                + ", margin \(human(flashMargin))\n"
        }
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
                ("instructions", l.instructions.map { .number($0.rounded()) } ?? .null),
                ("variant", l.work?.variant.map { .string($0) } ?? .null),
            ]))
        }
        return .object(JSONObject([
            ("model", .string(model)), ("target", .string(target.name)), ("part", .string(target.part)),
            ("kernel_set", .string(kernelSet)), ("costs_kernel_set", .string(target.costsKernelSet)),
            ("latency_model", .string(latencyModel)),
            ("instructions", totalInstructions.map { .number($0.rounded()) } ?? .null),
            ("clock_hz", .number(target.clockHz.value)), ("counts", .string(countsSource)),
            ("macs_per_image", .int(counts.nominalMACs)),
            ("executed_macs", .object(JSONObject([("conv", .int(counts.convMACs)), ("cpm", .int(counts.cpmMACs)),
                                                  ("fusion", .int(counts.fusionMACs)),
                                                  ("total", .int(counts.totalMACs))]))),
            ("cycles", .number(totalCycles.rounded())), ("latency_s", .number(latencySeconds)),
            ("ram", .object(JSONObject([("arena", .int(arenaBytes)),
                                        ("stack_bound", codeMeasured ? .int(stackBytes) : .null),
                                        ("static", codeMeasured ? .int(staticRAMBytes) : .null),
                                        ("peak", .int(peakRAMBytes)),
                                        ("arena_packed_weights", .int(counts.packedLiveBytes.max() ?? 0)),
                                        ("limit", .int(ramLimit)), ("margin", .int(ramMargin)),
                                        ("fits", .bool(fitsRAM))]))),
            ("flash", .object(JSONObject([("model", .int(modelBytes)), ("code", codeMeasured ? .int(codeBytes) : .null),
                                          ("code_arch", .string(codeArch)),
                                          ("code_source", .string(codeSource)), ("used", .int(flashUsedBytes)),
                                          ("limit", .int(flashLimit)), ("margin", .int(flashMargin)),
                                          ("fits", .bool(fitsFlash))]))),
            ("fits", .bool(fits)),
            ("peak_operation", .string(layers.isEmpty ? "" : layers[counts.plan.peakOperation].counts.name)),
            ("qemu", qemu.map { q in .object(JSONObject([
                ("kernels", .string(q.kernels)), ("core", q.core.map { .string($0) } ?? .null),
                ("invoke_instructions", .int(q.invokeInstructions)),
                ("latency_lower_bound_s", .number(Double(q.invokeInstructions) / target.clockHz.value)),
                ("op_instructions", .array(q.ops.map { .int($0.instructions) })),
                ("derived_cycles", qemuDerived.map { .number($0.total.rounded()) } ?? .null),
                ("op_derived_cycles", qemuDerived.map { .array($0.perOp.map { .number($0.rounded()) }) } ?? .null),
                ("estimate_over_derived", qemuDerived.map { .number(totalCycles / $0.total) } ?? .null),
            ])) } ?? .null),
            ("layers", .array(layerList)),
        ]))
    }
}

/// `--target all`: one line per target. Part names are printed whole in the last column; code size, stack and
/// static RAM come from a measurement of one instruction set (`CodeSize.arch`) and are "n/a" on the others.
public func sweepTable(_ reports: [SimReport]) -> String {
    guard let first = reports.first else { return "" }
    let code = reports.first { $0.codeMeasured }.map { "code \(human($0.codeBytes)) (\($0.codeArch) build)" }
        ?? "code n/a (measured for \(first.codeArch) only)"
    var out = "\(first.model): \(grouped(first.counts.nominalMACs)) MACs per image, model \(human(first.modelBytes)), "
        + code + "\n\n"
    let header = ["target", "arch", "kernel set", "clock", "latency", "arena", "RAM used", "RAM size", "RAM fits", "flash used",
                  "flash size", "flash fits", "verdict", "part"]
    let rows = reports.map { r -> [String] in
        [r.target.name, r.target.arch.isEmpty ? "-" : r.target.arch, r.kernelSet + (r.calibrated ? "" : "*"),
         humanCount(r.target.clockHz.value) + "Hz", humanTime(r.latencySeconds), human(r.arenaBytes),
         r.codeMeasured ? human(r.peakRAMBytes) : "n/a", human(r.ramLimit), r.fitsRAM ? "yes" : "NO",
         r.codeMeasured ? human(r.flashUsedBytes) : "n/a", human(r.flashLimit), r.fitsFlash ? "yes" : "NO",
         r.fits ? "FITS" : "DOES NOT FIT", r.target.part]
    }
    let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
    let right: Set<Int> = [3, 4, 5, 6, 7, 9, 10]
    func line(_ r: [String]) -> String {
        r.enumerated().map { c, v in c == r.count - 1 ? v : pad(v, widths[c], right: right.contains(c)) }
            .joined(separator: "  ")
    }
    out += line(header) + "\n"
    for r in rows { out += line(r) + "\n" }
    out += "\nRAM used = arena + stack bound + static data of the core; flash used = model + code. Code size, stack "
        + "and static data were measured for \(first.codeArch) (targets/code-size.json): \"n/a\" on other "
        + "instruction sets, where RAM fits / flash fits count the arena / the model only.\n"
    out += "latency: the kernel set's calibrated instruction model × the core's cycles per instruction; * = "
        + "literature cycle costs of optimised CMSIS-NN-class kernels, not a model of that kernel set "
        + "(docs/firmware-sim.md)\n"
    if let r = reports.first(where: { $0.qemu != nil }), let q = r.qemu {
        out += "\nmeasured on QEMU's \(q.core ?? "Cortex-M4"): DynQ's \(q.kernels) kernels execute "
            + "\(humanCount(Double(q.invokeInstructions))) instructions per inference (not comparable on other cores)"
        if let d = r.qemuDerived {
            out += "; \(r.target.name): estimate / QEMU-derived = " + String(format: "%.3f", r.totalCycles / d.total)
        }
        out += "\n"
    }
    return out
}
