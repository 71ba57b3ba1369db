/// A validated `.dynq` model for host tools: the in-place `ModelFile` plus its tables as Swift arrays (names,
/// shapes, the op list as `ModelDescription.Operation`s), which inspection, the simulator and the tests read.
/// Loading allocates those tables; the runtime itself (`Interpreter`) works from the `ModelFile` alone and
/// allocates nothing.
///
/// `Model(bytes:)` checks everything before anything runs (`ModelFile.init`, then `ModelFile.validate`): a
/// malformed input of any kind ends in a `ModelError`, never in a trap or a long loop. The bytes are not copied:
/// they must stay valid for the model's lifetime and start on a 16-byte boundary.
public struct Model {
    /// The file, read in place.
    public let file: ModelFile
    /// The file's bytes, exactly `fileSize`.
    public var bytes: UnsafeRawBufferPointer { file.bytes }
    public let name: String
    public let tensors: [ModelDescription.Tensor]
    public let blobs: [BlobRef]
    public let operations: [ModelDescription.Operation]
    public let input: TensorID
    public let outputs: [TensorID]
    public let classNames: [String]
    public let preprocess: ModelDescription.Preprocess
    /// The quantizer's notes (its per-layer report table), for tools; may be empty. Never read by the runtime.
    public let notes: String

    /// Where a blob's bytes are in the file.
    public struct BlobRef: Equatable, Sendable {
        public var name: String
        public var type: ElementType
        public var shape: [Int]
        /// Absolute offset in the file; a multiple of 16.
        public var offset: Int
        public var byteCount: Int
        public var elementCount: Int { byteCount / type.size }
    }

    public init(bytes buffer: UnsafeRawBufferPointer) throws(ModelError) {
        let f = try ModelFile(bytes: buffer)
        let work = UnsafeMutableRawBufferPointer.allocate(byteCount: max(f.validationWorkBytes, 1), alignment: 16)
        defer { work.deallocate() }
        try f.validate(work: work)
        self.file = f
        func text(_ at: Int) -> String {
            String(decoding: (try? f.string(at: at, .meta)) ?? UnsafeRawBufferPointer(start: nil, count: 0), as: UTF8.self)
        }
        self.tensors = (0..<f.tensorCount).map { i in
            let r = f.tensor(i)
            return ModelDescription.Tensor(name: text(f.tensorTable + i * ModelFormat.recordSize), type: r.type,
                                           shape: r.shape.dimensions, scaleBits: r.scaleBits, zeroPoint: r.zeroPoint)
        }
        self.blobs = (0..<f.blobCount).map { i in
            let r = f.blob(i)
            return BlobRef(name: text(f.blobTable + i * ModelFormat.recordSize), type: r.type,
                           shape: r.shape.dimensions, offset: r.offset, byteCount: r.byteCount)
        }
        var ops: [ModelDescription.Operation] = []
        ops.reserveCapacity(f.opCount)
        try f.forEachOp { (r: OpRecord) throws(ModelError) in
            ops.append(ModelDescription.Operation(name: text(r.offset + 4), op: try ModelDescription.Op.decode(r)))
        }
        self.operations = ops
        self.name = text(f.meta.lowerBound)
        self.input = f.input
        self.outputs = (0..<f.outputCount).map { f.output($0) }
        self.classNames = (0..<f.classCount).map { text(f.classList + 8 * $0) }
        func floats(_ at: Int, _ n: Int) -> [UInt32] { (0..<n).map { UInt32(bitPattern: f.i32(at + 4 * $0)) } }
        self.preprocess = ModelDescription.Preprocess(scaleBits: UInt32(bitPattern: f.i32(f.meanList - 8)),
                                                      meanBits: floats(f.meanList, f.meanCount),
                                                      stdBits: floats(f.stdList, f.stdCount))
        self.notes = text(f.notesField)
    }

    /// A blob's bytes, in place.
    public func blobBytes(_ id: BlobID) -> UnsafeRawBufferPointer {
        let b = blobs[id.index]
        return UnsafeRawBufferPointer(rebasing: bytes[b.offset..<(b.offset + b.byteCount)])
    }
    /// A blob as a typed pointer, in place.
    public func pointer<T>(_ id: BlobID, as: T.Type) -> UnsafePointer<T> { file.pointer(id, as: T.self) }
    public func optionalPointer<T>(_ id: BlobID?, as: T.Type) -> UnsafePointer<T>? { file.optionalPointer(id, as: T.self) }
}

extension ModelDescription {
    /// Copies a loaded model back into an owned description (for tools and round-trip tests).
    public init(_ m: Model) {
        var blobs: [Blob] = []
        blobs.reserveCapacity(m.blobs.count)
        for (i, b) in m.blobs.enumerated() {
            blobs.append(Blob(name: b.name, type: b.type, shape: b.shape, bytes: Array(m.blobBytes(BlobID(i)))))
        }
        self.init(name: m.name, tensors: m.tensors, blobs: blobs, operations: m.operations, input: m.input,
                  outputs: m.outputs, classNames: m.classNames, preprocess: m.preprocess, notes: m.notes)
    }
}
