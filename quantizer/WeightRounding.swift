import DynQCore
import DynQGraph
import Foundation

/// How a weight is rounded to its int8 grid once its channel's scale is fixed.
public enum WeightRounding: String, Sendable, Equatable, CaseIterable {
    /// `round(W / s_w)`, half away from zero: each weight as close as it can be.
    case nearest
    /// Output-aware rounding (`adaptiveRounding`): each weight rounded up or down so that the layer's *output*
    /// error on the calibration inputs is smallest, not each weight's own error.
    case adaptive
}

/// Second moments `E[v vᵀ]` of the input vectors one layer's output channels multiply their weights with, over
/// the calibration images: for a `conv2d`, the receptive-field patches (zero padding included), one matrix per
/// group; for a `linear` (and a CPM's fully connected layers), the input vector.
///
/// Element `(i, j)` of group `g` is `Σ v_i v_j / count` with `v` in the weight's own order (`[I/groups, kh, kw]`
/// for conv, `[F]` for linear), so an output channel `o` of that group with weight error `d` (float, `s·q − w`)
/// has mean squared output error `dᵀ M_g d` on those inputs.
public struct InputMoments: Sendable, Equatable {
    /// Length of one input vector (`(I/groups)·kh·kw`, or `F`).
    public var length: Int
    /// Number of matrices (the conv's groups; 1 for linear).
    public var groups: Int
    /// `groups × length × length`, row-major, symmetric; sums until `normalized()`.
    public var values: [Double]
    /// Vectors summed per group.
    public var count: Int

    public init(length: Int, groups: Int) {
        self.length = length; self.groups = groups
        values = [Double](repeating: 0, count: groups * length * length); count = 0
    }

    /// Adds another sum (same layer, other images).
    mutating func add(_ o: InputMoments) {
        precondition(o.length == length && o.groups == groups)
        for k in 0..<values.count { values[k] += o.values[k] }
        count += o.count
    }

    /// The sums divided by `count`, lower triangle mirrored from the upper one.
    func normalized() -> InputMoments {
        var m = self
        let n = length, inv = count > 0 ? 1 / Double(count) : 0
        for g in 0..<groups {
            let base = g * n * n
            for i in 0..<n {
                for j in i..<n {
                    let v = values[base + i * n + j] * inv
                    m.values[base + i * n + j] = v; m.values[base + j * n + i] = v
                }
            }
        }
        return m
    }
}

/// The largest input vector whose moments are measured (`F` of a linear, `(I/groups)·kh·kw` of a conv; 576 = a 3×3
/// conv with 64 input channels per group): beyond it the `length²` matrix, its `length²` work per vector and per
/// rounding pass cost more than they are worth (measured on MobileNetV2 at 224×224 with 4 calibration images and
/// the bound at 1,024, which took its 960-long project layers: 16.4 s against 1.4 s with nearest rounding; the
/// per-image sums of every layer's matrices, 125 MB an image, were the cost; with 576: 2.7 s) and the layer keeps
/// nearest rounding.
public let adaptiveRoundingMaxLength = 576

/// The largest `groups · length²` matrix set of one layer (8 MB of doubles); a larger layer keeps nearest rounding.
public let adaptiveRoundingMaxMatrixElements = 1 << 20

/// Output positions of a conv sampled per calibration image (evenly spaced in raster order): 500 images give
/// 16,000 patches per layer, enough to estimate a 576 × 576 moment matrix (3×3, 64 channels) and 10× cheaper than
/// every position.
public let adaptiveRoundingPositionsPerImage = 32

/// Measures the input moments of every static `conv2d` and `linear` node and every CPM's `fc1` / `fc2` (named
/// `<cpm>.fc1`, `<cpm>.fc2`) of `model` on `inputs` with the float engine, `workers` images at a time. Dynamic
/// convolutions are left out: their int8 kernel is fused and rounded again per sample (docs/numerics.md), so the
/// bank's rounding does not reach the output as a fixed error (measured: rounding the banks of the fixture by their
/// own input moments lowered its 10,000-image agreement from 99.53 % to 99.43 %). Each image's sums are computed alone and added in
/// input order, so the result does not depend on `workers`.
public func measureInputMoments(_ model: FloatModel, inputs: [Tensor], workers: Int = defaultWorkerCount)
    throws -> [String: InputMoments]
{
    let layers = try momentLayers(model)
    if layers.isEmpty { return [:] }
    let runner = try floatEngineRunner(model)
    let needed = Set(layers.map(\.input))
    var total: [String: InputMoments] = [:]
    try concurrentBatches(count: inputs.count, workers: workers, { k -> [InputMoments] in
        var seen: [String: Tensor] = [:]
        try runner(inputs[k]) { name, t in if needed.contains(name) { seen[name] = t } }
        return try layers.map { try $0.moments(of: seen, model: model) }
    }) { _, image in
        for (l, m) in zip(layers, image) {
            if total[l.name] == nil { total[l.name] = m } else { total[l.name]!.add(m) }
        }
    }
    return total.mapValues { $0.normalized() }
}

/// One layer whose input moments are measured.
private struct MomentLayer: Sendable {
    enum Kind: Sendable {
        case conv(ConvGeometry)
        case linear
        case cpmFC1(CPMAttrs)
        case cpmFC2(CPMAttrs)
    }
    var name: String
    /// The graph tensor the vectors come from (a CPM's input for its fully connected layers).
    var input: String
    var kind: Kind
    var length: Int
    var groups: Int

    func moments(of seen: [String: Tensor], model: FloatModel) throws -> InputMoments {
        guard let x = seen[input] else { throw DynQError("layer \(name): input \(input) was not computed") }
        var m = InputMoments(length: length, groups: groups)
        switch kind {
        case .linear:
            addOuter(x.data.map(Double.init), group: 0, to: &m)
        case .cpmFC1(let a):
            let (pool, _, _) = try CPMFloat(a, weights: model.weights, node: name).forward(x)
            addOuter(pool.map(Double.init), group: 0, to: &m)
        case .cpmFC2(let a):
            let (_, hidden, _) = try CPMFloat(a, weights: model.weights, node: name).forward(x)
            addOuter((hidden ?? []).map(Double.init), group: 0, to: &m)
        case .conv(let c):
            addPatches(x, c, to: &m)
        }
        return m
    }
}

/// The layers of `model` whose weights can be rounded adaptively (see `measureInputMoments`).
private func momentLayers(_ model: FloatModel) throws -> [MomentLayer] {
    var layers: [MomentLayer] = []
    for n in model.graph.nodes {
        switch n.op {
        case .conv2d(let c):
            guard let w = model.weights[c.weight], w.shape.count == 4, c.groups >= 1 else { continue }
            let len = w.shape[1] * w.shape[2] * w.shape[3]
            guard len <= adaptiveRoundingMaxLength, c.groups * len * len <= adaptiveRoundingMaxMatrixElements
            else { continue }
            layers.append(MomentLayer(name: n.name, input: n.inputs[0],
                                      kind: .conv(ConvGeometry(kernel: Pair(w.shape[2], w.shape[3]), stride: c.stride,
                                                               padding: c.padding, dilation: c.dilation,
                                                               inGroup: w.shape[1])),
                                      length: len, groups: c.groups))
        case .linear(let a):
            guard let w = model.weights[a.weight], w.shape.count == 2, w.shape[1] <= adaptiveRoundingMaxLength
            else { continue }
            layers.append(MomentLayer(name: n.name, input: n.inputs[0], kind: .linear, length: w.shape[1], groups: 1))
        case .cpm(let a):
            guard let fc1 = model.weights[a.fc1Weight], fc1.shape.count == 2,
                  fc1.shape[1] <= adaptiveRoundingMaxLength else { continue }
            layers.append(MomentLayer(name: "\(n.name).fc1", input: n.inputs[0], kind: .cpmFC1(a),
                                      length: fc1.shape[1], groups: 1))
            if let f2 = a.fc2Weight, let fc2 = model.weights[f2], fc2.shape.count == 2,
               fc2.shape[1] <= adaptiveRoundingMaxLength {
                layers.append(MomentLayer(name: "\(n.name).fc2", input: n.inputs[0], kind: .cpmFC2(a),
                                          length: fc2.shape[1], groups: 1))
            }
        default:
            continue
        }
    }
    return layers
}

/// `m[group] += v vᵀ` (upper triangle).
private func addOuter(_ v: [Double], group: Int, to m: inout InputMoments) {
    let n = m.length
    guard v.count == n else { return }
    m.values.withUnsafeMutableBufferPointer { s in
        let base = group * n * n
        for i in 0..<n where v[i] != 0 {
            let vi = v[i]
            for j in i..<n { s[base + i * n + j] += vi * v[j] }
        }
    }
    if group == 0 { m.count += 1 }
}

/// A convolution's window and the input channels of one group.
private struct ConvGeometry: Sendable {
    var kernel: Pair, stride: Pair, padding: Padding, dilation: Pair
    var inGroup: Int
}

/// Adds the patches of `adaptiveRoundingPositionsPerImage` output positions of a conv on `x` (`[1, C, H, W]`).
private func addPatches(_ x: Tensor, _ c: ConvGeometry, to m: inout InputMoments) {
    let k = c.kernel, ig = c.inGroup
    guard x.shape.count == 4 else { return }
    let h = x.shape[2], w = x.shape[3]
    let ho = windowOutputExtent(input: h, kernel: k.h, stride: c.stride.h, dilation: c.dilation.h,
                                padBefore: c.padding.top, padAfter: c.padding.bottom)
    let wo = windowOutputExtent(input: w, kernel: k.w, stride: c.stride.w, dilation: c.dilation.w,
                                padBefore: c.padding.left, padAfter: c.padding.right)
    let positions = ho * wo
    guard positions > 0 else { return }
    let p = min(positions, adaptiveRoundingPositionsPerImage)
    var v = [Double](repeating: 0, count: m.length)
    for s in 0..<p {
        let pos = s * positions / p
        let oy = pos / wo, ox = pos % wo
        for g in 0..<m.groups {
            var e = 0
            for i in 0..<ig {
                let ch = g * ig + i
                for dy in 0..<k.h {
                    let y = oy * c.stride.h - c.padding.top + dy * c.dilation.h
                    for dx in 0..<k.w {
                        let xx = ox * c.stride.w - c.padding.left + dx * c.dilation.w
                        v[e] = (y >= 0 && y < h && xx >= 0 && xx < w) ? Double(x.data[(ch * h + y) * w + xx]) : 0
                        e += 1
                    }
                }
            }
            addOuter(v, group: g, to: &m)       // counts the position once (group 0)
        }
    }
}

/// Output-aware rounding of one output channel's weights (after Nagel et al., "Up or Down? Adaptive Rounding for
/// Post-Training Quantization", 2020, whose per-layer objective this minimises by local search instead of their
/// relaxation): with scale `s` fixed, each `q_k` is `⌊w_k/s⌋` or `⌊w_k/s⌋ + 1` (in [−127, 127]), chosen to
/// minimise the channel's mean squared output error `dᵀ M d`, `d = s·q − w`, on inputs with second moments `M`
/// (`length × length`, row-major, from `InputMoments`).
///
/// Starts from nearest rounding and flips one weight at a time to its other neighbour while that lowers the
/// error (the change of flipping `k` by `δ = ±s` is `δ·(2·(M d)_k + δ·M_kk)`), in index order, until a pass
/// changes nothing or 16 passes are done; the error never rises, so the result is never worse than nearest
/// rounding on these inputs, and with `M` = identity (uncorrelated inputs of equal power) it *is* nearest
/// rounding. Deterministic. Returns the codes and the error `dᵀ M d` before (nearest) and after.
public func adaptiveRounding(_ w: [Double], scale s: Double, moments m: UnsafeBufferPointer<Double>)
    -> (q: [Int], nearestError: Double, error: Double)
{
    let n = w.count
    precondition(m.count == n * n && s > 0)
    var q = w.map { Int(max(-127, min(127, ($0 / s).rounded(.toNearestOrAwayFromZero)))) }
    let lo = w.map { Int(($0 / s).rounded(.down)) }
    var d = (0..<n).map { s * Double(q[$0]) - w[$0] }
    var md = [Double](repeating: 0, count: n)
    for i in 0..<n { var a = 0.0; for j in 0..<n { a += m[i * n + j] * d[j] }; md[i] = a }
    func error() -> Double { var e = 0.0; for i in 0..<n { e += d[i] * md[i] }; return e }
    let nearest = error()
    for _ in 0..<16 {
        var changed = false
        for k in 0..<n {
            let alt = q[k] == lo[k] ? lo[k] + 1 : lo[k]
            guard alt >= -127, alt <= 127, alt != q[k] else { continue }
            let step = s * Double(alt - q[k])
            let delta = step * (2 * md[k] + step * m[k * n + k])
            // Strictly lower by more than rounding noise, so that ties never flip back and forth.
            guard delta < -1e-12 * Swift.max(m[k * n + k] * s * s, Double.leastNormalMagnitude) else { continue }
            q[k] = alt; d[k] += step
            for i in 0..<n { md[i] += step * m[i * n + k] }
            changed = true
        }
        if !changed { break }
    }
    return (q, nearest, error())
}
