import DynQCore
import DynQGraph
import Foundation

/// The quantizer's choices.
public struct QuantizationOptions: Sendable {
    /// How activation ranges are chosen from calibration (default: 99.99th percentile).
    public var method: CalibrationMethod
    /// Per-channel (the format's) or per-tensor (comparison) weight scales.
    public var granularity: WeightGranularity
    /// Histogram bins per tensor.
    public var histogramBins: Int
    /// Coefficient precisions measured by calibration (the format uses 15).
    public var coefficientBits: [Int]
    /// Clipping ranges that replace `method`'s for these tensors (chosen by `searchRanges`, quantizer/RangeSearch.swift).
    /// Ignored for the tensors whose range is never clipped (global-pool outputs, the input).
    public var rangeOverrides: [String: ValueRange] = [:]
    /// Cross-layer equalization of activation ranges before the model is calibrated again (quantizer/
    /// Equalization.swift). Done by `refine` (and so by `quantize(graph:…)` and `dynq quantize`), not by
    /// `quantize(_:stats:options:)`, which builds from the prepared model it is given. The default (`--no-equalize`
    /// turns it off): no measured model gets worse on 10,000 images, the fixture gains 0.14 points and the held-out
    /// depthwise-separable model 0.39 (docs/calibration.md).
    public var equalize = true
    /// Empirical bias correction (quantizer/BiasCorrection.swift), by `refine` when it has the calibration images
    /// as uint8 pixels. Opt-in (`--bias-correction`): with equalization it raises the 10,000-image agreement of
    /// every measured model, but the fixture's own 1,000 test images fall to 98.9 %, under the drift test's 99 %
    /// floor (docs/calibration.md).
    public var biasCorrection = false
    /// How weights are rounded to their int8 grid: `.adaptive` (the default) measures each static conv's, linear's
    /// and CPM fully connected layer's input moments on the calibration images (in `refine`) and rounds each weight
    /// up or down to minimise the layer's output error (quantizer/WeightRounding.swift, docs/calibration.md);
    /// `.nearest` rounds each weight to its nearest code. Without measured moments (`quantize(_:stats:options:)` on
    /// stats `refine` did not fill) every layer is rounded to nearest.
    public var weightRounding = WeightRounding.adaptive
    /// The classifier (a linear without fused activation writing a graph output no op reads) writes int16 logits instead of
    /// int8 (quantizer/Ops/Linear.swift `emitWideLogits`; the runtime's `linearWide16`). The default; `--int8-logits`
    /// turns it off for firmware that reads int8 logits.
    public var wideLogits = true
    /// Classifier reconstruction (quantizer/ClassifierRefit.swift), by `refine` after bias correction when it has
    /// the calibration images as uint8 pixels: the classifier's float weights are refitted by ridge least squares
    /// (λ by 5-fold cross-validation on the calibration images) to map the int8 model's own features to the float
    /// logits. On by default (`--no-refit` turns it off).
    public var classifierRefit = true
    /// Every dynamic conv gets the runtime's fused DC correction (the model flag; Kernels/Common/FusedDCCorrection.swift,
    /// docs/numerics.md "Fused DC correction"): each sample's fused bias absorbs the fused kernel's rounding
    /// residual applied to the input's channel means. The quantizer's own int8 runs (bias correction, refit) see
    /// the corrected runtime. The default (`--no-fused-dc` turns it off): on 10,000 test images it removes 22 of the
    /// 72 flips of `fmnist_heldout` and makes no measured model worse (docs/calibration.md, "Fused DC correction").
    public var fusedDCCorrection = true

    public init(method: CalibrationMethod = .percentile(CalibrationMethod.defaultPercentile),
                granularity: WeightGranularity = .perChannel, histogramBins: Int = 2048,
                coefficientBits: [Int] = [8, 12, 15]) {
        self.method = method; self.granularity = granularity; self.histogramBins = histogramBins
        self.coefficientBits = coefficientBits
    }
}

/// The float model after BN folding, with the activation-fusion plan.
public struct PreparedModel: Sendable {
    public var model: FloatModel
    public var folds: [BatchnormFold]
    /// Fused activation node → the node whose clamp it became.
    public var fusions: [String: String]
}

/// Folds batchnorms and plans activation fusion.
public func prepare(graph: Graph, weights: [String: Tensor]) throws -> PreparedModel {
    // Folding indexes weights by the shapes validation checks (a bias shorter than its conv would trap);
    // folding itself refuses non-finite results (BatchnormFolding).
    _ = try inferShapes(graph: graph, weights: weights)
    let (model, folds) = try foldBatchnorm(FloatModel(graph: graph, weights: weights))
    return PreparedModel(model: model, folds: folds, fusions: planActivationFusion(model.graph))
}

/// Quantizes a float graph: folds batchnorms, calibrates on `calibration` (float `[1, C, H, W]` inputs, already
/// preprocessed — `Graph.preprocess` / `ImageBatch.input(_:for:)` make them from raw pixels) with the
/// `FloatEngine` (or `runner`) and builds the int8 model and its report.
/// Then `refine` as `options` asks: equalization, and bias correction when `images` (the same calibration images
/// as uint8 pixels) is given. A custom `runner` (it runs the original model) is only used for the first calibration.
public func quantize(graph: Graph, weights: [String: Tensor], calibration: [Tensor], images: ImageBatch? = nil,
                     options: QuantizationOptions = QuantizationOptions(), runner: FloatRunner? = nil,
                     progress: ((Int, Int) -> Void)? = nil) throws -> (ModelDescription, QuantReport) {
    let prepared = try prepare(graph: graph, weights: weights)
    let stats = try calibrate(prepared.model, inputs: calibration,
                              runner: try runner ?? floatEngineRunner(prepared.model),
                              histogramBins: options.histogramBins, coefficientBits: options.coefficientBits,
                              progress: progress)
    var batch = images
    batch?.count = Swift.min(images?.count ?? 0, calibration.count)
    let (p, st, _) = try refine(prepared, stats: stats, inputs: calibration, images: batch, options: options)
    return try quantize(p, stats: st, options: options)
}

/// What `refine` did.
public struct Refinement: Sendable {
    public var equalized: [EqualizedPair] = []
    public var corrected: [BiasCorrectionLayer] = []
    /// Why bias correction, asked for, did not run (no uint8 images).
    public var biasCorrectionSkipped: String?
    /// The classifier refit, when it ran.
    public var refit: ClassifierRefit?
    /// Why the classifier refit, asked for, did not run (no uint8 images, no single classifier, ...).
    public var refitSkipped: String?
    public init() {}
}

/// The steps between calibration and building that `options` asks for, in this order: equalization
/// (`options.equalize`), then calibration again on `inputs` with the float engine (every range downstream of an
/// equalized tensor changes); the input moments of adaptive weight rounding (`options.weightRounding`) on
/// `inputs`, into the returned stats; bias correction (`options.biasCorrection`) on `images`, the same calibration images
/// as uint8 pixels (skipped, and said so in the result, when `images` is nil or float32); then the classifier
/// refit (`options.classifierRefit`) on `images` with the float logits of `prepared` as targets (skipped, and
/// said so, without uint8 images or a single `linear` computing a graph output).
public func refine(_ prepared: PreparedModel, stats: CalibrationStats, inputs: [Tensor], images: ImageBatch?,
                   options: QuantizationOptions, workers: Int = defaultWorkerCount)
    throws -> (PreparedModel, CalibrationStats, Refinement)
{
    var p = prepared, st = stats, done = Refinement()
    if options.equalize {
        let (equalized, pairs) = try equalizeActivations(p, stats: st)
        done.equalized = pairs
        if !pairs.isEmpty {
            p = equalized
            st = try calibrate(p.model, inputs: inputs, runner: try floatEngineRunner(p.model),
                               histogramBins: options.histogramBins, coefficientBits: options.coefficientBits,
                               workers: workers)
        }
    }
    if options.weightRounding == .adaptive {
        st.inputMoments = try measureInputMoments(p.model, inputs: inputs, workers: workers)
    }
    if options.biasCorrection {
        if let images, case .uint8 = images.pixels {
            (p, done.corrected) = try correctBiases(p, stats: st, options: options, images: images, workers: workers)
        } else {
            done.biasCorrectionSkipped = images == nil ? "no calibration pixels given"
                : "float32 calibration images (bias correction runs the int8 model, whose input is uint8 pixels)"
        }
    }
    if options.classifierRefit {
        if let images, case .uint8 = images.pixels {
            do {
                (p, st, done.refit) = try refitClassifier(p, original: prepared, stats: st, options: options,
                                                          inputs: inputs, images: images, workers: workers)
            } catch let e as DynQError {
                done.refitSkipped = e.message
            }
        } else {
            done.refitSkipped = images == nil ? "no calibration pixels given"
                : "float32 calibration images (the refit runs the int8 model, whose input is uint8 pixels)"
        }
    }
    return (p, st, done)
}

/// Builds the int8 model from calibration statistics (so that one calibration can serve several methods).
public func quantize(_ prepared: PreparedModel, stats: CalibrationStats,
                     options: QuantizationOptions = QuantizationOptions()) throws -> (ModelDescription, QuantReport) {
    var b = ModelBuilder(prepared: prepared, stats: stats, options: options)
    try b.build()
    let graph = prepared.model.graph
    var model = ModelDescription(
        name: graph.name, tensors: b.tensors, blobs: b.blobs, operations: b.ops, input: b.rawInput,
        outputs: try graph.outputs.map { name in
            guard let id = b.ids[name] else { throw DynQError("graph output \(name) is not computed") }
            return id
        },
        classNames: graph.classes,
        preprocess: ModelDescription.Preprocess(
            scaleBits: graph.input.preprocess.scale.bitPattern,
            meanBits: graph.input.preprocess.mean.map(\.bitPattern),
            stdBits: graph.input.preprocess.std.map(\.bitPattern)))
    let report = QuantReport(
        model: graph.name, method: options.method, granularity: options.granularity, samples: stats.samples,
        layers: b.reports, batchnormFolds: prepared.folds,
        fusedActivations: prepared.fusions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
        coefficientPrecision: stats.coefficientPrecision)
    model.notes = report.table()        // carried in the file for `dynq inspect MODEL.dynq`
    return (model, report)
}
