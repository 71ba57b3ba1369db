// `dynq eval MODEL.dynq --data X.npy --labels Y.npy [--graph G.json --weights W.safetensors] [--json]`.
import DynQCore
import DynQGraph
import Foundation

let evalCommand = Command(
    name: "eval",
    summary: "int8 accuracy of a .dynq model, and its agreement with the float graph",
    usage: """
        usage: dynq eval MODEL.dynq --data X.npy [--labels Y.npy] [--graph G.json --weights W.safetensors]
                         [--limit N] [--kernels NAME] [--jobs N] [--max-arena BYTES] [--json]

        Runs the int8 model on every image of X (any input dynq run reads) and reports its top-1 accuracy
        against Y. With the float graph (--graph and --weights) it also reports the float accuracy, the top-1
        agreement of int8 and float, the cosine similarity of their logits (mean over images), the SQNR of every
        int8 activation against the float tensor of the same name (10·log10 Σx² / Σ(x − x̂)², over all images),
        and for every dynamic layer the error of its Q15 coefficients η against the float CPM's. A progress bar on
        stderr when stderr is a terminal. Refused: labels outside the model's classes, images holding NaN or
        infinity, and a float graph that is not the one the model was quantized from (another name, shape or
        dynamic layer).

        Options:
          --data X            images (.npy uint8 or float32, PGM/PPM, IDX)
          --labels Y          class labels (1-D integer .npy or IDX)
          --graph G.json      the float graph the model was quantized from
          --weights W         its weights (.safetensors)
          --limit N           only the first N images
          --kernels NAME      run this kernel set: \(KernelSetChoice.allCases.map(\.rawValue).joined(separator: ", "))
                              (default: \(KernelSetChoice.hostDefault.rawValue), the fastest here; neon, cortex-m-dsp and
                              helium run on C models of their instructions unless the host has them);
                              --reference = --kernels scalar
          --jobs N            run on N threads (default: every core; the results are the same for any N)
          --max-arena BYTES   allow an arena larger than the default 256 MiB (268435456; with --graph the
                              arena keeps every tensor for the comparison)
          --json              one JSON object instead of text
          --help              show this help
        """,
    run: { args in try runEval(args) })

/// Σx², Σ(x − x̂)² of one tensor over all images (each image's sums added in image order).
struct SQNRAccumulator {
    var signal = 0.0, noise = 0.0, count = 0
    mutating func add(_ image: (signal: Double, noise: Double)) {
        signal += image.signal; noise += image.noise; count += 1
    }
    var decibels: Double? {
        guard count > 0 else { return nil }
        if noise == 0 { return .infinity }
        return 10 * log10(signal / noise)
    }
    /// Σx², Σ(x − x̂)² of one image.
    static func sums(float f: [Float], int8 q: [Float]) -> (signal: Double, noise: Double) {
        var signal = 0.0, noise = 0.0
        for (a, b) in zip(f, q) {
            signal += Double(a) * Double(a)
            noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
        }
        return (signal, noise)
    }
}

/// |η_int8 − η_float| of one dynamic layer over all images.
struct EtaError: Sendable {
    var sum = 0.0, maximum = 0.0, count = 0
    mutating func add(float f: [Float], int8 q: [Float]) {
        for (a, b) in zip(f, q) {
            let e = abs(Double(a) - Double(b))
            sum += e; maximum = max(maximum, e); count += 1
        }
    }
    mutating func add(_ other: EtaError) {
        sum += other.sum; maximum = max(maximum, other.maximum); count += other.count
    }
    var mean: Double { count == 0 ? 0 : sum / Double(count) }
}

/// A progress bar on stderr, redrawn at most every 1 %, only when stderr is a terminal (a log file gets no
/// carriage returns). Safe to update from several threads.
final class Progress: @unchecked Sendable {
    let total: Int
    private let lock = NSLock()
    private var done = 0, shown = -1
    private let enabled = isatty(STDERR_FILENO) != 0

    init(total: Int) { self.total = total }

    /// One more item done.
    func step() {
        guard enabled, total > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        done += 1
        let pct = done * 100 / total
        guard pct != shown else { return }
        shown = pct
        let width = 30, filled = width * done / total
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func argmax(_ v: [Double]) -> Int { v.indices.max { v[$0] < v[$1] || (v[$0] == v[$1] && $0 > $1) } ?? 0 }
func argmaxF(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] || (v[$0] == v[$1] && $0 > $1) } ?? 0 }

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
    return aa == 0 || bb == 0 ? (aa == bb ? 1 : 0) : ab / (aa.squareRoot() * bb.squareRoot())
}

func runEval(_ args: [String]) throws -> Int32 {
    let a = try Arguments(args, flags: ["json", "reference"],
                          options: ["data", "labels", "graph", "weights", "limit", "kernels", "jobs", "max-arena"])
    let modelPath = try a.positionals(1, "MODEL.dynq")[0]
    let dataPath = try a.required("data")
    if (a.value("graph") == nil) != (a.value("weights") == nil) { throw UsageError("--graph and --weights go together") }
    let file = try DynqModelFile(modelPath)
    let m = file.model
    let float = try a.value("graph").map { try LoadedGraph(graph: $0, weights: try a.required("weights")) }
    let engine = try float?.engine()
    if let float, let engine { try checkFloatTwin(m, modelPath: modelPath, float: float, shapes: engine.shapes) }
    let kernels = try kernelSetOption(a)
    let arenaLimit = try maxArena(a)
    // The arena is checked once here, before any image is read (each worker's session has the same plan).
    _ = try Int8Session(file, keepAll: float != nil, kernels: kernels, maxArena: arenaLimit)
    var batch = try loadImages(dataPath, channels: inputCHW(m).c, labels: a.value("labels"))
    if let labels = batch.labels, let labelsPath = a.value("labels") {
        let classes = m.tensors[m.outputs[0].index].shape.reduce(1, *)
        if let k = labels.firstIndex(where: { !(0..<classes).contains($0) }) {
            throw DynQError(file: labelsPath, "label \(labels[k]) at index \(k) is outside the model's \(classes) classes "
                            + "(0…\(classes - 1))")
        }
    }
    let limit = try a.int("limit", default: batch.count, in: 1...Int.max)
    let n = min(batch.count, limit)
    if let labels = batch.labels { batch.labels = Array(labels.prefix(n)) }

    // int8 tensors that have a float twin (by name), in op order; dynamic layers and their coefficient slices.
    var compared: [(op: String, id: TensorID)] = []
    var dynamicLayers: [(name: String, coefficients: TensorID, offset: Int, count: Int)] = []
    for o in m.operations {
        for id in o.op.outputs where engine?.shapes[m.tensors[id.index].name] != nil {
            compared.append((o.name, id))
        }
        if case .dynamicConv2d(let p) = o.op {
            let count = p.mode == .perChannel ? m.tensors[p.output.index].shape[3] * p.kernelCount : p.kernelCount
            dynamicLayers.append((o.name, p.coefficients, p.coefficientOffset, count))
        }
    }
    // Each image is computed on its own (one int8 session per worker) and the sums are reduced in image order,
    // so the report is the same for any --jobs.
    let jobs = try a.int("jobs", default: defaultWorkerCount, in: 1...1024)
    let progress = Progress(total: n)
    let logitsName = m.tensors[m.outputs[0].index].name
    let images = batch, comparedIDs = compared, layers = dynamicLayers
    let results = try concurrentChunks(count: n, workers: jobs) { range -> [ImageResult] in
        let session = try Int8Session(file, keepAll: float != nil, kernels: kernels, maxArena: arenaLimit)
        return try range.map { i in
            let r = try evalImage(i, images, session: session, float: float, engine: engine, compared: comparedIDs,
                                  dynamicLayers: layers, logitsName: logitsName, dataPath: dataPath)
            progress.step()
            return r
        }
    }
    var sqnr = [SQNRAccumulator](repeating: .init(), count: compared.count)
    var eta = [String: EtaError]()
    var int8Correct = 0, floatCorrect = 0, agree = 0
    var cosineSum = 0.0
    var warned = 0
    for (i, r) in results.enumerated() {
        // Warnings in image order, whatever the number of workers.
        warnClamped(r.input, image: i, inputPath: dataPath, warned: &warned)
        if let labels = batch.labels, labels[i] == r.int8Top { int8Correct += 1 }
        guard let floatTop = r.floatTop else { continue }
        if let labels = batch.labels, labels[i] == floatTop { floatCorrect += 1 }
        if floatTop == r.int8Top { agree += 1 }
        cosineSum += r.cosine
        for (k, s) in r.sqnr.enumerated() { if let s { sqnr[k].add(s) } }
        for (k, e) in r.eta.enumerated() { if let e { eta[dynamicLayers[k].name, default: EtaError()].add(e) } }
    }

    func pct(_ k: Int) -> Double { n == 0 ? 0 : 100 * Double(k) / Double(n) }
    func db(_ v: Double?) -> String {
        guard let v else { return "-" }
        return v.isInfinite ? "inf" : String(format: "%.1f", v)
    }
    let hasLabels = batch.labels != nil
    if a.has("json") {
        var o: JSONObject = ["model": .string(modelPath), "images": .int(n)]
        if hasLabels { o["int8_accuracy"] = .number(rounded(pct(int8Correct) / 100)) }
        if float != nil {
            if hasLabels { o["float_accuracy"] = .number(rounded(pct(floatCorrect) / 100)) }
            o["top1_agreement"] = .number(rounded(pct(agree) / 100))
            o["logits_cosine"] = .number(rounded(n == 0 ? 0 : cosineSum / Double(n)))
            o["layers"] = .array(compared.indices.map { k in
                let v = sqnr[k].decibels
                return .object(["op": .string(compared[k].op), "tensor": .string(m.tensors[compared[k].id.index].name),
                                "sqnr_db": v.map { $0.isInfinite ? JSON.null : .number(rounded($0)) } ?? .null])
            })
            o["dynamic"] = .array(dynamicLayers.map { d in
                let e = eta[d.name] ?? EtaError()
                return .object(["layer": .string(d.name), "eta_mean_abs_error": .number(rounded(e.mean)),
                                "eta_max_abs_error": .number(rounded(e.maximum))])
            })
        }
        Console.out(JSON.object(o).serialized())
        return 0
    }
    Console.out("model '\(file.displayName)' on \(n) images of \(dataPath)\(kernels == .hostDefault ? "" : " (\(kernels.rawValue) kernels)")")
    if case .float32 = batch.pixels {
        Console.out("note: float32 inputs are mapped back to uint8 pixels for the int8 model (rounded, clamped to 0…255); "
                    + "the float graph sees them unrounded")
    }
    if hasLabels { Console.out("int8 accuracy   \(String(format: "%.2f", pct(int8Correct))) % (\(int8Correct)/\(n))") }
    if float != nil {
        if hasLabels { Console.out("float accuracy  \(String(format: "%.2f", pct(floatCorrect))) % (\(floatCorrect)/\(n))") }
        Console.out("top-1 agreement \(String(format: "%.2f", pct(agree))) %")
        Console.out("logits cosine   \(String(format: "%.5f", n == 0 ? 0 : cosineSum / Double(n))) (mean over images)")
        Console.out("")
        let rows = compared.indices.map { k in [compared[k].op, m.tensors[compared[k].id.index].name, db(sqnr[k].decibels)] }
        for line in renderTable(["op", "tensor", "SQNR dB"], rows, rightAligned: [2]) { Console.out(line) }
        if !dynamicLayers.isEmpty {
            Console.out("")
            let etaRows = dynamicLayers.map { d -> [String] in
                let e = eta[d.name] ?? EtaError()
                return [d.name, "\(d.count)", String(format: "%.2e", e.mean), String(format: "%.2e", e.maximum),
                        String(format: "%.1f", e.mean * 32768)]
            }
            for line in renderTable(["dynamic layer", "η per image", "mean |Δη|", "max |Δη|", "mean (Q15 LSB)"], etaRows,
                                    rightAligned: [1, 2, 3, 4]) { Console.out(line) }
        }
    }
    if !hasLabels && float == nil { Console.out("(no --labels and no --graph: nothing to compare against)") }
    return 0
}

/// What one image contributes to the report.
struct ImageResult: Sendable {
    var int8Top: Int
    /// How many float32 values of the image were clamped to pixels 0…255, and the first (no pixels kept).
    var input: (pixels: [UInt8], clamped: Int, firstClamped: (index: Int, value: Float)?)
    /// `nil` without the float graph.
    var floatTop: Int?
    var cosine = 0.0
    /// Per compared tensor: this image's Σx², Σ(x − x̂)² (`nil` when the float run has no tensor of that name).
    var sqnr: [(signal: Double, noise: Double)?] = []
    /// Per dynamic layer: this image's coefficient errors.
    var eta: [EtaError?] = []
}

/// Runs image `i` through the int8 `session` and, with the float graph, through `engine`; compares them.
func evalImage(_ i: Int, _ batch: ImageBatch, session: Int8Session, float: LoadedGraph?, engine: FloatEngine?,
               compared: [(op: String, id: TensorID)],
               dynamicLayers: [(name: String, coefficients: TensorID, offset: Int, count: Int)],
               logitsName: String, dataPath: String) throws -> ImageResult {
    let m = session.model
    let image = try pixelsHWC(batch, i, for: m, inputPath: dataPath, modelName: session.file.displayName)
    try session.run(image.pixels)
    var r = ImageResult(int8Top: argmax(session.scores()), input: ([], image.clamped, image.firstClamped))
    guard let engine, let float else { return r }
    var floatTensors: [String: [Float]] = [:]
    var floatEta: [String: [Float]] = [:]
    let x: Tensor
    do { x = try batch.input(i, for: float.graph) } catch let e as DynQError { throw e.inFile(dataPath) }
    let outs = try engine.run(x) { event in
        switch event {
        case .tensor(let name, let t): floatTensors[name] = t.data
        case .coefficients(let node, let v): floatEta[node] = v
        case .fusedKernel: break
        }
    }
    try checkFinite(outs[0].data, image: i, file: dataPath)
    let floatLogits = floatTensors[logitsName] ?? outs[0].data
    r.floatTop = argmaxF(outs[0].data)
    r.cosine = cosine(floatLogits, session.realNCHW(m.outputs[0]))
    r.sqnr = compared.map { c in
        floatTensors[m.tensors[c.id.index].name].map { SQNRAccumulator.sums(float: $0, int8: session.realNCHW(c.id)) }
    }
    r.eta = dynamicLayers.map { d in
        guard let f = floatEta[d.name] else { return nil }
        var e = EtaError()
        e.add(float: f, int8: Array(session.real(d.coefficients)[d.offset..<(d.offset + d.count)]))
        return e
    }
    return r
}

/// Refuses a float graph that is not the one `m` was quantized from: the quantizer copies the graph's name, its
/// tensor names and its dynamic layers into the model, so the names must agree, every int8 tensor named like a
/// float tensor must have its shape (NHWC vs NCHW), and every dynamic layer must be a `dynamic_conv2d` node of
/// the graph with the same kernel count. Comparing against another graph would print confident nonsense
/// (negative SQNRs, zero coefficient errors for layers the graph does not have).
func checkFloatTwin(_ m: Model, modelPath: String, float: LoadedGraph, shapes: [String: [Int]]) throws {
    func refuse(_ why: String) -> DynQError {
        DynQError(file: float.graphPath, "is not the float graph \(modelPath) was quantized from: \(why)")
    }
    guard m.name == float.graph.name else {
        throw refuse("the graph is named '\(float.graph.name)', the model '\(m.name)'")
    }
    let (c, h, w) = inputCHW(m)
    guard float.graph.input.shape == [1, c, h, w] else {
        throw refuse("its input is \(float.graph.input.shape), the model's [1, \(c), \(h), \(w)]")
    }
    for t in m.tensors {
        guard let s = shapes[t.name] else { continue }
        let nchw = t.shape.count == 4 ? [t.shape[0], t.shape[3], t.shape[1], t.shape[2]] : t.shape
        guard s == nchw else {
            throw refuse("tensor '\(t.name)' is \(s) in the graph, \(nchw) in the model")
        }
    }
    let nodes = Dictionary(float.graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    for o in m.operations {
        guard case .dynamicConv2d(let p) = o.op else { continue }
        guard let node = nodes[o.name], case .dynamicConv2d(let d) = node.op else {
            throw refuse("the model's dynamic layer '\(o.name)' is not a dynamic_conv2d node of the graph")
        }
        let g = float.weights[d.weight]?.shape.first
        guard g == p.kernelCount else {
            throw refuse("dynamic layer '\(o.name)' mixes \(p.kernelCount) kernels in the model, \(g.map(String.init) ?? "?") in the graph")
        }
    }
}
