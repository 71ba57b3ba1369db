// Shared by the image-reader fuzz targets (npy, pnm, idx).
import DynQGraph

/// The same bytes as an image batch (with no channel hint, and with 1 and 3) and as labels. Every image of a
/// small accepted batch goes through a graph input of its own shape (uint8 through a preprocess, float32 checked
/// finite), as `dynq run --float` and `dynq quantize` do.
func fuzzImagesAndLabels(_ bytes: [UInt8]) {
    for channels in [nil, 1, 3] as [Int?] {
        guard let batch = refusedOrAccepted("parseImages", { try parseImages(bytes, channels: channels, file: "x") })
        else { continue }
        let size = batch.channels * batch.height * batch.width
        switch batch.pixels {
        case .uint8(let p): precondition(p.count == batch.count * size, "batch holds the wrong number of pixels")
        case .float32(let v): precondition(v.count == batch.count * size, "batch holds the wrong number of values")
        }
        guard size <= 1 << 16 else { continue }
        let graph = Graph(name: "fuzz", input: InputSpec(name: "x", shape: [1, batch.channels, batch.height, batch.width],
                                                         preprocess: Preprocess(scale: 1 / 255, mean: [0.5], std: [0.25])),
                          outputs: ["x"], nodes: [])
        for i in 0..<min(batch.count, 4) {
            if let t = refusedOrAccepted("ImageBatch.input", { try batch.input(i, for: graph) }) {
                precondition(t.shape == graph.input.shape && t.data.allSatisfy(\.isFinite),
                             "an accepted image gives a non-finite or misshapen input")
            }
        }
    }
    if let labels = refusedOrAccepted("parseLabels", { try parseLabels(bytes, file: "y") }) {
        _ = labels.count
    }
}
