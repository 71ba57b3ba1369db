// Every validator rule has a test that fails when the rule is removed: each case breaks exactly one rule of a
// valid model (TestModels.allOps, or a tiny model built for the rule) and expects that rule's own message at the
// right op. The last test reads the validator's sources and checks that every message a rule can throw (in
// Sources/DynQCore/Ops/*.swift and Model/ModelValidation.swift) has a case here, so a new rule without a test
// fails the suite. Files are written with `ModelWriter.layout` (no validation on the way), then loaded.
import Foundation
import Testing
@testable import DynQCore

/// One broken rule: which file holds it, its message, the op that must be named (nil: the model info), and the
/// broken model.
struct RuleCase: CustomTestStringConvertible, Sendable {
    let file: String
    let message: String
    let op: String?
    let model: @Sendable () -> ModelDescription
    var testDescription: String { "\(file): \(message)" }
}

private func edit(_ f: @escaping @Sendable (inout ModelDescription) -> Void) -> @Sendable () -> ModelDescription {
    { var d = TestModels.allOps(); f(&d); return d }
}
private func index(_ d: ModelDescription, _ name: String) -> Int { d.operations.firstIndex { $0.name == name }! }
private func tensor(_ d: ModelDescription, _ name: String) -> Int { d.tensors.firstIndex { $0.name == name }! }
private func blob(_ d: ModelDescription, _ name: String) -> Int { d.blobs.firstIndex { $0.name == name }! }

private func conv(_ d: inout ModelDescription, _ name: String, _ f: (inout MD.Conv) -> Void) {
    let i = index(d, name)
    switch d.operations[i].op {
    case .conv2d(var p): f(&p); d.operations[i].op = .conv2d(p)
    case .depthwiseConv2d(var p): f(&p); d.operations[i].op = .depthwiseConv2d(p)
    default: fatalError("not a conv")
    }
}
private func dynamic(_ d: inout ModelDescription, _ name: String, _ f: (inout MD.DynamicConv) -> Void) {
    let i = index(d, name)
    guard case .dynamicConv2d(var p) = d.operations[i].op else { fatalError() }
    f(&p); d.operations[i].op = .dynamicConv2d(p)
}
private func linear(_ d: inout ModelDescription, _ name: String, _ f: (inout MD.Linear) -> Void) {
    let i = index(d, name)
    guard case .linear(var p) = d.operations[i].op else { fatalError() }
    f(&p); d.operations[i].op = .linear(p)
}
private func add(_ d: inout ModelDescription, _ f: (inout MD.Add) -> Void) {
    let i = index(d, "add")
    guard case .add(var p) = d.operations[i].op else { fatalError() }
    f(&p); d.operations[i].op = .add(p)
}
private func pool(_ d: inout ModelDescription, _ name: String, _ f: (inout MD.Pool) -> Void) {
    let i = index(d, name)
    switch d.operations[i].op {
    case .maxPool(var p): f(&p); d.operations[i].op = .maxPool(p)
    case .avgPool(var p): f(&p); d.operations[i].op = .avgPool(p)
    default: fatalError()
    }
}
private func gate(_ d: inout ModelDescription, _ name: String, _ f: (inout MD.Gate) -> Void) {
    let i = index(d, name)
    guard case .gate(var p) = d.operations[i].op else { fatalError() }
    f(&p); d.operations[i].op = .gate(p)
}
private func setOp(_ d: inout ModelDescription, _ name: String, _ op: MD.Op) { d.operations[index(d, name)].op = op }
private func shape(_ d: inout ModelDescription, _ name: String, _ s: [Int]) { d.tensors[tensor(d, name)].shape = s }
private func int32s(_ d: inout ModelDescription, _ name: String, _ f: (inout [Int32]) -> Void) {
    let b = blob(d, name)
    var v = (0..<d.blobs[b].elementCount).map { Int32(d.blobs[b].element($0)) }
    f(&v)
    d.blobs[b] = MD.Blob(name: d.blobs[b].name, int32: v, shape: d.blobs[b].shape)
}

/// A model whose input table writes `x` (`[1, H, W, C]`, a C-channel table), then `ops` (given `x` and the builder),
/// output the last tensor created: for rules that need shapes far from allOps' (the overflow guards). Blobs that a
/// rule refuses before reading may be any small blob.
private func tiny(_ h: Int, _ w: Int, _ c: Int,
                  _ ops: @escaping @Sendable (inout ModelBuilder, TensorID) -> TensorID) -> @Sendable () -> ModelDescription {
    {
        var b = ModelBuilder()
        let img = b.tensor("image", [1, h, w, c], type: .uint8)
        let x = b.tensor("x", [1, h, w, c])
        b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: c), [c, 256]))))
        let out = ops(&b, x)
        return b.build(outputs: [out])
    }
}
/// image [1, 1, n, 1] → x; flatten → [1, n] → sigmoid gate → η [1, n] int16; then a dynamic conv reading x (or,
/// with `inputChannels`, a 1×1 conv of x to that many channels) with a 1×1 output of `outChannels`: the
/// dynamic conv's overflow guards. Its blobs are placeholders the rule refuses before reading.
private func dynTiny(n: Int, outChannels: Int, g: Int, mode: MD.CoefficientMode, inputChannels: Int = 1,
                     window: Window, correctsFusedDC: Bool = false) -> @Sendable () -> ModelDescription {
    tiny(1, n, 1) { b, x in
        let f = b.tensor("f", [1, n]), eta = b.tensor("eta", [1, n], type: .int16, scale: 0x3800_0000)
        b.op("flat", .flatten(.init(input: x, output: f)))
        b.op("gate", .gate(.init(input: f, output: eta, kind: .sigmoid,
                                 table: b.int16("sig", [Int16](repeating: 100, count: 256), [256]), group: n)))
        var input = x
        if inputChannels > 1 {
            input = b.tensor("wide", [1, 1, n, inputChannels])
            b.op("wide", .conv2d(.init(input: x, output: input,
                                       weights: b.int8("ww", [Int8](repeating: 1, count: inputChannels), [inputChannels, 1, 1, 1]),
                                       bias: nil,
                                       multipliers: b.multipliers("wm", [(Int32, Int32)](repeating: (1 << 30, 0), count: inputChannels)),
                                       window: .init(kernelH: 1, kernelW: 1))))
        }
        let oh = window.outputHeight(1), ow = window.outputWidth(n)
        let y = b.tensor("y", [1, oh, ow, outChannels])
        b.op("rule", .dynamicConv2d(.init(input: input, coefficients: eta, coefficientOffset: 0, mode: mode,
                                          kernelCount: g, output: y, weights: b.w(), mixedBias: nil, bias: nil,
                                          multipliers: b.m(), window: window, correctsFusedDC: correctsFusedDC)))
        return y
    }
}

private extension ModelBuilder {
    mutating func w() -> BlobID { int8("w", [1], [1]) }
    mutating func m() -> BlobID { multipliers("m", [(1 << 30, 0)]) }
}

let ruleCases: [RuleCase] = [
    // Model info and dataflow (ModelValidation.swift).
    RuleCase(file: "ModelValidation.swift", message: "input tensor id out of range", op: nil,
             model: edit { $0.input = TensorID(99) }),
    RuleCase(file: "ModelValidation.swift", message: "model input must be a uint8 [1, H, W, C] tensor", op: nil,
             model: edit { $0.input = TensorID(1) }),
    RuleCase(file: "ModelValidation.swift", message: "preprocess mean needs 1 or C entries", op: nil,
             model: edit { $0.preprocess.meanBits = [0, 0, 0] }),
    RuleCase(file: "ModelValidation.swift", message: "preprocess std needs 1 or C entries", op: nil,
             model: edit { $0.preprocess.stdBits = [0, 0, 0] }),
    RuleCase(file: "ModelValidation.swift", message: "model has no outputs", op: nil, model: edit { $0.outputs = [] }),
    RuleCase(file: "ModelValidation.swift", message: "model output is not a tensor any op writes", op: nil,
             model: edit { d in
                 d.tensors.append(MD.Tensor(name: "unused", type: .int8, shape: [1, 2], scaleBits: 0x3C80_0000, zeroPoint: 0))
                 d.outputs.append(TensorID(d.tensors.count - 1))
             }),
    RuleCase(file: "ModelValidation.swift", message: "tensor id out of range", op: "conv",
             model: edit { conv(&$0, "conv") { $0.output = TensorID(99) } }),
    RuleCase(file: "ModelValidation.swift", message: "writes a tensor that is already written (or the input)", op: "conv",
             model: edit { conv(&$0, "conv") { $0.output = TensorID(1) } }),
    RuleCase(file: "ModelValidation.swift", message: "reads a tensor before any op writes it", op: "conv",
             model: edit { conv(&$0, "conv") { $0.input = TensorID(9) } }),
    // Shared checks (ModelValidation.swift), through the op named.
    RuleCase(file: "ModelValidation.swift", message: "tensor has the wrong element type", op: "conv",
             model: edit { conv(&$0, "conv") { $0.input = TensorID(0) } }),
    RuleCase(file: "ModelValidation.swift", message: "tensor is not [1, H, W, C]", op: "dyn2",
             model: edit { dynamic(&$0, "dyn2") { $0.input = TensorID(18) } }),
    RuleCase(file: "ModelValidation.swift", message: "[1, F] tensor has the wrong element type", op: "head",
             model: edit { linear(&$0, "head") { $0.input = TensorID(8) } }),
    RuleCase(file: "ModelValidation.swift", message: "tensor is not [1, F]", op: "head",
             model: edit { linear(&$0, "head") { $0.input = TensorID(17) } }),
    RuleCase(file: "ModelValidation.swift", message: "tensor is not int8", op: "hardswish",
             model: edit { d in setOp(&d, "hardswish", .table(.init(input: TensorID(8), output: TensorID(17), table: BlobID(blob(d, "hardswish.table"))))) }),
    RuleCase(file: "ModelValidation.swift", message: "tensor is not [1, H, W, C] or [1, F]", op: "hardswish",
             model: edit { shape(&$0, "hs", [2, 10]) }),
    RuleCase(file: "ModelValidation.swift", message: "output must keep the input's scale and zero point", op: "shuffle",
             model: edit { $0.tensors[tensor($0, "shuf")].zeroPoint = 4 }),
    RuleCase(file: "ModelValidation.swift", message: "blob id out of range", op: "conv",
             model: edit { conv(&$0, "conv") { $0.weights = BlobID(999) } }),
    RuleCase(file: "ModelValidation.swift", message: "blob has the wrong element type", op: "conv",
             model: edit { d in let w = BlobID(blob(d, "conv.w")); conv(&d, "conv") { $0.bias = w } }),
    RuleCase(file: "ModelValidation.swift", message: "blob has the wrong element count", op: "conv",
             model: edit { d in let b = BlobID(blob(d, "head.b")); conv(&d, "conv") { $0.bias = b } }),
    RuleCase(file: "ModelValidation.swift", message: "clamp not within -128 <= min <= max <= 127", op: "conv",
             model: edit { conv(&$0, "conv") { $0.clamp = .init(min: 5, max: 4) } }),
    RuleCase(file: "ModelValidation.swift", message: "clamp not within -32768 <= min <= max <= 32767", op: "head",
             model: edit { d in
                 let t = tensor(d, "logits"); d.tensors[t].type = .int16; d.tensors[t].zeroPoint = 0
                 linear(&d, "head") { $0.clamp = .init(min: -40000, max: 0) }
             }),
    RuleCase(file: "ModelValidation.swift", message: "multiplier not in [2^30, 2^31) (or 0)", op: "add",
             model: edit { add(&$0) { $0.outputRequant = .init(multiplier: 5, shift: 0) } }),
    RuleCase(file: "ModelValidation.swift", message: "shift not in [-31, 30]", op: "add",
             model: edit { add(&$0) { $0.outputRequant = .init(multiplier: 1 << 30, shift: 31) } }),
    RuleCase(file: "ModelValidation.swift", message: "weight -128 (weights are in [-127, 127])", op: "conv",
             model: edit { d in let b = blob(d, "conv.w"); d.blobs[b].bytes[5] = 0x80 }),
    RuleCase(file: "ModelValidation.swift", message: "more than 66311 products per output (the int32 accumulator bound)", op: "rule",
             model: tiny(1, 70_000, 1) { b, x in
                 let f = b.tensor("f", [1, 70_000]), y = b.tensor("y", [1, 1])
                 b.op("flat", .flatten(.init(input: x, output: f)))
                 b.op("rule", .linear(.init(input: f, output: y, weights: b.w(), bias: nil, multipliers: b.m())))
                 return y
             }),
    RuleCase(file: "ModelValidation.swift", message: "int32 accumulator could overflow (K * 255 * 127 + |bias| >= 2^31)", op: "conv",
             model: edit { int32s(&$0, "conv.b") { $0[2] = Int32.max - 100 } }),
    RuleCase(file: "ModelValidation.swift", message: "kernel size not in [1, 4096]", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.kernel.h = 0 } }),
    RuleCase(file: "ModelValidation.swift", message: "stride not in [1, 4096]", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.stride.w = 4097 } }),
    RuleCase(file: "ModelValidation.swift", message: "dilation not in [1, 4096]", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.dilation.h = 0 } }),
    RuleCase(file: "ModelValidation.swift", message: "padding not in [0, 4096]", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.padding.right = -1 } }),
    RuleCase(file: "ModelValidation.swift", message: "pooling dilation must be 1", op: "maxpool",
             model: edit { pool(&$0, "maxpool") { $0.window.dilation.w = 2 } }),
    RuleCase(file: "ModelValidation.swift", message: "pooling padding larger than half the kernel", op: "maxpool",
             model: edit { pool(&$0, "maxpool") { $0.window.padding.top = 2 } }),
    RuleCase(file: "ModelValidation.swift", message: "output height does not match the window", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.padding.bottom = 0 } }),
    RuleCase(file: "ModelValidation.swift", message: "output width does not match the window", op: "conv",
             model: edit { conv(&$0, "conv") { $0.window.padding.right = 0 } }),
    RuleCase(file: "ModelValidation.swift", message: "exp table value not in [0, 65536]", op: "softmax",
             model: edit { int32s(&$0, "softmax.exp") { $0[7] = 65537 } }),
    RuleCase(file: "ModelValidation.swift", message: "exp table E[0] must be positive", op: "softmax",
             model: edit { int32s(&$0, "softmax.exp") { $0[0] = 0 } }),

    // Per op (Ops/<Op>.swift).
    RuleCase(file: "InputTable.swift", message: "input table output must have the input's shape", op: "input",
             model: edit { shape(&$0, "x", [1, 4, 4, 3]) }),
    RuleCase(file: "InputTable.swift", message: "input table too large", op: "rule",
             model: {
                 var b = ModelBuilder()
                 let img = b.tensor("image", [1, 1, 1, (1 << 20) + 1], type: .uint8)
                 let x = b.tensor("x", [1, 1, 1, (1 << 20) + 1])
                 b.op("rule", .inputTable(.init(input: img, output: x, table: b.w())))
                 return b.build(outputs: [x])
             }),
    RuleCase(file: "Conv2D.swift", message: "groups must divide input and output channels", op: "conv",
             model: edit { conv(&$0, "conv") { $0.groups = 3 } }),
    RuleCase(file: "Conv2D.swift", message: "kernel window too large", op: "rule",
             model: tiny(1, 1, 32) { b, x in
                 let y = b.tensor("y", [1, 1, 1, 1])
                 b.op("rule", .conv2d(.init(input: x, output: y, weights: b.w(), bias: nil, multipliers: b.m(),
                                            window: .init(kernelH: 4096, kernelW: 4096, padTop: 2047, padLeft: 2047,
                                                          padBottom: 2048, padRight: 2048))))
                 return y
             }),
    RuleCase(file: "Conv2D.swift", message: "weight count too large", op: "rule",
             model: tiny(1, 1, 1) { b, x in
                 let y = b.tensor("y", [1, 1, 1, 4096])
                 b.op("rule", .conv2d(.init(input: x, output: y, weights: b.w(), bias: nil, multipliers: b.m(),
                                            window: .init(kernelH: 257, kernelW: 258, padTop: 128, padLeft: 128,
                                                          padBottom: 128, padRight: 129))))
                 return y
             }),
    RuleCase(file: "DepthwiseConv2D.swift", message: "depthwise needs groups == input channels == output channels",
             op: "dw", model: edit { conv(&$0, "dw") { $0.groups = 2 } }),
    RuleCase(file: "DepthwiseConv2D.swift", message: "weight count too large", op: "rule",
             model: tiny(1, 1, 1) { b, x in
                 let z = b.tensor("z", [1, 1, 1, 1 << 14]), y = b.tensor("y", [1, 1, 1, 1 << 14])
                 let zm = b.multipliers("zm", [(Int32, Int32)](repeating: (1 << 30, 0), count: 1 << 14))
                 b.op("wide", .conv2d(.init(input: x, output: z, weights: b.int8("zw", [Int8](repeating: 1, count: 1 << 14),
                                                                                  [1 << 14, 1, 1, 1]),
                                            bias: nil, multipliers: zm, window: .init(kernelH: 1, kernelW: 1))))
                 b.op("rule", .depthwiseConv2d(.init(input: z, output: y, weights: b.w(), bias: nil, multipliers: b.m(),
                                                     window: .init(kernelH: 129, kernelW: 128, padTop: 64, padLeft: 64,
                                                                   padBottom: 64, padRight: 63), groups: 1 << 14)))
                 return y
             }),
    RuleCase(file: "Linear.swift", message: "weight count too large", op: "rule",
             model: tiny(1, 66_000, 1) { b, x in
                 let f = b.tensor("f", [1, 66_000]), y = b.tensor("y", [1, 4096])
                 b.op("flat", .flatten(.init(input: x, output: f)))
                 b.op("rule", .linear(.init(input: f, output: y, weights: b.w(), bias: nil, multipliers: b.m())))
                 return y
             }),
    RuleCase(file: "DynamicConv2D.swift", message: "kernel count g not in [1, 516]", op: "dyn",
             model: edit { dynamic(&$0, "dyn") { $0.kernelCount = 517 } }),
    RuleCase(file: "DynamicConv2D.swift", message: "groups must divide input and output channels", op: "dyn",
             model: edit { dynamic(&$0, "dyn") { $0.groups = 3 } }),
    RuleCase(file: "DynamicConv2D.swift", message: "depthwise needs groups == input channels == output channels", op: "dyn",
             model: edit { dynamic(&$0, "dyn") { $0.depthwise = true } }),
    RuleCase(file: "DynamicConv2D.swift", message: "coefficient slice runs past the coefficient tensor", op: "dyn2",
             model: edit { dynamic(&$0, "dyn2") { $0.coefficientOffset = 3 } }),
    RuleCase(file: "DynamicConv2D.swift", message: "coefficient count too large", op: "rule",
             model: dynTiny(n: 4, outChannels: 1 << 20, g: 516, mode: .perChannel, window: .init(kernelH: 1, kernelW: 1))),
    RuleCase(file: "DynamicConv2D.swift", message: "kernel window too large", op: "rule",
             model: dynTiny(n: 32, outChannels: 1, g: 1, mode: .perLayer, inputChannels: 32,
                            window: .init(kernelH: 4096, kernelW: 4096, padTop: 2047, padLeft: 2047, padBottom: 2048,
                                          padRight: 2048))),
    RuleCase(file: "DynamicConv2D.swift",
             message: "input too large for the fused DC correction's channel sums (H·W > 8,421,504)", op: "rule",
             model: dynTiny(n: 8_421_505, outChannels: 1, g: 1, mode: .perLayer, window: .init(kernelH: 1, kernelW: 1),
                            correctsFusedDC: true)),
    RuleCase(file: "DynamicConv2D.swift", message: "weight count too large", op: "rule",
             model: dynTiny(n: 100, outChannels: 1 << 16, g: 100, mode: .perLayer,
                            window: .init(kernelH: 8, kernelW: 8, padTop: 4, padLeft: 4, padBottom: 3, padRight: 3))),
    RuleCase(file: "Add.swift", message: "add inputs and output must have one shape", op: "add",
             model: edit { shape(&$0, "sum", [1, 4, 4, 5]) }),
    RuleCase(file: "Add.swift", message: "add left shift must be 20", op: "add", model: edit { add(&$0) { $0.leftShift = 19 } }),
    RuleCase(file: "Add.swift", message: "add input multiplier above 1", op: "add",
             model: edit { add(&$0) { $0.bRequant = .init(multiplier: 1 << 30, shift: 2) } }),
    RuleCase(file: "Concat.swift", message: "concat inputs must match the output's H and W", op: "cat",
             model: edit { d in setOp(&d, "cat", .concat(.init(inputs: [TensorID(10), TensorID(4)], requants: [.identity, .identity], output: TensorID(11)))) }),
    RuleCase(file: "Concat.swift", message: "concat inputs have more channels than the output", op: "cat",
             model: edit { shape(&$0, "cat", [1, 4, 4, 7]) }),
    RuleCase(file: "Concat.swift", message: "concat channels do not add up to the output's", op: "cat",
             model: edit { shape(&$0, "cat", [1, 4, 4, 9]) }),
    RuleCase(file: "ChannelShuffle.swift", message: "channel shuffle must keep the shape", op: "shuffle",
             model: edit { shape(&$0, "shuf", [1, 4, 4, 9]) }),
    RuleCase(file: "ChannelShuffle.swift", message: "shuffle groups must divide the channels", op: "shuffle",
             model: edit { d in setOp(&d, "shuffle", .channelShuffle(.init(input: TensorID(11), output: TensorID(12), groups: 3))) }),
    RuleCase(file: "ChannelSplit.swift", message: "split outputs must match the input's H and W", op: "split",
             model: edit { shape(&$0, "split_a", [1, 4, 2, 3]) }),
    RuleCase(file: "ChannelSplit.swift", message: "split outputs have more channels than the input", op: "split",
             model: edit { shape(&$0, "split_a", [1, 4, 4, 4]) }),
    RuleCase(file: "ChannelSplit.swift", message: "split sizes do not add up to the input's channels", op: "split",
             model: edit { shape(&$0, "split_b", [1, 4, 4, 4]) }),
    RuleCase(file: "Pool.swift", message: "pooling must keep the channels", op: "maxpool",
             model: edit { shape(&$0, "mp", [1, 2, 2, 4]) }),
    RuleCase(file: "GlobalAvgPool.swift", message: "global avgpool output must be [1, 1, 1, C]", op: "cpm.pool",
             model: edit { shape(&$0, "pool", [1, 2, 1, 4]) }),
    RuleCase(file: "GlobalAvgPool.swift", message: "global avgpool over more than 2^23 pixels", op: "rule",
             model: { () -> ModelDescription in
                 var b = ModelBuilder()
                 let img = b.tensor("image", [1, 4096, 4097, 1], type: .uint8)
                 let x = b.tensor("x", [1, 4096, 4097, 1])
                 let y = b.tensor("y", [1, 1, 1, 1])
                 b.op("in", .inputTable(.init(input: img, output: x, table: b.int8("t", shiftTable(channels: 1), [1, 256]))))
                 b.op("rule", .globalAvgPool(.init(input: x, output: y, requant: .identity)))
                 return b.build(outputs: [y])
             }),
    RuleCase(file: "Flatten.swift", message: "flatten must keep the element count", op: "flatten",
             model: edit { shape(&$0, "flat", [1, 21]) }),
    RuleCase(file: "Softmax.swift", message: "softmax must keep the shape", op: "softmax",
             model: edit { shape(&$0, "probs", [1, 7]) }),
    RuleCase(file: "Softmax.swift", message: "softmax over more than 32767 features", op: "rule",
             model: tiny(1, 40_000, 1) { b, x in
                 let f = b.tensor("f", [1, 40_000]), y = b.tensor("y", [1, 40_000], zp: -128)
                 b.op("flat", .flatten(.init(input: x, output: f)))
                 b.op("rule", .softmax(.init(input: f, output: y, expTable: b.w())))
                 return y
             }),
    RuleCase(file: "Softmax.swift", message: "softmax output zero point must be -128", op: "softmax",
             model: edit { $0.tensors[tensor($0, "probs")].zeroPoint = 0 }),
    RuleCase(file: "Gate.swift", message: "gate must keep the shape", op: "cpm.gate", model: edit { shape(&$0, "coeffs", [1, 9]) }),
    RuleCase(file: "Gate.swift", message: "sigmoid table value not in [0, 32767]", op: "cpm.gate",
             model: edit { d in let b = blob(d, "cpm.sigmoid"); d.blobs[b].bytes[1] = 0x80 }),
    RuleCase(file: "Gate.swift", message: "softmax group must divide N and be at most 32767", op: "cpm2.gate",
             model: edit { gate(&$0, "cpm2.gate") { $0.group = 3 } }),
    RuleCase(file: "Table.swift", message: "table op must keep the shape", op: "hardswish",
             model: edit { shape(&$0, "hs", [1, 2, 2, 4]) }),
]

@Suite("Validator: every rule refuses the model that breaks it")
struct ValidatorRulesTests {
    @Test("the unbroken model is valid") func baseValid() throws { _ = try TestModels.allOps().serialized() }

    @Test("breaking the rule gives its message at its op", arguments: ruleCases)
    func rule(c: RuleCase) throws {
        let d = c.model()
        let bytes = ModelWriter.layout(d)
        let e = try #require(loadError(bytes), "the broken model loaded")
        #expect(e.messageText == c.message, "\(e)")
        if let op = c.op {
            #expect(e.location == .operation(index(d, op)), "\(e)")
        } else {
            #expect(e.location == .meta || e.location == .header, "\(e)")
        }
    }

    /// The messages a rule can throw: string literals of `fail(...)`, `ModelError(...)` and `product(...)` calls.
    static func thrownMessages(_ source: String) -> Set<String> {
        var out = Set<String>()
        for call in ["fail(", "ModelError(", "product("] {
            var rest = source[...]
            while let r = rest.range(of: call) {
                rest = rest[r.upperBound...]
                guard let q = rest.firstIndex(of: "\""), !rest[..<q].contains(")") || call == "fail(" || call == "ModelError(",
                      let end = rest[rest.index(after: q)...].firstIndex(of: "\"") else { continue }
                let between = rest[..<q]
                if between.contains("\n\n") { continue }
                out.insert(String(rest[rest.index(after: q)..<end]))
            }
        }
        return out
    }

    @Test("every rule message in Ops/ and ModelValidation.swift has a case")
    func everyRuleHasACase() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/DynQCore")
        var files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Ops").path)
            .filter { $0.hasSuffix(".swift") }.map { "Ops/" + $0 }
        files.append("Model/ModelValidation.swift")
        // Decoder framing rules (word counts, enum codes) are exercised by the format tests on raw words.
        let decoderMessages: Set<String> = ["wrong parameter word count", "unknown gate kind", "unknown coefficient mode",
                                            
                                            "flags word is not 0...3 (bit 0 depthwise, bit 1 fused DC correction)", "count_include_pad is not 0 or 1",
                                            "concat input count not in [1, 65536]", "split output count not in [1, 65536]",
                                            "work area too small"]
        var missing: [String] = []
        for f in files {
            let source = try String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)
            let name = (f as NSString).lastPathComponent
            for m in Self.thrownMessages(source) where !decoderMessages.contains(m) {
                if !ruleCases.contains(where: { $0.file == name && $0.message == m }) { missing.append("\(name): \(m)") }
            }
        }
        #expect(missing.isEmpty, "rules without a test case:\n\(missing.sorted().joined(separator: "\n"))")
    }
}
