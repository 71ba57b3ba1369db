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
    /// Per op: the work in the calibrated instruction model's units, with the chooser answers of the kernel set
    /// the plan is for (`kernelWork`).
    public var work: [KernelWork] = []

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
    case .inputTable, .add, .concat, .channelShuffle, .channelSplit, .maxPool, .avgPool, .globalAvgPool, .flatten,
         .softmax, .gate, .table:
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

/// The analytic counter: every number from tensor and blob shapes, nothing run: each op's `counts` in its op
/// file, which adds up the counts functions beside the scalar kernels (DynQCore/Kernels/Scalar/ScalarCounts.swift).
/// The arena is planned for `kernels` (the simulator's memory check).
public func analyticCounts(_ d: ModelDescription, kernels: KernelSetChoice = .hostDefault) -> ModelCounts {
    let bytes = try! d.serialized()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: ArenaPlan.alignment)
    defer { buffer.deallocate() }
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    let file = try! ModelFile(bytes: UnsafeRawBufferPointer(buffer))
    let cpmLinear = cpmLinearOperations(d.operations)
    var ops: [OpCounts] = []
    file.forEachOp { (r: OpRecord) in
        let o = d.operations[r.index]
        var c = OpCounts(name: o.name, kind: String(describing: o.op.code.name),
                         kernelClass: kernelClass(o.op, tensors: d.tensors))
        let k = file.counts(r)
        if cpmLinear.contains(r.index) { c.cpmMACs = k.macs } else { c.convMACs = k.macs }
        c.fusionMACs = k.fusionMACs
        c.fusionRescales = k.fusionRescales
        c.adds = k.adds
        c.requantizations = k.requantizations
        c.tableLookups = k.tableLookups
        c.elementOps = k.elementOps
        c.weightBytesRead = k.parameterBytesRead
        c.activationBytesRead = k.activationBytesRead
        c.activationBytesWritten = k.bytesWritten
        c.modelBytes = file.blobBytes(r)
        c.nominalMACs = file.macs(r)
        ops.append(c)
    }

    let plan = kernels.plan(d)
    var live = [Int](repeating: 0, count: max(d.operations.count, 1))
    var packed = live
    for b in plan.buffers {
        let s = ArenaPlan.aligned(b.size)
        for i in b.firstUse...b.lastUse {
            live[i] += s
            if case .packedWeights = b.purpose { packed[i] += s }
        }
    }
    var counts = ModelCounts(name: d.name, ops: ops, plan: plan, blobBytes: d.blobs.reduce(0) { $0 + $1.bytes.count },
                             liveBytes: live, packedLiveBytes: packed)
    counts.work = kernelWork(d, counts: counts, kernels: kernels)
    return counts
}
