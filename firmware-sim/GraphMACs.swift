import DynQGraph

/// Multiply-accumulates of a float graph, split the way the DyNet paper's FLOPs table needs them, from shapes
/// alone (the zoo has no trained weights). The counting itself is DynQGraph's `countNodes` (the same figures
/// `dynq inspect` prints); this only groups them:
///
/// - `conv`: every `conv2d` / `dynamic_conv2d` (`O · (I/groups) · kh · kw · H_out · W_out`) and every `linear`
///   outside a CPM (`O · F`);
/// - `cpm`: the CPM's fully connected layers (`H · C + N · H`), the global average pool's adds not counted;
/// - `fusion`: mixing the g fixed kernels into one per sample, `g · O · (I/groups) · kh · kw` per dynamic conv
///   (plus `g · O` for a mixed bias; the zoo has none).
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

extension ZooNetwork {
    /// The whole network's MACs.
    public func macs() throws -> MACBreakdown {
        try countNodes(graph: graph, weightShapes: Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.shape) }))
            .reduce(MACBreakdown()) { $0 + MACBreakdown(conv: $1.convMACs, cpm: $1.cpmMACs, fusion: $1.fusionMACs) }
    }
}
