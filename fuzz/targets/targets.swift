// Fuzz target `targets`: the edge-target profile reader (`decodeTargets`) and the simulator's report on every
// accepted profile (table, JSON, sweep), for a fixed small model: the quantized fixtures/ops/conv2d_plain model
// at $DYNQ_FUZZ_MODEL (scripts/fuzz.sh sets it).
import DynQCore
import DynQGraph
import DynQSim
import Foundation

let counts: ModelCounts = {
    guard let path = ProcessInfo.processInfo.environment["DYNQ_FUZZ_MODEL"] else {
        fatalError("set DYNQ_FUZZ_MODEL to a .dynq file (scripts/fuzz.sh does)")
    }
    do {
        let (description, _) = try SimFiles.loadModel(path)
        return analyticCounts(description)
    } catch {
        fatalError("cannot load \(path): \(error)")
    }
}()
let code = CodeSize(target: "fuzz", text: 1000, data: 10, bss: 100, stackBound: 2000, functions: 1, indirectCalls: 0,
                    recursive: [], source: "fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTargets(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let json = refusedOrAccepted("JSON.parse", { try JSON.parse(fuzzBytes(data, size), file: "t.json") }),
          let profiles = refusedOrAccepted("decodeTargets", { try decodeTargets(json, file: "t.json") })
    else { return 0 }
    let reports = profiles.map { simulate(counts: counts, modelBytes: 4096, code: code, target: $0) }
    for r in reports {
        _ = r.table()
        _ = r.json().serialized()
        _ = r.svg()
    }
    _ = sweepTable(reports)
    return 0
}
