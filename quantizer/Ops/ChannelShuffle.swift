import DynQCore
import DynQGraph

/// `channel_shuffle` → the runtime's `channel_shuffle` (a permutation: the output keeps the input's quantization).
extension ChannelShuffle: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitChannelShuffle(node, self) }
}

extension ModelBuilder {
    mutating func emitChannelShuffle(_ node: Node, _ a: ChannelShuffle) throws {
        let (inID, q) = try input(node.inputs[0], node: node.name)
        let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
        ops.append(ModelDescription.Operation(name: node.name, op: .channelShuffle(
            ModelDescription.ChannelShuffle(input: inID, output: out, groups: a.groups))))
        reports.append(passThroughReport(node, "channel_shuffle", q))
    }
}
