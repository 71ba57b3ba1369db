import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import DynQCore
import DynQGraph
import DynQSim

/// The repository's targets file, found from this source file's location.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite("Target profiles")
struct TargetProfileTests {
    @Test("targets/targets.json loads, has the five required cores, and every number is cited")
    func shippedFile() throws {
        let targets = try loadTargets(repoRoot + "/targets/targets.json")
        #expect(Set(targets.map(\.name)).isSuperset(of: ["cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m55", "cortex-a53"]))
        for t in targets {
            for s in [t.clockHz, t.sramBytes, t.flashBytes] { #expect(!s.source.isEmpty) }
            if let m = t.instructionModel {
                for k in InstructionModel.requiredClasses { #expect(m.costs[k] != nil, "\(t.name) lacks \(k)") }
                for (k, c) in m.costs { #expect(!c.source.isEmpty, "\(t.name) instructions.\(k)") }
                for (k, c) in m.cpi { #expect(!c.source.isEmpty, "\(t.name) cpi.\(k)") }
            } else {
                for k in TargetProfile.requiredCosts { #expect(t.cycles[k] != nil, "\(t.name) lacks \(k)") }
            }
        }
    }

    @Test("the literature targets' conv cycles/MAC lie in the published MLPerf Tiny spans",
          arguments: [("cortex-m0plus", 8.5...16.0)])
    func spans(name: String, span: ClosedRange<Double>) throws {
        let t = try #require(try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == name })
        for k in ["conv3x3", "depthwise", "conv1x1", "linear"] { #expect(span.contains(t.cost(k)), "\(name).\(k)") }
    }

    @Test("a number without a source is refused, naming it")
    func missingSource() throws {
        let text = """
        {"format": "dynq-targets", "version": 1, "targets": [{"name": "x",
          "clock_hz": {"value": 1}, "sram_bytes": {"value": 1, "source": "s"}, "flash_bytes": {"value": 1, "source": "s"},
          "cycles": {}}]}
        """
        #expect(throws: DynQError.self) { try decodeTargets(try JSON.parse(text)) }
        do { _ = try decodeTargets(try JSON.parse(text)) } catch let e as DynQError {
            #expect(e.message.contains("clock_hz"))
        }
    }

    @Test("a missing cost class is refused")
    func missingCost() throws {
        var j = try JSON.parse(String(decoding: try FileIO.read(repoRoot + "/targets/targets.json"), as: UTF8.self))
        guard case .object(var top) = j, case .array(var list)? = top["targets"], case .object(var t) = list[0],
              case .object(var cycles)? = t["cycles"] else { Issue.record("unexpected file shape"); return }
        cycles["fusion"] = nil
        t["cycles"] = .object(cycles); list[0] = .object(t); top["targets"] = .array(list); j = .object(top)
        #expect(throws: DynQError.self) { try decodeTargets(j) }
    }
}

@Suite("Stack bound from disassembly")
struct StackBoundTests {
    static let sample = """
    00000000 <leaf>:
           0:      \tpush\t{r4, r5, r7, lr}
           2:      \tsub\tsp, #0x10
    00000010 <middle>:
          10:      \tpush.w\t{r4, r5, r6, r7, r8, r9, r10, r11, lr}
          14:      \tvpush\t{d8, d9}
          18:      \tsub.w\tsp, sp, #256
          1c:      \tbl\t0x1c <middle+0xc>
    \t\t\t0000001c:  R_ARM_THM_CALL\tleaf
    00000030 <$e8DynQCore11InterpreterV6invokeyyF>:
          30:      \tpush\t{r7, lr}
          32:      \tbl\t0x32
    \t\t\t00000032:  R_ARM_THM_CALL\tmiddle
    00000040 <unreached>:
          40:      \tsub\tsp, #0x1000
    """

    @Test("frames sum push, vpush and sub sp; the bound follows calls from Interpreter.invoke")
    func bound() {
        let r = CodeSize.stackBound(disassembly: Self.sample)
        // leaf 4·4 + 16 = 32; middle 9·4 + 2·8 + 256 = 308; invoke 2·4 = 8 → 348. `unreached` (4096) is not on the path.
        #expect(r.bound == 348)
        #expect(r.functions == 4)
        #expect(r.recursive.isEmpty)
    }

    @Test("register lists with ranges count every register")
    func ranges() {
        #expect(CodeSize.registerCount("{r4-r7, lr}") == 5)
        #expect(CodeSize.registerCount("{d8-d15}") == 8)
    }

    @Test("llvm-size Berkeley output parses")
    func sizeOutput() {
        let s = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n 181079\t    680\t     40\t 181799\t  2c627\tx.o\n"
        #expect(CodeSize.parseSize(s)! == (181079, 680, 40))
    }
}

@Suite("Simulator")
struct SimulatorTests {
    static let code = CodeSize(target: "armv7em-none-none-eabi", text: 100_000, data: 1_000, bss: 100, stackBound: 3_000,
                               functions: 1, indirectCalls: 0, recursive: [], source: "test")

    @Test("latency, RAM and flash totals; fits and does-not-fit with margins")
    func verdicts() throws {
        let d = try quantizedZooModel(.dyMobile)
        let counts = analyticCounts(d)
        let targets = try loadTargets(repoRoot + "/targets/targets.json")
        let m4 = targets.first { $0.name == "cortex-m4" }!
        let r = simulate(counts: counts, modelBytes: try d.serialized().count, code: Self.code, target: m4)
        #expect(r.totalCycles == r.layers.reduce(0) { $0 + $1.cycles })
        #expect(abs(r.latencySeconds - r.totalCycles / 180e6) < 1e-12)
        #expect(r.peakRAMBytes == counts.plan.arenaBytes + 15 + 3_000 + 1_100)
        #expect(r.flashUsedBytes == r.modelBytes + 101_000)
        #expect(r.ramMargin == 131_072 - r.peakRAMBytes)
        // A target too small for anything.
        var tiny = m4
        tiny.sramBytes.value = 1_000
        tiny.flashBytes.value = 1_000
        let t = simulate(counts: counts, modelBytes: r.modelBytes, code: Self.code, target: tiny)
        #expect(!t.fitsRAM && !t.fitsFlash && !t.fits)
        #expect(t.table().contains("DOES NOT FIT"))
    }

    @Test("a conv op's cycles are its MACs at its class's cost; fusion adds its MACs and rescales")
    func cycleFormula() throws {
        // A literature profile (the shipped M7 is calibrated now): the M7's former costs.
        var m7 = try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == "cortex-m0plus" }!
        for (k, v) in [("conv1x1", 0.9), ("fusion", 1.0), ("fusion_normalize", 6.0), ("requantize", 6.0), ("elementwise", 2.0)] {
            m7.cycles[k] = CycleCost(per: "", cycles: Sourced(value: v, source: "test"))
        }
        var c = OpCounts(name: "x", kind: "dynamic_conv2d", kernelClass: .conv1x1)
        c.convMACs = 1000; c.fusionMACs = 600; c.fusionRescales = 100; c.requantizations = 10
        #expect(estimateCycles(c, on: m7) == 1000 * 0.9 + 600 * 1.0 + 100 * 6.0)
        var add = OpCounts(name: "a", kind: "add", kernelClass: .elementwise)
        add.adds = 10; add.requantizations = 30
        #expect(estimateCycles(add, on: m7) == 30 * 6.0 + 10 * 2.0)
    }

    @Test("the SVG is well-formed XML with both panels and the peak marked")
    func svg() throws {
        let d = try quantizedZooModel(.dyMobile)
        let m55 = try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == "cortex-m55" }!
        let s = simulate(counts: analyticCounts(d), modelBytes: 1, code: Self.code, target: m55).svg()
        _ = try XMLDocument(xmlString: s)
        #expect(s.contains("Arena bytes in use during each op"))
        #expect(s.contains("Estimated cycles per op"))
        #expect(s.contains("peak "))
    }

    @Test("the JSON report carries totals, verdicts and every layer")
    func json() throws {
        let d = try quantizedZooModel(.dyResnet18)
        let a53 = try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == "cortex-a53" }!
        let r = simulate(counts: analyticCounts(d), modelBytes: 1, code: Self.code, target: a53)
        let j = try JSON.parse(r.json().serialized())
        #expect(j["layers"]?.arrayValue?.count == d.operations.count)
        #expect(j["executed_macs"]?["total"]?.intValue == analyticCounts(d).totalMACs)
        #expect(j["macs_per_image"]?.intValue == analyticCounts(d).nominalMACs)
        // The armv7em code size says nothing about the A53 (aarch64): n/a, not the M4's figure.
        #expect(j["flash"]?["code"] == .null && j["ram"]?["stack_bound"] == .null)
        #expect(j["flash"]?["used"]?.intValue == 1)
        #expect(j["fits"]?.boolValue == true)
    }
}

@Suite("QEMU profile (dynq sim --qemu-log)")
struct QemuProfileTests {
    static let logPath = repoRoot + "/fixtures/fmnist/qemu-cortex-m4-scalar.log"
    static let modelPath = repoRoot + "/fixtures/fmnist/model.dynq"

    @Test("the committed log of the fixture parses: one count per op, the per-op run close to the whole invoke")
    func parsesCommittedLog() throws {
        let text = String(decoding: try FileIO.read(Self.logPath), as: UTF8.self)
        let q = try QemuProfile(log: text, file: Self.logPath)
        let (d, bytes) = try SimFiles.loadModel(Self.modelPath)
        try q.check(against: d, modelBytes: bytes.count, file: Self.logPath)
        #expect(q.kernels == "scalar")
        #expect(q.ops.count == d.operations.count)
        // The per-op run adds two timer reads per op; the sum stays within 0.1 % of one plain invoke().
        let sum = q.ops.reduce(0) { $0 + $1.instructions }
        #expect(abs(sum - q.invokeInstructions) * 1000 < q.invokeInstructions)
    }

    @Test("a log of another model is refused, naming both")
    func otherModel() throws {
        let text = String(decoding: try FileIO.read(Self.logPath), as: UTF8.self)
        let q = try QemuProfile(log: text, file: Self.logPath)
        let other = try quantizedZooModel(.dyMobile)
        #expect(throws: DynQError.self) { try q.check(against: other, modelBytes: 1, file: Self.logPath) }
    }

    @Test("an unfinished or garbled log is refused")
    func badLogs() {
        #expect(throws: DynQError.self) { try QemuProfile(log: "model: 'x', 1 tensors\n", file: "x.log") }
        let garbled = "model: 'x'\nmodel_bytes: 1\nkernels: reference\ninvoke_instructions: 5\nstatus: ok\nop 0 add 'a' 5\n"
        #expect(throws: DynQError.self) { try QemuProfile(log: garbled, file: "x.log") }
    }

    @Test("the report shows per-op instructions and the lower bound on latency")
    func report() throws {
        let text = String(decoding: try FileIO.read(Self.logPath), as: UTF8.self)
        let d = try SimFiles.loadModel(Self.modelPath).0
        let m4 = try loadTargets(repoRoot + "/targets/targets.json").first { $0.name == "cortex-m4" }!
        var r = simulate(counts: analyticCounts(d, kernels: .scalar), modelBytes: 1, code: SimulatorTests.code, target: m4)
        r.qemu = try QemuProfile(log: text, file: Self.logPath)
        #expect(r.table().contains("QEMU instr"))
        // The M4's costs are calibrated for cortex-m-dsp, not for this scalar run: no QEMU-derived cycles, the
        // instructions are only a lower bound.
        #expect(r.qemuDerived == nil)
        #expect(r.table().contains("at least"))
        let j = try JSON.parse(r.json().serialized())
        #expect(j["qemu"]?["invoke_instructions"]?.intValue == r.qemu!.invokeInstructions)
    }
}
