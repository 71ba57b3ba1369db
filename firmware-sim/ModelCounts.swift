import DynQCore

/// The cost classes of `targets/targets.json`: each op's work is charged at its class's cycles per unit.
public enum KernelClass: String, CaseIterable, Sendable {
    /// Any k×k (k > 1) dense or grouped convolution (the 7×7 stem and Dy-mobile's grouped 3×3 included).
    case conv3x3
    /// Depthwise convolution (`groups == C_in == C_out`).
    case depthwise
    /// 1×1 convolution, `groups == 1`.
    case conv1x1
    /// Fully connected layers (classifier and CPM).
    case linear
    /// Ops with no multiply-accumulates (input table, add, pooling, data movement, gates, softmax).
    case elementwise
}

/// The work of one int8 op as DynQ's reference kernels do it: computed from shapes by the analytic counter
/// (`analyticCounts`), or reported by the instrumented kernels while they run (`measureCounts`). The two agree
/// exactly (Tests/DynQSimTests/CountsTests.swift). The reference kernels are what the microcontroller targets
/// run (`"kernels": "reference"` in targets/targets.json).
///
/// Units (each a `TallyEvent` of DynQCore):
/// - MACs are executed multiply-accumulates: taps that fall in the zero padding are skipped (they add
///   `(z − z)·w = 0`), so a padded conv does fewer than `outputs · K` (that nominal figure, the papers' convention,
///   is `nominalMACs`). `fusionMACs` are the `η·W` products of a dynamic layer's fusion: the reference fusion has
///   no scratch and computes each `F[o,k]` twice (once for `A[o]`, once for `q_f`), plus `g·O` for a mixed bias.
/// - `fusionRescales`: rescales by the channel's Q32 reciprocal `R[o]`, one per fused kernel element and one per fused bias.
/// - `requantizations`: Q31 multiplier applications (one per conv/linear/global-pool output, three per `add`
///   element, one per requantized concat element).
/// - `tableLookups`: reads of a lookup table (input table, activation table, gates, softmax: twice per logit).
/// - `adds`: `add` elements and pooling sum terms; `elementOps`: copies, max comparisons and divisions.
/// - Byte counts are traffic: every load and store the kernel makes, a weight byte counted each time it is
///   loaded. `weightBytesRead` are loads from the model (weights, biases, multipliers, tables: flash on a
///   microcontroller), `activationBytesRead` / `activationBytesWritten` loads and stores in the arena (SRAM),
///   including a dynamic layer's coefficients and per-sample fused kernel, bias and multipliers.
/// `modelBytes` is not traffic: the bytes of the blobs the op uses (its share of the model file).
public struct OpCounts: Equatable, Sendable {
    public var name: String
    public var kind: String
    public var kernelClass: KernelClass
    /// Executed MACs of a static or dynamic convolution, or of a linear layer outside a CPM.
    public var convMACs = 0
    /// Executed MACs of a CPM's fully connected layers.
    public var cpmMACs = 0
    /// Executed fusion MACs of a dynamic conv (`2·g·O·K`, plus `g·O` with a mixed bias).
    public var fusionMACs = 0
    /// `O·K + O` per dynamic conv.
    public var fusionRescales = 0
    public var adds = 0
    public var requantizations = 0
    public var tableLookups = 0
    public var elementOps = 0
    public var weightBytesRead = 0
    public var activationBytesRead = 0
    public var activationBytesWritten = 0
    /// Not measured: the bytes of the blobs the op uses.
    public var modelBytes = 0
    /// Not measured: `outputs · K` for convolutions and linear layers plus `g·O·K` for a fusion (padding
    /// included; the figure the zoo and the papers count).
    public var nominalMACs = 0

    public init(name: String, kind: String, kernelClass: KernelClass) {
        self.name = name; self.kind = kind; self.kernelClass = kernelClass
    }

    public var macs: Int { convMACs + cpmMACs + fusionMACs }

    /// The measured fields (every field but `modelBytes` and `nominalMACs`), in a fixed order, for comparisons.
    public var measuredFields: [(String, Int)] {
        [("conv MACs", convMACs), ("CPM MACs", cpmMACs), ("fusion MACs", fusionMACs),
         ("fusion rescales", fusionRescales), ("adds", adds), ("requantizations", requantizations),
         ("table lookups", tableLookups), ("element ops", elementOps), ("weight bytes read", weightBytesRead),
         ("activation bytes read", activationBytesRead), ("activation bytes written", activationBytesWritten)]
    }
}

/// The analytic counts of a whole model plus the runtime's own arena plan.
public struct ModelCounts: Sendable {
    public var name: String
    public var ops: [OpCounts]
    /// `ArenaPlan(description:)`: the runtime's planner, not a model of it.
    public var plan: ArenaPlan
    /// Bytes of every blob (the constant part of the `.dynq` file).
    public var blobBytes: Int
    /// Per op: arena bytes alive during the op (buffers rounded to the plan's alignment).
    public var liveBytes: [Int]
    /// Per op: the part of `liveBytes` that is packed static weights (kept for the whole run).
    public var packedLiveBytes: [Int]

    public var totalMACs: Int { ops.reduce(0) { $0 + $1.macs } }
    public var convMACs: Int { ops.reduce(0) { $0 + $1.convMACs } }
    public var cpmMACs: Int { ops.reduce(0) { $0 + $1.cpmMACs } }
    public var fusionMACs: Int { ops.reduce(0) { $0 + $1.fusionMACs } }
    public var nominalMACs: Int { ops.reduce(0) { $0 + $1.nominalMACs } }
}

/// The cost class of an op (`KernelClass`).
public func kernelClass(_ op: ModelDescription.Op, tensors t: [ModelDescription.Tensor]) -> KernelClass {
    func channels(_ id: TensorID) -> Int { t[id.index].shape.last! }
    switch op {
    case .depthwiseConv2d:
        return .depthwise
    case .conv2d(let p):
        if p.window.kernelH == 1 && p.window.kernelW == 1 && p.groups == 1 { return .conv1x1 }
        if p.groups == channels(p.input) && p.groups == channels(p.output) { return .depthwise }
        return .conv3x3
    case .dynamicConv2d(let p):
        if p.depthwise { return .depthwise }
        if p.window.kernelH == 1 && p.window.kernelW == 1 && p.groups == 1 { return .conv1x1 }
        return .conv3x3
    case .linear:
        return .linear
    default:
        return .elementwise
    }
}

/// The indices of the linear ops that belong to a CPM: those whose output reaches a gate through linear layers
/// only.
public func cpmLinearOperations(_ operations: [ModelDescription.Operation]) -> Set<Int> {
    var cpm = Set<Int>()
    var producer: [Int: Int] = [:]
    for (i, o) in operations.enumerated() { for out in o.op.outputs { producer[out.index] = i } }
    for o in operations {
        guard case .gate(let g) = o.op else { continue }
        var cur = producer[g.input.index]
        while let c = cur, case .linear(let l) = operations[c].op {
            cpm.insert(c)
            cur = producer[l.input.index]
        }
    }
    return cpm
}

/// `Σ_{o < out} #{k' < k : 0 ≤ o·stride − padBefore + k'·dilation < input}`: the in-image taps of a window
/// along one axis, summed over the outputs. A 2-D window's in-image taps are the product of its two axes'.
public func inImageTaps(input: Int, output: Int, kernel: Int, stride: Int, dilation: Int, padBefore: Int) -> Int {
    var n = 0
    for o in 0..<output {
        for k in 0..<kernel {
            let i = o * stride - padBefore + k * dilation
            if i >= 0 && i < input { n += 1 }
        }
    }
    return n
}

/// The analytic counter: every number from tensor and blob shapes, nothing run. It follows the reference
/// kernels' loops (see `OpCounts` for the units).
public func analyticCounts(_ d: ModelDescription, simd: Bool = true) -> ModelCounts {
    let t = d.tensors
    func bytes(_ id: TensorID) -> Int { t[id.index].byteCount }
    func elements(_ id: TensorID) -> Int { t[id.index].elementCount }
    func blob(_ id: BlobID?) -> Int { id.map { d.blobs[$0.index].bytes.count } ?? 0 }
    func channels(_ id: TensorID) -> Int { t[id.index].shape.last! }
    /// In-image taps of a 2-D window from `input` to `output`, summed over the output pixels.
    func taps(_ w: ModelDescription.Window, _ input: TensorID, _ output: TensorID) -> Int {
        let i = t[input.index].shape, o = t[output.index].shape
        return inImageTaps(input: i[1], output: o[1], kernel: w.kernelH, stride: w.strideH, dilation: w.dilationH,
                           padBefore: w.padTop)
            * inImageTaps(input: i[2], output: o[2], kernel: w.kernelW, stride: w.strideW, dilation: w.dilationW,
                          padBefore: w.padLeft)
    }
    let qm = 8   // bytes of one QuantizedMultiplier
    let cpmLinear = cpmLinearOperations(d.operations)

    var ops: [OpCounts] = []
    for (i, o) in d.operations.enumerated() {
        let kind = String(describing: o.op.code.name)
        var c = OpCounts(name: o.name, kind: kind, kernelClass: kernelClass(o.op, tensors: t))
        /// `n` elements through a 256-entry int8 table: per element a load, a lookup (1 byte) and a store.
        func lookups(_ n: Int, _ table: BlobID) {
            c.tableLookups = n
            c.weightBytesRead = n
            c.activationBytesRead = n
            c.activationBytesWritten = n
            c.modelBytes = blob(table)
        }
        switch o.op {
        case .inputTable(let p):
            lookups(elements(p.output), p.table)
        case .conv2d(let p), .depthwiseConv2d(let p):
            let w = d.blobs[p.weights.index]
            let outC = channels(p.output), n = elements(p.output)
            let depthwise: Bool
            if case .depthwiseConv2d = o.op { depthwise = true } else { depthwise = false }
            // Each output channel reads I/groups input channels per tap (1 for depthwise).
            let perTap = depthwise ? 1 : w.elementCount / (outC * p.window.kernelH * p.window.kernelW)
            c.convMACs = outC * perTap * taps(p.window, p.input, p.output)
            c.nominalMACs = n * (w.elementCount / outC)
            c.requantizations = n
            c.weightBytesRead = c.convMACs + n * (qm + (p.bias == nil ? 0 : 4))
            c.activationBytesRead = c.convMACs
            c.activationBytesWritten = n
            c.modelBytes = blob(p.weights) + blob(p.bias) + blob(p.multipliers)
        case .dynamicConv2d(let p):
            let w = d.blobs[p.weights.index]
            let g = p.kernelCount
            let perKernel = w.elementCount / g                      // O · K
            let outC = channels(p.output), n = elements(p.output)
            let k = perKernel / outC
            let perTap = p.depthwise ? 1 : k / (p.window.kernelH * p.window.kernelW)
            // Fusion: F computed twice per element (max, then value), each product loading η (2 bytes, arena)
            // and W (1 byte, model); the mixed bias adds g products per channel (η, and mb: 4 bytes, model).
            let kernelProducts = 2 * g * perKernel
            let biasProducts = p.mixedBias == nil ? 0 : g * outC
            c.fusionMACs = kernelProducts + biasProducts
            c.fusionRescales = perKernel + outC
            var weightRead = kernelProducts + 4 * biasProducts + qm * outC
            if p.bias != nil { weightRead += 4 * outC }
            var actRead = 2 * (kernelProducts + biasProducts)
            var actWritten = perKernel + 4 * outC + qm * outC       // fused kernel, bias, multipliers
            // The conv on the fused kernel: input and fused weights from the arena, bias (4) and multiplier per
            // output from the arena.
            c.convMACs = outC * perTap * taps(p.window, p.input, p.output)
            actRead += 2 * c.convMACs + n * (4 + qm)
            actWritten += n
            c.requantizations = n
            c.weightBytesRead = weightRead
            c.activationBytesRead = actRead
            c.activationBytesWritten = actWritten
            c.nominalMACs = n * k + g * perKernel
            c.modelBytes = blob(p.weights) + blob(p.mixedBias) + blob(p.bias) + blob(p.multipliers)
        case .linear(let p):
            let outF = elements(p.output)
            let macs = elements(p.input) * outF
            if cpmLinear.contains(i) { c.cpmMACs = macs } else { c.convMACs = macs }
            c.nominalMACs = macs
            c.requantizations = outF
            c.weightBytesRead = macs + outF * (qm + (p.bias == nil ? 0 : 4))
            c.activationBytesRead = macs
            c.activationBytesWritten = outF
            c.modelBytes = blob(p.weights) + blob(p.bias) + blob(p.multipliers)
        case .add(let p):
            let n = elements(p.output)
            c.adds = n
            c.requantizations = 3 * n
            c.activationBytesRead = 2 * n
            c.activationBytesWritten = n
        case .concat(let p):
            for (k, input) in p.inputs.enumerated() {
                let copy = p.requants[k] == .identity && t[input.index].zeroPoint == t[p.output.index].zeroPoint
                if copy { c.elementOps += elements(input) } else { c.requantizations += elements(input) }
                c.activationBytesRead += elements(input)
                c.activationBytesWritten += elements(input)
            }
        case .channelShuffle(let p):
            c.elementOps = elements(p.output)
            c.activationBytesRead = elements(p.output)
            c.activationBytesWritten = elements(p.output)
        case .channelSplit(let p):
            let n = p.outputs.reduce(0) { $0 + elements($1) }
            c.elementOps = n
            c.activationBytesRead = n
            c.activationBytesWritten = n
        case .flatten(let p):
            c.elementOps = elements(p.output)
            c.activationBytesRead = elements(p.output)
            c.activationBytesWritten = elements(p.output)
        case .maxPool(let p):
            let tapCount = channels(p.output) * taps(p.window, p.input, p.output)
            c.elementOps = tapCount
            c.activationBytesRead = tapCount
            c.activationBytesWritten = elements(p.output)
        case .avgPool(let p):
            let tapCount = channels(p.output) * taps(p.window, p.input, p.output)
            c.adds = tapCount
            c.elementOps = elements(p.output)
            c.activationBytesRead = tapCount
            c.activationBytesWritten = elements(p.output)
        case .globalAvgPool(let p):
            c.adds = elements(p.input)
            c.requantizations = elements(p.output)
            c.activationBytesRead = elements(p.input)
            c.activationBytesWritten = elements(p.output)
        case .softmax(let p):
            // Max pass (load, compare), exp-sum pass (load, lookup), output pass (load, lookup, divide, store).
            let n = elements(p.input)
            c.tableLookups = 2 * n
            c.elementOps = 2 * n
            c.weightBytesRead = 2 * 4 * n
            c.activationBytesRead = 3 * n
            c.activationBytesWritten = n
            c.modelBytes = blob(p.expTable)
        case .gate(let p):
            let n = elements(p.input)
            switch p.kind {
            case .sigmoid:
                c.tableLookups = n
                c.weightBytesRead = 2 * n
                c.activationBytesRead = n
            case .softmax:
                c.tableLookups = 2 * n
                c.elementOps = 2 * n
                c.weightBytesRead = 2 * 4 * n
                c.activationBytesRead = 3 * n
            }
            c.activationBytesWritten = 2 * n
            c.modelBytes = blob(p.table)
        case .table(let p):
            lookups(elements(p.input), p.table)
        }
        ops.append(c)
    }

    let plan = ArenaPlan(description: d, simd: simd)
    var live = [Int](repeating: 0, count: max(d.operations.count, 1))
    var packed = live
    for b in plan.buffers {
        let s = (b.size + ArenaPlan.alignment - 1) / ArenaPlan.alignment * ArenaPlan.alignment
        for i in b.firstUse...b.lastUse {
            live[i] += s
            if case .packedWeights = b.purpose { packed[i] += s }
        }
    }
    return ModelCounts(name: d.name, ops: ops, plan: plan, blobBytes: d.blobs.reduce(0) { $0 + $1.bytes.count },
                       liveBytes: live, packedLiveBytes: packed)
}
