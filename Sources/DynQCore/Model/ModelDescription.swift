/// The in-memory int8 model: what the quantizer builds, what `ModelWriter` turns into a `.dynq` file and what
/// `ModelDescription(model)` recovers from a loaded file (docs/model-format.md, docs/numerics.md).
///
/// Everything here is an integer. Float metadata (tensor scales, preprocessing) is carried as the IEEE-754
/// binary32 **bit pattern** in a `UInt32`; the core stores and copies it but never interprets it (there is no
/// floating point in DynQCore). A host tool reads it back with `Float(bitPattern:)`.
///
/// Vocabulary:
/// - a **tensor** is an activation that lives in the arena at run time (NHWC `[1, H, W, C]` or `[1, F]`);
/// - a **blob** is constant data (weights, biases, multipliers, shifts, tables) that lives in the model file and
///   is used in place;
/// - an **operation** reads and writes tensors and refers to blobs, by index (`TensorID`, `BlobID`).
///
/// Operations are listed in execution order; every tensor except the model input is written by exactly one
/// operation before any operation reads it.
public struct ModelDescription: Equatable, Sendable {
    /// The model's name (the graph's `name`).
    public var name: String
    /// Activations, indexed by `TensorID`.
    public var tensors: [Tensor]
    /// Constant data, indexed by `BlobID`.
    public var blobs: [Blob]
    /// In execution order.
    public var operations: [Operation]
    /// The model input: a `uint8` tensor `[1, H, W, C]` (raw pixels), normally consumed by an `.inputTable`.
    public var input: TensorID
    /// The model outputs; the first is the logits.
    public var outputs: [TensorID]
    /// Class names, index = class id (may be empty).
    public var classNames: [String]
    /// The float preprocessing the input table folds in, kept for reporting only.
    public var preprocess: Preprocess
    /// Free text for tools, never read by the runtime: the quantizer stores its per-layer report table here so that
    /// `dynq inspect MODEL.dynq` can show weight SQNR, calibration ranges and fused-kernel ranges. May be empty.
    public var notes: String

    public init(name: String, tensors: [Tensor], blobs: [Blob], operations: [Operation], input: TensorID,
                outputs: [TensorID], classNames: [String] = [], preprocess: Preprocess = Preprocess(),
                notes: String = "") {
        self.name = name; self.tensors = tensors; self.blobs = blobs; self.operations = operations
        self.input = input; self.outputs = outputs; self.classNames = classNames; self.preprocess = preprocess
        self.notes = notes
    }
}

// MARK: - Identifiers

/// Index of a tensor in `ModelDescription.tensors`.
public struct TensorID: Hashable, Sendable, ExpressibleByIntegerLiteral {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public init(integerLiteral value: Int) { self.index = value }
}

/// Index of a blob in `ModelDescription.blobs`.
public struct BlobID: Hashable, Sendable, ExpressibleByIntegerLiteral {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public init(integerLiteral value: Int) { self.index = value }
}

/// Element type of a tensor or blob. Raw values are the file's type codes.
public enum ElementType: UInt8, Equatable, Sendable {
    case int8 = 1
    case int16 = 2
    case int32 = 3
    case uint8 = 4

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .int8, .uint8: return 1
        case .int16: return 2
        case .int32: return 4
        }
    }
}

extension ModelDescription {
    // MARK: - Tensors and blobs

    /// An activation tensor: `real = scale · (q − zeroPoint)`.
    public struct Tensor: Equatable, Sendable {
        public var name: String
        public var type: ElementType
        /// NHWC `[1, H, W, C]` or `[1, F]`; every dimension ≥ 1.
        public var shape: [Int]
        /// IEEE-754 binary32 bit pattern of the scale (`Float(bitPattern:)` on a host). Q15 coefficient tensors
        /// use `2^−15` (`0x3800_0000`); the uint8 input uses `0x3F80_0000` (1.0).
        public var scaleBits: UInt32
        /// In the element type's range: `[−128, 127]` for int8, `[0, 255]` for uint8, `0` for int16 / int32.
        public var zeroPoint: Int

        public init(name: String, type: ElementType, shape: [Int], scaleBits: UInt32, zeroPoint: Int) {
            self.name = name; self.type = type; self.shape = shape; self.scaleBits = scaleBits
            self.zeroPoint = zeroPoint
        }

        /// The product of `shape`.
        public var elementCount: Int { shape.reduce(1, *) }
        /// `elementCount · type.size`.
        public var byteCount: Int { elementCount * type.size }
    }

    /// Constant data, little-endian, used in place from the model file.
    public struct Blob: Equatable, Sendable {
        public var name: String
        public var type: ElementType
        /// Logical shape (documentation and validation), e.g. `[O, kh, kw, I/groups]`; product = element count.
        public var shape: [Int]
        /// Little-endian element bytes; `bytes.count == shape.product · type.size`.
        public var bytes: [UInt8]

        public init(name: String, type: ElementType, shape: [Int], bytes: [UInt8]) {
            self.name = name; self.type = type; self.shape = shape; self.bytes = bytes
        }
        public init(name: String, int8 values: [Int8], shape: [Int]) {
            self.init(name: name, type: .int8, shape: shape, bytes: values.map { UInt8(bitPattern: $0) })
        }
        public init(name: String, uint8 values: [UInt8], shape: [Int]) {
            self.init(name: name, type: .uint8, shape: shape, bytes: values)
        }
        public init(name: String, int16 values: [Int16], shape: [Int]) {
            var b: [UInt8] = []
            b.reserveCapacity(values.count * 2)
            for v in values { let u = UInt16(bitPattern: v); b.append(UInt8(truncatingIfNeeded: u)); b.append(UInt8(truncatingIfNeeded: u >> 8)) }
            self.init(name: name, type: .int16, shape: shape, bytes: b)
        }
        public init(name: String, int32 values: [Int32], shape: [Int]) {
            var b: [UInt8] = []
            b.reserveCapacity(values.count * 4)
            for v in values {
                let u = UInt32(bitPattern: v)
                b.append(UInt8(truncatingIfNeeded: u)); b.append(UInt8(truncatingIfNeeded: u >> 8))
                b.append(UInt8(truncatingIfNeeded: u >> 16)); b.append(UInt8(truncatingIfNeeded: u >> 24))
            }
            self.init(name: name, type: .int32, shape: shape, bytes: b)
        }

        /// Per-channel `(m, e)` pairs as an int32 `[O][2]` blob.
        public init(name: String, multipliers: [QuantizedMultiplier]) {
            var v: [Int32] = []
            v.reserveCapacity(2 * multipliers.count)
            for m in multipliers { v.append(m.multiplier); v.append(m.shift) }
            self.init(name: name, int32: v, shape: [multipliers.count, 2])
        }

        public var elementCount: Int { type.size == 0 ? 0 : bytes.count / type.size }

        /// Element `i` widened to `Int` (sign-extended for the signed types).
        public func element(_ i: Int) -> Int {
            switch type {
            case .int8: return Int(Int8(bitPattern: bytes[i]))
            case .uint8: return Int(bytes[i])
            case .int16: return Int(Int16(bitPattern: UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8))
            case .int32:
                let u = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                    | UInt32(bytes[4 * i + 3]) << 24
                return Int(Int32(bitPattern: u))
            }
        }
    }

    /// `x = (p · scale − mean[c]) / std[c]` for a raw pixel `p`, as float bit patterns (reporting only; the
    /// input table already folds it in).
    public struct Preprocess: Equatable, Sendable {
        public var scaleBits: UInt32
        /// One entry (broadcast) or one per channel.
        public var meanBits: [UInt32]
        /// One entry (broadcast) or one per channel.
        public var stdBits: [UInt32]
        /// Default: scale 1, mean 0, std 1.
        public init(scaleBits: UInt32 = 0x3F80_0000, meanBits: [UInt32] = [0], stdBits: [UInt32] = [0x3F80_0000]) {
            self.scaleBits = scaleBits; self.meanBits = meanBits; self.stdBits = stdBits
        }
    }

    // MARK: - Quantization parameters

    /// A real multiplier `M ≈ multiplier · 2^(shift − 31)`, applied with single rounding (docs/numerics.md):
    /// `multiplier ∈ [2^30, 2^31)` and `shift ∈ [−31, 30]`, or `multiplier = 0, shift = 0` for `M = 0`.
    /// Per-channel multipliers are int32 `[O][2]` blobs of `(m, e)` pairs (`Blob(name:multipliers:)`), the
    /// layout of `QuantizedMultiplier`, used in place by the kernels.
    public struct Requant: Equatable, Sendable {
        public var multiplier: Int32
        public var shift: Int32
        public init(multiplier: Int32, shift: Int32) { self.multiplier = multiplier; self.shift = shift }
        /// Exactly 1: `2^30 · 2^(1 − 31)`.
        public static let identity = Requant(multiplier: 1 << 30, shift: 1)
    }

    /// The output clamp `[min, max] ⊆ [−128, 127]`; carries a fused ReLU / ReLU6.
    public struct Clamp: Equatable, Sendable {
        public var min: Int
        public var max: Int
        public init(min: Int = -128, max: Int = 127) { self.min = min; self.max = max }
        public static let none = Clamp()
    }

    /// Convolution / pooling window geometry: the shared `Window` (Geometry/Window.swift).
    public typealias Window = DynQCore.Window

    // MARK: - Operations

    /// `conv2d` (grouped included, OHWI weights `[O][kh][kw][I/groups]`) and `depthwiseConv2d` (`groups == I == O`,
    /// channel multiplier 1, weights `[kh][kw][C]`). 1×1 convs are `conv2d`; the runtime picks the kernel.
    public struct Conv: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        /// int8 in `[−127, 127]`, zero point 0, scale `s_w[o]`.
        public var weights: BlobID
        /// int32 `[O]` at scale `s_in · s_w[o]`; none = zeros.
        public var bias: BlobID?
        /// int32 `[O][2]`, `(m, e)` pairs (`QuantizedMultiplier` layout): `M[o] = s_in · s_w[o] / s_out`.
        public var multipliers: BlobID
        public var window: Window
        public var groups: Int
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, weights: BlobID, bias: BlobID?, multipliers: BlobID,
                    window: Window, groups: Int = 1, clamp: Clamp = .none) {
            self.input = input; self.output = output; self.weights = weights; self.bias = bias
            self.multipliers = multipliers; self.window = window; self.groups = groups
            self.clamp = clamp
        }
    }

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
        public init(input: TensorID, coefficients: TensorID, coefficientOffset: Int, mode: CoefficientMode,
                    kernelCount: Int, output: TensorID, weights: BlobID, depthwise: Bool = false,
                    mixedBias: BlobID?, bias: BlobID?, multipliers: BlobID, window: Window, groups: Int = 1,
                    clamp: Clamp = .none) {
            self.input = input; self.coefficients = coefficients; self.coefficientOffset = coefficientOffset
            self.mode = mode; self.kernelCount = kernelCount; self.output = output; self.weights = weights
            self.depthwise = depthwise; self.mixedBias = mixedBias; self.bias = bias; self.multipliers = multipliers
            self.window = window; self.groups = groups; self.clamp = clamp
        }
    }

    /// `linear`: `[1, F] → [1, O]`, weights int8 `[O][F]`, per-output-channel scales.
    public struct Linear: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var weights: BlobID
        /// int32 `[O]` at scale `s_in · s_w[o]`; none = zeros.
        public var bias: BlobID?
        /// int32 `[O][2]` `(m, e)` pairs.
        public var multipliers: BlobID
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, weights: BlobID, bias: BlobID?, multipliers: BlobID,
                    clamp: Clamp = .none) {
            self.input = input; self.output = output; self.weights = weights; self.bias = bias
            self.multipliers = multipliers; self.clamp = clamp
        }
    }

    /// TFLite's int8 add: both inputs `(q − z) << leftShift`, each requantized to a common scale, summed,
    /// requantized to the output, `+ z_out`, clamped. `leftShift` must be 20 (`AddParams.leftShift`; the field
    /// keeps the file general).
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

    /// Channel concatenation; input `i` is requantized to the output by `requants[i]`
    /// (`Requant.identity` with equal zero points is a copy).
    public struct Concat: Equatable, Sendable {
        public var inputs: [TensorID]
        public var requants: [Requant]
        public var output: TensorID
        public init(inputs: [TensorID], requants: [Requant], output: TensorID) {
            self.inputs = inputs; self.requants = requants; self.output = output
        }
    }

    /// ShuffleNet's channel shuffle (`view(g, C/g) → transpose`); keeps scale and zero point.
    public struct ChannelShuffle: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var groups: Int
        public init(input: TensorID, output: TensorID, groups: Int) {
            self.input = input; self.output = output; self.groups = groups
        }
    }

    /// Channel split; the sizes are the outputs' channel counts. Keeps scale and zero point.
    public struct ChannelSplit: Equatable, Sendable {
        public var input: TensorID
        public var outputs: [TensorID]
        public init(input: TensorID, outputs: [TensorID]) { self.input = input; self.outputs = outputs }
    }

    /// `maxPool` (padding never wins) and `avgPool` (sum, then division rounded half away from zero). Both keep
    /// the input's scale and zero point. Dilation must be 1.
    public struct Pool: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var window: Window
        /// avgPool only: padded positions count in the divisor (PyTorch's default).
        public var countIncludePad: Bool
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, window: Window, countIncludePad: Bool = true,
                    clamp: Clamp = .none) {
            self.input = input; self.output = output; self.window = window; self.countIncludePad = countIncludePad
            self.clamp = clamp
        }
    }

    /// Global average pool `[1, H, W, C] → [1, 1, 1, C]`: int32 sum of `(q − z_in)` over H·W, requantized by
    /// `requant` (`M = s_in / (H·W · s_out)`), `+ z_out`, clamped. The first step of a CPM.
    public struct GlobalAvgPool: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var requant: Requant
        public var clamp: Clamp
        public init(input: TensorID, output: TensorID, requant: Requant, clamp: Clamp = .none) {
            self.input = input; self.output = output; self.requant = requant; self.clamp = clamp
        }
    }

    /// An op with one input and one output and no parameters (`flatten`: NHWC → PyTorch's CHW order).
    public struct Unary: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public init(input: TensorID, output: TensorID) { self.input = input; self.output = output }
    }

    /// int8 softmax over `[1, F]`: `d = max − q`, `E[d]` from an int32 `[256]` table (values in `[0, 2^16]`)
    /// (`round(2^16 · exp(−s_in · d / T))`), output `round_half_away(256 · E / ΣE) − 128` at scale 1/256,
    /// zero point −128.
    public struct Softmax: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var expTable: BlobID
        public init(input: TensorID, output: TensorID, expTable: BlobID) {
            self.input = input; self.output = output; self.expTable = expTable
        }
    }

    public enum GateKind: UInt8, Equatable, Sendable {
        /// `η_q = T[h + 128]`, an int16 `[256]` table.
        case sigmoid = 0
        /// Per chunk of `group`: `d = max(h) − h`, `E[d]` from an int32 `[256]` table,
        /// `η_q = round_half_away(2^15 · E / ΣE)`.
        case softmax = 1
    }

    /// The CPM's gate: int8 logits `[1, N]` → int16 Q15 coefficients `[1, N]` (scale 2^−15, zero point 0).
    public struct Gate: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var kind: GateKind
        public var table: BlobID
        /// softmax: the chunk size (N must be a multiple); sigmoid: ignored (store N).
        public var group: Int
        public init(input: TensorID, output: TensorID, kind: GateKind, table: BlobID, group: Int) {
            self.input = input; self.output = output; self.kind = kind; self.table = table; self.group = group
        }
    }

    /// Element-wise int8 → int8 lookup `y = table[x + 128]` (hardswish, hardsigmoid, unfused ReLU / ReLU6).
    public struct Table: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        /// int8 `[256]`.
        public var table: BlobID
        public init(input: TensorID, output: TensorID, table: BlobID) {
            self.input = input; self.output = output; self.table = table
        }
    }

    /// The input mapping: uint8 `[1, H, W, C]` → int8 `[1, H, W, C]`, `y = table[c][p]`, an int8 `[C][256]`
    /// table that folds preprocessing and input quantization.
    public struct InputTable: Equatable, Sendable {
        public var input: TensorID
        public var output: TensorID
        public var table: BlobID
        public init(input: TensorID, output: TensorID, table: BlobID) {
            self.input = input; self.output = output; self.table = table
        }
    }

    /// Every operation of the int8 runtime. Raw op codes are in `OpCode`.
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

    /// The op's name as shown by `dynq inspect`.
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

    /// Tensors read, in order (allocates; for planning and validation, not for `invoke`).
    public var inputs: [TensorID] {
        switch self {
        case .inputTable(let p): return [p.input]
        case .conv2d(let p), .depthwiseConv2d(let p): return [p.input]
        case .dynamicConv2d(let p): return [p.input, p.coefficients]
        case .linear(let p): return [p.input]
        case .add(let p): return [p.a, p.b]
        case .concat(let p): return p.inputs
        case .channelShuffle(let p): return [p.input]
        case .channelSplit(let p): return [p.input]
        case .maxPool(let p), .avgPool(let p): return [p.input]
        case .globalAvgPool(let p): return [p.input]
        case .flatten(let p): return [p.input]
        case .softmax(let p): return [p.input]
        case .gate(let p): return [p.input]
        case .table(let p): return [p.input]
        }
    }

    /// Tensors written, in order (allocates; for planning and validation, not for `invoke`).
    public var outputs: [TensorID] {
        switch self {
        case .inputTable(let p): return [p.output]
        case .conv2d(let p), .depthwiseConv2d(let p): return [p.output]
        case .dynamicConv2d(let p): return [p.output]
        case .linear(let p): return [p.output]
        case .add(let p): return [p.output]
        case .concat(let p): return [p.output]
        case .channelShuffle(let p): return [p.output]
        case .channelSplit(let p): return p.outputs
        case .maxPool(let p), .avgPool(let p): return [p.output]
        case .globalAvgPool(let p): return [p.output]
        case .flatten(let p): return [p.output]
        case .softmax(let p): return [p.output]
        case .gate(let p): return [p.output]
        case .table(let p): return [p.output]
        }
    }
}
