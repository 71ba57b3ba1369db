import Foundation
import Testing
@testable import DynQGraph

// Malformed or unsupported ONNX input: every failure is one DynQError line naming the file and (for graph
// problems) the node's name and op type; nothing traps or allocates what a header claims before checking it.

/// A minimal protobuf writer for building test models by hand.
struct PB {
    var bytes: [UInt8] = []
    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func int(_ field: Int, _ v: Int64) { key(field, 0); varint(UInt64(bitPattern: v)) }
    mutating func bytes(_ field: Int, _ b: [UInt8]) { key(field, 2); varint(UInt64(b.count)); bytes += b }
    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }
    mutating func message(_ field: Int, _ build: (inout PB) -> Void) {
        var m = PB()
        build(&m)
        bytes(field, m.bytes)
    }
}

/// ValueInfoProto of a float tensor with `dims`.
func valueInfo(_ m: inout PB, _ field: Int, _ name: String, _ dims: [Int64]) {
    m.message(field) { v in
        v.string(1, name)
        v.message(2) { t in
            t.message(1) { tt in
                tt.int(1, 1)
                tt.message(2) { s in for d in dims { s.message(1) { dim in dim.int(1, d) } } }
            }
        }
    }
}

/// A model `x [1,1,4,4] → op → y` with the given node body and optional initializers.
func tinyModel(node: (inout PB) -> Void, initializers: [(inout PB) -> Void] = []) -> [UInt8] {
    var model = PB()
    model.int(1, 8)
    model.message(8) { o in o.int(2, 17) }
    model.message(7) { g in
        g.message(1, node)
        for i in initializers { g.message(5, i) }
        g.string(2, "tiny")
        valueInfo(&g, 11, "x", [1, 1, 4, 4])
        valueInfo(&g, 12, "y", [1, 1, 4, 4])
    }
    return model.bytes
}

/// A model with input `x` [1,1,4,4], several nodes, initializers and output `output`.
func tinyModelWithNodes(_ nodes: [(inout PB) -> Void], initializers: [(inout PB) -> Void] = [],
                        output: String) -> [UInt8] {
    var model = PB()
    model.int(1, 8)
    model.message(8) { o in o.int(2, 17) }
    model.message(7) { g in
        for n in nodes { g.message(1, n) }
        for i in initializers { g.message(5, i) }
        valueInfo(&g, 11, "x", [1, 1, 4, 4])
        valueInfo(&g, 12, output, [1, 1, 4, 4])
    }
    return model.bytes
}

func importBytes(_ bytes: [UInt8]) throws {
    let path = try temporaryDirectory() + "/model.onnx"
    try FileIO.write(bytes, to: path)
    _ = try importONNX(path: path)
}

/// Expects one line naming the file (`model.onnx`) and every fragment.
func expectONNXError(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let e as DynQError {
        let text = e.description
        #expect(!text.contains("\n"), "not one line: \(text)", sourceLocation: sourceLocation)
        #expect(e.file?.hasSuffix(".onnx") == true, "no file in \(text)", sourceLocation: sourceLocation)
        for f in fragments { #expect(text.contains(f), "\"\(text)\" lacks \"\(f)\"", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected a DynQError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("ONNX import: malformed and unsupported files")
struct ONNXMalformedTests {
    @Test("a hand-built one-node model imports (the writer below is right)")
    func tinyModelImports() throws {
        let bytes = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.string(3, "act"); n.string(4, "Relu") })
        let path = try temporaryDirectory() + "/model.onnx"
        try FileIO.write(bytes, to: path)
        let g = try decodeGraph(try importONNX(path: path).graph)
        #expect(g.nodes.map(\.op) == [.relu])
        #expect(g.input.shape == [1, 1, 4, 4])
    }

    @Test("every truncation of a real model is refused with one line, never a trap")
    func truncated() throws {
        let bytes = try FileIO.read(onnxFixtures + "/plain.onnx")
        for cut in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 97)) {
            expectONNXError { try importBytes(Array(bytes[..<cut])) }
        }
        expectONNXError("not a valid ONNX file") { try importBytes(Array(bytes[..<(bytes.count / 2)])) }
    }

    @Test("a field of the wrong wire type is refused naming the message and field")
    func wrongFieldType() throws {
        var m = PB()
        m.int(7, 5)  // graph as a varint
        expectONNXError("ModelProto", "'graph' must be a message") { try importBytes(m.bytes) }
        let badName = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.int(3, 7); n.string(4, "Relu") })
        expectONNXError("NodeProto", "'name' must be a string") { try importBytes(badName) }
    }

    @Test("an unknown operator is refused with the node's name and op type")
    func unknownOp() throws {
        let bytes = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.string(3, "weird"); n.string(4, "Erf") })
        expectONNXError("node 'weird' (Erf)", "unknown operator") { try importBytes(bytes) }
    }

    @Test("a supported operator used in an unsupported way names the node")
    func unsupportedUse() throws {
        let bytes = tinyModel(node: { n in
            n.string(1, "x"); n.string(1, "x"); n.string(2, "y"); n.string(3, "square"); n.string(4, "Mul")
        })
        expectONNXError("node 'square' (Mul)", "multiplying activations") { try importBytes(bytes) }
    }

    @Test("absurd tensor sizes are refused before anything is allocated")
    func absurdSizes() throws {
        let huge = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.string(4, "Relu") },
                             initializers: [{ t in t.int(1, 1 << 40); t.int(2, 1); t.string(8, "w") }])
        expectONNXError("tensor 'w'", "dimension") { try importBytes(huge) }
        let product = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.string(4, "Relu") },
                                initializers: [{ t in for _ in 0..<4 { t.int(1, 1 << 20) }; t.int(2, 1); t.string(8, "w") }])
        expectONNXError("tensor 'w'", "elements") { try importBytes(product) }
        let short = tinyModel(node: { n in n.string(1, "x"); n.string(2, "y"); n.string(4, "Relu") },
                              initializers: [{ t in t.int(1, 1000); t.int(2, 1); t.string(8, "w"); t.bytes(9, [0, 0, 0, 0]) }])
        expectONNXError("tensor 'w'", "raw_data is 4 bytes") { try importBytes(short) }
    }

    @Test("a file that is not ONNX at all is refused")
    func notONNX() throws {
        expectONNXError { try importBytes(Array("{\"format\": \"dynq-graph\"}".utf8)) }
        expectONNXError("no graph") { try importBytes([]) }
    }

    @Test("fuzzing finds: an einsum whose labels do not fit its operands, a Gather of a scalar, a node without outputs, a pool without inputs: refused, not read out of bounds")
    func fuzzedEinsum() throws {
        // fixtures/onnx/fuzz/einsum-out-of-range.onnx: found by `scripts/fuzz.sh onnx` (libFuzzer mutation of the
        // committed seeds); before the bound in linContract it trapped with "Index out of range".
        expectONNXError("einsum") { _ = try importONNX(path: onnxFixtures + "/fuzz/einsum-out-of-range.onnx") }
        // fixtures/onnx/fuzz/gather-of-scalar.onnx: a Gather of a rank-0 tensor along axis 0 (same campaign).
        expectONNXError("axis 0 out of range for rank 0") {
            _ = try importONNX(path: onnxFixtures + "/fuzz/gather-of-scalar.onnx")
        }
        // fixtures/onnx/fuzz/node-without-outputs.onnx: a Relu node with no output (same campaign).
        expectONNXError { _ = try importONNX(path: onnxFixtures + "/fuzz/node-without-outputs.onnx") }
        // fixtures/onnx/fuzz/pool-without-inputs.onnx: a GlobalAveragePool without inputs feeding a CPM (a 400 s
        // run on 2026-12-07); the coefficient-predictor pattern walk trapped indexing the pool's missing input.
        expectONNXError { _ = try importONNX(path: onnxFixtures + "/fuzz/pool-without-inputs.onnx") }
    }

    @Test("folding that would allocate absurd tensors is refused, not attempted")
    func absurdFolding() throws {
        // Expand of a constant to [2^20, 2^20], then Relu of it as the output.
        let expand = tinyModelWithNodes([
            { n in n.string(1, "c"); n.string(1, "s"); n.string(2, "e"); n.string(3, "big"); n.string(4, "Expand") },
            { n in n.string(1, "x"); n.string(2, "y"); n.string(3, "act"); n.string(4, "Relu") },
            { n in n.string(1, "e"); n.string(1, "y"); n.string(2, "z"); n.string(3, "sum"); n.string(4, "Add") },
        ], initializers: [
            { t in t.int(1, 1); t.int(2, 1); t.string(8, "c"); t.bytes(9, [0, 0, 128, 63]) },
            { t in t.int(1, 2); t.int(2, 7); t.string(8, "s"); t.bytes(9, [0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0]) },
        ], output: "z")
        expectONNXError("node 'big' (Expand)", "larger than") { try importBytes(expand) }
        let fill = tinyModelWithNodes([
            { n in n.string(1, "s"); n.string(2, "e"); n.string(3, "fill"); n.string(4, "ConstantOfShape") },
            { n in n.string(1, "x"); n.string(1, "e"); n.string(2, "y"); n.string(3, "sum"); n.string(4, "Add") },
        ], initializers: [
            { t in t.int(1, 2); t.int(2, 7); t.string(8, "s"); t.bytes(9, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]) },
        ], output: "y")
        expectONNXError("node 'fill' (ConstantOfShape)", "bad shape") { try importBytes(fill) }
        let pads = tinyModel(node: { n in
            n.string(1, "x"); n.string(2, "y"); n.string(3, "pool"); n.string(4, "MaxPool")
            n.message(5) { a in a.string(1, "kernel_shape"); a.int(20, 7); a.int(8, 2); a.int(8, 2) }
            n.message(5) { a in a.string(1, "pads"); a.int(20, 7); for v in [1 << 40, 0, 1 << 40, 0] { a.int(8, Int64(v)) } }
        })
        expectONNXError("node 'pool' (MaxPool)", "'pads'") { try importBytes(pads) }
    }
}
