// add: element-wise add of two int8 tensors of one shape, TFLite's scheme.

extension ModelDescription {
    /// TFLite's int8 add: both inputs `(q − z) << leftShift`, each requantized to a common scale, summed,
    /// requantized to the output, `+ z_out`, clamped. `leftShift` must be 20 (`AddParams.leftShift`; the field
    /// keeps the file general) and the input multipliers at most 1.
    public struct Add: Equatable, Sendable {
        public var a: TensorID
        public var b: TensorID
        public var output: TensorID
        /// Usually 20.
        public var leftShift: Int
        public var aRequant: Requant
        public var bRequant: Requant
        public var outputRequant: Requant
        public var clamp: Clamp
        public init(a: TensorID, b: TensorID, output: TensorID, leftShift: Int = 20, aRequant: Requant,
                    bRequant: Requant, outputRequant: Requant, clamp: Clamp = .none) {
            self.a = a; self.b = b; self.output = output; self.leftShift = leftShift; self.aRequant = aRequant
            self.bRequant = bRequant; self.outputRequant = outputRequant; self.clamp = clamp
        }
    }
}

enum AddOp: OpKind {
    typealias Parameters = ModelDescription.Add
    static var code: OpCode { .add }

    static func decode(_ r: OpRecord) throws(ModelError) -> Parameters {
        try r.expectWords(12)
        return Parameters(a: r.tensor(0), b: r.tensor(1), output: r.tensor(2), leftShift: r[3], aRequant: r.requant(4),
                          bRequant: r.requant(6), outputRequant: r.requant(8), clamp: r.clamp(10))
    }
    static func words(_ p: Parameters) -> [Int32] {
        [w32(p.a), w32(p.b), w32(p.output), w32(p.leftShift), p.aRequant.multiplier, p.aRequant.shift,
         p.bRequant.multiplier, p.bRequant.shift, p.outputRequant.multiplier, p.outputRequant.shift]
            + p.clamp.words
    }
    static func describe(_ p: Parameters) -> ModelDescription.Op { .add(p) }

    static func validate(_ p: Parameters, _ v: OpValidation) throws(ModelError) {
        _ = try v.anyInt8(p.a); _ = try v.anyInt8(p.b); _ = try v.anyInt8(p.output)
        let sa = v.tensor(p.a).shape
        guard sa == v.tensor(p.b).shape, sa == v.tensor(p.output).shape else {
            throw v.fail(.badShape, "add inputs and output must have one shape")
        }
        guard p.leftShift == Int(AddParams.leftShift) else {
            throw v.fail(.badParameter, "add left shift must be 20", p.leftShift)
        }
        try v.requant(p.aRequant); try v.requant(p.bRequant); try v.requant(p.outputRequant)
        // AddParams' overflow bound: |q − z|·2^20·M < 2^28 for each input needs M ≤ 1 (e ≤ 0, or exactly 1).
        func atMostOne(_ r: ModelDescription.Requant) throws(ModelError) {
            guard r.shift <= 0 || r == .identity else {
                throw v.fail(.badParameter, "add input multiplier above 1", Int(r.shift))
            }
        }
        try atMostOne(p.aRequant); try atMostOne(p.bRequant)
        try v.clamp(p.clamp)
    }
    static func forEachBlob(_ p: Parameters, _ body: (BlobID) -> Void) {}
    static func forEachTensor(_ p: Parameters, _ body: (TensorID, Bool) -> Void) {
        body(p.a, false); body(p.b, false); body(p.output, true)
    }

    static func params(_ p: Parameters, _ m: ModelFile) -> AddParams {
        AddParams(input1ZeroPoint: Int32(m.tensor(p.a.index).zeroPoint), input1Multiplier: p.aRequant.quantizedMultiplier,
                  input2ZeroPoint: Int32(m.tensor(p.b.index).zeroPoint), input2Multiplier: p.bRequant.quantizedMultiplier,
                  outputMultiplier: p.outputRequant.quantizedMultiplier,
                  output: m.outputQuantization(p.output, p.clamp))
    }

    static func counts(_ p: Parameters, _ m: ModelFile) -> KernelCounts {
        ScalarKernels<NoTally>.addCounts(count: m.tensor(p.output.index).elementCount)
    }

    static func run<K: KernelSet>(_ p: Parameters, _ c: OpContext<K>) {
        c.kernels.add(params(p, c.model), count: c.record(p.output).elementCount, c.input8(p.a), c.input8(p.b),
                      output: c.int8(p.output))
    }
}
