import DynQGraph

/// A float graph together with its weights (tensor name → float32 tensor).
public struct FloatModel: Sendable {
    public var graph: Graph
    public var weights: [String: Tensor]
    public init(graph: Graph, weights: [String: Tensor]) {
        self.graph = graph; self.weights = weights
    }
}

/// What `foldBatchnorm` did to one batchnorm node.
public struct BatchnormFold: Equatable, Sendable {
    /// The batchnorm node that disappeared.
    public var batchnorm: String
    /// The conv2d / dynamic_conv2d node it was folded into.
    public var into: String
}

/// Folds every `batchnorm` into the `conv2d` / `dynamic_conv2d` that produces its input (docs/numerics.md,
/// "Shared kernel scale"):
///
/// - the per-channel factor `γ/σ` (σ = √(var + eps)) multiplies the weight of every output channel — for a dynamic
///   conv, every one of the g kernels `W[t, o]` — and the mixed bias `mb[t, o]`;
/// - the shift goes into the static bias: `b'[o] = (b[o] − μ[o]) · γ/σ + β` (a static bias is created if the conv
///   had none).
///
/// The conv takes over the batchnorm's output tensor name, so nothing downstream changes. The folded weights get
/// new tensor names (`<conv>.weight.bnfold` …) so a weight shared with another node is never altered. Arithmetic is
/// in Double, rounded once to Float.
///
/// Refuses (naming the node) a batchnorm whose input is not produced by a convolution, or whose input tensor is
/// also read by another node or returned as a graph output (folding would change that other reader).
public func foldBatchnorm(_ model: FloatModel) throws -> (model: FloatModel, folds: [BatchnormFold]) {
    var graph = model.graph
    var weights = model.weights
    var folds: [BatchnormFold] = []

    func weight(_ name: String, node: String) throws -> Tensor {
        guard let t = weights[name] else { throw DynQError("node \(node): missing weight \(name)") }
        return t
    }
    var i = 0
    while i < graph.nodes.count {
        let bn = graph.nodes[i]
        guard case .batchnorm(let a) = bn.op else { i += 1; continue }
        guard bn.inputs.count == 1, bn.outputs.count == 1 else {
            throw DynQError("batchnorm \(bn.name): expected one input and one output")
        }
        let x = bn.inputs[0]
        guard let p = graph.nodes[..<i].lastIndex(where: { $0.outputs.contains(x) }) else {
            throw DynQError("batchnorm \(bn.name): its input \(x) is not produced by a convolution (it is the graph "
                            + "input); only a batchnorm right after conv2d / dynamic_conv2d can be folded")
        }
        let producer = graph.nodes[p]
        let readers = graph.nodes.filter { $0.inputs.contains(x) }.count
        if readers > 1 || graph.outputs.contains(x) {
            throw DynQError("batchnorm \(bn.name): the convolution output \(x) is also read elsewhere, so the "
                            + "batchnorm cannot be folded into \(producer.name)")
        }
        let gamma = try weight(a.weight, node: bn.name), beta = try weight(a.bias, node: bn.name)
        let mean = try weight(a.runningMean, node: bn.name), variance = try weight(a.runningVar, node: bn.name)

        // Per-channel factor and shift in Double.
        var folder = BatchnormFolder(weights: weights, producer: producer.name) { c in
            for (n, t) in [("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", variance)]
            where t.count != c {
                throw DynQError("batchnorm \(bn.name): \(n) has \(t.count) entries, \(producer.name) has \(c) channels")
            }
            var f = [Double](repeating: 0, count: c), s = [Double](repeating: 0, count: c)
            for o in 0..<c {
                let sigma = (Double(variance.data[o]) + Double(a.eps)).squareRoot()
                f[o] = Double(gamma.data[o]) / sigma
                s[o] = Double(beta.data[o]) - Double(mean.data[o]) * f[o]
            }
            return (f, s)
        }
        guard let folded = try producer.op.quantizable.foldingBatchnorm(&folder) else {
            throw DynQError("batchnorm \(bn.name): its input \(x) comes from \(producer.op.kind) node "
                            + "\(producer.name); only a batchnorm right after conv2d / dynamic_conv2d can be folded")
        }
        for name in folded.weightNames where weights[name] == nil {
            guard folder.weights[name]!.data.allSatisfy({ $0.isFinite }) else {
                throw DynQError("batchnorm \(bn.name): folding it into \(producer.name) gives non-finite weights "
                                + "(weight / sqrt(running_var + eps) overflows float32)")
            }
        }
        weights = folder.weights
        graph.nodes[p].op = folded
        graph.nodes[p].outputs = producer.outputs.map { $0 == x ? bn.outputs[0] : $0 }
        graph.nodes.remove(at: i)
        folds.append(BatchnormFold(batchnorm: bn.name, into: producer.name))
    }
    // Drop the batchnorm parameters nobody reads any more (they are not part of the folded model).
    var used = Set<String>()
    for n in graph.nodes { used.formUnion(n.op.weightNames) }
    weights = weights.filter { used.contains($0.key) }
    return (FloatModel(graph: graph, weights: weights), folds)
}

/// What an op's `foldingBatchnorm` (quantizer/Ops/<Op>.swift) works with: the weights, the batchnorm's
/// per-channel factor `γ/σ` and shift `β − μ·γ/σ` (in Double), and fresh names for the folded tensors.
struct BatchnormFolder {
    var weights: [String: Tensor]
    /// The producer node's name (errors, new tensor names).
    let producer: String
    /// `(f, shift)` for a producer with `channels` output channels; throws when the batchnorm has another count.
    let factors: (_ channels: Int) throws -> (f: [Double], shift: [Double])

    func weight(_ name: String) throws -> Tensor {
        guard let t = weights[name] else { throw DynQError("node \(producer): missing weight \(name)") }
        return t
    }

    /// Stores `t` under `<producer>.<role>.bnfold` (or a numbered variant that is still free) and returns the
    /// name. New names, so a weight shared with another node is never altered.
    mutating func add(_ role: String, _ t: Tensor) -> String {
        let base = "\(producer).\(role).bnfold"
        var name = base
        var i = 1
        while weights[name] != nil { name = "\(base).\(i)"; i += 1 }
        weights[name] = t
        return name
    }
}
