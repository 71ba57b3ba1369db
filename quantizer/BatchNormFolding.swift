import DynQGraph

/// A float graph together with its weights (tensor name → float32 tensor).
public struct FloatModel: Sendable {
    public var graph: Graph
    public var weights: [String: Tensor]
    public init(graph: Graph, weights: [String: Tensor]) {
        self.graph = graph; self.weights = weights
    }
}

/// What `foldBatchNorm` did to one batchnorm node.
public struct BatchNormFold: Equatable, Sendable {
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
public func foldBatchNorm(_ model: FloatModel) throws -> (model: FloatModel, folds: [BatchNormFold]) {
    var graph = model.graph
    var weights = model.weights
    var folds: [BatchNormFold] = []

    func weight(_ name: String, node: String) throws -> Tensor {
        guard let t = weights[name] else { throw DynQError("node \(node): missing weight \(name)") }
        return t
    }
    func freshName(_ base: String) -> String {
        var name = base
        var i = 1
        while weights[name] != nil { name = "\(base).\(i)"; i += 1 }
        return name
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
        func factors(channels c: Int) throws -> (f: [Double], shift: [Double]) {
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

        switch producer.op {
        case .conv2d(var c):
            let w = try weight(c.weight, node: producer.name)
            guard w.shape.count == 4 else { throw DynQError("node \(producer.name): weight must be 4-D") }
            let o = w.shape[0], inner = w.count / max(o, 1)
            let (f, shift) = try factors(channels: o)
            var nw = w
            for k in 0..<w.count { nw.data[k] = Float(Double(w.data[k]) * f[k / inner]) }
            var nb = Tensor(zeros: [o])
            let b = try c.bias.map { try weight($0, node: producer.name) }
            for ch in 0..<o { nb.data[ch] = Float(Double(b?.data[ch] ?? 0) * f[ch] + shift[ch]) }
            c.weight = freshName("\(producer.name).weight.bnfold")
            weights[c.weight] = nw
            c.bias = freshName("\(producer.name).bias.bnfold")
            weights[c.bias!] = nb
            graph.nodes[p].op = .conv2d(c)
        case .dynamicConv2d(var d):
            let w = try weight(d.weight, node: producer.name)
            guard w.shape.count == 5 else { throw DynQError("node \(producer.name): weight must be 5-D") }
            let g = w.shape[0], o = w.shape[1], inner = w.count / max(g * o, 1)
            let (f, shift) = try factors(channels: o)
            var nw = w
            for k in 0..<w.count { nw.data[k] = Float(Double(w.data[k]) * f[(k / inner) % o]) }
            d.weight = freshName("\(producer.name).weight.bnfold")
            weights[d.weight] = nw
            if let mbName = d.mixedBias {
                let mb = try weight(mbName, node: producer.name)
                guard mb.count == g * o else { throw DynQError("node \(producer.name): mixed_bias must be [g, O]") }
                var nmb = mb
                for k in 0..<mb.count { nmb.data[k] = Float(Double(mb.data[k]) * f[k % o]) }
                d.mixedBias = freshName("\(producer.name).mixed_bias.bnfold")
                weights[d.mixedBias!] = nmb
            }
            var nb = Tensor(zeros: [o])
            let b = try d.bias.map { try weight($0, node: producer.name) }
            for ch in 0..<o { nb.data[ch] = Float(Double(b?.data[ch] ?? 0) * f[ch] + shift[ch]) }
            d.bias = freshName("\(producer.name).bias.bnfold")
            weights[d.bias!] = nb
            graph.nodes[p].op = .dynamicConv2d(d)
        default:
            throw DynQError("batchnorm \(bn.name): its input \(x) comes from \(producer.op.kind) node "
                            + "\(producer.name); only a batchnorm right after conv2d / dynamic_conv2d can be folded")
        }
        graph.nodes[p].outputs = producer.outputs.map { $0 == x ? bn.outputs[0] : $0 }
        graph.nodes.remove(at: i)
        folds.append(BatchNormFold(batchnorm: bn.name, into: producer.name))
    }
    // Drop the batchnorm parameters nobody reads any more (they are not part of the folded model).
    var used = Set<String>()
    for n in graph.nodes { used.formUnion(weightNames(of: n.op)) }
    weights = weights.filter { used.contains($0.key) }
    return (FloatModel(graph: graph, weights: weights), folds)
}

/// Every weight tensor name an op refers to.
public func weightNames(of op: Op) -> [String] {
    switch op {
    case .conv2d(let c): return [c.weight] + (c.bias.map { [$0] } ?? [])
    case .dynamicConv2d(let d): return [d.weight] + [d.mixedBias, d.bias].compactMap { $0 }
    case .cpm(let c): return [c.fc1Weight] + [c.fc1Bias, c.fc2Weight, c.fc2Bias].compactMap { $0 }
    case .batchnorm(let b): return [b.weight, b.bias, b.runningMean, b.runningVar]
    case .linear(let l): return [l.weight] + (l.bias.map { [$0] } ?? [])
    default: return []
    }
}
