// dynamic_conv2d: per sample, the g int8 kernels are mixed with the CPM's Q15 coefficients into one kernel
// (the kernel set's `fuseConv` / `fuseDepthwise`, written in the layout its conv reads), then ONE convolution runs.

extension ModelDescription {
    /// How a dynamic convolution reads its coefficients.
    public enum CoefficientMode: UInt8, Equatable, Sendable {
        /// DyNet: output channel `o` reads `coefficients[offset + o·g + t]` (`O·g` values).
        case perChannel = 0
        /// CondConv / DY-CNN: every channel reads `coefficients[offset + t]` (`g` values).
        case perLayer = 1
    }

    /// `dynamic_conv2d` in fixed point (docs/numerics.md, "Dynamic convolution"): per sample the g int8 kernels
    /// are mixed with the Q15 coefficients into an int32 kernel `F`, re-quantized per channel to int8 with
    /// `A[o] = max|F[o,·]|`, and the output multiplier becomes `M0[o] · A[o] / 127`.
    public struct DynamicConv: Equatable, Sendable {
        public var input: TensorID
        /// The int16 Q15 coefficient tensor (a `.gate` output).
        public var coefficients: TensorID
        /// Index of this layer's first coefficient in `coefficients`.
        public var coefficientOffset: Int
        public var mode: CoefficientMode
        /// g, the number of fixed kernels.
        public var kernelCount: Int
        public var output: TensorID
        /// int8 in `[−127, 127]`: g kernels one after another, each in the static op's layout: `[g][O][K]` with
        /// `K = kh · kw · (I/groups)` in OHWI order, or, when `depthwise`, `[g][kh][kw][C]`. The g kernels of
        /// channel o share one scale `s_w[o]`.
        public var weights: BlobID
        /// `groups == I == O` and the depthwise weight layout (the runtime then uses the depthwise kernel).
        public var depthwise: Bool
        /// int32 `[g][O]` at scale `s_in · s_w[o] · 2^−15`; none = zeros.
        public var mixedBias: BlobID?
        /// int32 `[O]` at scale `s_in · s_w[o]`; none = zeros.
        public var bias: BlobID?
        /// int32 `[O][2]` `(m0, e0)` pairs: the static `M0[o] = s_in · s_w[o] · 2^−15 / s_out`.
        public var multipliers: BlobID
        public var window: Window
        public var groups: Int
        public var clamp: Clamp
        /// Each sample's fused bias gets the fused DC correction (Kernels/Common/FusedDCCorrection.swift): the
        /// fused kernel's rounding residual applied to the input's channel means. Bit 1 of the record's word 7.
        public var correctsFusedDC: Bool
        public init(input: TensorID, coefficients: TensorID, coefficientOffset: Int, mode: CoefficientMode,
                    kernelCount: Int, output: TensorID, weights: BlobID, depthwise: Bool = false,
                    mixedBias: BlobID?, bias: BlobID?, multipliers: BlobID, window: Window, groups: Int = 1,
                    clamp: Clamp = .none, correctsFusedDC: Bool = false) {
            self.input = input; self.coefficients = coefficients; self.coefficientOffset = coefficientOffset
            self.mode = mode; self.kernelCount = kernelCount; self.output = output; self.weights = weights
            self.depthwise = depthwise; self.mixedBias = mixedBias; self.bias = bias; self.multipliers = multipliers
            self.window = window; self.groups = groups; self.clamp = clamp; self.correctsFusedDC = correctsFusedDC
        }
    }
}

enum DynamicConv2DOp: OpKind {
    typealias Parameters = ModelDescription.DynamicConv
    static var code: OpCode { .dynamicConv2d }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(24)
        guard r[3] >= 0, r[3] <= 255, let mode = ModelDescription.CoefficientMode(rawValue: UInt8(r[3])) else {
            throw r.fail(.badParameter, "unknown coefficient mode", r[3])
        }
        guard r[7] >= 0, r[7] <= 3 else {
            throw r.fail(.badParameter, "flags word is not 0...3 (bit 0 depthwise, bit 1 fused DC correction)", r[7])
        }
        return Parameters(input: r.tensor(0), coefficients: r.tensor(1), coefficientOffset: r[2], mode: mode,
                          kernelCount: r[4], output: r.tensor(5), weights: r.blob(6), depthwise: r[7] & 1 == 1,
                          mixedBias: r.optionalBlob(8), bias: r.optionalBlob(9), multipliers: r.blob(10),
                          window: r.window(11), groups: r[21], clamp: r.clamp(22), correctsFusedDC: r[7] & 2 == 2)
    }
    static func words(_ p: Parameters) -> [Int32] {
        [w32(p.input), w32(p.coefficients), w32(p.coefficientOffset), Int32(p.mode.rawValue), w32(p.kernelCount),
         w32(p.output), w32(p.weights), (p.depthwise ? 1 : 0) | (p.correctsFusedDC ? 2 : 0), w32(p.mixedBias),
         w32(p.bias), w32(p.multipliers)]
            + p.window.words + [w32(p.groups)] + p.clamp.words
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .dynamicConv2d(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        let i = try v.nhwc(p.input), o = try v.nhwc(p.output)
        let n = try v.flat(p.coefficients, .int16)
        try v.window(p.window, pool: false)
        try v.outputSize(p.window, h: i.h, wd: i.w, out: o)
        try v.clamp(p.clamp)
        let g = p.kernelCount
        guard g >= 1, g <= ModelFormat.maxKernelCount else { throw v.fail(.badParameter, "kernel count g not in [1, 516]", g) }
        guard p.groups >= 1, i.c % p.groups == 0, o.c % p.groups == 0 else {
            throw v.fail(.badShape, "groups must divide input and output channels", p.groups)
        }
        if p.depthwise, !(p.groups == i.c && o.c == i.c) {
            throw v.fail(.badShape, "depthwise needs groups == input channels == output channels", p.groups)
        }
        // The correction's channel sums are int32: |Σ (x − z)| ≤ 255·H·W.
        if p.correctsFusedDC, i.h * i.w > Int(Int32.max) / 255 {
            throw v.fail(.badShape, "input too large for the fused DC correction's channel sums (H·W > 8,421,504)",
                         i.h * i.w)
        }
        let needed = p.mode == .perChannel ? try v.product(o.c, g, "coefficient count too large") : g
        guard p.coefficientOffset >= 0, p.coefficientOffset <= n, needed <= n - p.coefficientOffset else {
            throw v.fail(.badShape, "coefficient slice runs past the coefficient tensor", p.coefficientOffset)
        }
        // K first (≤ 66 311), then g·O·K with overflow checks. The fused kernel is int8 in [−127, 127] and the
        // fused bias is saturated to the headroom, so K alone bounds the accumulator.
        let k = try v.product(p.window.taps, i.c / p.groups, "kernel window too large")
        try v.accumulatorTerms(k)
        let kernel = try v.product(o.c, k, "weight count too large")
        try v.weights(p.weights, count: try v.product(g, kernel, "weight count too large"))
        if let mb = p.mixedBias { _ = try v.blob(mb, .int32, count: g * o.c) }   // ≤ g·O·K ≤ 2^28: no overflow
        _ = try v.bias(p.bias, count: o.c)
        try v.requantBlob(p.multipliers, count: o.c)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) { body(p.weights); if let b = p.mixedBias { body(b) }; if let b = p.bias { body(b) }; body(p.multipliers) }
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.input, false); body(p.coefficients, false); body(p.output, true)
    }

    /// The fusion's parameters and the conv's (depthwise layers: `depthwise` is set and `conv` unused).
    static func params(_ p: Parameters, _ m: ModelFile)
        -> (fusion: DynamicFusionParams, conv: Conv2DParams, depthwise: DepthwiseConv2DParams?)
    {
        let cp = m.convParams(p.window, groups: p.groups, input: p.input, output: p.output, clamp: p.clamp)
        let mode: FusionCoefficientMode = p.mode == .perChannel ? .perChannel : .perLayer
        if p.depthwise {
            let dp = m.depthwiseParams(p.window, input: p.input, output: p.output, clamp: p.clamp)
            return (DynamicFusionParams(kernelCount: p.kernelCount, depthwise: dp, coefficients: mode), cp, dp)
        }
        return (DynamicFusionParams(kernelCount: p.kernelCount, conv: cp, coefficients: mode), cp, nil)
    }
    static func macs(_ p: Parameters, _ m: ModelFile) -> Int {
        let (f, cp, dp) = params(p, m)
        return f.macs + (dp?.macs ?? cp.macs)
    }

    static func requirements<K: KernelSet>(_ p: Parameters, _ m: ModelFile, _ k: K.Type) -> OpRequirements<K.Variant> {
        let (f, cp, dp) = params(p, m)
        let v = dp.map { K.chooseDepthwise($0) } ?? K.chooseConv(cp)
        return buffers(f, cp, dp, v, K.self, correctsFusedDC: p.correctsFusedDC).requirements
    }

    /// The op's buffers for variant `v`, whether the fusion's scratch is the output tensor's bytes, and where the
    /// fused DC correction's means are (`nil` without the correction).
    ///
    /// The fusion runs before the conv writes a byte of the output, and the planner gives an op's output bytes
    /// that no other buffer alive during the op shares, so a fusion scratch that fits in the output tensor
    /// (`O·H_out·W_out` bytes, 16-byte aligned) is put there: the op's own scratch is then only the conv's.
    /// The correction's means (`fusedDCBufferBytes`, computed before the fusion and read by it only) go there
    /// too, past the fusion's scratch when that is in the output, when they fit; else past the op's scratch.
    static func buffers<K: KernelSet>(_ f: DynamicFusionParams, _ cp: Conv2DParams, _ dp: DepthwiseConv2DParams?,
                                      _ v: K.Variant, _ k: K.Type, correctsFusedDC: Bool = false)
        -> (requirements: OpRequirements<K.Variant>, fusionInOutput: Bool, means: (inOutput: Bool, offset: Int)?)
    {
        var r = OpRequirements<K.Variant>()
        r.variant = v
        let convScratch: Int, fusionScratch: Int, outputBytes: Int
        if let dp {
            r.fusedWeights = K.fusedDepthwiseWeightBytes(f, dp, v)
            convScratch = K.depthwiseScratchBytes(dp, v)
            fusionScratch = K.depthwiseFusionScratchBytes(f, dp, v)
            outputBytes = dp.outputCount
        } else {
            r.fusedWeights = K.fusedConvWeightBytes(f, cp, v)
            convScratch = K.convScratchBytes(cp, v)
            fusionScratch = K.convFusionScratchBytes(f, cp, v)
            outputBytes = cp.outputCount
        }
        let inOutput = fusionScratch <= outputBytes
        r.scratch = inOutput ? convScratch : max(convScratch, fusionScratch)
        var means: (inOutput: Bool, offset: Int)? = nil
        if correctsFusedDC {
            let bytes = fusedDCBufferBytes(channels: cp.inputChannels)
            let at = inOutput ? (fusionScratch + 15) / 16 * 16 : 0
            if at + bytes <= outputBytes {
                means = (true, at)
            } else {
                means = (false, (r.scratch + 15) / 16 * 16)
                r.scratch = means!.offset + bytes
            }
        }
        r.fusedBias = 4 * f.outputChannels
        r.fusedMultipliers = MemoryLayout<QuantizedMultiplier>.stride * f.outputChannels
        return (r, inOutput, means)
    }

    /// Fusion (kernels, mixed and static bias, static multipliers from the model) plus the conv on the fused
    /// kernel, whose weights, bias and multipliers are per-sample arena data.
    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        let (f, cp, dp) = params(p, m)
        var fusion = ScalarKernels<NoTally>.fusionCounts(f, mixedBias: p.mixedBias != nil, staticBias: p.bias != nil)
        if p.correctsFusedDC { fusion = fusion + ScalarKernels<NoTally>.fusedDCCounts(f, cp) }
        var conv = dp.map { ScalarKernels<NoTally>.depthwiseCounts($0, bias: true) }
            ?? ScalarKernels<NoTally>.conv2dCounts(cp, bias: true)
        conv.activationBytesRead += conv.parameterBytesRead
        conv.parameterBytesRead = 0
        return fusion + conv
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        let (f, cp, dp) = params(p, c.model)
        let (r, fusionInOutput, meansAt) = buffers(f, cp, dp, c.variant, K.self, correctsFusedDC: p.correctsFusedDC)
        let work = c.work!
        let fused = work
        let bias = (work + r.fusedBiasOffset).assumingMemoryBound(to: Int32.self)
        let mult = (work + r.fusedMultipliersOffset).assumingMemoryBound(to: QuantizedMultiplier.self)
        let eta = UnsafePointer(c.tensor(p.coefficients).assumingMemoryBound(to: Int16.self)) + p.coefficientOffset
        let scratch = r.scratch > 0 ? work + r.scratchOffset : nil
        let output = c.int8(p.output)
        var means: UnsafePointer<Int16>? = nil
        if let at = meansAt {
            let base = at.inOutput ? UnsafeMutableRawPointer(output) : work + r.scratchOffset
            let m = (base + at.offset).bindMemory(to: Int16.self, capacity: cp.inputChannels)
            c.kernels.fusedDCInputMeans(input: c.input8(p.input), positions: cp.inputHeight * cp.inputWidth,
                                        channels: cp.inputChannels, zeroPoint: cp.inputZeroPoint, means: m)
            means = UnsafePointer(m)
        }
        let fa = FusionArguments(kernels: c.model.pointer(p.weights, as: Int8.self), coefficients: eta,
                                 mixedBias: c.model.optionalPointer(p.mixedBias, as: Int32.self),
                                 staticBias: c.model.optionalPointer(p.bias, as: Int32.self),
                                 staticMultipliers: c.model.pointer(p.multipliers, as: QuantizedMultiplier.self),
                                 fusedWeights: fused, fusedBias: bias, fusedMultipliers: mult,
                                 scratch: fusionInOutput ? UnsafeMutableRawPointer(output) : scratch,
                                 inputMeans: means)
        let ca = ConvArguments(input: c.input8(p.input), weights: UnsafeRawPointer(fused), bias: UnsafePointer(bias),
                               multipliers: UnsafePointer(mult), output: output, scratch: scratch)
        if let dp {
            c.kernels.fuseDepthwise(f, dp, c.variant, fa)
            c.kernels.depthwiseConv2d(dp, c.variant, ca)
        } else {
            c.kernels.fuseConv(f, cp, c.variant, fa)
            c.kernels.conv2d(cp, c.variant, ca)
        }
    }
}
