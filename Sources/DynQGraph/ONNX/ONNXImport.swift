/// ONNX → DynQ graph (docs/graph-format.md): `importONNX` maps a CNN exported by `torch.onnx.export` (or any
/// producer using the same standard ops) to a graph document and its float32 weights.
///
/// How: the ONNX nodes are visited once, in file order, and every value becomes one of
/// - a constant or a coefficient-affine tensor (`Lin`, folded at import: shape arithmetic, transposed weights, and
///   the computed weight of a dynamic convolution),
/// - an activation of the DynQ graph (a candidate node was recorded for it),
/// - the output of a recognised coefficient predictor (a `Sigmoid` / `Softmax` at the end of pool → fc (→ ReLU →
///   fc)): usable both as coefficients and as an ordinary activation,
/// - or an *unsupported* value carrying the error that explains why (a node DynQ cannot map). That error is
///   reported only if a graph output depends on the value, so the internal nodes of recognised patterns (the
///   temperature `Div` of a softmax gate, the slices of the coefficient vector) never need a DynQ equivalent.
/// Finally only the candidate nodes the graph outputs depend on are kept.
///
/// Every error is one line: `FILE: node 'NAME' (OpType): problem`.
public struct ONNXImport: Sendable {
    /// The DynQ graph document (`decodeGraph` reads it).
    public var graph: JSON
    /// Its weights, by tensor name.
    public var weights: [(String, Tensor)]
}

/// Reads and imports `path` (at most 2 GiB). `name`: the graph's name (default: the ONNX graph's).
public func importONNX(path: String, name: String? = nil, preprocess: Preprocess? = nil) throws -> ONNXImport {
    let bytes = try FileIO.read(path, limit: 1 << 31)
    let model = try decodeONNXModel(bytes, file: path)
    do {
        return try ONNXImporter(model: model, file: path).run(name: name, preprocess: preprocess)
    } catch let e as DynQError {
        throw e.inFile(path)
    }
}

/// Imports an already decoded model.
public func importONNX(model: ONNXModel, file: String? = nil, name: String? = nil,
                       preprocess: Preprocess? = nil) throws -> ONNXImport {
    try ONNXImporter(model: model, file: file).run(name: name, preprocess: preprocess)
}

/// A DynQ activation tensor: its name and shape (`[1, C, H, W]` or `[1, F]`).
struct Act {
    var name: String
    var shape: [Int]
}

indirect enum Value {
    case lin(Lin)
    case act(Act)
    /// Output of coefficient predictor `root` (see `CPMInfo`).
    case gate(Int)
    /// `[1, a, b, H, W]` view of `src` (`[1, a·b, H, W]`), transposed (dims 1 and 2) or not: half a channel shuffle.
    case shuffle(src: Act, a: Int, b: Int, transposed: Bool)
    /// `Pad` with zeros of `act` by `[top, left, bottom, right]`: usable only by the `Conv` it feeds.
    case padded(Act, [Int])
    case unsupported(DynQError)
    /// An omitted optional input (`""`).
    case absent
}

/// A recorded DynQ node (kept only if a graph output depends on it).
struct Candidate {
    var name: String
    var op: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [(String, JSON)]
    var weights: [String]
}

final class ONNXImporter {
    let model: ONNXModel
    let file: String?
    var values: [String: Value] = [:]
    var producers: [String: Int] = [:]
    var candidates: [Candidate] = []
    /// Candidate index producing each activation tensor.
    var actProducer: [String: Int] = [:]
    var weights: [String: Tensor] = [:]
    var weightOrder: [String] = []
    var nodeNames: Set<String> = []
    var cpms: [CPMInfo] = []
    /// The node being translated (for error messages and names).
    var current = ONNXNode()
    var currentName = ""

    init(model: ONNXModel, file: String?) {
        self.model = model
        self.file = file
    }

    var opset: Int64 { model.opset }

    func fail(_ message: String) -> DynQError {
        DynQError(file: file, "node '\(currentName)' (\(current.opType)): \(message)")
    }

    func run(name: String?, preprocess: Preprocess?) throws -> ONNXImport {
        let g = model.graph
        for t in g.initializers {
            values[t.name] = .lin(Lin(shape: t.dims, offset: t.values, isInt: t.dataType.isInteger, origin: t.name))
        }
        let realInputs = g.inputs.filter { values[$0.name] == nil }
        guard realInputs.count == 1, let input = realInputs.first else {
            throw DynQError(file: file, "the model must have exactly one input, it has \(realInputs.count)")
        }
        guard let dims = input.shape, dims.count == 4, let c = dims[1], let h = dims[2], let w = dims[3],
              dims[0] == nil || dims[0] == 1, c > 0, h > 0, w > 0 else {
            throw DynQError(file: file, "input '\(input.name)' must be [N, C, H, W] with known C, H, W (N = 1 or symbolic), not \(input.shape.map { $0.map { $0.map(String.init) ?? "?" } } ?? [])")
        }
        guard let n = Tensor.elementCount([c, h, w]), n <= onnxMaxElements, max(h, w) <= graphMaxAttributeValue else {
            throw DynQError(file: file, "input '\(input.name)' of \(c)×\(h)×\(w) is too large")
        }
        let inputAct = Act(name: input.name, shape: [1, c, h, w])
        values[input.name] = .act(inputAct)
        for (k, node) in g.nodes.enumerated() {
            for o in node.outputs where !o.isEmpty { producers[o] = k }
        }
        var used = Set<String>()
        for (k, node) in g.nodes.enumerated() {
            current = node
            var nm = node.name.isEmpty ? "\(node.opType)_\(k)" : node.name
            while used.contains(nm) { nm += "_" }
            used.insert(nm)
            currentName = nm
            let results: [Value]
            do {
                if !node.domain.isEmpty && node.domain != "ai.onnx" {
                    throw fail("operator domain '\(node.domain)' is not supported (only the standard ONNX operators)")
                }
                results = try translate(node, node.inputs.map { $0.isEmpty ? .absent : (values[$0] ?? .absent) })
            } catch let e as DynQError {
                results = node.outputs.map { _ in .unsupported(e) }
            } catch let e as LinError {
                results = node.outputs.map { _ in .unsupported(fail(e.message)) }
            }
            for (o, v) in zip(node.outputs, results) where !o.isEmpty { values[o] = v }
        }
        guard !g.outputs.isEmpty else { throw DynQError(file: file, "the model has no outputs") }
        var outputs: [String] = []
        for output in g.outputs {
            let o = output.name
            let a = try requireAct(values[o] ?? .unsupported(DynQError(file: file, "output '\(o)' is never computed")))
            guard a.name != inputAct.name else { throw DynQError(file: file, "output '\(o)' is the input itself") }
            outputs.append(a.name)
        }
        return finish(name: name ?? (g.name.isEmpty ? "onnx" : g.name), input: inputAct, outputs: outputs,
                      preprocess: preprocess)
    }

    /// Keeps the candidates the outputs depend on; builds the document.
    func finish(name: String, input: Act, outputs: [String], preprocess: Preprocess?) -> ONNXImport {
        var live = Set(outputs)
        var keep = [Bool](repeating: false, count: candidates.count)
        for k in stride(from: candidates.count - 1, through: 0, by: -1)
        where candidates[k].outputs.contains(where: live.contains) {
            keep[k] = true
            for i in candidates[k].inputs { live.insert(i) }
        }
        var nodes: [JSON] = []
        var usedWeights = Set<String>()
        for (k, c) in candidates.enumerated() where keep[k] {
            var o = JSONObject()
            o["name"] = .string(c.name)
            o["op"] = .string(c.op)
            o["inputs"] = .array(c.inputs.map(JSON.string))
            o["outputs"] = .array(c.outputs.map(JSON.string))
            for (key, v) in c.attributes { o[key] = v }
            nodes.append(.object(o))
            usedWeights.formUnion(c.weights)
        }
        var inputJSON = JSONObject()
        inputJSON["name"] = .string(input.name)
        inputJSON["shape"] = .array(input.shape.map(JSON.int))
        inputJSON["layout"] = .string("NCHW")
        if let p = preprocess {
            inputJSON["preprocess"] = .object(["scale": .float(p.scale), "mean": .array(p.mean.map(JSON.float)),
                                               "std": .array(p.std.map(JSON.float))])
        }
        var top = JSONObject()
        top["format"] = .string("dynq-graph")
        top["version"] = .int(1)
        top["name"] = .string(name)
        top["input"] = .object(inputJSON)
        top["outputs"] = .array(outputs.map(JSON.string))
        top["nodes"] = .array(nodes)
        return ONNXImport(graph: .object(top),
                          weights: weightOrder.filter(usedWeights.contains).map { ($0, weights[$0]!) })
    }

    // MARK: - Helpers

    func requireAct(_ v: Value) throws -> Act {
        switch v {
        case .act(let a): return a
        case .gate(let r): return try gateActivation(r)
        case .unsupported(let e): throw e
        case .lin: throw fail("an input is a constant where an activation is expected")
        case .shuffle: throw fail("a 5-d channel-shuffle view is used as an activation")
        case .padded: throw fail("the output of a Pad is used by something other than a Conv (not supported)")
        case .absent: throw fail("a required input is missing")
        }
    }

    func requireConst(_ v: Value, _ what: String) throws -> Lin {
        switch v {
        case .lin(let l) where l.isConstant: return l
        case .unsupported(let e): throw e
        default: throw fail("\(what) must be a constant")
        }
    }

    func attrInt(_ key: String, _ def: Int) throws -> Int {
        guard let a = current.attributes[key] else { return def }
        guard case .int(let i) = a, abs(i) < 1 << 40 else { throw fail("attribute '\(key)' must be an integer") }
        return Int(i)
    }

    func attrInts(_ key: String) throws -> [Int]? {
        guard let a = current.attributes[key] else { return nil }
        guard case .ints(let v) = a, v.count <= 64, v.allSatisfy({ abs($0) < 1 << 62 }) else {
            throw fail("attribute '\(key)' must be at most 64 integers")
        }
        if ["pads", "strides", "dilations", "kernel_shape"].contains(key),
           !v.allSatisfy({ abs($0) <= Int64(graphMaxAttributeValue) }) {
            throw fail("attribute '\(key)' has values beyond \(graphMaxAttributeValue)")
        }
        return v.map(Int.init)
    }

    func attrFloat(_ key: String, _ def: Float) throws -> Float {
        guard let a = current.attributes[key] else { return def }
        if case .float(let f) = a { return f }
        if case .int(let i) = a { return Float(i) }
        throw fail("attribute '\(key)' must be a float")
    }

    func attrString(_ key: String, _ def: String) throws -> String {
        guard let a = current.attributes[key] else { return def }
        guard case .string(let s) = a else { throw fail("attribute '\(key)' must be a string") }
        return s
    }

    /// A unique node name derived from the current node.
    func nodeName(_ suffix: String = "") -> String {
        var n = currentName + suffix
        while nodeNames.contains(n) { n += "_" }
        nodeNames.insert(n)
        return n
    }

    /// Stores a weight (float32) under a unique name derived from `preferred`; reuses an identical one.
    func weight(_ l: Lin, _ preferred: String, shape: [Int]? = nil) throws -> String {
        let s = shape ?? l.shape
        let t = Tensor(shape: s, data: l.offset.map { Float($0) })
        var name = l.origin ?? preferred
        var k = 1
        while let existing = weights[name] {
            if existing == t { return name }
            name = "\(l.origin ?? preferred).\(k)"
            k += 1
        }
        weights[name] = t
        weightOrder.append(name)
        return name
    }

    /// Records a candidate node producing activation `output` of `shape`.
    @discardableResult
    func emit(_ op: String, _ inputs: [Act], output: String, shape: [Int], _ attributes: [(String, JSON)] = [],
              weights w: [String] = [], name: String? = nil) -> Value {
        let c = Candidate(name: name ?? nodeName(), op: op, inputs: inputs.map(\.name), outputs: [output],
                          attributes: attributes, weights: w)
        actProducer[output] = candidates.count
        candidates.append(c)
        return .act(Act(name: output, shape: shape))
    }

    func out(_ k: Int = 0) -> String { current.outputs[k] }

    static func ints(_ v: [Int]) -> JSON { .array(v.map(JSON.int)) }
}
