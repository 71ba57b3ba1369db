/// The semantic checks of a model file, without allocating: the model info (input, outputs, preprocess), then
/// every op in order (its own rules, `OpKind.validate`, in its op file) and the dataflow: every tensor an op
/// reads was written before, every tensor is written once, every model output is written. Every rule is one the
/// runtime relies on to run without checks; docs/model-format.md lists them.
extension ModelFile {
    /// Bytes of `work` `validate(work:)` needs: one flag per tensor.
    public var validationWorkBytes: Int { tensorCount }

    /// Validates the model; `work` (at least `validationWorkBytes`, any alignment) holds the dataflow flags.
    public func validate(work: UnsafeMutableRawBufferPointer) throws(ModelError) {
        precondition(work.count >= validationWorkBytes, "ModelFile.validate: work area too small")
        let input = self.input
        guard input.index >= 0, input.index < tensorCount else {
            throw ModelError(.badDataflow, .meta, "input tensor id out of range", value: Int64(input.index))
        }
        let inT = tensor(input.index)
        guard inT.type == .uint8, inT.shape.rank == 4, inT.shape[0] == 1 else {
            throw ModelError(.badShape, .meta, "model input must be a uint8 [1, H, W, C] tensor", value: Int64(input.index))
        }
        let c = inT.shape[3]
        guard meanCount == 1 || meanCount == c else {
            throw ModelError(.badCount, .meta, "preprocess mean needs 1 or C entries", value: Int64(meanCount))
        }
        guard stdCount == 1 || stdCount == c else {
            throw ModelError(.badCount, .meta, "preprocess std needs 1 or C entries", value: Int64(stdCount))
        }
        guard outputCount >= 1 else { throw ModelError(.badCount, .meta, "model has no outputs") }

        let written = work.baseAddress!.bindMemory(to: Bool.self, capacity: tensorCount)
        written.initialize(repeating: false, count: tensorCount)
        written[input.index] = true
        struct Checker: OpVisitor {
            typealias Result = Void
            let model: ModelFile
            let written: UnsafeMutablePointer<Bool>
            let record: OpRecord
            mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) {
                let v = OpValidation(model: model, record: record)
                var failure: ModelError?
                let model = self.model, written = self.written
                O.forEachTensor(p) { t, isOutput in
                    guard failure == nil else { return }
                    guard t.index >= 0, t.index < model.tensorCount else {
                        failure = v.fail(.badDataflow, "tensor id out of range", t.index); return
                    }
                    if isOutput {
                        guard !written[t.index] else {
                            failure = v.fail(.badDataflow, "writes a tensor that is already written (or the input)", t.index)
                            return
                        }
                        written[t.index] = true
                    } else {
                        guard written[t.index] else {
                            failure = v.fail(.badDataflow, "reads a tensor before any op writes it", t.index); return
                        }
                    }
                }
                if let failure { throw failure }
                try O.validate(p, v)
            }
        }
        try forEachOp { (r: OpRecord) throws(ModelError) in
            var checker = Checker(model: self, written: written, record: r)
            try visitOp(r, &checker)
        }
        for k in 0..<outputCount {
            let t = output(k)
            guard t.index >= 0, t.index < tensorCount, written[t.index] else {
                throw ModelError(.badDataflow, .meta, "model output is not a tensor any op writes", value: Int64(t.index),
                                 index: k)
            }
        }
    }
}

/// The checks one op's `validate` uses; every failure names the op index and code. Sizes are multiplied with
/// overflow checks (`Int` is 32-bit on Cortex-M), bounds are checked before the products they bound.
public struct OpValidation {
    let model: ModelFile
    let record: OpRecord

    func fail(_ kind: ModelError.Kind, _ msg: StaticString, _ value: Int? = nil, _ element: Int? = nil) -> ModelError {
        ModelError(kind, .operation(record.index), msg, value: value.map { Int64($0) }, index: element,
                   opCode: record.code)
    }

    func tensor(_ t: TensorID) -> TensorRecord { model.tensor(t.index) }

    /// An NHWC `[1, H, W, C]` tensor of `type` → (H, W, C).
    func nhwc(_ t: TensorID, _ type: ElementType = .int8) throws(ModelError) -> (h: Int, w: Int, c: Int) {
        let x = tensor(t)
        guard x.type == type else { throw fail(.badShape, "tensor has the wrong element type", t.index) }
        guard x.shape.rank == 4, x.shape[0] == 1 else { throw fail(.badShape, "tensor is not [1, H, W, C]", t.index) }
        return (x.shape[1], x.shape[2], x.shape[3])
    }

    /// A `[1, F]` tensor of `type` → F.
    func flat(_ t: TensorID, _ type: ElementType = .int8) throws(ModelError) -> Int {
        let x = tensor(t)
        guard x.type == type else { throw fail(.badShape, "[1, F] tensor has the wrong element type", t.index) }
        guard x.shape.rank == 2, x.shape[0] == 1 else { throw fail(.badShape, "tensor is not [1, F]", t.index) }
        return x.shape[1]
    }

    /// An int8 `[1, H, W, C]` or `[1, F]` tensor → its element count.
    func anyInt8(_ t: TensorID) throws(ModelError) -> Int {
        let x = tensor(t)
        guard x.type == .int8 else { throw fail(.badShape, "tensor is not int8", t.index) }
        guard x.shape[0] == 1, x.shape.rank == 2 || x.shape.rank == 4 else {
            throw fail(.badShape, "tensor is not [1, H, W, C] or [1, F]", t.index)
        }
        return x.elementCount
    }

    func sameQuantization(_ a: TensorID, _ b: TensorID) throws(ModelError) {
        let x = tensor(a), y = tensor(b)
        guard x.scaleBits == y.scaleBits, x.zeroPoint == y.zeroPoint else {
            throw fail(.badParameter, "output must keep the input's scale and zero point", b.index)
        }
    }

    /// `a · b`, refused past 2^28 (the largest tensor or blob) instead of overflowing.
    func product(_ a: Int, _ b: Int, _ what: StaticString) throws(ModelError) -> Int {
        let (n, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow, n >= 0, n <= ModelFormat.maxElements else { throw fail(.badShape, what, a) }
        return n
    }

    /// Blob `b`: id in range, element type, element count.
    func blob(_ b: BlobID, _ type: ElementType, count: Int) throws(ModelError) -> BlobRecord {
        guard b.index >= 0, b.index < model.blobCount else { throw fail(.badDataflow, "blob id out of range", b.index) }
        let r = model.blob(b.index)
        guard r.type == type else { throw fail(.badBlob, "blob has the wrong element type", b.index) }
        guard r.elementCount == count else { throw fail(.badBlob, "blob has the wrong element count", r.elementCount) }
        return r
    }

    func i8(_ b: BlobRecord, _ i: Int) -> Int { Int(Int8(bitPattern: model.bytes[b.offset + i])) }
    func i16(_ b: BlobRecord, _ i: Int) -> Int {
        Int(Int16(littleEndian: model.bytes.loadUnaligned(fromByteOffset: b.offset + 2 * i, as: Int16.self)))
    }
    func i32(_ b: BlobRecord, _ i: Int) -> Int { model.int(b.offset + 4 * i) }

    func clamp(_ c: ModelDescription.Clamp) throws(ModelError) {
        guard c.min >= -128, c.min <= c.max, c.max <= 127 else {
            throw fail(.badParameter, "clamp not within -128 <= min <= max <= 127", c.min)
        }
    }

    /// The clamp of an int16 output (a linear's wide logits; an int16 tensor's zero point is 0, checked with the
    /// tensor).
    func clamp16(_ c: ModelDescription.Clamp) throws(ModelError) {
        guard c.min >= -32768, c.min <= c.max, c.max <= 32767 else {
            throw fail(.badParameter, "clamp not within -32768 <= min <= max <= 32767", c.min)
        }
    }

    /// A Q31 multiplier: `m ∈ [2^30, 2^31)`, `e ∈ [−31, 30]`, or `(0, 0)`.
    func requant(_ m: Int, _ e: Int, element: Int? = nil) throws(ModelError) {
        if m == 0 && e == 0 { return }
        guard Int64(m) >= 1 << 30, Int64(m) < 1 << 31 else {
            throw fail(.badParameter, "multiplier not in [2^30, 2^31) (or 0)", m, element)
        }
        guard e >= -31, e <= 30 else { throw fail(.badParameter, "shift not in [-31, 30]", e, element) }
    }
    func requant(_ r: ModelDescription.Requant, element: Int? = nil) throws(ModelError) {
        try requant(Int(r.multiplier), Int(r.shift), element: element)
    }

    /// int32 `[O][2]` `(m, e)` pairs.
    func requantBlob(_ mb: BlobID, count: Int) throws(ModelError) {
        let m = try blob(mb, .int32, count: 2 * count)                // count ≤ 2^28 (a tensor dimension): no overflow
        for o in 0..<count { try requant(i32(m, 2 * o), i32(m, 2 * o + 1), element: o) }
    }

    /// int8 weights in `[−127, 127]`.
    func weights(_ b: BlobID, count: Int) throws(ModelError) {
        let r = try blob(b, .int8, count: count)
        for i in 0..<count where i8(r, i) == -128 {
            throw fail(.badParameter, "weight -128 (weights are in [-127, 127])", -128, i)
        }
    }

    /// int32 `[O]` bias; returns max |bias| (as Int64: |Int32.min| does not fit a 32-bit Int).
    func bias(_ b: BlobID?, count: Int) throws(ModelError) -> Int64 {
        guard let b else { return 0 }
        let r = try blob(b, .int32, count: count)
        var m: Int64 = 0
        for i in 0..<count { m = max(m, abs(Int64(i32(r, i)))) }
        return m
    }

    /// `K ≤ 66 311` (the int32 accumulator bound without bias), checked before any product involving K.
    func accumulatorTerms(_ k: Int) throws(ModelError) {
        guard k >= 1, k <= 66_311 else {
            throw fail(.badParameter, "more than 66311 products per output (the int32 accumulator bound)", k)
        }
    }

    /// `K · 255 · 127 + max|bias| < 2^31` (docs/numerics.md).
    func accumulatorBound(k: Int, maxBias: Int64) throws(ModelError) {
        try accumulatorTerms(k)
        guard Int64(k) * 255 * 127 + maxBias < 1 << 31 else {
            throw fail(.badParameter, "int32 accumulator could overflow (K * 255 * 127 + |bias| >= 2^31)", k)
        }
    }

    /// Every window field in range; pooling: dilation 1 and padding at most half the kernel.
    func window(_ w: Window, pool: Bool) throws(ModelError) {
        let mx = ModelFormat.maxWindow
        guard w.kernelH >= 1, w.kernelH <= mx, w.kernelW >= 1, w.kernelW <= mx else {
            throw fail(.badParameter, "kernel size not in [1, 4096]", w.kernelH)
        }
        guard w.strideH >= 1, w.strideH <= mx, w.strideW >= 1, w.strideW <= mx else {
            throw fail(.badParameter, "stride not in [1, 4096]", w.strideH)
        }
        guard w.dilationH >= 1, w.dilationH <= mx, w.dilationW >= 1, w.dilationW <= mx else {
            throw fail(.badParameter, "dilation not in [1, 4096]", w.dilationH)
        }
        func pad(_ p: Int) throws(ModelError) {
            guard p >= 0, p <= mx else { throw fail(.badParameter, "padding not in [0, 4096]", p) }
        }
        try pad(w.padTop); try pad(w.padLeft); try pad(w.padBottom); try pad(w.padRight)
        if pool {
            guard w.dilationH == 1, w.dilationW == 1 else { throw fail(.badParameter, "pooling dilation must be 1", w.dilationH) }
            guard 2 * max(w.padTop, w.padBottom) <= w.kernelH, 2 * max(w.padLeft, w.padRight) <= w.kernelW else {
                throw fail(.badParameter, "pooling padding larger than half the kernel", w.padTop)
            }
        }
    }

    /// The output's H and W are the window's over the input's.
    func outputSize(_ w: Window, h: Int, wd: Int, out: (h: Int, w: Int, c: Int)) throws(ModelError) {
        guard w.outputHeight(h) == out.h else { throw fail(.badShape, "output height does not match the window", out.h) }
        guard w.outputWidth(wd) == out.w else { throw fail(.badShape, "output width does not match the window", out.w) }
    }

    /// An exp table: int32 `[256]`, values in `[0, 65536]`, `E[0] > 0`.
    func expTable(_ b: BlobID) throws(ModelError) {
        let t = try blob(b, .int32, count: 256)
        for d in 0..<256 where i32(t, d) < 0 || i32(t, d) > 65_536 {
            throw fail(.badParameter, "exp table value not in [0, 65536]", i32(t, d), d)
        }
        guard i32(t, 0) > 0 else { throw fail(.badParameter, "exp table E[0] must be positive", 0, 0) }
    }
}
