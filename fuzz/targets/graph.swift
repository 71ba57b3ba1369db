// Fuzz target `graph`: the JSON parser, the graph decoder and validation (`inferShapes`, `countNodes`), and for
// small graphs the float32 reference engine. Input: a graph JSON document, optionally followed by a line `#--#`
// and a safetensors file with its weights (seeds: fixtures/ops/*).
//
// Checked: JSON and graphs round-trip through their writers (`decodeGraph(encodeGraph(g)) == g`); a graph that
// validates runs without a trap and its outputs have the shapes validation inferred.
import DynQGraph

/// Graphs with more multiply-accumulates or activation elements than this are validated but not run.
let runMACLimit = 2_000_000
let runElementLimit = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGraph(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = splitInput(fuzzBytes(data, size), partSeparator, parts: 2)
    guard let json = refusedOrAccepted("JSON.parse", { try JSON.parse(parts[0], file: "g.json") }) else { return 0 }
    guard let reparsed = refusedOrAccepted("JSON round trip", { try JSON.parse(json.serialized()) }),
          reparsed == json else { fatalError("JSON does not survive serialization") }
    guard let graph = refusedOrAccepted("decodeGraph", { try decodeGraph(json, file: "g.json") }) else { return 0 }
    guard let again = refusedOrAccepted("graph round trip", { try decodeGraph(JSON.parse(encodeGraph(graph).serialized())) }),
          again == graph else { fatalError("decodeGraph(encodeGraph(g)) != g") }
    var weights: [String: Tensor] = [:]
    if parts.count == 2 {
        guard let w = refusedOrAccepted("parseSafetensors", { try parseSafetensors(parts[1], file: "w.safetensors") })
        else { return 0 }
        weights = w.tensors
    }
    guard let shapes = refusedOrAccepted("inferShapes", { try inferShapes(graph: graph, weights: weights, file: "g.json") }),
          let counts = refusedOrAccepted("countNodes", { try countNodes(graph: graph, weights: weights) })
    else { return 0 }
    let macs = counts.reduce(0) { $0 &+ $1.totalMACs }
    let elements = shapes.values.reduce(0) { $0 &+ $1.reduce(1, &*) }
    guard macs >= 0, macs <= runMACLimit, elements >= 0, elements <= runElementLimit else { return 0 }
    guard let engine = refusedOrAccepted("FloatEngine", { try FloatEngine(graph: graph, weights: weights) }) else {
        fatalError("inferShapes accepted a graph the float engine refuses")
    }
    let n = graph.input.shape.reduce(1, *)
    let input = Tensor(shape: graph.input.shape, data: (0..<n).map { Float($0 % 7) - 3 })
    guard let outputs = refusedOrAccepted("FloatEngine.run", { try engine.run(input) }) else {
        fatalError("the float engine refused an input of the graph's input shape")
    }
    for (name, t) in zip(graph.outputs, outputs) where shapes[name] != t.shape {
        fatalError("output '\(name)' has shape \(t.shape), validation inferred \(shapes[name] ?? [])")
    }
    return 0
}
