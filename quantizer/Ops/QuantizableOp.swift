import DynQGraph

/// The quantizer's side of one graph op (docs/architecture.md, "Adding an op"): how the op becomes int8 runtime
/// operations, and what activation fusion and batchnorm folding may do with it. Each op conforms in
/// quantizer/Ops/<Op>.swift. `Op.quantizable` below is the only switch over every op in the quantizer; it has no
/// `default:`, so a new op makes the compiler point at it.
protocol QuantizableOp {
    /// Appends the op's runtime operations, tensors, blobs and report rows to `b`. Called in graph order, after
    /// the op's inputs exist; not called for an activation fused into its producer.
    func emit(_ node: Node, _ b: inout ModelBuilder) throws

    /// relu / relu6: the real interval the activation clamps to, so that the producer's output clamp can do its
    /// work (ActivationFusion.swift). Default `nil`: the op is not fusable.
    var fusableClamp: ClosedRange<Double>? { get }

    /// Whether the op writes its int8 output through a clamp that a following relu / relu6 can become.
    /// Default `false`.
    var absorbsActivation: Bool { get }

    /// This op with a following batchnorm folded in (new weights added through `folder`), or `nil` when the op
    /// cannot absorb a batchnorm (BatchnormFolding.swift). Default `nil`.
    func foldingBatchnorm(_ folder: inout BatchnormFolder) throws -> Op?
}

extension QuantizableOp {
    var fusableClamp: ClosedRange<Double>? { nil }
    var absorbsActivation: Bool { false }
    func foldingBatchnorm(_ folder: inout BatchnormFolder) throws -> Op? { nil }
}

extension Op {
    /// The op's quantizer side.
    var quantizable: any QuantizableOp {
        switch self {
        case .conv2d(let a): return a
        case .dynamicConv2d(let a): return a
        case .cpm(let a): return a
        case .batchnorm(let a): return a
        case .relu: return Relu()
        case .relu6: return Relu6()
        case .hardswish: return Hardswish()
        case .hardsigmoid: return Hardsigmoid()
        case .silu: return Silu()
        case .sigmoid: return Sigmoid()
        case .gelu: return Gelu()
        case .leakyRelu(let slope): return LeakyRelu(negativeSlope: slope)
        case .add: return Add()
        case .concat: return Concat()
        case .channelShuffle(let groups): return ChannelShuffle(groups: groups)
        case .channelSplit(let sizes): return ChannelSplit(sizes: sizes)
        case .maxpool(let p): return Maxpool(attrs: p)
        case .avgpool(let p): return Avgpool(attrs: p)
        case .globalAvgpool: return GlobalAvgpool()
        case .flatten: return Flatten()
        case .linear(let a): return a
        case .softmax(let t): return Softmax(temperature: t)
        }
    }
}
