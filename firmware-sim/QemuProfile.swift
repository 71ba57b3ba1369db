import DynQCore
import DynQGraph

/// Instructions per op of one inference on an emulated Cortex-M (QEMU), read from the log that
/// `scripts/qemu-run.sh` writes (`.build-qemu/firmware/run.log`): the firmware runs the model once more with an
/// observer that reads the instruction-counting timer around every op (docs/qemu.md).
///
/// QEMU counts **instructions**, not cycles. `dynq sim --qemu-log` turns them into cycles with the target's
/// calibrated timing model (the "QEMU-derived figure") and compares them with its estimate, op by op; without a
/// calibrated model, `instructions / clock` is shown as a lower bound on the latency.
public struct QemuProfile: Sendable {
    /// The model name the firmware printed.
    public var model: String
    /// Size of the model file the firmware ran.
    public var modelBytes: Int
    /// The kernel set the firmware image linked (`scalar`, `simd128`, ...), as its log names it.
    public var kernels: String
    /// The emulated core (`cortex-m4`, `cortex-m55`, …) from the `core:` line scripts/qemu-run.sh appends (the
    /// CPU name before the board in parentheses); nil in older logs, which were all of a Cortex-M4.
    public var core: String?
    /// Per op, in model order: name and instructions.
    public var ops: [(name: String, instructions: Int)]
    /// One whole `invoke()` (measured separately from the per-op run, without the per-op timer reads).
    public var invokeInstructions: Int

    /// Parses a run log; `file` names the log in errors.
    public init(log text: String, file: String) throws {
        var model: String?, bytes: Int?, kernels: String?, invoke: Int?, status = false, core: String?
        var ops: [(String, Int)] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            // qemu-run.sh prefixes the firmware's lines with "  | " when it echoes them; the log file has none.
            var line = Substring(raw)
            if line.hasPrefix("  | ") { line = line.dropFirst(4) }
            func value(_ key: String) -> Substring? {
                line.hasPrefix(key + ": ") ? line.dropFirst(key.count + 2) : nil
            }
            if let v = value("model_bytes") { bytes = Int(v) }
            else if let v = value("model"), let a = v.firstIndex(of: "'"),
                    let b = v[v.index(after: a)...].firstIndex(of: "'") {
                model = String(v[v.index(after: a)..<b])
            } else if let v = value("kernels") { kernels = String(v) }
            else if let v = value("invoke_instructions") { invoke = Int(v) }
            else if let v = value("core") { core = String(v.prefix { $0 != " " }) }
            else if line == "status: ok" { status = true }
            else if line.hasPrefix("op ") {
                // op <i> <kind> '<name>': <n> instructions, ...
                guard let a = line.firstIndex(of: "'"), let b = line.lastIndex(of: "'"), a < b,
                      let index = Int(line.dropFirst(3).prefix { $0 != " " }), index == ops.count else {
                    throw DynQError(file: file, "unreadable op line '\(line)'")
                }
                let rest = line[line.index(after: b)...]
                guard rest.hasPrefix(": "), let n = Int(rest.dropFirst(2).prefix { $0 != " " }) else {
                    throw DynQError(file: file, "op line without an instruction count: '\(line)'")
                }
                ops.append((String(line[line.index(after: a)..<b]), n))
            }
        }
        guard status else { throw DynQError(file: file, "not a successful qemu-run log (no 'status: ok' line)") }
        guard let model, let bytes, let kernels, let invoke, !ops.isEmpty else {
            throw DynQError(file: file, "qemu-run log lacks the model, model_bytes, kernels, invoke_instructions or "
                            + "per-op lines")
        }
        self.model = model; self.modelBytes = bytes; self.kernels = kernels; self.ops = ops
        self.invokeInstructions = invoke
        self.core = core
    }

    /// Checks that the log is a run of `kernelSet` on the target's core (a log without a `core:` line is taken
    /// to be of a Cortex-M4): comparing an estimate with another kernel set's or another core's counts is refused.
    public func check(kernelSet: String, target: String, file: String) throws {
        guard kernels == kernelSet else {
            throw DynQError(file: file, "the log is a run of the \(kernels) kernels, the estimate for \(target) is of "
                            + "the \(kernelSet) kernels (pass --kernels \(kernels) to compare with this log)")
        }
        let logCore = core ?? "cortex-m4"
        guard target.hasPrefix(logCore) else {
            throw DynQError(file: file, "the log is a run on \(logCore), not on \(target)")
        }
    }

    /// Checks that this log is of `description` (same name, same op names in order) and of a file of
    /// `modelBytes` bytes.
    public func check(against description: ModelDescription, modelBytes: Int, file: String) throws {
        guard model == description.name, self.modelBytes == modelBytes,
              ops.map(\.name) == description.operations.map(\.name) else {
            throw DynQError(file: file, "the log is of model '\(model)' (\(self.modelBytes) bytes, \(ops.count) ops), "
                            + "not of '\(description.name)' (\(modelBytes) bytes, \(description.operations.count) ops)")
        }
    }
}
