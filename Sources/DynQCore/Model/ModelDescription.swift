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
}
