// `dynq export MODEL.dynq --c -o NAME`: the model as C source for a firmware (include/dynq.h, docs/firmware.md),
// `--bin` as a raw blob to flash at an address, `--image FILE` an input image as a C array. The text itself is
// made by `CExport` (ExportCSource.swift).
import DynQCore
import DynQFirmware
import DynQGraph
import Foundation

let exportCommand = Command(
    name: "export",
    summary: "write a model (or an input image) as C source or a raw blob for a firmware",
    usage: """
        usage: dynq export MODEL.dynq (--c | --bin | --c --bin) -o NAME [--image FILE [--index N]]

        Writes the model for a C firmware that links the DynQ library (include/dynq.h, docs/firmware.md):
          --c      NAME.h and NAME.c: the model bytes as a 16-byte aligned const array (it lands in flash),
                   NAME_data[], and macros: NAME_SIZE, NAME_ARENA_BYTES_<SET> for every kernel set (and
                   NAME_ARENA_BYTES for the set selected with -DDYNQ_KERNELS_<SET>), the input's and outputs'
                   shapes and quantization (scale as SCALE_Q31 · 2^(SCALE_EXP − 31): no floats needed), the
                   class names (NAME_class_names[] and NAME_CLASS_NAMES).
          --bin    NAME.bin: the model bytes padded with zeros to a multiple of 16 (flash it at a 16-byte
                   aligned address), and NAME.h with the macros.
          -o NAME  the output path without extension (also --output NAME); the C identifier is its file name,
                   lower case, with anything but letters, digits and _ replaced by _, and macros upper case.
          --image FILE  instead of the model, write image N (--index, default 0) of FILE (.npy, .pgm/.ppm,
                   IDX) as the model's input: uint8 pixels in HWC order, H·W·C bytes, the same bytes
                   `dynq run MODEL FILE` feeds the interpreter. NAME.h/NAME.c with NAME_data[] and
                   NAME_BYTES (--c), or the raw bytes in NAME.bin (--bin).

        The output depends only on the model (and image) bytes and NAME: the same command writes the same bytes.

        Examples:
          dynq export fixtures/fmnist/model.dynq --c -o fmnist_model
          dynq export fixtures/fmnist/model.dynq --c -o test_image --image fixtures/fmnist/test_images.npy
        """,
    run: runExport)

func runExport(_ raw: [String]) throws -> Int32 {
    let args = raw.map { $0 == "-o" ? "--output" : $0 }
    let a = try Arguments(args, flags: ["c", "bin"], options: ["output", "image", "index"])
    let modelPath = try a.positionals(1, "MODEL.dynq")[0]
    let wantC = a.has("c"), wantBin = a.has("bin")
    guard wantC || wantBin else { throw UsageError("give --c, --bin or both") }
    guard let output = a.value("output") else { throw UsageError("missing -o NAME") }
    let ident = try CExport.identifier(forOutput: output)
    let file = try DynqModelFile(modelPath)
    let m = file.model
    let modelName = (modelPath as NSString).lastPathComponent

    if let imagePath = a.value("image") {
        let index = try a.int("index", default: 0, in: 0...Int(Int32.max))
        let batch = try loadImages(imagePath, channels: inputCHW(m).c)
        guard index < batch.count else {
            throw DynQError(file: imagePath, "has \(batch.count) image\(batch.count == 1 ? "" : "s"); --index \(index) is beyond them")
        }
        let image = try pixelsHWC(batch, index, for: m, inputPath: imagePath, modelName: file.displayName)
        var warned = 0
        warnClamped(image, image: index, inputPath: imagePath, warned: &warned)
        let pixels = image.pixels
        let source = CExport.Image(ident: ident, pixels: pixels, shape: m.tensors[m.input.index].shape,
                                   origin: "image \(index) of \((imagePath as NSString).lastPathComponent)",
                                   modelName: modelName)
        if wantC {
            try write(source.header(), to: output + ".h")
            try write(source.source(), to: output + ".c")
        }
        if wantBin { try FileIO.write(pixels, to: output + ".bin") }
        Console.out("dynq export: \(output)\(wantC ? ".h/.c" : "")\(wantBin ? (wantC ? " and .bin" : ".bin") : ""): "
                    + "\(source.origin), \(pixels.count) bytes (uint8 HWC)")
        return 0
    } else if a.value("index") != nil {
        throw UsageError("--index needs --image")
    }

    var arena: [(FirmwareKernelSet, Int)] = []
    for k in FirmwareKernelSet.allCases { arena.append((k, k.arenaBytes(m))) }
    let source = CExport.Model(ident: ident, model: m, fileName: modelName, arenaBytes: arena, withArray: wantC,
                               withBin: wantBin)
    try write(source.header(), to: output + ".h")
    if wantC { try write(source.source(), to: output + ".c") }
    if wantBin { try FileIO.write(CExport.paddedBlob(m), to: output + ".bin") }
    let sets = arena.map { "\($0.0.name) \($0.1) B" }.joined(separator: ", ")
    Console.out("dynq export: \(output).h\(wantC ? ", .c" : "")\(wantBin ? ", .bin" : ""): model '\(m.name)', "
                + "\(m.bytes.count) bytes; arena \(sets)")
    return 0
}

private func write(_ text: String, to path: String) throws {
    try FileIO.write(Array(text.utf8), to: path)
}
