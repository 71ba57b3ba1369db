// The op vocabulary of the int8 runtime, every central site in one file: the file's op codes, the host
// description's op enum and the one switch from op code to op kind (`visitOp`). Adding an op adds a case to
// `OpCode` and to `ModelDescription.Op` and one line to each switch below; none has a `default:`, so the compiler
// lists every site. Everything else about the op is its own file, Ops/<Op>.swift.

/// File op codes (docs/model-format.md).
public enum OpCode: UInt16, Equatable, Sendable {
    case inputTable = 1
    case conv2d = 2
    case depthwiseConv2d = 3
    case dynamicConv2d = 4
    case linear = 5
    case add = 6
    case concat = 7
    case channelShuffle = 8
    case channelSplit = 9
    case maxPool = 10
    case avgPool = 11
    case globalAvgPool = 12
    case flatten = 13
    case softmax = 14
    case gate = 15
    case table = 16

    /// The op's name as shown by `dynq inspect` (the graph's spelling where the graph has the op).
    public var name: StaticString {
        switch self {
        case .inputTable: return "input_table"
        case .conv2d: return "conv2d"
        case .depthwiseConv2d: return "depthwise_conv2d"
        case .dynamicConv2d: return "dynamic_conv2d"
        case .linear: return "linear"
        case .add: return "add"
        case .concat: return "concat"
        case .channelShuffle: return "channel_shuffle"
        case .channelSplit: return "channel_split"
        case .maxPool: return "maxpool"
        case .avgPool: return "avgpool"
        case .globalAvgPool: return "global_avgpool"
        case .flatten: return "flatten"
        case .softmax: return "softmax"
        case .gate: return "gate"
        case .table: return "table"
        }
    }
}

/// The one switch from op code to op kind.
@inline(__always)
func visitOp<V: OpVisitor>(_ r: OpRecord, _ v: inout V) throws(ModelError) -> V.Result {
    switch r.code {
    case .inputTable: return try v.visit(InputTableOp.self, InputTableOp.decode(r))
    case .conv2d: return try v.visit(Conv2DOp.self, Conv2DOp.decode(r))
    case .depthwiseConv2d: return try v.visit(DepthwiseConv2DOp.self, DepthwiseConv2DOp.decode(r))
    case .dynamicConv2d: return try v.visit(DynamicConv2DOp.self, DynamicConv2DOp.decode(r))
    case .linear: return try v.visit(LinearOp.self, LinearOp.decode(r))
    case .add: return try v.visit(AddOp.self, AddOp.decode(r))
    case .concat: return try v.visit(ConcatOp.self, ConcatOp.decode(r))
    case .channelShuffle: return try v.visit(ChannelShuffleOp.self, ChannelShuffleOp.decode(r))
    case .channelSplit: return try v.visit(ChannelSplitOp.self, ChannelSplitOp.decode(r))
    case .maxPool: return try v.visit(MaxPoolOp.self, MaxPoolOp.decode(r))
    case .avgPool: return try v.visit(AvgPoolOp.self, AvgPoolOp.decode(r))
    case .globalAvgPool: return try v.visit(GlobalAvgPoolOp.self, GlobalAvgPoolOp.decode(r))
    case .flatten: return try v.visit(FlattenOp.self, FlattenOp.decode(r))
    case .softmax: return try v.visit(SoftmaxOp.self, SoftmaxOp.decode(r))
    case .gate: return try v.visit(GateOp.self, GateOp.decode(r))
    case .table: return try v.visit(TableOp.self, TableOp.decode(r))
    }
}

extension ModelDescription {
    /// Every operation of the int8 runtime, with its host record (each defined in its op's file, Ops/).
    public enum Op: Equatable, Sendable {
        case inputTable(InputTable)
        case conv2d(Conv)
        case depthwiseConv2d(Conv)
        case dynamicConv2d(DynamicConv)
        case linear(Linear)
        case add(Add)
        case concat(Concat)
        case channelShuffle(ChannelShuffle)
        case channelSplit(ChannelSplit)
        case maxPool(Pool)
        case avgPool(Pool)
        case globalAvgPool(GlobalAvgPool)
        case flatten(Unary)
        case softmax(Softmax)
        case gate(Gate)
        case table(Table)
    }

    /// A named operation (the name is the graph node's, used in reports and errors).
    public struct Operation: Equatable, Sendable {
        public var name: String
        public var op: Op
        public init(name: String, op: Op) { self.name = name; self.op = op }
    }
}

extension ModelDescription.Op {
    public var code: OpCode {
        switch self {
        case .inputTable: return .inputTable
        case .conv2d: return .conv2d
        case .depthwiseConv2d: return .depthwiseConv2d
        case .dynamicConv2d: return .dynamicConv2d
        case .linear: return .linear
        case .add: return .add
        case .concat: return .concat
        case .channelShuffle: return .channelShuffle
        case .channelSplit: return .channelSplit
        case .maxPool: return .maxPool
        case .avgPool: return .avgPool
        case .globalAvgPool: return .globalAvgPool
        case .flatten: return .flatten
        case .softmax: return .softmax
        case .gate: return .gate
        case .table: return .table
        }
    }

    /// The op's parameter words (docs/model-format.md, "Operations").
    var parameterWords: [Int32] {
        switch self {
        case .inputTable(let p): return InputTableOp.words(p)
        case .conv2d(let p): return Conv2DOp.words(p)
        case .depthwiseConv2d(let p): return DepthwiseConv2DOp.words(p)
        case .dynamicConv2d(let p): return DynamicConv2DOp.words(p)
        case .linear(let p): return LinearOp.words(p)
        case .add(let p): return AddOp.words(p)
        case .concat(let p): return ConcatOp.words(p)
        case .channelShuffle(let p): return ChannelShuffleOp.words(p)
        case .channelSplit(let p): return ChannelSplitOp.words(p)
        case .maxPool(let p): return MaxPoolOp.words(p)
        case .avgPool(let p): return AvgPoolOp.words(p)
        case .globalAvgPool(let p): return GlobalAvgPoolOp.words(p)
        case .flatten(let p): return FlattenOp.words(p)
        case .softmax(let p): return SoftmaxOp.words(p)
        case .gate(let p): return GateOp.words(p)
        case .table(let p): return TableOp.words(p)
        }
    }

    /// Runs `body` with this op as a file record (its encoded words).
    func withRecord<R>(_ body: (OpRecord) -> R) -> R {
        let w = parameterWords
        return w.withUnsafeBufferPointer { body(OpRecord(index: 0, code: code, words: $0, offset: 0)) }
    }

    /// Tensors read, in order (host tools; allocates).
    public var inputs: [TensorID] { tensors(outputs: false) }
    /// Tensors written, in order (host tools; allocates).
    public var outputs: [TensorID] { tensors(outputs: true) }

    func tensors(outputs: Bool) -> [TensorID] { withRecord { r in Self.tensorIDs(r, outputs: outputs) } }

    /// The tensors a record reads (or writes), in order (host tools; allocates; [] for a record that does not
    /// decode).
    static func tensorIDs(_ r: OpRecord, outputs: Bool) -> [TensorID] {
        struct Lister: OpVisitor {
            typealias Result = Void
            var outputs: Bool
            var ids: [TensorID] = []
            mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) {
                O.forEachTensor(p) { t, isOutput in if isOutput == outputs { ids.append(t) } }
            }
        }
        var v = Lister(outputs: outputs)
        do throws(ModelError) { try visitOp(r, &v) } catch { return [] }
        return v.ids
    }

    /// Decodes a file record into its host description (checks the word count and enum codes only).
    static func decode(_ r: OpRecord) throws(ModelError) -> ModelDescription.Op {
        struct Describer: OpVisitor {
            typealias Result = ModelDescription.Op
            mutating func visit<O: OpKind>(_ kind: O.Type, _ p: O.Parameters) throws(ModelError) -> ModelDescription.Op {
                O.describe(p)
            }
        }
        var v = Describer()
        return try visitOp(r, &v)
    }
}

// Word helpers of the op files.
@inline(__always) func w32(_ v: Int) -> Int32 { Int32(truncatingIfNeeded: v) }
@inline(__always) func w32(_ v: TensorID) -> Int32 { Int32(truncatingIfNeeded: v.index) }
@inline(__always) func w32(_ v: BlobID) -> Int32 { Int32(truncatingIfNeeded: v.index) }
@inline(__always) func w32(_ v: BlobID?) -> Int32 { v.map { Int32(truncatingIfNeeded: $0.index) } ?? ModelFormat.none }

extension Window {
    /// 10 words: kh, kw, sh, sw, dh, dw, top, left, bottom, right.
    var words: [Int32] {
        [kernelH, kernelW, strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight].map { w32($0) }
    }
}

extension ModelDescription.Clamp {
    var words: [Int32] { [w32(min), w32(max)] }
}
