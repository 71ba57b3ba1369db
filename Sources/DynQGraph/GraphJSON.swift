/// `Graph` ↔ JSON (docs/graph-format.md, version 1).
///
/// Decoding is strict: unknown ops, unknown or missing fields, values of the wrong type or range and a wrong
/// `format`/`version` are refused with an error naming the node and the field. Encoding is deterministic
/// (fixed key order, every geometry field written explicitly), so `decodeGraph(encodeGraph(g)) == g`.
///
/// Structural checks only: tensor names, shapes and weights are checked by `inferShapes` (GraphValidation.swift).
/// Each op's attributes are read and written by its `Ops/<Op>.swift` (`OpDefinition.decode` / `encode`).

/// The largest value accepted for a stride, padding, dilation, kernel size, group count or coefficient offset.
public let graphMaxAttributeValue = 1 << 20

/// The largest graph file `loadGraph` reads (the paper's ResNet50 is about 0.1 MB).
public let graphMaxFileBytes = 1 << 24

/// Reads and decodes a graph file (size and leading `{` checked before it is read). Errors name `path`.
public func loadGraph(_ path: String) throws -> Graph {
    let bytes = try FileIO.readJSONDocument(path, limit: graphMaxFileBytes, what: "a graph file")
    let json = try JSON.parse(bytes, file: path)
    return try decodeGraph(json, file: path)
}

/// Writes `graph` as pretty-printed JSON (with a trailing newline).
public func writeGraph(_ graph: Graph, to path: String) throws {
    try FileIO.write(Array((encodeGraph(graph).serialized(pretty: true) + "\n").utf8), to: path)
}

// MARK: - Decoding

/// Decodes a graph document. `file` is only used in error messages.
public func decodeGraph(_ json: JSON, file: String? = nil) throws -> Graph {
    var top = try FieldReader(json, context: "graph", file: file)
    guard let format = try top.string("format"), format == "dynq-graph" else {
        throw top.error("'format' must be \"dynq-graph\"")
    }
    guard let version = try top.int("version"), version == 1 else {
        throw top.error("unsupported 'version' (this DynQ reads version 1)")
    }
    let name = try top.string("name") ?? ""
    guard let inputJSON = top.take("input") else { throw top.error("missing field 'input'") }
    let input = try decodeInput(inputJSON, file: file)
    guard let outputs = try top.names("outputs"), !outputs.isEmpty else {
        throw top.error("missing or empty field 'outputs'")
    }
    let classes = try top.strings("classes") ?? []
    guard let nodesJSON = top.take("nodes") else { throw top.error("missing field 'nodes'") }
    guard let nodeItems = nodesJSON.arrayValue else {
        throw top.error("field 'nodes' must be an array, not a \(nodesJSON.kindName)")
    }
    try top.finish()
    var nodes: [Node] = []
    for (k, item) in nodeItems.enumerated() {
        nodes.append(try decodeNode(item, index: k, file: file))
    }
    return Graph(name: name, input: input, outputs: outputs, classes: classes, nodes: nodes)
}

private func decodeInput(_ json: JSON, file: String?) throws -> InputSpec {
    var r = try FieldReader(json, context: "input", file: file)
    guard let name = try r.name("name") else { throw r.error("missing field 'name'") }
    guard let shape = try r.ints("shape"), shape.count == 4, shape[0] == 1, shape.allSatisfy({ $0 > 0 }) else {
        throw r.error("'shape' must be [1, C, H, W] with positive sizes")
    }
    if let layout = try r.string("layout"), layout != "NCHW" {
        throw r.error("layout \"\(layout)\" is not supported (only \"NCHW\")")
    }
    var preprocess = Preprocess()
    if let pj = r.take("preprocess") {
        var p = try FieldReader(pj, context: "input.preprocess", file: file)
        preprocess.scale = try p.float("scale") ?? 1
        preprocess.mean = try p.floats("mean") ?? [0]
        preprocess.std = try p.floats("std") ?? [1]
        try p.finish()
        let c = shape[1]
        guard [1, c].contains(preprocess.mean.count) else {
            throw p.error("'mean' must have 1 or \(c) entries, not \(preprocess.mean.count)")
        }
        guard [1, c].contains(preprocess.std.count) else {
            throw p.error("'std' must have 1 or \(c) entries, not \(preprocess.std.count)")
        }
        guard preprocess.std.allSatisfy({ $0 != 0 }) else { throw p.error("'std' entries must be non-zero") }
    }
    try r.finish()
    return InputSpec(name: name, shape: shape, preprocess: preprocess)
}

private func decodeNode(_ json: JSON, index: Int, file: String?) throws -> Node {
    guard json.objectValue != nil else {
        throw DynQError(file: file, "node #\(index) must be an object, not a \(json.kindName)")
    }
    let label = json["name"]?.stringValue.map { "node '\($0)'" } ?? "node #\(index)"
    var r = try FieldReader(json, context: label, file: file)
    guard let name = try r.name("name") else { throw r.error("missing field 'name'") }
    guard let kindName = try r.string("op") else { throw r.error("missing field 'op'") }
    guard let kind = GraphOpKind(rawValue: kindName) else {
        throw r.error("unknown op '\(kindName)' (known ops: \(graphOpNames.joined(separator: ", ")))")
    }
    let op = kind.definition
    r.context = "node '\(name)' (\(kind))"
    guard let inputs = try r.names("inputs") else { throw r.error("missing field 'inputs'") }
    guard let outputs = try r.names("outputs") else { throw r.error("missing field 'outputs'") }
    guard op.inputArity.contains(inputs.count) else {
        throw r.error("takes \(arity(op.inputArity)) input\(op.inputArity == 1...1 ? "" : "s"), not \(inputs.count)")
    }
    guard op.outputArity.contains(outputs.count) else {
        throw r.error("produces \(arity(op.outputArity)) output\(op.outputArity == 1...1 ? "" : "s"), not \(outputs.count)")
    }
    for key in r.remainingKeys where !op.fields.contains(key) {
        throw r.error("unknown field '\(key)'"
                      + (op.fields.isEmpty ? " (this op has no attributes)" : " (fields: \(op.fields.joined(separator: ", ")))"))
    }
    let decoded = try op.decode(&r, outputCount: outputs.count)
    try r.finish()
    return Node(name: name, op: decoded, inputs: inputs, outputs: outputs)
}

private func arity(_ r: ClosedRange<Int>) -> String {
    r.lowerBound == r.upperBound ? "\(r.lowerBound)" : r.upperBound == Int.max ? "at least \(r.lowerBound)" : "\(r)"
}

// MARK: - Encoding

/// The JSON document of `graph` (deterministic; see the file comment).
public func encodeGraph(_ graph: Graph) -> JSON {
    var pre = JSONObject()
    pre["scale"] = .float(graph.input.preprocess.scale)
    pre["mean"] = .array(graph.input.preprocess.mean.map(JSON.float))
    pre["std"] = .array(graph.input.preprocess.std.map(JSON.float))
    var input = JSONObject()
    input["name"] = .string(graph.input.name)
    input["shape"] = .ints(graph.input.shape)
    input["layout"] = .string("NCHW")
    input["preprocess"] = .object(pre)

    var top = JSONObject()
    top["format"] = .string("dynq-graph")
    top["version"] = .int(1)
    top["name"] = .string(graph.name)
    top["input"] = .object(input)
    top["outputs"] = .array(graph.outputs.map(JSON.string))
    if !graph.classes.isEmpty { top["classes"] = .array(graph.classes.map(JSON.string)) }
    top["nodes"] = .array(graph.nodes.map(encodeNode))
    return .object(top)
}

private func encodeNode(_ node: Node) -> JSON {
    var o = JSONObject()
    o["name"] = .string(node.name)
    o["op"] = .string(node.op.kind.rawValue)
    o["inputs"] = .array(node.inputs.map(JSON.string))
    o["outputs"] = .array(node.outputs.map(JSON.string))
    node.op.definition.encode(into: &o)
    return .object(o)
}
