/// Input images and labels for `dynq run`/`eval`: one entry point, `loadImages`, that recognises the file by
/// its magic bytes (`.npy`, binary PGM/PPM, raw IDX) and returns a batch.

/// A batch of images, `[N, C, H, W]` in C order, with optional labels.
public struct ImageBatch: Equatable, Sendable {
    /// Raw pixels (to be preprocessed) or float32 values (taken as already preprocessed).
    public enum Pixels: Equatable, Sendable {
        case uint8([UInt8])
        case float32([Float])
    }

    public var count: Int, channels: Int, height: Int, width: Int
    /// `count · channels · height · width` values.
    public var pixels: Pixels
    /// One class id per image, when known.
    public var labels: [Int]?

    public init(count: Int, channels: Int, height: Int, width: Int, pixels: Pixels, labels: [Int]? = nil) {
        self.count = count; self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.labels = labels
    }

    /// Values per image.
    public var imageSize: Int { channels * height * width }

    /// Image `i` as the graph's `[1, C, H, W]` input: uint8 pixels go through `graph.input.preprocess`, float32
    /// values are used as they are.
    /// - Throws: if the image's size does not match the graph input.
    public func input(_ i: Int, for graph: Graph) throws -> Tensor {
        precondition(i >= 0 && i < count, "ImageBatch: image \(i) out of 0..<\(count)")
        let expected = graph.input.shape
        guard [1, channels, height, width] == expected else {
            throw DynQError("images are [\(channels), \(height), \(width)], the graph '\(graph.name)' expects [\(expected.dropFirst().map(String.init).joined(separator: ", "))]")
        }
        let range = i * imageSize..<(i + 1) * imageSize
        switch pixels {
        case .uint8(let p): return try graph.preprocess(Array(p[range]))
        case .float32(let v):
            let values = Array(v[range])
            if let k = values.firstIndex(where: { !$0.isFinite }) {
                throw DynQError(nonFiniteMessage(image: i, index: k, value: values[k]))
            }
            return Tensor(shape: expected, data: values)
        }
    }

    /// The float32 values of image `i` that no pixel 0…255 gives through `graph`'s preprocess: those whose inverse
    /// `(x · std + mean) / scale` falls outside [−slack, 255 + slack] (in pixel steps). Returns how many, the first
    /// (index within the image, value) and that channel's range of preprocessed pixels; `nil` when there are none,
    /// for uint8 images, and for a preprocess with scale 0 (no inverse).
    public func valuesOutsidePixelRange(image i: Int, for graph: Graph, slack: Float)
        -> (count: Int, index: Int, value: Float, range: ClosedRange<Float>)?
    {
        guard case .float32(let v) = pixels, graph.input.shape == [1, channels, height, width] else { return nil }
        let p = graph.input.preprocess
        guard p.scale != 0 else { return nil }
        let plane = height * width
        var found: (count: Int, index: Int, value: Float, range: ClosedRange<Float>)?
        for ch in 0..<channels {
            let mean = p.mean.count == 1 ? p.mean[0] : p.mean[ch], std = p.std.count == 1 ? p.std[0] : p.std[ch]
            let a = (0 * p.scale - mean) / std, b = (255 * p.scale - mean) / std
            for k in ch * plane..<(ch + 1) * plane {
                let x = v[i * imageSize + k]
                let pixel = (x * std + mean) / p.scale
                if !(pixel >= -slack && pixel <= 255 + slack) {
                    if let f = found { found!.count = f.count + 1 }
                    else { found = (1, k, x, Swift.min(a, b)...Swift.max(a, b)) }
                }
            }
        }
        return found
    }

    /// The first non-finite float32 value of image `i`, as (index within the image, value), if any.
    public func firstNonFinite(image i: Int) -> (index: Int, value: Float)? {
        guard case .float32(let v) = pixels else { return nil }
        let range = i * imageSize..<(i + 1) * imageSize
        guard let k = v[range].firstIndex(where: { !$0.isFinite }) else { return nil }
        return (k - range.lowerBound, v[k])
    }
}

/// "image I: value V at index K is not finite": the refusal of an image holding NaN or ±infinity (a float32 input
/// is used as it is, so such a value would silently become a clamped pixel or NaN scores).
public func nonFiniteMessage(image i: Int, index k: Int, value: Float) -> String {
    "image \(i): value \(value) at index \(k) (C·H·W order) is not finite; inputs must be finite numbers"
}

/// Loads images from `path`, recognised by content: `.npy` (uint8 or float32: `[H, W]`, `[C, H, W]`,
/// `[N, H, W]` or `[N, C, H, W]`), binary PGM/PPM (`P5`/`P6`, maxval ≤ 255, rescaled to 0…255), or a raw IDX
/// image file (`idx3-ubyte`, already gunzipped). `labels`, if given, is a label file (see `loadLabels`) with one
/// label per image.
///
/// - Parameter channels: the channel count the caller expects; it resolves rank-3 `.npy` arrays: `[C, H, W]`
///   (one image) when the first dimension equals `channels`, otherwise `[N, H, W]` (single-channel batch).
public func loadImages(_ path: String, channels: Int? = nil, labels labelsPath: String? = nil) throws -> ImageBatch {
    let bytes = try readInputFile(path, limit: 1 << 32)
    var batch = try parseImages(bytes, channels: channels, file: path)
    if let labelsPath {
        let labels = try loadLabels(labelsPath)
        guard labels.count == batch.count else {
            throw DynQError(file: labelsPath, "has \(labels.count) labels but \(path) has \(batch.count) images")
        }
        batch.labels = labels
    }
    return batch
}

/// Decodes an image file held in memory (see `loadImages`).
public func parseImages(_ bytes: [UInt8], channels: Int? = nil, file: String? = nil) throws -> ImageBatch {
    switch detectFormat(bytes) {
    case .npy:
        return try imageBatch(from: try parseNpy(bytes, file: file), channels: channels, file: file)
    case .pnm:
        return try parsePNM(bytes, file: file)
    case .idxImages:
        let (shape, data) = try parseIDX(bytes, file: file)
        return ImageBatch(count: shape[0], channels: 1, height: shape[1], width: shape[2], pixels: .uint8(data))
    case .idxLabels:
        throw DynQError(file: file, "is an IDX label file, not images")
    case .gzip:
        throw DynQError(file: file, "is gzip-compressed; gunzip it first")
    case .unknown:
        throw DynQError(file: file, "unrecognised image file (DynQ reads .npy, binary PGM/PPM and IDX)")
    }
}

/// Loads class labels: a 1-D `.npy` of integers (uint8, int32 or int64) or an IDX label file (`idx1-ubyte`).
public func loadLabels(_ path: String) throws -> [Int] {
    try parseLabels(try readInputFile(path, limit: 1 << 32), file: path)
}

/// Decodes a label file held in memory (see `loadLabels`).
public func parseLabels(_ bytes: [UInt8], file: String? = nil) throws -> [Int] {
    switch detectFormat(bytes) {
    case .npy:
        let a = try parseNpy(bytes, file: file)
        guard a.shape.count == 1 else { throw DynQError(file: file, "labels must be a 1-D array, not \(a.shape)") }
        switch a.data {
        case .uint8(let v): return v.map(Int.init)
        case .int32(let v): return v.map(Int.init)
        case .int64(let v): return v.map(Int.init)
        case .float32: throw DynQError(file: file, "labels must be integers, not float32")
        }
    case .idxLabels:
        return try parseIDX(bytes, file: file).data.map(Int.init)
    case .gzip:
        throw DynQError(file: file, "is gzip-compressed; gunzip it first")
    default:
        throw DynQError(file: file, "unrecognised label file (DynQ reads 1-D integer .npy and IDX idx1-ubyte)")
    }
}

/// Reads an input file (`.npy`, PGM/PPM, IDX) header first. The format is recognised and the data size the header
/// declares is checked against the file's size (and `limit`) from at most the first 64 KiB, before the rest is
/// read; a PGM/PPM file is read only up to the end of its pixels. Files of other formats are read whole (up to
/// 64 KiB) so that the parser names the problem.
public func readInputFile(_ path: String, limit: Int) throws -> [UInt8] {
    let size = try FileIO.size(of: path)
    let prefix = try FileIO.read(path, offset: 0, count: Swift.min(size, inputHeaderBytes))
    var needed = size
    switch detectFormat(prefix) {
    case .npy:
        let layout = try parseNpyHeader(prefix, file: path)
        try checkNpySize(layout, fileSize: size, file: path)
    case .pnm:
        let h = try parsePNMHeader(prefix, file: path)
        guard h.dataStart + h.byteCount <= size else {
            throw DynQError(file: path, "truncated PGM/PPM data: \(h.width)×\(h.height)×\(h.channels) needs \(h.byteCount) bytes, the file has \(size - h.dataStart)")
        }
        needed = h.dataStart + h.byteCount
    case .idxImages, .idxLabels:
        let (shape, start) = try parseIDXHeader(prefix, file: path)
        try checkIDXSize(shape, dataStart: start, fileSize: size, file: path)
    case .gzip, .unknown:
        return prefix
    }
    guard needed <= limit else {
        throw DynQError(file: path, "file is \(needed) bytes, larger than the \(limit)-byte limit")
    }
    return needed == prefix.count ? prefix : try FileIO.read(path, offset: 0, count: needed)
}

/// Bytes `readInputFile` reads to recognise a file and parse its header.
let inputHeaderBytes = 1 << 16

private enum InputFormat { case npy, pnm, idxImages, idxLabels, gzip, unknown }

private func detectFormat(_ b: [UInt8]) -> InputFormat {
    if b.count >= 6, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) { return .npy }
    if b.count >= 2, b[0] == UInt8(ascii: "P"), b[1] == UInt8(ascii: "5") || b[1] == UInt8(ascii: "6") { return .pnm }
    if b.count >= 2, b[0] == 0x1F, b[1] == 0x8B { return .gzip }
    if b.count >= 4, b[0] == 0, b[1] == 0, b[2] == 0x08 {
        if b[3] == 3 { return .idxImages }
        if b[3] == 1 { return .idxLabels }
    }
    return .unknown
}

private func imageBatch(from a: NpyArray, channels: Int?, file: String?) throws -> ImageBatch {
    let s = a.shape
    let (n, c, h, w): (Int, Int, Int, Int)
    switch s.count {
    case 2: (n, c, h, w) = (1, 1, s[0], s[1])
    case 3: (n, c, h, w) = channels == s[0] ? (1, s[0], s[1], s[2]) : (s[0], 1, s[1], s[2])
    case 4: (n, c, h, w) = (s[0], s[1], s[2], s[3])
    default: throw DynQError(file: file, "images must be [H, W], [C, H, W], [N, H, W] or [N, C, H, W], not \(s)")
    }
    guard n > 0, c > 0, h > 0, w > 0 else { throw DynQError(file: file, "image array \(s) is empty") }
    switch a.data {
    case .uint8(let v): return ImageBatch(count: n, channels: c, height: h, width: w, pixels: .uint8(v))
    case .float32(let v): return ImageBatch(count: n, channels: c, height: h, width: w, pixels: .float32(v))
    default: throw DynQError(file: file, "images must be uint8 or float32, not \(a.data.typeName)")
    }
}

// MARK: - PGM / PPM

/// Parses a binary PGM (`P5`, one channel) or PPM (`P6`, RGB → 3 planar channels). Header comments (`#` to end
/// of line) are allowed; `maxval` must be 1…255 and pixels are rescaled to 0…255 (`round(v · 255 / maxval)`).
public func parsePNM(_ bytes: [UInt8], file: String? = nil) throws -> ImageBatch {
    let h = try parsePNMHeader(bytes, file: file)
    let (width, height, channels, maxval, i, n) = (h.width, h.height, h.channels, h.maxval, h.dataStart, h.byteCount)
    guard bytes.count - i >= n else {
        throw DynQError(file: file, "truncated PGM/PPM data: \(width)×\(height)×\(channels) needs \(n) bytes, the file has \(bytes.count - i)")
    }
    var planar = [UInt8](repeating: 0, count: n)
    let plane = width * height
    for k in 0..<plane {
        for c in 0..<channels {
            let v = Int(bytes[i + k * channels + c])
            guard v <= maxval else { throw DynQError(file: file, "PGM/PPM pixel value \(v) exceeds maxval \(maxval)") }
            planar[c * plane + k] = maxval == 255 ? UInt8(v) : UInt8((v * 255 + maxval / 2) / maxval)
        }
    }
    return ImageBatch(count: 1, channels: channels, height: height, width: width, pixels: .uint8(planar))
}

/// What a PGM/PPM header declares: size, maxval, and where the pixels start.
struct PNMHeader {
    var width: Int, height: Int, channels: Int, maxval: Int
    var dataStart: Int
    /// `width · height · channels` (each dimension ≤ 2^24).
    var byteCount: Int
}

/// Parses a binary PGM/PPM header from the file's first bytes.
func parsePNMHeader(_ bytes: [UInt8], file: String?) throws -> PNMHeader {
    func fail(_ m: String) -> DynQError { DynQError(file: file, m) }
    guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") else {
        throw fail("not a binary PGM/PPM file (expected P5 or P6)")
    }
    let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
    var i = 2
    func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
    func number(_ what: String) throws -> Int {
        while i < bytes.count {
            if isSpace(bytes[i]) { i += 1 }
            else if bytes[i] == UInt8(ascii: "#") { while i < bytes.count, bytes[i] != 0x0A { i += 1 } }
            else { break }
        }
        var v = 0, digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            v = v * 10 + Int(bytes[i] - 0x30)
            digits += 1
            i += 1
            guard v <= 1 << 24 else { throw fail("PGM/PPM \(what) is absurdly large") }
        }
        guard digits > 0 else { throw fail("bad PGM/PPM header: expected the \(what)") }
        return v
    }
    let width = try number("width"), height = try number("height"), maxval = try number("maxval")
    guard width > 0, height > 0 else { throw fail("PGM/PPM size \(width)×\(height) is empty") }
    guard (1...255).contains(maxval) else { throw fail("PGM/PPM maxval \(maxval) is not supported (1…255)") }
    guard i < bytes.count, isSpace(bytes[i]) else { throw fail("bad PGM/PPM header: expected whitespace after maxval") }
    i += 1
    return PNMHeader(width: width, height: height, channels: channels, maxval: maxval, dataStart: i,
                     byteCount: width * height * channels)
}

/// The bytes of a binary PGM (1 channel) or PPM (3 channels) holding one planar `[C, H, W]` uint8 image.
public func encodePNM(_ pixels: [UInt8], channels: Int, height: Int, width: Int) -> [UInt8] {
    precondition(channels == 1 || channels == 3, "PGM/PPM hold 1 or 3 channels")
    precondition(pixels.count == channels * height * width, "pixel count does not match the size")
    var out = Array("\(channels == 1 ? "P5" : "P6")\n\(width) \(height)\n255\n".utf8)
    let plane = height * width
    for k in 0..<plane { for c in 0..<channels { out.append(pixels[c * plane + k]) } }
    return out
}

// MARK: - IDX

/// Parses a raw (uncompressed) unsigned-byte IDX file: returns its dimensions and data.
public func parseIDX(_ bytes: [UInt8], file: String? = nil) throws -> (shape: [Int], data: [UInt8]) {
    let (shape, start) = try parseIDXHeader(bytes, file: file)
    try checkIDXSize(shape, dataStart: start, fileSize: bytes.count, file: file)
    return (shape, Array(bytes[start...]))
}

/// Parses an IDX header (magic, element type, rank, dimensions) from the file's first bytes; returns the
/// dimensions and the offset of the data.
func parseIDXHeader(_ bytes: [UInt8], file: String?) throws -> (shape: [Int], dataStart: Int) {
    func fail(_ m: String) -> DynQError { DynQError(file: file, m) }
    if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B { throw fail("is gzip-compressed; gunzip it first") }
    guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else { throw fail("not an IDX file (bad magic)") }
    guard bytes[2] == 0x08 else { throw fail("IDX element type 0x\(String(bytes[2], radix: 16)) is not supported (only unsigned bytes, 0x08)") }
    let rank = Int(bytes[3])
    guard rank >= 1, rank <= 4 else { throw fail("IDX rank \(rank) is not supported") }
    guard bytes.count >= 4 + 4 * rank else { throw fail("truncated IDX header") }
    var shape: [Int] = []
    for k in 0..<rank {
        shape.append(Int(UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 + 4 * k, as: UInt32.self) })))
    }
    return (shape, 4 + 4 * rank)
}

/// Checks the data size IDX dimensions declare against the file's size.
func checkIDXSize(_ shape: [Int], dataStart start: Int, fileSize: Int, file: String?) throws {
    guard let n = Tensor.elementCount(shape), n > 0 else {
        throw DynQError(file: file, "IDX dimensions \(shape) are empty or absurd")
    }
    guard fileSize - start >= n else {
        throw DynQError(file: file, "truncated IDX data: dimensions \(shape) need \(n) bytes, the file has \(fileSize - start)")
    }
    guard fileSize - start == n else {
        throw DynQError(file: file, "IDX file has \(fileSize - start - n) unexpected trailing bytes")
    }
}

/// The bytes of an unsigned-byte IDX file.
public func encodeIDX(shape: [Int], data: [UInt8]) -> [UInt8] {
    precondition(Tensor.elementCount(shape) == data.count, "IDX: shape does not match the data")
    var out: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
    for d in shape { withUnsafeBytes(of: UInt32(d).bigEndian) { out.append(contentsOf: $0) } }
    return out + data
}
