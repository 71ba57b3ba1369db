// The NEON add (Kernels/NEON/NEONAdd.swift) equals `addReference` bit for bit for every multiplier range the format
// allows (shifts −31…30, so `apply` both rounds and saturates), every zero point kind, and counts around the
// 8-element block. On a host without NEON its instructions are dynq_neon.h's C models; scripts/qemu-layers.sh
// --core a53 runs the add layers on an emulated Cortex-A53.
import Testing
@testable import DynQCore

@Suite("NEON add kernel")
struct KernelsNEONAddTests {
    @Test("random multipliers with shifts -31...30 (rounding and saturating terms), counts 1...40 and 1,000",
          arguments: 0..<4)
    func randomMultipliers(batch: Int) {
        var rng = SeededRNG(seed: seed("neon-add-\(batch)"))
        var failures: [String] = []
        for round in 0..<40 {
            let count = round == 39 ? 1_000 : rng.int(1...40)
            func multiplier() -> QuantizedMultiplier {
                rng.int(0...9) == 0 ? .zero
                    : QuantizedMultiplier(multiplier: Int32(rng.int(1 << 30 ... Int(Int32.max))),
                                          shift: Int32(rng.int(-31...30)))
            }
            let p = AddParams(input1ZeroPoint: rng.zeroPoint(), input1Multiplier: multiplier(),
                              input2ZeroPoint: rng.zeroPoint(), input2Multiplier: multiplier(),
                              outputMultiplier: multiplier(), output: rng.outputQuantization())
            let a = rng.int8s(count), b = rng.int8s(count)
            var ref = [Int8](repeating: 0, count: count), got = [Int8](repeating: 99, count: count)
            addReference(p, count: count, input1: a, input2: b, output: &ref)
            NEONKernels().add(p, count: count, a, b, output: &got)
            if let i = (0..<count).first(where: { ref[$0] != got[$0] }) {
                failures.append("seed \(rng.seed), count \(count), element \(i): a \(a[i]) b \(b[i]) params \(p): "
                                + "reference \(ref[i]), NEON \(got[i])")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failing cases, first: \(failures.first ?? "")")
    }

    @Test("the extremes: inputs -128 and 127 against z 127 and -128, the largest multipliers, a full clamp range")
    func extremes() {
        let big = QuantizedMultiplier(multiplier: Int32.max, shift: 30)
        for (za, zb) in [(Int32(127), Int32(-128)), (-128, 127)] {
            let p = AddParams(input1ZeroPoint: za, input1Multiplier: big, input2ZeroPoint: zb,
                              input2Multiplier: QuantizedMultiplier(multiplier: 1 << 30, shift: -31),
                              outputMultiplier: big, output: OutputQuantization(zeroPoint: 5))
            let a: [Int8] = (0..<19).map { $0 % 2 == 0 ? -128 : 127 }, b = a.reversed() as [Int8]
            var ref = [Int8](repeating: 0, count: a.count), got = [Int8](repeating: 99, count: a.count)
            addReference(p, count: a.count, input1: a, input2: b, output: &ref)
            NEONKernels().add(p, count: a.count, a, b, output: &got)
            #expect(got == ref, "z \(za), \(zb)")
        }
    }
}
