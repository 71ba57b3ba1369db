import DynQCore
import DynQGraph
import DynQSim
import Foundation

let simCommand = Command(
    name: "sim",
    summary: "estimate latency, RAM and flash of an int8 model on edge targets",
    usage: """
        usage: dynq sim MODEL.dynq --target NAME|all [--targets FILE] [--json] [--svg REPORT.svg] [--code-size FILE|auto]
               dynq sim --measure-code [--code-size FILE]

        Counts the work of every op of an int8 model from its shapes (conv / CPM / fusion MACs, requantizations,
        table lookups, bytes read and written), sizes the arena with the runtime's own planner, and charges each
        op the target's cycles per unit of work (docs/firmware-sim.md). Prints a per-layer table, totals, the
        estimated latency, and whether the model fits the target's SRAM and flash, with the margin.

        Options:
          --target NAME|all     a target of the profile file, or all of them in one table
          --targets FILE        a profile file (default: targets/targets.json of the DynQ checkout)
          --json                print the report as JSON instead of the table
          --svg REPORT.svg      also draw memory in use across the ops (peak marked) and per-op cycles
          --code-size FILE|auto the core's measured code size and stack bound: a file written by
                                --measure-code (default targets/code-size.json), or 'auto' to build and measure now
          --measure-code        build the core for armv7em with scripts/embedded-build.sh, measure it and write
                                the result (default targets/code-size.json)
          --help                show this help
        """,
    run: { args in
        let a = try Arguments(args, flags: ["json", "measure-code"], options: ["target", "targets", "svg", "code-size"])
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
        let chosen = targetName == "all" ? profiles : profiles.filter { $0.name == targetName }
        guard !chosen.isEmpty else {
            throw UsageError("unknown target '\(targetName)' (one of: \(profiles.map(\.name).joined(separator: ", ")), all)")
        }
        let code: CodeSize
        switch a.value("code-size") {
        case "auto"?:
            guard let root = SimFiles.root() else { throw UsageError("--code-size auto needs the DynQ checkout") }
            code = try CodeSize.measure(root: root)
        case let file?: code = try SimFiles.readCodeSize(file)
        case nil: code = try SimFiles.recordedCodeSize()
        }
        let (description, modelBytes) = try SimFiles.loadModel(path)
        // Each target is planned for the kernels it runs (SIMD on application cores, reference on microcontrollers).
        let reports = chosen.map {
            simulate(counts: analyticCounts(description, simd: $0.simdKernels), modelBytes: modelBytes, code: code,
                     target: $0)
        }
        if a.has("json") {
            let j: JSON = reports.count == 1 ? reports[0].json() : .array(reports.map { $0.json() })
            Console.out(j.serialized(pretty: true))
        } else if reports.count == 1 {
            Console.out(reports[0].table())
        } else {
            Console.out(sweepTable(reports))
        }
        if let svg = a.value("svg") {
            guard reports.count == 1 else { throw UsageError("--svg needs a single --target") }
            try FileIO.write(Array(reports[0].svg().utf8), to: svg)
            if !a.has("json") { Console.out("wrote \(svg)") }
        }
        return 0
    })
