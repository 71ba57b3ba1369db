/// Runs a `.dynq` model with kernel set `K` in a caller-owned arena, TFLite Micro style, and allocates nothing:
/// not at init, not per inference. docs/architecture.md, "Interpreter".
///
/// The arena holds, from its first 16-byte aligned byte:
///
///     [tensor offsets: Int32 × tensors][op slots: OpSlot × ops][plan: tensors, scratch, packed weights, ...]
///
/// `init` validates the model (unless the caller did: `Model`), plans the arena (`ArenaPlanner`, whose work
/// memory is the plan region before anything lives there), runs each op's chooser once and stores the answer in
/// the op's slot, and packs static weights. `invoke()` walks the op records in the model file, decodes each one's
/// parameters (a few dozen loads, no allocation) and runs its kernels.
///
///     let need = try Interpreter<SIMD128Kernels>.arenaBytes(model: file, work: scratch)   // or a host helper
///     var it = try Interpreter(modelBytes: bytes, arena: arena, kernels: SIMD128Kernels())
///     try it.setInput(image)                                   // uint8 HWC, H·W·C bytes
///     it.invoke()
///     let logits = it.output(0)                                // int8
///
/// The model bytes and the arena must outlive the interpreter. Without `keepAll`, the input tensor's bytes are
/// reused after its last reader: write the input again before every `invoke()`. Not thread-safe: one invoke at
/// a time per interpreter (different interpreters with different arenas may run concurrently).
public struct Interpreter<K: KernelSet> {
    public let model: ModelFile
    public let kernels: K
    /// The 16-byte aligned part of the caller's arena the interpreter uses (`arenaBytes`).
    public let arena: UnsafeMutableRawBufferPointer
    /// Every tensor survives the run (no sharing between tensors), for evaluation and debugging.
    public let keepAll: Bool
    let tensorOffsets: UnsafeMutablePointer<Int32>
    let slots: UnsafeMutablePointer<OpSlot<K.Variant>>
    /// The plan region: every offset of the plan is from here.
    let data: UnsafeMutableRawPointer
    /// Bytes of the plan region the plan uses.
    public let planBytes: Int

    /// Bytes of the interpreter's own tables at the start of the arena.
    public static func tableBytes(_ m: ModelFile) -> Int {
        ArenaPlanner.aligned(4 * m.tensorCount) + ArenaPlanner.aligned(MemoryLayout<OpSlot<K.Variant>>.stride * m.opCount)
    }
    /// Bytes of the work memory `init` needs after the tables (validation flags, then the planner's records).
    public static func workBytes(_ m: ModelFile) -> Int { max(m.validationWorkBytes, ArenaPlanner.workBytes(m)) }

    /// Arena bytes an interpreter for `m` needs (plus up to 15 if the arena does not start on a 16-byte boundary):
    /// plans the model in `work` (at least `tableBytes(m) + workBytes(m)` bytes, any alignment; the caller's
    /// future arena will do). `m` must be validated (`validate(work:)`).
    public static func arenaBytes(model m: ModelFile, keepAll: Bool = false, work: UnsafeMutableRawBufferPointer)
        throws(ModelError) -> Int
    {
        let base = Int(bitPattern: work.baseAddress)
        let skip = ArenaPlanner.aligned(base) - base
        let tables = tableBytes(m), need = tables + workBytes(m)
        guard work.count >= skip + need else {
            throw ModelError(.arenaTooSmall, .arena, "work area too small to plan; bytes needed", value: Int64(need + 15))
        }
        let w = UnsafeMutableRawBufferPointer(rebasing: work[skip...])
        let offsets = w.baseAddress!.bindMemory(to: Int32.self, capacity: m.tensorCount)
        let slots = (w.baseAddress! + ArenaPlanner.aligned(4 * m.tensorCount))
            .bindMemory(to: OpSlot<K.Variant>.self, capacity: m.opCount)
        let plan = try ArenaPlanner.plan(m, K.self, keepAll: keepAll, tensorOffsets: offsets, slots: slots,
                                         work: UnsafeMutableRawBufferPointer(rebasing: w[tables...]))
        return tables + max(plan.arenaBytes, workBytes(m))
    }

    /// Loads, validates and plans `modelBytes` (16-byte aligned, exactly the file) in `arena`.
    public init(modelBytes: UnsafeRawBufferPointer, arena: UnsafeMutableRawBufferPointer, kernels: K,
                keepAll: Bool = false) throws(ModelError) {
        try self.init(file: ModelFile(bytes: modelBytes), validate: true, arena: arena, kernels: kernels,
                      keepAll: keepAll)
    }

    /// An interpreter for a model file; `validate: false` only when the caller validated it (`Model` does).
    public init(file m: ModelFile, validate: Bool, arena caller: UnsafeMutableRawBufferPointer, kernels: K,
                keepAll: Bool = false) throws(ModelError) {
        let base = Int(bitPattern: caller.baseAddress)
        let skip = ArenaPlanner.aligned(base) - base
        let tables = Self.tableBytes(m), work = Self.workBytes(m)
        guard caller.baseAddress != nil, caller.count >= skip + tables + work else {
            throw ModelError(.arenaTooSmall, .arena, "arena too small even to plan the model; bytes needed at least",
                             value: Int64(skip + tables + work))
        }
        let a = caller.baseAddress! + skip
        let offsets = a.bindMemory(to: Int32.self, capacity: m.tensorCount)
        let slots = (a + ArenaPlanner.aligned(4 * m.tensorCount)).bindMemory(to: OpSlot<K.Variant>.self,
                                                                             capacity: m.opCount)
        let region = UnsafeMutableRawBufferPointer(start: a + tables, count: caller.count - skip - tables)
        if validate { try m.validate(work: region) }
        let plan = try ArenaPlanner.plan(m, K.self, keepAll: keepAll, tensorOffsets: offsets, slots: slots,
                                         work: region)
        let total = tables + max(plan.arenaBytes, work)
        guard caller.count >= skip + total else {
            throw ModelError(.arenaTooSmall, .arena, "arena too small; bytes needed", value: Int64(skip + total))
        }
        self.model = m
        self.kernels = kernels
        self.keepAll = keepAll
        self.arena = UnsafeMutableRawBufferPointer(start: a, count: total)
        self.tensorOffsets = offsets
        self.slots = slots
        self.data = a + tables
        self.planBytes = plan.arenaBytes
        prepare()
    }

    /// Packs the static weights of every op that has packed weights (done by `init` and `paint`).
    func prepare() {
        var v = OpPreparer(interpreter: self)
        model.forEachOp { (r: OpRecord) in
            v.index = r.index
            try! visitOp(r, &v)
        }
    }

    @inline(__always) func context(_ op: Int) -> OpContext<K> {
        OpContext(model: model, arena: data, tensorOffsets: UnsafePointer(tensorOffsets), slot: slots[op],
                  kernels: kernels)
    }

    // MARK: Tensors

    /// Where tensor `id` lives, as an offset in the plan region (−1: no op touches it).
    public func tensorOffset(_ id: TensorID) -> Int { Int(tensorOffsets[id.index]) }
    /// Op `i`'s slot: its buffers (offsets in the plan region) and its chooser answer.
    public func slot(_ i: Int) -> OpSlot<K.Variant> { slots[i] }
    /// The plan region (every tensor and op buffer lives here).
    public var planRegion: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: data, count: planBytes) }

    /// A tensor's bytes in the arena (valid while the tensor is alive: after the op that writes it, until the op
    /// after its last reader; always, after `invoke()`, with `keepAll` or for model outputs).
    public func tensorBytes(_ id: TensorID) -> UnsafeMutableRawBufferPointer {
        let off = Int(tensorOffsets[id.index])
        let n = off < 0 ? 0 : model.tensor(id.index).byteCount
        return UnsafeMutableRawBufferPointer(start: data + max(off, 0), count: n)
    }

    /// The model input, uint8 HWC.
    public var input: UnsafeMutableBufferPointer<UInt8> {
        tensorBytes(model.input).assumingMemoryBound(to: UInt8.self)
    }

    /// Copies `bytes` (uint8 HWC, exactly H·W·C bytes) into the input tensor.
    public func setInput(_ bytes: UnsafeRawBufferPointer) throws(ModelError) {
        let dst = tensorBytes(model.input)
        guard bytes.count == dst.count else {
            throw ModelError(.badInput, .input, "input has the wrong size; bytes expected", value: Int64(dst.count))
        }
        if let s = bytes.baseAddress { dst.baseAddress!.copyMemory(from: s, byteCount: bytes.count) }
    }

    /// Model output `i` as int8 (the first output is the logits). For an int16 output (softmax probabilities,
    /// wide logits) these are its bytes: read it with `outputCode` or `outputInt16`.
    public func output(_ i: Int = 0) -> UnsafeBufferPointer<Int8> {
        UnsafeBufferPointer(tensorBytes(model.output(i)).assumingMemoryBound(to: Int8.self))
    }

    /// Model output `i`'s element type: int8, or int16 (softmax probabilities, a classifier's wide logits).
    public func outputType(_ i: Int = 0) -> ElementType { model.tensorType(model.output(i).index) }

    /// Model output `i`'s element count.
    public func outputElementCount(_ i: Int = 0) -> Int { tensorBytes(model.output(i)).count / outputType(i).size }

    /// Model output `i` as int16 (empty when the output is not int16).
    public func outputInt16(_ i: Int = 0) -> UnsafeBufferPointer<Int16> {
        guard outputType(i) == .int16 else { return UnsafeBufferPointer(start: nil, count: 0) }
        let b = tensorBytes(model.output(i))
        return UnsafeBufferPointer(start: b.baseAddress?.assumingMemoryBound(to: Int16.self), count: b.count / 2)
    }

    /// Element `k` (`0 ..< outputElementCount(i)`) of model output `i` as its integer code, whatever the output's
    /// type: `real = scale · (code − zeroPoint)`.
    @inline(never)
    public func outputCode(_ i: Int, _ k: Int) -> Int32 {
        Self.code(UnsafeRawBufferPointer(tensorBytes(model.output(i))), outputType(i), k)
    }

    /// The index of output `i`'s largest code, the lowest index among equal ones (the top-1 class of logits).
    @inline(never)
    public func outputArgmax(_ i: Int = 0) -> Int {
        let b = UnsafeRawBufferPointer(tensorBytes(model.output(i))), type = outputType(i)
        var best = 0, top = Int32.min
        for k in 0..<(b.count / type.size) {
            let v = Self.code(b, type, k)
            if v > top { best = k; top = v }
        }
        return best
    }

    @inline(__always) static func code(_ b: UnsafeRawBufferPointer, _ type: ElementType, _ k: Int) -> Int32 {
        switch type {
        case .int16: return Int32(b.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self))
        case .int32: return b.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)
        case .uint8: return Int32(b[k])
        case .int8: return Int32(Int8(bitPattern: b[k]))
        }
    }

    // MARK: Running

    /// Runs every op once. No heap allocation.
    public func invoke() {
        var none = NoObserver()
        invoke(observer: &none)
    }

    /// Runs every op once, calling `observer` around each op (timing, op counting, a cycle counter). No heap
    /// allocation by the interpreter.
    public func invoke<O: InterpreterObserver>(observer: inout O) {
        var v = OpRunner(interpreter: self)
        model.forEachOp { (r: OpRecord) in
            observer.willRun(operation: r.index)
            v.index = r.index
            try! visitOp(r, &v)
            observer.didRun(operation: r.index)
        }
    }

    /// The highest plan-region byte that differs from `pattern` (the high-water mark measured after painting
    /// with `paint(pattern:)` and running), or 0.
    public func measuredHighWaterMark(pattern: UInt8 = 0xA5) -> Int {
        var i = planBytes
        while i > 0 && data.load(fromByteOffset: i - 1, as: UInt8.self) == pattern { i -= 1 }
        return i
    }

    /// Fills the plan region with `pattern` (to measure the high-water mark), then packs the static weights again.
    /// Overwrites the input.
    public func paint(pattern: UInt8 = 0xA5) {
        data.initializeMemory(as: UInt8.self, repeating: pattern, count: planBytes)
        prepare()
    }
}

/// Called around every op by `Interpreter.invoke(observer:)`; a generic parameter, so calls are static.
public protocol InterpreterObserver {
    mutating func willRun(operation index: Int)
    mutating func didRun(operation index: Int)
}

/// The observer that does nothing.
public struct NoObserver: InterpreterObserver {
    public init() {}
    @inline(__always) public mutating func willRun(operation index: Int) {}
    @inline(__always) public mutating func didRun(operation index: Int) {}
}

extension ModelFile {
    /// Multiply-accumulates of op `r` (fusion included).
    public func macs(_ r: OpRecord) -> Int {
        struct Counter: OpVisitor {
            typealias Result = Int
            let model: ModelFile
            mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> Int {
                O.macs(p, model)
            }
        }
        var v = Counter(model: self)
        return (try? visitOp(r, &v)) ?? 0
    }
}

struct OpPreparer<K: KernelSet>: OpVisitor {
    typealias Result = Void
    let interpreter: Interpreter<K>
    var index = 0
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) {
        O.prepare(p, interpreter.context(index))
    }
}

struct OpRunner<K: KernelSet>: OpVisitor {
    typealias Result = Void
    let interpreter: Interpreter<K>
    var index = 0
    /// Not inlined: each op kind's run is its own function with its own frame, so `invoke`'s stack is the
    /// deepest op's, not the sum of every op's locals in one inlined switch.
    @inline(never)
    mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) {
        O.run(p, interpreter.context(index))
    }
}

#if !hasFeature(Embedded)
// Host conveniences (tools and tests): a `Model` was validated when it was loaded.
extension Interpreter {
    /// An interpreter for a validated host `Model`.
    public init(model: Model, arena: UnsafeMutableRawBufferPointer, kernels: K, keepAll: Bool = false)
        throws(ModelError)
    {
        try self.init(file: model.file, validate: false, arena: arena, kernels: kernels, keepAll: keepAll)
    }

    /// Copies `bytes` (uint8 HWC, exactly H·W·C bytes) into the input tensor.
    public func setInput(_ bytes: [UInt8]) throws(ModelError) {
        var failure: ModelError?
        bytes.withUnsafeBytes { raw in
            do throws(ModelError) { try setInput(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Multiply-accumulates of each op (fusion included).
    public var macs: [Int] {
        var m: [Int] = []
        model.forEachOp { (r: OpRecord) in m.append(model.macs(r)) }
        return m
    }

    /// This interpreter's arena plan (planned again, with the same planner: the same offsets).
    public var plan: ArenaPlan { ArenaPlan(file: model, kernels: K.self, keepAll: keepAll) }
}

extension Interpreter where K: StatelessKernelSet {
    /// An interpreter for a validated host `Model` with a stateless kernel set.
    public init(model: Model, arena: UnsafeMutableRawBufferPointer, keepAll: Bool = false) throws(ModelError) {
        try self.init(model: model, arena: arena, kernels: K(), keepAll: keepAll)
    }
}
#endif
