// `dynq bench MODEL.dynq [--runs N]`: whole-model latency and per-layer time of the int8 runtime, SIMD and
// reference kernels.
import DynQCore
import DynQGraph
import Foundation

let benchCommand = Command(
    name: "bench",
    summary: "latency of a .dynq model (per layer, SIMD and reference kernels)",
    usage: """
        usage: dynq bench MODEL.dynq [--runs N] [--reference-runs N] [--kernels NAME] [--standard-layers] [--max-arena BYTES] [--json]

        Runs the model on a fixed pseudo-random image: one warm-up, then N timed runs with the SIMD kernels and
        with the scalar reference kernels. Prints the median / min / max whole-model latency of each, and per
        op its MACs, median time, share of the total and GMAC/s. Build with -c release for meaningful numbers.

        Options:
          --runs N              timed runs with the SIMD kernels (default 20)
          --reference-runs N    timed runs with the reference kernels (default: --runs; 0 skips them)
          --kernels NAME        the timed kernel set: \(KernelSetChoice.allCases.map(\.rawValue).joined(separator: ", "))
                                (default: \(KernelSetChoice.hostDefault.rawValue), the fastest)
          --standard-layers     also time the kernels' standard layers (conv 3x3, depthwise, 1x1, dynamic fusion)
          --max-arena BYTES     allow an arena larger than the default 256 MiB (268435456)
          --json                one JSON object instead of text
          --help                show this help
        """,
    run: { args in try runBench(args) })

/// Per-op timings of one run, through the interpreter's observer hook.
struct OpTimer: InterpreterObserver {
    var start: UInt64 = 0
    var nanos: [UInt64]
    init(ops: Int) { nanos = [UInt64](repeating: 0, count: ops) }
    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    mutating func willRun(operation index: Int) { start = OpTimer.now() }
    mutating func didRun(operation index: Int) { nanos[index] = OpTimer.now() &- start }
}

struct BenchResult {
    var whole: [Double]              // ms per run
    var perOp: [[Double]]            // [op][run] ms
    func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var wholeMedian: Double { median(whole) }
    var wholeMin: Double { whole.min() ?? 0 }
    var wholeMax: Double { whole.max() ?? 0 }
    func opMedian(_ i: Int) -> Double { median(perOp[i]) }
}

func benchSession(_ session: Int8Session, input: [UInt8], runs: Int) throws -> BenchResult {
    let ops = session.model.operations.count
    try session.run(input)                                           // warm-up
    var whole: [Double] = [], perOp = [[Double]](repeating: [], count: ops)
    var timer = OpTimer(ops: ops)
    for _ in 0..<runs {
        try session.run(input)                                       // untimed: sets the input
        let t0 = OpTimer.now()
        session.interpreter.invoke()
        whole.append(Double(OpTimer.now() - t0) / 1e6)
        session.interpreter.invoke(timer: &timer)                // per-op timing (separate run, hook cost excluded above)
        for i in 0..<ops { perOp[i].append(Double(timer.nanos[i]) / 1e6) }
    }
    return BenchResult(whole: whole, perOp: perOp)
}

func runBench(_ args: [String]) throws -> Int32 {
    let a = try Arguments(args, flags: ["json", "standard-layers"],
                          options: ["runs", "reference-runs", "kernels", "max-arena"])
    let path = try a.positionals(1, "MODEL.dynq")[0]
    let runs = try a.int("runs", default: 20, in: 1...1_000_000)
    let refRuns = try a.int("reference-runs", default: runs, in: 0...1_000_000)
    let file = try DynqModelFile(path)
    let m = file.model
    let limit = try maxArena(a)
    // Refuses an absurd arena before the input is made.
    let simd = try Int8Session(file, kernels: try kernelSetOption(a), maxArena: limit)
    var rng = SplitMix64(seed: 0xB3AC)
    let (c, h, w) = inputCHW(m)
    let input = (0..<(c * h * w)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let simdResult = try benchSession(simd, input: input, runs: runs)
    var refResult: BenchResult?
    if refRuns > 0 {
        let ref = try Int8Session(file, kernels: .scalar, maxArena: limit)
        refResult = try benchSession(ref, input: input, runs: refRuns)
        // The two paths must agree exactly.
        try simd.run(input); try ref.run(input)
        if Array(simd.interpreter.output(0)) != Array(ref.interpreter.output(0)) {
            throw DynQError(file: path, "SIMD and reference kernels disagree on the logits (a kernel bug)")
        }
    }
    var macs: [Int] = []
    m.file.forEachOp { (r: OpRecord) in macs.append(m.file.macs(r)) }
    let totalMACs = macs.reduce(0, +)
    func gmacs(_ n: Int, _ ms: Double) -> Double { ms > 0 ? Double(n) / (ms * 1e6) : 0 }

    if a.has("json") {
        func summary(_ r: BenchResult) -> JSON {
            .object(["median_ms": .number(rounded(r.wholeMedian)), "min_ms": .number(rounded(r.wholeMin)),
                     "max_ms": .number(rounded(r.wholeMax)), "runs": .int(r.whole.count),
                     "gmac_per_s": .number(rounded(gmacs(totalMACs, r.wholeMedian)))])
        }
        var o: JSONObject = ["model": .string(path), "macs": .int(totalMACs), "simd": summary(simdResult)]
        if let refResult { o["reference"] = summary(refResult) }
        o["ops"] = .array(m.operations.indices.map { i in
            var e: JSONObject = ["name": .string(m.operations[i].name),
                                 "op": .string(m.operations[i].op.code.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }),
                                 "macs": .int(macs[i]), "simd_ms": .number(rounded(simdResult.opMedian(i)))]
            if let refResult { e["reference_ms"] = .number(rounded(refResult.opMedian(i))) }
            return .object(e)
        })
        Console.out(JSON.object(o).serialized())
        return 0
    }

    Console.out("model '\(file.displayName)': \(grouped(totalMACs)) MACs per image (fusion included)")
    #if DEBUG
    Console.out("(debug build: timings are not meaningful; use swift build -c release)")
    #endif
    func line(_ name: String, _ r: BenchResult) -> String {
        "\(name): median \(String(format: "%.3f", r.wholeMedian)) ms, min \(String(format: "%.3f", r.wholeMin)) ms, "
            + "max \(String(format: "%.3f", r.wholeMax)) ms over \(r.whole.count) runs, "
            + "\(String(format: "%.2f", gmacs(totalMACs, r.wholeMedian))) GMAC/s"
    }
    Console.out(line("SIMD     ", simdResult))
    if let refResult {
        Console.out(line("reference", refResult) + ", SIMD speed-up \(String(format: "%.1f", refResult.wholeMedian / max(simdResult.wholeMedian, 1e-9)))x")
    }
    Console.out("")
    let opTotal = max(m.operations.indices.reduce(0.0) { $0 + simdResult.opMedian($1) }, 1e-12)
    var header = ["#", "op", "kind", "MACs", "SIMD ms", "share", "GMAC/s"]
    if refResult != nil { header += ["ref ms", "ref GMAC/s"] }
    let rows = m.operations.indices.map { i -> [String] in
        let o = m.operations[i]
        let t = simdResult.opMedian(i)
        var r = ["\(i)", o.name, o.op.code.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }, grouped(macs[i]),
                 String(format: "%.4f", t), String(format: "%.1f%%", 100 * t / opTotal),
                 macs[i] > 0 ? String(format: "%.2f", gmacs(macs[i], t)) : ""]
        if let refResult {
            let rt = refResult.opMedian(i)
            r += [String(format: "%.4f", rt), macs[i] > 0 ? String(format: "%.2f", gmacs(macs[i], rt)) : ""]
        }
        return r
    }
    for l in renderTable(header, rows, rightAligned: [0, 3, 4, 5, 6, 7, 8]) { Console.out(l) }
    if a.has("standard-layers") {
        Console.out("")
        for l in benchStandardLayers(runs: runs).split(separator: "\n") { Console.out(String(l)) }
    }
    return 0
}
