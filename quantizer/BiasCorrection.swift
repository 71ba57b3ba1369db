import DynQCore
import DynQGraph
import Foundation

/// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
/// Correction", §4.2, the empirical variant): the int8 model's per-channel mean error at the output of every
/// `conv2d`, `dynamic_conv2d` and `linear`, measured on the calibration images, is subtracted from that layer's
/// float bias before it is quantized.
///
/// Layer by layer in graph order, each measured with every earlier correction in place (so a layer also absorbs the
/// mean error its input carries from clipped and rounded activations upstream):
///
/// - `E_f[o]`: the float engine's mean of output channel `o` over every calibration image and position, taken
///   *before* a fused ReLU / ReLU6 (`CalibrationStats.channelMean` of the layer's own output tensor);
/// - `E_q[o]`: the same mean of the int8 runtime's output of a *measurement model*: the model as it will be built,
///   except that this layer's activation is not fused (its clamp is off) and its output range is the whole
///   observed pre-activation range, so `scale · (q − z)` is the layer's pre-activation rounded once to its grid
///   and nothing is clipped; the measurement model is only read at this layer;
/// - the new float bias is `b[o] − (E_q[o] − E_f[o])` (a bias is created for a layer without one).
///
/// The correction is exact in the mean: the static bias is added to every output position of channel `o`
/// whatever the input, and for a `dynamic_conv2d` also whatever its coefficients are (a correction through the
/// mixed bias `Σ_t η_t mb[t, o]` would move each sample's output by `Σ_t η_t` times the correction, which a
/// sigmoid gate does not keep at 1). What remains is the output rounding (round to nearest, no mean) and how
/// well the calibration images stand for the data. Costs one int8 run of the calibration set per corrected
/// layer. Corrected biases are new weight tensors (`<node>.bias.corrected`), so a shared bias is never altered.
public struct BiasCorrectionLayer: Sendable, Equatable {
    public var node: String
    /// `E_q[o] − E_f[o]` per output channel (real units), measured before this layer's correction.
    public var meanError: [Double]
    /// `mean_o |E_q[o] − E_f[o]|`.
    public var meanAbsError: Double { meanError.isEmpty ? 0 : meanError.reduce(0) { $0 + Swift.abs($1) } / Double(meanError.count) }
}

/// The layers bias correction treats, in graph order: `conv2d`, `dynamic_conv2d` and `linear` nodes whose output
/// was observed in calibration.
func biasCorrectableLayers(_ prepared: PreparedModel, stats: CalibrationStats) -> [Node] {
    prepared.model.graph.nodes.filter { n in
        switch n.op {
        case .conv2d, .dynamicConv2d, .linear: return stats.channelMean(n.outputs[0]) != nil
        default: return false
        }
    }
}

/// Applies empirical bias correction to `prepared` (see `BiasCorrectionLayer`). `images`: the calibration images
/// as uint8 pixels (the int8 model's input), the ones `stats` was computed from (at least their first
/// `stats.samples`). Returns the corrected model (the same graph, new bias tensors) and what each layer measured.
public func correctBiases(_ prepared: PreparedModel, stats: CalibrationStats, options: QuantizationOptions,
                          images: ImageBatch, workers: Int = defaultWorkerCount) throws
    -> (PreparedModel, [BiasCorrectionLayer])
{
    let hwc = try hwcImages(images, count: stats.samples)
    var p = prepared
    var layers: [BiasCorrectionLayer] = []
    for node in biasCorrectableLayers(prepared, stats: stats) {
        let err = try biasCorrectionError(p, stats: stats, options: options, layer: node.name, images: hwc,
                                          workers: workers)
        layers.append(BiasCorrectionLayer(node: node.name, meanError: err))
        try subtractFromBias(&p, node: node.name, err)
    }
    return (p, layers)
}

/// `E_q[o] − E_f[o]` of one layer of `prepared` (see `BiasCorrectionLayer`): the int8 measurement model's mean
/// output per channel minus the float engine's, over `images` (uint8 HWC, the calibration images `stats` holds).
func biasCorrectionError(_ prepared: PreparedModel, stats: CalibrationStats, options: QuantizationOptions,
                         layer: String, images: [[UInt8]], workers: Int) throws -> [Double] {
    guard let node = prepared.model.graph.nodes.first(where: { $0.name == layer }) else {
        throw DynQError("bias correction: no node \(layer)")
    }
    let t = node.outputs[0]
    guard let floatMean = stats.channelMean(t), let h = stats.histograms[t] else {
        throw DynQError("bias correction: \(t) was not observed during calibration")
    }
    var measuring = prepared
    measuring.fusions = prepared.fusions.filter { $0.value != layer }
    var o = options
    o.rangeOverrides[t] = ValueRange(min: Swift.min(h.exact.min, 0), max: Swift.max(h.exact.max, 0))
    let (md, _) = try quantize(measuring, stats: stats, options: o)
    guard let index = md.tensors.firstIndex(where: { $0.name == t }), md.tensors[index].type == .int8 else {
        throw DynQError("bias correction: the measurement model has no int8 tensor \(t)")
    }
    let bytes: [UInt8]
    do { bytes = try md.serialized() } catch { throw DynQError("bias correction: the model does not serialize: \(error)") }
    let channels = floatMean.count
    let scale = Double(Float(bitPattern: md.tensors[index].scaleBits)), zero = md.tensors[index].zeroPoint
    let n = images.count
    // Per-image integer sums of (q − z) per channel (exact), added in image order: the same for any `workers`.
    let sums = try runInt8Model(modelBytes: bytes, images: images, keepAll: true, workers: workers,
                                what: "bias correction") { interpreter, _ -> [Int] in
        // NHWC (or [1, C]): the channel is the innermost index.
        let raw = interpreter.tensorBytes(TensorID(index))
        var s = [Int](repeating: 0, count: channels)
        for k in 0..<raw.count { s[k % channels] += Int(Int8(bitPattern: raw[k])) - zero }
        return s
    }
    var total = [Int](repeating: 0, count: channels)
    for s in sums { for c in 0..<channels { total[c] += s[c] } }
    let positions = (stats.shapes[t] ?? []).reduce(1, *) / Swift.max(channels, 1)
    let perChannel = Double(n * positions)
    return (0..<channels).map { c in scale * Double(total[c]) / perChannel - floatMean[c] }
}

/// Replaces `node`'s bias `b` by `b − delta` (a zero bias when it had none), stored under a new weight name.
func subtractFromBias(_ p: inout PreparedModel, node name: String, _ delta: [Double]) throws {
    guard let i = p.model.graph.nodes.firstIndex(where: { $0.name == name }) else {
        throw DynQError("bias correction: no node \(name)")
    }
    var weights = p.model.weights
    func corrected(_ bias: String?) throws -> String {
        var b = [Double](repeating: 0, count: delta.count)
        if let bias {
            guard let t = weights[bias], t.count == delta.count else {
                throw DynQError("bias correction: node \(name): bias \(bias) does not have \(delta.count) entries")
            }
            b = t.data.map(Double.init)
        }
        var newName = "\(name).bias.corrected", k = 1
        while weights[newName] != nil { newName = "\(name).bias.corrected.\(k)"; k += 1 }
        weights[newName] = Tensor(shape: [delta.count], data: zip(b, delta).map { Float($0 - $1) })
        return newName
    }
    switch p.model.graph.nodes[i].op {
    case .conv2d(var c): c.bias = try corrected(c.bias); p.model.graph.nodes[i].op = .conv2d(c)
    case .dynamicConv2d(var d): d.bias = try corrected(d.bias); p.model.graph.nodes[i].op = .dynamicConv2d(d)
    case .linear(var l): l.bias = try corrected(l.bias); p.model.graph.nodes[i].op = .linear(l)
    default: throw DynQError("bias correction: node \(name) has no bias to correct")
    }
    p.model.weights = weights
}
