/// ONNX operators on activations → DynQ nodes (static layers; dynamic convolutions are in ONNXDynamicConv.swift).

extension ONNXImporter {
    typealias J = JSON

    func activationOp(_ op: String, _ ins: [Value]) throws -> [Value] {
        func input(_ k: Int) -> Value { k < ins.count ? ins[k] : .absent }
        func lin(_ k: Int) -> Lin? { linValue(input(k)) }
        func constant(_ k: Int, _ what: String) throws -> Lin { try requireConst(input(k), what) }
        switch op {
        case "Shape":
            return [.lin(shapeOf(try requireAct(input(0)).shape))]
        case "Pad":
            let x = try requireAct4(input(0))
            guard try attrString("mode", "constant") == "constant" else { throw fail("only zero padding (mode 'constant')") }
            var pads = try attrInts("pads") ?? []
            if let p = lin(1) { pads = try requireConst(.lin(p), "pads").ints }
            var value = Double(try attrFloat("value", 0))
            if let v = lin(2) { value = try requireConst(.lin(v), "constant_value").offset.first ?? 0 }
            if let axes = lin(3) {  // opset 18: pads for the listed axes only
                let ax = try requireConst(.lin(axes), "axes").ints.map { try normalizedAxis($0, rank: 4) }
                var full = [Int](repeating: 0, count: 8)
                for (k, a) in ax.enumerated() where pads.count == 2 * ax.count { full[a] = pads[k]; full[a + 4] = pads[k + ax.count] }
                pads = full
            }
            guard pads.count == 8, value == 0, pads.allSatisfy({ $0 <= graphMaxAttributeValue }), pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0,
                  pads.allSatisfy({ $0 >= 0 }) else {
                throw fail("only non-negative zero padding of H and W is supported")
            }
            return [.padded(x, [pads[2], pads[3], pads[6], pads[7]])]
        case "Relu": return [emit("relu", [try requireAct(input(0))], output: out(), shape: try requireAct(input(0)).shape)]
        case "LeakyRelu":
            let x = try requireAct(input(0))
            return [emit("leaky_relu", [x], output: out(), shape: x.shape,
                         [("negative_slope", .float(try attrFloat("alpha", 0.01)))])]
        case "Gelu":
            let x = try requireAct(input(0))
            guard try attrString("approximate", "none") == "none" else { throw fail("only the exact (erf) GELU, not approximate='tanh'") }
            return [emit("gelu", [x], output: out(), shape: x.shape)]
        case "HardSwish":
            let x = try requireAct(input(0))
            return [emit("hardswish", [x], output: out(), shape: x.shape)]
        case "HardSigmoid":
            let x = try requireAct(input(0))
            let alpha = try attrFloat("alpha", 0.2), beta = try attrFloat("beta", 0.5)
            guard abs(alpha - 1.0 / 6) < 1e-6, beta == 0.5 else {
                throw fail("HardSigmoid with alpha \(alpha), beta \(beta) (only PyTorch's alpha 1/6, beta 0.5)")
            }
            return [emit("hardsigmoid", [x], output: out(), shape: x.shape)]
        case "Clip":
            let x = try requireAct(input(0))
            var lo = try attrFloat("min", -.greatestFiniteMagnitude), hi = try attrFloat("max", .greatestFiniteMagnitude)
            if let l = lin(1) { lo = Float(try requireConst(.lin(l), "min").offset.first ?? Double(lo)) }
            if let h = lin(2) { hi = Float(try requireConst(.lin(h), "max").offset.first ?? Double(hi)) }
            if lo == 0 && hi == 6 { return [emit("relu6", [x], output: out(), shape: x.shape)] }
            if lo == 0 && hi >= .greatestFiniteMagnitude { return [emit("relu", [x], output: out(), shape: x.shape)] }
            throw fail("Clip to [\(lo), \(hi)] (only [0, 6] = ReLU6 and [0, ∞) = ReLU)")
        case "Sigmoid", "Softmax":
            return [try gate(op, input(0))]
        case "Mul":
            return [try multiply(ins)]
        case "Add":
            return [try add(ins)]
        case "Sub", "Div":
            throw fail("arithmetic between an activation and a constant is not supported (input normalisation "
                       + "belongs in the graph's preprocess: dynq import --mean / --std)")
        case "Conv":
            return [try conv(ins)]
        case "BatchNormalization":
            let x = try requireAct(input(0))
            guard x.shape.count == 4 else { throw fail("batch normalisation of a \(x.shape.count)-d tensor") }
            guard try attrInt("training_mode", 0) == 0, current.outputs.filter({ !$0.isEmpty }).count == 1 else {
                throw fail("training-mode batch normalisation is not supported")
            }
            let names = ["scale", "B", "mean", "var"]
            var w: [String] = []
            for k in 1...4 {
                let c = try constant(k, names[k - 1])
                guard c.count == x.shape[1] else { throw fail("\(names[k - 1]) has \(c.count) values for \(x.shape[1]) channels") }
                w.append(try weight(c, "\(currentName).\(["weight", "bias", "running_mean", "running_var"][k - 1])", shape: [c.count]))
            }
            return [emit("batchnorm", [x], output: out(), shape: x.shape,
                         [("weight", .string(w[0])), ("bias", .string(w[1])), ("running_mean", .string(w[2])),
                          ("running_var", .string(w[3])), ("eps", .float(try attrFloat("epsilon", 1e-5)))], weights: w)]
        case "MaxPool", "AveragePool":
            return [try pool(op, try requireAct(input(0)))]
        case "GlobalAveragePool":
            let x = try requireAct4(input(0))
            return [emit("global_avgpool", [x], output: out(), shape: [1, x.shape[1], 1, 1])]
        case "GlobalMaxPool":
            let x = try requireAct4(input(0))
            return [emit("maxpool", [x], output: out(), shape: [1, x.shape[1], 1, 1],
                         [("kernel", Self.ints([x.shape[2], x.shape[3]])), ("stride", Self.ints([x.shape[2], x.shape[3]])),
                          ("padding", Self.ints([0, 0, 0, 0]))])]
        case "ReduceMean":
            let x = try requireAct4(input(0))
            let axes = try axesArgument(ins.map(linValue)) ?? []
            guard Set(try axes.map { try normalizedAxis($0, rank: 4) }) == [2, 3] else {
                throw fail("mean over axes \(axes) (only the spatial axes 2, 3)")
            }
            if try attrInt("keepdims", 1) != 0 {
                return [emit("global_avgpool", [x], output: out(), shape: [1, x.shape[1], 1, 1])]
            }
            let pooled = "\(out()).pooled"
            emit("global_avgpool", [x], output: pooled, shape: [1, x.shape[1], 1, 1])
            return [emit("flatten", [Act(name: pooled, shape: [1, x.shape[1], 1, 1])], output: out(),
                         shape: [1, x.shape[1]], name: nodeName(".flatten"))]
        case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
            return [try reshapeActivation(op, ins)]
        case "Transpose":
            throw fail("transpose of an activation (only inside a channel shuffle: Reshape [1, g, C/g, H, W], Transpose [0, 2, 1, 3, 4], Reshape)")
        case "Concat":
            let xs = try ins.map(requireAct)
            guard let first = xs.first else { throw fail("concat of nothing") }
            if xs.count == 1 { return [.act(first)] }
            let axis = try normalizedAxis(try attrInt("axis", 0), rank: first.shape.count)
            guard axis == 1, xs.allSatisfy({ $0.shape.count == first.shape.count && Array($0.shape.dropFirst(2)) == Array(first.shape.dropFirst(2)) }) else {
                throw fail("concat along axis \(axis) of shapes \(xs.map(\.shape)) (only channels)")
            }
            var shape = first.shape
            shape[1] = xs.map { $0.shape[1] }.reduce(0, +)
            return [emit("concat", xs, output: out(), shape: shape, [("axis", .int(1))])]
        case "Split":
            let x = try requireAct4(input(0))
            let axis = try normalizedAxis(try attrInt("axis", 0), rank: 4)
            guard axis == 1 else { throw fail("split along axis \(axis) (only channels)") }
            let sizes = try splitSizes(ins.map(linValue), total: x.shape[1], outputs: current.outputs.count)
            guard sizes.count == current.outputs.count, sizes.reduce(0, +) == x.shape[1], sizes.allSatisfy({ $0 > 0 }) else {
                throw fail("split sizes \(sizes) do not fit \(x.shape[1]) channels and \(current.outputs.count) outputs")
            }
            return channelSplit(x, sizes: sizes, outputs: current.outputs, pick: nil)
        case "Slice":
            let x = try requireAct4(input(0))
            let args = try sliceArguments(ins.map(linValue), rank: 4)
            var shape = x.shape  // axis by axis, so that nothing of the activation's size is allocated
            for (k, a) in args.axes.enumerated() {
                shape[a] = try sliceMap([x.shape[a]], starts: [args.starts[k]], ends: [args.ends[k]], axes: [0],
                                        steps: [args.steps[k]]).shape[0]
            }
            if shape == x.shape { return [.act(x)] }
            for k in 0..<4 where k != 1 { guard shape[k] == x.shape[k] else { throw fail("slice of an activation along axis \(k) (only channels)") } }
            guard let at = args.axes.firstIndex(of: 1), args.steps[at] == 1 else { throw fail("slice of channels with a step") }
            let c = x.shape[1]
            let start = min(max(args.starts[at] < 0 ? args.starts[at] + c : args.starts[at], 0), c)
            let len = shape[1]
            guard len > 0 else { throw fail("empty slice") }
            if len == c { return [.act(x)] }
            let sizes = [start, len, c - start - len].filter { $0 > 0 }
            let outs = sizes.indices.map { $0 == (start > 0 ? 1 : 0) ? out() : "\(out()).rest\($0)" }
            return [channelSplit(x, sizes: sizes, outputs: outs, pick: start > 0 ? 1 : 0)[0]]
        case "Gemm":
            let x = try requireAct(input(0))
            guard x.shape.count == 2, try attrInt("transA", 0) == 0 else { throw fail("Gemm input must be [1, F]") }
            var w = try constant(1, "the weight")
            guard w.shape.count == 2 else { throw fail("Gemm weight must be 2-d") }
            if try attrInt("transB", 0) == 0 { w = try transposed2(w) }
            let alpha = try attrFloat("alpha", 1), beta = try attrFloat("beta", 1)
            if alpha != 1 { w = try linBinary(w, .scalar(Double(alpha)), .mul) }
            var b: Lin?
            if let c = lin(2) { b = try linBinary(try requireConst(.lin(c), "the bias"), .scalar(Double(beta)), .mul) }
            return [try linear(x, w, b)]
        case "MatMul":
            let x = try requireAct(input(0))
            guard x.shape.count == 2 else { throw fail("MatMul of an activation must be [1, F] × [F, O]") }
            let w = try constant(1, "the second operand")
            guard w.shape.count == 2 else { throw fail("MatMul of an activation must be [1, F] × [F, O]") }
            return [try linear(x, try transposed2(w), nil)]
        default:
            throw fail(onnxSupportedOps.contains(op) ? "not supported on these inputs"
                       : "unknown operator (supported: \(onnxSupportedOps.joined(separator: ", ")))")
        }
    }

    func requireAct4(_ v: Value) throws -> Act {
        let x = try requireAct(v)
        guard x.shape.count == 4 else { throw fail("input must be [1, C, H, W], not \(x.shape)") }
        return x
    }

    func channelSplit(_ x: Act, sizes: [Int], outputs: [String], pick: Int?) -> [Value] {
        let c = Candidate(name: nodeName(), op: "channel_split", inputs: [x.name], outputs: outputs,
                          attributes: [("sizes", Self.ints(sizes))], weights: [])
        for o in outputs { actProducer[o] = candidates.count }
        candidates.append(c)
        let acts = zip(outputs, sizes).map { Value.act(Act(name: $0, shape: [1, $1, x.shape[2], x.shape[3]])) }
        return pick.map { [acts[$0]] } ?? acts
    }

    func linear(_ x: Act, _ w: Lin, _ b: Lin?) throws -> Value {
        guard w.shape.count == 2, w.shape[1] == x.shape[1] else { throw fail("weight \(w.shape) does not fit input \(x.shape)") }
        let wn = try weight(w, "\(currentName).weight")
        var attrs: [(String, JSON)] = [("weight", .string(wn))]
        var ws = [wn]
        if let b {
            guard b.count == w.shape[0] else { throw fail("bias has \(b.count) values for \(w.shape[0]) outputs") }
            let bn = try weight(b, "\(currentName).bias", shape: [b.count])
            attrs.append(("bias", .string(bn))); ws.append(bn)
        }
        return emit("linear", [x], output: out(), shape: [1, w.shape[0]], attrs, weights: ws)
    }

    /// `x + y` of two activations, or `x + bias` folded into the linear / conv2d that produced `x`.
    func add(_ ins: [Value]) throws -> Value {
        guard ins.count == 2 else { throw fail("add of \(ins.count) inputs") }
        if case .act(let a) = ins[0], case .act(let b) = ins[1] {
            guard a.shape == b.shape else { throw fail("add of shapes \(a.shape) and \(b.shape) (no broadcasting)") }
            return emit("add", [a, b], output: out(), shape: a.shape)
        }
        let (xv, cv) = linValue(ins[0]) == nil ? (ins[0], ins[1]) : (ins[1], ins[0])
        let x = try requireAct(xv)
        let c = try requireConst(cv, "the other operand")
        guard let k = actProducer[x.name], ["linear", "conv2d"].contains(candidates[k].op),
              !candidates[k].attributes.contains(where: { $0.0 == "bias" }) else {
            throw fail("adding a constant to an activation (only as the bias of the MatMul / Conv before it)")
        }
        let channels = x.shape[1]
        let biasShape = candidates[k].op == "linear" ? [[channels], [1, channels]] : [[channels, 1, 1], [1, channels, 1, 1]]
        guard biasShape.contains(c.shape) else { throw fail("constant of shape \(c.shape) is not a per-channel bias of \(x.shape)") }
        var fused = candidates[k]
        let bn = try weight(c, "\(currentName).bias", shape: [channels])
        fused.name = nodeName()
        fused.outputs = [out()]
        fused.attributes.insert(("bias", .string(bn)), at: 1)
        fused.weights.append(bn)
        actProducer[out()] = candidates.count
        candidates.append(fused)
        return .act(Act(name: out(), shape: x.shape))
    }

    /// `x · sigmoid(x)` = SiLU and `x · hardsigmoid(x)` = hard swish (how older opsets spell them).
    func multiply(_ ins: [Value]) throws -> Value {
        let names = current.inputs
        guard names.count == 2 else { throw fail("mul of \(names.count) inputs") }
        for (k, other) in [(0, 1), (1, 0)] {
            guard let p = producers[names[k]] else { continue }
            let gateNode = model.graph.nodes[p]
            guard gateNode.inputs.first == names[other] else { continue }
            if gateNode.opType == "Sigmoid" {
                let x = try requireAct(ins[other])
                return emit("silu", [x], output: out(), shape: x.shape)
            }
            if gateNode.opType == "HardSigmoid" {
                let x = try requireAct(ins[other])
                return emit("hardswish", [x], output: out(), shape: x.shape)
            }
        }
        throw fail("multiplying activations (only x · Sigmoid(x) = SiLU and x · HardSigmoid(x) = hard swish)")
    }

    func reshapeActivation(_ op: String, _ ins: [Value]) throws -> Value {
        let x = try requireAct(ins[0])
        let target = try outputShape(op, x.shape, ins)
        if target == x.shape { return .act(x) }
        if x.shape.count == 4, target == [1, x.shape[1] * x.shape[2] * x.shape[3]] {
            return emit("flatten", [x], output: out(), shape: target)
        }
        if x.shape.count == 4, target.count == 5, target[0] == 1, target[1] * target[2] == x.shape[1],
           Array(target[3...]) == Array(x.shape[2...]) {
            return .shuffle(src: x, a: target[1], b: target[2], transposed: false)
        }
        throw fail("reshape \(x.shape) -> \(target) (only flatten to [1, F] and the channel-shuffle views)")
    }

    func outputShape(_ op: String, _ shape: [Int], _ ins: [Value]) throws -> [Int] {
        let probe = Lin(shape: shape, offset: [])  // reshapes only read the shape: nothing to allocate
        guard case .lin(let l)? = try fold(op, [probe] + ins.dropFirst().map(linValue), present: [probe]).first else {
            throw fail("cannot compute the output shape")
        }
        return l.shape
    }

    /// The second and third steps of a channel shuffle: Transpose [0, 2, 1, 3, 4], then Reshape to [1, C, H, W].
    func shuffleStep(_ op: String, src: Act, a: Int, b: Int, transposed: Bool) throws -> Value {
        let five = [1, transposed ? b : a, transposed ? a : b, src.shape[2], src.shape[3]]
        if op == "Transpose", !transposed, try attrInts("perm") == [0, 2, 1, 3, 4] {
            return .shuffle(src: src, a: a, b: b, transposed: true)
        }
        if op == "Identity" { return .shuffle(src: src, a: a, b: b, transposed: transposed) }
        if ["Reshape", "Flatten"].contains(op), transposed {
            let target = try outputShape(op, five, current.inputs.map { values[$0] ?? .absent })
            if target == src.shape {
                return emit("channel_shuffle", [src], output: out(), shape: src.shape, [("groups", .int(a))])
            }
        }
        throw fail("only Reshape [1, g, C/g, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [1, C, H, W] (a channel shuffle) is supported on 5-d tensors")
    }

    func pool(_ op: String, _ x: Act) throws -> Value {
        guard x.shape.count == 4 else { throw fail("input must be [1, C, H, W]") }
        guard let k = try attrInts("kernel_shape"), k.count == 2, k.allSatisfy({ $0 > 0 }) else {
            throw fail("kernel_shape must have 2 positive entries")
        }
        if let d = try attrInts("dilations"), d.contains(where: { $0 != 1 }) { throw fail("dilated pooling is not supported") }
        guard current.outputs.filter({ !$0.isEmpty }).count == 1 else { throw fail("the indices output is not supported") }
        let s = try attrInts("strides") ?? [1, 1]
        var (pads, outHW) = try windowPads(x.shape, kernel: k, stride: s, dilation: [1, 1])
        if try attrInt("ceil_mode", 0) != 0 {
            for d in 0..<2 {
                let n = x.shape[2 + d], before = pads[d], after = pads[d + 2]
                var o = (n + before + after - k[d] + s[d] - 1) / s[d] + 1
                if (o - 1) * s[d] >= n + before { o -= 1 }
                if o > outHW[d] {
                    guard op == "MaxPool" else { throw fail("ceil_mode changes the output size of average pooling (not supported)") }
                    pads[d + 2] += (o - 1) * s[d] + k[d] - (n + before + after)
                    outHW[d] = o
                }
            }
        }
        var attrs: [(String, JSON)] = [("kernel", Self.ints(k)), ("stride", Self.ints(s)), ("padding", Self.ints(pads))]
        if op == "AveragePool" { attrs.append(("count_include_pad", .bool(try attrInt("count_include_pad", 0) != 0))) }
        return emit(op == "MaxPool" ? "maxpool" : "avgpool", [x], output: out(), shape: [1, x.shape[1]] + outHW, attrs)
    }

    /// `[top, left, bottom, right]` padding (from `pads` or `auto_pad`) and the output `[H, W]` of a window op.
    func windowPads(_ shape: [Int], kernel k: [Int], stride s: [Int], dilation d: [Int]) throws -> ([Int], [Int]) {
        guard s.count == 2, d.count == 2, s.allSatisfy({ $0 > 0 }), d.allSatisfy({ $0 > 0 }) else {
            throw fail("strides and dilations must have 2 positive entries")
        }
        var pads = try attrInts("pads") ?? [0, 0, 0, 0]
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw fail("pads must have 4 non-negative entries") }
        let auto = try attrString("auto_pad", "NOTSET")
        let span = (0..<2).map { (k[$0] - 1) * d[$0] + 1 }
        switch auto {
        case "NOTSET": break
        case "VALID": pads = [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            for a in 0..<2 {
                let n = shape[2 + a]
                let total = max(((n + s[a] - 1) / s[a] - 1) * s[a] + span[a] - n, 0)
                let small = total / 2
                pads[a] = auto == "SAME_UPPER" ? small : total - small
                pads[a + 2] = total - pads[a]
            }
        default: throw fail("auto_pad '\(auto)'")
        }
        let out = try (0..<2).map { a -> Int in
            let n = shape[2 + a] + pads[a] + pads[a + 2] - span[a]
            guard n >= 0 else { throw fail("the window is larger than the padded input") }
            return n / s[a] + 1
        }
        return (pads, out)
    }

    /// `Conv` with a constant weight → `conv2d`; with a computed weight → `dynamic_conv2d` (ONNXDynamicConv.swift).
    func conv(_ ins: [Value]) throws -> Value {
        var extra = [0, 0, 0, 0]
        var ins = ins
        if case .padded(let a, let p) = ins[0] { ins[0] = .act(a); extra = p }
        let x = try requireAct4(ins[0])
        guard ins.count >= 2, let w = linValue(ins[1]) else {
            if ins.count >= 2, case .unsupported(let e) = ins[1] { throw e }
            throw fail("the weight is neither a constant nor computed from a coefficient predictor")
        }
        guard w.shape.count == 4 else { throw fail("only 2-d convolutions (weight \(w.shape))") }
        let groups = try attrInt("group", 1)
        guard groups > 0, x.shape[1] % groups == 0, w.shape[0] % groups == 0, w.shape[1] * groups == x.shape[1] else {
            throw fail("weight \(w.shape) with \(groups) groups does not fit \(x.shape[1]) input channels")
        }
        if let k = try attrInts("kernel_shape"), k != Array(w.shape[2...]) { throw fail("kernel_shape \(k) differs from the weight \(w.shape)") }
        let s = try attrInts("strides") ?? [1, 1], d = try attrInts("dilations") ?? [1, 1]
        let padded = [1, x.shape[1], x.shape[2] + extra[0] + extra[2], x.shape[3] + extra[1] + extra[3]]
        var (pads, outHW) = try windowPads(padded, kernel: Array(w.shape[2...]), stride: s, dilation: d)
        pads = zip(pads, extra).map { $0 + $1 }
        let geometry: [(String, JSON)] = [("stride", Self.ints(s)), ("padding", Self.ints(pads)), ("dilation", Self.ints(d)),
                                          ("groups", .int(groups))]
        let shape = [1, w.shape[0]] + outHW
        let bias: Lin? = ins.count > 2 ? linValue(ins[2]) : nil
        if ins.count > 2, case .unsupported(let e) = ins[2] { throw e }
        if !w.isConstant || !(bias?.isConstant ?? true) {
            return try dynamicConv(x, weight: w, bias: bias, geometry: geometry, shape: shape)
        }
        let wn = try weight(w, "\(currentName).weight")
        var attrs: [(String, JSON)] = [("weight", .string(wn))]
        var ws = [wn]
        if let bias {
            guard bias.count == w.shape[0] else { throw fail("bias has \(bias.count) values for \(w.shape[0]) channels") }
            let bn = try weight(bias, "\(currentName).bias", shape: [bias.count])
            attrs.append(("bias", .string(bn))); ws.append(bn)
        }
        return emit("conv2d", [x], output: out(), shape: shape, attrs + geometry, weights: ws)
    }
}
