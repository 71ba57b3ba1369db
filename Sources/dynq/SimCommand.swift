import DynQCore
import DynQGraph
import DynQSim
import Foundation

let simCommand = Command(
    name: "sim",
    summary: "estimate latency, RAM and flash of an int8 model on edge targets",
    usage: """
        usage: dynq sim MODEL.dynq --target NAME|all [--targets FILE] [--json] [--svg REPORT.svg] [--code-size FILE|auto]
                                  [--kernels SET] [--measure [--max-arena BYTES]] [--qemu-log RUN.log]
               dynq sim --measure-code [--code-size FILE]

        Counts the work of every op of an int8 model from its shapes (conv / CPM / fusion MACs and divisions,
        adds, requantizations, table lookups, element ops, weight and activation bytes loaded and stored by the
        scalar kernels), sizes the arena with the runtime's own planner for the target's kernel set, and charges each
        op the target's cost: on cores with a calibrated model (cortex-m4 and cortex-m55 in targets/targets.json),
        the instructions DynQ's kernel set executes there (fitted to the per-layer QEMU benchmark) times the core's
        cycles per instruction; elsewhere literature cycle costs (docs/firmware-sim.md). Prints a per-layer table,
        totals, the estimated latency and the kernel set it is for, and whether the model fits the target's SRAM
        and flash, with the margin.

        Options:
          --target NAME|all     a target of the profile file, or all of them in one table
          --targets FILE        a profile file (default: targets/targets.json of the DynQ checkout)
          --json                print the report as JSON instead of the table
          --svg REPORT.svg      also draw memory in use across the ops (peak marked) and per-op cycles
          --code-size FILE|auto the core's measured code size and stack bound: a file written by
                                --measure-code (default targets/code-size.json), or 'auto' to build and measure now
          --kernels SET         plan the arena for this kernel set instead of the profile's "kernel_set" (scalar,
                                simd128, cortex-m-dsp, helium, neon, ...; 'simd' = simd128, 'reference' = scalar);
                                the latency stays that of the profile's set, and the report says so
          --measure             also run the model through the runtime with instrumented reference kernels,
                                report from the measured counts and check them against the analytic ones
                                (exit 1 if any op differs); also measures the arena high-water mark
          --max-arena BYTES     with --measure: allow an arena larger than the default 256 MiB (268435456)
          --qemu-log RUN.log    compare with what DynQ's kernels measured on QEMU for this model: the log
                                scripts/qemu-run.sh writes (.build-qemu/firmware/run.log), of the same kernel set
                                and core; per-op instructions, the same timing model's cycles and the ratio
                                estimate / QEMU-derived per op and in total
          --measure-code        build the core for armv7em with scripts/embedded-build.sh, measure it and write
                                the result (default targets/code-size.json)
          --help                show this help
        """,
    run: { args in
        let a = try Arguments(args, flags: ["json", "measure-code", "measure"], options: ["target", "targets", "svg", "code-size", "kernels", "qemu-log", "max-arena"])
        if a.has("measure-code") {
            _ = try a.positionals(0, "")
            guard let root = SimFiles.root() else { throw UsageError("run --measure-code inside the DynQ checkout") }
            let c = try CodeSize.measure(root: root)
            let path = a.value("code-size") ?? root + "/targets/code-size.json"
            try SimFiles.writeCodeSize(c, to: path)
            Console.out("code \(c.flashBytes) bytes flash (text \(c.text) + data \(c.data)), static RAM \(c.staticRAMBytes), "
                        + "stack bound \(c.stackBound) bytes over \(c.functions) functions -> \(path)")
            return 0
        }
        let path = try a.positionals(1, "model file")[0]
        let targetName = try a.required("target")
        let profiles = try loadTargets(try a.value("targets") ?? SimFiles.defaultTargets())
        var chosen = targetName == "all" ? profiles : profiles.filter { $0.name == targetName }
        guard !chosen.isEmpty else {
            throw UsageError("unknown target '\(targetName)' (one of: \(profiles.map(\.name).joined(separator: ", ")), all)")
        }
        if let k = a.value("kernels") {
            let set = k == "simd" ? KernelSetChoice.simd128.rawValue : k == "reference" ? KernelSetChoice.scalar.rawValue : k
            guard knownKernelSets.contains(set) else {
                throw UsageError("--kernels must be a kernel set (\(knownKernelSets.joined(separator: ", ")), 'simd' or "
                                 + "'reference'), not '\(k)'")
            }
            for i in chosen.indices { chosen[i].kernelSet = set }
        }
        let code: CodeSize
        switch a.value("code-size") {
        case "auto"?:
            guard let root = SimFiles.root() else { throw UsageError("--code-size auto needs the DynQ checkout") }
            code = try CodeSize.measure(root: root)
        case let file?: code = try SimFiles.readCodeSize(file)
        case nil: code = try SimFiles.recordedCodeSize()
        }
        let (description, fileBytes) = try SimFiles.loadModel(path)
        let modelBytes = fileBytes.count
        // --measure: one instrumented run per arena plan the chosen targets use (one per kernel set).
        var measured: [KernelSetChoice: MeasuredCounts] = [:]
        var measureNote = ""
        // The chosen targets' kernel sets, in the order they first appear.
        var sets: [KernelSetChoice] = []
        for t in chosen where !sets.contains(t.kernelSetChoice) { sets.append(t.kernelSetChoice) }
        if a.has("measure") {
            // measureCounts allocates the instrumented scalar kernels' plan and the chosen set's.
            let need = sets.map { max(KernelSetChoice.scalar.plan(description).arenaBytes, $0.plan(description).arenaBytes) }
            try checkArena(need.max() ?? 0, limit: try maxArena(a), file: path, why: " for the instrumented run")
            let image = measurementImage(count: description.tensors[description.input.index].elementCount)
            for kernels in sets {
                let m = try measureCounts(modelBytes: fileBytes, input: image, kernels: kernels)
                let differences = disagreements(analytic: analyticCounts(description, kernels: kernels), measured: m)
                guard differences.isEmpty else {
                    for d in differences.prefix(20) { Console.err("  " + d) }
                    throw DynQError(file: path, "measured counts differ from the analytic counter in \(differences.count) places (listed above)")
                }
                measured[kernels] = m
                let users = chosen.filter { $0.kernelSetChoice == kernels }.map(\.name).joined(separator: ", ")
                measureNote += "measured (--measure, \(kernels.rawValue)-kernel targets: \(users)): "
                    + "\(m.ops.count) ops run through the instrumented scalar kernels, every count equal to the "
                    + "analytic counter's; arena high-water mark \(m.highWaterMark) B of the "
                    + "\(kernels.rawValue) kernels' \(m.arenaBytes) B plan"
                    + (kernels == .simd128 ? " (it also holds the static weights repacked for the SIMD kernels)" : "") + "\n"
            }
        }
        var qemu: QemuProfile? = nil
        if let log = a.value("qemu-log") {
            let profile = try QemuProfile(log: String(decoding: try FileIO.read(log, limit: 1 << 24), as: UTF8.self), file: log)
            try profile.check(against: description, modelBytes: modelBytes, file: log)
            // One target: the log must be of its kernel set and core. All: it goes beside the targets it is of.
            if chosen.count == 1 { try profile.check(kernelSet: chosen[0].kernelSet, target: chosen[0].name, file: log) }
            guard chosen.contains(where: { (try? profile.check(kernelSet: $0.kernelSet, target: $0.name, file: log)) != nil }) else {
                throw DynQError(file: log, "the log (\(profile.kernels) kernels on \(profile.core ?? "cortex-m4")) is of none "
                                + "of the chosen targets")
            }
            qemu = profile
        }
        // Each target is planned for the kernel set it runs (targets.json "kernel_set", or --kernels).
        var countsBySet: [KernelSetChoice: ModelCounts] = [:]
        for k in sets { countsBySet[k] = analyticCounts(description, kernels: k) }
        let reports = chosen.map { target in
            let analytic = countsBySet[target.kernelSetChoice]!
            let m = measured[target.kernelSetChoice]
            var r = simulate(counts: m.map { analytic.replacingMeasured($0) } ?? analytic,
                             modelBytes: modelBytes, code: code, target: target,
                             countsSource: m == nil ? "analytic" : "measured")
            if let q = qemu, (try? q.check(kernelSet: target.kernelSet, target: target.name, file: "")) != nil { r.qemu = q }
            return r
        }
        if a.has("json") {
            let j: JSON = reports.count == 1 ? reports[0].json() : .array(reports.map { $0.json() })
            Console.out(j.serialized(pretty: true))
        } else if reports.count == 1 {
            Console.out(reports[0].table() + measureNote)
        } else {
            Console.out(sweepTable(reports) + measureNote)
        }
        if let svg = a.value("svg") {
            guard reports.count == 1 else { throw UsageError("--svg needs a single --target") }
            try FileIO.write(Array(reports[0].svg().utf8), to: svg)
            if !a.has("json") { Console.out("wrote \(svg)") }
        }
        return 0
    })
