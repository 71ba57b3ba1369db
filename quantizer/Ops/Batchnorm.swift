import DynQCore
import DynQGraph

/// `batchnorm` never reaches the int8 model: `foldBatchnorm` (BatchnormFolding.swift) folds each one into the
/// convolution in front of it, or refuses the graph.
extension BatchnormAttrs: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws {
        throw DynQError("batchnorm \(node.name) was not folded")   // foldBatchnorm refuses earlier
    }
}
