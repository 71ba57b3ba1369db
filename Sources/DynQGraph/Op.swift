/// The op vocabulary of the graph format: one enum case per op, named after its JSON name (`global_avgpool` →
/// `globalAvgpool`, `dynamic_conv2d` → `dynamicConv2d`). Everything else about an op — its attributes, JSON
/// decoding and encoding, validation and shape inference, float semantics and counts — is in
/// `Ops/<Op>.swift` (docs/architecture.md, "Adding an op").
///
/// The switches in this file are the only ones over every op on the graph side. They have no `default:`, so a
/// new case makes the compiler point at each of them.
public enum Op: Equatable, Sendable {
    case conv2d(Conv2DAttrs)
    case dynamicConv2d(DynamicConv2DAttrs)
    case cpm(CPMAttrs)
    case batchnorm(BatchnormAttrs)
    case relu, relu6, hardswish, hardsigmoid, silu, sigmoid, gelu
    case leakyRelu(negativeSlope: Float)
    case add
    case concat
    case channelShuffle(groups: Int)
    case channelSplit(sizes: [Int])
    case maxpool(PoolAttrs)
    case avgpool(PoolAttrs)
    case globalAvgpool
    case flatten
    case linear(LinearAttrs)
    case softmax(temperature: Float)

    /// The op's definition (attributes and behaviour), in `Ops/<Op>.swift`.
    var definition: any OpDefinition {
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

    /// The op's name, as written in the JSON `op` field.
    public var kind: GraphOpKind { type(of: definition).kind }

    /// The tensor names of every weight the op reads, in attribute order.
    public var weightNames: [String] { definition.weightNames }
}

/// The op names of the graph format. The raw value is the JSON `op` field; the case is the same name in Swift.
public enum GraphOpKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case conv2d
    case dynamicConv2d = "dynamic_conv2d"
    case cpm
    case batchnorm
    case relu, relu6, hardswish, hardsigmoid, silu, sigmoid, gelu
    case leakyRelu = "leaky_relu"
    case add
    case concat
    case channelShuffle = "channel_shuffle"
    case channelSplit = "channel_split"
    case maxpool
    case avgpool
    case globalAvgpool = "global_avgpool"
    case flatten
    case linear
    case softmax

    /// The definition type that decodes this op.
    var definition: any OpDefinition.Type {
        switch self {
        case .conv2d: return Conv2DAttrs.self
        case .dynamicConv2d: return DynamicConv2DAttrs.self
        case .cpm: return CPMAttrs.self
        case .batchnorm: return BatchnormAttrs.self
        case .relu: return Relu.self
        case .relu6: return Relu6.self
        case .hardswish: return Hardswish.self
        case .hardsigmoid: return Hardsigmoid.self
        case .silu: return Silu.self
        case .sigmoid: return Sigmoid.self
        case .gelu: return Gelu.self
        case .leakyRelu: return LeakyRelu.self
        case .add: return Add.self
        case .concat: return Concat.self
        case .channelShuffle: return ChannelShuffle.self
        case .channelSplit: return ChannelSplit.self
        case .maxpool: return Maxpool.self
        case .avgpool: return Avgpool.self
        case .globalAvgpool: return GlobalAvgpool.self
        case .flatten: return Flatten.self
        case .linear: return LinearAttrs.self
        case .softmax: return Softmax.self
        }
    }

    /// The JSON name.
    public var description: String { rawValue }
}

/// The op names of the graph format, sorted.
public let graphOpNames: [String] = GraphOpKind.allCases.map(\.rawValue).sorted()
