// Fuzz target `onnx`: the `dynq import` path — the protobuf reader (`decodeONNXModel`), the importer
// (`importONNX`: constant folding, pattern matching of coefficient predictors and dynamic convolutions, shape
// arithmetic) and, for an accepted model, the graph document it writes read back as `dynq import` does
// (`decodeGraph`, `inferShapes`). Seeds: fixtures/onnx/*.onnx.
//
// Checked: every refusal is one printable line; an imported graph document decodes (the importer writes only
// graph JSON it can read back) and, when it validates, its weights match the shapes validation inferred.
import DynQGraph

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let model = refusedOrAccepted("decodeONNXModel", { try decodeONNXModel(bytes, file: "m.onnx") }) else { return 0 }
    guard let result = refusedOrAccepted("importONNX", { try importONNX(model: model, file: "m.onnx") }) else { return 0 }
    guard let reparsed = refusedOrAccepted("graph JSON round trip", { try JSON.parse(result.graph.serialized()) }),
          reparsed == result.graph else { fatalError("the imported graph document does not survive serialization") }
    guard let graph = refusedOrAccepted("decodeGraph", { try decodeGraph(result.graph, file: "m.onnx") }) else {
        return 0
    }
    var weights: [String: Tensor] = [:]
    for (name, t) in result.weights {
        precondition(Tensor.elementCount(t.shape) == t.data.count, "imported weight '\(name)': shape and data disagree")
        weights[name] = t
    }
    _ = refusedOrAccepted("inferShapes", { try inferShapes(graph: graph, weights: weights, file: "m.onnx") })
    return 0
}
