/// The in-memory form of a DynQ graph (docs/graph-format.md). Plain values: decoding from JSON, validation and
/// shape inference live beside it (GraphJSON.swift, GraphValidation.swift).

/// `[top, left, bottom, right]` zero padding, in pixels (ONNX order).
public struct Padding: Equatable, Hashable, Sendable {
    public var top: Int, left: Int, bottom: Int, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    /// The same padding `p` on every side (PyTorch's `padding=p`).
    public init(all p: Int) { self.init(top: p, left: p, bottom: p, right: p) }
    public static let zero = Padding(all: 0)
}

/// A `[height, width]` pair (kernel size, stride, dilation).
public struct Pair: Equatable, Hashable, Sendable {
    public var h: Int, w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public static let one = Pair(1, 1)
}

/// Geometry shared by `conv2d` and `dynamic_conv2d`.
public struct ConvGeometry: Equatable, Sendable {
    public var stride: Pair = .one
    public var padding: Padding = .zero
    public var dilation: Pair = .one
    public var groups: Int = 1
    public init(stride: Pair = .one, padding: Padding = .zero, dilation: Pair = .one, groups: Int = 1) {
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }
}

public struct Conv2DAttrs: Equatable, Sendable {
    /// Tensor name of the `[O, I/groups, kh, kw]` weight.
    public var weight: String
    /// Tensor name of the `[O]` bias, if any.
    public var bias: String?
    public var geometry: ConvGeometry
    public init(weight: String, bias: String? = nil, geometry: ConvGeometry = ConvGeometry()) {
        self.weight = weight; self.bias = bias; self.geometry = geometry
    }
}

/// How a dynamic convolution reads its coefficients.
public enum CoefficientMode: String, Equatable, Sendable {
    /// DyNet: each output channel mixes its own g kernels (`O·g` coefficients).
    case perChannel = "per_channel"
    /// CondConv / DY-CNN: g coefficients shared by every output channel.
    case perLayer = "per_layer"
}

public struct DynamicConv2DAttrs: Equatable, Sendable {
    /// Tensor name of the `[g, O, I/groups, kh, kw]` fixed kernels.
    public var weight: String
    public var mode: CoefficientMode
    /// Index of this layer's first coefficient in the CPM's output vector.
    public var coeffOffset: Int
    /// Tensor name of the `[g, O]` bias mixed with the same coefficients, if any.
    public var mixedBias: String?
    /// Tensor name of the `[O]` static bias, if any.
    public var bias: String?
    public var geometry: ConvGeometry
    public init(weight: String, mode: CoefficientMode, coeffOffset: Int = 0, mixedBias: String? = nil,
                bias: String? = nil, geometry: ConvGeometry = ConvGeometry()) {
        self.weight = weight; self.mode = mode; self.coeffOffset = coeffOffset
        self.mixedBias = mixedBias; self.bias = bias; self.geometry = geometry
    }
}

public enum Gate: Equatable, Sendable {
    case sigmoid
    /// Softmax of `h / temperature` over consecutive chunks of `group` entries.
    case softmax(temperature: Float, group: Int)
}

public struct CPMAttrs: Equatable, Sendable {
    public var fc1Weight: String
    public var fc1Bias: String?
    public var fc2Weight: String?
    public var fc2Bias: String?
    public var gate: Gate
    public init(fc1Weight: String, fc1Bias: String? = nil, fc2Weight: String? = nil, fc2Bias: String? = nil,
                gate: Gate) {
        self.fc1Weight = fc1Weight; self.fc1Bias = fc1Bias; self.fc2Weight = fc2Weight; self.fc2Bias = fc2Bias
        self.gate = gate
    }
}

public struct BatchNormAttrs: Equatable, Sendable {
    public var weight: String, bias: String, runningMean: String, runningVar: String
    public var eps: Float
    public init(weight: String, bias: String, runningMean: String, runningVar: String, eps: Float = 1e-5) {
        self.weight = weight; self.bias = bias; self.runningMean = runningMean; self.runningVar = runningVar
        self.eps = eps
    }
}

public struct PoolAttrs: Equatable, Sendable {
    public var kernel: Pair
    public var stride: Pair
    public var padding: Padding
    /// avgpool only: whether padded zeros count in the divisor (PyTorch default: true).
    public var countIncludePad: Bool
    public init(kernel: Pair, stride: Pair? = nil, padding: Padding = .zero, countIncludePad: Bool = true) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
        self.countIncludePad = countIncludePad
    }
}

public struct LinearAttrs: Equatable, Sendable {
    /// Tensor name of the `[O, F]` weight.
    public var weight: String
    public var bias: String?
    public init(weight: String, bias: String? = nil) { self.weight = weight; self.bias = bias }
}

/// Every op of the graph spec, with its attributes.
public enum Op: Equatable, Sendable {
    case conv2d(Conv2DAttrs)
    case dynamicConv2d(DynamicConv2DAttrs)
    case cpm(CPMAttrs)
    case batchnorm(BatchNormAttrs)
    case relu, relu6, hardswish, hardsigmoid
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

    /// The op's name in the JSON format.
    public var kind: String {
        switch self {
        case .conv2d: return "conv2d"
        case .dynamicConv2d: return "dynamic_conv2d"
        case .cpm: return "cpm"
        case .batchnorm: return "batchnorm"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .hardswish: return "hardswish"
        case .hardsigmoid: return "hardsigmoid"
        case .add: return "add"
        case .concat: return "concat"
        case .channelShuffle: return "channel_shuffle"
        case .channelSplit: return "channel_split"
        case .maxpool: return "maxpool"
        case .avgpool: return "avgpool"
        case .globalAvgpool: return "global_avgpool"
        case .flatten: return "flatten"
        case .linear: return "linear"
        case .softmax: return "softmax"
        }
    }
}

public struct Node: Equatable, Sendable {
    public var name: String
    public var op: Op
    public var inputs: [String]
    public var outputs: [String]
    public init(name: String, op: Op, inputs: [String], outputs: [String]) {
        self.name = name; self.op = op; self.inputs = inputs; self.outputs = outputs
    }
}

/// `x = (p · scale − mean[c]) / std[c]` for a raw uint8 pixel `p` of channel `c`.
public struct Preprocess: Equatable, Sendable {
    public var scale: Float
    /// One entry (broadcast) or one per channel.
    public var mean: [Float]
    /// One entry (broadcast) or one per channel.
    public var std: [Float]
    public init(scale: Float = 1, mean: [Float] = [0], std: [Float] = [1]) {
        self.scale = scale; self.mean = mean; self.std = std
    }
}

public struct InputSpec: Equatable, Sendable {
    public var name: String
    /// `[1, C, H, W]`.
    public var shape: [Int]
    public var preprocess: Preprocess
    public init(name: String, shape: [Int], preprocess: Preprocess = Preprocess()) {
        self.name = name; self.shape = shape; self.preprocess = preprocess
    }
}

public struct Graph: Equatable, Sendable {
    public var name: String
    public var input: InputSpec
    public var outputs: [String]
    public var classes: [String]
    /// In execution order.
    public var nodes: [Node]
    public init(name: String, input: InputSpec, outputs: [String], classes: [String] = [], nodes: [Node]) {
        self.name = name; self.input = input; self.outputs = outputs; self.classes = classes; self.nodes = nodes
    }
}

// MARK: - Conventions (added with GraphJSON.swift)

extension Gate {
    /// The `group` stored when the JSON omits `softmax_group`: the softmax then runs over the whole CPM output
    /// (`N` entries). Use `softmaxGroup(outputCount:)` to resolve it.
    public static let wholeOutputGroup = 0

    /// The number of consecutive entries each softmax runs over, for a CPM with `n` outputs (`n` for the
    /// sigmoid gate, which has no groups).
    public func softmaxGroup(outputCount n: Int) -> Int {
        switch self {
        case .sigmoid: return n
        case .softmax(_, let group): return group == Gate.wholeOutputGroup ? n : group
        }
    }
}
