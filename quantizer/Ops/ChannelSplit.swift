import DynQCore
import DynQGraph

/// `channel_split` → the runtime's `channel_split` (copies: every output keeps the input's quantization).
extension ChannelSplit: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitChannelSplit(node) }
}

extension ModelBuilder {
    mutating func emitChannelSplit(_ node: Node) throws {
        let (inID, q) = try input(node.inputs[0], node: node.name)
        var outs: [TensorID] = []
        for o in node.outputs { outs.append(addTensor(o, nchw: try shape(o, node: node.name), quant: q)) }
        ops.append(ModelDescription.Operation(name: node.name, op: .channelSplit(
            ModelDescription.ChannelSplit(input: inID, outputs: outs))))
        reports.append(passThroughReport(node, "channel_split", q))
    }
}
