/// The arena planner, without allocating: TFLite Micro's greedy scheme over the buffers of one model and one
/// kernel set. docs/architecture.md, "Arena plan".
///
/// Buffers:
/// - every activation tensor (the uint8 input, int8 activations, the int16 Q15 coefficient tensors), alive from
///   the op that writes it (op 0 for the model input) to the last op that reads it (to the end for model outputs,
///   and for every tensor with `keepAll`);
/// - per op, the buffers its `OpRequirements` name for kernel set `K`: ONE work buffer (`workBytes`: for dynamic
///   layers the fused kernel, bias and multipliers, then the scratch), alive for the op only; packed static
///   weights, alive for the whole run. The interpreter's slot of an op holds these two offsets and the variant.
///
/// Placement: buffers sorted by aligned size (largest first, then earlier first use, then creation order), each
/// put at the lowest 16-byte aligned offset where it overlaps no placed buffer whose lifetime overlaps its own.
/// Lifetimes are inclusive op ranges, so an op's inputs, outputs and scratch never share bytes (no in-place ops).
/// Then the placement is done a second time in another order, longest lifetime first (then as above), and the
/// smaller of the two plans is kept (the size order on a tie), so a plan is never larger than the size order's.
/// Neither order is best everywhere: a long-lived buffer (packed weights live for the whole run) placed above
/// short-lived ones leaves holes below it that later buffers cannot always fill. The fixture with the NEON set:
/// 58,224 B by size, 52,000 B + tables longest first (the most bytes alive at one op, the lower bound); with the
/// Cortex-M sets the size order stays.
///
/// Work memory: `workBytes(model)`: 32 bytes per buffer (the buffer records and one conflict list). The planner
/// writes every tensor's offset and every op's slot; the caller keeps those, the work memory can be reused.
public enum ArenaPlanner {
    public static let alignment = 16
    @inline(__always) public static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// What a buffer is for.
    public enum Purpose: UInt8, Equatable, Sendable {
        /// An activation tensor.
        case tensor
        /// An op's packed static weights.
        case packedWeights
        /// An op's work buffer (`OpRequirements.workBytes`: fused kernel, bias, multipliers, scratch).
        case work
    }

    /// One buffer while planning (and, for host tools, after).
    public struct Buffer: Equatable, Sendable {
        public var size: Int32
        public var firstUse: Int32
        public var lastUse: Int32
        public var offset: Int32
        /// Tensor index for `.tensor`, else op index.
        public var owner: Int32
        public var purpose: Purpose
        /// Creation order (the last tie-break).
        public var order: Int32
    }

    /// The most buffers a model can have: its tensors and two per op.
    public static func maxBuffers(_ m: ModelFile) -> Int { m.tensorCount + 2 * m.opCount }

    /// Work bytes `plan` needs.
    public static func workBytes(_ m: ModelFile) -> Int {
        maxBuffers(m) * (MemoryLayout<Buffer>.stride + 8) + alignment
    }

    /// Plans a validated model for kernel set `K`. Writes `tensorOffsets[T]` (−1 for tensors no op touches) and
    /// `slots[N]` (buffer offsets and the chooser's answer). Returns the arena bytes the plan needs from an aligned
    /// start, and the buffers (in `work`, valid until it is reused). Offsets above 2^31 − 1 cannot be planned:
    /// `ModelError.arenaTooSmall` (the caller's arena cannot be that large on any supported target either).
    public static func plan<K: KernelSet>(
        _ m: ModelFile, _ k: K.Type, keepAll: Bool, tensorOffsets: UnsafeMutablePointer<Int32>,
        slots: UnsafeMutablePointer<OpSlot<K.Variant>>, work: UnsafeMutableRawBufferPointer
    ) throws(ModelError) -> (arenaBytes: Int, buffers: UnsafeBufferPointer<Buffer>) {
        precondition(work.count >= workBytes(m), "ArenaPlanner.plan: work area too small")
        let n = m.opCount, end = Int32(n - 1)
        let start = aligned(Int(bitPattern: work.baseAddress!)) - Int(bitPattern: work.baseAddress!)
        let bufs = (work.baseAddress! + start).bindMemory(to: Buffer.self, capacity: maxBuffers(m))
        let conflicts = (work.baseAddress! + start + maxBuffers(m) * MemoryLayout<Buffer>.stride)
            .bindMemory(to: Int32.self, capacity: 2 * maxBuffers(m))

        // Tensor lifetimes: tensorOffsets holds first use, the buffer list is filled after the walk.
        let t = m.tensorCount
        for i in 0..<t { tensorOffsets[i] = -1 }
        // first[i] in tensorOffsets, last[i] in the conflict scratch (free until placement).
        let last = conflicts
        for i in 0..<t { last[i] = -1 }
        tensorOffsets[m.input.index] = 0; last[m.input.index] = 0
        var count = 0
        // Op buffers go after the tensors: reserve the tensors' records first (filled below), so creation order
        // is tensors by index, then op buffers by op.
        var tensorBuffers = 0
        var walker = PlanWalker<K>(model: m, first: tensorOffsets, last: last, slots: slots, bufs: bufs + t, count: 0,
                            index: 0, end: end)
        var opIndex: Int32 = 0
        try m.forEachOp { (r: OpRecord) throws(ModelError) in
            walker = PlanWalker<K>(model: m, first: tensorOffsets, last: last, slots: slots, bufs: walker.bufs,
                            count: walker.count, index: opIndex, end: end)
            try visitOp(r, &walker)
            opIndex += 1
        }
        let opBuffers = walker.count
        for k in 0..<m.outputCount { last[m.output(k).index] = end }
        // Tensor buffers (those some op touches), compacted to the front; op buffers moved up behind them.
        for i in 0..<t where tensorOffsets[i] >= 0 {
            let e = Int32(i)
            let size = m.tensor(i).byteCount
            bufs[tensorBuffers] = Buffer(size: Int32(size), firstUse: tensorOffsets[i],
                                         lastUse: keepAll ? end : last[i], offset: 0, owner: e, purpose: .tensor,
                                         order: 0)
            tensorBuffers += 1
        }
        for j in 0..<opBuffers { bufs[tensorBuffers + j] = bufs[t + j] }
        count = tensorBuffers + opBuffers
        for j in 0..<count { bufs[j].order = Int32(j) }

        // Two orders (in-place heap sorts, no memory); the size order wins a tie.
        sortBuffers(bufs, count, longestFirst: true)
        let second = try place(bufs, count, conflicts)
        sortBuffers(bufs, count, longestFirst: false)
        var extent = try place(bufs, count, conflicts)
        if second < extent {
            sortBuffers(bufs, count, longestFirst: true)
            extent = try place(bufs, count, conflicts)
        }
        for b in 0..<count {
            let x = bufs[b]
            switch x.purpose {
            case .tensor: tensorOffsets[Int(x.owner)] = x.offset
            case .packedWeights: slots[Int(x.owner)].packedWeights = x.offset
            case .work: slots[Int(x.owner)].work = x.offset
            }
        }
        return (extent, UnsafeBufferPointer(start: bufs, count: count))
    }

    /// Places `bufs[0..<count]` in their order: each at the lowest aligned offset where it overlaps no earlier
    /// buffer whose lifetime overlaps its own (`conflicts`: 2 × count Int32 of scratch). Returns the extent.
    @inline(never)
    static func place(_ bufs: UnsafeMutablePointer<Buffer>, _ count: Int,
                      _ conflicts: UnsafeMutablePointer<Int32>) throws(ModelError) -> Int {
        var extent = 0
        for b in 0..<count {
            let size = aligned(Int(bufs[b].size))
            var nc = 0
            for p in 0..<b where bufs[p].firstUse <= bufs[b].lastUse && bufs[b].firstUse <= bufs[p].lastUse {
                conflicts[2 * nc] = bufs[p].offset
                conflicts[2 * nc + 1] = bufs[p].offset &+ Int32(aligned(Int(bufs[p].size)))
                nc += 1
            }
            sortPairs(conflicts, nc)
            var offset = 0
            for c in 0..<nc {
                let lo = Int(conflicts[2 * c]), hi = Int(conflicts[2 * c + 1])
                if offset + size <= lo { break }
                offset = max(offset, hi)
            }
            guard offset <= Int(Int32.max) - size else {
                throw ModelError(.arenaTooSmall, .arena, "arena plan larger than 2 GiB", value: Int64(offset))
            }
            bufs[b].offset = Int32(offset)
            extent = max(extent, offset + size)
        }
        return extent
    }

    /// Placement order: largest aligned size first, then earlier first use, then creation order; with
    /// `longestFirst`, the longest lifetime (in ops) before all that.
    @inline(__always)
    static func before(_ a: Buffer, _ b: Buffer, longestFirst: Bool) -> Bool {
        if longestFirst {
            let la = a.lastUse - a.firstUse, lb = b.lastUse - b.firstUse
            if la != lb { return la > lb }
        }
        let sa = aligned(Int(a.size)), sb = aligned(Int(b.size))
        if sa != sb { return sa > sb }
        if a.firstUse != b.firstUse { return a.firstUse < b.firstUse }
        return a.order < b.order
    }

    /// In-place heap sort of `a[0..<n]` by `before(_:_:longestFirst:)`.
    @inline(never)
    static func sortBuffers(_ a: UnsafeMutablePointer<Buffer>, _ n: Int, longestFirst: Bool) {
        @inline(__always) func before(_ x: Buffer, _ y: Buffer) -> Bool { Self.before(x, y, longestFirst: longestFirst) }
        func sift(_ start: Int, _ end: Int) {
            var root = start
            while 2 * root + 1 < end {
                var child = 2 * root + 1
                if child + 1 < end && before(a[child], a[child + 1]) { child += 1 }
                guard before(a[root], a[child]) else { return }
                a.swapAt(root, child)
                root = child
            }
        }
        var s = n / 2
        while s > 0 { s -= 1; sift(s, n) }
        var e = n
        while e > 1 { e -= 1; a.swapAt(0, e); sift(0, e) }
    }

    /// In-place heap sort of `n` (lo, hi) pairs by lo.
    static func sortPairs(_ p: UnsafeMutablePointer<Int32>, _ n: Int) {
        func swap(_ i: Int, _ j: Int) {
            let l = p[2 * i], h = p[2 * i + 1]
            p[2 * i] = p[2 * j]; p[2 * i + 1] = p[2 * j + 1]; p[2 * j] = l; p[2 * j + 1] = h
        }
        func sift(_ start: Int, _ end: Int) {
            var root = start
            while 2 * root + 1 < end {
                var child = 2 * root + 1
                if child + 1 < end && p[2 * child] < p[2 * child + 2] { child += 1 }
                guard p[2 * root] < p[2 * child] else { return }
                swap(root, child)
                root = child
            }
        }
        var s = n / 2
        while s > 0 { s -= 1; sift(s, n) }
        var e = n
        while e > 1 { e -= 1; swap(0, e); sift(0, e) }
    }
}

extension UnsafeMutablePointer {
    @inline(__always) func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]; self[i] = self[j]; self[j] = t
    }
}

struct PlanWalker<K: KernelSet>: OpVisitor {
    typealias Result = Void
    typealias Buffer = ArenaPlanner.Buffer
    typealias Purpose = ArenaPlanner.Purpose
    let model: ModelFile
    let first: UnsafeMutablePointer<Int32>, last: UnsafeMutablePointer<Int32>
    let slots: UnsafeMutablePointer<OpSlot<K.Variant>>
    let bufs: UnsafeMutablePointer<Buffer>
    var count: Int
    let index: Int32
    let end: Int32
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) {
        let first = self.first, last = self.last, i = index
        O.forEachTensor(p) { id, isOutput in
            if isOutput { first[id.index] = i }
            last[id.index] = max(last[id.index], i)
        }
        let r = O.requirements(p, model, K.self)
        var slot = OpSlot<K.Variant>()
        slot.variant = r.variant
        slots.advanced(by: Int(i)).initialize(to: slot)
        func add(_ purpose: Purpose, _ size: Int, whole: Bool = false) throws(ModelError) {
            guard size > 0 else { return }
            guard size <= Int(Int32.max) - ArenaPlanner.alignment else {
                throw ModelError(.arenaTooSmall, .operation(Int(i)), "op buffer larger than 2 GiB",
                                 value: Int64(size))
            }
            bufs[count] = Buffer(size: Int32(size), firstUse: whole ? 0 : i, lastUse: whole ? end : i,
                                 offset: 0, owner: i, purpose: purpose, order: 0)
            count += 1
        }
        try add(.work, r.workBytes)
        try add(.packedWeights, r.packedWeights, whole: true)
    }
}
