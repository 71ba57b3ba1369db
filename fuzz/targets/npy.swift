// Fuzz target `npy`: `parseNpy` (versions 1-3, every dtype and byte order), then the same bytes as images
// (`parseImages`, with and without a channel hint; each image through a graph input of its shape, which refuses
// non-finite float32 values) and as labels (`parseLabels`). An accepted array must survive the writer.
import DynQGraph

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    if let a = refusedOrAccepted("parseNpy", { try parseNpy(bytes, file: "x.npy") }) {
        precondition(Tensor.elementCount(a.shape) == a.data.count, "shape and data disagree")
        let encoded = encodeNpy(a)
        guard let b = refusedOrAccepted("round trip", { try parseNpy(encoded) }) else {
            fatalError("the writer's output of an accepted array is refused")
        }
        precondition(encodeNpy(b) == encoded, "round trip changed the array")
    }
    fuzzImagesAndLabels(bytes)
    return 0
}
