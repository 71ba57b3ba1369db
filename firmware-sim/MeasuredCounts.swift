import DynQCore

/// What running a model through the integer `Interpreter` shows.
///
/// - `bytesWritten[i]`: arena bytes op `i` actually wrote, measured by painting the op's own buffers (its output
///   tensors and per-sample fused buffers, from the runtime's plan) with a pattern just before the op and counting
///   the bytes that differ just after it. The run is done twice, with patterns `0xA5` and `0x5A`, and a byte counts
///   as written if it differs in either run (a written byte cannot equal both patterns).
/// - `highWaterMark`: the highest arena byte that differs from the paint after a whole run, again the maximum over
///   both patterns (the runtime's `paint` / `measuredHighWaterMark`).
/// - `macs[i]`: the multiply-accumulates the interpreter reports for the step it built for op `i`.
/// - `runs[i]`: how often the observer saw op `i` run (1 for every op of one `invoke`).
public struct MeasuredCounts: Equatable, Sendable {
    public var macs: [Int]
    public var bytesWritten: [Int]
    public var runs: [Int]
    public var highWaterMark: Int
    /// The plan the interpreter used (`Interpreter.plan`).
    public var arenaBytes: Int
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

/// Runs the `.dynq` model `bytes` on `input` (uint8 HWC pixels) twice with instrumentation (see `MeasuredCounts`).
/// Uses the reference kernels when `reference` (bit-identical results, slower).
public func measureCounts(modelBytes: [UInt8], input: [UInt8], reference: Bool = false) throws -> MeasuredCounts {
    let alignment = ArenaPlan.alignment
    let modelBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(modelBytes.count, 1), alignment: alignment)
    defer { modelBuffer.deallocate() }
    modelBytes.withUnsafeBytes { modelBuffer.copyMemory(from: $0) }
    let model = try Model(bytes: UnsafeRawBufferPointer(rebasing: modelBuffer[0..<modelBytes.count]))
    let need = ArenaPlan(model: model).arenaBytes
    let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(need, 1), alignment: alignment)
    defer { arena.deallocate() }
    let interpreter = try Interpreter(model: model, arena: arena,
                                      options: Interpreter.Options(useReference: reference))
    let plan = interpreter.plan

    var regions = [[(Int, Int)]](repeating: [], count: model.operations.count)
    for b in plan.buffers where b.operation >= 0 && b.size > 0 {
        switch b.purpose {
        case .tensor, .fusedKernel, .fusedBias, .fusedMultipliers: regions[b.operation].append((b.offset, b.size))
        case .scratch, .packedWeights: break
        }
    }

    var highWater = 0
    var written: [[Bool]] = regions.map { [Bool](repeating: false, count: $0.reduce(0) { $0 + $1.1 }) }
    var runs = [Int](repeating: 0, count: regions.count)
    for pattern: UInt8 in [0xA5, 0x5A] {
        interpreter.paint(pattern: pattern)
        try input.withUnsafeBytes { (raw) throws in try interpreter.setInput(raw) }
        var observer = WriteObserver(base: interpreter.arena.baseAddress!, regions: regions, pattern: pattern)
        interpreter.invoke(observer: &observer)
        highWater = max(highWater, interpreter.measuredHighWaterMark(pattern: pattern))
        for i in written.indices { for j in written[i].indices where observer.written[i][j] { written[i][j] = true } }
        runs = observer.runs
    }
    return MeasuredCounts(macs: interpreter.macs, bytesWritten: written.map { $0.filter { $0 }.count },
                          runs: runs, highWaterMark: highWater, arenaBytes: plan.arenaBytes)
}
