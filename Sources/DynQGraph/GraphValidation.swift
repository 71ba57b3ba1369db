/// Graph validation and shape inference (docs/graph-format.md, "Validation").
///
/// `inferShapes` walks the nodes in order and refuses, with an error naming the node: duplicate node names,
/// tensors used before they are produced or produced twice, missing weights or weights of the wrong shape,
/// inputs whose shapes do not fit the op (channels vs weight, `add` of different shapes, split sizes, groups
/// not dividing channels, `coeff_offset` slices past the CPM output), non-positive output sizes, absurdly large
/// tensors, and graph outputs that no node produces.

/// The most elements any tensor (activation or weight) may have: 2^28, the `.dynq` format's limit (a larger
/// tensor could not be quantized anyway).
public let graphMaxTensorElements = 1 << 28

/// The most elements all activation tensors of a graph may have together (the input included): 2^27, 512 MiB
/// as float32. Calibration keeps every tensor of one image, so this bounds what `dynq quantize` holds per image;
/// the paper's ResNet50 at 224×224 has 37.7 M (2^25.2), so it validates up to about 420×420.
public let graphMaxActivationElements = 1 << 27

/// Validates `graph` against its weights and returns the shape of every activation tensor (the graph input
/// included), keyed by tensor name. Also refuses non-finite weights and negative `running_var` entries.
///
/// - Parameters:
///   - file: named in errors about the graph (typically the graph file).
///   - weightsFile: named in errors about weight values (NaN, infinities, negative variances); default `file`.
public func inferShapes(graph: Graph, weights: [String: Tensor], file: String? = nil,
                        weightsFile: String? = nil) throws -> [String: [Int]] {
    let shapes = try inferShapes(graph: graph, weightShapes: weights.mapValues(\.shape), file: file)
    let valuesFile = weightsFile ?? file
    for node in graph.nodes {
        for w in node.op.weightNames {
            guard let t = weights[w] else { continue }
            if !t.data.allSatisfy({ $0.isFinite }) {
                throw DynQError(file: valuesFile, "node '\(node.name)' (\(node.op.kind)): weight '\(w)' holds NaN or infinite values")
            }
        }
        try node.op.definition.checkWeightValues(weights, ShapeContext(node: node, file: valuesFile))
    }
    return shapes
}

/// Shape-only validation: like `inferShapes(graph:weights:)` but needs only each weight's shape (for the model
/// zoo and the simulator, which have no trained weights).
public func inferShapes(graph: Graph, weightShapes: [String: [Int]], file: String? = nil) throws -> [String: [Int]] {
    var v = ShapeInference(graph: graph, weightShapes: weightShapes, file: file)
    return try v.run()
}

/// The walk over the nodes: tensor bookkeeping here, each op's own rules in its `inferShapes` (Ops/<Op>.swift).
private struct ShapeInference {
    let graph: Graph
    let weightShapes: [String: [Int]]
    let file: String?
    var shapes: [String: [Int]] = [:]
    /// Which op produced each tensor (`nil` for the graph input).
    var producers: [String: GraphOpKind] = [:]

    init(graph: Graph, weightShapes: [String: [Int]], file: String?) {
        self.graph = graph; self.weightShapes = weightShapes; self.file = file
    }

    mutating func run() throws -> [String: [Int]] {
        let input = graph.input
        let top = ShapeContext(node: nil, file: file)
        guard input.shape.count == 4, input.shape[0] == 1, input.shape.allSatisfy({ $0 > 0 }) else {
            throw top.fail("input '\(input.name)': shape \(input.shape) is not [1, C, H, W] with positive sizes")
        }
        guard let n = Tensor.elementCount(input.shape), n <= graphMaxTensorElements else {
            throw top.fail("input '\(input.name)': shape \(input.shape) is absurdly large")
        }
        let c = input.shape[1]
        for (key, values) in [("mean", input.preprocess.mean), ("std", input.preprocess.std)]
        where values.count != 1 && values.count != c {
            throw top.fail("input.preprocess.\(key) has \(values.count) entries; the input has \(c) channels")
        }
        let p = input.preprocess
        for ch in 0..<c {
            let mean = p.mean.count == 1 ? p.mean[0] : p.mean[ch], std = p.std.count == 1 ? p.std[0] : p.std[ch]
            // The same float32 expression as `Graph.preprocess`, at both ends of the pixel range.
            for pixel: Float in [0, 255] where !((pixel * p.scale - mean) / std).isFinite {
                throw top.fail("input.preprocess gives \((pixel * p.scale - mean) / std) for pixel \(Int(pixel)) of channel \(ch) "
                               + "(scale \(p.scale), mean \(mean), std \(std)); inputs must be finite")
            }
        }
        shapes[input.name] = input.shape
        var activationElements = n

        var nodeNames = Set<String>()
        for n in graph.nodes {
            let context = ShapeContext(node: n, file: file, weightShapes: weightShapes,
                                       producers: n.inputs.map { producers[$0] })
            guard nodeNames.insert(n.name).inserted else { throw context.fail("duplicate node name '\(n.name)'") }
            var ins: [[Int]] = []
            for t in n.inputs {
                guard let s = shapes[t] else {
                    throw context.fail("input '\(t)' is not the graph input or an output of an earlier node")
                }
                ins.append(s)
            }
            let outs = try n.op.definition.inferShapes(ins, context)
            precondition(outs.count == n.outputs.count)
            for (t, s) in zip(n.outputs, outs) {
                guard shapes[t] == nil else { throw context.fail("output '\(t)' is already produced earlier in the graph") }
                guard s.allSatisfy({ $0 > 0 }) else { throw context.fail("output '\(t)' would have non-positive shape \(s)") }
                guard let count = Tensor.elementCount(s), count <= graphMaxTensorElements else {
                    throw context.fail("output '\(t)' would have absurd shape \(s)")
                }
                activationElements += count
                guard activationElements <= graphMaxActivationElements else {
                    throw context.fail("output '\(t)' \(s) brings the graph's activations to \(activationElements) elements, "
                                       + "more than the limit of \(graphMaxActivationElements)")
                }
                shapes[t] = s
                producers[t] = n.op.kind
            }
        }
        for t in graph.outputs where shapes[t] == nil {
            throw top.fail("graph output '\(t)' is not produced by any node")
        }
        return shapes
    }
}

/// What an op's `inferShapes` and `checkWeightValues` see: the node, the weights' shapes, the op that produced
/// each input, and helpers whose errors name the node (`node 'NAME' (op): message`).
struct ShapeContext {
    /// `nil` for graph-level checks (the input).
    let node: Node?
    let file: String?
    var weightShapes: [String: [Int]] = [:]
    /// The op that produced each input of the node, in input order (`nil` for the graph input).
    var producers: [GraphOpKind?] = []

    func fail(_ message: String) -> DynQError {
        guard let node else { return DynQError(file: file, message) }
        return DynQError(file: file, "node '\(node.name)' (\(node.op.kind)): \(message)")
    }

    /// The shape of weight `name` (`role` is the attribute, for the error).
    func weight(_ name: String, _ role: String) throws -> [Int] {
        guard let s = weightShapes[name] else { throw fail("missing weight '\(name)' (\(role))") }
        guard let n = Tensor.elementCount(s), n <= graphMaxTensorElements else {
            throw fail("weight '\(name)' has absurd shape \(s)")
        }
        return s
    }

    /// Checks an optional weight's shape.
    func expectWeight(_ name: String?, _ role: String, _ expected: [Int]) throws {
        guard let name else { return }
        let s = try weight(name, role)
        guard s == expected else { throw fail("weight '\(name)' (\(role)) has shape \(s), expected \(expected)") }
    }

    func rank4(_ s: [Int], _ what: String = "input") throws -> (c: Int, h: Int, w: Int) {
        guard s.count == 4 else { throw fail("\(what) must be [1, C, H, W], not \(s)") }
        return (s[1], s[2], s[3])
    }

    func rank2or4(_ s: [Int]) throws {
        guard s.count == 4 || s.count == 2 else { throw fail("input must be [1, C, H, W] or [1, F], not \(s)") }
    }
}
