import DynQCore
import DynQGraph

/// A number with its citation (`{"value": ..., "source": "..."}` in targets.json).
public struct Sourced: Equatable, Sendable {
    public var value: Double
    public var source: String
    public init(value: Double, source: String) { self.value = value; self.source = source }
}

/// One cost class: cycles per unit of work.
public struct CycleCost: Equatable, Sendable {
    /// `mac`, `element` or `weight` (documentation; the simulator knows which count each class multiplies).
    public var per: String
    public var cycles: Sourced
    public init(per: String, cycles: Sourced) { self.per = per; self.cycles = cycles }
}

/// An edge target profile (docs/firmware-sim.md, targets/targets.json).
public struct TargetProfile: Equatable, Sendable {
    public var name: String
    /// The instruction set the runtime is built for there (`armv7em`, `armv6m`, `aarch64`, …): a measured code
    /// size (`CodeSize.arch`) applies to the targets of its arch only.
    public var arch: String = ""
    public var core: String
    public var part: String
    public var clockHz: Sourced
    public var sramBytes: Sourced
    /// The largest contiguous RAM block, when smaller than `sramBytes` (the arena must be contiguous).
    public var sramLargestBlockBytes: Sourced?
    public var flashBytes: Sourced
    /// Keys: the `KernelClass` raw values for conv/linear classes, `fusion`, `fusion_normalize`, `requantize`,
    /// `elementwise`.
    public var cycles: [String: CycleCost]
    /// The kernel set the runtime runs there (`"kernel_set"` in the file: a `KernelSetChoice` name such as
    /// `cortex-m-dsp`, `helium`, `neon`, `scalar`): the arena is planned for what that set packs and needs.
    /// `dynq sim --kernels NAME` replaces it for one run. An old file's `"kernels": "reference"` / `"simd"` reads
    /// as `scalar` / `simd128`.
    public var kernelSet: String = KernelSetChoice.scalar.rawValue
    /// The kernel set the profile's costs describe: `kernel_set` as the file gives it (unchanged by `--kernels`).
    /// When `kernelSet` differs, the latency is not that of `kernelSet`'s firmware and the report says so.
    public var costsKernelSet: String = KernelSetChoice.scalar.rawValue
    /// The calibrated instruction model of `costsKernelSet` on this core (`"instructions"` and `"cpi"` in the
    /// file), when the profile has one: it replaces `cycles` (docs/firmware-sim.md, "Calibrated latency").
    public var instructionModel: InstructionModel? = nil

    /// The arena plan's kernel set.
    public var kernelSetChoice: KernelSetChoice { KernelSetChoice(rawValue: kernelSet) ?? .scalar }
    /// Whether the kernel set packs static weights into the arena (the SIMD128 set).
    public var simdKernels: Bool { kernelSet == KernelSetChoice.simd128.rawValue }
    /// Whether the cycle estimate is about the kernels the arena is planned for (`kernelSet`).
    public var costsMatchKernelSet: Bool { kernelSet == costsKernelSet }

    /// The cost keys every profile must give.
    public static let requiredCosts = KernelClass.allCases.filter { $0 != .elementwise }.map(\.rawValue)
        + ["fusion", "fusion_normalize", "requantize", "elementwise"]

    public func cost(_ key: String) -> Double { cycles[key]?.cycles.value ?? 0 }

    /// Limits `decodeTargets` enforces, so that every size converts to `Int` and every estimate stays finite:
    /// byte sizes are whole numbers up to 2^48 (256 TiB), clocks up to 10^12 Hz, costs up to 10^6 cycles per unit.
    public static let maxBytes = Double(1 << 48)
    public static let maxClockHz = 1e12
    public static let maxCyclesPerUnit = 1e6
}

/// Reads a targets file (`"format": "dynq-targets"`, version 1; at most 16 MiB, size and leading `{` checked
/// before it is read). Every number must carry a non-empty `source`.
public func loadTargets(_ path: String) throws -> [TargetProfile] {
    let json = try JSON.parse(try FileIO.readJSONDocument(path, limit: 1 << 24, what: "a targets file"), file: path)
    return try decodeTargets(json, file: path)
}

public func decodeTargets(_ json: JSON, file: String? = nil) throws -> [TargetProfile] {
    func fail(_ m: String) -> DynQError { DynQError(file: file, m) }
    guard json["format"]?.stringValue == "dynq-targets", json["version"]?.intValue == 1 else {
        throw fail("not a dynq-targets file (format \"dynq-targets\", version 1)")
    }
    guard let list = json["targets"]?.arrayValue, !list.isEmpty else { throw fail("'targets' must be a non-empty array") }
    func sourced(_ v: JSON?, _ what: String, positive: Bool = true, limit: Double) throws -> Sourced {
        guard let v, let x = v["value"]?.doubleValue else { throw fail("\(what): missing numeric 'value'") }
        guard let s = v["source"]?.stringValue, !s.trimmingCharactersInSpaces.isEmpty else {
            throw fail("\(what): every number needs a 'source'")
        }
        guard x.isFinite, positive ? x > 0 : x >= 0 else { throw fail("\(what): value must be positive") }
        guard x <= limit else { throw fail("\(what): value \(x) is absurd (limit \(limit))") }
        return Sourced(value: x, source: s)
    }
    /// A byte size: a whole number of bytes, at most `TargetProfile.maxBytes`.
    func bytes(_ v: JSON?, _ what: String) throws -> Sourced {
        let b = try sourced(v, what, limit: TargetProfile.maxBytes)
        guard b.value == b.value.rounded() else { throw fail("\(what): value \(b.value) is not a whole number of bytes") }
        return b
    }
    var out: [TargetProfile] = []
    var names = Set<String>()
    for t in list {
        guard let name = t["name"]?.stringValue, !name.isEmpty else { throw fail("a target has no 'name'") }
        guard names.insert(name).inserted else { throw fail("duplicate target '\(name)'") }
        let clock = try sourced(t["clock_hz"], "target '\(name)' clock_hz", limit: TargetProfile.maxClockHz)
        let sram = try bytes(t["sram_bytes"], "target '\(name)' sram_bytes")
        let block = try t["sram_largest_block_bytes"].map { try bytes($0, "target '\(name)' sram_largest_block_bytes") }
        let flash = try bytes(t["flash_bytes"], "target '\(name)' flash_bytes")
        let kernelSet = try decodeKernelSet(t, target: name, fail: fail)
        let model = try decodeInstructionModel(t, target: name, kernelSet: kernelSet, fail: fail)
        var cycles: [String: CycleCost] = [:]
        if let c = t["cycles"]?.objectValue {
            for (k, v) in c.entries {
                cycles[k] = CycleCost(per: v["per"]?.stringValue ?? "",
                                      cycles: try sourced(v, "target '\(name)' cycles.\(k)", limit: TargetProfile.maxCyclesPerUnit))
            }
        } else if model == nil {
            throw fail("target '\(name)': missing 'cycles' (or a calibrated 'instructions' model)")
        }
        if model == nil {
            for k in TargetProfile.requiredCosts where cycles[k] == nil {
                throw fail("target '\(name)': missing cycles.\(k)")
            }
        }
        out.append(TargetProfile(
            name: name, arch: t["arch"]?.stringValue ?? "", core: t["core"]?.stringValue ?? "", part: t["part"]?.stringValue ?? "",
            clockHz: clock, sramBytes: sram, sramLargestBlockBytes: block, flashBytes: flash,
            cycles: cycles, kernelSet: kernelSet, costsKernelSet: kernelSet, instructionModel: model))
    }
    return out
}

extension String {
    var trimmingCharactersInSpaces: Substring { drop(while: { $0 == " " }) }
}

/// The kernel set names a profile may give (`KernelSetChoice`'s, this host build's).
public var knownKernelSets: [String] { KernelSetChoice.allCases.map(\.rawValue) }

/// `"kernel_set"` (a known set name), or the old `"kernels"` field (`reference` → scalar, `simd` → simd128),
/// or scalar. A file may not give both with different meanings.
func decodeKernelSet(_ t: JSON, target name: String, fail: (String) -> DynQError) throws -> String {
    let old: String?
    switch t["kernels"]?.stringValue {
    case nil: old = nil
    case "reference"?: old = KernelSetChoice.scalar.rawValue
    case "simd"?: old = KernelSetChoice.simd128.rawValue
    case let other?: throw fail("target '\(name)': kernels must be \"reference\" or \"simd\", not '\(other)'")
    }
    guard let v = t["kernel_set"] else { return old ?? KernelSetChoice.scalar.rawValue }
    guard let set = v.stringValue, knownKernelSets.contains(set) else {
        throw fail("target '\(name)': kernel_set '\(v.stringValue ?? "(not a string)")' is not a kernel set (one of: "
                   + knownKernelSets.joined(separator: ", ") + ")")
    }
    if let old, old != set { throw fail("target '\(name)': kernels and kernel_set disagree ('\(old)' vs '\(set)')") }
    return set
}
