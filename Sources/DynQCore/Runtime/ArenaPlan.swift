/// The arena plan of a model for one kernel set, for host tools (inspect, the simulator, tests): the same
/// planner the interpreter runs (`ArenaPlanner`), its results as arrays, and the figures reports need.
public struct ArenaPlan: Equatable, Sendable {
    public static let alignment = ArenaPlanner.alignment
    @inline(__always) public static func aligned(_ n: Int) -> Int { ArenaPlanner.aligned(n) }

    /// What a buffer is for. The planner places an op's fused kernel, bias, multipliers and scratch as one work
    /// buffer (`OpRequirements.workBytes`); the plan lists them as the parts of that block.
    public enum Purpose: UInt8, Equatable, Sendable {
        case tensor, packedWeights, scratch, fusedWeights, fusedBias, fusedMultipliers
    }

    /// One placed buffer.
    public struct Buffer: Equatable, Sendable {
        public var purpose: Purpose
        /// Tensor index for `.tensor`, else the op the buffer belongs to.
        public var owner: Int
        /// Bytes used (before rounding up to the alignment).
        public var size: Int
        /// First and last op (inclusive) during which the bytes must be kept.
        public var firstUse: Int
        public var lastUse: Int
        /// Byte offset in the plan region.
        public var offset: Int
        /// For tensors, the op that writes it (−1 for the model input); for op buffers, the op.
        public var operation: Int
    }

    /// The kernel set planned for (`KernelSet.name`).
    public var kernelSet: String
    public var buffers: [Buffer]
    /// Offset of every tensor in the plan region, by `TensorID` (−1: no op touches it).
    public var tensorOffsets: [Int]
    /// Per op: the offsets of its buffers in the plan region (−1 when none); all but the packed weights are parts
    /// of the op's work buffer.
    public var fusedWeightOffsets: [Int]
    public var fusedBiasOffsets: [Int]
    public var fusedMultiplierOffsets: [Int]
    public var scratchOffsets: [Int]
    public var packedWeightOffsets: [Int]
    /// Bytes of the plan region the plan uses.
    public var planBytes: Int
    /// The interpreter's tables at the start of the arena (tensor offsets, op slots).
    public var tableBytes: Int
    /// What the caller must provide (plus up to 15 bytes if the arena does not start on a 16-byte boundary):
    /// `tableBytes + max(planBytes, planner work)`.
    public var arenaBytes: Int
    /// The most plan bytes alive at one op (each buffer rounded up to the alignment), and the op where that is.
    public var peakLiveBytes: Int
    public var peakOperation: Int
    /// Sum of all buffers (rounded up to the alignment): the plan region with no sharing.
    public var unsharedBytes: Int
    public var keepAll: Bool

    /// Plans a loaded (validated) model for kernel set `K`.
    public init<K: KernelSet>(model: Model, kernels: K.Type, keepAll: Bool = false) {
        self.init(file: model.file, kernels: K.self, keepAll: keepAll)
    }

    /// Plans a model description (tools that size memory without a file: the simulator). The description must
    /// be valid (`serialized()` succeeds).
    public init<K: KernelSet>(description d: ModelDescription, kernels: K.Type, keepAll: Bool = false) {
        let bytes = try! d.serialized()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let file = try! ModelFile(bytes: UnsafeRawBufferPointer(buffer))
        self.init(file: file, kernels: K.self, keepAll: keepAll)
    }

    /// Plans a validated model file for kernel set `K`.
    public init<K: KernelSet>(file m: ModelFile, kernels: K.Type, keepAll: Bool = false) {
        let tables = Interpreter<K>.tableBytes(m)
        var offsets = [Int32](repeating: -1, count: m.tensorCount)
        let slots = UnsafeMutablePointer<OpSlot<K.Variant>>.allocate(capacity: m.opCount)
        defer { slots.deallocate() }
        let work = UnsafeMutableRawBufferPointer.allocate(byteCount: ArenaPlanner.workBytes(m), alignment: 16)
        defer { work.deallocate() }
        let plan = offsets.withUnsafeMutableBufferPointer { o in
            try! ArenaPlanner.plan(m, K.self, keepAll: keepAll, tensorOffsets: o.baseAddress!, slots: slots, work: work)
        }
        var producer = [Int](repeating: -1, count: m.tensorCount)
        m.forEachOp { (r: OpRecord) in
            for t in ModelDescription.Op.tensorIDs(r, outputs: true) { producer[t.index] = r.index }
        }
        let n = m.opCount
        var requirements: [OpRequirements<K.Variant>] = []
        m.forEachOp { (r: OpRecord) in
            var v = RequirementsAsker<K>(model: m)
            requirements.append(try! visitOp(r, &v))
        }
        var fusedWeightOffsets = [Int](repeating: -1, count: n), fusedBiasOffsets = fusedWeightOffsets
        var fusedMultiplierOffsets = fusedWeightOffsets, scratchOffsets = fusedWeightOffsets
        var buffers: [Buffer] = []
        for b in plan.buffers {
            let owner = Int(b.owner), offset = Int(b.offset)
            func part(_ purpose: Purpose, _ size: Int, at: Int) -> Int {
                guard size > 0 else { return -1 }
                buffers.append(Buffer(purpose: purpose, owner: owner, size: size, firstUse: Int(b.firstUse),
                                      lastUse: Int(b.lastUse), offset: offset + at, operation: owner))
                return offset + at
            }
            switch b.purpose {
            case .tensor:
                buffers.append(Buffer(purpose: .tensor, owner: owner, size: Int(b.size), firstUse: Int(b.firstUse),
                                      lastUse: Int(b.lastUse), offset: offset, operation: producer[owner]))
            case .packedWeights:
                _ = part(.packedWeights, Int(b.size), at: 0)
            case .work:
                let r = requirements[owner]
                fusedWeightOffsets[owner] = part(.fusedWeights, r.fusedWeights, at: 0)
                fusedBiasOffsets[owner] = part(.fusedBias, r.fusedBias, at: r.fusedBiasOffset)
                fusedMultiplierOffsets[owner] = part(.fusedMultipliers, r.fusedMultipliers, at: r.fusedMultipliersOffset)
                scratchOffsets[owner] = part(.scratch, r.scratch, at: r.scratchOffset)
            }
        }
        self.buffers = buffers
        self.kernelSet = K.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        self.tensorOffsets = offsets.map { Int($0) }
        self.fusedWeightOffsets = fusedWeightOffsets
        self.fusedBiasOffsets = fusedBiasOffsets
        self.fusedMultiplierOffsets = fusedMultiplierOffsets
        self.scratchOffsets = scratchOffsets
        self.packedWeightOffsets = (0..<n).map { Int(slots[$0].packedWeights) }
        self.planBytes = plan.arenaBytes
        self.tableBytes = tables
        self.arenaBytes = tables + max(plan.arenaBytes, Interpreter<K>.workBytes(m))
        var live = [Int](repeating: 0, count: max(n, 1))
        var unshared = 0
        for b in buffers {
            let s = ArenaPlan.aligned(b.size)
            unshared += s
            for i in b.firstUse...b.lastUse { live[i] += s }
        }
        var peak = 0, peakOp = 0
        for (i, v) in live.enumerated() where v > peak { peak = v; peakOp = i }
        self.peakLiveBytes = peak
        self.peakOperation = peakOp
        self.unsharedBytes = unshared
        self.keepAll = keepAll
    }

    /// Whether two buffers that are alive at the same time overlap (never, for a correct plan).
    public func findOverlap() -> (Int, Int)? {
        for a in buffers.indices {
            for b in buffers.indices where b > a {
                let x = buffers[a], y = buffers[b]
                guard x.firstUse <= y.lastUse && y.firstUse <= x.lastUse else { continue }
                if x.offset < y.offset + y.size && y.offset < x.offset + x.size && x.size > 0 && y.size > 0 {
                    return (a, b)
                }
            }
        }
        return nil
    }
}

/// The buffers an op needs beside its tensors for kernel set `K` (host tools: `dynq inspect`, tests).
public func opRequirements<K: KernelSet>(_ m: ModelFile, op index: Int, kernels: K.Type) -> OpRequirements<K.Variant> {
    var result = OpRequirements<K.Variant>()
    m.forEachOp { (r: OpRecord) in
        guard r.index == index else { return }
        var v = RequirementsAsker<K>(model: m)
        result = try! visitOp(r, &v)
    }
    return result
}

struct RequirementsAsker<K: KernelSet>: OpVisitor {
    typealias Result = OpRequirements<K.Variant>
    let model: ModelFile
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> OpRequirements<K.Variant> {
        O.requirements(p, model, K.self)
    }
}
