import DynQCore
import DynQGraph

/// How a zoo weight is initialised (see `ZooWeights.swift`). Every tensor is drawn from its own seeded stream, so
/// a tensor's values depend only on the seed and its name, never on the order tensors are generated in.
public enum WeightInit: Equatable, Sendable {
    /// `N(0, std²)`.
    case normal(std: Float)
    /// `U[lo, hi)`.
    case uniform(lo: Float, hi: Float)
    /// Every element `value`.
    case constant(Float)
}

/// A weight tensor the graph refers to: name, shape and initialiser (the values are made on demand).
public struct WeightSpec: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var initializer: WeightInit
    public init(name: String, shape: [Int], initializer: WeightInit) {
        self.name = name; self.shape = shape; self.initializer = initializer
    }
    public var count: Int { shape.reduce(1, *) }
}

/// Builds a graph node by node while tracking activation shapes (`[C, H, W]`, or `[F]` after flatten/linear/cpm),
/// so that every weight gets its shape and every conv its output size. Names follow PyTorch's module paths
/// loosely (`layer1.0.conv1`); a node's output tensor has the node's name, its weights `NAME.weight` etc.
///
/// He initialisation: a conv or linear feeding a ReLU gets `std = √(2 / fan_in)` with `fan_in = (I/groups)·kh·kw`.
/// A dynamic conv's `g` kernels each get `std = √(2 / fan_in) · 2/√g`: with sigmoid coefficients around ½ the
/// fused kernel `Σ_t η_t W_t` then has about the He variance again.
struct ZooBuilder {
    private(set) var nodes: [Node] = []
    private(set) var weights: [WeightSpec] = []
    private(set) var shapes: [String: [Int]] = [:]
    let inputName = "input"

    init(channels: Int, height: Int, width: Int) {
        shapes[inputName] = [channels, height, width]
    }

    func shape(_ t: String) -> [Int] {
        guard let s = shapes[t] else { preconditionFailure("ZooBuilder: unknown tensor \(t)") }
        return s
    }
    func channels(_ t: String) -> Int { shape(t)[0] }

    private mutating func add(_ name: String, _ op: Op, _ inputs: [String], outShape: [Int]) -> String {
        precondition(shapes[name] == nil, "ZooBuilder: duplicate tensor \(name)")
        nodes.append(Node(name: name, op: op, inputs: inputs, outputs: [name]))
        shapes[name] = outShape
        return name
    }

    private mutating func weight(_ name: String, _ shape: [Int], _ initializer: WeightInit) -> String {
        weights.append(WeightSpec(name: name, shape: shape, initializer: initializer))
        return name
    }

    static func outSize(_ n: Int, k: Int, stride: Int, pad: Int) -> Int { (n + 2 * pad - k) / stride + 1 }

    // MARK: - Layers

    /// `conv2d` without bias (a batchnorm follows), `padding = k/2` on every side.
    mutating func conv(_ name: String, _ x: String, out: Int, k: Int, stride: Int = 1, groups: Int = 1) -> String {
        let s = shape(x)
        let cin = s[0]
        precondition(cin % groups == 0 && out % groups == 0, "ZooBuilder: \(name) groups \(groups) vs \(cin)→\(out)")
        let fanIn = cin / groups * k * k
        let w = weight("\(name).weight", [out, cin / groups, k, k], .normal(std: (2 / Float(fanIn)).squareRoot()))
        let (step, pad) = (Pair(stride, stride), Padding(all: k / 2))
        let h = Self.outSize(s[1], k: k, stride: stride, pad: k / 2)
        let wd = Self.outSize(s[2], k: k, stride: stride, pad: k / 2)
        return add(name, .conv2d(Conv2DAttrs(weight: w, stride: step, padding: pad, groups: groups)), [x], outShape: [out, h, wd])
    }

    /// `dynamic_conv2d`, per-channel coefficients `coeffs[offset ..< offset + out·g]`, no bias (a batchnorm follows).
    mutating func dynamicConv(_ name: String, _ x: String, coeffs: String, offset: Int, out: Int, k: Int,
                              stride: Int = 1, groups: Int = 1, g: Int) -> String {
        let s = shape(x)
        let cin = s[0]
        precondition(cin % groups == 0 && out % groups == 0, "ZooBuilder: \(name) groups \(groups) vs \(cin)→\(out)")
        precondition(offset + out * g <= shape(coeffs)[0], "ZooBuilder: \(name) coefficient slice past the CPM")
        let fanIn = cin / groups * k * k
        let std = (2 / Float(fanIn)).squareRoot() * 2 / Float(g).squareRoot()
        let w = weight("\(name).weight", [g, out, cin / groups, k, k], .normal(std: std))
        let (step, pad) = (Pair(stride, stride), Padding(all: k / 2))
        let h = Self.outSize(s[1], k: k, stride: stride, pad: k / 2)
        let wd = Self.outSize(s[2], k: k, stride: stride, pad: k / 2)
        let attrs = DynamicConv2DAttrs(weight: w, mode: .perChannel, coeffOffset: offset, stride: step, padding: pad,
                                       groups: groups)
        return add(name, .dynamicConv2d(attrs), [x, coeffs], outShape: [out, h, wd])
    }

    /// Inference-mode batchnorm with plausible random statistics. `gamma` is the range of the scale: a residual
    /// branch's last batchnorm gets a small one so that the sum of many blocks stays in a sane range.
    mutating func batchnorm(_ name: String, _ x: String, gamma: ClosedRange<Float> = 0.8...1.2) -> String {
        let c = channels(x)
        let attrs = BatchnormAttrs(
            weight: weight("\(name).weight", [c], .uniform(lo: gamma.lowerBound, hi: gamma.upperBound)),
            bias: weight("\(name).bias", [c], .normal(std: 0.1)),
            runningMean: weight("\(name).running_mean", [c], .normal(std: 0.1)),
            runningVar: weight("\(name).running_var", [c], .uniform(lo: 0.5, hi: 1.5)))
        return add(name, .batchnorm(attrs), [x], outShape: shape(x))
    }

    mutating func relu(_ name: String, _ x: String) -> String { add(name, .relu, [x], outShape: shape(x)) }
    mutating func relu6(_ name: String, _ x: String) -> String { add(name, .relu6, [x], outShape: shape(x)) }

    mutating func addTensors(_ name: String, _ a: String, _ b: String) -> String {
        precondition(shape(a) == shape(b), "ZooBuilder: \(name) adds \(shape(a)) and \(shape(b))")
        return add(name, .add, [a, b], outShape: shape(a))
    }

    mutating func maxpool(_ name: String, _ x: String, k: Int, stride: Int, pad: Int) -> String {
        let s = shape(x)
        let attrs = PoolAttrs(kernel: Pair(k, k), stride: Pair(stride, stride), padding: Padding(all: pad))
        return add(name, .maxpool(attrs), [x],
                   outShape: [s[0], Self.outSize(s[1], k: k, stride: stride, pad: pad),
                              Self.outSize(s[2], k: k, stride: stride, pad: pad)])
    }

    mutating func concat(_ name: String, _ xs: [String]) -> String {
        let s = shape(xs[0])
        let c = xs.reduce(0) { $0 + channels($1) }
        return add(name, .concat, xs, outShape: [c, s[1], s[2]])
    }

    mutating func channelShuffle(_ name: String, _ x: String, groups: Int) -> String {
        add(name, .channelShuffle(groups: groups), [x], outShape: shape(x))
    }

    /// `channel_split` into `sizes`; the outputs are `NAME.0`, `NAME.1`, ...
    mutating func channelSplit(_ name: String, _ x: String, sizes: [Int]) -> [String] {
        let s = shape(x)
        precondition(sizes.reduce(0, +) == s[0], "ZooBuilder: \(name) splits \(s[0]) channels into \(sizes)")
        let outs = sizes.indices.map { "\(name).\($0)" }
        for (o, c) in zip(outs, sizes) {
            precondition(shapes[o] == nil)
            shapes[o] = [c, s[1], s[2]]
        }
        nodes.append(Node(name: name, op: .channelSplit(sizes: sizes), inputs: [x], outputs: outs))
        return outs
    }

    /// Global average pool, flatten, linear classifier (`N(0, 0.01²)` weights, zero bias, as torchvision).
    mutating func classifier(_ x: String, classes: Int, output: String) -> String {
        let pooled = add("avgpool", .globalAvgpool, [x], outShape: [channels(x), 1, 1])
        let flat = add("flatten", .flatten, [pooled], outShape: [channels(x)])
        let f = channels(x)
        let attrs = LinearAttrs(weight: weight("\(output).weight", [classes, f], .normal(std: 0.01)),
                                bias: weight("\(output).bias", [classes], .constant(0)))
        return add(output, .linear(attrs), [flat], outShape: [classes])
    }

    /// DyNet's coefficient prediction module: global average pool, `fc1` (`C → hidden`), ReLU, `fc2`
    /// (`hidden → n`), sigmoid. `fc1` is He-initialised; `fc2` has `std = 1/√hidden` so that the gate's
    /// logits have about unit variance and the coefficients spread around ½.
    mutating func cpm(_ name: String, _ x: String, hidden: Int, n: Int) -> String {
        let c = channels(x)
        let attrs = CPMAttrs(
            fc1Weight: weight("\(name).fc1.weight", [hidden, c], .normal(std: (2 / Float(c)).squareRoot())),
            fc1Bias: weight("\(name).fc1.bias", [hidden], .constant(0)),
            fc2Weight: weight("\(name).fc2.weight", [n, hidden], .normal(std: 1 / Float(hidden).squareRoot())),
            fc2Bias: weight("\(name).fc2.bias", [n], .constant(0)),
            gate: .sigmoid)
        return add(name, .cpm(attrs), [x], outShape: [n])
    }

    func graph(name: String, output: String, preprocess: Preprocess) -> Graph {
        let s = shape(inputName)
        return Graph(name: name,
                     input: InputSpec(name: inputName, shape: [1] + s, preprocess: preprocess),
                     outputs: [output], nodes: nodes)
    }
}
