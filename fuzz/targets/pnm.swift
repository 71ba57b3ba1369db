// Fuzz target `pnm`: binary PGM/PPM (`parsePNM`: header tokens, comments, maxval rescaling) and the same bytes
// through `parseImages` and `parseLabels`.
import DynQGraph

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    if let b = refusedOrAccepted("parsePNM", { try parsePNM(bytes, file: "x.pgm") }) {
        guard case .uint8(let p) = b.pixels, p.count == b.channels * b.height * b.width else {
            fatalError("PGM/PPM batch holds the wrong number of pixels")
        }
        let again = encodePNM(p, channels: b.channels, height: b.height, width: b.width)
        guard let c = refusedOrAccepted("round trip", { try parsePNM(again) }), c == b else {
            fatalError("the writer's output of an accepted image does not read back equal")
        }
    }
    fuzzImagesAndLabels(bytes)
    return 0
}
