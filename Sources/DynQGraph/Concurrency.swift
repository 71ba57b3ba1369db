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

/// One result per worker, written under a lock.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ k: Int, _ r: Result<T, any Error>) { lock.lock(); slots[k] = r; lock.unlock() }
    var results: [Result<T, any Error>?] { lock.lock(); defer { lock.unlock() }; return slots }
}
