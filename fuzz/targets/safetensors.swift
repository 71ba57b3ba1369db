// Fuzz target `safetensors`: `parseSafetensors` (header JSON, dtypes, shapes, offsets, coverage, every dtype's
// conversion). An accepted file must hold, per tensor, exactly shape-product values, and must survive a round
// trip through the writer (names, shapes and float32 bit patterns equal).
import DynQGraph

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let file = refusedOrAccepted("parseSafetensors", { try parseSafetensors(bytes, file: "w.safetensors") })
    else { return 0 }
    for name in file.names {
        guard let t = file.tensors[name] else { fatalError("tensor '\(name)' listed but missing") }
        precondition(Tensor.elementCount(t.shape) == t.data.count, "tensor '\(name)': shape and data disagree")
    }
    let again = refusedOrAccepted("round trip") {
        try parseSafetensors(try encodeSafetensors(file.names.map { ($0, file.tensors[$0]!) }, metadata: file.metadata))
    }
    guard let again else { fatalError("the writer's output of an accepted file is refused") }
    precondition(again.names == file.names && again.metadata == file.metadata, "round trip changed names or metadata")
    for name in file.names {
        let a = file.tensors[name]!, b = again.tensors[name]!
        precondition(a.shape == b.shape && a.data.map(\.bitPattern) == b.data.map(\.bitPattern),
                     "round trip changed tensor '\(name)'")
    }
    return 0
}
