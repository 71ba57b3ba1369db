/// Tensors that are constants, or affine functions of one coefficient vector: the values the ONNX importer
/// folds at import time (shape arithmetic, weight transposes) and the computed weights of dynamic convolutions.
///
/// Element `e` of a `Lin` is `offset[e] + Σ_k w[e·K + k] · c[idx[e·K + k]]`, where `c` is the output of the
/// coefficient predictor `root` (flattened, C-order) and `K = termsPerElement`; `idx == -1` marks an unused slot.
/// A constant has `K == 0`. Terms are kept *structurally*: a term whose weight happens to be 0 stays, so which
/// coefficients an element depends on is read from the expression, not from the trained values.
///
/// Arithmetic is in `Double` (every float32 weight and every integer below 2^53 is exact).
struct Lin {
    var shape: [Int]
    var offset: [Double]
    /// The coefficient vector the terms refer to, or -1 for a constant.
    var root: Int = -1
    var termsPerElement: Int = 0
    var idx: [Int32] = []
    var w: [Double] = []
    /// Integer element type (ONNX int32/int64/bool): `Div` truncates.
    var isInt = false
    /// The initializer or Constant output this value is, unchanged (used to name weights).
    var origin: String?

    var count: Int { offset.count }
    var isConstant: Bool { termsPerElement == 0 }

    init(shape: [Int], offset: [Double], isInt: Bool = false, origin: String? = nil) {
        self.shape = shape; self.offset = offset; self.isInt = isInt; self.origin = origin
    }

    /// The coefficient vector itself: element `e` is `c[e]`.
    static func coefficients(root: Int, shape: [Int]) -> Lin {
        let n = shape.reduce(1, *)
        var l = Lin(shape: shape, offset: [Double](repeating: 0, count: n))
        l.root = root
        l.termsPerElement = 1
        l.idx = (0..<n).map { Int32($0) }
        l.w = [Double](repeating: 1, count: n)
        return l
    }

    static func scalar(_ v: Double, isInt: Bool = false) -> Lin { Lin(shape: [], offset: [v], isInt: isInt) }

    /// The values as integers (clamped to ±2^62: ONNX uses INT64_MAX for "to the end").
    var ints: [Int] {
        offset.map { $0.isNaN ? 0 : $0 >= 4.6e18 ? 1 << 62 : $0 <= -4.6e18 ? -(1 << 62) : Int($0) }
    }

    /// The element at source index `map[e]` for each output element `e`, as a tensor of `shape`.
    func gathered(_ map: [Int], shape: [Int]) -> Lin {
        var out = Lin(shape: shape, offset: map.map { offset[$0] }, isInt: isInt)
        out.root = root
        out.termsPerElement = termsPerElement
        if termsPerElement > 0 {
            let k = termsPerElement
            out.idx = [Int32](repeating: -1, count: map.count * k)
            out.w = [Double](repeating: 0, count: map.count * k)
            for (e, s) in map.enumerated() {
                for t in 0..<k { out.idx[e * k + t] = idx[s * k + t]; out.w[e * k + t] = w[s * k + t] }
            }
        }
        return out
    }

    func reshaped(_ s: [Int]) -> Lin { var c = self; c.shape = s; c.origin = nil; return c }
}

/// Why a folding step failed (the importer adds the node's name and op type).
struct LinError: Error { var message: String; init(_ m: String) { message = m } }

/// The most elements a folded tensor may have, and the most multiply-adds one contraction may take: a file
/// asking for more is refused before anything is allocated.
let linMaxElements = 1 << 26
let linMaxWork = 1 << 31

/// The element count of `shape`, refusing negative dimensions, overflow and more than `limit` elements.
func checkedCount(_ shape: [Int], limit: Int = linMaxElements) throws -> Int {
    guard let n = Tensor.elementCount(shape), n <= limit else {
        throw LinError("tensor of shape \(shape) is larger than \(limit) elements")
    }
    return n
}

// MARK: - Index maps of the movement ops (source element of every output element)

func strides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var k = shape.count - 2
    while k >= 0 { s[k] = s[k + 1] * shape[k + 1]; k -= 1 }
    return s
}

/// Calls `body(outputIndex, coordinates)` for every element of `shape`, in C order.
func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
    let n = shape.reduce(1, *)
    guard n > 0 else { return }
    var c = [Int](repeating: 0, count: shape.count)
    for e in 0..<n {
        body(e, c)
        var d = shape.count - 1
        while d >= 0 { c[d] += 1; if c[d] < shape[d] { break }; c[d] = 0; d -= 1 }
    }
}

func normalizedAxis(_ a: Int, rank: Int) throws -> Int {
    let r = a < 0 ? a + rank : a
    // Strictly inside the rank: callers index the shape with it (a scalar has no axis 0; a fuzzed Gather of a
    // rank-0 tensor with axis 0 trapped here before, fixtures/onnx/fuzz/gather-of-scalar.onnx).
    guard r >= 0, r < rank else { throw LinError("axis \(a) out of range for rank \(rank)") }
    return r
}

func broadcastShapes(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let n = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: n - a.count) + a, pb = [Int](repeating: 1, count: n - b.count) + b
    return try zip(pa, pb).map { x, y in
        guard x == y || x == 1 || y == 1 else { throw LinError("shapes \(a) and \(b) do not broadcast") }
        return x == 1 ? y : x
    }
}

/// `broadcastShapes`, refusing results larger than `linMaxElements`.
func checkedBroadcast(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let s = try broadcastShapes(a, b)
    _ = try checkedCount(s)
    return s
}

/// Source indices of `shape` broadcast to `target` (numpy rules; `target` must already be the broadcast shape).
func broadcastMap(_ shape: [Int], to target: [Int]) -> [Int] {
    let pad = target.count - shape.count
    let s = strides(shape)
    var map = [Int](repeating: 0, count: target.reduce(1, *))
    forEachIndex(target) { e, c in
        var src = 0
        for d in 0..<shape.count where shape[d] != 1 { src += c[d + pad] * s[d] }
        map[e] = src
    }
    return map
}

func transposeMap(_ shape: [Int], _ perm: [Int]) throws -> (map: [Int], shape: [Int]) {
    guard perm.count == shape.count, Set(perm) == Set(0..<shape.count) else {
        throw LinError("perm \(perm) is not a permutation of the \(shape.count) axes")
    }
    let out = perm.map { shape[$0] }
    let s = strides(shape)
    var map = [Int](repeating: 0, count: out.reduce(1, *))
    forEachIndex(out) { e, c in
        var src = 0
        for d in 0..<c.count { src += c[d] * s[perm[d]] }
        map[e] = src
    }
    return (map, out)
}

/// ONNX `Slice` (numpy semantics, clamped starts/ends, any non-zero step).
func sliceMap(_ shape: [Int], starts: [Int], ends: [Int], axes: [Int], steps: [Int]) throws -> (map: [Int], shape: [Int]) {
    var begin = [Int](repeating: 0, count: shape.count), step = [Int](repeating: 1, count: shape.count)
    var out = shape
    for k in 0..<starts.count {
        let a = try normalizedAxis(axes[k], rank: shape.count)
        let n = shape[a], st = steps[k]
        guard st != 0 else { throw LinError("slice step 0") }
        var s = starts[k] < 0 ? starts[k] + n : starts[k], e = ends[k] < 0 ? ends[k] + n : ends[k]
        if st > 0 {
            s = min(max(s, 0), n); e = min(max(e, 0), n)
            out[a] = e > s ? (e - s + st - 1) / st : 0
        } else {
            s = min(max(s, -1), n - 1); e = min(max(e, -1), n - 1)
            out[a] = s > e ? (s - e - st - 1) / (-st) : 0
        }
        begin[a] = s; step[a] = st
    }
    let str = strides(shape)
    var map = [Int](repeating: 0, count: out.reduce(1, *))
    forEachIndex(out) { e, c in
        var src = 0
        for d in 0..<c.count { src += (begin[d] + c[d] * step[d]) * str[d] }
        map[e] = src
    }
    return (map, out)
}

/// ONNX `Gather` along `axis` with `indices` of shape `indexShape`.
func gatherMap(_ shape: [Int], indices: [Int], indexShape: [Int], axis: Int) throws -> (map: [Int], shape: [Int]) {
    let a = try normalizedAxis(axis, rank: shape.count)
    let n = shape[a]
    let idx = try indices.map { i -> Int in
        let j = i < 0 ? i + n : i
        guard j >= 0, j < n else { throw LinError("gather index \(i) out of range 0..<\(n)") }
        return j
    }
    let out = Array(shape[..<a]) + indexShape + Array(shape[(a + 1)...])
    _ = try checkedCount(out)
    let s = strides(shape)
    var map = [Int](repeating: 0, count: out.reduce(1, *))
    let q = indexShape.count
    let istr = strides(indexShape)
    forEachIndex(out) { e, c in
        var src = 0
        for d in 0..<a { src += c[d] * s[d] }
        var flat = 0
        for d in 0..<q { flat += c[a + d] * istr[d] }
        src += idx[flat] * s[a]
        for d in (a + 1)..<shape.count { src += c[d - 1 + q] * s[d] }
        map[e] = src
    }
    return (map, out)
}

/// ONNX `Reshape` target: 0 copies the input dimension (unless `allowZero`), one -1 is inferred.
func reshapeTarget(_ input: [Int], _ spec: [Int], allowZero: Bool = false) throws -> [Int] {
    let n = input.reduce(1, *)
    var out = try spec.enumerated().map { k, d -> Int in
        if d == 0 && !allowZero {
            guard k < input.count else { throw LinError("reshape 0 at axis \(k) of a rank-\(input.count) input") }
            return input[k]
        }
        guard d >= -1, d <= onnxMaxElements else { throw LinError("reshape dimension \(d)") }
        return d
    }
    let unknown = out.indices.filter { out[$0] == -1 }
    guard unknown.count <= 1 else { throw LinError("reshape \(spec) has more than one -1") }
    guard let known = Tensor.elementCount(out.filter { $0 != -1 }) else { throw LinError("reshape \(spec) overflows") }
    if let u = unknown.first {
        guard known > 0, n % known == 0 else { throw LinError("cannot reshape \(input) to \(spec)") }
        out[u] = n / known
    }
    guard Tensor.elementCount(out) == n else { throw LinError("cannot reshape \(input) to \(spec)") }
    return out
}

// MARK: - Arithmetic

/// Merges (index, weight) pairs with equal indices; returns them sorted by index.
private func mergeTerms(_ terms: inout [(Int32, Double)]) {
    guard terms.count > 1 else { return }
    terms.sort { $0.0 < $1.0 }
    var out: [(Int32, Double)] = []
    out.reserveCapacity(terms.count)
    for t in terms {
        if let last = out.last, last.0 == t.0 { out[out.count - 1].1 += t.1 } else { out.append(t) }
    }
    terms = out
}

/// Builds a Lin from per-element term lists.
private func packed(shape: [Int], offset: [Double], terms: [[(Int32, Double)]], root: Int, isInt: Bool) -> Lin {
    var l = Lin(shape: shape, offset: offset, isInt: isInt)
    let k = terms.map(\.count).max() ?? 0
    guard k > 0 else { return l }
    l.root = root
    l.termsPerElement = k
    l.idx = [Int32](repeating: -1, count: offset.count * k)
    l.w = [Double](repeating: 0, count: offset.count * k)
    for (e, ts) in terms.enumerated() {
        for (t, term) in ts.enumerated() { l.idx[e * k + t] = term.0; l.w[e * k + t] = term.1 }
    }
    return l
}

private func terms(of l: Lin, _ e: Int, scale: Double, into out: inout [(Int32, Double)]) {
    let k = l.termsPerElement
    for t in 0..<k where l.idx[e * k + t] >= 0 { out.append((l.idx[e * k + t], l.w[e * k + t] * scale)) }
}

func commonRoot(_ a: Lin, _ b: Lin) throws -> Int {
    if a.isConstant { return b.root }
    if b.isConstant { return a.root }
    guard a.root == b.root else { throw LinError("mixes the coefficients of two different predictors") }
    return a.root
}

enum LinBinary { case add, sub, mul, div, equal }

/// Element-wise `a op b` with broadcasting.
func linBinary(_ a: Lin, _ b: Lin, _ op: LinBinary) throws -> Lin {
    let shape = try checkedBroadcast(a.shape, b.shape)
    let x = a.shape == shape ? a : a.gathered(broadcastMap(a.shape, to: shape), shape: shape)
    let y = b.shape == shape ? b : b.gathered(broadcastMap(b.shape, to: shape), shape: shape)
    let isInt = a.isInt && b.isInt
    let n = x.count
    switch op {
    case .equal:
        guard x.isConstant, y.isConstant else { throw LinError("needs constant inputs") }
        return Lin(shape: shape, offset: (0..<n).map { x.offset[$0] == y.offset[$0] ? 1 : 0 }, isInt: true)
    case .add, .sub:
        let root = try commonRoot(x, y)
        let s: Double = op == .add ? 1 : -1
        let off = (0..<n).map { x.offset[$0] + s * y.offset[$0] }
        if x.isConstant && y.isConstant { return Lin(shape: shape, offset: off, isInt: isInt) }
        var all: [[(Int32, Double)]] = []
        all.reserveCapacity(n)
        var buf: [(Int32, Double)] = []
        for e in 0..<n {
            buf.removeAll(keepingCapacity: true)
            terms(of: x, e, scale: 1, into: &buf)
            terms(of: y, e, scale: s, into: &buf)
            mergeTerms(&buf)
            all.append(buf)
        }
        return packed(shape: shape, offset: off, terms: all, root: root, isInt: isInt)
    case .mul, .div:
        guard x.isConstant || y.isConstant else { throw LinError("multiplies two coefficient-dependent tensors") }
        if op == .div && !y.isConstant { throw LinError("divides by a coefficient-dependent tensor") }
        let (v, c) = y.isConstant ? (x, y) : (y, x)
        let factor: [Double] = op == .mul ? c.offset : try c.offset.map {
            guard $0 != 0 else { throw LinError("division by zero") }
            return 1 / $0
        }
        if v.isConstant {
            let off = (0..<n).map { e -> Double in
                if op == .div && isInt { return (x.offset[e] / y.offset[e]).rounded(.towardZero) }
                return op == .mul ? x.offset[e] * y.offset[e] : x.offset[e] / y.offset[e]
            }
            return Lin(shape: shape, offset: off, isInt: isInt)
        }
        var out = v
        out.origin = nil
        out.isInt = isInt
        let k = v.termsPerElement
        for e in 0..<n {
            out.offset[e] = v.offset[e] * factor[e]
            for t in 0..<k { out.w[e * k + t] *= factor[e] }
        }
        return out
    }
}

/// `out[outLabels] = Σ over the other labels of a[aLabels] · b[bLabels]` (einsum with two operands; at most one
/// of them coefficient-dependent). Labels are small integers; `a` and `b` must agree on shared label sizes.
func linContract(_ a: Lin, _ aLabels: [Int], _ b: Lin, _ bLabels: [Int], out outLabels: [Int]) throws -> Lin {
    guard a.isConstant || b.isConstant else { throw LinError("multiplies two coefficient-dependent tensors") }
    guard a.shape.count == aLabels.count, b.shape.count == bLabels.count else {
        throw LinError("einsum labels do not match the operand ranks")
    }
    var size: [Int: Int] = [:]
    for (l, n) in zip(aLabels + bLabels, a.shape + b.shape) {
        if let m = size[l], m != n {
            guard m == 1 || n == 1 else { throw LinError("einsum dimension sizes \(m) and \(n) differ") }
            size[l] = max(m, n)
        } else { size[l] = n }
    }
    guard Set(outLabels).isSubset(of: Set(size.keys)) else { throw LinError("einsum output label not in the inputs") }
    let summed = Array(Set(aLabels + bLabels).subtracting(outLabels)).sorted()
    let outShape = outLabels.map { size[$0]! }
    let sumShape = summed.map { size[$0]! }
    let outCount = try checkedCount(outShape), sumCount = try checkedCount(sumShape, limit: linMaxWork)
    guard outCount.multipliedReportingOverflow(by: max(sumCount, 1)).partialValue <= linMaxWork,
          !outCount.multipliedReportingOverflow(by: max(sumCount, 1)).overflow else {
        throw LinError("contraction of \(a.shape) and \(b.shape) takes more than \(linMaxWork) multiply-adds")
    }
    let sa = strides(a.shape), sb = strides(b.shape)
    // Stride of each label in a / b (0 for absent or broadcast dimensions).
    func labelStrides(_ labels: [Int], _ shape: [Int], _ s: [Int], _ of: [Int]) -> [Int] {
        of.map { l in
            var st = 0
            for (d, m) in labels.enumerated() where m == l && shape[d] != 1 { st += s[d] }
            return st
        }
    }
    let aOut = labelStrides(aLabels, a.shape, sa, outLabels), bOut = labelStrides(bLabels, b.shape, sb, outLabels)
    let aSum = labelStrides(aLabels, a.shape, sa, summed), bSum = labelStrides(bLabels, b.shape, sb, summed)
    // The largest element index each operand can be read at (every coordinate at its size − 1, strides ≥ 0) must
    // lie inside it, or the contraction would read past its end (a fuzzed ONNX file reached such an einsum:
    // fixtures/onnx/fuzz/, ONNXMalformedTests).
    func lastIndex(_ outStrides: [Int], _ sumStrides: [Int]) -> Int {
        zip(outShape, outStrides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
            + zip(sumShape, sumStrides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
    }
    guard lastIndex(aOut, aSum) < a.offset.count, lastIndex(bOut, bSum) < b.offset.count else {
        throw LinError("einsum labels \(aLabels) and \(bLabels) do not fit the operand shapes \(a.shape) and \(b.shape)")
    }
    let n = outShape.reduce(1, *)
    var off = [Double](repeating: 0, count: n)
    let dependent = !(a.isConstant && b.isConstant)
    var all: [[(Int32, Double)]] = dependent ? Array(repeating: [], count: n) : []
    var buf: [(Int32, Double)] = []
    forEachIndex(outShape) { e, c in
        var ia = 0, ib = 0
        for d in 0..<c.count { ia += c[d] * aOut[d]; ib += c[d] * bOut[d] }
        var acc = 0.0
        buf.removeAll(keepingCapacity: true)
        let body: (Int, [Int]) -> Void = { _, s in
            var ja = ia, jb = ib
            for d in 0..<s.count { ja += s[d] * aSum[d]; jb += s[d] * bSum[d] }
            acc += a.offset[ja] * b.offset[jb]
            if !a.isConstant { terms(of: a, ja, scale: b.offset[jb], into: &buf) }
            if !b.isConstant { terms(of: b, jb, scale: a.offset[ja], into: &buf) }
        }
        if summed.isEmpty { body(0, []) } else { forEachIndex(sumShape, body) }
        off[e] = acc
        if dependent { mergeTerms(&buf); all[e] = buf }
    }
    if !dependent { return Lin(shape: outShape, offset: off, isInt: a.isInt && b.isInt) }
    return packed(shape: outShape, offset: off, terms: all, root: a.isConstant ? b.root : a.root, isInt: false)
}

/// `Concat` along `axis`.
func linConcat(_ parts: [Lin], axis: Int) throws -> Lin {
    guard let first = parts.first else { throw LinError("concat of nothing") }
    let a = try normalizedAxis(axis, rank: first.shape.count)
    for p in parts {
        guard p.shape.count == first.shape.count,
              p.shape.indices.allSatisfy({ $0 == a || p.shape[$0] == first.shape[$0] }) else {
            throw LinError("concat of shapes \(parts.map(\.shape))")
        }
    }
    var root = -1
    for p in parts where !p.isConstant {
        guard root == -1 || root == p.root else { throw LinError("mixes the coefficients of two different predictors") }
        root = p.root
    }
    var shape = first.shape
    shape[a] = parts.map { $0.shape[a] }.reduce(0, +)
    _ = try checkedCount(shape)
    let outer = first.shape[..<a].reduce(1, *)
    var off: [Double] = [], all: [[(Int32, Double)]] = []
    var buf: [(Int32, Double)] = []
    for o in 0..<outer {
        for p in parts {
            let inner = p.shape[a...].reduce(1, *)
            for i in 0..<inner {
                let e = o * inner + i
                off.append(p.offset[e])
                if root >= 0 {
                    buf.removeAll(keepingCapacity: true)
                    if !p.isConstant { terms(of: p, e, scale: 1, into: &buf) }
                    all.append(buf)
                }
            }
        }
    }
    return packed(shape: shape, offset: off, terms: all, root: root, isInt: parts.allSatisfy(\.isInt))
}
