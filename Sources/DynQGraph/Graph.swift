/// The in-memory form of a DynQ graph (docs/graph-format.md). Plain values: the op vocabulary is in Op.swift and
/// each op in Ops/<Op>.swift; decoding from JSON, validation and shape inference live beside it (GraphJSON.swift,
/// GraphValidation.swift).

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
