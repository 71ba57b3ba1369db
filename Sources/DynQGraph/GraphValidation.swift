/// Graph validation and shape inference (docs/graph-format.md, "Validation").
///
/// `inferShapes` walks the nodes in order and refuses, with an error naming the node: duplicate node names,
/// tensors used before they are produced or produced twice, missing weights or weights of the wrong shape,
/// inputs whose shapes do not fit the op (channels vs weight, `add` of different shapes, split sizes, groups
/// not dividing channels, `coeff_offset` slices past the CPM output), non-positive output sizes, absurdly large
/// tensors, and graph outputs that no node produces.

/// The most elements any tensor (activation or weight) may have.
public let graphMaxTensorElements = 1 << 31

/// Validates `graph` against its weights and returns the shape of every activation tensor (the graph input
/// included), keyed by tensor name. Also refuses non-finite weights and negative `running_var` entries.
///
/// - Parameter file: named in errors (typically the graph file).
public func inferShapes(graph: Graph, weights: [String: Tensor], file: String? = nil) throws -> [String: [Int]] {
    let shapes = try inferShapes(graph: graph, weightShapes: weights.mapValues(\.shape), file: file)
    for node in graph.nodes {
        for w in node.op.weightNames {
            guard let t = weights[w] else { continue }
            if !t.data.allSatisfy({ $0.isFinite }) {
                throw DynQError(file: file, "node '\(node.name)' (\(node.op.kind)): weight '\(w)' holds NaN or infinite values")
            }
        }
        if case .batchnorm(let a) = node.op, let v = weights[a.runningVar], v.data.contains(where: { $0 < 0 }) {
            throw DynQError(file: file, "node '\(node.name)' (batchnorm): running_var '\(a.runningVar)' has negative entries")
        }
    }
    return shapes
}

/// Shape-only validation: like `inferShapes(graph:weights:)` but needs only each weight's shape (for the model
/// zoo and the simulator, which have no trained weights).
public func inferShapes(graph: Graph, weightShapes: [String: [Int]], file: String? = nil) throws -> [String: [Int]] {
    var v = ShapeInference(graph: graph, weightShapes: weightShapes, file: file)
    return try v.run()
}

extension Op {
    /// The tensor names of every weight the op reads, in attribute order.
    public var weightNames: [String] {
        switch self {
        case .conv2d(let a): return [a.weight] + [a.bias].compactMap { $0 }
        case .dynamicConv2d(let a): return [a.weight] + [a.mixedBias, a.bias].compactMap { $0 }
        case .cpm(let a): return [a.fc1Weight] + [a.fc1Bias, a.fc2Weight, a.fc2Bias].compactMap { $0 }
        case .batchnorm(let a): return [a.weight, a.bias, a.runningMean, a.runningVar]
        case .linear(let a): return [a.weight] + [a.bias].compactMap { $0 }
        default: return []
        }
    }
}

/// The output size of a convolution or pooling window along one axis (floor mode), or `nil` if not positive.
public func windowOutputSize(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int,
                             dilation: Int = 1) -> Int? {
    let span = dilation * (kernel - 1) + 1
    let room = input + padBefore + padAfter - span
    guard room >= 0 else { return nil }
    return room / stride + 1
}

private struct ShapeInference {
    let graph: Graph
    let weightShapes: [String: [Int]]
    let file: String?
    var shapes: [String: [Int]] = [:]
    /// Which op produced each tensor ("input" for the graph input).
    var producers: [String: String] = [:]
    var node: Node! = nil

    init(graph: Graph, weightShapes: [String: [Int]], file: String?) {
        self.graph = graph; self.weightShapes = weightShapes; self.file = file
    }

    func fail(_ message: String) -> DynQError {
        guard let node else { return DynQError(file: file, message) }
        return DynQError(file: file, "node '\(node.name)' (\(node.op.kind)): \(message)")
    }

    mutating func run() throws -> [String: [Int]] {
        let input = graph.input
        guard input.shape.count == 4, input.shape[0] == 1, input.shape.allSatisfy({ $0 > 0 }) else {
            throw fail("input '\(input.name)': shape \(input.shape) is not [1, C, H, W] with positive sizes")
        }
        guard let n = Tensor.elementCount(input.shape), n <= graphMaxTensorElements else {
            throw fail("input '\(input.name)': shape \(input.shape) is absurdly large")
        }
        let c = input.shape[1]
        for (key, values) in [("mean", input.preprocess.mean), ("std", input.preprocess.std)]
        where values.count != 1 && values.count != c {
            throw fail("input.preprocess.\(key) has \(values.count) entries; the input has \(c) channels")
        }
        shapes[input.name] = input.shape
        producers[input.name] = "input"

        var nodeNames = Set<String>()
        for n in graph.nodes {
            node = n
            guard nodeNames.insert(n.name).inserted else { throw fail("duplicate node name '\(n.name)'") }
            var ins: [[Int]] = []
            for t in n.inputs {
                guard let s = shapes[t] else {
                    throw fail("input '\(t)' is not the graph input or an output of an earlier node")
                }
                ins.append(s)
            }
            let outs = try infer(n, ins)
            precondition(outs.count == n.outputs.count)
            for (t, s) in zip(n.outputs, outs) {
                guard shapes[t] == nil else { throw fail("output '\(t)' is already produced earlier in the graph") }
                guard s.allSatisfy({ $0 > 0 }) else { throw fail("output '\(t)' would have non-positive shape \(s)") }
                guard let count = Tensor.elementCount(s), count <= graphMaxTensorElements else {
                    throw fail("output '\(t)' would have absurd shape \(s)")
                }
                shapes[t] = s
                producers[t] = n.op.kind
            }
        }
        node = nil
        for t in graph.outputs where shapes[t] == nil {
            throw fail("graph output '\(t)' is not produced by any node")
        }
        return shapes
    }

    // MARK: Helpers

    func weight(_ name: String, _ role: String) throws -> [Int] {
        guard let s = weightShapes[name] else { throw fail("missing weight '\(name)' (\(role))") }
        guard let n = Tensor.elementCount(s), n <= graphMaxTensorElements else {
            throw fail("weight '\(name)' has absurd shape \(s)")
        }
        return s
    }

    func expectWeight(_ name: String?, _ role: String, _ expected: [Int]) throws {
        guard let name else { return }
        let s = try weight(name, role)
        guard s == expected else { throw fail("weight '\(name)' (\(role)) has shape \(s), expected \(expected)") }
    }

    func rank4(_ s: [Int], _ what: String = "input") throws -> (c: Int, h: Int, w: Int) {
        guard s.count == 4 else { throw fail("\(what) must be [1, C, H, W], not \(s)") }
        return (s[1], s[2], s[3])
    }

    func rank2or4(_ s: [Int]) throws {
        guard s.count == 4 || s.count == 2 else { throw fail("input must be [1, C, H, W] or [1, F], not \(s)") }
    }

    func convOutput(_ x: [Int], channels o: Int, kernel kh: Int, _ kw: Int, _ g: ConvGeometry) throws -> [Int] {
        let (_, h, w) = try rank4(x)
        guard let oh = windowOutputSize(input: h, kernel: kh, stride: g.stride.h, padBefore: g.padding.top,
                                        padAfter: g.padding.bottom, dilation: g.dilation.h),
              let ow = windowOutputSize(input: w, kernel: kw, stride: g.stride.w, padBefore: g.padding.left,
                                        padAfter: g.padding.right, dilation: g.dilation.w) else {
            throw fail("kernel \(kh)×\(kw) (dilation \(g.dilation.h)×\(g.dilation.w)) does not fit the padded input \(h)×\(w): output size would be non-positive")
        }
        return [1, o, oh, ow]
    }

    /// Checks a `[O, C/groups, kh, kw]` kernel (`prefix` = leading dims, e.g. `[g]` for dynamic kernels) against
    /// input `x`; returns (O, kh, kw).
    func checkKernel(_ name: String, _ s: [Int], prefix: Int, x: [Int], groups: Int) throws -> (Int, Int, Int) {
        let (c, _, _) = try rank4(x)
        guard s.count == 4 + prefix, s.allSatisfy({ $0 > 0 }) else {
            throw fail("weight '\(name)' has shape \(s), expected \(prefix == 1 ? "[g, O, C/groups, kh, kw]" : "[O, C/groups, kh, kw]") with positive sizes")
        }
        let o = s[prefix], ipg = s[prefix + 1]
        guard c % groups == 0 else { throw fail("groups \(groups) does not divide the \(c) input channels") }
        guard o % groups == 0 else { throw fail("groups \(groups) does not divide the \(o) output channels of '\(name)'") }
        guard ipg == c / groups else {
            throw fail("weight '\(name)' expects \(ipg * groups) input channels (\(ipg) per group × \(groups) groups), the input has \(c)")
        }
        return (o, s[prefix + 2], s[prefix + 3])
    }

    // MARK: Ops

    func infer(_ n: Node, _ ins: [[Int]]) throws -> [[Int]] {
        let x = ins[0]
        switch n.op {
        case .conv2d(let a):
            let ws = try weight(a.weight, "weight")
            let (o, kh, kw) = try checkKernel(a.weight, ws, prefix: 0, x: x, groups: a.geometry.groups)
            try expectWeight(a.bias, "bias", [o])
            return [try convOutput(x, channels: o, kernel: kh, kw, a.geometry)]

        case .dynamicConv2d(let a):
            let ws = try weight(a.weight, "weight")
            let (o, kh, kw) = try checkKernel(a.weight, ws, prefix: 1, x: x, groups: a.geometry.groups)
            let g = ws[0]
            try expectWeight(a.mixedBias, "mixed_bias", [g, o])
            try expectWeight(a.bias, "bias", [o])
            let coeffs = ins[1]
            guard producers[n.inputs[1]] == "cpm", coeffs.count == 2 else {
                throw fail("coefficients '\(n.inputs[1])' must be the output of a cpm node")
            }
            let need = a.mode == .perChannel ? o * g : g
            guard a.coeffOffset + need <= coeffs[1] else {
                throw fail("reads coefficients \(a.coeffOffset)..<\(a.coeffOffset + need) (\(a.mode.rawValue): \(a.mode == .perChannel ? "O·g = \(o)·\(g)" : "g = \(g)")) but '\(n.inputs[1])' has only \(coeffs[1])")
            }
            return [try convOutput(x, channels: o, kernel: kh, kw, a.geometry)]

        case .cpm(let a):
            let (c, _, _) = try rank4(x)
            let w1 = try weight(a.fc1Weight, "fc1_weight")
            guard w1.count == 2, w1[0] > 0, w1[1] == c else {
                throw fail("weight '\(a.fc1Weight)' (fc1_weight) has shape \(w1), expected [H, \(c)]")
            }
            try expectWeight(a.fc1Bias, "fc1_bias", [w1[0]])
            var outCount = w1[0]
            if let f2 = a.fc2Weight {
                let w2 = try weight(f2, "fc2_weight")
                guard w2.count == 2, w2[0] > 0, w2[1] == w1[0] else {
                    throw fail("weight '\(f2)' (fc2_weight) has shape \(w2), expected [N, \(w1[0])]")
                }
                outCount = w2[0]
                try expectWeight(a.fc2Bias, "fc2_bias", [outCount])
            } else if a.fc2Bias != nil {
                throw fail("fc2_bias given without fc2_weight")
            }
            if case .softmax(_, let group) = a.gate, group != Gate.wholeOutputGroup, outCount % group != 0 {
                throw fail("softmax_group \(group) does not divide the \(outCount) coefficients")
            }
            return [[1, outCount]]

        case .batchnorm(let a):
            let (c, _, _) = try rank4(x)
            try expectWeight(a.weight, "weight", [c])
            try expectWeight(a.bias, "bias", [c])
            try expectWeight(a.runningMean, "running_mean", [c])
            try expectWeight(a.runningVar, "running_var", [c])
            return [x]

        case .relu, .relu6, .hardswish, .hardsigmoid:
            try rank2or4(x)
            return [x]

        case .add:
            guard ins[0] == ins[1] else { throw fail("cannot add shapes \(ins[0]) and \(ins[1])") }
            try rank2or4(x)
            return [x]

        case .concat:
            try rank2or4(x)
            var channels = 0
            for s in ins {
                guard s.count == x.count, s[0] == 1, Array(s.dropFirst(2)) == Array(x.dropFirst(2)) else {
                    throw fail("cannot concatenate shapes \(ins.map { "\($0)" }.joined(separator: ", ")) along channels")
                }
                channels += s[1]
            }
            var out = x
            out[1] = channels
            return [out]

        case .channelShuffle(let g):
            try rank2or4(x)
            guard x[1] % g == 0 else { throw fail("groups \(g) does not divide the \(x[1]) channels") }
            return [x]

        case .channelSplit(let sizes):
            try rank2or4(x)
            let total = sizes.reduce(0, +)
            guard total == x[1] else { throw fail("split sizes \(sizes) sum to \(total), the input has \(x[1]) channels") }
            return sizes.map { var s = x; s[1] = $0; return s }

        case .maxpool(let p), .avgpool(let p):
            let (c, h, w) = try rank4(x)
            let pad = p.padding
            guard pad.top <= p.kernel.h / 2, pad.bottom <= p.kernel.h / 2,
                  pad.left <= p.kernel.w / 2, pad.right <= p.kernel.w / 2 else {
                throw fail("padding [\(pad.top), \(pad.left), \(pad.bottom), \(pad.right)] exceeds half the kernel \(p.kernel.h)×\(p.kernel.w)")
            }
            guard let oh = windowOutputSize(input: h, kernel: p.kernel.h, stride: p.stride.h, padBefore: pad.top,
                                            padAfter: pad.bottom),
                  let ow = windowOutputSize(input: w, kernel: p.kernel.w, stride: p.stride.w, padBefore: pad.left,
                                            padAfter: pad.right) else {
                throw fail("kernel \(p.kernel.h)×\(p.kernel.w) does not fit the padded input \(h)×\(w): output size would be non-positive")
            }
            return [[1, c, oh, ow]]

        case .globalAvgpool:
            let (c, _, _) = try rank4(x)
            return [[1, c, 1, 1]]

        case .flatten:
            try rank2or4(x)
            return [[1, x.dropFirst().reduce(1, *)]]

        case .linear(let a):
            guard x.count == 2 else { throw fail("input must be [1, F] (insert a flatten), not \(x)") }
            let ws = try weight(a.weight, "weight")
            guard ws.count == 2, ws[0] > 0, ws[1] == x[1] else {
                throw fail("weight '\(a.weight)' has shape \(ws), expected [O, \(x[1])]")
            }
            try expectWeight(a.bias, "bias", [ws[0]])
            return [[1, ws[0]]]

        case .softmax:
            guard x.count == 2 else { throw fail("input must be [1, F], not \(x)") }
            return [x]
        }
    }
}
