import DynQCore
import DynQGraph
import Foundation

/// Builds the int8 `ModelDescription` from the folded float graph and its calibration statistics: the input
/// table, then one `emit` per node (quantizer/Ops/<Op>.swift). Holds what the emits share: the tensors, blobs and
/// operations made so far, each graph tensor's runtime id and quantization, and the helpers that choose ranges,
/// quantize biases and make multiplier blobs.
/// Q15 coefficient tensors: scale 2^−15.
let q15ScaleBits: UInt32 = 0x3800_0000

struct ModelBuilder {
    let prepared: PreparedModel
    let stats: CalibrationStats
    let options: QuantizationOptions
    var weights: [String: Tensor] { prepared.model.weights }
    var graph: Graph { prepared.model.graph }

    var tensors: [ModelDescription.Tensor] = []
    var blobs: [ModelDescription.Blob] = []
    var ops: [ModelDescription.Operation] = []
    var reports: [LayerReport] = []
    /// Graph tensor name (and CPM internal names) → runtime tensor.
    var ids: [String: TensorID] = [:]
    var quants: [String: ActivationQuant] = [:]
    /// NCHW shapes.
    var shapes: [String: [Int]] = [:]
    var rawInput: TensorID = 0
    /// Coefficient tensor name → its gate kind and CPM node name.
    var gates: [String: (kind: ModelDescription.GateKind, cpm: String)] = [:]
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
        tensors.append(ModelDescription.Tensor(name: name, type: type, shape: Layouts.nhwcShape(nchw), scaleBits: scaleBits,
                                 zeroPoint: zero))
        ids[name] = id
        return id
    }

    mutating func addTensor(_ name: String, nchw: [Int], quant q: ActivationQuant) -> TensorID {
        quants[name] = q
        return addTensor(name, .int8, nchw: nchw, scaleBits: Float(q.scale).bitPattern, zero: q.zeroPoint)
    }

    mutating func blob(_ b: ModelDescription.Blob) -> BlobID {
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

    /// The input moments that adaptive rounding uses for layer `name` (nil: round to nearest).
    func roundingMoments(_ name: String) -> InputMoments? {
        options.weightRounding == .adaptive ? stats.inputMoments[name] : nil
    }

    func weight(_ name: String, node: String) throws -> Tensor {
        guard let t = weights[name] else { throw DynQError("node \(node): missing weight \(name)") }
        return t
    }

    /// The clipping range and quantization of a calibrated tensor (chosen by `options.method`, or the whole
    /// observed range with `fullRange`), optionally intersected with `limit`.
    func calibrated(_ name: String, node: String, limit: ValueRange? = nil, fullRange: Bool = false)
        throws -> (ActivationQuant, chosen: ValueRange, observed: ValueRange)
    {
        guard let h = stats.histograms[name] else {
            throw DynQError("node \(node): tensor \(name) was not observed during calibration")
        }
        // Always containing 0, so that real 0 is exact (as `chooseRange` does).
        var r = fullRange ? ValueRange(min: Swift.min(h.exact.min, 0), max: Swift.max(h.exact.max, 0))
                          : options.rangeOverrides[name] ?? chooseRange(h, method: options.method)
        if let limit {
            r = ValueRange(min: Swift.max(r.min, limit.min), max: Swift.min(r.max, limit.max))
        }
        return (ActivationQuant(range: r), r, h.exact)
    }

    // MARK: - Build

    /// The input table, then every node in graph order (each op's `emit`, quantizer/Ops/<Op>.swift), except the
    /// activations fused into their producer.
    mutating func build() throws {
        try emitInput()
        for node in graph.nodes where prepared.fusions[node.name] == nil {
            try node.op.quantizable.emit(node, &self)
        }
    }

    /// The tensor a node writes (its fused activation's output if it has one) and that activation.
    func outputOf(_ node: Node) -> (String, Node?) {
        if let act = fusedActivationOf[node.name] { return (act.outputs[0], act) }
        return (node.outputs[0], nil)
    }

    /// The clamp of a fused activation (relu: `[0, ∞)`, relu6: `[0, 6]`) in the output's quantization.
    func clamp(_ act: Node?, _ q: ActivationQuant) -> ModelDescription.Clamp {
        guard let act, let r = act.op.quantizable.fusableClamp else { return .none }
        return ModelDescription.Clamp(min: Swift.max(-128, q.quantize(r.lowerBound)), max: Swift.min(127, q.quantize(r.upperBound)))
    }

    func passThroughReport(_ node: Node, _ op: String, _ q: ActivationQuant) -> LayerReport {
        var r = LayerReport(name: node.name, op: op)
        r.input = q; r.output = q; r.outputRange = q.range
        r.observedRange = stats.observedRange(node.outputs[0])
        r.notes.append("keeps the input's scale and zero point")
        return r
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
        blob(ModelDescription.Blob(name: "\(name).multipliers", multipliers: m))
    }

    func range(_ xs: [Double]) -> ValueRange {
        var r = ValueRange.empty
        for x in xs { r.include(x) }
        return r
    }
}

extension ModelBuilder {
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
        let t = blob(ModelDescription.Blob(name: "\(spec.name).table", int8: table.flatMap { $0 }, shape: [c, 256]))
        ops.append(ModelDescription.Operation(name: spec.name, op: .inputTable(ModelDescription.InputTable(input: rawInput, output: id, table: t))))
        var rep = LayerReport(name: spec.name, op: "input_table")
        rep.output = q; rep.outputRange = q.range; rep.observedRange = stats.observedRange(spec.name)
        rep.notes.append("uint8 → int8 table per channel (preprocess folded), range = all 256 pixel values")
        reports.append(rep)
    }
}
