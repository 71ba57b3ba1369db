import DynQCore
import DynQGraph
import Foundation

/// Cross-layer equalization of activation ranges (after Nagel et al. 2019, "Data-Free Quantization Through Weight
/// Equalization and Bias Correction", §4.1, applied to activations as in SmoothQuant): one activation tensor is
/// quantized with one scale, but its channels' ranges can differ by 20× (the DyNet fixture's `stem.2`: channel
/// maxima 0.33 … 6.3), so the narrow channels get few int8 steps. Where a `conv2d` / `dynamic_conv2d` P feeds a
/// ReLU whose output X is read only by layers that can take a per-input-channel factor, channel `i` of P (its
/// weights, static and mixed bias) is divided by `s_i > 0` and every reader of X multiplies its input channel `i`
/// by `s_i`. ReLU is positively homogeneous (`relu(x / s) = relu(x) / s`), so the float model computes the same
/// function (up to float rounding); only the int8 grids change.
///
/// Readers that take the factor:
/// - a depthwise `conv2d` / `dynamic_conv2d` (input channel `i` is output channel `i`): its kernel `i` (every one
///   of the g kernels) is multiplied by `s_i` — free, since its weights are quantized per output channel;
/// - a `conv2d` / `dynamic_conv2d` with `groups == 1`: column `i` of every output channel is multiplied by `s_i`,
///   which changes that layer's weight quantization (one scale per output channel spans all columns);
/// - a `cpm` (global average pool, then `fc1`): column `i` of `fc1`, the same trade-off.
/// Any other reader (add, concat, pool, a graph output) and ReLU6 (not homogeneous: the clamp at 6 would move)
/// leave the pair alone.
///
/// The factor balances the two costs: `s_i = (r_i / w_i)^(1/2)`, `r_i` = channel `i`'s `max |x|` over the
/// calibration images, `w_i` = the largest `|weight|` of column `i` of the readers that pay for it, each reader's
/// columns relative to its largest weight; `w_i = 1` when every reader is depthwise. Even then the factor is
/// `√r_i`, not `r_i`: equal ranges would put every channel's calibration maximum at the tensor's clipping edge,
/// so each channel would saturate on any image that exceeds what calibration saw (the square root keeps the
/// narrow channels' headroom: measured on fixtures/ops/dynconv_shared_cpm, 64 random calibration images, full
/// equalization gave a max int8 error of 5.3 % of the output spread). Channels whose range is below 1/1000 of
/// the largest keep `s_i` of that floor.
/// Factors are scaled to geometric mean 1. New weight tensors are named `<node>.<role>.equalized`, and X
/// becomes `X.equalized` (it no longer holds the float graph's X, so nothing may compare the two by name).
public struct EqualizedPair: Sendable, Equatable {
    /// The producer (conv) node, the activation tensor it equalized and that tensor's new name.
    public var producer: String, tensor: String, renamed: String
    /// The tensor's largest / smallest channel `max |x|`, before and after.
    public var spreadBefore: Double, spreadAfter: Double
}

/// `base`, or `base.1`, `base.2` … if a node already writes or reads that name.
func uniqueTensorName(_ base: String, in graph: Graph) -> String {
    var names = Set([graph.input.name])
    for n in graph.nodes { names.formUnion(n.inputs); names.formUnion(n.outputs) }
    var name = base, k = 1
    while names.contains(name) { name = "\(base).\(k)"; k += 1 }
    return name
}

/// A reader of X and how it takes the per-channel factor.
private enum EqualizationReader {
    case depthwise(Int)          // node index
    case columns(Int)            // node index, conv2d / dynamic_conv2d groups 1
    case cpm(Int)                // node index
}

/// Equalizes every eligible pair of `prepared` (see `EqualizedPair`) from `stats`' per-channel maxima. The
/// caller calibrates again on the returned model (every range downstream of a pair changes).
public func equalizeActivations(_ prepared: PreparedModel, stats: CalibrationStats) throws
    -> (PreparedModel, [EqualizedPair])
{
    var p = prepared
    var done: [EqualizedPair] = []
    let graph = prepared.model.graph
    var readers: [String: [Int]] = [:]
    for (k, n) in graph.nodes.enumerated() { for i in n.inputs { readers[i, default: []].append(k) } }
    let outputs = Set(graph.outputs)

    func w(_ name: String) throws -> Tensor {
        guard let t = p.model.weights[name] else { throw DynQError("equalization: missing weight \(name)") }
        return t
    }
    func store(_ t: Tensor, node: String, role: String) -> String {
        var name = "\(node).\(role).equalized", k = 1
        while p.model.weights[name] != nil { name = "\(node).\(role).equalized.\(k)"; k += 1 }
        p.model.weights[name] = t
        return name
    }

    for (pi, producer) in graph.nodes.enumerated() {
        let y = producer.outputs[0]
        let channels: Int
        switch producer.op {
        case .conv2d(let c): channels = try w(c.weight).shape[0]
        case .dynamicConv2d(let d): channels = try w(d.weight).shape[1]
        default: continue
        }
        // P → relu (its only reader) → X.
        guard let yr = readers[y], yr.count == 1, !outputs.contains(y), case .relu = graph.nodes[yr[0]].op else { continue }
        let x = graph.nodes[yr[0]].outputs[0]
        guard !outputs.contains(x), let xr = readers[x], !xr.isEmpty,
              let r = stats.channelMaxAbs[x], r.count == channels else { continue }
        var plan: [EqualizationReader] = []
        for k in xr {
            let n = graph.nodes[k]
            guard n.inputs[0] == x, !n.inputs.dropFirst().contains(x) else { plan = []; break }
            switch n.op {
            case .conv2d(let c):
                let s = try w(c.weight).shape
                if c.groups == 1 && s[1] == channels { plan.append(.columns(k)) }
                else if c.groups == channels && s[0] == channels && s[1] == 1 { plan.append(.depthwise(k)) }
                else { plan = [] }
            case .dynamicConv2d(let d):
                let s = try w(d.weight).shape
                if d.groups == 1 && s[2] == channels { plan.append(.columns(k)) }
                else if d.groups == channels && s[1] == channels && s[2] == 1 { plan.append(.depthwise(k)) }
                else { plan = [] }
            case .cpm(let a):
                if try w(a.fc1Weight).shape[1] == channels { plan.append(.cpm(k)) } else { plan = [] }
            default: plan = []
            }
            if plan.isEmpty { break }
        }
        guard plan.count == xr.count else { continue }

        // Column costs of the readers that pay for the factor, each relative to its own largest weight.
        var wcol = [Double](repeating: 0, count: channels)
        var paying = false
        for reader in plan {
            let t: Tensor, columnOf: (Int) -> Int
            switch reader {
            case .depthwise: continue
            case .columns(let k):
                switch graph.nodes[k].op {
                case .conv2d(let c):
                    t = try w(c.weight)
                    let inner = t.shape[2] * t.shape[3]
                    columnOf = { ($0 / inner) % channels }
                case .dynamicConv2d(let d):
                    t = try w(d.weight)
                    let inner = t.shape[3] * t.shape[4]
                    columnOf = { ($0 / inner) % channels }
                default: continue
                }
            case .cpm(let k):
                guard case .cpm(let a) = graph.nodes[k].op else { continue }
                t = try w(a.fc1Weight)
                columnOf = { $0 % channels }
            }
            let top = Double(t.data.map { Swift.abs($0) }.max() ?? 0)
            guard top > 0 else { continue }
            paying = true
            for (e, v) in t.data.enumerated() {
                let c = columnOf(e)
                wcol[c] = Swift.max(wcol[c], Double(Swift.abs(v)) / top)
            }
        }
        let rmax = r.max() ?? 0
        guard rmax > 0 else { continue }
        var s = (0..<channels).map { i -> Double in
            let ri = Swift.max(r[i], rmax / 1000)
            return (ri / (paying ? Swift.max(wcol[i], 1e-3) : 1)).squareRoot()
        }
        let logMean = s.reduce(0) { $0 + Foundation.log($1) } / Double(channels)
        s = s.map { $0 / Foundation.exp(logMean) }

        // Producer: channel i divided by s_i.
        var node = p.model.graph.nodes[pi]
        switch node.op {
        case .conv2d(var c):
            var t = try w(c.weight)
            let inner = t.count / channels
            for e in 0..<t.count { t.data[e] = Float(Double(t.data[e]) / s[e / inner]) }
            c.weight = store(t, node: node.name, role: "weight")
            if let b = c.bias {
                var bt = try w(b)
                for i in 0..<channels { bt.data[i] = Float(Double(bt.data[i]) / s[i]) }
                c.bias = store(bt, node: node.name, role: "bias")
            }
            node.op = .conv2d(c)
        case .dynamicConv2d(var d):
            var t = try w(d.weight)
            let inner = t.count / (t.shape[0] * channels)
            for e in 0..<t.count { t.data[e] = Float(Double(t.data[e]) / s[(e / inner) % channels]) }
            d.weight = store(t, node: node.name, role: "weight")
            if let b = d.bias {
                var bt = try w(b)
                for i in 0..<channels { bt.data[i] = Float(Double(bt.data[i]) / s[i]) }
                d.bias = store(bt, node: node.name, role: "bias")
            }
            if let mb = d.mixedBias {
                var bt = try w(mb)
                for e in 0..<bt.count { bt.data[e] = Float(Double(bt.data[e]) / s[e % channels]) }
                d.mixedBias = store(bt, node: node.name, role: "mixed_bias")
            }
            node.op = .dynamicConv2d(d)
        default: continue
        }
        p.model.graph.nodes[pi] = node

        // Readers: input channel i multiplied by s_i.
        for reader in plan {
            switch reader {
            case .depthwise(let k), .columns(let k):
                var n = p.model.graph.nodes[k]
                let isColumns: Bool
                if case .columns = reader { isColumns = true } else { isColumns = false }
                switch n.op {
                case .conv2d(var c):
                    var t = try w(c.weight)
                    let inner = t.shape[2] * t.shape[3]
                    for e in 0..<t.count {
                        let i = isColumns ? (e / inner) % channels : e / (t.count / channels)
                        t.data[e] = Float(Double(t.data[e]) * s[i])
                    }
                    c.weight = store(t, node: n.name, role: "weight")
                    n.op = .conv2d(c)
                case .dynamicConv2d(var d):
                    var t = try w(d.weight)
                    let inner = t.shape[3] * t.shape[4]
                    // [g, O, I, kh, kw]: columns index I; depthwise (I = 1) indexes O.
                    for e in 0..<t.count {
                        let i = isColumns ? (e / inner) % channels : (e / inner) % channels
                        t.data[e] = Float(Double(t.data[e]) * s[i])
                    }
                    d.weight = store(t, node: n.name, role: "weight")
                    n.op = .dynamicConv2d(d)
                default: break
                }
                p.model.graph.nodes[k] = n
            case .cpm(let k):
                var n = p.model.graph.nodes[k]
                guard case .cpm(var a) = n.op else { continue }
                var t = try w(a.fc1Weight)
                for e in 0..<t.count { t.data[e] = Float(Double(t.data[e]) * s[e % channels]) }
                a.fc1Weight = store(t, node: n.name, role: "fc1_weight")
                n.op = .cpm(a)
                p.model.graph.nodes[k] = n
            }
        }
        // X now holds x_i / s_i: a different tensor, renamed so that nothing compares it with the float graph's X
        // (`dynq eval`'s per-tensor SQNR, the drift test).
        let renamed = uniqueTensorName("\(x).equalized", in: p.model.graph)
        for k in p.model.graph.nodes.indices {
            p.model.graph.nodes[k].inputs = p.model.graph.nodes[k].inputs.map { $0 == x ? renamed : $0 }
            p.model.graph.nodes[k].outputs = p.model.graph.nodes[k].outputs.map { $0 == x ? renamed : $0 }
        }
        let after = (0..<channels).map { r[$0] / s[$0] }
        let spread = { (v: [Double]) -> Double in
            let pos = v.filter { $0 > 0 }
            return (pos.max() ?? 0) / Swift.max(pos.min() ?? 1, 1e-30)
        }
        done.append(EqualizedPair(producer: producer.name, tensor: x, renamed: renamed, spreadBefore: spread(r), spreadAfter: spread(after)))
    }
    // Drop weights nobody reads any more.
    var used = Set<String>()
    for n in p.model.graph.nodes { used.formUnion(n.op.weightNames) }
    p.model.weights = p.model.weights.filter { used.contains($0.key) }
    return (p, done)
}
