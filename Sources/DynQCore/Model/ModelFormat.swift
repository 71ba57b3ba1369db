/// Layout constants of the `.dynq` file (docs/model-format.md) and the op parameter encoding shared by
/// `ModelWriter` and `Model(bytes:)`.
public enum ModelFormat {
    /// `\x89 D Y N Q \r \n \x1A` (PNG-style: catches 7-bit and line-ending mangling).
    public static let magic: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0x89, 0x44, 0x59, 0x4E, 0x51, 0x0D, 0x0A, 0x1A)
    public static let version: UInt32 = 1
    public static let headerSize = 80
    /// Bytes covered by the CRC start here (everything after the CRC field).
    public static let checksumStart = 24
    /// Tensor and blob records.
    public static let recordSize = 44
    public static let maxTensorRank = 4
    public static let maxBlobRank = 6
    /// Blob data alignment (and the alignment the model bytes must have in memory).
    public static let blobAlignment = 16
    /// Op record header: u16 code, u16 parameter word count, u32 name offset, u32 name length.
    public static let opHeaderSize = 12
    /// Marks an absent optional blob (bias, mixed bias) in a parameter word.
    public static let none: Int32 = -1

    // Header field offsets.
    static let fVersion = 8, fHeaderSize = 12, fFileSize = 16, fCRC = 20, fFlags = 24
    static let fStringsOffset = 28, fStringsSize = 32
    static let fTensorsOffset = 36, fTensorCount = 40
    static let fBlobsOffset = 44, fBlobCount = 48
    static let fOpsOffset = 52, fOpsSize = 56, fOpCount = 60
    static let fMetaOffset = 64, fMetaSize = 68
    static let fDataOffset = 72, fDataSize = 76

    // Limits that keep every index and size comfortably inside Int32 (and a corrupt count from looping long).
    public static let maxElements = 1 << 28
    public static let maxListCount = 1 << 16
    public static let maxKernelCount = 516
    public static let maxWindow = 1 << 12
}

extension ModelDescription.Window {
    /// 10 words: kh, kw, sh, sw, dh, dw, top, left, bottom, right.
    var words: [Int32] {
        [kernelH, kernelW, strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight]
            .map { Int32(truncatingIfNeeded: $0) }
    }
    init(words w: UnsafeBufferPointer<Int32>, at i: Int) {
        self.init(kernelH: Int(w[i]), kernelW: Int(w[i + 1]), strideH: Int(w[i + 2]), strideW: Int(w[i + 3]),
                  dilationH: Int(w[i + 4]), dilationW: Int(w[i + 5]), padTop: Int(w[i + 6]),
                  padLeft: Int(w[i + 7]), padBottom: Int(w[i + 8]), padRight: Int(w[i + 9]))
    }
}

@inline(__always) func w32(_ v: Int) -> Int32 { Int32(truncatingIfNeeded: v) }
@inline(__always) func w32(_ v: TensorID) -> Int32 { Int32(truncatingIfNeeded: v.index) }
@inline(__always) func w32(_ v: BlobID) -> Int32 { Int32(truncatingIfNeeded: v.index) }
@inline(__always) func w32(_ v: BlobID?) -> Int32 { v.map { Int32(truncatingIfNeeded: $0.index) } ?? ModelFormat.none }
@inline(__always) func optBlob(_ w: Int32) -> BlobID? { w == ModelFormat.none ? nil : BlobID(Int(w)) }

extension ModelDescription.Op {
    /// The op's parameter words (docs/model-format.md, "Operations").
    var parameterWords: [Int32] {
        switch self {
        case .inputTable(let p): return [w32(p.input), w32(p.output), w32(p.table)]
        case .conv2d(let p), .depthwiseConv2d(let p):
            return [w32(p.input), w32(p.output), w32(p.weights), w32(p.bias), w32(p.multipliers)]
                + p.window.words + [w32(p.groups), w32(p.clamp.min), w32(p.clamp.max)]
        case .dynamicConv2d(let p):
            return [w32(p.input), w32(p.coefficients), w32(p.coefficientOffset), Int32(p.mode.rawValue),
                    w32(p.kernelCount), w32(p.output), w32(p.weights), p.depthwise ? 1 : 0, w32(p.mixedBias),
                    w32(p.bias), w32(p.multipliers)]
                + p.window.words + [w32(p.groups), w32(p.clamp.min), w32(p.clamp.max)]
        case .linear(let p):
            return [w32(p.input), w32(p.output), w32(p.weights), w32(p.bias), w32(p.multipliers),
                    w32(p.clamp.min), w32(p.clamp.max)]
        case .add(let p):
            return [w32(p.a), w32(p.b), w32(p.output), w32(p.leftShift), p.aRequant.multiplier, p.aRequant.shift,
                    p.bRequant.multiplier, p.bRequant.shift, p.outputRequant.multiplier, p.outputRequant.shift,
                    w32(p.clamp.min), w32(p.clamp.max)]
        case .concat(let p):
            var w: [Int32] = [w32(p.output), w32(p.inputs.count)]
            for t in p.inputs { w.append(w32(t)) }
            for i in 0..<p.inputs.count {
                let r = i < p.requants.count ? p.requants[i] : ModelDescription.Requant(multiplier: -1, shift: 0)
                w.append(r.multiplier); w.append(r.shift)
            }
            return w
        case .channelShuffle(let p): return [w32(p.input), w32(p.output), w32(p.groups)]
        case .channelSplit(let p):
            var w: [Int32] = [w32(p.input), w32(p.outputs.count)]
            for t in p.outputs { w.append(w32(t)) }
            return w
        case .maxPool(let p), .avgPool(let p):
            return [w32(p.input), w32(p.output)] + p.window.words
                + [p.countIncludePad ? 1 : 0, w32(p.clamp.min), w32(p.clamp.max)]
        case .globalAvgPool(let p):
            return [w32(p.input), w32(p.output), p.requant.multiplier, p.requant.shift, w32(p.clamp.min),
                    w32(p.clamp.max)]
        case .flatten(let p): return [w32(p.input), w32(p.output)]
        case .softmax(let p): return [w32(p.input), w32(p.output), w32(p.expTable)]
        case .gate(let p):
            return [w32(p.input), w32(p.output), Int32(p.kind.rawValue), w32(p.table), w32(p.group)]
        case .table(let p): return [w32(p.input), w32(p.output), w32(p.table)]
        }
    }

    /// Decodes parameter words; checks only the word count and enum codes (ids and ranges are validated later).
    static func decode(code: OpCode, words w: UnsafeBufferPointer<Int32>, op index: Int)
        throws(ModelError) -> ModelDescription.Op
    {
        typealias M = ModelDescription
        func need(_ n: Int) throws(ModelError) {
            if w.count != n {
                throw ModelError(.badOperation, .operation(index), "wrong parameter word count", value: Int64(w.count),
                                 opCode: code)
            }
        }
        func tid(_ i: Int) -> TensorID { TensorID(Int(w[i])) }
        func bid(_ i: Int) -> BlobID { BlobID(Int(w[i])) }
        func clamp(_ i: Int) -> M.Clamp { M.Clamp(min: Int(w[i]), max: Int(w[i + 1])) }
        func rq(_ i: Int) -> M.Requant { M.Requant(multiplier: w[i], shift: w[i + 1]) }
        switch code {
        case .inputTable:
            try need(3)
            return .inputTable(M.InputTable(input: tid(0), output: tid(1), table: bid(2)))
        case .conv2d, .depthwiseConv2d:
            try need(18)
            let p = M.Conv(input: tid(0), output: tid(1), weights: bid(2), bias: optBlob(w[3]), multipliers: bid(4),
                           window: M.Window(words: w, at: 5), groups: Int(w[15]), clamp: clamp(16))
            return code == .conv2d ? .conv2d(p) : .depthwiseConv2d(p)
        case .dynamicConv2d:
            try need(24)
            guard w[3] >= 0, w[3] <= 255, let mode = M.CoefficientMode(rawValue: UInt8(w[3])) else {
                throw ModelError(.badParameter, .operation(index), "unknown coefficient mode", value: Int64(w[3]),
                                 opCode: code)
            }
            guard w[7] == 0 || w[7] == 1 else {
                throw ModelError(.badParameter, .operation(index), "depthwise flag is not 0 or 1", value: Int64(w[7]),
                                 opCode: code)
            }
            return .dynamicConv2d(M.DynamicConv(
                input: tid(0), coefficients: tid(1), coefficientOffset: Int(w[2]), mode: mode,
                kernelCount: Int(w[4]), output: tid(5), weights: bid(6), depthwise: w[7] == 1,
                mixedBias: optBlob(w[8]), bias: optBlob(w[9]), multipliers: bid(10),
                window: M.Window(words: w, at: 11), groups: Int(w[21]), clamp: clamp(22)))
        case .linear:
            try need(7)
            return .linear(M.Linear(input: tid(0), output: tid(1), weights: bid(2), bias: optBlob(w[3]),
                                    multipliers: bid(4), clamp: clamp(5)))
        case .add:
            try need(12)
            return .add(M.Add(a: tid(0), b: tid(1), output: tid(2), leftShift: Int(w[3]), aRequant: rq(4),
                              bRequant: rq(6), outputRequant: rq(8), clamp: clamp(10)))
        case .concat:
            guard w.count >= 2, w[1] >= 1, Int(w[1]) <= ModelFormat.maxListCount else {
                throw ModelError(.badCount, .operation(index), "concat input count not in [1, 65536]",
                                 value: w.count >= 2 ? Int64(w[1]) : nil, opCode: code)
            }
            let n = Int(w[1])
            try need(2 + 3 * n)
            var inputs: [TensorID] = [], requants: [M.Requant] = []
            inputs.reserveCapacity(n); requants.reserveCapacity(n)
            for i in 0..<n { inputs.append(tid(2 + i)); requants.append(rq(2 + n + 2 * i)) }
            return .concat(M.Concat(inputs: inputs, requants: requants, output: tid(0)))
        case .channelShuffle:
            try need(3)
            return .channelShuffle(M.ChannelShuffle(input: tid(0), output: tid(1), groups: Int(w[2])))
        case .channelSplit:
            guard w.count >= 2, w[1] >= 1, Int(w[1]) <= ModelFormat.maxListCount else {
                throw ModelError(.badCount, .operation(index), "split output count not in [1, 65536]",
                                 value: w.count >= 2 ? Int64(w[1]) : nil, opCode: code)
            }
            let n = Int(w[1])
            try need(2 + n)
            var outputs: [TensorID] = []
            outputs.reserveCapacity(n)
            for i in 0..<n { outputs.append(tid(2 + i)) }
            return .channelSplit(M.ChannelSplit(input: tid(0), outputs: outputs))
        case .maxPool, .avgPool:
            try need(15)
            guard w[12] == 0 || w[12] == 1 else {
                throw ModelError(.badParameter, .operation(index), "count_include_pad is not 0 or 1",
                                 value: Int64(w[12]), opCode: code)
            }
            let p = M.Pool(input: tid(0), output: tid(1), window: M.Window(words: w, at: 2),
                           countIncludePad: w[12] == 1, clamp: clamp(13))
            return code == .maxPool ? .maxPool(p) : .avgPool(p)
        case .globalAvgPool:
            try need(6)
            return .globalAvgPool(M.GlobalAvgPool(input: tid(0), output: tid(1), requant: rq(2), clamp: clamp(4)))
        case .flatten:
            try need(2)
            return .flatten(M.Unary(input: tid(0), output: tid(1)))
        case .softmax:
            try need(3)
            return .softmax(M.Softmax(input: tid(0), output: tid(1), expTable: bid(2)))
        case .gate:
            try need(5)
            guard w[2] >= 0, w[2] <= 255, let kind = M.GateKind(rawValue: UInt8(w[2])) else {
                throw ModelError(.badParameter, .operation(index), "unknown gate kind", value: Int64(w[2]),
                                 opCode: code)
            }
            return .gate(M.Gate(input: tid(0), output: tid(1), kind: kind, table: bid(3), group: Int(w[4])))
        case .table:
            try need(3)
            return .table(M.Table(input: tid(0), output: tid(1), table: bid(2)))
        }
    }
}
