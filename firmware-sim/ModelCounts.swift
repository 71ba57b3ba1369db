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

/// The work of one int8 op, from shapes alone (the analytic counter) or measured by running it.
///
/// Units: MACs are multiply-accumulates; `requantizations` are Q31 multiplier applications (one per output
/// element of a conv/linear/pool, three per `add` element, one per concat input element whose scale changes);
/// `tableLookups` are 256-entry table reads; `fusionWeights` are fused int8 kernel elements (each costs a division
/// by `A[o]`); byte counts are what the op reads from the model (weights, biases, multipliers, tables) and from
/// / to the arena (activations, coefficients, per-sample fused buffers).
public struct OpCounts: Equatable, Sendable {
    public var name: String
    public var kind: String
    public var kernelClass: KernelClass
    /// MACs of a static or dynamic convolution, or of a linear layer outside a CPM.
    public var convMACs = 0
    /// MACs of a CPM's fully connected layers.
    public var cpmMACs = 0
    /// `g · O · K` per dynamic conv.
    public var fusionMACs = 0
    /// `O · K` per dynamic conv.
    public var fusionWeights = 0
    /// Element-wise additions outside MACs (add op, pooling sums).
    public var adds = 0
    public var requantizations = 0
    public var tableLookups = 0
    /// Elements moved, compared or copied (concat, split, shuffle, flatten, max pool, gates' chunk maxima).
    public var elementOps = 0
    public var weightBytesRead = 0
    public var activationBytesRead = 0
    public var activationBytesWritten = 0

    public init(name: String, kind: String, kernelClass: KernelClass) {
        self.name = name; self.kind = kind; self.kernelClass = kernelClass
    }

    public var macs: Int { convMACs + cpmMACs + fusionMACs }
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
}

/// The analytic counter: every number from tensor and blob shapes, nothing run.
public func analyticCounts(_ d: ModelDescription, simd: Bool = true) -> ModelCounts {
    let t = d.tensors
    func bytes(_ id: TensorID) -> Int { t[id.index].byteCount }
    func elements(_ id: TensorID) -> Int { t[id.index].elementCount }
    func blob(_ id: BlobID?) -> Int { id.map { d.blobs[$0.index].bytes.count } ?? 0 }
    func channels(_ id: TensorID) -> Int { t[id.index].shape.last! }

    // Linear layers of a CPM: those whose output reaches a gate through linear layers only.
    var cpmLinear = Set<Int>()
    var producer: [Int: Int] = [:]
    for (i, o) in d.operations.enumerated() { for out in o.op.outputs { producer[out.index] = i } }
    for o in d.operations {
        guard case .gate(let g) = o.op else { continue }
        var cur = producer[g.input.index]
        while let c = cur, case .linear(let l) = d.operations[c].op {
            cpmLinear.insert(c)
            cur = producer[l.input.index]
        }
    }

    var ops: [OpCounts] = []
    for (i, o) in d.operations.enumerated() {
        let kind = String(describing: o.op.code.name)
        var c = OpCounts(name: o.name, kind: kind, kernelClass: .elementwise)
        c.activationBytesRead = o.op.inputs.reduce(0) { $0 + bytes($1) }
        c.activationBytesWritten = o.op.outputs.reduce(0) { $0 + bytes($1) }
        switch o.op {
        case .inputTable(let p):
            c.tableLookups = elements(p.output)
            c.weightBytesRead = blob(p.table)
        case .conv2d(let p), .depthwiseConv2d(let p):
            let w = d.blobs[p.weights.index]
            c.convMACs = elements(p.output) * (w.elementCount / channels(p.output))
            c.requantizations = elements(p.output)
            c.weightBytesRead = blob(p.weights) + blob(p.bias) + blob(p.multipliers)
            if case .depthwiseConv2d = o.op { c.kernelClass = .depthwise }
            else if p.window.kernelH == 1 && p.window.kernelW == 1 && p.groups == 1 { c.kernelClass = .conv1x1 }
            else if p.groups == channels(p.input) && p.groups == channels(p.output) { c.kernelClass = .depthwise }
            else { c.kernelClass = .conv3x3 }
        case .dynamicConv2d(let p):
            let w = d.blobs[p.weights.index]
            let perKernel = w.elementCount / p.kernelCount           // O · K
            let outC = channels(p.output)
            c.convMACs = elements(p.output) * (perKernel / outC)
            c.fusionMACs = w.elementCount
            c.fusionWeights = perKernel
            c.requantizations = elements(p.output)
            c.weightBytesRead = blob(p.weights) + blob(p.mixedBias) + blob(p.bias) + blob(p.multipliers)
            // The coefficient tensor is read only in this layer's slice.
            let slice = (p.mode == .perChannel ? outC * p.kernelCount : p.kernelCount) * 2
            c.activationBytesRead = bytes(p.input) + slice
            // Per-sample buffers: fused kernel (int8), bias (int32), multipliers (2 × int32), written then read.
            let fused = perKernel + 4 * outC + 8 * outC
            c.activationBytesWritten += fused
            c.activationBytesRead += fused
            if p.depthwise { c.kernelClass = .depthwise }
            else if p.window.kernelH == 1 && p.window.kernelW == 1 && p.groups == 1 { c.kernelClass = .conv1x1 }
            else { c.kernelClass = .conv3x3 }
        case .linear(let p):
            let macs = elements(p.input) * elements(p.output)
            if cpmLinear.contains(i) { c.cpmMACs = macs } else { c.convMACs = macs }
            c.requantizations = elements(p.output)
            c.weightBytesRead = blob(p.weights) + blob(p.bias) + blob(p.multipliers)
            c.kernelClass = .linear
        case .add(let p):
            c.adds = elements(p.output)
            c.requantizations = 3 * elements(p.output)
        case .concat(let p):
            for (k, input) in p.inputs.enumerated() {
                let copy = p.requants[k] == .identity && t[input.index].zeroPoint == t[p.output.index].zeroPoint
                if copy { c.elementOps += elements(input) } else { c.requantizations += elements(input) }
            }
        case .channelShuffle(let p):
            c.elementOps = elements(p.output)
        case .channelSplit(let p):
            c.elementOps = p.outputs.reduce(0) { $0 + elements($1) }
        case .flatten(let p):
            c.elementOps = elements(p.output)
        case .maxPool(let p):
            c.elementOps = elements(p.output) * p.window.kernelH * p.window.kernelW
        case .avgPool(let p):
            c.adds = elements(p.output) * p.window.kernelH * p.window.kernelW
        case .globalAvgPool(let p):
            c.adds = elements(p.input)
            c.requantizations = elements(p.output)
        case .softmax(let p):
            c.tableLookups = elements(p.input)
            c.elementOps = 2 * elements(p.input)   // max, then the normalising division
            c.weightBytesRead = blob(p.expTable)
        case .gate(let p):
            c.tableLookups = elements(p.input)
            if p.kind == .softmax { c.elementOps = 2 * elements(p.input) }
            c.weightBytesRead = blob(p.table)
        case .table(let p):
            c.tableLookups = elements(p.input)
            c.weightBytesRead = blob(p.table)
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
