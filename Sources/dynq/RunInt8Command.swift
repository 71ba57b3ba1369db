// `dynq run MODEL.dynq INPUT`: the int8 runtime on images. Also the shared pieces of the .dynq commands
// (run, eval, bench, inspect): loading a model file, building an interpreter, turning images into its uint8 input,
// reading tensors back as real numbers.
import DynQCore
import DynQGraph
import DynQSim
import Foundation

/// A `.dynq` file loaded into 16-byte aligned memory and validated. Errors name the file. Immutable after `init`,
/// so sessions on several threads may share it.
final class DynqModelFile: @unchecked Sendable {
    let path: String
    let storage: UnsafeMutableRawBufferPointer
    let model: Model

    init(_ path: String) throws {
        let bytes = try SimFiles.readModelFile(path)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 16), alignment: 16)
        bytes.withUnsafeBytes { if $0.count > 0 { storage.copyMemory(from: $0) } }
        let raw = UnsafeRawBufferPointer(rebasing: storage[0..<bytes.count])
        let loaded: Model
        do throws(ModelError) {
            loaded = try Model(bytes: raw)
        } catch {
            storage.deallocate()
            throw DynQError(file: path, error.description)
        }
        self.path = path
        self.storage = storage
        self.model = loaded
    }

    deinit { storage.deallocate() }

    /// `"name"`: the model's own name, or the file's.
    var displayName: String { model.name.isEmpty ? (path as NSString).lastPathComponent : model.name }
}

/// The largest arena a host command (`run`, `eval`, `bench`, `sim --measure`) allocates unless `--max-arena`
/// raises it: 256 MiB. The shipped fmnist model plans 86 KiB with the simd128 kernels (106 KiB keeping every tensor
/// for `eval --graph`); a 1.5 KB file can declare tensors that ask for far more (up to 2^28 elements each).
let defaultMaxArena = 1 << 28

/// `--max-arena BYTES`: the arena ceiling of a command (default `defaultMaxArena`).
func maxArena(_ a: Arguments) throws -> Int {
    try a.int("max-arena", default: defaultMaxArena, in: 1...(1 << 40))
}

/// Refuses a plan of `bytes` arena bytes over `limit`, saying what the model asks for and how to allow it.
func checkArena(_ bytes: Int, limit: Int, file: String, why: String) throws {
    guard bytes <= limit else {
        throw DynQError(file: file, "the model asks for a \(human(bytes)) arena (\(bytes) bytes\(why)), more than the "
                        + "\(human(limit)) limit of host commands; rerun with --max-arena \(bytes) to allow it")
    }
}

/// `bytes` in KiB / MiB / GiB with one decimal.
func human(_ bytes: Int) -> String {
    let b = Double(bytes)
    if b >= Double(1 << 30) { return String(format: "%.1f GiB", b / Double(1 << 30)) }
    if b >= Double(1 << 20) { return String(format: "%.1f MiB", b / Double(1 << 20)) }
    if b >= 1024 { return String(format: "%.1f KiB", b / 1024) }
    return "\(bytes) B"
}

/// An interpreter of any host kernel set, behind one type (the CLI chooses the set at run time by name; each
/// set is its own specialization, `Interpreter<K>`).
protocol AnyInterpreter: AnyObject {
    func setInput(_ pixels: [UInt8]) throws(ModelError)
    func invoke()
    func invoke(timer: inout OpTimer)
    func tensorBytes(_ id: TensorID) -> UnsafeMutableRawBufferPointer
    func output(_ i: Int) -> UnsafeBufferPointer<Int8>
    var kernelSetName: String { get }
}

final class InterpreterBox<K: StatelessKernelSet>: AnyInterpreter {
    let it: Interpreter<K>
    init(_ it: Interpreter<K>) { self.it = it }
    func setInput(_ pixels: [UInt8]) throws(ModelError) {
        var failure: ModelError?
        pixels.withUnsafeBytes { raw in
            do throws(ModelError) { try it.setInput(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }
    func invoke() { it.invokeSpecialized() }
    func invoke(timer: inout OpTimer) {
        timer.nanos.withUnsafeMutableBufferPointer { n in
            var clock = OpClock(now: OpTimer.now, nanos: n.baseAddress!)
            it.invokeTimed(&clock)
        }
    }
    func tensorBytes(_ id: TensorID) -> UnsafeMutableRawBufferPointer { it.tensorBytes(id) }
    func output(_ i: Int) -> UnsafeBufferPointer<Int8> { it.output(i) }
    var kernelSetName: String { K.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
}

/// An interpreter with its own arena.
final class Int8Session {
    let file: DynqModelFile
    let arena: UnsafeMutableRawBufferPointer
    let interpreter: AnyInterpreter
    let kernels: KernelSetChoice

    /// - Parameter maxArena: refuse (before allocating) a plan larger than this many bytes.
    init(_ file: DynqModelFile, keepAll: Bool = false, kernels: KernelSetChoice = .hostDefault,
         maxArena: Int = defaultMaxArena) throws {
        self.file = file
        self.kernels = kernels
        let plan = kernels.plan(file.model, keepAll: keepAll)
        try checkArena(plan.arenaBytes, limit: maxArena, file: file.path,
                       why: " with the \(kernels.rawValue) kernels"
                           + (keepAll ? ", keeping every tensor to compare with the float graph" : ""))
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.arenaBytes + ArenaPlan.alignment,
                                                           alignment: ArenaPlan.alignment)
        self.arena = arena
        struct Maker: KernelSetUser {
            let model: Model, arena: UnsafeMutableRawBufferPointer, keepAll: Bool
            func use<K: StatelessKernelSet>(_ kernels: K.Type) throws -> AnyInterpreter {
                InterpreterBox(try Interpreter(file: model.file, validate: false, arena: arena, kernels: K(),
                                               keepAll: keepAll))
            }
        }
        do {
            interpreter = try kernels.with(Maker(model: file.model, arena: arena, keepAll: keepAll))
        } catch let error as ModelError {
            arena.deallocate()
            throw DynQError(file: file.path, error.description)
        }
    }

    deinit { arena.deallocate() }

    var model: Model { file.model }

    /// Runs one image (uint8 HWC).
    func run(_ pixels: [UInt8]) throws {
        do throws(ModelError) { try interpreter.setInput(pixels) } catch {
            throw DynQError(file: file.path, error.description)
        }
        interpreter.invoke()
    }

    /// A tensor's integer codes `q` in the tensor's own (NHWC) order.
    func codes(_ id: TensorID) -> [Int32] {
        let t = model.tensors[id.index]
        let raw = interpreter.tensorBytes(id)
        switch t.type {
        case .int8: return raw.map { Int32(Int8(bitPattern: $0)) }
        case .uint8: return raw.map { Int32($0) }
        case .int16: return (0..<(raw.count / 2)).map { Int32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        case .int32: return (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
        }
    }

    /// A tensor as real numbers `scale · (q − z)` in the tensor's own (NHWC) order.
    func real(_ id: TensorID) -> [Float] {
        let t = model.tensors[id.index]
        let s = Float(bitPattern: t.scaleBits), z = t.zeroPoint
        return codes(id).map { s * Float(Int($0) - z) }
    }

    /// A tensor as real numbers in PyTorch's order (NCHW for 4-D tensors).
    func realNCHW(_ id: TensorID) -> [Float] { toNCHW(real(id), id) }

    /// A tensor's integer codes in PyTorch's order (NCHW for 4-D tensors).
    func codesNCHW(_ id: TensorID) -> [Int32] { toNCHW(codes(id), id) }

    /// The tensor's shape in PyTorch's order: `[N, C, H, W]` for a 4-D NHWC tensor, else as stored.
    func shapeNCHW(_ id: TensorID) -> [Int] {
        let s = model.tensors[id.index].shape
        return s.count == 4 ? [s[0], s[3], s[1], s[2]] : s
    }

    private func toNCHW<T>(_ v: [T], _ id: TensorID) -> [T] {
        let shape = model.tensors[id.index].shape
        guard shape.count == 4, shape[1] * shape[2] > 1, shape[3] > 1 else { return v }
        let h = shape[1], w = shape[2], c = shape[3]
        var out = v
        for y in 0..<h { for x in 0..<w { for ch in 0..<c { out[(ch * h + y) * w + x] = v[(y * w + x) * c + ch] } } }
        return out
    }

    /// Class scores of output 0: the probabilities themselves when the model ends in softmax, otherwise the
    /// softmax of the dequantized logits.
    func scores() -> [Double] {
        let id = model.outputs[0]
        let values = real(id)
        if let last = model.operations.last(where: { $0.op.outputs.contains(id) }), case .softmax = last.op {
            return values.map(Double.init)
        }
        return softmax(values)
    }
}

/// The model input `[1, H, W, C]` as (C, H, W).
func inputCHW(_ m: Model) -> (c: Int, h: Int, w: Int) {
    let s = m.tensors[m.input.index].shape
    return (s[3], s[1], s[2])
}

/// Image `i` of `batch` as the model's uint8 HWC input. uint8 pixels are transposed; float32 values (already
/// preprocessed) are mapped back to pixels through the model's preprocessing, rounded and clamped to 0…255.
///
/// - Throws: when the image does not fit the model, or holds a NaN or infinite value (named by image and index:
///   such a value has no pixel, and clamping it would give a confident answer about nothing).
/// - Returns: the pixels, and how many values fell outside [−0.5, 255.5) and were clamped, with the first one
///   (the caller warns: a float32 input made from uint8 pixels maps back inside).
func pixelsHWC(_ batch: ImageBatch, _ i: Int, for m: Model, inputPath: String, modelName: String) throws
    -> (pixels: [UInt8], clamped: Int, firstClamped: (index: Int, value: Float)?)
{
    let (c, h, w) = inputCHW(m)
    guard batch.channels == c, batch.height == h, batch.width == w else {
        throw DynQError(file: inputPath, "images are [\(batch.channels), \(batch.height), \(batch.width)], the model '\(modelName)' expects [\(c), \(h), \(w)]")
    }
    let n = c * h * w, base = i * n
    var out = [UInt8](repeating: 0, count: n)
    var clamped = 0
    var firstClamped: (Int, Float)?
    switch batch.pixels {
    case .uint8(let p):
        for ch in 0..<c { for y in 0..<h { for x in 0..<w { out[(y * w + x) * c + ch] = p[base + (ch * h + y) * w + x] } } }
    case .float32(let v):
        if let bad = batch.firstNonFinite(image: i) {
            throw DynQError(file: inputPath, nonFiniteMessage(image: i, index: bad.index, value: bad.value))
        }
        let pre = m.preprocess
        let scale = Float(bitPattern: pre.scaleBits)
        func at(_ a: [UInt32], _ ch: Int) -> Float { Float(bitPattern: a.count == 1 ? a[0] : a[ch]) }
        for ch in 0..<c {
            let mean = at(pre.meanBits, ch), std = at(pre.stdBits, ch)
            for y in 0..<h {
                for x in 0..<w {
                    let k = (ch * h + y) * w + x
                    let p = (v[base + k] * std + mean) / (scale == 0 ? 1 : scale)
                    if !(p >= -0.5 && p < 255.5) {
                        clamped += 1
                        if firstClamped == nil { firstClamped = (k, v[base + k]) }
                    }
                    out[(y * w + x) * c + ch] = p.isNaN ? 0 : UInt8(max(0, min(255, p.rounded())))
                }
            }
        }
    }
    return (out, clamped, firstClamped)
}

/// Warns on stderr about clamped float32 values of image `i` (at most `limit` images, then once more that
/// further warnings are suppressed). `warned` counts the images warned about so far.
func warnClamped(_ r: (pixels: [UInt8], clamped: Int, firstClamped: (index: Int, value: Float)?), image i: Int,
                 inputPath: String, warned: inout Int, limit: Int = 5) {
    guard r.clamped > 0, let (k, v) = r.firstClamped.map({ ($0.index, $0.value) }) else { return }
    warned += 1
    if warned <= limit {
        Console.err("dynq: warning: \(inputPath): image \(i): \(r.clamped) \(r.clamped == 1 ? "value falls" : "values fall") outside "
                    + "the pixel range 0…255 the int8 model reads after undoing its preprocessing (first: \(v) at index \(k)); "
                    + "clamped")
    } else if warned == limit + 1 {
        Console.err("dynq: warning: \(inputPath): more images with values outside the pixel range; further warnings suppressed")
    }
}

/// `dynq run MODEL.dynq INPUT [--top K | --logits] [--json] [--kernels NAME] [--dump DIR]`.
let dynqRunner = ModelHandler(
    name: "dynq",
    matches: { $0.hasSuffix(".dynq") },
    run: { path, args in
        let a = try Arguments(args, flags: ["json", "reference", "logits"],
                              options: ["top", "kernels", "dump", "max-arena"])
        let input = try a.positionals(1, "INPUT")[0]
        let top = try a.int("top", default: 5, in: 1...100_000)
        if a.has("logits") && a.value("top") != nil { throw UsageError("--logits and --top go separately") }
        let file = try DynqModelFile(path)
        let dump = try a.value("dump").map(TensorDump.init)
        let session = try Int8Session(file, keepAll: dump != nil, kernels: try kernelSetOption(a),
                                      maxArena: try maxArena(a))
        let m = file.model
        let batch = try loadImages(input, channels: inputCHW(m).c)
        var warned = 0
        for i in 0..<batch.count {
            let image = try pixelsHWC(batch, i, for: m, inputPath: input, modelName: file.displayName)
            warnClamped(image, image: i, inputPath: input, warned: &warned)
            try session.run(image.pixels)
            if a.has("logits") {
                printLogits(image: i, session.realNCHW(m.outputs[0]), json: a.has("json"))
            } else {
                printTop(image: i, scores: session.scores(), classes: m.classNames, top: top, json: a.has("json"))
            }
            try dump?.write(session, image: i, of: batch.count)
        }
        if let dump { Console.err("wrote \(m.tensors.count) tensors per image to \(dump.directory)") }
        return 0
    })

/// `--kernels NAME` (one of `KernelSetChoice`), or `--reference` (= `--kernels scalar`), else the host default.
func kernelSetOption(_ a: Arguments) throws -> KernelSetChoice {
    if let name = a.value("kernels") {
        guard let k = KernelSetChoice(rawValue: name) else {
            throw UsageError("--kernels must be one of \(KernelSetChoice.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
        }
        return k
    }
    return a.has("reference") ? .scalar : .hostDefault
}
