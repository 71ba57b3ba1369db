/// The ONNX messages DynQ reads (onnx/onnx.proto, IR version 3 and later), decoded with `ProtoReader`.
///
/// Only what an importer of CNNs needs is kept; other fields are skipped. Limits, checked before allocating:
/// at most `onnxMaxElements` elements per tensor, `onnxMaxDims` dimensions, and the byte size of a tensor's data
/// must equal its element count times its element size. Tensors stored outside the file (`external_data`) and
/// sub-graph attributes are refused when used.

/// The most elements one tensor may have (2^28 floats = 1 GiB).
public let onnxMaxElements = 1 << 28
public let onnxMaxDims = 8

public struct ONNXModel: Sendable {
    public var irVersion: Int64 = 0
    /// Opset version of the default ("" / "ai.onnx") domain.
    public var opset: Int64 = 0
    public var producer = ""
    public var graph = ONNXGraph()
}

public struct ONNXGraph: Sendable {
    public var name = ""
    public var nodes: [ONNXNode] = []
    public var initializers: [ONNXTensor] = []
    public var inputs: [ONNXValueInfo] = []
    public var outputs: [ONNXValueInfo] = []
}

public struct ONNXNode: Sendable {
    public var name = ""
    public var opType = ""
    public var domain = ""
    public var inputs: [String] = []
    public var outputs: [String] = []
    public var attributes: [String: ONNXAttribute] = [:]
}

public enum ONNXAttribute: Sendable {
    case float(Float)
    case int(Int64)
    case string(String)
    case tensor(ONNXTensor)
    case floats([Float])
    case ints([Int64])
    case strings([String])
    /// Graphs, sparse tensors, type protos: read but not usable by DynQ.
    case unsupported(String)
}

/// ONNX `TensorProto.DataType` values DynQ converts.
public enum ONNXDataType: Int32, Sendable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10
    case double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16

    var byteSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .float, .int32, .uint32: return 4
        case .int64, .double, .uint64: return 8
        }
    }
    var isInteger: Bool { ![.float, .float16, .double, .bfloat16].contains(self) }
}

/// A constant tensor, converted to doubles (exact for every float32 and for integers up to 2^53; larger int64
/// values, such as the INT64_MAX `Slice` uses for "to the end", are clamped when read as indices).
public struct ONNXTensor: Sendable {
    public var name = ""
    public var dims: [Int] = []
    public var dataType: ONNXDataType = .float
    public var values: [Double] = []
}

public struct ONNXValueInfo: Sendable {
    public var name = ""
    /// nil: no shape given; a dimension is nil when symbolic (`dim_param`) or absent.
    public var shape: [Int?]?
}

// MARK: - Decoding

/// Decodes a serialized `ModelProto`. Errors name `file`.
public func decodeONNXModel(_ bytes: [UInt8], file: String? = nil) throws -> ONNXModel {
    var r = ProtoReader(bytes, message: "ModelProto", file: file)
    var model = ONNXModel()
    var sawGraph = false
    while let (f, v) = try r.next() {
        switch f {
        case 1: model.irVersion = try r.int(v, field: "ir_version")
        case 2: model.producer = try r.string(v, field: "producer_name")
        case 7: model.graph = try decodeGraphProto(try r.submessage(v, field: "graph", as: "GraphProto")); sawGraph = true
        case 8:
            var s = try r.submessage(v, field: "opset_import", as: "OperatorSetIdProto")
            var domain = "", version: Int64 = 0
            while let (g, w) = try s.next() {
                if g == 1 { domain = try s.string(w, field: "domain") }
                if g == 2 { version = try s.int(w, field: "version") }
            }
            if domain.isEmpty || domain == "ai.onnx" { model.opset = version }
        default: break
        }
    }
    guard sawGraph else { throw r.error("no graph (is this an ONNX model file?)") }
    return model
}

private func decodeGraphProto(_ reader: ProtoReader) throws -> ONNXGraph {
    var r = reader
    var g = ONNXGraph()
    while let (f, v) = try r.next() {
        switch f {
        case 1: g.nodes.append(try decodeNode(try r.submessage(v, field: "node", as: "NodeProto")))
        case 2: g.name = try r.string(v, field: "name")
        case 5: g.initializers.append(try decodeTensor(try r.submessage(v, field: "initializer", as: "TensorProto")))
        case 15: throw r.error("sparse initializers are not supported")
        case 11: g.inputs.append(try decodeValueInfo(try r.submessage(v, field: "input", as: "ValueInfoProto")))
        case 12: g.outputs.append(try decodeValueInfo(try r.submessage(v, field: "output", as: "ValueInfoProto")))
        default: break
        }
    }
    return g
}

private func decodeNode(_ reader: ProtoReader) throws -> ONNXNode {
    var r = reader
    var n = ONNXNode()
    var attributes: [(String, ONNXAttribute)] = []
    while let (f, v) = try r.next() {
        switch f {
        case 1: n.inputs.append(try r.string(v, field: "input"))
        case 2: n.outputs.append(try r.string(v, field: "output"))
        case 3: n.name = try r.string(v, field: "name")
        case 4: n.opType = try r.string(v, field: "op_type")
        case 7: n.domain = try r.string(v, field: "domain")
        case 5: attributes.append(try decodeAttribute(try r.submessage(v, field: "attribute", as: "AttributeProto")))
        default: break
        }
    }
    for (k, a) in attributes { n.attributes[k] = a }
    return n
}

private func decodeAttribute(_ reader: ProtoReader) throws -> (String, ONNXAttribute) {
    var r = reader
    var name = "", type: Int64 = 0
    var f: Float = 0, i: Int64 = 0, s = "", t: ONNXTensor?
    var floats: [UInt64] = [], ints: [Int64] = [], strings: [String] = []
    while let (field, v) = try r.next() {
        switch field {
        case 1: name = try r.string(v, field: "name")
        case 20: type = try r.int(v, field: "type")
        case 2: f = try r.float(v, field: "f")
        case 3: i = try r.int(v, field: "i")
        case 4:
            guard case .bytes(let b) = v else { throw r.error("field 's' must be bytes") }
            s = String(decoding: b, as: UTF8.self)
        case 5: t = try decodeTensor(try r.submessage(v, field: "t", as: "TensorProto"))
        case 7: try r.fixed(v, width: 4, field: "floats", into: &floats)
        case 8: try r.ints(v, field: "ints", into: &ints)
        case 9: strings.append(try r.string(v, field: "strings"))
        default: break
        }
    }
    switch type {
    case 1: return (name, .float(f))
    case 2: return (name, .int(i))
    case 3: return (name, .string(s))
    case 4:
        guard let t else { throw r.error("attribute '\(name)' of type TENSOR has no tensor") }
        return (name, .tensor(t))
    case 6: return (name, .floats(floats.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }))
    case 7: return (name, .ints(ints))
    case 8: return (name, .strings(strings))
    default: return (name, .unsupported("attribute '\(name)' has type \(type) (graphs, sparse tensors and type protos are not supported)"))
    }
}

private func decodeValueInfo(_ reader: ProtoReader) throws -> ONNXValueInfo {
    var r = reader
    var info = ONNXValueInfo()
    while let (f, v) = try r.next() {
        if f == 1 { info.name = try r.string(v, field: "name") }
        guard f == 2 else { continue }
        var type = try r.submessage(v, field: "type", as: "TypeProto")
        while let (g, w) = try type.next() {
            guard g == 1 else { continue }
            var tensor = try type.submessage(w, field: "tensor_type", as: "TypeProto.Tensor")
            while let (h, x) = try tensor.next() {
                guard h == 2 else { continue }
                var shape = try tensor.submessage(x, field: "shape", as: "TensorShapeProto")
                var dims: [Int?] = []
                while let (k, y) = try shape.next() {
                    guard k == 1 else { continue }
                    var dim = try shape.submessage(y, field: "dim", as: "TensorShapeProto.Dimension")
                    var value: Int?
                    while let (m, z) = try dim.next() {
                        guard m == 1 else { continue }
                        let d = try dim.int(z, field: "dim_value")
                        guard d >= 0, d <= onnxMaxElements else { throw dim.error("dimension \(d) out of range") }
                        value = Int(d)
                    }
                    guard dims.count < onnxMaxDims else { throw shape.error("more than \(onnxMaxDims) dimensions") }
                    dims.append(value)
                }
                info.shape = dims
            }
        }
    }
    return info
}

private func decodeTensor(_ reader: ProtoReader) throws -> ONNXTensor {
    var r = reader
    var t = ONNXTensor()
    var dims: [Int64] = []
    var type: Int64 = 1
    var raw: ArraySlice<UInt8>?
    var floats: [UInt64] = [], doubles: [UInt64] = [], int32s: [Int64] = [], int64s: [Int64] = [], uint64s: [UInt64] = []
    var external = false
    while let (f, v) = try r.next() {
        switch f {
        case 1: try r.ints(v, field: "dims", into: &dims)
        case 2: type = try r.int(v, field: "data_type")
        case 8: t.name = try r.string(v, field: "name")
        case 9:
            guard case .bytes(let b) = v else { throw r.error("field 'raw_data' must be bytes") }
            raw = b
        case 4: try r.fixed(v, width: 4, field: "float_data", into: &floats)
        case 5: try r.ints(v, field: "int32_data", into: &int32s)
        case 7: try r.ints(v, field: "int64_data", into: &int64s)
        case 10: try r.fixed(v, width: 8, field: "double_data", into: &doubles)
        case 11:
            var u: [Int64] = []
            try r.ints(v, field: "uint64_data", into: &u)
            uint64s.append(contentsOf: u.map { UInt64(bitPattern: $0) })
        case 13: external = true
        case 14: if try r.int(v, field: "data_location") == 1 { external = true }
        default: break
        }
        guard dims.count <= onnxMaxDims else { throw r.error("tensor '\(t.name)' has more than \(onnxMaxDims) dimensions") }
    }
    let label = "tensor '\(t.name)'"
    guard !external else { throw r.error("\(label) keeps its data in an external file (not supported: save the model with the weights inside)") }
    guard let dt = ONNXDataType(rawValue: Int32(truncatingIfNeeded: type)) else {
        throw r.error("\(label) has data type \(type), which DynQ does not read")
    }
    var count = 1
    for d in dims {
        guard d >= 0, d <= onnxMaxElements else { throw r.error("\(label) has dimension \(d)") }
        count *= Int(d)
        guard count <= onnxMaxElements else { throw r.error("\(label) has more than \(onnxMaxElements) elements") }
    }
    t.dims = dims.map(Int.init)
    t.dataType = dt
    if let raw {
        guard raw.count == count * dt.byteSize else {
            throw r.error("\(label): raw_data is \(raw.count) bytes, \(t.dims) \(dt) needs \(count * dt.byteSize)")
        }
        t.values = decodeRaw(raw, dt, count)
        return t
    }
    let have: Int
    switch dt {
    case .float: have = floats.count; t.values = floats.map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0))) }
    case .double: have = doubles.count; t.values = doubles.map { Double(bitPattern: $0) }
    case .int64: have = int64s.count; t.values = int64s.map(Double.init)
    case .uint32, .uint64: have = uint64s.count; t.values = uint64s.map(Double.init)
    case .float16: have = int32s.count; t.values = int32s.map { Double(floatFromHalfBits(UInt16(truncatingIfNeeded: $0))) }
    case .bfloat16: have = int32s.count; t.values = int32s.map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16)) }
    default: have = int32s.count; t.values = int32s.map(Double.init)
    }
    guard have == count else { throw r.error("\(label) has \(have) values, its shape \(t.dims) needs \(count)") }
    return t
}

private func decodeRaw(_ raw: ArraySlice<UInt8>, _ dt: ONNXDataType, _ count: Int) -> [Double] {
    var out = [Double](repeating: 0, count: count)
    raw.withUnsafeBytes { p in
        for k in 0..<count {
            switch dt {
            case .float: out[k] = Double(Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian))
            case .double: out[k] = Double(bitPattern: p.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self).littleEndian)
            case .int64: out[k] = Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
            case .uint64: out[k] = Double(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)))
            case .int32: out[k] = Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
            case .uint32: out[k] = Double(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
            case .int16: out[k] = Double(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
            case .uint16: out[k] = Double(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
            case .float16: out[k] = Double(floatFromHalfBits(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))))
            case .bfloat16: out[k] = Double(Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) << 16))
            case .int8: out[k] = Double(Int8(bitPattern: p[k]))
            case .uint8, .bool: out[k] = Double(p[k])
            }
        }
    }
    return out
}
