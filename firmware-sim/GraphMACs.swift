import DynQGraph

/// Multiply-accumulates of a float graph, split the way the DyNet paper's FLOPs table needs them, from shapes
/// alone (the zoo has no trained weights). The paper counts multiply-adds of convolutions and fully connected
/// layers; DyNet's extra work is reported beside them:
///
/// - `conv`: every `conv2d` / `dynamic_conv2d` (`O · (I/groups) · kh · kw · H_out · W_out`) and every `linear`
///   outside a CPM (`O · F`);
/// - `cpm`: the CPM's fully connected layers (`H · C + N · H`), the global average pool's adds not counted;
/// - `fusion`: mixing the g fixed kernels into one per sample, `g · O · (I/groups) · kh · kw` per dynamic conv.
public struct MACBreakdown: Equatable, Sendable {
    public var conv = 0
    public var cpm = 0
    public var fusion = 0
    public init(conv: Int = 0, cpm: Int = 0, fusion: Int = 0) { self.conv = conv; self.cpm = cpm; self.fusion = fusion }
    public var total: Int { conv + cpm + fusion }
    public static func + (a: MACBreakdown, b: MACBreakdown) -> MACBreakdown {
        MACBreakdown(conv: a.conv + b.conv, cpm: a.cpm + b.cpm, fusion: a.fusion + b.fusion)
    }
}

/// Per-node MACs of `graph` (validated by `inferShapes`), in node order.
public func graphMACs(graph: Graph, weightShapes: [String: [Int]]) throws -> [(node: String, macs: MACBreakdown)] {
    let shapes = try inferShapes(graph: graph, weightShapes: weightShapes)
    return graph.nodes.map { node in
        var m = MACBreakdown()
        switch node.op {
        case .conv2d(let a):
            let w = weightShapes[a.weight]!, y = shapes[node.outputs[0]]!
            m.conv = w.reduce(1, *) * y[2] * y[3]
        case .dynamicConv2d(let a):
            let w = weightShapes[a.weight]!, y = shapes[node.outputs[0]]!
            let perKernel = w.dropFirst().reduce(1, *)
            m.conv = perKernel * y[2] * y[3]
            m.fusion = w[0] * perKernel
        case .linear(let a):
            m.conv = weightShapes[a.weight]!.reduce(1, *)
        case .cpm(let a):
            m.cpm = weightShapes[a.fc1Weight]!.reduce(1, *) + (a.fc2Weight.map { weightShapes[$0]!.reduce(1, *) } ?? 0)
        default:
            break
        }
        return (node.name, m)
    }
}

extension ZooNetwork {
    /// The whole network's MACs.
    public func macs() throws -> MACBreakdown {
        try graphMACs(graph: graph, weightShapes: Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.shape) }))
            .reduce(MACBreakdown()) { $0 + $1.macs }
    }
}
