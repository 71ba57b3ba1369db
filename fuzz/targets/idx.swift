// Fuzz target `idx`: raw IDX files (`parseIDX`: magic, element type, rank, big-endian dimensions) and the same
// bytes through `parseImages` and `parseLabels`.
import DynQGraph

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    if let (shape, values) = refusedOrAccepted("parseIDX", { try parseIDX(bytes, file: "x.idx") }) {
        precondition(Tensor.elementCount(shape) == values.count, "IDX shape and data disagree")
        precondition(encodeIDX(shape: shape, data: values) == bytes, "IDX round trip changed the file")
    }
    fuzzImagesAndLabels(bytes)
    return 0
}
