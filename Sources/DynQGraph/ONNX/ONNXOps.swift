/// The ONNX operators `ONNXImporter` maps, one case each: activation ops become DynQ nodes, everything on
/// constants (and on coefficient vectors) is folded. Anything else is an unsupported value naming the node.

/// The ONNX operators the importer knows (for the "unknown op" message).
let onnxSupportedOps: [String] = [
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv",
    "Div", "Dropout", "Einsum", "Equal", "Expand", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool",
    "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "MatMul", "MaxPool", "Mul", "Neg", "Pad",
    "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Squeeze",
    "Sub", "Transpose", "Unsqueeze", "Where",
]

extension ONNXImporter {
    /// A `Lin` view of a folded value or of a coefficient vector; nil for anything else.
    func linValue(_ v: Value) -> Lin? {
        switch v {
        case .lin(let l): return l
        case .gate(let r): return Lin.coefficients(root: r, shape: cpms[r].outputShape)
        default: return nil
        }
    }

    func translate(_ node: ONNXNode, _ ins: [Value]) throws -> [Value] {
        let op = node.opType
        // Every operator DynQ maps has an output; the translations below name it with `out()` (a fuzzed node
        // without outputs trapped there, fixtures/onnx/fuzz/node-without-outputs.onnx).
        guard !node.outputs.isEmpty else { throw fail("a node without outputs") }
        func input(_ k: Int) -> Value { k < ins.count ? ins[k] : .absent }
        let present = ins.filter { if case .absent = $0 { return false }; return true }
        // A gate reports its own activation failure (its input may be an unsupported temperature `Div`).
        if !["Sigmoid", "Softmax"].contains(op) {
            for v in present { if case .unsupported(let e) = v { throw e } }
        }
        let lins = present.compactMap(linValue)
        let folding = !present.isEmpty && lins.count == present.count
            && !(present.allSatisfy { if case .gate = $0 { return true }; return false } && ["Sigmoid", "Softmax"].contains(op))

        switch op {
        case "Constant": return [.lin(try constantAttribute())]
        case "Identity": return [input(0)]
        case "Dropout":
            return [input(0)] + node.outputs.dropFirst().map { _ in .unsupported(fail("the dropout mask output is not supported")) }
        default: break
        }
        if case .gate(let r) = input(0), ["Reshape", "Flatten", "Squeeze", "Unsqueeze"].contains(op),
           (try? outputShape(op, cpms[r].outputShape, ins)) == cpms[r].outputShape {
            return [input(0)]  // a no-op reshape keeps the predictor's output usable both ways
        }
        if folding { return try fold(op, ins.map(linValue), present: lins) }
        if op == "Shape", case .shuffle(let src, let a, let b, let t) = input(0) {
            return [.lin(shapeOf([1, t ? b : a, t ? a : b, src.shape[2], src.shape[3]]))]
        }
        if case .shuffle(let src, let a, let b, let t) = input(0) {
            return [try shuffleStep(op, src: src, a: a, b: b, transposed: t)]
        }
        return try activationOp(op, ins)
    }

    func constantAttribute() throws -> Lin {
        guard let (key, a) = current.attributes.first else { throw fail("has no value") }
        switch a {
        case .tensor(let t): return Lin(shape: t.dims, offset: t.values, isInt: t.dataType.isInteger, origin: out())
        case .float(let f) where key == "value_float": return Lin(shape: [], offset: [Double(f)])
        case .floats(let f) where key == "value_floats": return Lin(shape: [f.count], offset: f.map(Double.init))
        case .int(let i) where key == "value_int": return Lin(shape: [], offset: [Double(i)], isInt: true)
        case .ints(let v) where key == "value_ints": return Lin(shape: [v.count], offset: v.map(Double.init), isInt: true)
        default: throw fail("constant attribute '\(key)' is not supported")
        }
    }

    /// Axes from the attribute (older opsets) or the second input (newer ones).
    func axesArgument(_ ins: [Lin?], attribute: String = "axes", inputIndex: Int = 1) throws -> [Int]? {
        if let a = try attrInts(attribute) { return a }
        if inputIndex < ins.count, let l = ins[inputIndex] {
            guard l.isConstant else { throw fail("axes must be constant") }
            return l.ints
        }
        return nil
    }

    // MARK: Folding (constants and coefficient vectors)

    func fold(_ op: String, _ ins: [Lin?], present: [Lin]) throws -> [Value] {
        func x(_ k: Int) throws -> Lin {
            guard k < ins.count, let l = ins[k] else { throw fail("input \(k) is missing") }
            return l
        }
        func const(_ k: Int) throws -> Lin {
            let l = try x(k)
            guard l.isConstant else { throw fail("input \(k) must be constant") }
            return l
        }
        let a = try x(0)
        switch op {
        case "Cast":
            let to = try attrInt("to", 1)
            let isInt = ![1, 10, 11, 16].contains(to)
            var l = a
            l.origin = nil
            if isInt { l.offset = l.offset.map { $0.rounded(.towardZero) } }
            l.isInt = isInt
            guard isInt == false || a.isConstant else { throw fail("cast of coefficients to an integer type") }
            return [.lin(l)]
        case "Shape":
            return [.lin(shapeOf(a.shape))]
        case "Neg": return [.lin(try linBinary(a, .scalar(-1), .mul))]
        case "Add", "Sub", "Mul", "Div", "Equal":
            let kind: LinBinary = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div, "Equal": .equal][op]!
            return [.lin(try linBinary(a, try x(1), kind))]
        case "Where":
            let c = try const(0), p = try const(1), q = try const(2)
            let shape = try checkedBroadcast(try broadcastShapes(c.shape, p.shape), q.shape)
            let cm = broadcastMap(c.shape, to: shape), pm = broadcastMap(p.shape, to: shape), qm = broadcastMap(q.shape, to: shape)
            let v = (0..<shape.reduce(1, *)).map { c.offset[cm[$0]] != 0 ? p.offset[pm[$0]] : q.offset[qm[$0]] }
            return [.lin(Lin(shape: shape, offset: v, isInt: p.isInt && q.isInt))]
        case "ConstantOfShape":
            let shape = try const(0).ints
            guard shape.allSatisfy({ $0 >= 0 }), let n = Tensor.elementCount(shape), n <= linMaxElements else {
                throw fail("bad shape \(shape)")
            }
            var v = 0.0, isInt = false
            if case .tensor(let t)? = current.attributes["value"], let f = t.values.first { v = f; isInt = t.dataType.isInteger }
            return [.lin(Lin(shape: shape, offset: [Double](repeating: v, count: n), isInt: isInt))]
        case "Reshape":
            return [.lin(a.reshaped(try reshapeTarget(a.shape, try const(1).ints, allowZero: try attrInt("allowzero", 0) != 0)))]
        case "Flatten":
            let axis = try normalizedAxis(try attrInt("axis", 1), rank: a.shape.count + 1)
            return [.lin(a.reshaped([a.shape[..<axis].reduce(1, *), a.shape[axis...].reduce(1, *)]))]
        case "Unsqueeze":
            guard let axes = try axesArgument(ins) else { throw fail("missing axes") }
            let rank = a.shape.count + axes.count
            guard rank <= onnxMaxDims, Set(axes).count == axes.count else { throw fail("unsqueeze to rank \(rank)") }
            let norm = Set(try axes.map { try normalizedAxis($0, rank: rank) })
            var shape: [Int] = [], it = a.shape.makeIterator()
            for d in 0..<rank { shape.append(norm.contains(d) ? 1 : it.next()!) }
            return [.lin(a.reshaped(shape))]
        case "Squeeze":
            let axes = try axesArgument(ins).map { try Set($0.map { try normalizedAxis($0, rank: a.shape.count) }) }
            let shape = a.shape.enumerated().filter { d, n in axes.map { !$0.contains(d) } ?? (n != 1) }.map(\.element)
            return [.lin(a.reshaped(shape))]
        case "Transpose":
            let perm = try attrInts("perm") ?? Array((0..<a.shape.count).reversed())
            let (map, shape) = try transposeMap(a.shape, perm)
            return [.lin(a.gathered(map, shape: shape))]
        case "Expand":
            let target = try const(1).ints
            let shape = try checkedBroadcast(a.shape, target)
            return [.lin(a.gathered(broadcastMap(a.shape, to: shape), shape: shape))]
        case "Gather":
            let i = try const(1)
            let (map, shape) = try gatherMap(a.shape, indices: i.ints, indexShape: i.shape, axis: try attrInt("axis", 0))
            return [.lin(a.gathered(map, shape: shape))]
        case "Slice":
            let (map, shape) = try sliceMap(a.shape, sliceArguments(ins, rank: a.shape.count))
            return [.lin(a.gathered(map, shape: shape))]
        case "Concat":
            return [.lin(try linConcat(present, axis: try attrInt("axis", 0)))]
        case "Split":
            let axis = try normalizedAxis(try attrInt("axis", 0), rank: a.shape.count)
            let sizes = try splitSizes(ins, total: a.shape[axis], outputs: current.outputs.count)
            var outs: [Value] = [], start = 0
            for s in sizes {
                let (map, shape) = try sliceMap(a.shape, starts: [start], ends: [start + s], axes: [axis], steps: [1])
                outs.append(.lin(a.gathered(map, shape: shape)))
                start += s
            }
            return outs
        case "MatMul":
            return [.lin(try matmul(a, try x(1)))]
        case "Gemm":
            var p = try x(1)
            var q = a
            if try attrInt("transA", 0) != 0 { q = try transposed2(q) }
            if try attrInt("transB", 0) != 0 { p = try transposed2(p) }
            var y = try matmul(q, p)
            let alpha = try attrFloat("alpha", 1), beta = try attrFloat("beta", 1)
            if alpha != 1 { y = try linBinary(y, .scalar(Double(alpha)), .mul) }
            if ins.count > 2, let c = ins[2] { y = try linBinary(y, try linBinary(c, .scalar(Double(beta)), .mul), .add) }
            return [.lin(y)]
        case "Einsum":
            guard present.count == 2 else { throw fail("einsum with \(present.count) operands (2 supported)") }
            let (la, lb, lo) = try einsumLabels(try attrString("equation", ""), a.shape.count, try x(1).shape.count)
            return [.lin(try linContract(a, la, try x(1), lb, out: lo))]
        case "ReduceSum", "ReduceMean":
            let axes = try axesArgument(ins) ?? []
            let keep = try attrInt("keepdims", 1) != 0
            let rank = a.shape.count
            let reduced = axes.isEmpty ? (try attrInt("noop_with_empty_axes", 0) != 0 ? [] : Array(0..<rank))
                : try axes.map { try normalizedAxis($0, rank: rank) }
            if reduced.isEmpty { return [.lin(a)] }
            let labels = Array(0..<rank)
            var y = try linContract(a, labels, .scalar(1), [], out: labels.filter { !reduced.contains($0) })
            if op == "ReduceMean" {
                y = try linBinary(y, .scalar(Double(reduced.map { a.shape[$0] }.reduce(1, *))), .div)
            }
            if keep { y = y.reshaped(a.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }) }
            return [.lin(y)]
        default:
            throw fail(onnxSupportedOps.contains(op) ? "not supported on constant inputs"
                       : "unknown operator (supported: \(onnxSupportedOps.joined(separator: ", ")))")
        }
    }

    func shapeOf(_ shape: [Int]) -> Lin {
        var s = shape
        let start = (try? attrInt("start", 0)) ?? 0, end = (try? attrInt("end", s.count)) ?? s.count
        let n = s.count
        let b = min(max(start < 0 ? start + n : start, 0), n), e = min(max(end < 0 ? end + n : end, 0), n)
        s = b < e ? Array(s[b..<e]) : []
        return Lin(shape: [s.count], offset: s.map(Double.init), isInt: true)
    }

    func sliceArguments(_ ins: [Lin?], rank: Int) throws -> (starts: [Int], ends: [Int], axes: [Int], steps: [Int]) {
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if let s = try attrInts("starts"), let e = try attrInts("ends") {
            starts = s; ends = e; axes = try attrInts("axes")
        } else {
            func c(_ k: Int) throws -> [Int]? {
                guard k < ins.count, let l = ins[k] else { return nil }
                guard l.isConstant else { throw fail("slice bounds must be constant") }
                return l.ints
            }
            guard let s = try c(1), let e = try c(2) else { throw fail("missing starts / ends") }
            starts = s; ends = e; axes = try c(3); steps = try c(4)
        }
        let ax = axes ?? Array(0..<starts.count)
        let st = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, ax.count == starts.count, st.count == starts.count else {
            throw fail("starts, ends, axes and steps differ in length")
        }
        return (starts, ends, try ax.map { try normalizedAxis($0, rank: rank) }, st)
    }

    func splitSizes(_ ins: [Lin?], total: Int, outputs: Int) throws -> [Int] {
        if let s = try attrInts("split") { return s }
        if ins.count > 1, let l = ins[1] {
            guard l.isConstant else { throw fail("split sizes must be constant") }
            return l.ints
        }
        let parts = (try attrInt("num_outputs", outputs))
        guard parts > 0 else { throw fail("split into \(parts) parts") }
        let chunk = (total + parts - 1) / parts
        return (0..<parts).map { min(chunk, max(total - $0 * chunk, 0)) }
    }

    func transposed2(_ l: Lin) throws -> Lin {
        guard l.shape.count == 2 else { throw fail("Gemm operands must be 2-d") }
        let (map, shape) = try transposeMap(l.shape, [1, 0])
        return l.gathered(map, shape: shape)
    }

    /// numpy matmul of ranks ≥ 1 (batch dimensions broadcast).
    func matmul(_ a: Lin, _ b: Lin) throws -> Lin {
        var x = a, y = b
        let aVector = x.shape.count == 1, bVector = y.shape.count == 1
        if aVector { x = x.reshaped([1] + x.shape) }
        if bVector { y = y.reshaped(y.shape + [1]) }
        let ra = x.shape.count, rb = y.shape.count, batch = max(ra, rb) - 2
        // labels: batch 0..<batch (right-aligned), then i = 100, k = 101, j = 102
        let la = (0..<(ra - 2)).map { $0 + batch - (ra - 2) } + [100, 101]
        let lb = (0..<(rb - 2)).map { $0 + batch - (rb - 2) } + [101, 102]
        var out = try linContract(x, la, y, lb, out: Array(0..<batch) + [100, 102])
        if aVector { out = out.reshaped(out.shape.enumerated().filter { $0.offset != batch }.map(\.element)) }
        if bVector { out = out.reshaped(Array(out.shape.dropLast())) }
        return out
    }

    func einsumLabels(_ equation: String, _ ra: Int, _ rb: Int) throws -> ([Int], [Int], [Int]) {
        let eq = equation.filter { !$0.isWhitespace }
        guard !eq.contains(".") else { throw fail("einsum with '...' is not supported") }
        let sides = eq.components(separatedBy: "->")
        let ops = sides[0].split(separator: ",", omittingEmptySubsequences: false).map { Array($0) }
        guard ops.count == 2, sides.count <= 2, ops[0].count == ra, ops[1].count == rb,
              (ops[0] + ops[1]).allSatisfy({ $0.isLetter }) else {
            throw fail("einsum equation '\(equation)' does not fit its inputs")
        }
        let code: (Character) -> Int = { Int($0.asciiValue ?? 0) }
        let output: [Character]
        if sides.count == 2 {
            output = Array(sides[1])
        } else {
            let all = ops[0] + ops[1]
            output = Set(all).filter { c in all.filter { $0 == c }.count == 1 }.sorted()
        }
        return (ops[0].map(code), ops[1].map(code), output.map(code))
    }
}

/// `sliceMap` with the arguments `sliceArguments` returns.
func sliceMap(_ shape: [Int], _ args: (starts: [Int], ends: [Int], axes: [Int], steps: [Int])) throws -> (map: [Int], shape: [Int]) {
    try sliceMap(shape, starts: args.starts, ends: args.ends, axes: args.axes, steps: args.steps)
}
