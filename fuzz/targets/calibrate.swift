// Fuzz target `calibrate`: the quantizer end to end on small inputs. Input: a graph JSON document, a line
// `#--#`, its safetensors weights, another `#--#`, and calibration images (.npy, PGM/PPM or IDX; seeds:
// fixtures/ops/*). Batchnorm folding, calibration on at most two images, quantization and serialization must
// each accept or refuse with a DynQError, and a model the quantizer writes must pass the `.dynq` validator.
import DynQCore
import DynQGraph
import DynQQuantizer

let runMACLimit = 1_000_000
let runElementLimit = 1 << 18

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCalibrate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    acceptedForeignError = { ($0 as? ModelError)?.description }
    let parts = splitInput(fuzzBytes(data, size), partSeparator, parts: 3)
    guard parts.count == 3,
          let graph = refusedOrAccepted("graph", { try decodeGraph(JSON.parse(parts[0], file: "g.json"), file: "g.json") }),
          let weights = refusedOrAccepted("weights", { try parseSafetensors(parts[1], file: "w.safetensors").tensors }),
          let counts = refusedOrAccepted("countNodes", { try countNodes(graph: graph, weights: weights) }),
          let shapes = refusedOrAccepted("inferShapes", { try inferShapes(graph: graph, weights: weights) })
    else { return 0 }
    let macs = counts.reduce(0) { $0 &+ $1.totalMACs }
    let elements = shapes.values.reduce(0) { $0 &+ $1.reduce(1, &*) }
    guard macs >= 0, macs <= runMACLimit, elements >= 0, elements <= runElementLimit else { return 0 }
    guard let batch = refusedOrAccepted("images", { try parseImages(parts[2], channels: graph.input.shape[1], file: "x") })
    else { return 0 }
    guard let inputs = refusedOrAccepted("inputs", { try (0..<min(batch.count, 2)).map { try batch.input($0, for: graph) } })
    else { return 0 }
    guard let (model, _) = refusedOrAccepted("quantize", { try quantize(graph: graph, weights: weights, calibration: inputs) })
    else { return 0 }
    guard let bytes = refusedOrAccepted("serialized", { () throws(ModelError) -> [UInt8] in try model.serialized() })
    else { return 0 }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
    defer { buffer.deallocate() }
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    do throws(ModelError) {
        _ = try Model(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<bytes.count]))
    } catch {
        fatalError("the quantizer wrote a model the validator refuses: \(error)")
    }
    return 0
}
