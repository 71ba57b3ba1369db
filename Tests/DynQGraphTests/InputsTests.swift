import DynQCore
import Testing
@testable import DynQGraph

@Suite struct NpyTests {
    @Test(arguments: [
        NpyArray(shape: [2, 3], data: .float32([1, -2, 3.5, 0, .infinity, -0.0])),
        NpyArray(shape: [4], data: .uint8([0, 1, 128, 255])),
        NpyArray(shape: [1, 2, 1], data: .int32([-7, 1 << 30])),
        NpyArray(shape: [2], data: .int64([-1, 1 << 40])),
        NpyArray(shape: [], data: .float32([42])),
        NpyArray(shape: [0, 3], data: .uint8([])),
    ])
    func roundTrips(_ a: NpyArray) throws {
        let bytes = encodeNpy(a)
        #expect(try parseNpy(bytes) == a)
        // numpy aligns the data to 64 bytes.
        #expect((bytes.count - a.data.count * [1, 4, 4, 8][["uint8", "float32", "int32", "int64"].firstIndex(of: a.data.typeName)!]) % 64 == 0)
    }

    /// A version-1 .npy file with a hand-written header.
    func npy(_ header: String, _ data: [UInt8], version: UInt8 = 1) -> [UInt8] {
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let h = Array(header.utf8)
        if version == 1 {
            withUnsafeBytes(of: UInt16(h.count).littleEndian) { out.append(contentsOf: $0) }
        } else {
            withUnsafeBytes(of: UInt32(h.count).littleEndian) { out.append(contentsOf: $0) }
        }
        return out + h + data
    }

    @Test func readsVersion2AndBigEndianHeaders() throws {
        let a = try parseNpy(npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }\n", [0, 0, 1, 0, 255, 255, 255, 255], version: 2))
        #expect(a == NpyArray(shape: [2], data: .int32([256, -1])))
        let b = try parseNpy(npy("{\"shape\": (1, 1), \"fortran_order\": False, \"descr\": \"|u1\"}", [9]))
        #expect(b == NpyArray(shape: [1, 1], data: .uint8([9])))
    }

    @Test func refusesBadFiles() {
        expectError("a.npy: not a .npy file (bad magic)") { _ = try parseNpy(Array("hello world".utf8), file: "a.npy") }
        expectError("Fortran-order arrays are not supported") {
            _ = try parseNpy(npy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", [1, 2, 3, 4]))
        }
        expectError("truncated .npy data: shape [2, 2] of <f4 needs 16 bytes, the file has 12") {
            _ = try parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", [UInt8](repeating: 0, count: 12)))
        }
        expectError("unsupported .npy dtype '<f8'") {
            _ = try parseNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", [UInt8](repeating: 0, count: 8)))
        }
        expectError("bad .npy header (expected '}')") {
            _ = try parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", [0, 0, 0, 0]))
        }
        expectError("bad .npy header: missing 'shape'") { _ = try parseNpy(npy("{'descr': '<f4', 'fortran_order': False}", [])) }
        expectError(".npy header length 200 runs past the end of the file") {
            var bytes = npy("{}", [])
            bytes[8] = 200
            _ = try parseNpy(bytes)
        }
        expectError("unsupported .npy format version 9") { _ = try parseNpy(npy("{}", [], version: 9)) }
        expectError("1 unexpected bytes after the array data") {
            _ = try parseNpy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", [1, 2]))
        }
    }
}

@Suite struct ImageFileTests {
    @Test func npyImagesInEveryLayout() throws {
        let pixels = [UInt8](0..<12)
        func load(_ shape: [Int], channels: Int? = nil) throws -> ImageBatch {
            try parseImages(encodeNpy(NpyArray(shape: shape, data: .uint8(Array(pixels.prefix(shape.reduce(1, *)))))), channels: channels)
        }
        let hw = try load([3, 4])
        #expect((hw.count, hw.channels, hw.height, hw.width) == (1, 1, 3, 4))
        let nhw = try load([3, 2, 2], channels: 1)
        #expect((nhw.count, nhw.channels, nhw.height, nhw.width) == (3, 1, 2, 2))
        let chw = try load([3, 2, 2], channels: 3)
        #expect((chw.count, chw.channels, chw.height, chw.width) == (1, 3, 2, 2))
        let nchw = try load([2, 3, 2, 1])
        #expect((nchw.count, nchw.channels, nchw.height, nchw.width) == (2, 3, 2, 1))
        #expect(nchw.pixels == .uint8(pixels))
        let floats = try parseImages(encodeNpy(NpyArray(shape: [1, 1, 1, 2], data: .float32([0.5, -1]))))
        #expect(floats.pixels == .float32([0.5, -1]))
        expectError("images must be uint8 or float32, not int32") {
            _ = try parseImages(encodeNpy(NpyArray(shape: [2, 2], data: .int32([1, 2, 3, 4]))))
        }
        expectError("images must be [H, W], [C, H, W], [N, H, W] or [N, C, H, W], not [4]") {
            _ = try parseImages(encodeNpy(NpyArray(shape: [4], data: .uint8([1, 2, 3, 4]))))
        }
    }

    @Test func batchImagesBecomeGraphInputs() throws {
        var g = makeGraph([1, 1, 1, 2], [Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"])])
        g.input.preprocess = Preprocess(scale: 1, mean: [10], std: [2])
        let batch = ImageBatch(count: 2, channels: 1, height: 1, width: 2, pixels: .uint8([10, 12, 14, 16]))
        expectClose(try batch.input(1, for: g), [1, 1, 1, 2], [2, 3])
        let floats = ImageBatch(count: 1, channels: 1, height: 1, width: 2, pixels: .float32([7, 8]))
        expectClose(try floats.input(0, for: g), [1, 1, 1, 2], [7, 8])
        let wrong = ImageBatch(count: 1, channels: 1, height: 2, width: 1, pixels: .uint8([0, 0]))
        expectError("images are [1, 2, 1], the graph 'test' expects [1, 1, 2]") { _ = try wrong.input(0, for: g) }
    }

    @Test func pgmAndPpmRoundTrip() throws {
        let gray = parseImagesOrFail(encodePNM([1, 2, 3, 4, 5, 6], channels: 1, height: 2, width: 3))
        #expect((gray.count, gray.channels, gray.height, gray.width) == (1, 1, 2, 3))
        #expect(gray.pixels == .uint8([1, 2, 3, 4, 5, 6]))
        // PPM stores RGB interleaved; the batch is planar [C, H, W].
        let planar: [UInt8] = [10, 11, 20, 21, 30, 31]
        let ppm = encodePNM(planar, channels: 3, height: 1, width: 2)
        #expect(Array(ppm.suffix(6)) == [10, 20, 30, 11, 21, 31])
        #expect(parseImagesOrFail(ppm).pixels == .uint8(planar))
    }

    func parseImagesOrFail(_ bytes: [UInt8]) -> ImageBatch {
        (try? parseImages(bytes)) ?? ImageBatch(count: 0, channels: 0, height: 0, width: 0, pixels: .uint8([]))
    }

    @Test func pgmHeaderCommentsAndMaxval() throws {
        let bytes = Array("P5\n# made by hand\n2 # width\n1\n15\n".utf8) + [0, 15]
        #expect(try parsePNM(bytes).pixels == .uint8([0, 255]))
    }

    @Test func badPgmFiles() {
        expectError("a.pgm: PGM/PPM maxval 65535 is not supported (1…255)") {
            _ = try parsePNM(Array("P5 1 1 65535\n".utf8) + [0, 0], file: "a.pgm")
        }
        expectError("truncated PGM/PPM data: 2×2×1 needs 4 bytes, the file has 3") { _ = try parsePNM(Array("P5 2 2 255\n".utf8) + [1, 2, 3]) }
        expectError("bad PGM/PPM header: expected the height") { _ = try parsePNM(Array("P5 2 x".utf8)) }
        expectError("PGM/PPM pixel value 9 exceeds maxval 5") { _ = try parsePNM(Array("P5 1 1 5\n".utf8) + [9]) }
        expectError("PGM/PPM size 0×1 is empty") { _ = try parsePNM(Array("P5 0 1 255\n".utf8)) }
    }

    @Test func idxImagesAndLabels() throws {
        let images = encodeIDX(shape: [2, 1, 3], data: [1, 2, 3, 4, 5, 6])
        let batch = try parseImages(images)
        #expect((batch.count, batch.channels, batch.height, batch.width) == (2, 1, 1, 3))
        #expect(batch.pixels == .uint8([1, 2, 3, 4, 5, 6]))
        #expect(try parseIDX(images).shape == [2, 1, 3])

        let dir = try temporaryDirectory()
        try FileIO.write(images, to: dir + "/images-idx3-ubyte")
        try FileIO.write(encodeIDX(shape: [2], data: [7, 9]), to: dir + "/labels-idx1-ubyte")
        let labelled = try loadImages(dir + "/images-idx3-ubyte", labels: dir + "/labels-idx1-ubyte")
        #expect(labelled.labels == [7, 9])
        try writeNpy(NpyArray(shape: [3], data: .int64([1, 2, 3])), to: dir + "/three.npy")
        expectError(dir + "/three.npy: has 3 labels but " + dir + "/images-idx3-ubyte has 2 images") {
            _ = try loadImages(dir + "/images-idx3-ubyte", labels: dir + "/three.npy")
        }
        expectError("is an IDX label file, not images") { _ = try loadImages(dir + "/labels-idx1-ubyte") }
    }

    @Test func badIdxFiles() {
        expectError("is gzip-compressed; gunzip it first") { _ = try parseImages([0x1F, 0x8B, 8, 0]) }
        expectError("truncated IDX data: dimensions [2, 2, 2] need 8 bytes, the file has 3") {
            _ = try parseIDX(Array(encodeIDX(shape: [2, 2, 2], data: [UInt8](repeating: 0, count: 8)).prefix(19)))
        }
        expectError("IDX element type 0xd is not supported") { _ = try parseIDX([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]) }
        expectError("unrecognised image file") { _ = try parseImages(Array("GIF89a".utf8)) }
    }

    @Test func labelFiles() throws {
        let dir = try temporaryDirectory()
        try writeNpy(NpyArray(shape: [3], data: .int32([3, 1, 4])), to: dir + "/l.npy")
        #expect(try loadLabels(dir + "/l.npy") == [3, 1, 4])
        try writeNpy(NpyArray(shape: [1], data: .float32([1])), to: dir + "/f.npy")
        expectError(dir + "/f.npy: labels must be integers, not float32") { _ = try loadLabels(dir + "/f.npy") }
        try writeNpy(NpyArray(shape: [1, 1], data: .uint8([1])), to: dir + "/m.npy")
        expectError("labels must be a 1-D array, not [1, 1]") { _ = try loadLabels(dir + "/m.npy") }
    }
}

@Suite struct CountsTests {
    @Test func countsFollowTheFormulas() throws {
        // Input 1×4×8×8. CPM: fc1 [3, 4] + fc2 [24, 3] → 12 + 72 = 84 MACs.
        // Dynamic conv: g = 2 kernels [6, 2, 3, 3] (groups 2), stride 2, padding 1 → 6×4×4;
        //   conv MACs 6·2·3·3 · 4·4 = 1,728; fusion 2 · 108 + mixed bias 2·6 = 228; params 216 + 12.
        // Linear: [10, 96] → 960 MACs.
        let g = makeGraph([1, 4, 8, 8], [
            Node(name: "cpm", op: .cpm(CPMAttrs(fc1Weight: "f1", fc2Weight: "f2", gate: .sigmoid)), inputs: ["x"], outputs: ["c"]),
            Node(name: "dyn", op: .dynamicConv2d(DynamicConv2DAttrs(weight: "k", mode: .perChannel, mixedBias: "mb",
                                                                    stride: Pair(2, 2), padding: Padding(all: 1), groups: 2)),
                 inputs: ["x", "c"], outputs: ["d"]),
            Node(name: "flat", op: .flatten, inputs: ["d"], outputs: ["f"]),
            Node(name: "fc", op: .linear(LinearAttrs(weight: "w", bias: "b")), inputs: ["f"], outputs: ["y"]),
        ])
        let counts = try countNodes(graph: g, weightShapes: ["f1": [3, 4], "f2": [24, 3], "k": [2, 6, 2, 3, 3], "mb": [2, 6],
                                                            "w": [10, 96], "b": [10]])
        #expect(counts == [
            NodeCounts(name: "cpm", op: "cpm", outputShapes: [[1, 24]], params: 84, cpmMACs: 84),
            NodeCounts(name: "dyn", op: "dynamic_conv2d", outputShapes: [[1, 6, 4, 4]], params: 228, convMACs: 1728, fusionMACs: 228),
            NodeCounts(name: "flat", op: "flatten", outputShapes: [[1, 96]]),
            NodeCounts(name: "fc", op: "linear", outputShapes: [[1, 10]], params: 970, convMACs: 960),
        ])
        #expect(counts.total.totalMACs == 84 + 1728 + 228 + 960)
        #expect(counts.total.params == 84 + 228 + 970)
    }
}
