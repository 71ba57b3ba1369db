/// One op, ready to run: kernel parameters, blob pointers (into the model bytes) and arena offsets.
/// Built once at `Interpreter.init`; `run` allocates nothing.
enum Step {
    typealias M = ModelDescription

    /// `packed` and `scratch` are arena offsets, −1 when the plan has no SIMD buffers (reference kernels only).
    struct ConvStep {
        var params: Conv2DParams
        var input: Int, output: Int
        var weights: UnsafePointer<Int8>
        var bias: UnsafePointer<Int32>?
        var multipliers: UnsafePointer<QuantizedMultiplier>
        var packed: Int, scratch: Int
    }
    struct DepthwiseStep {
        var params: DepthwiseConv2DParams
        var input: Int, output: Int
        var weights: UnsafePointer<Int8>
        var bias: UnsafePointer<Int32>?
        var multipliers: UnsafePointer<QuantizedMultiplier>
        var packed: Int, scratch: Int
    }
    struct DynamicStep {
        var fusion: DynamicFusionParams
        /// Set when the layer is depthwise; otherwise `conv` is used.
        var depthwise: DepthwiseConv2DParams?
        var conv: Conv2DParams
        var input: Int, output: Int
        /// Arena offset of this layer's first Q15 coefficient.
        var coefficients: Int
        var kernels: UnsafePointer<Int8>
        var mixedBias: UnsafePointer<Int32>?
        var staticBias: UnsafePointer<Int32>?
        var staticMultipliers: UnsafePointer<QuantizedMultiplier>
        /// Arena offsets of the per-sample fused kernel, bias and multipliers.
        var fusedKernel: Int, fusedBias: Int, fusedMultipliers: Int
        /// Arena offsets of the packed fused kernel and the scratch (−1: reference kernels only).
        var packed: Int, scratch: Int
    }
    struct LinearStep {
        var params: LinearParams
        var input: Int, output: Int
        var weights: UnsafePointer<Int8>
        var bias: UnsafePointer<Int32>?
        var multipliers: UnsafePointer<QuantizedMultiplier>
        var packed: Int, scratch: Int
    }
    struct ConcatPart {
        var input: Int
        var channels: Int
        var offset: Int
        var requantize: Requantize?
    }
    struct SplitPart {
        var output: Int
        var start: Int
        var count: Int
    }

    case inputTable(pixels: Int, channels: Int, input: Int, output: Int, table: UnsafePointer<Int8>)
    case conv(ConvStep, pointwise: Bool)
    case depthwise(DepthwiseStep)
    case dynamic(DynamicStep)
    case linear(LinearStep)
    case add(AddParams, count: Int, a: Int, b: Int, output: Int)
    case concat(pixels: Int, channels: Int, output: Int, parts: [ConcatPart])
    case shuffle(pixels: Int, channels: Int, groups: Int, input: Int, output: Int)
    case split(pixels: Int, channels: Int, input: Int, parts: [SplitPart])
    case maxPool(Pool2DParams, input: Int, output: Int)
    case avgPool(Pool2DParams, input: Int, output: Int)
    case globalAvgPool(GlobalAveragePoolParams, input: Int, output: Int)
    case flatten(height: Int, width: Int, channels: Int, input: Int, output: Int)
    case softmax(count: Int, input: Int, output: Int, table: UnsafePointer<UInt32>)
    case sigmoidGate(count: Int, input: Int, output: Int, table: UnsafePointer<Int16>)
    case softmaxGate(chunks: Int, size: Int, input: Int, output: Int, table: UnsafePointer<UInt32>)
    case table(count: Int, input: Int, output: Int, table: UnsafePointer<Int8>)

    static func outputQuantization(_ t: M.Tensor, _ c: M.Clamp) -> OutputQuantization {
        OutputQuantization(zeroPoint: Int32(t.zeroPoint), activationMin: Int32(c.min), activationMax: Int32(c.max))
    }
    static func qm(_ r: M.Requant) -> QuantizedMultiplier { QuantizedMultiplier(multiplier: r.multiplier, shift: r.shift) }
    static func padding(_ w: M.Window) -> ConvPadding {
        ConvPadding(top: w.padTop, left: w.padLeft, bottom: w.padBottom, right: w.padRight)
    }

    static func convParams(_ w: M.Window, groups: Int, input i: M.Tensor, output o: M.Tensor, clamp: M.Clamp)
        -> Conv2DParams
    {
        Conv2DParams(inputHeight: i.shape[1], inputWidth: i.shape[2], inputChannels: i.shape[3],
                     outputChannels: o.shape[3], kernelHeight: w.kernelH, kernelWidth: w.kernelW,
                     strideY: w.strideH, strideX: w.strideW, padding: padding(w), dilationY: w.dilationH,
                     dilationX: w.dilationW, groups: groups, inputZeroPoint: Int32(i.zeroPoint),
                     output: outputQuantization(o, clamp))
    }
    static func depthwiseParams(_ w: M.Window, input i: M.Tensor, output o: M.Tensor, clamp: M.Clamp)
        -> DepthwiseConv2DParams
    {
        DepthwiseConv2DParams(inputHeight: i.shape[1], inputWidth: i.shape[2], channels: i.shape[3],
                              kernelHeight: w.kernelH, kernelWidth: w.kernelW, strideY: w.strideH,
                              strideX: w.strideW, padding: padding(w), dilationY: w.dilationH,
                              dilationX: w.dilationW, inputZeroPoint: Int32(i.zeroPoint),
                              output: outputQuantization(o, clamp))
    }
    static func poolParams(_ p: M.Pool, input i: M.Tensor) -> Pool2DParams {
        Pool2DParams(inputHeight: i.shape[1], inputWidth: i.shape[2], channels: i.shape[3],
                     kernelHeight: p.window.kernelH, kernelWidth: p.window.kernelW, strideY: p.window.strideH,
                     strideX: p.window.strideW, padding: padding(p.window), countIncludePad: p.countIncludePad,
                     zeroPoint: Int32(i.zeroPoint), activationMin: Int32(p.clamp.min),
                     activationMax: Int32(p.clamp.max))
    }

    static func linearParams(_ p: M.Linear, tensors t: [M.Tensor]) -> LinearParams {
        let i = t[p.input.index], o = t[p.output.index]
        return LinearParams(inputFeatures: i.shape[i.shape.count - 1], outputFeatures: o.shape[o.shape.count - 1],
                            inputZeroPoint: Int32(i.zeroPoint), output: outputQuantization(o, p.clamp))
    }

    /// Fusion parameters, the depthwise parameters (depthwise layers) and the conv parameters of a dynamic layer.
    static func dynamicParams(_ p: M.DynamicConv, tensors t: [M.Tensor])
        -> (DynamicFusionParams, DepthwiseConv2DParams?, Conv2DParams)
    {
        let cp = convParams(p.window, groups: p.groups, input: t[p.input.index], output: t[p.output.index],
                            clamp: p.clamp)
        let mode: FusionCoefficientMode = p.mode == .perChannel ? .perChannel : .perLayer
        let dw: DepthwiseConv2DParams? = p.depthwise
            ? depthwiseParams(p.window, input: t[p.input.index], output: t[p.output.index], clamp: p.clamp) : nil
        let fusion = dw.map { DynamicFusionParams(kernelCount: p.kernelCount, depthwise: $0, coefficients: mode) }
            ?? DynamicFusionParams(kernelCount: p.kernelCount, conv: cp, coefficients: mode)
        return (fusion, dw, cp)
    }

    /// The step of a validated op and its multiply-accumulate count.
    static func make(_ op: M.Op, index: Int, model: Model, plan: ArenaPlan) -> (Step, Int) {
        let t = model.tensors
        func off(_ id: TensorID) -> Int { plan.tensorOffsets[id.index] }
        func i8(_ b: BlobID) -> UnsafePointer<Int8> { model.pointer(b, as: Int8.self) }
        func i32(_ b: BlobID?) -> UnsafePointer<Int32>? { model.optionalPointer(b, as: Int32.self) }
        func qms(_ b: BlobID) -> UnsafePointer<QuantizedMultiplier> { model.pointer(b, as: QuantizedMultiplier.self) }
        func pixels(_ id: TensorID) -> Int { t[id.index].shape[1] * t[id.index].shape[2] }
        func channels(_ id: TensorID) -> Int { t[id.index].shape[t[id.index].shape.count - 1] }

        switch op {
        case .inputTable(let p):
            return (.inputTable(pixels: pixels(p.input), channels: channels(p.input), input: off(p.input),
                                output: off(p.output), table: i8(p.table)), 0)
        case .conv2d(let p):
            let cp = convParams(p.window, groups: p.groups, input: t[p.input.index], output: t[p.output.index],
                                clamp: p.clamp)
            let pointwise = cp.kernelHeight == 1 && cp.kernelWidth == 1 && cp.groups == 1
            return (.conv(ConvStep(params: cp, input: off(p.input), output: off(p.output), weights: i8(p.weights),
                                   bias: i32(p.bias), multipliers: qms(p.multipliers),
                                   packed: plan.packedWeightOffsets[index], scratch: plan.scratchOffsets[index]),
                          pointwise: pointwise), cp.macs)
        case .depthwiseConv2d(let p):
            let dp = depthwiseParams(p.window, input: t[p.input.index], output: t[p.output.index], clamp: p.clamp)
            return (.depthwise(DepthwiseStep(params: dp, input: off(p.input), output: off(p.output),
                                             weights: i8(p.weights), bias: i32(p.bias),
                                             multipliers: qms(p.multipliers), packed: plan.packedWeightOffsets[index],
                                             scratch: plan.scratchOffsets[index])), dp.macs)
        case .dynamicConv2d(let p):
            let (fusion, dw, cp) = dynamicParams(p, tensors: t)
            // The scratch buffer holds the packed fused kernel, then the kernels' own scratch.
            let sc = plan.scratchOffsets[index]
            let packedBytes = KernelRequirements(operation: op, tensors: t, simd: true).packedFusedKernelBytes
            let s = DynamicStep(fusion: fusion, depthwise: dw, conv: cp, input: off(p.input), output: off(p.output),
                                coefficients: off(p.coefficients) + 2 * p.coefficientOffset, kernels: i8(p.weights),
                                mixedBias: i32(p.mixedBias), staticBias: i32(p.bias),
                                staticMultipliers: qms(p.multipliers), fusedKernel: plan.fusedKernelOffsets[index],
                                fusedBias: plan.fusedBiasOffsets[index],
                                fusedMultipliers: plan.fusedMultiplierOffsets[index],
                                packed: sc, scratch: sc < 0 ? -1 : sc + ArenaPlan.aligned(packedBytes))
            return (.dynamic(s), fusion.macs + (dw?.macs ?? cp.macs))
        case .linear(let p):
            let lp = linearParams(p, tensors: t)
            return (.linear(LinearStep(params: lp, input: off(p.input), output: off(p.output), weights: i8(p.weights),
                                       bias: i32(p.bias), multipliers: qms(p.multipliers),
                                       packed: plan.packedWeightOffsets[index], scratch: plan.scratchOffsets[index])),
                    lp.macs)
        case .add(let p):
            let ap = AddParams(input1ZeroPoint: Int32(t[p.a.index].zeroPoint), input1Multiplier: qm(p.aRequant),
                               input2ZeroPoint: Int32(t[p.b.index].zeroPoint), input2Multiplier: qm(p.bRequant),
                               outputMultiplier: qm(p.outputRequant),
                               output: outputQuantization(t[p.output.index], p.clamp))
            return (.add(ap, count: t[p.output.index].elementCount, a: off(p.a), b: off(p.b), output: off(p.output)), 0)
        case .concat(let p):
            let out = t[p.output.index]
            var parts: [ConcatPart] = []
            var c = 0
            for (k, id) in p.inputs.enumerated() {
                let x = t[id.index]
                let r = p.requants[k]
                let copy = r == .identity && x.zeroPoint == out.zeroPoint
                let rq: Requantize? = copy ? nil
                    : Requantize(inputZeroPoint: Int32(x.zeroPoint), multiplier: qm(r),
                                 output: OutputQuantization(zeroPoint: Int32(out.zeroPoint)))
                parts.append(ConcatPart(input: off(id), channels: x.shape[3], offset: c, requantize: rq))
                c += x.shape[3]
            }
            return (.concat(pixels: pixels(p.output), channels: out.shape[3], output: off(p.output), parts: parts), 0)
        case .channelShuffle(let p):
            return (.shuffle(pixels: pixels(p.input), channels: channels(p.input), groups: p.groups,
                             input: off(p.input), output: off(p.output)), 0)
        case .channelSplit(let p):
            var parts: [SplitPart] = []
            var c = 0
            for id in p.outputs {
                parts.append(SplitPart(output: off(id), start: c, count: channels(id)))
                c += channels(id)
            }
            return (.split(pixels: pixels(p.input), channels: channels(p.input), input: off(p.input), parts: parts), 0)
        case .maxPool(let p):
            return (.maxPool(poolParams(p, input: t[p.input.index]), input: off(p.input), output: off(p.output)), 0)
        case .avgPool(let p):
            return (.avgPool(poolParams(p, input: t[p.input.index]), input: off(p.input), output: off(p.output)), 0)
        case .globalAvgPool(let p):
            let i = t[p.input.index]
            let gp = GlobalAveragePoolParams(height: i.shape[1], width: i.shape[2], channels: i.shape[3],
                                             inputZeroPoint: Int32(i.zeroPoint), multiplier: qm(p.requant),
                                             output: outputQuantization(t[p.output.index], p.clamp))
            return (.globalAvgPool(gp, input: off(p.input), output: off(p.output)), 0)
        case .flatten(let p):
            let s = t[p.input.index].shape
            let (h, w, c) = s.count == 4 ? (s[1], s[2], s[3]) : (1, 1, s[1])
            return (.flatten(height: h, width: w, channels: c, input: off(p.input), output: off(p.output)), 0)
        case .softmax(let p):
            return (.softmax(count: channels(p.input), input: off(p.input), output: off(p.output),
                             table: model.pointer(p.expTable, as: UInt32.self)), 0)
        case .gate(let p):
            let n = channels(p.input)
            switch p.kind {
            case .sigmoid:
                return (.sigmoidGate(count: n, input: off(p.input), output: off(p.output),
                                     table: model.pointer(p.table, as: Int16.self)), 0)
            case .softmax:
                return (.softmaxGate(chunks: n / p.group, size: p.group, input: off(p.input), output: off(p.output),
                                     table: model.pointer(p.table, as: UInt32.self)), 0)
            }
        case .table(let p):
            return (.table(count: t[p.input.index].elementCount, input: off(p.input), output: off(p.output),
                           table: i8(p.table)), 0)
        }
    }

    /// Packs this step's static weights into its arena buffer (once, at init). No-op without SIMD buffers.
    func packStaticWeights(_ base: UnsafeMutableRawPointer) {
        switch self {
        case .conv(let s, _) where s.packed >= 0:
            packConv2dWeights(s.params, weights: s.weights, into: base + s.packed)
        case .depthwise(let s) where s.packed >= 0:
            packDepthwiseConv2dWeights(s.params, weights: s.weights, into: base + s.packed)
        case .linear(let s) where s.packed >= 0:
            packLinearWeights(s.params, weights: s.weights, into: base + s.packed)
        default:
            break
        }
    }

    /// Runs the step on the arena at `base`. No allocation. The reference kernels report their work to `tally`
    /// (the SIMD kernels are not instrumented: pass `NoTally` unless `reference`).
    @inline(__always)
    func run<T: KernelTally>(_ base: UnsafeMutableRawPointer, reference: Bool, tally: T) {
        @inline(__always) func i8(_ o: Int) -> UnsafeMutablePointer<Int8> { (base + o).assumingMemoryBound(to: Int8.self) }
        @inline(__always) func c8(_ o: Int) -> UnsafePointer<Int8> { UnsafePointer((base + o).assumingMemoryBound(to: Int8.self)) }
        switch self {
        case .inputTable(let pixels, let channels, let input, let output, let table):
            DynQCore.inputTable(pixels: pixels, channels: channels,
                                image: UnsafePointer((base + input).assumingMemoryBound(to: UInt8.self)),
                                tables: table, output: i8(output), tally: tally)
        case .conv(let s, let pointwise):
            if reference || s.packed < 0 {
                Kernels.conv2dReference(s.params, pointwise: pointwise, input: c8(s.input), weights: s.weights,
                                        bias: s.bias, multipliers: s.multipliers, output: i8(s.output), tally: tally)
            } else {
                conv2d(s.params, input: c8(s.input), packedWeights: UnsafeRawPointer(base + s.packed), bias: s.bias,
                       multipliers: s.multipliers, output: i8(s.output), scratch: base + s.scratch)
            }
        case .depthwise(let s):
            if reference || s.packed < 0 {
                depthwiseConv2dReference(s.params, input: c8(s.input), weights: s.weights, bias: s.bias,
                                         multipliers: s.multipliers, output: i8(s.output), tally: tally)
            } else {
                DynQCore.depthwiseConv2d(s.params, input: c8(s.input), packedWeights: UnsafeRawPointer(base + s.packed),
                                bias: s.bias, multipliers: s.multipliers, output: i8(s.output),
                                scratch: base + s.scratch)
            }
        case .dynamic(let s):
            let fk = i8(s.fusedKernel)
            let fb = (base + s.fusedBias).assumingMemoryBound(to: Int32.self)
            let fm = (base + s.fusedMultipliers).assumingMemoryBound(to: QuantizedMultiplier.self)
            let eta = UnsafePointer((base + s.coefficients).assumingMemoryBound(to: Int16.self))
            let simd = !reference && s.packed >= 0
            if simd {
                // Conv layers: each fused channel is packed for conv2d as it is computed.
                dynamicFusion(s.fusion, kernels: s.kernels, coefficients: eta, mixedBias: s.mixedBias,
                              staticBias: s.staticBias, staticMultipliers: s.staticMultipliers, fusedKernel: fk,
                              biasAccumulator: fb, multipliers: fm, scratch: base + s.scratch,
                              packFor: s.depthwise == nil ? s.conv : nil, packed: base + s.packed)
            } else {
                dynamicFusionReference(s.fusion, kernels: s.kernels, coefficients: eta, mixedBias: s.mixedBias,
                                       staticBias: s.staticBias, staticMultipliers: s.staticMultipliers,
                                       fusedKernel: fk, biasAccumulator: fb, multipliers: fm, tally: tally)
            }
            if let dw = s.depthwise {
                if simd {
                    packDepthwiseConv2dWeights(dw, weights: UnsafePointer(fk), into: base + s.packed)
                    DynQCore.depthwiseConv2d(dw, input: c8(s.input), packedWeights: UnsafeRawPointer(base + s.packed),
                                    bias: UnsafePointer(fb), multipliers: UnsafePointer(fm), output: i8(s.output),
                                    scratch: base + s.scratch)
                } else {
                    depthwiseConv2dReference(dw, input: c8(s.input), weights: UnsafePointer(fk),
                                             bias: UnsafePointer(fb), multipliers: UnsafePointer(fm),
                                             output: i8(s.output), tally: tally)
                }
            } else {
                if simd {                                     // packed by dynamicFusion
                    conv2d(s.conv, input: c8(s.input), packedWeights: UnsafeRawPointer(base + s.packed),
                           bias: UnsafePointer(fb), multipliers: UnsafePointer(fm), output: i8(s.output),
                           scratch: base + s.scratch)
                } else {
                    let pw = s.conv.kernelHeight == 1 && s.conv.kernelWidth == 1 && s.conv.groups == 1
                    Kernels.conv2dReference(s.conv, pointwise: pw, input: c8(s.input), weights: UnsafePointer(fk),
                                            bias: UnsafePointer(fb), multipliers: UnsafePointer(fm),
                                            output: i8(s.output), tally: tally)
                }
            }
        case .linear(let s):
            if reference || s.packed < 0 {
                linearReference(s.params, input: c8(s.input), weights: s.weights, bias: s.bias,
                                multipliers: s.multipliers, output: i8(s.output), tally: tally)
            } else {
                DynQCore.linear(s.params, input: c8(s.input), packedWeights: UnsafeRawPointer(base + s.packed), bias: s.bias,
                       multipliers: s.multipliers, output: i8(s.output), scratch: base + s.scratch)
            }
        case .add(let p, let count, let a, let b, let output):
            if !reference {                                   // SIMD: no scratch, no packing
                DynQCore.add(p, count: count, input1: c8(a), input2: c8(b), output: i8(output))
                break
            }
            addReference(p, count: count, input1: c8(a), input2: c8(b), output: i8(output), tally: tally)
        case .concat(let pixels, let channels, let output, let parts):
            parts.withUnsafeBufferPointer { parts in
                for part in parts {
                    concatInput(outerCount: pixels, inputInner: part.channels, outputInner: channels,
                                offset: part.offset, input: c8(part.input), requantize: part.requantize,
                                output: i8(output), tally: tally)
                }
            }
        case .shuffle(let pixels, let channels, let groups, let input, let output):
            DynQCore.channelShuffle(pixels: pixels, channels: channels, groups: groups, input: c8(input),
                                    output: i8(output), tally: tally)
        case .split(let pixels, let channels, let input, let parts):
            parts.withUnsafeBufferPointer { parts in
                for part in parts {
                    channelSlice(pixels: pixels, inputChannels: channels, start: part.start, count: part.count,
                                 input: c8(input), output: i8(part.output), tally: tally)
                }
            }
        case .maxPool(let p, let input, let output):
            maxPool2dReference(p, input: c8(input), output: i8(output), tally: tally)
        case .avgPool(let p, let input, let output):
            avgPool2dReference(p, input: c8(input), output: i8(output), tally: tally)
        case .globalAvgPool(let p, let input, let output):
            if !reference {                                   // SIMD: no scratch, no packing
                DynQCore.globalAveragePool(p, input: c8(input), output: i8(output))
                break
            }
            globalAveragePoolReference(p, input: c8(input), output: i8(output), tally: tally)
        case .flatten(let h, let w, let c, let input, let output):
            flattenHWCToCHW(height: h, width: w, channels: c, input: c8(input), output: i8(output), tally: tally)
        case .softmax(let count, let input, let output, let table):
            DynQCore.softmaxInt8(chunkCount: 1, chunkSize: count, logits: c8(input), expTable: table,
                                 output: i8(output), tally: tally)
        case .sigmoidGate(let count, let input, let output, let table):
            DynQCore.sigmoidGate(count: count, logits: c8(input), table: table,
                        coefficients: (base + output).assumingMemoryBound(to: Int16.self), tally: tally)
        case .softmaxGate(let chunks, let size, let input, let output, let table):
            DynQCore.softmaxGate(chunkCount: chunks, chunkSize: size, logits: c8(input), expTable: table,
                        coefficients: (base + output).assumingMemoryBound(to: Int16.self), tally: tally)
        case .table(let count, let input, let output, let table):
            lookupTable(count: count, input: c8(input), table: table, output: i8(output), tally: tally)
        }
    }
}
