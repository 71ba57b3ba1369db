import DynQCore
import DynQGraph
import Foundation
import Testing
@testable import DynQQuantizer

@Suite struct MultiplierTests {
    @Test func mantissaAndShift() throws {
        #expect(try quantizeMultiplier(1, layer: "l", what: "x") == QuantizedMultiplier(multiplier: 1 << 30, shift: 1))
        #expect(try quantizeMultiplier(0.5, layer: "l", what: "x") == QuantizedMultiplier(multiplier: 1 << 30, shift: 0))
        #expect(try quantizeMultiplier(0.75, layer: "l", what: "x") == QuantizedMultiplier(multiplier: 3 << 29, shift: 0))
        #expect(try quantizeMultiplier(0, layer: "l", what: "x") == .zero)
        #expect(try quantizeMultiplier(1e-12, layer: "l", what: "x") == .zero)   // < 2^-32: every product rounds to 0
        // A mantissa that rounds up to 2^31 renormalises.
        let q = try quantizeMultiplier(1 - 1e-12, layer: "l", what: "x")
        #expect(q == QuantizedMultiplier(multiplier: 1 << 30, shift: 1))
    }

    @Test func relativeErrorBelowHalfULP() throws {
        var r = SeededRandom(3)
        for _ in 0..<1000 {
            let x = Double(r.uniform(0, 1)) * pow(2, Double(Int(r.next() % 30)) - 28)
            guard x >= pow(2, -31), x < 2 else { continue }
            let q = try quantizeMultiplier(x, layer: "l", what: "x")
            #expect(q.multiplier >= 1 << 30)
            #expect(abs(realValue(q) - x) / x <= pow(2, -31))
        }
    }

    @Test func multipliersAboveOneAreRepresented() throws {
        // TFLite-style: M > 1 is a positive shift (docs/numerics.md); e = 30 is the largest.
        #expect(try quantizeMultiplier(2, layer: "l", what: "x") == QuantizedMultiplier(multiplier: 1 << 30, shift: 2))
        #expect(try quantizeMultiplier(3.5, layer: "l", what: "x") == QuantizedMultiplier(multiplier: 7 << 28, shift: 2))
        let big = try quantizeMultiplier(0x1p29 * 1.5, layer: "l", what: "x")
        #expect(big == QuantizedMultiplier(multiplier: 3 << 29, shift: 30))
    }

    @Test func refusesTwoToTheThirtyAndMoreNamingTheLayer() {
        #expect(throws: DynQError.self) { try quantizeMultiplier(0x1p30, layer: "conv7", what: "output") }
        do { _ = try quantizeMultiplier(0x1p31, layer: "conv7", what: "output") } catch let e as DynQError {
            #expect(e.message.contains("conv7"))
            #expect(e.message.contains("≥ 2^30"))
        } catch { Issue.record("wrong error") }
        // Just below 2^30 but rounding to 2^30 is refused too.
        #expect(throws: DynQError.self) { try quantizeMultiplier(0x1p30 - 1e-3, layer: "l", what: "x") }
    }
}

@Suite struct ActivationQuantTests {
    @Test func zeroIsExactAndRangeCovered() {
        for (lo, hi) in [(-1.0, 3.0), (0.0, 6.0), (-2.5, 0.0), (-0.3, 0.01), (0.5, 2.0)] {
            let q = ActivationQuant(range: ValueRange(min: lo, max: hi))
            #expect(q.dequantize(q.zeroPoint) == 0)
            #expect(q.zeroPoint >= -128 && q.zeroPoint <= 127)
            let r = q.range
            #expect(r.min <= min(lo, 0) + q.scale)
            #expect(r.max >= hi - q.scale)
        }
        let relu = ActivationQuant(range: ValueRange(min: 0, max: 6))
        #expect(relu.zeroPoint == -128)
    }
}

@Suite struct RangeTests {
    @Test func histogramGrowsAndKeepsExactRange() {
        var h = Histogram(bins: 64)
        h.add([Float](arrayLiteral: 0, 1))
        h.add([Float](arrayLiteral: -10, 50))
        h.add([Float](arrayLiteral: 3))
        #expect(h.exact == ValueRange(min: -10, max: 50))
        #expect(h.total == 5)
        #expect(h.counts.reduce(0, +) == 5)
        #expect(h.lo <= -10 && h.hi > 50)
    }

    @Test func percentileClipsOutliers() {
        var r = SeededRandom(5)
        var values = (0..<100_000).map { _ in r.uniform(-1, 1) }
        values.append(100)   // one outlier
        var h = Histogram()
        h.add(values)
        let mm = chooseRange(h, method: .minmax)
        let p = chooseRange(h, method: .percentile(99.99))
        let m = chooseRange(h, method: .mse)
        #expect(mm.max == 100)
        #expect(p.max < 1.1 && p.max > 0.9)
        #expect(p.min > -1.1 && p.min < -0.9)
        // MSE keeps the outlier: clipping it to 1 costs 99² = 9801, more than the extra rounding noise
        // (100 001 · (101/255)² / 12 ≈ 1307 − 0.3).
        #expect(m.max > 50)
    }

    @Test func mseKeepsAUniformRange() {
        var r = SeededRandom(6)
        var h = Histogram()
        h.add((0..<50_000).map { _ in r.uniform(0, 4) })
        let m = chooseRange(h, method: .mse)
        #expect(m.min == 0)
        #expect(m.max > 3.9 && m.max <= 4.0001)
    }

    @Test func mseMatchesTheLaplaceOptimum() {
        // Laplace(b = 1): the MSE-optimal 8-bit clipping is ≈ 9.9·b (Banner et al., ACIQ), inside the sample max.
        var r = SeededRandom(7)
        var h = Histogram()
        h.add((0..<100_000).map { _ -> Float in
            let u = r.uniform(1e-6, 1), s: Float = r.next() & 1 == 0 ? 1 : -1
            return s * -log(u)
        })
        let m = chooseRange(h, method: .mse)
        #expect(m.max > 8.4 && m.max < 11.4)
        #expect(m.min < -8.4 && m.min > -11.4)
    }

    @Test func methodsParse() {
        #expect(CalibrationMethod(parsing: "minmax") == .minmax)
        #expect(CalibrationMethod(parsing: "percentile") == .percentile(99.99))
        #expect(CalibrationMethod(parsing: "percentile:99.9") == .percentile(99.9))
        #expect(CalibrationMethod(parsing: "mse") == .mse)
        #expect(CalibrationMethod(parsing: "kl") == nil)
    }
}

@Suite struct TableTests {
    @Test func sigmoidTable() {
        let h = ActivationQuant(scale: 0.05, zeroPoint: 0)
        let t = Tables.sigmoidGate(h)
        #expect(t[128] == 16384)                   // sigmoid(0) = ½
        #expect(t[0] >= 0 && t[255] <= 32767)
        #expect(zip(t, t.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func softmaxTableFoldsTemperature() {
        let a = Tables.softmaxExp(inputScale: 0.1, temperature: 1)
        let b = Tables.softmaxExp(inputScale: 0.2, temperature: 2)
        #expect(a == b)
        #expect(a[0] == 65536)
        #expect(a[10] == UInt32((65536 * exp(-1.0)).rounded()))
    }

    @Test func inputTableFoldsPreprocess() {
        let pre = Preprocess(scale: 1.0 / 255, mean: [0.2860], std: [0.3530])
        var r = ValueRange.empty
        for p in [0, 255] { r.include(Tables.preprocessed(p, channel: 0, pre)) }
        let q = ActivationQuant(range: r)
        let t = Tables.input(pre, channels: 1, quant: q)[0]
        #expect(t[0] == -128 || t[0] == -127)
        #expect(t[255] >= 126)
        // One channel, 256 levels over the exact pixel range: the table is strictly increasing.
        #expect(zip(t, t.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func hardswishTable() {
        let qi = ActivationQuant(scale: 8.0 / 255, zeroPoint: 0), qo = ActivationQuant(scale: 4.5 / 255, zeroPoint: -60)
        let t = Tables.unary({ Hardswish().value($0) }, input: qi, output: qo)
        for i in 0..<256 {
            let x = qi.dequantize(i - 128)
            let y = min(max(Hardswish().value(x), qo.range.min), qo.range.max)   // saturates
            #expect(abs(qo.dequantize(Int(t[i])) - y) <= qo.scale / 2 + 1e-9)
        }
    }
}

/// Every element-wise activation becomes the runtime's `table` op: each of the 256 entries is the activation of the
/// dequantized input, quantized to the output (within half an output step; saturating at the ends).
@Suite struct ActivationTableTests {
    static let activations: [(String, any ElementwiseActivation)] = [
        ("relu", Relu()), ("relu6", Relu6()), ("hardswish", Hardswish()), ("hardsigmoid", Hardsigmoid()),
        ("leaky_relu 0.1", LeakyRelu(negativeSlope: 0.1)), ("silu", Silu()), ("sigmoid", Sigmoid()), ("gelu", Gelu()),
    ]

    @Test(arguments: activations.indices)
    func tableEntriesAreTheActivationOfEachCode(_ k: Int) {
        let (name, f) = Self.activations[k]
        let qi = ActivationQuant(scale: 12.0 / 255, zeroPoint: 10)
        let qo = ActivationQuant(range: ValueRange(min: -1.5, max: 5))
        let t = Tables.unary({ f.value($0) }, input: qi, output: qo)
        for i in 0..<256 {
            let y = min(max(f.value(qi.dequantize(i - 128)), qo.range.min), qo.range.max)
            #expect(abs(qo.dequantize(Int(t[i])) - y) <= qo.scale / 2 + 1e-9, "\(name): code \(i - 128)")
        }
    }

    /// The float32 form (float engine) and the double form (tables) are the same function.
    @Test(arguments: activations.indices)
    func floatAndDoubleFormsAgree(_ k: Int) {
        let (name, f) = Self.activations[k]
        for i in -800...800 {
            let x = Double(i) / 100
            let a = Double(f.value(Float(x))), b = f.value(Double(Float(x)))
            #expect(abs(a - b) <= 2e-6 * max(1, abs(b)), "\(name)(\(x)): float \(a), double \(b)")
        }
    }
}
