/// Recognition of dynamic convolutions in ONNX graphs: the coefficient predictor (CPM) and the convolutions whose
/// weight is computed from its output.
///
/// The CPM is matched backwards from a `Sigmoid` or `Softmax`: [Reshape / Flatten / Squeeze]* [Div or Mul by a
/// scalar = temperature, softmax only] → fc2 → Relu → fc1 → [reshapes] → GlobalAveragePool or ReduceMean over
/// (H, W) of an activation `x`, where an fc is `Gemm`, `MatMul` (+ `Add`) or a 1×1 `Conv` on `[1, C, 1, 1]`; fc2 and
/// the Relu are optional (one-layer predictors). Softmax groups come from the shape the softmax runs over.
///
/// A `Conv` whose weight (and maybe bias) was folded into a coefficient-affine `Lin` is a dynamic convolution
/// whatever ops computed it (Einsum, Mul + ReduceSum, MatMul over a `[g, …]` bank, slices, reshapes, expands):
/// the terms say which coefficients each output channel reads. All channels reading the same `g` coefficients
/// is `per_layer`; channel `o` reading its own `g` consecutive coefficients `off + o·g + t` is `per_channel`. The
/// kernel bank is then read off the terms, `W[t, o] = weight of coefficient off (+ o·g) + t`, so the import is
/// exact (no fitting).

struct CPMInfo {
    /// DynQ node and output tensor names.
    var name: String
    var output: String
    /// Shape of the gate's output (its elements are the coefficients, C order).
    var outputShape: [Int]
    var x: Act
    var fc1: (Lin, Lin?)
    var fc2: (Lin, Lin?)?
    /// nil: sigmoid gate.
    var softmax: (temperature: Float, group: Int)?
    var activation: Result<Act, DynQError>
    var emitted = false

    var count: Int { outputShape.reduce(1, *) }
}

extension ONNXImporter {
    func gateActivation(_ r: Int) throws -> Act {
        switch cpms[r].activation {
        case .success(let a): return a
        case .failure(let e): throw e
        }
    }

    /// `Sigmoid` / `Softmax`: an activation node and, if the node ends a coefficient predictor, a CPM.
    func gate(_ op: String, _ input: Value) throws -> Value {
        let axis = try attrInt("axis", opset >= 13 ? -1 : 1)
        let activation: Result<Act, DynQError>
        do {
            let a = try requireAct(input)
            if op == "Sigmoid" {
                guard case .act(let y) = emit("sigmoid", [a], output: out(), shape: a.shape) else { fatalError() }
                activation = .success(y)
            } else {
                guard a.shape.count == 2, try normalizedAxis(axis, rank: 2) == 1 else {
                    throw fail("softmax of a \(a.shape) activation (only over the features of [1, F])")
                }
                guard case .act(let y) = emit("softmax", [a], output: out(), shape: a.shape) else { fatalError() }
                activation = .success(y)
            }
        } catch let e as DynQError {
            activation = .failure(e)
        } catch let e as LinError {
            activation = .failure(fail(e.message))
        }
        if let info = try? recognizeCPM(op, axis: axis, activation: activation) {
            cpms.append(info)
            return .gate(cpms.count - 1)
        }
        switch activation {
        case .success(let a): return .act(a)
        case .failure(let e): throw e
        }
    }

    private static let reshapes: Set<String> = ["Reshape", "Flatten", "Squeeze", "Identity", "Dropout"]

    private func node(producing value: String) -> ONNXNode? {
        producers[value].map { model.graph.nodes[$0] }
    }

    /// Input `k` of `n`, or "" (ONNX's name for an absent input: no node produces it, and `constant` and the pool
    /// lookup below treat it as absent, as `translate` does) when `n` has fewer inputs. The pattern walks below follow producers that were never checked by a translation
    /// (an unsupported node stays in the graph as a deferred error), so a fuzzed node may have any number of inputs
    /// (fixtures/onnx/fuzz/pool-without-inputs.onnx trapped indexing a GlobalAveragePool's missing input).
    private func arg(_ n: ONNXNode, _ k: Int) -> String { k < n.inputs.count ? n.inputs[k] : "" }

    private func constant(_ name: String) -> Lin? {
        if !name.isEmpty, case .lin(let l)? = values[name], l.isConstant { return l }
        return nil
    }

    private func attribute(_ n: ONNXNode, _ key: String) -> Int64? {
        if case .int(let i)? = n.attributes[key] { return i }
        return nil
    }

    private func floatAttribute(_ n: ONNXNode, _ key: String) -> Float? {
        if case .float(let f)? = n.attributes[key] { return f }
        return nil
    }

    /// Follows reshape-like nodes back from `value`.
    private func skipReshapes(_ value: String) -> String {
        var v = value
        while let n = node(producing: v), Self.reshapes.contains(n.opType), let i = n.inputs.first { v = i }
        return v
    }

    /// A fully connected layer producing `value`: (its input, weight [O, F], bias [O]).
    private func fullyConnected(_ value: String) throws -> (String, Lin, Lin?)? {
        guard let n = node(producing: value) else { return nil }
        func flat(_ l: Lin?) -> Lin? { l.map { $0.reshaped([$0.count]) } }
        switch n.opType {
        case "Gemm":
            guard n.inputs.count >= 2, attribute(n, "transA") ?? 0 == 0, var w = constant(arg(n, 1)), w.shape.count == 2 else { return nil }
            if attribute(n, "transB") ?? 0 == 0 { w = try transposed2(w) }
            if let alpha = floatAttribute(n, "alpha"), alpha != 1 { w = try linBinary(w, .scalar(Double(alpha)), .mul) }
            var b: Lin?
            if n.inputs.count > 2, !arg(n, 2).isEmpty {
                guard let c = constant(arg(n, 2)) else { return nil }
                b = try linBinary(c, .scalar(Double(floatAttribute(n, "beta") ?? 1)), .mul)
            }
            return (arg(n, 0), w, flat(b))
        case "Add":
            for (m, c) in [(0, 1), (1, 0)] {
                if let mm = node(producing: arg(n, m)), mm.opType == "MatMul", let bias = constant(arg(n, c)),
                   let w = constant(arg(mm, 1)), w.shape.count == 2 {
                    return (arg(mm, 0), try transposed2(w), flat(bias))
                }
                if let conv = node(producing: arg(n, m)), conv.opType == "Conv", conv.inputs.count == 2,
                   let (i, w, _) = try fullyConnected(arg(n, m)), let bias = constant(arg(n, c)) {
                    return (i, w, flat(bias))
                }
            }
            return nil
        case "MatMul":
            guard let w = constant(arg(n, 1)), w.shape.count == 2 else { return nil }
            return (arg(n, 0), try transposed2(w), nil)
        case "Conv":
            guard n.inputs.count >= 2, let w = constant(arg(n, 1)), w.shape.count == 4, w.shape[2] == 1, w.shape[3] == 1,
                  attribute(n, "group") ?? 1 == 1 else { return nil }
            var b: Lin?
            if n.inputs.count > 2, !arg(n, 2).isEmpty {
                guard let c = constant(arg(n, 2)) else { return nil }
                b = c
            }
            return (arg(n, 0), w.reshaped([w.shape[0], w.shape[1]]), flat(b))
        default: return nil
        }
    }

    func recognizeCPM(_ op: String, axis: Int, activation: Result<Act, DynQError>) throws -> CPMInfo? {
        var v = arg(current, 0)
        var temperature: Float = 1
        var scaled = false
        var gateShapeNode: ONNXNode?
        while let n = node(producing: v) {
            if Self.reshapes.contains(n.opType) {
                if gateShapeNode == nil, n.opType != "Identity", n.opType != "Dropout" { gateShapeNode = n }
            } else if ["Div", "Mul"].contains(n.opType), !scaled, n.inputs.count == 2 {
                guard let k = [1, 0].first(where: { constant(arg(n, $0))?.count == 1 }), op == "Softmax",
                      let c = constant(arg(n, k))?.offset.first, c != 0 else { return nil }
                guard n.opType == "Mul" || k == 1 else { return nil }
                temperature = Float(n.opType == "Div" ? c : 1 / c)
                scaled = true
                v = arg(n, 1 - k)
                continue
            } else {
                break
            }
            v = arg(n, 0)
        }
        guard let (a, w2, b2) = try fullyConnected(v) else { return nil }
        var fc1 = (w2, b2)
        var fc2: (Lin, Lin?)?
        var p = skipReshapes(a)
        if let relu = node(producing: p), relu.opType == "Relu", let (a1, w1, b1) = try fullyConnected(skipReshapes(arg(relu, 0))) {
            fc1 = (w1, b1)
            fc2 = (w2, b2)
            p = skipReshapes(a1)
        }
        guard let pool = node(producing: p) else { return nil }
        switch pool.opType {
        case "GlobalAveragePool": break
        case "ReduceMean":
            var axes: [Int] = []
            if case .ints(let a)? = pool.attributes["axes"] { axes = a.map(Int.init) }
            else if pool.inputs.count > 1, let c = constant(arg(pool, 1)) { axes = c.ints }
            guard Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else { return nil }
        default: return nil
        }
        let pooled = arg(pool, 0)
        guard !pooled.isEmpty, case .act(let x)? = values[pooled], x.shape.count == 4 else { return nil }
        let c = x.shape[1]
        guard fc1.0.shape.count == 2, fc1.0.shape[1] == c, fc1.1.map({ $0.count == fc1.0.shape[0] }) ?? true else { return nil }
        if let (w, b) = fc2 {
            guard w.shape.count == 2, w.shape[1] == fc1.0.shape[0], b.map({ $0.count == w.shape[0] }) ?? true else { return nil }
        }
        let n = fc2?.0.shape[0] ?? fc1.0.shape[0]
        var shape = [1, n]
        if let s = gateShapeNode {
            switch s.opType {
            case "Reshape":
                guard let spec = constant(arg(s, 1)) else { return nil }
                shape = try reshapeTarget([1, n], spec.ints)
            case "Unsqueeze": return nil
            default: shape = [1, n]
            }
        } else if node(producing: v)?.opType == "Conv" {
            shape = [1, n, 1, 1]
        }
        guard shape.reduce(1, *) == n else { return nil }
        var softmax: (Float, Int)?
        if op == "Softmax" {
            let ax = try normalizedAxis(axis, rank: shape.count)
            let group: Int
            if opset >= 13 {
                guard shape[(ax + 1)...].reduce(1, *) == 1 else { return nil }
                group = shape[ax]
            } else {
                group = shape[ax...].reduce(1, *)
            }
            guard group > 0, n % group == 0, shape[..<ax].reduce(1, *) * group == n else { return nil }
            softmax = (temperature, group)
        }
        return CPMInfo(name: currentName, output: "\(out()).coefficients", outputShape: shape, x: x, fc1: fc1, fc2: fc2,
                       softmax: softmax, activation: activation)
    }

    /// The `cpm` node of predictor `r` (recorded once, before its first dynamic convolution).
    func cpmOutput(_ r: Int) throws -> Act {
        let info = cpms[r]
        let act = Act(name: info.output, shape: [1, info.count])
        if info.emitted { return act }
        var attrs: [(String, JSON)] = []
        var ws: [String] = []
        func add(_ key: String, _ l: Lin?, _ suffix: String) throws {
            guard let l else { return }
            let n = try weight(l, "\(info.name).\(suffix)", shape: l.shape.count == 2 ? l.shape : [l.count])
            attrs.append((key, .string(n))); ws.append(n)
        }
        try add("fc1_weight", info.fc1.0, "fc1.weight")
        try add("fc1_bias", info.fc1.1, "fc1.bias")
        try add("fc2_weight", info.fc2?.0, "fc2.weight")
        try add("fc2_bias", info.fc2?.1, "fc2.bias")
        if let s = info.softmax {
            attrs += [("gate", .string("softmax")), ("temperature", .float(s.temperature)), ("softmax_group", .int(s.group))]
        } else {
            attrs.append(("gate", .string("sigmoid")))
        }
        var name = info.name
        while nodeNames.contains(name) { name += "_" }
        nodeNames.insert(name)
        emit("cpm", [info.x], output: info.output, shape: act.shape, attrs, weights: ws, name: name)
        cpms[r].emitted = true
        return act
    }

    /// A `Conv` whose weight (and/or bias) is an affine function of one predictor's coefficients.
    func dynamicConv(_ x: Act, weight w: Lin, bias: Lin?, geometry: [(String, JSON)], shape: [Int]) throws -> Value {
        let r = try commonRoot(w, bias ?? Lin.scalar(0))
        guard r >= 0, r < cpms.count else { throw fail("the computed weight does not come from a coefficient predictor") }
        guard !w.isConstant else { throw fail("a static weight with a computed bias is not supported") }
        guard w.offset.allSatisfy({ $0 == 0 }) else {
            throw fail("the computed weight has a static part besides the coefficient mix (not supported)")
        }
        let o = w.shape[0], per = w.count / o, k = w.termsPerElement
        // The coefficient indices each output channel reads.
        var reads = [Set<Int32>](repeating: [], count: o)
        for e in 0..<w.count { for t in 0..<k where w.idx[e * k + t] >= 0 { reads[e / per].insert(w.idx[e * k + t]) } }
        let all = reads.reduce(into: Set<Int32>()) { $0.formUnion($1) }
        guard let lo = all.min().map(Int.init), let hi = all.max().map(Int.init) else { throw fail("the weight reads no coefficient") }
        let perLayer = reads.allSatisfy { $0 == reads[0] }
        let g = perLayer ? hi - lo + 1 : (hi - lo + 1) / o
        func slot(_ j: Int, channel c: Int) -> Int? {
            let t = perLayer ? j - lo : j - lo - c * g
            return t >= 0 && t < g ? t : nil
        }
        guard g > 0, perLayer || (hi - lo + 1) % o == 0 else {
            throw fail("the computed weight is neither a per-layer nor a per-output-channel mix of a kernel bank")
        }
        let n = cpms[r].count
        guard lo + (perLayer ? g : o * g) <= n else { throw fail("the coefficient slice runs past the predictor's \(n) outputs") }
        guard g <= 1 << 16, g * w.count <= linMaxElements else { throw fail("kernel bank of \(g) × \(w.count) values is too large") }
        var bank = [Double](repeating: 0, count: g * w.count)
        for e in 0..<w.count {
            let c = e / per
            for t in 0..<k where w.idx[e * k + t] >= 0 {
                guard let s = slot(Int(w.idx[e * k + t]), channel: c) else {
                    throw fail("the computed weight is neither a per-layer nor a per-output-channel mix of a kernel bank")
                }
                bank[s * w.count + e] += w.w[e * k + t]
            }
        }
        var attrs: [(String, JSON)] = []
        var ws: [String] = []
        let bankName = try weight(Lin(shape: [g] + w.shape, offset: bank), "\(currentName).weight")
        attrs += [("weight", .string(bankName)), ("mode", .string(perLayer ? "per_layer" : "per_channel")),
                  ("coeff_offset", .int(lo))]
        ws.append(bankName)
        if let bias {
            guard bias.count == o else { throw fail("bias has \(bias.count) values for \(o) channels") }
            if !bias.isConstant {
                var mixed = [Double](repeating: 0, count: g * o)
                let kb = bias.termsPerElement
                for c in 0..<o {
                    for t in 0..<kb where bias.idx[c * kb + t] >= 0 {
                        guard let s = slot(Int(bias.idx[c * kb + t]), channel: c) else {
                            throw fail("the computed bias does not read the same coefficients as the weight")
                        }
                        mixed[s * o + c] += bias.w[c * kb + t]
                    }
                }
                let m = try weight(Lin(shape: [g, o], offset: mixed), "\(currentName).mixed_bias")
                attrs.append(("mixed_bias", .string(m))); ws.append(m)
            }
            if bias.isConstant || bias.offset.contains(where: { $0 != 0 }) {
                var b = bias
                b.termsPerElement = 0; b.idx = []; b.w = []; b.root = -1
                let bn = try weight(b, "\(currentName).bias", shape: [o])
                attrs.append(("bias", .string(bn))); ws.append(bn)
            }
        }
        let coeffs = try cpmOutput(r)
        return emit("dynamic_conv2d", [x, coeffs], output: out(), shape: shape, attrs + geometry, weights: ws)
    }
}
