import Foundation

/// Every core of the machine (`ProcessInfo.activeProcessorCount`, at least 1): the default number of workers of
/// image-parallel work (calibration, `dynq eval`).
public var defaultWorkerCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

/// Splits `0..<count` into `workers` contiguous slices, calls `body` on each slice on its own thread
/// (`DispatchQueue.concurrentPerform`) and returns the slices' results concatenated in index order.
///
/// When `body` computes each index's result independently of the others, the result is the same for any number of
/// workers; callers then reduce it in index order, so parallel and serial runs agree bit for bit. An error thrown
/// for the lowest slice is rethrown (deterministic too).
public func concurrentChunks<T: Sendable>(count: Int, workers: Int,
                                         _ body: @Sendable (Range<Int>) throws -> [T]) throws -> [T] {
    let w = max(1, min(workers, count))
    if w == 1 { return try body(0..<count) }
    let slots = ResultSlots<[T]>(count: w)
    DispatchQueue.concurrentPerform(iterations: w) { k in
        let range = (k * count / w)..<((k + 1) * count / w)
        slots.set(k, Result { try body(range) })
    }
    var out: [T] = []
    out.reserveCapacity(count)
    for r in slots.results { out += try r!.get() }
    return out
}

/// Maps every index of `0..<count` through `body` on `workers` threads, `4 · workers` indices at a time, and hands
/// each result to `consume` in index order before the next batch starts: at most one batch of results is held at
/// once (calibration's per-image tensors, adaptive rounding's per-image moment sums), and `consume` sees the same
/// sequence for any number of workers.
public func concurrentBatches<T: Sendable>(count: Int, workers: Int, _ body: @Sendable (Int) throws -> T,
                                           consume: (Int, T) throws -> Void) throws {
    let batch = 4 * max(1, workers)
    var start = 0
    while start < count {
        let base = start, end = min(start + batch, count)
        let results = try concurrentChunks(count: end - base, workers: workers) { range in
            try range.map { try body(base + $0) }
        }
        for (k, r) in results.enumerated() { try consume(base + k, r) }
        start = end
    }
}

/// One result per worker, written under a lock.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ k: Int, _ r: Result<T, any Error>) { lock.lock(); slots[k] = r; lock.unlock() }
    var results: [Result<T, any Error>?] { lock.lock(); defer { lock.unlock() }; return slots }
}
