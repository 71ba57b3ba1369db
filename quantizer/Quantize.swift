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
    public var folds: [BatchNormFold]
    /// Fused activation node → the node whose clamp it became.
    public var fusions: [String: String]
}

/// Folds batchnorms and plans activation fusion.
public func prepare(graph: Graph, weights: [String: Tensor]) throws -> PreparedModel {
    let (model, folds) = try foldBatchNorm(FloatModel(graph: graph, weights: weights))
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
        layers: b.reports, batchNormFolds: prepared.folds,
        fusedActivations: prepared.fusions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
        coefficientPrecision: stats.coefficientPrecision)
    model.notes = report.table()        // carried in the file for `dynq inspect MODEL.dynq`
    return (model, report)
}

typealias MD = ModelDescription

/// Q15 coefficient tensors: scale 2^−15.
let q15ScaleBits: UInt32 = 0x3800_0000

struct ModelBuilder {
    let prepared: PreparedModel
    let stats: CalibrationStats
    let options: QuantizationOptions
    var weights: [String: Tensor] { prepared.model.weights }
    var graph: Graph { prepared.model.graph }

    var tensors: [MD.Tensor] = []
    var blobs: [MD.Blob] = []
    var ops: [MD.Operation] = []
    var reports: [LayerReport] = []
    /// Graph tensor name (and CPM internal names) → runtime tensor.
    var ids: [String: TensorID] = [:]
    var quants: [String: ActivationQuant] = [:]
    /// NCHW shapes.
    var shapes: [String: [Int]] = [:]
    var rawInput: TensorID = 0
    /// Coefficient tensor name → its gate kind and CPM node name.
    var gates: [String: (kind: MD.GateKind, cpm: String)] = [:]
    /// Activation node name → activation node, for the producers that absorb them.
    var fusedActivationOf: [String: Node] = [:]

    init(prepared: PreparedModel, stats: CalibrationStats, options: QuantizationOptions) {
        self.prepared = prepared; self.stats = stats; self.options = options
        shapes = stats.shapes
        for n in prepared.model.graph.nodes {
            if let p = prepared.fusions[n.name] { fusedActivationOf[p] = n }
        }
    }

    // MARK: - Tensors and blobs

    mutating func addTensor(_ name: String, _ type: ElementType, nchw: [Int], scaleBits: UInt32, zero: Int)
        -> TensorID
    {
        let id = TensorID(tensors.count)
        tensors.append(MD.Tensor(name: name, type: type, shape: Layouts.nhwcShape(nchw), scaleBits: scaleBits,
                                 zeroPoint: zero))
        ids[name] = id
        return id
    }

    mutating func addTensor(_ name: String, nchw: [Int], quant q: ActivationQuant) -> TensorID {
        quants[name] = q
        return addTensor(name, .int8, nchw: nchw, scaleBits: Float(q.scale).bitPattern, zero: q.zeroPoint)
    }

    mutating func blob(_ b: MD.Blob) -> BlobID {
        blobs.append(b)
        return BlobID(blobs.count - 1)
    }

    func shape(_ name: String, node: String) throws -> [Int] {
        guard let s = shapes[name] else {
            throw DynQError("node \(node): tensor \(name) was not observed during calibration")
        }
        return s
    }

    func input(_ name: String, node: String) throws -> (TensorID, ActivationQuant) {
        guard let id = ids[name], let q = quants[name] else {
            throw DynQError("node \(node): input \(name) is not an int8 tensor computed before it")
        }
        return (id, q)
    }

    func weight(_ name: String, node: String) throws -> Tensor {
        guard let t = weights[name] else { throw DynQError("node \(node): missing weight \(name)") }
        return t
    }

    /// The clipping range and quantization of a calibrated tensor, optionally intersected with `limit`.
    func calibrated(_ name: String, node: String, limit: ValueRange? = nil)
        throws -> (ActivationQuant, chosen: ValueRange, observed: ValueRange)
    {
        guard let h = stats.histograms[name] else {
            throw DynQError("node \(node): tensor \(name) was not observed during calibration")
        }
        var r = chooseRange(h, method: options.method)
        if let limit {
            r = ValueRange(min: Swift.max(r.min, limit.min), max: Swift.min(r.max, limit.max))
        }
        return (ActivationQuant(range: r), r, h.exact)
    }

    /// Sigmoid-gate logits beyond ±ln(2^15) change η by less than one Q15 step (e^−10.4 ≈ 2^−15), so their
    /// range is clipped there: the int8 logits then spend their 256 codes where the sigmoid moves.
    static let sigmoidLogitLimit = ValueRange(min: -log(32768.0), max: log(32768.0))

    // MARK: - Build

    mutating func build() throws {
        try emitInput()
        for node in graph.nodes {
            if prepared.fusions[node.name] != nil { continue }   // absorbed by its producer
            switch node.op {
            case .conv2d(let c): try emitConv(node, c)
            case .dynamicConv2d(let d): try emitDynamic(node, d)
            case .linear(let l):
                let x = node.inputs[0]
                let (inID, qin) = try input(x, node: node.name)
                let (out, act) = outputOf(node)
                let (qout, chosen, observed) = try calibrated(out, node: node.name)
                let w = try weight(l.weight, node: node.name)
                let bias = try l.bias.map { try weight($0, node: node.name) }
                let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
                var rep = try emitLinear(name: node.name, input: inID, qin: qin, w: w, b: bias, output: outID,
                                         qout: qout, clamp: clamp(act, qout))
                rep.outputRange = chosen; rep.observedRange = observed
                if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
                reports.append(rep)
            case .cpm(let a): try emitCPM(node, a)
            case .batchnorm:
                throw DynQError("batchnorm \(node.name) was not folded")   // foldBatchNorm refuses earlier
            case .relu, .relu6, .hardswish, .hardsigmoid: try emitTable(node)
            case .add: try emitAdd(node)
            case .concat: try emitConcat(node)
            case .channelShuffle(let groups):
                let (inID, q) = try input(node.inputs[0], node: node.name)
                let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
                ops.append(MD.Operation(name: node.name, op: .channelShuffle(
                    MD.ChannelShuffle(input: inID, output: out, groups: groups))))
                reports.append(passThroughReport(node, "channel_shuffle", q))
            case .channelSplit:
                let (inID, q) = try input(node.inputs[0], node: node.name)
                var outs: [TensorID] = []
                for o in node.outputs { outs.append(addTensor(o, nchw: try shape(o, node: node.name), quant: q)) }
                ops.append(MD.Operation(name: node.name, op: .channelSplit(MD.ChannelSplit(input: inID, outputs: outs))))
                reports.append(passThroughReport(node, "channel_split", q))
            case .maxpool(let p), .avgpool(let p):
                let isMax: Bool = { if case .maxpool = node.op { return true }; return false }()
                let (inID, q) = try input(node.inputs[0], node: node.name)
                let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
                let win = MD.Window(kernelH: p.kernel.h, kernelW: p.kernel.w, strideH: p.stride.h,
                                    strideW: p.stride.w, padTop: p.padding.top, padLeft: p.padding.left,
                                    padBottom: p.padding.bottom, padRight: p.padding.right)
                let pool = MD.Pool(input: inID, output: out, window: win, countIncludePad: p.countIncludePad)
                ops.append(MD.Operation(name: node.name, op: isMax ? .maxPool(pool) : .avgPool(pool)))
                var rep = passThroughReport(node, isMax ? "maxpool" : "avgpool", q)
                if !isMax {
                    rep.accumulator = try poolAccumulatorBound(layer: node.name, inputZero: q.zeroPoint,
                                                               terms: p.kernel.h * p.kernel.w)
                }
                reports.append(rep)
            case .globalAvgpool:
                let x = node.inputs[0]
                let (inID, qin) = try input(x, node: node.name)
                let out = node.outputs[0]
                let (qout, chosen, observed) = try calibrated(out, node: node.name)
                let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
                var rep = try emitGlobalPool(name: node.name, input: inID, inShape: try shape(x, node: node.name),
                                             qin: qin, output: outID, qout: qout)
                rep.outputRange = chosen; rep.observedRange = observed
                reports.append(rep)
            case .flatten:
                let (inID, q) = try input(node.inputs[0], node: node.name)
                let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: q)
                ops.append(MD.Operation(name: node.name, op: .flatten(MD.Unary(input: inID, output: out))))
                reports.append(passThroughReport(node, "flatten", q))
            case .softmax(let temperature):
                let (inID, qin) = try input(node.inputs[0], node: node.name)
                let qout = ActivationQuant(scale: 1.0 / 256, zeroPoint: -128)
                let out = addTensor(node.outputs[0], nchw: try shape(node.outputs[0], node: node.name), quant: qout)
                let table = Tables.softmaxExp(inputScale: qin.scale, temperature: Double(temperature))
                let t = blob(MD.Blob(name: "\(node.name).exp", int32: table.map { Int32($0) }, shape: [256]))
                ops.append(MD.Operation(name: node.name, op: .softmax(MD.Softmax(input: inID, output: out, expTable: t))))
                var rep = LayerReport(name: node.name, op: "softmax")
                rep.input = qin; rep.output = qout; rep.outputRange = qout.range
                rep.observedRange = stats.observedRange(node.outputs[0])
                reports.append(rep)
            }
        }
    }

    /// The tensor a node writes (its fused activation's output if it has one) and that activation.
    func outputOf(_ node: Node) -> (String, Node?) {
        if let act = fusedActivationOf[node.name] { return (act.outputs[0], act) }
        return (node.outputs[0], nil)
    }

    /// The clamp of a fused ReLU / ReLU6 in the output's quantization.
    func clamp(_ act: Node?, _ q: ActivationQuant) -> MD.Clamp {
        guard let act else { return .none }
        let lo = Swift.max(-128, q.quantize(0))
        switch act.op {
        case .relu6: return MD.Clamp(min: lo, max: Swift.min(127, q.quantize(6)))
        default: return MD.Clamp(min: lo, max: 127)
        }
    }

    func passThroughReport(_ node: Node, _ op: String, _ q: ActivationQuant) -> LayerReport {
        var r = LayerReport(name: node.name, op: op)
        r.input = q; r.output = q; r.outputRange = q.range
        r.observedRange = stats.observedRange(node.outputs[0])
        r.notes.append("keeps the input's scale and zero point")
        return r
    }

    // MARK: - Input

    mutating func emitInput() throws {
        let spec = graph.input
        guard spec.shape.count == 4 else { throw DynQError("graph input must be [1, C, H, W]") }
        let c = spec.shape[1]
        for (what, v) in [("mean", spec.preprocess.mean), ("std", spec.preprocess.std)] where v.count != 1 && v.count != c {
            throw DynQError("input.preprocess.\(what) has \(v.count) entries for \(c) channels")
        }
        // The input is a finite set: every pixel value of every channel. Its full range is the clipping range.
        var r = ValueRange.empty
        for ch in 0..<c { for p in [0, 255] { r.include(Tables.preprocessed(p, channel: ch, spec.preprocess)) } }
        let q = ActivationQuant(range: r)
        rawInput = addTensor("\(spec.name).uint8", .uint8, nchw: spec.shape, scaleBits: Float(1).bitPattern, zero: 0)
        let id = addTensor(spec.name, nchw: spec.shape, quant: q)
        let table = Tables.input(spec.preprocess, channels: c, quant: q)
        let t = blob(MD.Blob(name: "\(spec.name).table", int8: table.flatMap { $0 }, shape: [c, 256]))
        ops.append(MD.Operation(name: spec.name, op: .inputTable(MD.InputTable(input: rawInput, output: id, table: t))))
        var rep = LayerReport(name: spec.name, op: "input_table")
        rep.output = q; rep.outputRange = q.range; rep.observedRange = stats.observedRange(spec.name)
        rep.notes.append("uint8 → int8 table per channel (preprocess folded), range = all 256 pixel values")
        reports.append(rep)
    }

    // MARK: - Weighted layers

    /// Bias `b / (s_in · s_w[o])` as int32, refusing values that do not fit.
    func quantizeBias(_ b: [Double], scale: (Int) -> Double, layer: String, what: String) throws -> [Int32] {
        try b.enumerated().map { o, v in
            let q = (v / scale(o)).rounded(.toNearestOrAwayFromZero)
            guard q.isFinite, Swift.abs(q) <= Double(Int32.max) else {
                throw DynQError("layer \(layer): \(what) of channel \(o) (\(v)) does not fit int32 at scale "
                                + "\(scale(o))")
            }
            return Int32(q)
        }
    }

    /// The int32 `[O][2]` `(m, e)` blob.
    mutating func multiplierBlob(_ name: String, _ m: [QuantizedMultiplier]) -> BlobID {
        blob(MD.Blob(name: "\(name).multipliers", multipliers: m))
    }

    func range(_ xs: [Double]) -> ValueRange {
        var r = ValueRange.empty
        for x in xs { r.include(x) }
        return r
    }

    mutating func emitConv(_ node: Node, _ c: Conv2DAttrs) throws {
        let x = node.inputs[0]
        let (inID, qin) = try input(x, node: node.name)
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let w = try weight(c.weight, node: node.name)
        guard w.shape.count == 4 else { throw DynQError("node \(node.name): weight must be [O, I/groups, kh, kw]") }
        let o = w.shape[0], ig = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let inC = try shape(x, node: node.name)[1]
        let groups = c.geometry.groups
        // The runtime's depthwise kernel is channel multiplier 1 (groups == I == O); other grouped convs are OHWI.
        let depthwise = groups > 1 && groups == inC && o == inC && ig == 1
        let qw = quantizeWeights(w, channelAxis: 0, granularity: options.granularity)
        let sIn = qin.scale
        let bias = try c.bias.map { name -> [Int32] in
            let b = try weight(name, node: node.name)
            return try quantizeBias(b.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: node.name,
                                    what: "bias")
        }
        let mults = try (0..<o).map {
            try quantizeMultiplier(sIn * qw.scales[$0] / qout.scale, layer: node.name, what: "output")
        }
        let acc = try staticAccumulatorBound(layer: node.name, inputZero: qin.zeroPoint, weights: qw.values,
                                             channels: o, bias: bias)
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let wb: BlobID
        if depthwise {
            wb = blob(MD.Blob(name: "\(node.name).weights", int8: Layouts.depthwise(qw.values, o: o, kh: kh, kw: kw),
                              shape: [kh, kw, o]))
        } else {
            wb = blob(MD.Blob(name: "\(node.name).weights", int8: Layouts.ohwi(qw.values, o: o, i: ig, kh: kh, kw: kw),
                              shape: [o, kh, kw, ig]))
        }
        let bb = bias.map { blob(MD.Blob(name: "\(node.name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(node.name, mults)
        let g = c.geometry
        let conv = MD.Conv(input: inID, output: outID, weights: wb, bias: bb, multipliers: mb,
                           window: window(g, kh: kh, kw: kw), groups: groups, clamp: clamp(act, qout))
        ops.append(MD.Operation(name: node.name, op: depthwise ? .depthwiseConv2d(conv) : .conv2d(conv)))
        var rep = LayerReport(name: node.name, op: depthwise ? "depthwise_conv2d" : "conv2d")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range(mults.map(realValue)); rep.accumulator = acc
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        reports.append(rep)
    }

    func window(_ g: ConvGeometry, kh: Int, kw: Int) -> MD.Window {
        MD.Window(kernelH: kh, kernelW: kw, strideH: g.stride.h, strideW: g.stride.w, dilationH: g.dilation.h,
                  dilationW: g.dilation.w, padTop: g.padding.top, padLeft: g.padding.left,
                  padBottom: g.padding.bottom, padRight: g.padding.right)
    }

    mutating func emitLinear(name: String, input inID: TensorID, qin: ActivationQuant, w: Tensor, b: Tensor?,
                             output outID: TensorID, qout: ActivationQuant, clamp: MD.Clamp) throws -> LayerReport {
        guard w.shape.count == 2 else { throw DynQError("layer \(name): linear weight must be [O, F]") }
        let o = w.shape[0], f = w.shape[1]
        let qw = quantizeWeights(w, channelAxis: 0, granularity: options.granularity)
        let sIn = qin.scale
        let bias = try b.map {
            try quantizeBias($0.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: name, what: "bias")
        }
        let mults = try (0..<o).map {
            try quantizeMultiplier(sIn * qw.scales[$0] / qout.scale, layer: name, what: "output")
        }
        let acc = try staticAccumulatorBound(layer: name, inputZero: qin.zeroPoint, weights: qw.values, channels: o,
                                             bias: bias)
        let wb = blob(MD.Blob(name: "\(name).weights", int8: qw.values, shape: [o, f]))
        let bb = bias.map { blob(MD.Blob(name: "\(name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(name, mults)
        ops.append(MD.Operation(name: name, op: .linear(MD.Linear(input: inID, output: outID, weights: wb, bias: bb,
                                                                 multipliers: mb, clamp: clamp))))
        var rep = LayerReport(name: name, op: "linear")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB
        rep.input = qin; rep.output = qout; rep.multipliers = range(mults.map(realValue)); rep.accumulator = acc
        return rep
    }

    mutating func emitGlobalPool(name: String, input inID: TensorID, inShape: [Int], qin: ActivationQuant,
                                 output outID: TensorID, qout: ActivationQuant) throws -> LayerReport {
        let hw = inShape.count == 4 ? inShape[2] * inShape[3] : 1
        let m = try quantizeMultiplier(qin.scale / (Double(hw) * qout.scale), layer: name, what: "pooling")
        let acc = try poolAccumulatorBound(layer: name, inputZero: qin.zeroPoint, terms: hw)
        ops.append(MD.Operation(name: name, op: .globalAvgPool(MD.GlobalAvgPool(
            input: inID, output: outID, requant: MD.Requant(multiplier: m.multiplier, shift: m.shift)))))
        var rep = LayerReport(name: name, op: "global_avgpool")
        rep.input = qin; rep.output = qout; rep.multipliers = range([realValue(m)]); rep.accumulator = acc
        return rep
    }

    // MARK: - Dynamic convolution

    mutating func emitDynamic(_ node: Node, _ d: DynamicConv2DAttrs) throws {
        let x = node.inputs[0], coeffName = node.inputs[1]
        let (inID, qin) = try input(x, node: node.name)
        guard let coeffID = ids[coeffName], let gate = gates[coeffName] else {
            throw DynQError("node \(node.name): coefficients \(coeffName) are not the output of a cpm node")
        }
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let w = try weight(d.weight, node: node.name)
        guard w.shape.count == 5 else {
            throw DynQError("node \(node.name): weight must be [g, O, I/groups, kh, kw]")
        }
        let g = w.shape[0], o = w.shape[1], ig = w.shape[2], kh = w.shape[3], kw = w.shape[4]
        let k = ig * kh * kw
        let qw = quantizeWeights(w, channelAxis: 1, granularity: options.granularity)
        let sIn = qin.scale
        // Both biases at s_in · s_w[o]: then Σ_t η_q · mb_q + b_q · 2^15 is at the F scale s_in · s_w[o] · 2^−15.
        let mixed = try d.mixedBias.map { name -> [Int32] in
            let mb = try weight(name, node: node.name)
            guard mb.count == g * o else { throw DynQError("node \(node.name): mixed_bias must be [g, O]") }
            return try quantizeBias(mb.data.map(Double.init), scale: { sIn * qw.scales[$0 % o] }, layer: node.name,
                                    what: "mixed bias")
        }
        let bias = try d.bias.map { name -> [Int32] in
            let b = try weight(name, node: node.name)
            return try quantizeBias(b.data.map(Double.init), scale: { sIn * qw.scales[$0] }, layer: node.name,
                                    what: "bias")
        }
        let m0 = try (0..<o).map { ch -> QuantizedMultiplier in
            let real = sIn * qw.scales[ch] / 32768 / qout.scale
            let q = try quantizeMultiplier(real, layer: node.name, what: "static fused-kernel")
            if q == .zero && real > 0 {
                throw DynQError("layer \(node.name): static multiplier M0 = \(real) of channel \(ch) is below 2^-32 "
                                + "and cannot be stored")
            }
            return q
        }

        // Fixed-point fusion over the calibration coefficients: A[o], the per-sample M and bias_acc.
        var fusionMax = ValueRange.empty, sampleM = ValueRange.empty
        var biasAccMax = 0
        let etaSamples = stats.coefficients[gate.cpm] ?? []
        var f = [Int](repeating: 0, count: k)
        for eta in etaSamples {
            for ch in 0..<o {
                for i in 0..<k { f[i] = 0 }
                var bSum = Double(bias?[ch] ?? 0) * 32768
                for t in 0..<g {
                    let idx = d.mode == .perChannel ? d.coeffOffset + ch * g + t : d.coeffOffset + t
                    let e = Int(Swift.min(Swift.max((Double(eta[idx]) * 32768).rounded(.toNearestOrAwayFromZero), 0),
                                          32767))
                    let base = (t * o + ch) * k
                    for i in 0..<k { f[i] += e * Int(qw.values[base + i]) }
                    if let mixed { bSum += Double(e) * Double(mixed[t * o + ch]) }
                }
                var a = 0
                for i in 0..<k { a = Swift.max(a, Swift.abs(f[i])) }
                fusionMax.include(Double(a))
                sampleM.include(realValue(m0[ch]) * Double(a) / 127)
                if a > 0 {
                    biasAccMax = Swift.max(biasAccMax, Int(Swift.min(Swift.abs(127 * bSum / Double(a)), 4e18)))
                }
            }
        }
        let etaSum = gate.kind == .sigmoid ? g * 32767 : Swift.min(g * 32767, 32768 + g)
        let acc = try dynamicAccumulatorBound(layer: node.name, inputZero: qin.zeroPoint, weights: qw.values,
                                              kernels: g, channels: o, etaMax: 32767, etaSum: etaSum,
                                              mixedBias: mixed, bias: bias, observedBiasAcc: biasAccMax)

        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let inC = try shape(x, node: node.name)[1]
        let depthwise = d.geometry.groups > 1 && d.geometry.groups == inC && o == inC && ig == 1
        let wb: BlobID
        if depthwise {
            let per = o * kh * kw
            var v: [Int8] = []
            for t in 0..<g {
                v += Layouts.depthwise(Array(qw.values[(t * per)..<((t + 1) * per)]), o: o, kh: kh, kw: kw)
            }
            wb = blob(MD.Blob(name: "\(node.name).weights", int8: v, shape: [g, kh, kw, o]))
        } else {
            wb = blob(MD.Blob(name: "\(node.name).weights",
                              int8: Layouts.dynamic(qw.values, g: g, o: o, i: ig, kh: kh, kw: kw),
                              shape: [g, o, kh, kw, ig]))
        }
        let mbb = mixed.map { blob(MD.Blob(name: "\(node.name).mixed_bias", int32: $0, shape: [g, o])) }
        let bb = bias.map { blob(MD.Blob(name: "\(node.name).bias", int32: $0, shape: [o])) }
        let mb = multiplierBlob(node.name, m0)
        let op = MD.DynamicConv(input: inID, coefficients: coeffID, coefficientOffset: d.coeffOffset,
                                mode: d.mode == .perChannel ? .perChannel : .perLayer, kernelCount: g, output: outID,
                                weights: wb, depthwise: depthwise, mixedBias: mbb, bias: bb, multipliers: mb,
                                window: window(d.geometry, kh: kh, kw: kw), groups: d.geometry.groups,
                                clamp: clamp(act, qout))
        ops.append(MD.Operation(name: node.name, op: .dynamicConv2d(op)))
        var rep = LayerReport(name: node.name, op: depthwise ? "dynamic_dwconv2d" : "dynamic_conv2d")
        rep.weightScales = range(qw.scales); rep.weightSQNRdB = qw.sqnrDB
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range(m0.map(realValue))
        if let fs = stats.fused[node.name] {
            rep.fusedKernel = fs.values; rep.fusedChannelMaxAbs = fs.channelMaxAbs
        }
        if !fusionMax.isEmpty { rep.fusionMax = fusionMax; rep.sampleMultiplier = sampleM }
        rep.accumulator = acc
        rep.notes.append("g = \(g), \(d.mode.rawValue), \(gate.kind == .sigmoid ? "sigmoid" : "softmax") gate")
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        if sampleM.max >= 0x1p30 {
            rep.notes.append("per-sample multiplier reached \(fmt(sampleM.max)) ≥ 2^30 in calibration (the runtime "
                             + "saturates it)")
        }
        reports.append(rep)
    }

    // MARK: - CPM

    mutating func emitCPM(_ node: Node, _ a: CPMAttrs) throws {
        let x = node.inputs[0]
        let (inID, qin) = try input(x, node: node.name)
        let inShape = try shape(x, node: node.name)
        let c = inShape[1]
        // 1. Global average pool.
        let poolName = "\(node.name).pool"
        let (qp, pChosen, pObserved) = try calibrated(poolName, node: node.name)
        let poolID = addTensor(poolName, nchw: [1, c, 1, 1], quant: qp)
        var rep = try emitGlobalPool(name: poolName, input: inID, inShape: inShape, qin: qin, output: poolID, qout: qp)
        rep.outputRange = pChosen; rep.observedRange = pObserved
        reports.append(rep)
        // [1, 1, 1, C] → [1, C] for the linear layers (a C-byte copy).
        let flatName = "\(node.name).pool.flat"
        quants[flatName] = qp
        let flatID = addTensor(flatName, nchw: [1, c], quant: qp)
        ops.append(MD.Operation(name: flatName, op: .flatten(MD.Unary(input: poolID, output: flatID))))
        // 2. fc1 (+ ReLU) (+ fc2).
        let fc1 = try weight(a.fc1Weight, node: node.name)
        let logitLimit: ValueRange? = a.gate == .sigmoid ? ModelBuilder.sigmoidLogitLimit : nil
        let logitsName = "\(node.name).logits"
        var current = flatID, qcur = qp
        if let fc2Name = a.fc2Weight {
            let hiddenName = "\(node.name).hidden"
            let (qh, hChosen, hObserved) = try calibrated(hiddenName, node: node.name)
            let hID = addTensor(hiddenName, nchw: [1, fc1.shape[0]], quant: qh)
            var r1 = try emitLinear(name: "\(node.name).fc1", input: current, qin: qcur, w: fc1,
                                    b: try a.fc1Bias.map { try weight($0, node: node.name) }, output: hID, qout: qh,
                                    clamp: MD.Clamp(min: Swift.max(-128, qh.quantize(0)), max: 127))
            r1.outputRange = hChosen; r1.observedRange = hObserved; r1.notes.append("fused relu")
            reports.append(r1)
            current = hID; qcur = qh
            let fc2 = try weight(fc2Name, node: node.name)
            let (ql, lChosen, lObserved) = try calibrated(logitsName, node: node.name, limit: logitLimit)
            let lID = addTensor(logitsName, nchw: [1, fc2.shape[0]], quant: ql)
            var r2 = try emitLinear(name: "\(node.name).fc2", input: current, qin: qcur, w: fc2,
                                    b: try a.fc2Bias.map { try weight($0, node: node.name) }, output: lID, qout: ql,
                                    clamp: .none)
            r2.outputRange = lChosen; r2.observedRange = lObserved
            reports.append(r2)
            current = lID; qcur = ql
        } else {
            let (ql, lChosen, lObserved) = try calibrated(logitsName, node: node.name, limit: logitLimit)
            let lID = addTensor(logitsName, nchw: [1, fc1.shape[0]], quant: ql)
            var r1 = try emitLinear(name: "\(node.name).fc1", input: current, qin: qcur, w: fc1,
                                    b: try a.fc1Bias.map { try weight($0, node: node.name) }, output: lID, qout: ql,
                                    clamp: .none)
            r1.outputRange = lChosen; r1.observedRange = lObserved
            reports.append(r1)
            current = lID; qcur = ql
        }
        // 3. Gate → int16 Q15 coefficients.
        let out = node.outputs[0]
        let n = try shape(out, node: node.name).last ?? 0
        let coeffID = addTensor(out, .int16, nchw: [1, n], scaleBits: q15ScaleBits, zero: 0)
        let kind: MD.GateKind, table: BlobID, group: Int
        var gateRep = LayerReport(name: "\(node.name).gate", op: "gate")
        switch a.gate {
        case .sigmoid:
            kind = .sigmoid; group = n
            table = blob(MD.Blob(name: "\(node.name).sigmoid", int16: Tables.sigmoidGate(qcur), shape: [256]))
            gateRep.notes.append("sigmoid, int16 table")
        case .softmax(let temperature, let g):
            kind = .softmax; group = g
            guard g > 0, n % g == 0, g < 65536 else {
                throw DynQError("cpm \(node.name): softmax group \(g) must divide \(n) and be < 65536")
            }
            let e = Tables.softmaxExp(inputScale: qcur.scale, temperature: Double(temperature))
            table = blob(MD.Blob(name: "\(node.name).exp", int32: e.map { Int32($0) }, shape: [256]))
            gateRep.notes.append("softmax over \(g), temperature \(temperature) folded into the exp table")
        }
        ops.append(MD.Operation(name: "\(node.name).gate", op: .gate(MD.Gate(input: current, output: coeffID,
                                                                            kind: kind, table: table, group: group))))
        gates[out] = (kind, node.name)
        gateRep.input = qcur
        gateRep.observedRange = stats.observedRange(out)
        reports.append(gateRep)
    }

    // MARK: - Element-wise

    mutating func emitTable(_ node: Node) throws {
        let (inID, qin) = try input(node.inputs[0], node: node.name)
        let out = node.outputs[0]
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let f: Activation
        switch node.op {
        case .relu: f = .relu
        case .relu6: f = .relu6
        case .hardswish: f = .hardswish
        default: f = .hardsigmoid
        }
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        let t = blob(MD.Blob(name: "\(node.name).table", int8: Tables.unary(f.apply, input: qin, output: qout),
                             shape: [256]))
        ops.append(MD.Operation(name: node.name, op: .table(MD.Table(input: inID, output: outID, table: t))))
        var rep = LayerReport(name: node.name, op: "table")
        rep.input = qin; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.notes.append("\(f.rawValue) as a 256-entry table")
        reports.append(rep)
    }

    /// TFLite's add: `twice_max = 2 · max(s_a, s_b)`, inputs scaled by `s / twice_max` after `<< 20`, output by
    /// `twice_max / (2^20 · s_out)`.
    mutating func emitAdd(_ node: Node) throws {
        let (aID, qa) = try input(node.inputs[0], node: node.name)
        let (bID, qb) = try input(node.inputs[1], node: node.name)
        let (out, act) = outputOf(node)
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        let twiceMax = 2 * Swift.max(qa.scale, qb.scale)
        let shift = 20
        func rq(_ m: QuantizedMultiplier) -> MD.Requant { MD.Requant(multiplier: m.multiplier, shift: m.shift) }
        let ma = try quantizeMultiplier(qa.scale / twiceMax, layer: node.name, what: "first input")
        let mbq = try quantizeMultiplier(qb.scale / twiceMax, layer: node.name, what: "second input")
        let mo = try quantizeMultiplier(twiceMax / (Double(1 << shift) * qout.scale), layer: node.name, what: "output")
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        ops.append(MD.Operation(name: node.name, op: .add(MD.Add(a: aID, b: bID, output: outID, leftShift: shift,
                                                                 aRequant: rq(ma), bRequant: rq(mbq),
                                                                 outputRequant: rq(mo), clamp: clamp(act, qout)))))
        var rep = LayerReport(name: node.name, op: "add")
        rep.input = qa; rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        rep.multipliers = range([ma, mbq, mo].map(realValue))
        rep.notes.append("inputs \(qa) and \(qb)")
        if let act { rep.notes.append("fused \(act.op.kind) \(act.name)") }
        reports.append(rep)
    }

    mutating func emitConcat(_ node: Node) throws {
        let out = node.outputs[0]
        let (qout, chosen, observed) = try calibrated(out, node: node.name)
        var ins: [TensorID] = [], requants: [MD.Requant] = []
        for x in node.inputs {
            let (id, q) = try input(x, node: node.name)
            ins.append(id)
            let m = try quantizeMultiplier(q.scale / qout.scale, layer: node.name, what: "input \(x)")
            requants.append(MD.Requant(multiplier: m.multiplier, shift: m.shift))
        }
        let outID = addTensor(out, nchw: try shape(out, node: node.name), quant: qout)
        ops.append(MD.Operation(name: node.name, op: .concat(MD.Concat(inputs: ins, requants: requants, output: outID))))
        var rep = LayerReport(name: node.name, op: "concat")
        rep.output = qout; rep.outputRange = chosen; rep.observedRange = observed
        reports.append(rep)
    }
}
