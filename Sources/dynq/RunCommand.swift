import DynQCore
import DynQGraph
import Foundation

let runCommand = Command(
    name: "run",
    summary: "classify images with a model",
    usage: """
        usage: dynq run --float --graph G.json --weights W.safetensors INPUT [--top K | --logits] [--json]
                        [--dump DIR]
               dynq run MODEL.dynq INPUT [--top K | --logits] [--json] [--kernels NAME] [--reference]
                        [--max-arena BYTES] [--dump DIR]

        Runs the float32 reference engine (--float) or an int8 .dynq model on every image in INPUT and prints
        the top-K classes with their softmax scores, one line per image ("image N: name score, ..."), or with
        --json one JSON object per line: {"image": N, "top": [{"class": id, "name": "...", "score": s}, ...]}.
        With --logits it prints the raw logits instead ("image N: v0 v1 ...", JSON {"image": N, "logits":
        [...]}; int8: the dequantized output).

        INPUT: .npy (uint8 pixels, or float32 already preprocessed; [H,W], [C,H,W], [N,H,W] or [N,C,H,W]),
        binary PGM/PPM, or a raw (gunzipped) IDX image file. uint8 pixels go through the graph's preprocess.
        float32 values must be finite (an image holding NaN or infinity is refused, naming it); for a .dynq model
        they are mapped back to pixels, and values outside 0…255 are clamped with a warning.

        Options:
          --float                   use the float32 reference engine
          --graph G.json            the graph (docs/graph-format.md)
          --weights W.safetensors   its weights
          --top K                   classes to show per image (default 5)
          --logits                  print the raw logits of output 0 instead of the top classes
          --dump DIR                write every tensor of the run as .npy into DIR (created if needed), for
                                    comparison with a trainer: DIR/<tensor>.npy for one image, DIR/<i>/<tensor>.npy
                                    for several; float32 NCHW. int8 models also write <tensor>.q.npy (the int32
                                    codes) and tensors.json (shape, type, scale, zero point of each tensor)
          --reference               (.dynq) run the scalar reference kernels
          --kernels NAME            (.dynq) the kernel set: \(KernelSetChoice.allCases.map(\.rawValue).joined(separator: ", "))
                                    (default: \(KernelSetChoice.hostDefault.rawValue), the fastest here)
          --max-arena BYTES         (.dynq) allow an arena larger than the default 256 MiB (268435456)
          --json                    JSON lines instead of text
          --help                    show this help
        """,
    run: { args in
        if let status = try dispatchToModelHandler(allRunners, args,
                                                   floatHint: "float graphs: --float --graph G.json --weights W.safetensors INPUT") {
            return status
        }
        let a = try Arguments(args, flags: ["float", "json", "logits"], options: ["graph", "weights", "top", "dump"])
        guard a.has("float") else { throw UsageError("missing --float (or a model file a runner accepts)") }
        let input = try a.positionals(1, "INPUT")[0]
        let top = try a.int("top", default: 5, in: 1...100_000)
        if a.has("logits") && a.value("top") != nil { throw UsageError("--logits and --top go separately") }
        let dump = try a.value("dump").map(TensorDump.init)
        let model = try LoadedGraph(graph: try a.required("graph"), weights: try a.required("weights"))
        let engine = try model.engine()
        let batch = try loadImages(input, channels: model.graph.input.shape[1])
        let producer = model.graph.nodes.first { $0.outputs.contains(model.graph.outputs[0]) }
        let alreadySoftmax: Bool
        if case .softmax? = producer?.op { alreadySoftmax = true } else { alreadySoftmax = false }
        for i in 0..<batch.count {
            let x: Tensor
            do { x = try batch.input(i, for: model.graph) } catch let e as DynQError { throw e.inFile(input) }
            var tensors: [(String, Tensor)] = []
            let logits = try engine.run(x) { event in
                if dump != nil, case .tensor(let name, let t) = event { tensors.append((name, t)) }
            }[0].data
            try checkFinite(logits, image: i, file: input)
            if a.has("logits") {
                printLogits(image: i, logits, json: a.has("json"))
            } else {
                let scores = alreadySoftmax ? logits.map(Double.init) : softmax(logits)
                printTop(image: i, scores: scores, classes: model.graph.classes, top: top, json: a.has("json"))
            }
            try dump?.write(tensors, image: i, of: batch.count)
        }
        if let dump { Console.err("wrote \(engine.shapes.count) tensors per image to \(dump.directory)") }
        return 0
    })

/// Prints one image's `top` classes, best first (ties: lower class id first): a JSON line
/// `{"image": i, "top": [{"class", "name", "score"}…]}` or `image i: name score, …`. Shared by `run --float` and
/// `run MODEL.dynq`, so both print identically.
func printTop(image i: Int, scores: [Double], classes: [String], top: Int, json: Bool) {
    let ranked = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(top)
    // Class names come from the model file: escaped for the terminal (JSON escapes them itself).
    func name(_ c: Int) -> String { c < classes.count ? (json ? classes[c] : DynQError.printable(classes[c])) : "class \(c)" }
    if json {
        let entries = ranked.map { c -> JSON in
            .object(["class": .int(c), "name": .string(name(c)), "score": .number(rounded(scores[c]))])
        }
        Console.out(JSON.object(["image": .int(i), "top": .array(entries)]).serialized())
    } else {
        Console.out("image \(i): " + ranked.map { "\(name($0)) \(String(format: "%.4f", scores[$0]))" }
            .joined(separator: ", "))
    }
}

/// Refuses float-engine output that is not finite: the graph's activations overflowed float32 on this input,
/// and scores computed from it would be NaN.
func checkFinite(_ output: [Float], image i: Int, file: String) throws {
    if let k = output.firstIndex(where: { !$0.isFinite }) {
        throw DynQError(file: file, "image \(i): the float model's output \(k) is \(output[k]) (its activations "
                        + "overflow float32 on this input)")
    }
}

/// Softmax in double precision.
func softmax(_ logits: [Float]) -> [Double] {
    let m = Double(logits.max() ?? 0)
    let e = logits.map { Foundation.exp(Double($0) - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// `v` rounded to 6 significant decimals (for readable JSON).
func rounded(_ v: Double) -> Double { Double(String(format: "%.6g", v)) ?? v }
