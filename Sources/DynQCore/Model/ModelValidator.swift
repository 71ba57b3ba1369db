/// Semantic checks of a parsed model: arity, ids, element types, shapes, parameter and blob value ranges,
/// accumulator bounds and dataflow. Every rule here is one the runtime relies on to run without checks.
struct ModelValidator {
    typealias M = ModelDescription
    let file: UnsafeRawBufferPointer
    let tensors: [M.Tensor]
    let blobs: [Model.BlobRef]
    let operations: [M.Operation]
    let input: TensorID
    let outputs: [TensorID]
    let preprocess: M.Preprocess

    func validate() throws(ModelError) {
        guard input.index >= 0, input.index < tensors.count else {
            throw ModelError(.badDataflow, .meta, "input tensor id out of range", value: Int64(input.index))
        }
        let inT = tensors[input.index]
        guard inT.type == .uint8, inT.shape.count == 4, inT.shape[0] == 1 else {
            throw ModelError(.badShape, .meta, "model input must be a uint8 [1, H, W, C] tensor", value: Int64(input.index))
        }
        let c = inT.shape[3]
        for (what, n) in [(0, preprocess.meanBits.count), (1, preprocess.stdBits.count)] where n != 1 && n != c {
            throw ModelError(.badCount, .meta, what == 0 ? "preprocess mean needs 1 or C entries"
                                                         : "preprocess std needs 1 or C entries", value: Int64(n))
        }
        guard !outputs.isEmpty else { throw ModelError(.badCount, .meta, "model has no outputs") }

        var written = [Bool](repeating: false, count: tensors.count)
        written[input.index] = true
        for (i, o) in operations.enumerated() {
            let v = OpCheck(v: self, index: i, code: o.op.code)
            for t in o.op.inputs {
                try v.id(t)
                guard written[t.index] else {
                    throw ModelError(.badDataflow, .operation(i), "reads a tensor before any op writes it",
                                     value: Int64(t.index), opCode: v.code)
                }
            }
            for t in o.op.outputs {
                try v.id(t)
                guard !written[t.index] else {
                    throw ModelError(.badDataflow, .operation(i), "writes a tensor that is already written (or the input)",
                                     value: Int64(t.index), opCode: v.code)
                }
                written[t.index] = true
            }
            try v.check(o.op)
        }
        for (k, t) in outputs.enumerated() {
            guard t.index >= 0, t.index < tensors.count, written[t.index] else {
                throw ModelError(.badDataflow, .meta, "model output is not a tensor any op writes", value: Int64(t.index), index: k)
            }
        }
    }

    // Blob element reads (little-endian, in place).
    func i8(_ b: Model.BlobRef, _ i: Int) -> Int { Int(Int8(bitPattern: file[b.offset + i])) }
    func i16(_ b: Model.BlobRef, _ i: Int) -> Int {
        Int(Int16(littleEndian: file.loadUnaligned(fromByteOffset: b.offset + 2 * i, as: Int16.self)))
    }
    func i32(_ b: Model.BlobRef, _ i: Int) -> Int {
        Int(Int32(littleEndian: file.loadUnaligned(fromByteOffset: b.offset + 4 * i, as: Int32.self)))
    }
}

/// The checks of one op; every failure names the op index and code.
struct OpCheck {
    typealias M = ModelDescription
    let v: ModelValidator
    let index: Int
    let code: OpCode

    func fail(_ kind: ModelError.Kind, _ msg: StaticString, _ value: Int? = nil, _ element: Int? = nil) -> ModelError {
        ModelError(kind, .operation(index), msg, value: value.map { Int64($0) }, index: element, opCode: code)
    }

    func id(_ t: TensorID) throws(ModelError) {
        guard t.index >= 0, t.index < v.tensors.count else { throw fail(.badDataflow, "tensor id out of range", t.index) }
    }

    /// An int8 `[1, H, W, C]` tensor → (H, W, C).
    func nhwc(_ t: TensorID, _ type: ElementType = .int8) throws(ModelError) -> (h: Int, w: Int, c: Int) {
        let x = v.tensors[t.index]
        guard x.type == type else { throw fail(.badShape, "tensor has the wrong element type", t.index) }
        guard x.shape.count == 4, x.shape[0] == 1 else { throw fail(.badShape, "tensor is not [1, H, W, C]", t.index) }
        return (x.shape[1], x.shape[2], x.shape[3])
    }

    /// A `[1, F]` tensor → F.
    func flat(_ t: TensorID, _ type: ElementType = .int8) throws(ModelError) -> Int {
        let x = v.tensors[t.index]
        guard x.type == type else { throw fail(.badShape, "tensor has the wrong element type", t.index) }
        guard x.shape.count == 2, x.shape[0] == 1 else { throw fail(.badShape, "tensor is not [1, F]", t.index) }
        return x.shape[1]
    }

    /// Channels of a `[1, H, W, C]` or `[1, F]` int8 tensor, and its element count.
    func anyInt8(_ t: TensorID) throws(ModelError) -> Int {
        let x = v.tensors[t.index]
        guard x.type == .int8 else { throw fail(.badShape, "tensor has the wrong element type", t.index) }
        guard x.shape[0] == 1, x.shape.count == 2 || x.shape.count == 4 else {
            throw fail(.badShape, "tensor is not [1, H, W, C] or [1, F]", t.index)
        }
        return x.elementCount
    }

    func sameQuantization(_ a: TensorID, _ b: TensorID) throws(ModelError) {
        let x = v.tensors[a.index], y = v.tensors[b.index]
        guard x.scaleBits == y.scaleBits, x.zeroPoint == y.zeroPoint else {
            throw fail(.badParameter, "output must keep the input's scale and zero point", b.index)
        }
    }

    func blob(_ b: BlobID, _ type: ElementType, count: Int) throws(ModelError) -> Model.BlobRef {
        guard b.index >= 0, b.index < v.blobs.count else { throw fail(.badDataflow, "blob id out of range", b.index) }
        let r = v.blobs[b.index]
        guard r.type == type else { throw fail(.badBlob, "blob has the wrong element type", b.index) }
        guard r.elementCount == count else { throw fail(.badBlob, "blob has the wrong element count", r.elementCount) }
        return r
    }

    func clamp(_ c: M.Clamp) throws(ModelError) {
        guard c.min >= -128, c.min <= c.max, c.max <= 127 else {
            throw fail(.badParameter, "clamp not within -128 <= min <= max <= 127", c.min)
        }
    }

    func requant(_ m: Int, _ e: Int, element: Int? = nil) throws(ModelError) {
        if m == 0 && e == 0 { return }
        guard Int64(m) >= 1 << 30, Int64(m) < 1 << 31 else {   // Int64: Int is 32-bit on Cortex-M
            throw fail(.badParameter, "multiplier not in [2^30, 2^31) (or 0)", m, element) }
        guard e >= -31, e <= 30 else { throw fail(.badParameter, "shift not in [-31, 30]", e, element) }
    }
    func requant(_ r: M.Requant) throws(ModelError) { try requant(Int(r.multiplier), Int(r.shift)) }

    /// int32 `[O][2]` `(m, e)` pairs.
    func requantBlob(_ mb: BlobID, count: Int) throws(ModelError) {
        let m = try blob(mb, .int32, count: 2 * count)
        for o in 0..<count { try requant(v.i32(m, 2 * o), v.i32(m, 2 * o + 1), element: o) }
    }

    func weights(_ b: BlobID, count: Int) throws(ModelError) {
        let r = try blob(b, .int8, count: count)
        for i in 0..<count where v.i8(r, i) == -128 { throw fail(.badParameter, "weight -128 (weights are in [-127, 127])", -128, i) }
    }

    /// int32 `[O]` bias; returns max |bias|.
    func bias(_ b: BlobID?, count: Int) throws(ModelError) -> Int {
        guard let b else { return 0 }
        let r = try blob(b, .int32, count: count)
        var m = 0
        for i in 0..<count { m = max(m, abs(v.i32(r, i))) }
        return m
    }

    /// `K · 255 · 127 + |bias| < 2^31` (docs/numerics.md).
    func accumulatorBound(k: Int, maxBias: Int) throws(ModelError) {
        guard k <= 66_311, Int64(k) * 255 * 127 + Int64(maxBias) < 1 << 31 else {   // Int64: 32-bit Int on Cortex-M
            throw fail(.badParameter, "int32 accumulator could overflow (K * 255 * 127 + |bias| >= 2^31)", k)
        }
    }

    func window(_ w: M.Window, pool: Bool) throws(ModelError) {
        let mx = ModelFormat.maxWindow
        guard w.kernelH >= 1, w.kernelH <= mx, w.kernelW >= 1, w.kernelW <= mx else { throw fail(.badParameter, "kernel size not in [1, 4096]", w.kernelH) }
        guard w.strideH >= 1, w.strideH <= mx, w.strideW >= 1, w.strideW <= mx else { throw fail(.badParameter, "stride not in [1, 4096]", w.strideH) }
        guard w.dilationH >= 1, w.dilationH <= mx, w.dilationW >= 1, w.dilationW <= mx else { throw fail(.badParameter, "dilation not in [1, 4096]", w.dilationH) }
        for p in [w.padTop, w.padLeft, w.padBottom, w.padRight] where p < 0 || p > mx {
            throw fail(.badParameter, "padding not in [0, 4096]", p)
        }
        if pool {
            guard w.dilationH == 1, w.dilationW == 1 else { throw fail(.badParameter, "pooling dilation must be 1", w.dilationH) }
            guard 2 * max(w.padTop, w.padBottom) <= w.kernelH, 2 * max(w.padLeft, w.padRight) <= w.kernelW else {
                throw fail(.badParameter, "pooling padding larger than half the kernel", w.padTop)
            }
        }
    }

    func outputSize(_ w: M.Window, h: Int, wd: Int, out: (h: Int, w: Int, c: Int)) throws(ModelError) {
        let oh = M.Window.outputSize(input: h, kernel: w.kernelH, stride: w.strideH, dilation: w.dilationH,
                                     padA: w.padTop, padB: w.padBottom)
        let ow = M.Window.outputSize(input: wd, kernel: w.kernelW, stride: w.strideW, dilation: w.dilationW,
                                     padA: w.padLeft, padB: w.padRight)
        guard oh == out.h else { throw fail(.badShape, "output height does not match the window", out.h) }
        guard ow == out.w else { throw fail(.badShape, "output width does not match the window", out.w) }
    }

    func check(_ op: M.Op) throws(ModelError) {
        switch op {
        case .inputTable(let p):
            let i = try nhwc(p.input, .uint8), o = try nhwc(p.output)
            guard i == o else { throw fail(.badShape, "input table output must have the input's shape") }
            _ = try blob(p.table, .int8, count: i.c * 256)

        case .conv2d(let p), .depthwiseConv2d(let p):
            let i = try nhwc(p.input), o = try nhwc(p.output)
            try window(p.window, pool: false)
            try outputSize(p.window, h: i.h, wd: i.w, out: o)
            try clamp(p.clamp)
            let kk = p.window.kernelH * p.window.kernelW
            let k: Int
            if case .depthwiseConv2d = op {
                guard p.groups == i.c, o.c == i.c else {
                    throw fail(.badShape, "depthwise needs groups == input channels == output channels", p.groups)
                }
                try weights(p.weights, count: kk * o.c)
                k = kk
            } else {
                guard p.groups >= 1, i.c % p.groups == 0, o.c % p.groups == 0 else {
                    throw fail(.badShape, "groups must divide input and output channels", p.groups)
                }
                k = kk * (i.c / p.groups)
                try weights(p.weights, count: o.c * k)
            }
            try accumulatorBound(k: k, maxBias: try bias(p.bias, count: o.c))
            try requantBlob(p.multipliers, count: o.c)

        case .dynamicConv2d(let p):
            let i = try nhwc(p.input), o = try nhwc(p.output)
            let n = try flat(p.coefficients, .int16)
            try window(p.window, pool: false)
            try outputSize(p.window, h: i.h, wd: i.w, out: o)
            try clamp(p.clamp)
            let g = p.kernelCount
            guard g >= 1, g <= ModelFormat.maxKernelCount else { throw fail(.badParameter, "kernel count g not in [1, 516]", g) }
            guard p.groups >= 1, i.c % p.groups == 0, o.c % p.groups == 0 else {
                throw fail(.badShape, "groups must divide input and output channels", p.groups)
            }
            if p.depthwise, !(p.groups == i.c && o.c == i.c) {
                throw fail(.badShape, "depthwise needs groups == input channels == output channels", p.groups)
            }
            let needed = p.mode == .perChannel ? o.c * g : g
            guard p.coefficientOffset >= 0, p.coefficientOffset <= n, needed <= n - p.coefficientOffset else {
                throw fail(.badShape, "coefficient slice runs past the coefficient tensor", p.coefficientOffset)
            }
            let k = p.window.kernelH * p.window.kernelW * (i.c / p.groups)
            try weights(p.weights, count: g * o.c * k)
            if let mb = p.mixedBias { _ = try blob(mb, .int32, count: g * o.c) }
            _ = try bias(p.bias, count: o.c)
            // The fused kernel is int8 in [-127, 127] and the bias is saturated to int32, so K bounds the sum.
            try accumulatorBound(k: k, maxBias: 0)
            try requantBlob(p.multipliers, count: o.c)

        case .linear(let p):
            let f = try flat(p.input), o = try flat(p.output)
            try clamp(p.clamp)
            try weights(p.weights, count: o * f)
            try accumulatorBound(k: f, maxBias: try bias(p.bias, count: o))
            try requantBlob(p.multipliers, count: o)

        case .add(let p):
            _ = try anyInt8(p.a)
            let sa = v.tensors[p.a.index].shape, sb = v.tensors[p.b.index].shape, so = v.tensors[p.output.index].shape
            _ = try anyInt8(p.b); _ = try anyInt8(p.output)
            guard sa == sb, sa == so else { throw fail(.badShape, "add inputs and output must have one shape") }
            guard p.leftShift == Int(AddParams.leftShift) else { throw fail(.badParameter, "add left shift must be 20", p.leftShift) }
            try requant(p.aRequant); try requant(p.bRequant); try requant(p.outputRequant)
            try clamp(p.clamp)

        case .concat(let p):
            let o = try nhwc(p.output)
            var c = 0
            for (k, t) in p.inputs.enumerated() {
                let x = try nhwc(t)
                guard x.h == o.h, x.w == o.w else { throw fail(.badShape, "concat inputs must match the output's H and W", k) }
                c += x.c
                try requant(Int(p.requants[k].multiplier), Int(p.requants[k].shift), element: k)
            }
            guard c == o.c else { throw fail(.badShape, "concat channels do not add up to the output's", c) }

        case .channelShuffle(let p):
            let i = try nhwc(p.input), o = try nhwc(p.output)
            guard i == o else { throw fail(.badShape, "channel shuffle must keep the shape") }
            guard p.groups >= 1, i.c % p.groups == 0 else { throw fail(.badParameter, "shuffle groups must divide the channels", p.groups) }
            try sameQuantization(p.input, p.output)

        case .channelSplit(let p):
            let i = try nhwc(p.input)
            var c = 0
            for (k, t) in p.outputs.enumerated() {
                let x = try nhwc(t)
                guard x.h == i.h, x.w == i.w else { throw fail(.badShape, "split outputs must match the input's H and W", k) }
                try sameQuantization(p.input, t)
                c += x.c
            }
            guard c == i.c else { throw fail(.badShape, "split sizes do not add up to the input's channels", c) }

        case .maxPool(let p), .avgPool(let p):
            let i = try nhwc(p.input), o = try nhwc(p.output)
            guard i.c == o.c else { throw fail(.badShape, "pooling must keep the channels", o.c) }
            try window(p.window, pool: true)
            try outputSize(p.window, h: i.h, wd: i.w, out: o)
            try clamp(p.clamp)
            try sameQuantization(p.input, p.output)

        case .globalAvgPool(let p):
            let i = try nhwc(p.input), o = try nhwc(p.output)
            guard o.h == 1, o.w == 1, o.c == i.c else { throw fail(.badShape, "global avgpool output must be [1, 1, 1, C]") }
            guard i.h * i.w <= 1 << 23 else { throw fail(.badShape, "global avgpool over more than 2^23 pixels", i.h * i.w) }
            try requant(p.requant)
            try clamp(p.clamp)

        case .flatten(let p):
            let n = try anyInt8(p.input)
            let f = try flat(p.output)
            guard f == n else { throw fail(.badShape, "flatten must keep the element count", f) }
            try sameQuantization(p.input, p.output)

        case .softmax(let p):
            let f = try flat(p.input), o = try flat(p.output)
            guard f == o else { throw fail(.badShape, "softmax must keep the shape", o) }
            guard f <= 32_767 else { throw fail(.badShape, "softmax over more than 32767 features", f) }
            guard v.tensors[p.output.index].zeroPoint == -128 else {
                throw fail(.badParameter, "softmax output zero point must be -128", v.tensors[p.output.index].zeroPoint)
            }
            let t = try blob(p.expTable, .int32, count: 256)
            for d in 0..<256 where v.i32(t, d) < 0 || v.i32(t, d) > 65_536 {
                throw fail(.badParameter, "exp table value not in [0, 65536]", v.i32(t, d), d)
            }
            guard v.i32(t, 0) > 0 else { throw fail(.badParameter, "exp table E[0] must be positive", 0, 0) }

        case .gate(let p):
            let n = try flat(p.input), o = try flat(p.output, .int16)
            guard n == o else { throw fail(.badShape, "gate must keep the shape", o) }
            switch p.kind {
            case .sigmoid:
                let t = try blob(p.table, .int16, count: 256)
                for d in 0..<256 where v.i16(t, d) < 0 { throw fail(.badParameter, "sigmoid table value not in [0, 32767]", v.i16(t, d), d) }
            case .softmax:
                guard p.group >= 1, p.group <= 32_767, n % p.group == 0 else {
                    throw fail(.badParameter, "softmax group must divide N and be at most 32767", p.group)
                }
                let t = try blob(p.table, .int32, count: 256)
                for d in 0..<256 where v.i32(t, d) < 0 || v.i32(t, d) > 65_536 {
                    throw fail(.badParameter, "exp table value not in [0, 65536]", v.i32(t, d), d)
                }
                guard v.i32(t, 0) > 0 else { throw fail(.badParameter, "exp table E[0] must be positive", 0, 0) }
            }

        case .table(let p):
            _ = try anyInt8(p.input); _ = try anyInt8(p.output)
            guard v.tensors[p.input.index].shape == v.tensors[p.output.index].shape else {
                throw fail(.badShape, "table op must keep the shape")
            }
            _ = try blob(p.table, .int8, count: 256)
        }
    }
}
