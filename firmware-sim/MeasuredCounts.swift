import DynQCore

/// What running a model through the integer `Interpreter` shows.
///
/// - `ops[i]`: op `i`'s work as the instrumented scalar kernels report it while they run
///   (`Interpreter<ScalarKernels<CountingTally>>`): every MAC, division, add, requantization, table lookup and
///   element op, and every load and store, told apart by address: loads inside the model bytes are weight bytes,
///   loads and stores inside the arena activation bytes (`strayBytes` counts any other address; it is 0).
///   Name, kind and kernel class come from the model; MACs of CPM linear layers go to `cpmMACs`.
/// - `bytesWritten[i]`: arena bytes op `i` actually wrote, measured by painting the op's own buffers (its output
///   tensors and per-sample fused buffers, from the runtime's plan) with a pattern just before the op and counting
///   the bytes that differ just after it. The run is done twice, with patterns `0xA5` and `0x5A`, and a byte counts
///   as written if it differs in either run (a written byte cannot equal both patterns).
/// - `highWaterMark`: the highest arena byte that differs from the paint after a whole run, again the maximum over
///   both patterns (the runtime's `paint` / `measuredHighWaterMark`).
/// - `macs[i]`: the nominal multiply-accumulates of op `i` (`ModelFile.macs`).
/// - `runs[i]`: how often the observer saw op `i` run (1 for every op of one `invoke`).
public struct MeasuredCounts: Equatable, Sendable {
    public var ops: [OpCounts]
    public var strayBytes: Int
    public var macs: [Int]
    public var bytesWritten: [Int]
    public var runs: [Int]
    public var highWaterMark: Int
    /// Bytes of the plan region the plan uses (`Interpreter.planBytes`).
    public var arenaBytes: Int
}

/// Where the instrumented kernels' reports go: per op, per event, and bytes by address range.
final class CountSink {
    let model: UnsafeRawBufferPointer
    let arena: UnsafeRawBufferPointer
    var op = 0
    var events: [[Int]]
    var weightRead: [Int], activationRead: [Int], activationWritten: [Int]
    var stray = 0

    init(model: UnsafeRawBufferPointer, arena: UnsafeRawBufferPointer, operations: Int) {
        self.model = model; self.arena = arena
        events = [[Int]](repeating: [Int](repeating: 0, count: TallyEvent.allCases.count), count: operations)
        weightRead = [Int](repeating: 0, count: operations)
        activationRead = weightRead; activationWritten = weightRead
    }

    @inline(__always) func inside(_ p: UnsafeRawPointer, _ n: Int, _ b: UnsafeRawBufferPointer) -> Bool {
        guard let base = b.baseAddress else { return false }
        return p >= base && p + n <= base + b.count
    }
}

/// The `KernelTally` of the measured counter: forwards to a `CountSink`.
struct CountingTally: KernelTally {
    let sink: CountSink
    func count(_ event: TallyEvent, _ n: Int) { sink.events[sink.op][event.rawValue] += n }
    func read(_ address: UnsafeRawPointer, bytes: Int) {
        if sink.inside(address, bytes, sink.model) { sink.weightRead[sink.op] += bytes }
        else if sink.inside(address, bytes, sink.arena) { sink.activationRead[sink.op] += bytes }
        else { sink.stray += bytes }
    }
    func write(_ address: UnsafeRawPointer, bytes: Int) {
        if sink.inside(address, bytes, sink.arena) { sink.activationWritten[sink.op] += bytes }
        else { sink.stray += bytes }
    }
}

/// Tells the sink which op is running.
struct OpBoundary: InterpreterObserver {
    let sink: CountSink
    mutating func willRun(operation i: Int) { sink.op = i }
    mutating func didRun(operation i: Int) {}
}

/// Paints an op's buffers before it runs and compares after.
struct WriteObserver: InterpreterObserver {
    let base: UnsafeMutableRawPointer
    /// Per op: `(offset, size)` of the buffers the op writes.
    let regions: [[(Int, Int)]]
    let pattern: UInt8
    /// Per op, per region byte: written in this run.
    var written: [[Bool]]
    var runs: [Int]

    init(base: UnsafeMutableRawPointer, regions: [[(Int, Int)]], pattern: UInt8) {
        self.base = base; self.regions = regions; self.pattern = pattern
        written = regions.map { [Bool](repeating: false, count: $0.reduce(0) { $0 + $1.1 }) }
        runs = [Int](repeating: 0, count: regions.count)
    }

    mutating func willRun(operation i: Int) {
        for (offset, size) in regions[i] { (base + offset).initializeMemory(as: UInt8.self, repeating: pattern, count: size) }
    }

    mutating func didRun(operation i: Int) {
        runs[i] += 1
        var k = 0
        for (offset, size) in regions[i] {
            let p = (base + offset).assumingMemoryBound(to: UInt8.self)
            for j in 0..<size {
                if p[j] != pattern { written[i][k] = true }
                k += 1
            }
        }
    }
}

/// Runs the `.dynq` model `bytes` on `input` (uint8 HWC pixels) with instrumentation (see `MeasuredCounts`): once
/// with the scalar kernels reporting to a recording tally, then twice with `kernels` (painted arena, to measure
/// what each op writes and the high-water mark of that set's plan).
public func measureCounts(modelBytes: [UInt8], input: [UInt8], kernels: KernelSetChoice = .hostDefault) throws
    -> MeasuredCounts
{
    let alignment = ArenaPlan.alignment
    let modelBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(modelBytes.count, 1), alignment: alignment)
    defer { modelBuffer.deallocate() }
    modelBytes.withUnsafeBytes { modelBuffer.copyMemory(from: $0) }
    let model = try Model(bytes: UnsafeRawBufferPointer(rebasing: modelBuffer[0..<modelBytes.count]))
    let n = model.operations.count

    // Instrumented run: the scalar kernels report their work.
    let countingNeed = ArenaPlan(model: model, kernels: ScalarKernels<CountingTally>.self).arenaBytes
    let countingArena = UnsafeMutableRawBufferPointer.allocate(byteCount: countingNeed + alignment, alignment: alignment)
    defer { countingArena.deallocate() }
    let sink = CountSink(model: model.bytes, arena: UnsafeRawBufferPointer(countingArena), operations: n)
    let counting = try Interpreter(file: model.file, validate: false, arena: countingArena,
                                   kernels: ScalarKernels(tally: CountingTally(sink: sink)))
    try input.withUnsafeBytes { (raw) throws in try counting.setInput(raw) }
    var boundary = OpBoundary(sink: sink)
    counting.invoke(observer: &boundary)
    let cpm = cpmLinearOperations(model.operations)
    var ops: [OpCounts] = []
    for (i, o) in model.operations.enumerated() {
        var c = OpCounts(name: o.name, kind: String(describing: o.op.code.name),
                         kernelClass: kernelClass(o.op, tensors: model.tensors))
        let e = sink.events[i]
        if cpm.contains(i) { c.cpmMACs = e[TallyEvent.mac.rawValue] } else { c.convMACs = e[TallyEvent.mac.rawValue] }
        c.fusionMACs = e[TallyEvent.fusionMAC.rawValue]
        c.fusionRescales = e[TallyEvent.fusionRescale.rawValue]
        c.adds = e[TallyEvent.add.rawValue]
        c.requantizations = e[TallyEvent.requantization.rawValue]
        c.tableLookups = e[TallyEvent.tableLookup.rawValue]
        c.elementOps = e[TallyEvent.elementOp.rawValue]
        c.weightBytesRead = sink.weightRead[i]
        c.activationBytesRead = sink.activationRead[i]
        c.activationBytesWritten = sink.activationWritten[i]
        ops.append(c)
    }

    struct WriteMeasure: KernelSetUser {
        let model: Model, input: [UInt8]
        func use<K: StatelessKernelSet>(_ kernels: K.Type) throws -> (Int, [Int], [Int], Int) {
            let plan = ArenaPlan(model: model, kernels: K.self)
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.arenaBytes + ArenaPlan.alignment,
                                                               alignment: ArenaPlan.alignment)
            defer { arena.deallocate() }
            let it = try Interpreter(file: model.file, validate: false, arena: arena, kernels: K())
            var regions = [[(Int, Int)]](repeating: [], count: model.operations.count)
            for b in plan.buffers where b.operation >= 0 && b.size > 0 {
                switch b.purpose {
                case .tensor, .fusedWeights, .fusedBias, .fusedMultipliers:
                    regions[b.operation].append((b.offset, b.size))
                case .scratch, .packedWeights: break
                }
            }
            var highWater = 0
            var written: [[Bool]] = regions.map { [Bool](repeating: false, count: $0.reduce(0) { $0 + $1.1 }) }
            var runs = [Int](repeating: 0, count: regions.count)
            for pattern: UInt8 in [0xA5, 0x5A] {
                it.paint(pattern: pattern)
                try input.withUnsafeBytes { (raw) throws in try it.setInput(raw) }
                var observer = WriteObserver(base: it.planRegion.baseAddress!, regions: regions, pattern: pattern)
                it.invoke(observer: &observer)
                highWater = max(highWater, it.measuredHighWaterMark(pattern: pattern))
                for i in written.indices { for j in written[i].indices where observer.written[i][j] { written[i][j] = true } }
                runs = observer.runs
            }
            return (highWater, written.map { $0.filter { $0 }.count }, runs, it.planBytes)
        }
    }
    // Bytes written per op with the scalar kernels (the counts describe them: a set's own layouts, e.g. packed
    // fused kernels, store other byte counts); the high-water mark with the chosen set's plan.
    let (_, bytesWritten, runs, _) = try KernelSetChoice.scalar.with(WriteMeasure(model: model, input: input))
    let (highWater, _, _, planBytes) = try kernels.with(WriteMeasure(model: model, input: input))
    var macs: [Int] = []
    model.file.forEachOp { (r: OpRecord) in macs.append(model.file.macs(r)) }
    return MeasuredCounts(ops: ops, strayBytes: sink.stray, macs: macs, bytesWritten: bytesWritten, runs: runs,
                          highWaterMark: highWater, arenaBytes: planBytes)
}

/// A deterministic pseudo-random uint8 image of `count` bytes: the counts do not depend on pixel values (the
/// reference kernels have no data-dependent loops), so any image measures them.
public func measurementImage(count: Int, seed: UInt64 = 9) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// Where the analytic and the measured counts differ: one line per differing field (empty when they agree), plus
/// any stray load or store and a high-water mark above the plan.
public func disagreements(analytic: ModelCounts, measured: MeasuredCounts) -> [String] {
    var out: [String] = []
    if analytic.ops.count != measured.ops.count {
        return ["op count: analytic \(analytic.ops.count), measured \(measured.ops.count)"]
    }
    for (a, m) in zip(analytic.ops, measured.ops) {
        for ((field, av), (_, mv)) in zip(a.measuredFields, m.measuredFields) where av != mv {
            out.append("\(a.name): \(field) analytic \(av), measured \(mv)")
        }
    }
    if measured.strayBytes != 0 { out.append("\(measured.strayBytes) bytes loaded or stored outside model and arena") }
    if measured.highWaterMark > measured.arenaBytes {
        out.append("arena high-water mark \(measured.highWaterMark) above the plan's \(measured.arenaBytes) bytes")
    }
    return out
}

extension ModelCounts {
    /// These counts with every measured field of every op taken from `measured` (names, classes, `modelBytes`
    /// and `nominalMACs` stay).
    public func replacingMeasured(_ measured: MeasuredCounts) -> ModelCounts {
        var c = self
        for i in c.ops.indices where i < measured.ops.count {
            let m = measured.ops[i]
            c.ops[i].convMACs = m.convMACs; c.ops[i].cpmMACs = m.cpmMACs; c.ops[i].fusionMACs = m.fusionMACs
            c.ops[i].fusionRescales = m.fusionRescales; c.ops[i].adds = m.adds
            c.ops[i].requantizations = m.requantizations; c.ops[i].tableLookups = m.tableLookups
            c.ops[i].elementOps = m.elementOps; c.ops[i].weightBytesRead = m.weightBytesRead
            c.ops[i].activationBytesRead = m.activationBytesRead
            c.ops[i].activationBytesWritten = m.activationBytesWritten
        }
        return c
    }
}
