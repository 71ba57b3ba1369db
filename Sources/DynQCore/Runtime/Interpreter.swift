/// Runs a validated `Model` in a caller-owned arena, TFLite Micro style.
///
/// `init` plans the arena (`ArenaPlan`), checks that it fits, and turns every op into a ready kernel call
/// (parameter structs, blob pointers into the model bytes, arena offsets). This is the only place that
/// allocates (the step list and the plan). `invoke()` then runs the steps with **no heap allocation**: it only
/// reads the step list and calls kernels on raw pointers (tested with glibc's `mallinfo2` in
/// `RuntimeAllocationTests`).
///
/// Usage:
///
///     let model = try Model(bytes: fileBytes)                 // bytes used in place, 16-byte aligned
///     let need = ArenaPlan(model: model).arenaBytes
///     var interpreter = try Interpreter(model: model, arena: arena)   // arena.count >= need (+15 if unaligned)
///     try interpreter.setInput(imageBytes)                      // uint8 HWC, H·W·C bytes
///     interpreter.invoke()
///     let logits = interpreter.output(0)                       // int8
///
/// The model bytes and the arena must outlive the interpreter. Without `keepAll`, the input tensor's bytes are
/// reused after its last reader: write the input again before every `invoke()`.
public struct Interpreter {
    public struct Options: Equatable, Sendable {
        /// Every tensor survives the run (no sharing between tensors), for evaluation and debugging.
        public var keepAll: Bool
        /// Run the scalar reference kernels instead of the SIMD ones. Set at init, the plan also leaves out the
        /// SIMD kernels' packed weights and scratch (the smallest arena, e.g. for a microcontroller); the
        /// interpreter then always runs the reference kernels.
        public var useReference: Bool
        public init(keepAll: Bool = false, useReference: Bool = false) {
            self.keepAll = keepAll; self.useReference = useReference
        }
    }

    public let model: Model
    public let plan: ArenaPlan
    /// The 16-byte aligned part of the caller's arena the plan uses.
    public let arena: UnsafeMutableRawBufferPointer
    /// Run the reference kernels. Can be switched between invocations when the plan holds the SIMD buffers
    /// (`plan.simd`); without them the reference kernels always run.
    public var useReference: Bool
    let steps: [Step]
    /// Multiply-accumulates of each op (fusion included), for reports and the simulator.
    public let macs: [Int]

    public init(model: Model, arena caller: UnsafeMutableRawBufferPointer, options: Options = Options())
        throws(ModelError)
    {
        let plan = ArenaPlan(model: model, keepAll: options.keepAll, simd: !options.useReference)
        guard let base = caller.baseAddress else {
            throw ModelError(.arenaTooSmall, .arena, "arena is empty; bytes needed", value: Int64(plan.arenaBytes))
        }
        let misalignment = Int(bitPattern: base) % ArenaPlan.alignment
        let skip = misalignment == 0 ? 0 : ArenaPlan.alignment - misalignment
        guard caller.count >= skip + plan.arenaBytes else {
            throw ModelError(.arenaTooSmall, .arena, "arena too small; bytes needed", value: Int64(skip + plan.arenaBytes))
        }
        self.arena = UnsafeMutableRawBufferPointer(rebasing: caller[skip..<(skip + plan.arenaBytes)])
        self.model = model
        self.plan = plan
        self.useReference = options.useReference
        var steps: [Step] = []
        var macs: [Int] = []
        steps.reserveCapacity(model.operations.count)
        for (i, o) in model.operations.enumerated() {
            let (s, m) = Step.make(o.op, index: i, model: model, plan: plan)
            steps.append(s)
            macs.append(m)
        }
        self.steps = steps
        self.macs = macs
        packStaticWeights()
    }

    /// Packs the static weights of the SIMD kernels into their arena buffers (done by `init` and `paint`).
    func packStaticWeights() {
        let base = arena.baseAddress!
        for s in steps { s.packStaticWeights(base) }
    }

    /// Loads (validates) `bytes` and builds the interpreter.
    public init(modelBytes: UnsafeRawBufferPointer, arena: UnsafeMutableRawBufferPointer, options: Options = Options())
        throws(ModelError)
    {
        try self.init(model: Model(bytes: modelBytes), arena: arena, options: options)
    }

    // MARK: Tensors

    /// A tensor's bytes in the arena (valid while the tensor is alive: after the op that writes it, until the op
    /// after its last reader; always, after `invoke()`, with `keepAll` or for model outputs).
    public func tensorBytes(_ id: TensorID) -> UnsafeMutableRawBufferPointer {
        let off = plan.tensorOffsets[id.index]
        let n = off < 0 ? 0 : model.tensors[id.index].byteCount
        return UnsafeMutableRawBufferPointer(rebasing: arena[max(off, 0)..<(max(off, 0) + n)])
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

    /// Copies `bytes` (uint8 HWC, exactly H·W·C bytes) into the input tensor.
    public func setInput(_ bytes: [UInt8]) throws(ModelError) {
        let dst = tensorBytes(model.input)
        guard bytes.count == dst.count else {
            throw ModelError(.badInput, .input, "input has the wrong size; bytes expected", value: Int64(dst.count))
        }
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress { dst.baseAddress!.copyMemory(from: s, byteCount: src.count) }
        }
    }

    /// Model output `i` as int8 (the first output is the logits).
    public func output(_ i: Int = 0) -> UnsafeBufferPointer<Int8> {
        UnsafeBufferPointer(tensorBytes(model.outputs[i]).assumingMemoryBound(to: Int8.self))
    }

    // MARK: Running

    /// Runs every op once. No heap allocation.
    public func invoke() {
        var none = NoObserver()
        invoke(observer: &none)
    }

    /// Runs every op once, calling `observer` around each op (bench timing, op counting). No heap allocation by
    /// the interpreter (the observer's own work is the caller's).
    public func invoke<O: InterpreterObserver>(observer: inout O) {
        run(observer: &observer, reference: useReference || !plan.simd, tally: NoTally())
    }

    /// Runs every op once with the reference kernels, which report every unit of work and every load and store
    /// to `tally` (the firmware simulator's measured counter); `observer` is called around each op, so it can
    /// attribute the reports to ops. Same results as `invoke()`. No heap allocation by the interpreter.
    public func invokeReference<O: InterpreterObserver, T: KernelTally>(observer: inout O, tally: T) {
        run(observer: &observer, reference: true, tally: tally)
    }

    @inline(__always)
    func run<O: InterpreterObserver, T: KernelTally>(observer: inout O, reference: Bool, tally: T) {
        let base = arena.baseAddress!
        steps.withUnsafeBufferPointer { steps in
            for i in 0..<steps.count {
                observer.willRun(operation: i)
                steps[i].run(base, reference: reference, tally: tally)
                observer.didRun(operation: i)
            }
        }
    }

    /// The highest arena byte that differs from `pattern` (the arena's high-water mark measured after painting
    /// it with `paint(pattern:)` and running), or 0.
    public func measuredHighWaterMark(pattern: UInt8 = 0xA5) -> Int {
        var i = arena.count
        while i > 0 && arena[i - 1] == pattern { i -= 1 }
        return i
    }

    /// Fills the arena with `pattern` (to measure the high-water mark), then packs the static weights again.
    /// Overwrites the input.
    public func paint(pattern: UInt8 = 0xA5) {
        arena.initializeMemory(as: UInt8.self, repeating: pattern)
        packStaticWeights()
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
