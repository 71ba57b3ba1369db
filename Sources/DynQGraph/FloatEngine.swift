import Foundation

/// What the float engine reports while it runs (for calibration and debugging).
public enum FloatEvent {
    /// A tensor was produced: the graph input first (as given to `run`), then every output of every node, in
    /// execution order.
    case tensor(name: String, Tensor)
    /// The coefficients a `dynamic_conv2d` node read from its CPM (its own slice, `O·g` entries for
    /// `per_channel`, in `[o][t]` order; `g` entries for `per_layer`). Reported before `fusedKernel`.
    case coefficients(node: String, [Float])
    /// The kernel a `dynamic_conv2d` node fused for this input: `weight` `[O, I/groups, kh, kw]`, `bias` `[O]`
    /// (`nil` when the node has neither `mixed_bias` nor `bias`).
    case fusedKernel(node: String, weight: Tensor, bias: Tensor?)
}

/// The float32 reference engine: runs any valid graph on one `[1, C, H, W]` input with PyTorch's semantics.
///
/// Construction validates the graph against the weights (`inferShapes`) and resolves every weight once;
/// `run` cannot fail except on an input of the wrong shape. A dynamic convolution fuses its `g` kernels with
/// the coefficients and then runs one ordinary convolution, exactly as the spec describes.
public struct FloatEngine: Sendable {
    public let graph: Graph
    /// The shape of every activation tensor, by name.
    public let shapes: [String: [Int]]

    private let steps: [CompiledNode]
    private let slotNames: [String]
    private let outputSlots: [Int]
    /// Slots whose last reader is step k (freed after it).
    private let releases: [[Int]]

    public init(graph: Graph, weights: [String: Tensor]) throws {
        self.graph = graph
        let shapes = try inferShapes(graph: graph, weights: weights)
        self.shapes = shapes
        var slots: [String: Int] = [graph.input.name: 0]
        var names = [graph.input.name]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            slots[name] = names.count
            names.append(name)
            return names.count - 1
        }
        var steps: [CompiledNode] = []
        for node in graph.nodes {
            let context = StepContext(node: node, inputShapes: node.inputs.map { shapes[$0]! },
                                      outputShapes: node.outputs.map { shapes[$0]! }, weights: weights)
            steps.append(CompiledNode(step: node.op.definition.floatStep(context), inputs: node.inputs.map(slot),
                                      outputs: node.outputs.map(slot)))
        }
        var lastUse = [Int](repeating: -1, count: names.count)
        for (k, s) in steps.enumerated() { for i in s.inputs { lastUse[i] = k } }
        let outputs = graph.outputs.map { slots[$0]! }
        var releases = [[Int]](repeating: [], count: steps.count)
        for (slotIndex, k) in lastUse.enumerated() where k >= 0 && !outputs.contains(slotIndex) {
            releases[k].append(slotIndex)
        }
        self.steps = steps
        self.slotNames = names
        self.outputSlots = outputs
        self.releases = releases
    }

    /// Runs the graph on `input` (`[1, C, H, W]` or `[C, H, W]`, already preprocessed) and returns the tensors
    /// named by `graph.outputs`, in that order.
    ///
    /// - Parameter observer: called for every produced tensor and every dynamic convolution's coefficients and
    ///   fused kernel (see `FloatEvent`).
    public func run(_ input: Tensor, observer: ((FloatEvent) -> Void)? = nil) throws -> [Tensor] {
        let expected = graph.input.shape
        guard input.shape == expected || [1] + input.shape == expected else {
            throw DynQError("input has shape \(input.shape), the graph '\(graph.name)' expects \(expected)")
        }
        var values = [Tensor?](repeating: nil, count: slotNames.count)
        values[0] = input.shape == expected ? input : input.reshaped(expected)
        observer?(.tensor(name: slotNames[0], values[0]!))
        for (k, step) in steps.enumerated() {
            let args = step.inputs.map { values[$0]! }
            let results = step.step.run(args, observer: observer)
            for (slotIndex, t) in zip(step.outputs, results) {
                values[slotIndex] = t
                observer?(.tensor(name: slotNames[slotIndex], t))
            }
            for r in releases[k] { values[r] = nil }
        }
        return outputSlots.map { values[$0]! }
    }

    /// `graph.input.preprocess` applied to one raw image of `C·H·W` bytes in CHW order: `[1, C, H, W]`.
    public func preprocess(_ pixels: [UInt8]) throws -> Tensor {
        try graph.preprocess(pixels)
    }
}

/// One node of the compiled engine: its step and the value slots it reads and writes.
private struct CompiledNode: Sendable {
    let step: any FloatStep
    let inputs: [Int]
    let outputs: [Int]
}

extension Graph {
    /// `x = (p · scale − mean[c]) / std[c]` for one raw uint8 image of `C·H·W` bytes in CHW order, as the
    /// graph input `[1, C, H, W]` (computed in float32).
    public func preprocess(_ pixels: [UInt8]) throws -> Tensor {
        let shape = input.shape
        let (c, plane) = (shape[1], shape[2] * shape[3])
        guard pixels.count == c * plane else {
            throw DynQError("image has \(pixels.count) pixels, the graph input \(shape) needs \(c * plane)")
        }
        let p = input.preprocess
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c {
                    let mean = p.mean.count == 1 ? p.mean[0] : p.mean[ch]
                    let std = p.std.count == 1 ? p.std[0] : p.std[ch]
                    var k = ch * plane
                    let end = k + plane
                    while k < end { dst[k] = (Float(src[k]) * p.scale - mean) / std; k += 1 }
                }
            }
        }
        return Tensor(shape: shape, data: out)
    }
}
