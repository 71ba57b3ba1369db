import DynQCore
import DynQGraph
import DynQSim
import Foundation

let simCommand = Command(
    name: "sim",
    summary: "estimate latency, RAM and flash of an int8 model on edge targets",
    usage: """
        usage: dynq sim MODEL.dynq --target NAME|all [--targets FILE] [--json] [--svg REPORT.svg] [--code-size FILE|auto]
                                  [--kernels simd|reference] [--measure [--max-arena BYTES]] [--qemu-log RUN.log]
               dynq sim --measure-code [--code-size FILE]

        Counts the work of every op of an int8 model from its shapes (conv / CPM / fusion MACs and divisions,
        adds, requantizations, table lookups, element ops, weight and activation bytes loaded and stored by the
        reference kernels), sizes the arena with the runtime's own planner, and charges each op the target's
        cycles per unit of work (docs/firmware-sim.md). Prints a per-layer table, totals, the estimated latency,
        and whether the model fits the target's SRAM and flash, with the margin.

        Options:
          --target NAME|all     a target of the profile file, or all of them in one table
          --targets FILE        a profile file (default: targets/targets.json of the DynQ checkout)
          --json                print the report as JSON instead of the table
          --svg REPORT.svg      also draw memory in use across the ops (peak marked) and per-op cycles
          --code-size FILE|auto the core's measured code size and stack bound: a file written by
                                --measure-code (default targets/code-size.json), or 'auto' to build and measure now
          --kernels simd|reference  plan the arena for these kernels instead of the profile's "kernels" (simd:
                                packed weights in RAM, faster; reference: weights read in place from flash)
          --measure             also run the model through the runtime with instrumented reference kernels,
                                report from the measured counts and check them against the analytic ones
                                (exit 1 if any op differs); also measures the arena high-water mark
          --max-arena BYTES     with --measure: allow an arena larger than the default 256 MiB (268435456)
          --qemu-log RUN.log    add what DynQ's own kernels measured on QEMU's Cortex-M4 for this model: the
                                log scripts/qemu-run.sh writes (.build-qemu/firmware/run.log); per-op
                                instructions beside the estimate, and their total as a latency lower bound
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
        switch a.value("kernels") {
        case nil: break
        case "simd"?: for i in chosen.indices { chosen[i].simdKernels = true }
        case "reference"?: for i in chosen.indices { chosen[i].simdKernels = false }
        case let other?: throw UsageError("--kernels must be 'simd' or 'reference', not '\(other)'")
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
        // --measure: one instrumented run per arena plan the chosen targets use (SIMD or reference kernels).
        var measured: [Bool: MeasuredCounts] = [:]
        var measureNote = ""
        if a.has("measure") {
            // measureCounts allocates the instrumented scalar kernels' plan and the chosen set's.
            let sets = [true, false].filter { simd in chosen.contains { $0.simdKernels == simd } }
                .map { $0 ? KernelSetChoice.simd128 : .scalar }
            let need = sets.map { max(KernelSetChoice.scalar.plan(description).arenaBytes, $0.plan(description).arenaBytes) }
            try checkArena(need.max() ?? 0, limit: try maxArena(a), file: path, why: " for the instrumented run")
            let image = measurementImage(count: description.tensors[description.input.index].elementCount)
            for simd in [true, false] where chosen.contains(where: { $0.simdKernels == simd }) {
                let kernels: KernelSetChoice = simd ? .simd128 : .scalar
                let m = try measureCounts(modelBytes: fileBytes, input: image, kernels: kernels)
                let differences = disagreements(analytic: analyticCounts(description, kernels: kernels), measured: m)
                guard differences.isEmpty else {
                    for d in differences.prefix(20) { Console.err("  " + d) }
                    throw DynQError(file: path, "measured counts differ from the analytic counter in \(differences.count) places (listed above)")
                }
                measured[simd] = m
                let users = chosen.filter { $0.simdKernels == simd }.map(\.name).joined(separator: ", ")
                measureNote += "measured (--measure, \(kernels.rawValue)-kernel targets: \(users)): "
                    + "\(m.ops.count) ops run through the instrumented scalar kernels, every count equal to the "
                    + "analytic counter's; arena high-water mark \(m.highWaterMark) B of the "
                    + "\(kernels.rawValue) kernels' \(m.arenaBytes) B plan"
                    + (simd ? " (it also holds the static weights repacked for the SIMD kernels)" : "") + "\n"
            }
        }
        var qemu: QemuProfile? = nil
        if let log = a.value("qemu-log") {
            let profile = try QemuProfile(log: String(decoding: try FileIO.read(log, limit: 1 << 24), as: UTF8.self), file: log)
            try profile.check(against: description, modelBytes: modelBytes, file: log)
            qemu = profile
        }
        // Each target is planned for the kernels it runs (SIMD on application cores, reference on microcontrollers).
        let reports = chosen.map { target in
            let analytic = analyticCounts(description, kernels: target.simdKernels ? .simd128 : .scalar)
            let m = measured[target.simdKernels]
            var r = simulate(counts: m.map { analytic.replacingMeasured($0) } ?? analytic,
                             modelBytes: modelBytes, code: code, target: target,
                             countsSource: m == nil ? "analytic" : "measured")
            r.qemu = qemu
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
