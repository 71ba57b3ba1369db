import DynQGraph

/// Which `relu` / `relu6` nodes become the output clamp of the node in front of them (docs/numerics.md:
/// `[act_min, act_max]` carries a fused ReLU / ReLU6).
///
/// A ReLU is fused when its input is produced by `conv2d`, `dynamic_conv2d`, `linear` or `add` (the ops whose
/// `QuantizableOp.absorbsActivation` is true; the activations with a `fusableClamp`), and that tensor
/// has no other reader and is not a graph output (so nobody needs the pre-activation values). The producer then
/// writes the activation's output tensor directly, quantized with the activation output's range. Every other
/// ReLU / ReLU6 becomes a 256-entry table.
///
/// Returns `activation node name → producer node name`.
public func planActivationFusion(_ graph: Graph) -> [String: String] {
    var producer: [String: Node] = [:]
    var readers: [String: Int] = [:]
    for n in graph.nodes {
        for o in n.outputs { producer[o] = n }
        for i in n.inputs { readers[i, default: 0] += 1 }
    }
    var fused: [String: String] = [:]
    for n in graph.nodes {
        guard n.op.quantizable.fusableClamp != nil else { continue }
        let x = n.inputs[0]
        guard let p = producer[x], readers[x] == 1, !graph.outputs.contains(x) else { continue }
        if p.op.quantizable.absorbsActivation { fused[n.name] = p.name }
    }
    return fused
}
