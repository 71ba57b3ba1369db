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
    /// Whether `dynq quantize` applies empirical bias correction (quantizer/BiasCorrection.swift) before building
    /// the model. `quantize(_:stats:options:)` itself never does: the caller runs `correctBiases` on the prepared
    /// model, since it needs the calibration images as pixels.
    public var biasCorrection = false

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
public func quantize(graph: Graph, weights: [String: Tensor], calibration: [Tensor],
                     options: QuantizationOptions = QuantizationOptions(), runner: FloatRunner? = nil,
                     progress: ((Int, Int) -> Void)? = nil) throws -> (ModelDescription, QuantReport) {
    let prepared = try prepare(graph: graph, weights: weights)
    let stats = try calibrate(prepared.model, inputs: calibration,
                              runner: try runner ?? floatEngineRunner(prepared.model),
                              histogramBins: options.histogramBins, coefficientBits: options.coefficientBits,
                              progress: progress)
    return try quantize(prepared, stats: stats, options: options)
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
