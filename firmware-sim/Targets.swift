import DynQGraph

/// A number with its citation (`{"value": ..., "source": "..."}` in targets.json).
public struct Sourced: Equatable, Sendable {
    public var value: Double
    public var source: String
}

/// One cost class: cycles per unit of work.
public struct CycleCost: Equatable, Sendable {
    /// `mac`, `element` or `weight` (documentation; the simulator knows which count each class multiplies).
    public var per: String
    public var cycles: Sourced
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
    /// Which kernels the runtime runs there (`"kernels"` in the file): `true` for the SIMD kernels, whose static
    /// weights are repacked into the arena at load time; `false` (the default, every microcontroller) for the
    /// reference kernels, which read weights in place from flash and need no packed copy in RAM.
    public var simdKernels: Bool = false

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
        var cycles: [String: CycleCost] = [:]
        guard let c = t["cycles"]?.objectValue else { throw fail("target '\(name)': missing 'cycles'") }
        for (k, v) in c.entries {
            cycles[k] = CycleCost(per: v["per"]?.stringValue ?? "",
                                  cycles: try sourced(v, "target '\(name)' cycles.\(k)", limit: TargetProfile.maxCyclesPerUnit))
        }
        for k in TargetProfile.requiredCosts where cycles[k] == nil {
            throw fail("target '\(name)': missing cycles.\(k)")
        }
        let kernels = t["kernels"]?.stringValue ?? "reference"
        guard kernels == "reference" || kernels == "simd" else {
            throw fail("target '\(name)': kernels must be \"reference\" or \"simd\", not '\(kernels)'")
        }
        out.append(TargetProfile(
            name: name, arch: t["arch"]?.stringValue ?? "", core: t["core"]?.stringValue ?? "", part: t["part"]?.stringValue ?? "",
            clockHz: clock, sramBytes: sram, sramLargestBlockBytes: block, flashBytes: flash,
            cycles: cycles, simdKernels: kernels == "simd"))
    }
    return out
}

extension String {
    var trimmingCharactersInSpaces: Substring { drop(while: { $0 == " " }) }
}
