import DynQCore
import DynQGraph

/// Runs a serialized int8 model with the integer runtime on calibration images: the quantizer's measurements of
/// the model it is building (bias correction, range search, the classifier refit) all go through here.
///
/// The SIMD128 kernels run it (bit-exact with every other kernel set); `workers` chunks of `images` (uint8 HWC)
/// run at once, each with its own copy of the model and its own arena, and `read(interpreter, i)` is called after
/// image `i`'s `invoke()`. The results come back in image order, so anything summed from them in that order is the
/// same for any `workers`. `keepAll`: every tensor stays readable after the run (otherwise only the outputs).
/// Errors are one-line `DynQError`s starting with `what`.
func runInt8Model<R: Sendable>(modelBytes bytes: [UInt8], images: [[UInt8]], count: Int? = nil, keepAll: Bool,
                               workers: Int, what: String,
                               _ read: @Sendable (Interpreter<SIMD128Kernels>, Int) throws -> R) throws -> [R] {
    let n = Swift.min(count ?? images.count, images.count)
    return try concurrentChunks(count: n, workers: workers) { range -> [R] in
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes.count, 16), alignment: 16)
        defer { storage.deallocate() }
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        let model: Model
        do throws(ModelError) { model = try Model(bytes: UnsafeRawBufferPointer(rebasing: storage[0..<bytes.count])) }
        catch { throw DynQError("\(what): the model does not load: \(error.description)") }
        let need = ArenaPlan(model: model, kernels: SIMD128Kernels.self, keepAll: keepAll).arenaBytes
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(need, 16), alignment: 16)
        defer { arena.deallocate() }
        let interpreter: Interpreter<SIMD128Kernels>
        do throws(ModelError) { interpreter = try Interpreter(model: model, arena: arena, keepAll: keepAll) }
        catch { throw DynQError("\(what): \(error.description)") }
        return try range.map { i in
            do throws(ModelError) { try interpreter.setInput(images[i]) }
            catch { throw DynQError("\(what): \(error.description)") }
            interpreter.invoke()
            return try read(interpreter, i)
        }
    }
}
