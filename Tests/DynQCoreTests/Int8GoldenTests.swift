// Int8 golden cases computed by an independent implementation (tools/make_int8_goldens.py: exact Python integers
// written from docs/numerics.md; provenance in each file and in fixtures/int8/PROVENANCE.md). The oracle and every
// kernel set of the host build must reproduce them byte for byte: a shared misreading of the contract by the Swift
// oracle and the kernels tested against it would not survive this.
import Foundation
import Testing
@testable import DynQCore

struct GoldenCase: CustomTestStringConvertible, Sendable {
    let name: String
    var testDescription: String { name }
    static let all = ["conv2d_3x3_s2_groups2", "depthwise_3x3_dilation2", "add", "avgpool_3x3_s2_p1_exclude_pad",
                      "dynamic_fusion_g3_per_channel"].map(GoldenCase.init)

    func load() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/int8/\(name).json")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }
}

private func ints(_ j: [String: Any], _ key: String) -> [Int] { (j[key] as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }
private func int(_ j: [String: Any], _ key: String) -> Int { (j[key] as! NSNumber).intValue }
private func int8s(_ j: [String: Any], _ key: String) -> [Int8] { ints(j, key).map { Int8($0) } }
private func int32s(_ j: [String: Any], _ key: String) -> [Int32]? {
    j[key] is NSNull || j[key] == nil ? nil : ints(j, key).map { Int32($0) }
}
private func mults(_ j: [String: Any], _ key: String) -> [QuantizedMultiplier] {
    (j[key] as! [[NSNumber]]).map { QuantizedMultiplier(multiplier: $0[0].int32Value, shift: $0[1].int32Value) }
}
private func mult(_ j: [String: Any], _ key: String) -> QuantizedMultiplier {
    let v = j[key] as! [NSNumber]
    return QuantizedMultiplier(multiplier: v[0].int32Value, shift: v[1].int32Value)
}
private func output(_ j: [String: Any]) -> OutputQuantization {
    let c = ints(j, "clamp")
    return OutputQuantization(zeroPoint: Int32(int(j, "output_zero_point")), activationMin: Int32(c[0]),
                              activationMax: Int32(c[1]))
}
private func convParams(_ j: [String: Any], channelsOut: Int) -> Conv2DParams {
    let s = ints(j, "input_shape"), k = ints(j, "kernel"), st = ints(j, "stride"), d = ints(j, "dilation")
    let p = ints(j, "padding")
    return Conv2DParams(inputHeight: s[0], inputWidth: s[1], inputChannels: s[2], outputChannels: channelsOut,
                        kernelHeight: k[0], kernelWidth: k[1], strideY: st[0], strideX: st[1],
                        padding: Padding(top: p[0], left: p[1], bottom: p[2], right: p[3]), dilationY: d[0],
                        dilationX: d[1], groups: int(j, "groups"), inputZeroPoint: Int32(int(j, "input_zero_point")),
                        output: output(j))
}

@Suite("Int8 goldens from an independent implementation")
struct Int8GoldenTests {
    static let sets = KernelSetChoice.allCases

    @Test("oracle and every kernel set reproduce the golden bytes", arguments: GoldenCase.all, sets)
    func golden(c: GoldenCase, set: KernelSetChoice) throws {
        let j = try c.load()
        #expect((j["provenance"] as? String)?.hasPrefix("tools/make_int8_goldens.py") == true)
        let expected = int8s(j, "expected")
        switch j["op"] as! String {
        case "conv2d":
            let p = convParams(j, channelsOut: ints(j, "output_shape")[2])
            let got = try set.with(ConvThroughSet(p: p, input: int8s(j, "input"), weights: int8s(j, "weights"),
                                                  bias: int32s(j, "bias"), mults: mults(j, "multipliers")))
            #expect(got == expected)
        case "depthwise_conv2d":
            let g = convParams(j, channelsOut: ints(j, "output_shape")[2])
            var p = DepthwiseConv2DParams(inputHeight: g.inputHeight, inputWidth: g.inputWidth, channels: g.inputChannels,
                                          kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                          inputZeroPoint: g.inputZeroPoint, output: g.output)
            p.window = g.window
            let got = try set.with(DepthwiseThroughSet(p: p, input: int8s(j, "input"), weights: int8s(j, "weights"),
                                                       bias: int32s(j, "bias") ?? [Int32](repeating: 0, count: p.channels),
                                                       mults: mults(j, "multipliers")))
            #expect(got == expected)
        case "add":
            let c = ints(j, "clamp")
            let p = AddParams(input1ZeroPoint: Int32(int(j, "a_zero_point")), input1Multiplier: mult(j, "a_multiplier"),
                              input2ZeroPoint: Int32(int(j, "b_zero_point")), input2Multiplier: mult(j, "b_multiplier"),
                              outputMultiplier: mult(j, "output_multiplier"),
                              output: OutputQuantization(zeroPoint: Int32(int(j, "output_zero_point")),
                                                         activationMin: Int32(c[0]), activationMax: Int32(c[1])))
            let a = int8s(j, "a"), b = int8s(j, "b")
            struct AddThrough: KernelSetUser {
                let p: AddParams, a: [Int8], b: [Int8]
                func use<K: StatelessKernelSet>(_ k: K.Type) -> [Int8] {
                    var out = [Int8](repeating: 0, count: a.count)
                    K().add(p, count: a.count, a, b, output: &out)
                    return out
                }
            }
            #expect(try set.with(AddThrough(p: p, a: a, b: b)) == expected)
        case "avgpool":
            let s = ints(j, "input_shape"), k = ints(j, "kernel"), st = ints(j, "stride"), pd = ints(j, "padding")
            let c = ints(j, "clamp")
            let p = Pool2DParams(inputHeight: s[0], inputWidth: s[1], channels: s[2], kernelHeight: k[0],
                                 kernelWidth: k[1], strideY: st[0], strideX: st[1],
                                 padding: Padding(top: pd[0], left: pd[1], bottom: pd[2], right: pd[3]),
                                 countIncludePad: j["count_include_pad"] as! Bool, zeroPoint: Int32(int(j, "zero_point")),
                                 activationMin: Int32(c[0]), activationMax: Int32(c[1]))
            struct AvgThrough: KernelSetUser {
                let p: Pool2DParams, x: [Int8]
                func use<K: StatelessKernelSet>(_ k: K.Type) -> [Int8] {
                    var out = [Int8](repeating: 0, count: p.outputCount)
                    K().avgPool2d(p, input: x, output: &out)
                    return out
                }
            }
            #expect(try set.with(AvgThrough(p: p, x: int8s(j, "input"))) == expected)
        case "dynamic_conv2d":
            let p = convParams(j, channelsOut: ints(j, "output_shape")[2])
            let f = DynamicFusionParams(kernelCount: int(j, "kernel_count"), conv: p, coefficients: .perChannel)
            let (out, fb, fm) = try set.with(FusedConvThroughSet(
                f: f, p: p, input: int8s(j, "input"), kernels: int8s(j, "kernels"),
                eta: ints(j, "coefficients").map { Int16($0) }, mixedBias: int32s(j, "mixed_bias"),
                bias: int32s(j, "bias"), m0: mults(j, "multipliers")))
            #expect(fb == int32s(j, "fused_bias"))
            #expect(fm == mults(j, "fused_multipliers"))
            #expect(out == expected)
        default:
            Issue.record("unknown golden op \(j["op"] ?? "")")
        }
    }
}
