import DynQCore
import DynQGraph
import Foundation

/// Classifier reconstruction ("refit"): the classifier's float weights are fitted again, by ridge least squares, to
/// map the int8 model's *own* features to the original float model's logits on the calibration images, so the
/// classifier absorbs part of the int8 activation noise its input carries.
///
/// - Classifier: the one `linear` node whose output is a graph output (none or several: no refit).
/// - Targets `z_i` (`[O]`): the float logits of the model `refine` was given (before bias correction), per image.
/// - Features `x̂_i` (`[F]`): the int8 model as it is built at this point, run by the integer runtime on the uint8
///   calibration images; the classifier input's codes in real units, `x̂ = s · (q − zp)`.
/// - Per output `o`: minimize `Σ_i (w'_o · x̂_i + b'_o − z_io)² + μ ‖w'_o − w_o‖²`, `μ = λ · n · v̄`, with `w` the
///   classifier's current float weights (the anchor), `v̄` the mean over features of the variance of `x̂` (so `λ` is
///   scale-free), `n` the images; the bias is not penalized. Solved centred: `(G + μI) W'ᵀ = C + μ Wᵀ`,
///   `b' = z̄ − W' x̄` (`G`, `C`: the centred `F × F` and `F × O` cross products), one Cholesky factorization
///   (Double) shared by every output: `O(F³/3 + 2F²·O)` per solve.
/// - `λ` from `classifierRefitLambdas` by 5-fold cross-validation on the calibration images (fold = image index
///   mod 5; loss = summed squared logit error on the held-out fold), then fitted on every image. When no `λ` beats
///   keeping the original classifier (`λ = ∞`) on the held-out folds, there is no refit (`crossValidatedLambda`).
///   The 35 held-out evaluations factor an `F × F` matrix each but solve only for the held-out images
///   (`ridgeHeldOutLoss`), on every core; the final fit is one full solve (`F³/3 + 2F²·O`).
/// - The new weight and bias are new tensors (`<node>.weight.refit`, `<node>.bias.refit`); the output's range stays
///   as calibrated. Adaptive rounding of the classifier then uses the moments of `x̂` (when it has moments).
public struct ClassifierRefit: Sendable, Equatable {
    public var node: String
    /// The chosen `λ`.
    public var lambda: Double
    /// Cross-validation loss per `classifierRefitLambdas` entry (summed squared logit error of the held-out folds).
    public var crossValidationLoss: [Double]
    /// Images used.
    public var images: Int
    /// Mean over images of `‖W x̂ + b − z‖²` with the classifier's float weights before (`W, b`) and after the refit
    /// (the int8 features, float classifier: the output's own rounding is not included).
    public var mseBefore: Double
    public var mseAfter: Double
}

/// The `λ` grid of the cross-validation, largest first (ties keep the larger).
public let classifierRefitLambdas: [Double] = [1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001]
/// Cross-validation folds (image index mod `classifierRefitFolds`).
public let classifierRefitFolds = 5

/// The classifier to refit, or why there is none: the single `linear` node whose output is a graph output.
func classifierToRefit(_ model: FloatModel) -> Result<Node, DynQError> {
    let outputs = Set(model.graph.outputs)
    let found = model.graph.nodes.filter { n in
        if case .linear = n.op { return n.outputs.contains(where: outputs.contains) }
        return false
    }
    if found.isEmpty { return .failure(DynQError("no linear layer computes a graph output")) }
    if found.count > 1 {
        return .failure(DynQError("\(found.count) linear layers compute graph outputs (\(found.map(\.name).joined(separator: ", ")))"))
    }
    return .success(found[0])
}

/// Refits the classifier of `p` (see `ClassifierRefit`). `original`: the model whose float logits are the targets;
/// `inputs`: the float calibration inputs; `images`: the same images as uint8 pixels (at least `inputs.count`).
/// Returns the model with the new classifier tensors, `stats` with the classifier's input moments replaced by the
/// int8 features' (when it had them), and what was done; or throws a `DynQError` saying why the refit cannot run.
public func refitClassifier(_ p: PreparedModel, original: PreparedModel, stats: CalibrationStats,
                            options: QuantizationOptions, inputs: [Tensor], images: ImageBatch,
                            workers: Int = defaultWorkerCount) throws
    -> (PreparedModel, CalibrationStats, ClassifierRefit)
{
    let node = try classifierToRefit(p.model).get()
    guard case .linear(let attrs) = node.op, let w = p.model.weights[attrs.weight], w.shape.count == 2 else {
        throw DynQError("classifier \(node.name) has no [O, F] weight")
    }
    let o = w.shape[0], f = w.shape[1]
    let outName = node.outputs[0], inName = node.inputs[0]
    let n = Swift.min(inputs.count, images.count)
    guard n >= 2 * classifierRefitFolds else { throw DynQError("\(n) calibration images (at least \(2 * classifierRefitFolds) needed)") }
    guard let outIndex = original.model.graph.outputs.firstIndex(of: outName) else {
        throw DynQError("\(outName) is not an output of the original model")
    }
    // Targets: the original float logits.
    let engine = try FloatEngine(graph: original.model.graph, weights: original.model.weights)
    let targets: [[Double]] = try concurrentChunks(count: n, workers: workers) { range in
        try range.map { i in try engine.run(inputs[i])[outIndex].data.map(Double.init) }
    }
    guard targets.allSatisfy({ $0.count == o }) else { throw DynQError("the logits \(outName) do not have \(o) entries") }
    // Features: the int8 model's classifier input.
    let features = try int8Features(p, stats: stats, options: options, tensor: inName, length: f,
                                    images: try hwcImages(images, count: n), workers: workers)
    let anchor = w.data.map(Double.init)
    var anchorBias = [Double](repeating: 0, count: o)
    if let bn = attrs.bias, let b = p.model.weights[bn], b.count == o { anchorBias = b.data.map(Double.init) }
    let choice = try crossValidateRefit(features: features, targets: targets, anchor: anchor, anchorBias: anchorBias,
                                       workers: workers)
    let cv = choice.loss, all = choice.all
    guard let best = choice.best else {
        throw DynQError("the cross-validation keeps the original classifier (held-out squared logit error "
                        + String(format: "%.4g without a refit, %.4g at best with one", choice.keepLoss, cv.min() ?? 0)
                        + "; \(n) images for \(f) inputs)")
    }
    let lambda = classifierRefitLambdas[best]
    let (wNew, bNew) = try ridgeSolve(all, anchor: anchor, lambda: lambda)
    // The original classifier's error on every image is the cross-validation's `keepLoss` (the same sum).
    let before = choice.keepLoss
    var after = 0.0
    for i in 0..<n { after += squaredError(wNew, bNew, features[i], targets[i]) }

    var q = p
    guard let ni = q.model.graph.nodes.firstIndex(where: { $0.name == node.name }) else {
        throw DynQError("no node \(node.name)")
    }
    func fresh(_ base: String) -> String {
        var name = base, k = 1
        while q.model.weights[name] != nil { name = "\(base).\(k)"; k += 1 }
        return name
    }
    var a = attrs
    a.weight = fresh("\(node.name).weight.refit")
    q.model.weights[a.weight] = Tensor(shape: [o, f], data: wNew.map(Float.init))
    a.bias = fresh("\(node.name).bias.refit")
    q.model.weights[a.bias!] = Tensor(shape: [o], data: bNew.map(Float.init))
    q.model.graph.nodes[ni].op = .linear(a)

    var st = stats
    if st.inputMoments[node.name] != nil {
        var m = InputMoments(length: f, groups: 1)
        m.values = all.xx
        m.count = all.n
        st.inputMoments[node.name] = m.normalized()
    }
    return (q, st, ClassifierRefit(node: node.name, lambda: lambda, crossValidationLoss: cv, images: n,
                                   mseBefore: before / Double(n), mseAfter: after / Double(n)))
}

/// The cross-validation of `refitClassifier` (fold = image index mod `classifierRefitFolds`).
public struct RefitCrossValidation: Sendable {
    /// The `classifierRefitLambdas` entry with the lowest `loss` (ties keep the larger `λ`), or nil when none beats
    /// keeping the original classifier (`keepLoss ≤` every `loss`): the refit would then fit the calibration
    /// images' own noise, not the int8 features' (seen with fewer images than classifier inputs).
    public var best: Int?
    /// Per `classifierRefitLambdas` entry: the summed squared logit error on each held-out fold of the ridge fit
    /// on the other folds.
    public var loss: [Double]
    /// The same for the original classifier (`λ = ∞`: the same weights for every fold, so its error on every image).
    public var keepLoss: Double
    /// The sums over every image (for the final fit).
    var all: RidgeSums
}

/// Cross-validates the refit of `anchor` (`[O, F]` row-major) and `anchorBias` (`[O]`) on `features` (`[F]` each)
/// and `targets` (`[O]` each); see `RefitCrossValidation`. 35 held-out evaluations (`ridgeHeldOutLoss`) on
/// `workers` threads; the result does not depend on `workers`.
func crossValidateRefit(features: [[Double]], targets: [[Double]], anchor: [Double], anchorBias: [Double],
                        workers: Int = defaultWorkerCount) throws
    -> RefitCrossValidation
{
    let n = features.count, f = features.first?.count ?? 0, o = anchorBias.count, k = classifierRefitFolds
    var folds = (0..<k).map { _ in RidgeSums(features: f, outputs: o) }
    for i in 0..<n { folds[i % k].add(features[i], targets[i]) }
    var all = RidgeSums(features: f, outputs: o)
    for s in folds { all.add(s) }
    // One task per (λ, fold), in parallel; each returns its own loss, summed in a fixed order below.
    let lambdas = classifierRefitLambdas, tasks = lambdas.count * k
    let frozenFolds = folds, frozenAll = all
    let perTask = try concurrentChunks(count: tasks, workers: workers) { range in
        try range.map { t -> Double in
            let fold = t % k
            var train = frozenAll
            train.subtract(frozenFolds[fold])
            return try ridgeHeldOutLoss(train, anchor: anchor, lambda: lambdas[t / k], features: features,
                                        targets: targets, heldOut: Array(stride(from: fold, to: n, by: k)))
        }
    }
    let loss = lambdas.indices.map { j in (0..<k).reduce(0.0) { $0 + perTask[j * k + $1] } }
    var keep = 0.0
    for i in 0..<n { keep += squaredError(anchor, anchorBias, features[i], targets[i]) }
    var best = 0
    for j in loss.indices where loss[j] < loss[best] { best = j }
    return RefitCrossValidation(best: loss[best] < keep ? best : nil, loss: loss, keepLoss: keep, all: all)
}

/// `‖W x + b − z‖²`, `W` row-major `[O, F]`.
func squaredError(_ w: [Double], _ b: [Double], _ x: [Double], _ z: [Double]) -> Double {
    let f = x.count
    var e = 0.0
    w.withUnsafeBufferPointer { w in
        x.withUnsafeBufferPointer { x in
            for o in 0..<z.count {
                var s = b[o]
                let row = o * f
                for j in 0..<f { s += w[row + j] * x[j] }
                e += (s - z[o]) * (s - z[o])
            }
        }
    }
    return e
}

/// Sums of features `x` (`[F]`) and targets `z` (`[O]`) over a set of images, for `ridgeSolve`.
struct RidgeSums: Sendable {
    var f: Int, o: Int, n = 0
    /// `Σ x xᵀ`, `F × F` row-major (both triangles).
    var xx: [Double]
    /// `Σ x zᵀ`, `F × O` row-major.
    var xz: [Double]
    var x: [Double]
    var z: [Double]

    init(features f: Int, outputs o: Int) {
        self.f = f; self.o = o
        xx = [Double](repeating: 0, count: f * f); xz = [Double](repeating: 0, count: f * o)
        x = [Double](repeating: 0, count: f); z = [Double](repeating: 0, count: o)
    }

    mutating func add(_ v: [Double], _ t: [Double]) {
        let f = self.f, o = self.o
        xx.withUnsafeMutableBufferPointer { xx in
            xz.withUnsafeMutableBufferPointer { xz in
                for i in 0..<f where v[i] != 0 {
                    let vi = v[i]
                    for j in 0..<f { xx[i * f + j] += vi * v[j] }
                    for k in 0..<o { xz[i * o + k] += vi * t[k] }
                }
            }
        }
        for i in 0..<f { x[i] += v[i] }
        for k in 0..<o { z[k] += t[k] }
        n += 1
    }

    mutating func add(_ s: RidgeSums, sign: Double = 1) {
        for k in xx.indices { xx[k] += sign * s.xx[k] }
        for k in xz.indices { xz[k] += sign * s.xz[k] }
        for k in x.indices { x[k] += sign * s.x[k] }
        for k in z.indices { z[k] += sign * s.z[k] }
        n += sign > 0 ? s.n : -s.n
    }

    mutating func subtract(_ s: RidgeSums) { add(s, sign: -1) }
}

/// The ridge fit of `ClassifierRefit` on `s`: weights `[O, F]` row-major and bias `[O]`. `anchor`: `[O, F]`.
/// `lambda` 0 is plain least squares (needs the centred features' `G` positive definite). Throws when `G + μI`
/// is not positive definite (constant features with `lambda` 0, or no spread at all).
func ridgeSolve(_ s: RidgeSums, anchor: [Double], lambda: Double) throws -> ([Double], [Double]) {
    let f = s.f, o = s.o
    var sys = ridgeSystem(s, anchor: anchor, lambda: lambda)
    try choleskyFactor(&sys.a, f)
    choleskySolve(sys.a, f, &sys.r, columns: o)
    var w = [Double](repeating: 0, count: o * f)
    var b = sys.zm
    for k in 0..<o {
        for i in 0..<f {
            w[k * f + i] = sys.r[i * o + k]
            b[k] -= sys.r[i * o + k] * sys.xm[i]
        }
    }
    return (w, b)
}

/// The centred ridge system of `ridgeSolve`: `a = G + μI` (`F × F`), `r = C + μWᵀ` (`F × O`), and the means of
/// the features and targets.
struct RidgeSystem {
    var a: [Double], r: [Double], xm: [Double], zm: [Double]
}

func ridgeSystem(_ s: RidgeSums, anchor: [Double], lambda: Double) -> RidgeSystem {
    let f = s.f, o = s.o, n = Double(s.n)
    precondition(anchor.count == f * o && s.n > 0)
    let xm = s.x.map { $0 / n }, zm = s.z.map { $0 / n }
    var a = s.xx
    for i in 0..<f { for j in 0..<f { a[i * f + j] -= n * xm[i] * xm[j] } }
    var trace = 0.0
    for i in 0..<f { trace += a[i * f + i] }
    let mu = lambda * n * (trace / (n * Double(f)))
    for i in 0..<f { a[i * f + i] += mu }
    // Right-hand side `C + μ Wᵀ`, F × O.
    var r = s.xz
    for i in 0..<f { for k in 0..<o { r[i * o + k] += -n * xm[i] * zm[k] + mu * anchor[k * f + i] } }
    return RidgeSystem(a: a, r: r, xm: xm, zm: zm)
}

/// Cholesky factorization in place, `a = L Lᵀ` (`F × F` row-major; L in the lower triangle). Throws when `a` is
/// not positive definite.
func choleskyFactor(_ m: inout [Double], _ f: Int) throws {
    try m.withUnsafeMutableBufferPointer { a in
        for j in 0..<f {
            var d = a[j * f + j]
            for k in 0..<j { d -= a[j * f + k] * a[j * f + k] }
            guard d > 0, d.isFinite else { throw DynQError("the features' normal matrix is not positive definite") }
            let l = d.squareRoot()
            a[j * f + j] = l
            for i in (j + 1)..<Swift.max(j + 1, f) {
                var v = a[i * f + j]
                for k in 0..<j { v -= a[i * f + k] * a[j * f + k] }
                a[i * f + j] = v / l
            }
        }
    }
}

/// Solves `L Lᵀ X = R` in place for the `columns` columns of `r` (`F × columns` row-major), `l` from
/// `choleskyFactor`.
func choleskySolve(_ l: [Double], _ f: Int, _ rhs: inout [Double], columns o: Int) {
    l.withUnsafeBufferPointer { a in
        rhs.withUnsafeMutableBufferPointer { r in
            // L Y = R
            for i in 0..<f {
                for k in 0..<i {
                    let l = a[i * f + k]
                    if l != 0 { for c in 0..<o { r[i * o + c] -= l * r[k * o + c] } }
                }
                let d = a[i * f + i]
                for c in 0..<o { r[i * o + c] /= d }
            }
            // Lᵀ X = Y
            for i in stride(from: f - 1, through: 0, by: -1) {
                for k in (i + 1)..<Swift.max(i + 1, f) {
                    let l = a[k * f + i]
                    if l != 0 { for c in 0..<o { r[i * o + c] -= l * r[k * o + c] } }
                }
                let d = a[i * f + i]
                for c in 0..<o { r[i * o + c] /= d }
            }
        }
    }
}

/// The summed squared error on `features[i]`, `targets[i]` (`i` in `heldOut`) of the ridge fit of `train` —
/// what `ridgeSolve` would return, without forming its `F × O` weights: the prediction for `x` is
/// `z̄ + Rᵀ (G + μI)⁻¹ (x − x̄)`, so one Cholesky factorization and one solve per held-out image
/// (`F³/3 + 2F²·n_k + F·O·n_k` instead of `F³/3 + 2F²·O`: 5× to 30× less for F = 1280, O = 1000).
func ridgeHeldOutLoss(_ train: RidgeSums, anchor: [Double], lambda: Double, features: [[Double]],
                      targets: [[Double]], heldOut: [Int]) throws -> Double {
    let f = train.f, o = train.o, m = heldOut.count
    var sys = ridgeSystem(train, anchor: anchor, lambda: lambda)
    try choleskyFactor(&sys.a, f)
    var u = [Double](repeating: 0, count: f * m)
    for (c, i) in heldOut.enumerated() { for j in 0..<f { u[j * m + c] = features[i][j] - sys.xm[j] } }
    choleskySolve(sys.a, f, &u, columns: m)
    var loss = 0.0
    var pred = [Double](repeating: 0, count: o)
    for (c, i) in heldOut.enumerated() {
        for k in 0..<o { pred[k] = sys.zm[k] }
        for j in 0..<f {
            let v = u[j * m + c]
            if v != 0 { for k in 0..<o { pred[k] += v * sys.r[j * o + k] } }
        }
        for k in 0..<o { let d = pred[k] - targets[i][k]; loss += d * d }
    }
    return loss
}

/// The int8 model built from `p`, run by the integer runtime (SIMD128 kernels) on `images` (uint8 HWC): the
/// `length` codes of `tensor` per image in real units (`s · (q − zp)`), in image order.
func int8Features(_ p: PreparedModel, stats: CalibrationStats, options: QuantizationOptions, tensor t: String,
                  length: Int, images: [[UInt8]], workers: Int) throws -> [[Double]] {
    let (md, _) = try quantize(p, stats: stats, options: options)
    guard let index = md.tensors.firstIndex(where: { $0.name == t }), md.tensors[index].type == .int8 else {
        throw DynQError("the int8 model has no int8 tensor \(t)")
    }
    let bytes: [UInt8]
    do { bytes = try md.serialized() } catch { throw DynQError("the model does not serialize: \(error)") }
    let scale = Double(Float(bitPattern: md.tensors[index].scaleBits)), zero = md.tensors[index].zeroPoint
    return try runInt8Model(modelBytes: bytes, images: images, keepAll: true, workers: workers,
                            what: "classifier refit") { interpreter, _ -> [Double] in
        let raw = interpreter.tensorBytes(TensorID(index))
        guard raw.count == length else { throw DynQError("\(t) has \(raw.count) int8 values, not \(length)") }
        return (0..<length).map { scale * Double(Int(Int8(bitPattern: raw[$0])) - zero) }
    }
}
