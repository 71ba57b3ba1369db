import DynQCore
import DynQGraph
import Foundation

/// `dynq run ... --dump DIR`: every tensor of a run as `.npy`, to compare with a trainer's activations.
///
/// One image: `DIR/<tensor>.npy`; several: `DIR/<image index>/<tensor>.npy`. Float runs write each graph tensor
/// (the input included) as float32 in PyTorch's NCHW order. int8 runs write every model tensor twice, both NCHW:
/// `<tensor>.npy` the real values `scale · (q − zero_point)` (float32, comparable with the float dump of the same
/// name) and `<tensor>.q.npy` the integer codes `q` (int32); `tensors.json` lists each tensor's shape, type,
/// scale and zero point. `/` in a tensor name becomes `_`.
struct TensorDump {
    let directory: String

    init(_ directory: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw DynQError(file: directory, "exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw DynQError(file: directory, "cannot create the directory: \(error.localizedDescription)")
            }
        }
        self.directory = directory
    }

    /// The folder for image `i` of `count` (created when needed).
    func folder(image i: Int, of count: Int) throws -> String {
        guard count > 1 else { return directory }
        let d = directory + "/\(i)"
        do { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) } catch {
            throw DynQError(file: d, "cannot create the directory: \(error.localizedDescription)")
        }
        return d
    }

    static func fileName(_ tensor: String) -> String { tensor.replacingOccurrences(of: "/", with: "_") }

    /// A float run's tensors.
    func write(_ tensors: [(String, Tensor)], image i: Int, of count: Int) throws {
        let d = try folder(image: i, of: count)
        for (name, t) in tensors { try writeNpy(NpyArray(t), to: d + "/" + Self.fileName(name) + ".npy") }
    }

    /// An int8 run's tensors (the session keeps every tensor: `keepAll`).
    func write(_ session: Int8Session, image i: Int, of count: Int) throws {
        let d = try folder(image: i, of: count)
        var index: [JSON] = []
        for (k, t) in session.model.tensors.enumerated() {
            let id = TensorID(k)
            let shape = session.shapeNCHW(id), base = d + "/" + Self.fileName(t.name)
            try writeNpy(NpyArray(shape: shape, data: .float32(session.realNCHW(id))), to: base + ".npy")
            try writeNpy(NpyArray(shape: shape, data: .int32(session.codesNCHW(id))), to: base + ".q.npy")
            index.append(.object(["name": .string(t.name), "shape": .array(shape.map(JSON.int)),
                                  "type": .string("\(t.type)"), "scale": .float(Float(bitPattern: t.scaleBits)),
                                  "zero_point": .int(t.zeroPoint)]))
        }
        try FileIO.write(Array((JSON.array(index).serialized(pretty: true) + "\n").utf8), to: d + "/tensors.json")
    }
}

/// Prints one image's raw logits (output 0): `image i: v0 v1 …` or the JSON line `{"image": i, "logits": […]}`.
func printLogits(image i: Int, _ logits: [Float], json: Bool) {
    if json {
        Console.out(JSON.object(["image": .int(i), "logits": .array(logits.map { JSON.float($0) })]).serialized())
    } else {
        Console.out("image \(i): " + logits.map { String(format: "%.6g", Double($0)) }.joined(separator: " "))
    }
}
