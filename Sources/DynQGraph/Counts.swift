/// Analytic per-node counts from shapes alone (no weights needed): parameters and multiply-accumulates (MACs)
/// split the way the DyNet paper reports them. Used by `dynq inspect` and the firmware simulator. Each op fills its
/// MACs in its `Ops/<Op>.swift` (`OpDefinition.countMACs`); ops not listed below count none.
///
/// - `convMACs`: `conv2d` and `dynamic_conv2d` (the single fused convolution):
///   `O · (I/groups) · kh · kw · H_out · W_out`; `linear`: `O · F`.
/// - `cpmMACs`: the CPM's fully connected layers, `H · C + N · H` (the global pool's adds are not counted).
/// - `fusionMACs`: building a dynamic conv's kernel for one sample, `g · O · (I/groups) · kh · kw`, plus
///   `g · O` when it has a `mixed_bias`.
public struct NodeCounts: Equatable, Sendable {
    public var name: String
    /// The op's JSON name.
    public var op: String
    /// One shape per node output.
    public var outputShapes: [[Int]]
    /// Elements of every weight tensor the node reads.
    public var params: Int
    public var convMACs: Int
    public var cpmMACs: Int
    public var fusionMACs: Int

    public init(name: String, op: String, outputShapes: [[Int]], params: Int = 0, convMACs: Int = 0,
                cpmMACs: Int = 0, fusionMACs: Int = 0) {
        self.name = name; self.op = op; self.outputShapes = outputShapes; self.params = params
        self.convMACs = convMACs; self.cpmMACs = cpmMACs; self.fusionMACs = fusionMACs
    }

    public var totalMACs: Int { convMACs + cpmMACs + fusionMACs }
}

/// Counts for every node of `graph`, in node order, after validating it (`inferShapes`).
public func countNodes(graph: Graph, weightShapes: [String: [Int]], file: String? = nil) throws -> [NodeCounts] {
    let shapes = try inferShapes(graph: graph, weightShapes: weightShapes, file: file)
    func size(_ name: String?) -> Int { name.map { weightShapes[$0]!.reduce(1, *) } ?? 0 }
    return graph.nodes.map { node in
        var c = NodeCounts(name: node.name, op: node.op.kind.rawValue, outputShapes: node.outputs.map { shapes[$0]! })
        c.params = node.op.weightNames.reduce(0) { $0 + size($1) }
        node.op.definition.countMACs(&c, weightShapes: weightShapes)
        return c
    }
}

/// `countNodes` for a graph with loaded weights.
public func countNodes(graph: Graph, weights: [String: Tensor], file: String? = nil) throws -> [NodeCounts] {
    try countNodes(graph: graph, weightShapes: weights.mapValues(\.shape), file: file)
}

extension Array where Element == NodeCounts {
    /// Sums of params and MACs over the nodes (name "total", no op, no shapes).
    public var total: NodeCounts {
        reduce(NodeCounts(name: "total", op: "", outputShapes: [])) {
            NodeCounts(name: "total", op: "", outputShapes: [], params: $0.params + $1.params,
                       convMACs: $0.convMACs + $1.convMACs, cpmMACs: $0.cpmMACs + $1.cpmMACs,
                       fusionMACs: $0.fusionMACs + $1.fusionMACs)
        }
    }
}

/// Thousands separators: 1234567 → "1,234,567".
public func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (k, ch) in digits.enumerated() {
        if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}
