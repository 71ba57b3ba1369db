// Fuzz target `dynq`: the `.dynq` reader and validator (`Model(bytes:)`), the arena planner, the simulator's
// analytic counts and report (what `dynq sim` does with any model that loads; profiles from $DYNQ_FUZZ_TARGETS,
// which scripts/fuzz.sh sets), and, for models small enough to run quickly, one inference with each of the host's
// kernel sets (every KernelSetChoice case the host runs: oracle, scalar, simd128, and the Cortex-M DSP, Helium and NEON
// sets through their portable C models), which must agree bit for bit (a validated model must run without a
// trap, and the kernel sets are twins).
//
// The custom mutator (`LLVMFuzzerCustomMutator`) knows the file layout (docs/model-format.md): after libFuzzer's
// own byte edits, or an edit of one 32-bit word to an interesting value (0, ±1, powers of two, the format's
// limits), it rewrites the header's file-size field and the CRC-32, so most inputs get past the checksum and
// reach the validator. One mutation in eight is left unrepaired, to keep testing the header checks themselves.
import DynQCore
import DynQGraph
import DynQSim
import Foundation

/// Models whose plan asks for more arena than this, or more multiply-accumulates, are validated and planned but
/// not run (a bounded run keeps each input fast; DynQ's own arena ceiling for host commands is `--max-arena`).
let runArenaLimit = 4 << 20
let runMACLimit = 4_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDynq(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    acceptedForeignError = { ($0 as? ModelError)?.description }
    // Model bytes must be 16-byte aligned in memory (the format's blob alignment).
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
    defer { buffer.deallocate() }
    if size > 0 { buffer.baseAddress!.copyMemory(from: data, byteCount: size) }
    let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<size])
    guard let model = refusedOrAccepted("Model(bytes:)", { () throws(ModelError) -> Model in try Model(bytes: bytes) })
    else { return 0 }
    // The description must serialize again (the writer accepts what the reader accepted).
    let description = ModelDescription(model)
    _ = refusedOrAccepted("serialized()", { () throws(ModelError) -> [UInt8] in try description.serialized() })
    for kernels in Set(profiles.map(\.kernelSetChoice)).sorted(by: { $0.rawValue < $1.rawValue }) {
        let plan = kernels.plan(model)
        if let clash = plan.findOverlap() { fatalError("\(kernels) arena plan overlaps buffers \(clash)") }
        _ = kernels.plan(model, keepAll: true)
        let counts = analyticCounts(description, kernels: kernels)
        for target in profiles where target.kernelSetChoice == kernels {
            let r = simulate(counts: counts, modelBytes: bytes.count, code: code, target: target)
            _ = r.table()
            _ = r.json().serialized()
        }
    }
    runAll(model, seed: bytes.count > 0 ? CRC32.checksum(bytes) : 0)
    return 0
}

let profiles: [TargetProfile] = {
    guard let path = ProcessInfo.processInfo.environment["DYNQ_FUZZ_TARGETS"] else {
        fatalError("set DYNQ_FUZZ_TARGETS to a targets file (scripts/fuzz.sh does)")
    }
    do { return try loadTargets(path) } catch { fatalError("cannot load \(path): \(error)") }
}()
let code = CodeSize(target: "fuzz", text: 1000, data: 10, bss: 100, stackBound: 2000, functions: 1, indirectCalls: 0,
                    recursive: [], source: "fuzz")

/// One inference with kernel set `K` in an arena of its plan's size; `nil` when the model is too big to run here.
struct RunOnce: KernelSetUser {
    let model: Model
    let input: [UInt8]
    func use<K: StatelessKernelSet>(_ kernels: K.Type) throws -> [Int8]? {
        let plan = ArenaPlan(model: model, kernels: K.self)
        guard plan.arenaBytes <= runArenaLimit else { return nil }
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.arenaBytes + ArenaPlan.alignment,
                                                           alignment: ArenaPlan.alignment)
        defer { arena.deallocate() }
        let interpreter: Interpreter<K>
        do throws(ModelError) {
            interpreter = try Interpreter(model: model, arena: arena, kernels: K())
        } catch {
            fatalError("the interpreter refused a validated model with an arena of its own plan's size: \(error)")
        }
        guard interpreter.macs.reduce(0, &+) <= runMACLimit, interpreter.macs.allSatisfy({ $0 >= 0 }) else { return nil }
        do throws(ModelError) { try interpreter.setInput(input) } catch {
            fatalError("setInput refused an input of the input tensor's size: \(error)")
        }
        interpreter.invoke()
        return model.outputs.indices.flatMap { Array(interpreter.output($0)) }
    }
}

/// Runs `model` once with every host kernel set on a pseudo-random input and compares every output.
func runAll(_ model: Model, seed: UInt32) {
    var rng = SplitMix64(seed: UInt64(seed))
    let inputBytes = model.tensors[model.input.index].byteCount
    let input = (0..<inputBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    var outputs: [(KernelSetChoice, [Int8])] = []
    for kernels in KernelSetChoice.allCases {
        do {
            guard let out = try kernels.with(RunOnce(model: model, input: input)) else { return }
            outputs.append((kernels, out))
        } catch {
            fatalError("\(kernels): \(error)")
        }
    }
    for (kernels, out) in outputs.dropFirst() where out != outputs[0].1 {
        fatalError("kernel sets disagree: \(outputs[0].0) \(outputs[0].1.prefix(16)) vs \(kernels) \(out.prefix(16))")
    }
}

// MARK: - Structure-aware mutator

@_silgen_name("LLVMFuzzerMutate")
func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// Values a hostile file puts in a 32-bit field: zero, ±1, the format's limits and powers of two around them.
let interestingWords: [UInt32] = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 64, 127, 128, 255, 256, 4095, 4096,
                                  4097, 65535, 65536, 65537, 516, 517, 1 << 20, 1 << 24, (1 << 28) - 1, 1 << 28,
                                  (1 << 28) + 1, 0x3FFF_FFFF, 0x4000_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE,
                                  0xFFFF_FFFF, 0xFFFF_FF80, 0xFFFF_FF81]

@_cdecl("LLVMFuzzerCustomMutator")
public func mutateDynq(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var rng = SplitMix64(seed: UInt64(seed))
    var n = size
    if n >= 8 && rng.next() % 2 == 0 {
        // One aligned word (or the header's fields more often) set to an interesting value or nudged.
        let words = n / 4
        let index = rng.next() % 3 == 0 ? Int(rng.next() % UInt64(min(words, ModelFormat.headerSize / 4)))
                                        : Int(rng.next() % UInt64(words))
        var w = UInt32(data[4 * index]) | UInt32(data[4 * index + 1]) << 8 | UInt32(data[4 * index + 2]) << 16
            | UInt32(data[4 * index + 3]) << 24
        switch rng.next() % 4 {
        case 0: w = w &+ UInt32(truncatingIfNeeded: Int(rng.next() % 17) - 8)
        case 1: w = UInt32(truncatingIfNeeded: rng.next() >> 32) & 0xFFFF
        default: w = interestingWords[Int(rng.next() % UInt64(interestingWords.count))]
        }
        for k in 0..<4 { data[4 * index + k] = UInt8(truncatingIfNeeded: w >> (8 * k)) }
    } else {
        n = LLVMFuzzerMutate(data, size, maxSize)
    }
    if n >= ModelFormat.checksumStart && rng.next() % 8 != 0 { repairHeader(data, n) }
    return n
}

/// Writes the file size and the CRC-32 of everything after the CRC field into the header.
func repairHeader(_ data: UnsafeMutablePointer<UInt8>, _ n: Int) {
    for k in 0..<4 { data[16 + k] = UInt8(truncatingIfNeeded: UInt32(n) >> (8 * k)) }
    let crc = CRC32.checksum(UnsafeRawBufferPointer(start: data + ModelFormat.checksumStart,
                                                    count: n - ModelFormat.checksumStart))
    for k in 0..<4 { data[20 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
}
