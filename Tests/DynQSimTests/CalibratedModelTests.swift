// Issue 13: `dynq sim` about DynQ's own kernels. The M4 (cortex-m-dsp) and M55 (helium) profiles carry an
// instruction model fitted to the per-layer QEMU benchmark and another model's run (scripts/sim-calibrate.py), and a
// CPI per class from QEMU's execution trace priced with the cores' timings (scripts/qemu-mix.py); the fixture's
// estimate is checked against the fixture's own QEMU run, which the calibration never saw.
import DynQCore
import DynQGraph
import DynQSim
import Foundation
import Testing

@Suite("Calibrated latency model (issue 13)")
struct CalibratedModelTests {
    static let model = repoRoot + "/fixtures/fmnist/model.dynq"

    func target(_ name: String, _ file: String = repoRoot + "/targets/targets.json") throws -> TargetProfile {
        try #require(try loadTargets(file).first { $0.name == name })
    }

    /// The fixture's report on `target` beside its committed QEMU run.
    func report(_ t: TargetProfile, log: String) throws -> SimReport {
        let (d, bytes) = try SimFiles.loadModel(Self.model)
        let path = repoRoot + "/fixtures/fmnist/" + log
        let q = try QemuProfile(log: String(decoding: try FileIO.read(path), as: UTF8.self), file: path)
        try q.check(against: d, modelBytes: bytes.count, file: path)
        try q.check(kernelSet: t.kernelSet, target: t.name, file: path)
        var r = simulate(counts: analyticCounts(d, kernels: t.kernelSetChoice), modelBytes: bytes.count,
                         code: SimulatorTests.code, target: t)
        r.qemu = q
        return r
    }

    @Test("every profile names the kernel set it models; the M4, M7 and M55 are calibrated for theirs",
          arguments: [("cortex-m0plus", "scalar", false), ("cortex-m4", "cortex-m-dsp", true),
                      ("cortex-m7", "cortex-m-dsp", true), ("cortex-m55", "helium", true),
                      ("cortex-a53", "neon", false)])
    func kernelSets(name: String, set: String, calibrated: Bool) throws {
        let t = try target(name)
        #expect(t.kernelSet == set && t.costsKernelSet == set)
        #expect((t.instructionModel != nil) == calibrated)
    }

    @Test("the fixture's estimate is within 10 % of the QEMU-derived figure of the same kernel set, in total and on every op with ≥ 5 % of the cycles",
          arguments: [("cortex-m4", "qemu-cortex-m4-cortex-m-dsp.log"), ("cortex-m55", "qemu-cortex-m55-helium.log"),
                      ("cortex-m7", "qemu-cortex-m7-cortex-m-dsp.log")])
    func withinTenPercent(name: String, log: String) throws {
        let r = try report(try target(name), log: log)
        let derived = try #require(r.qemuDerived)
        let ratio = r.totalCycles / derived.total
        #expect(abs(ratio - 1) <= 0.10, "\(name): estimate \(r.totalCycles) / QEMU-derived \(derived.total) = \(ratio)")
        for (l, q) in zip(r.layers, derived.perOp) where q >= 0.05 * derived.total {
            #expect(abs(l.cycles / q - 1) <= 0.10, "\(name) \(l.counts.name): \(l.cycles) vs \(q)")
        }
        // The derived figure is the log's instructions under the same timing model: 1 to 2 cycles each (the M7's
        // profile has no timing model: exactly 1).
        let instructions = Double(r.qemu!.invokeInstructions)
        #expect(derived.total >= instructions && derived.total < 2 * instructions)
    }

    @Test("the check can fail: 15 % more instructions per MAC in the conv classes move the M4 estimate outside 10 %")
    func perturbedCostFails() throws {
        var t = try target("cortex-m4")
        var m = try #require(t.instructionModel)
        for k in m.costs.keys where k.hasPrefix("conv") || k.hasPrefix("depthwise") || k.hasPrefix("fusion") {
            m.costs[k]!.perMAC *= 1.15
        }
        t.instructionModel = m
        let r = try report(t, log: "qemu-cortex-m4-cortex-m-dsp.log")
        let ratio = r.totalCycles / (try #require(r.qemuDerived)).total
        #expect(ratio > 1.10, "\(ratio)")
    }

    @Test("the arena is planned for the profile's kernel set")
    func arenaFollowsTheSet() throws {
        let (d, bytes) = try SimFiles.loadModel(Self.model)
        for (name, set) in [("cortex-m4", KernelSetChoice.cortexMDSP), ("cortex-m55", .helium), ("cortex-a53", .neon)] {
            let t = try target(name)
            let r = simulate(counts: analyticCounts(d, kernels: t.kernelSetChoice), modelBytes: bytes.count,
                             code: SimulatorTests.code, target: t)
            #expect(r.arenaBytes == set.plan(d).arenaBytes + ArenaPlan.alignment - 1, "\(name)")
        }
        // The DSP set's im2col scratch makes its plan differ from the scalar set's (docs/cortex-m-dsp.md).
        #expect(KernelSetChoice.cortexMDSP.plan(d).arenaBytes != KernelSetChoice.scalar.plan(d).arenaBytes)
    }

    @Test("the stem gets its kernel set's variant cost: im2colElements on cortex-m-dsp, stem on helium")
    func stemVariant() throws {
        let d = try SimFiles.loadModel(Self.model).0
        let stem = try #require(d.operations.firstIndex { $0.name == "stem.0" })
        #expect(opVariants(d, kernels: .cortexMDSP)[stem] == "im2colElements")
        #expect(opVariants(d, kernels: .helium)[stem] == "stem")
        let m4 = try #require(try target("cortex-m4").instructionModel)
        let w = analyticCounts(d, kernels: .cortexMDSP).work[stem]
        #expect(m4.cost(w.kernelClass, variant: w.variant)?.key == "conv3x3@im2colElements")
    }

    @Test("the work units are the per-layer benchmark's: the fixture's dynamic depthwise 32 ch @14×14 s1 is dw3x3_32_14_s1 plus its fusion")
    func workUnits() throws {
        let d = try SimFiles.loadModel(Self.model).0
        let i = try #require(d.operations.firstIndex { $0.name == "blocks.1.body.3" })
        let w = analyticCounts(d, kernels: .cortexMDSP).work[i]
        #expect(w.kernelClass == "depthwise" && w.variant == "channelQuads" && w.opKind == "dynamic_conv2d")
        #expect(w.macs == 14 * 14 * 32 * 9 && w.outputs == 14 * 14 * 32 && w.channels == 32)
        #expect(w.edgeOutputs == (14 * 14 - 12 * 12) * 32, "outputs whose 3×3 window reaches the 1-pixel padding")
        #expect(w.paddedInputs == 16 * 16 * 32)
        #expect(w.fusionClass == "fusion_depthwise" && w.fusionMACs == 4 * 32 * 9 && w.fusionChannels == 32)
    }

    @Test("no calibrated number comes from the fixture: every source names the per-layer benchmark or the calibration model")
    func calibrationNeverReadsTheFixture() throws {
        for name in ["cortex-m4", "cortex-m7", "cortex-m55"] {
            let m = try #require(try target(name).instructionModel)
            for s in m.costs.values.map(\.source) + m.cpi.values.map(\.source) {
                #expect(!s.contains("fixtures/fmnist/model") && !s.contains("qemu-cortex-m"), "\(name): \(s)")
            }
            for s in m.costs.values.map(\.source) {
                #expect(s.contains("qemu-layers") || s.contains("targets/calibration/") || s.contains("calibration model"),
                        "\(name): \(s)")
            }
        }
    }

    @Test("every output names the kernel set: table, JSON, SVG")
    func outputsNameTheSet() throws {
        let r = try report(try target("cortex-m55"), log: "qemu-cortex-m55-helium.log")
        #expect(r.table().contains("kernel set helium"))
        #expect(r.table().contains("estimate / QEMU-derived = "))
        let j = try JSON.parse(r.json().serialized())
        #expect(j["kernel_set"]?.stringValue == "helium")
        #expect(j["qemu"]?["estimate_over_derived"]?.doubleValue != nil)
        #expect(j["layers"]?.arrayValue?.first?["instructions"]?.doubleValue != nil)
        #expect(r.svg().contains("kernel set helium"))
    }

    @Test("a log of another kernel set or core is refused")
    func mismatchedLogs() throws {
        let path = repoRoot + "/fixtures/fmnist/qemu-cortex-m55-helium.log"
        let q = try QemuProfile(log: String(decoding: try FileIO.read(path), as: UTF8.self), file: path)
        #expect(q.core == "cortex-m55" && q.kernels == "helium")
        #expect(throws: DynQError.self) { try q.check(kernelSet: "cortex-m-dsp", target: "cortex-m55", file: path) }
        #expect(throws: DynQError.self) { try q.check(kernelSet: "helium", target: "cortex-m4", file: path) }
        try q.check(kernelSet: "helium", target: "cortex-m55", file: path)
    }

    /// The shipped file with one field of target `name` replaced.
    func profile(_ name: String, _ field: String, _ value: JSON?) throws -> JSON {
        var top = try #require(try JSON.parse(FileIO.read(repoRoot + "/targets/targets.json")).objectValue)
        var targets = try #require(top["targets"]?.arrayValue)
        let i = try #require(targets.firstIndex { $0["name"]?.stringValue == name })
        var t = try #require(targets[i].objectValue)
        t[field] = value
        targets[i] = .object(t)
        top["targets"] = .array(targets)
        return .object(top)
    }

    @Test("an unknown kernel_set is refused in one line naming it and the known sets; the old 'kernels' field still reads")
    func kernelSetValidation() throws {
        do {
            _ = try decodeTargets(try profile("cortex-m4", "kernel_set", .string("cortex-m-dps")), file: "t.json")
            Issue.record("accepted an unknown kernel set")
        } catch let e as DynQError {
            #expect(e.message.contains("cortex-m-dps") && e.message.contains("helium") && !e.message.contains("\n"))
        }
        var old = try profile("cortex-a53", "kernel_set", nil)
        guard case .object(var top) = old, case .array(var list)? = top["targets"] else { return }
        let i = try #require(list.firstIndex { $0["name"]?.stringValue == "cortex-a53" })
        guard case .object(var a53) = list[i] else { return }
        a53["kernels"] = .string("simd")
        list[i] = .object(a53); top["targets"] = .array(list); old = .object(top)
        #expect(try decodeTargets(old).first { $0.name == "cortex-a53" }?.kernelSet == "simd128")
        a53["kernel_set"] = .string("neon")
        list[i] = .object(a53); top["targets"] = .array(list)
        #expect(throws: DynQError.self) { try decodeTargets(.object(top)) }
    }

    @Test("a calibrated profile without cpi.default, with a misspelt unit or an uncited class is refused")
    func calibratedProfileChecks() throws {
        #expect(throws: DynQError.self) { try decodeTargets(try profile("cortex-m4", "cpi", .object(JSONObject([(String, JSON)]())))) }
        let top = try #require(try JSON.parse(FileIO.read(repoRoot + "/targets/targets.json")).objectValue)
        // The committed profile with the cortex-m55's conv3x3 cost replaced by `cost`: the decoder's error.
        func refusal(ofConv3x3Cost cost: JSONObject) throws -> DynQError? {
            var top = top
            var targets = try #require(top["targets"]?.arrayValue)
            let i = try #require(targets.firstIndex { $0["name"]?.stringValue == "cortex-m55" })
            var t = try #require(targets[i].objectValue)
            var instructions = try #require(t["instructions"]?.objectValue)
            instructions["conv3x3"] = .object(cost)
            t["instructions"] = .object(instructions)
            targets[i] = .object(t); top["targets"] = .array(targets)
            do { _ = try decodeTargets(.object(top)); return nil } catch let e as DynQError { return e }
        }
        let misspelt = try refusal(ofConv3x3Cost: JSONObject([("per_mac", .number(1)), ("per_mc", .number(1)), ("source", .string("s"))]))
        #expect(misspelt?.message.contains("per_mc") == true, "accepted a misspelt unit")
        let uncited = try refusal(ofConv3x3Cost: JSONObject([("per_mac", .number(1))]))
        #expect(uncited.map { $0.message.contains("instructions.conv3x3") && $0.message.contains("source") } == true,
                "accepted an uncited instruction cost")
    }
}
