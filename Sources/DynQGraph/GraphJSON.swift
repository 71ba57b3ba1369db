/// `Graph` ↔ JSON (docs/graph-format.md, version 1).
///
/// Decoding is strict: unknown ops, unknown or missing fields, values of the wrong type or range and a wrong
/// `format`/`version` are refused with an error naming the node and the field. Encoding is deterministic
/// (fixed key order, every geometry field written explicitly), so `decodeGraph(encodeGraph(g)) == g`.
///
/// Structural checks only: tensor names, shapes and weights are checked by `inferShapes` (GraphValidation.swift).

/// The largest value accepted for a stride, padding, dilation, kernel size, group count or coefficient offset.
public let graphMaxAttributeValue = 1 << 20

/// Reads and decodes a graph file. Errors name `path`.
public func loadGraph(_ path: String) throws -> Graph {
    let bytes = try FileIO.read(path, limit: 1 << 28)
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

/// The fields each op accepts besides name/op/inputs/outputs, and its input/output arity.
private let opFields: [String: (fields: [String], inputs: ClosedRange<Int>, outputs: ClosedRange<Int>)] = [
    "conv2d": (["weight", "bias", "stride", "padding", "dilation", "groups"], 1...1, 1...1),
    "dynamic_conv2d": (["weight", "mode", "coeff_offset", "mixed_bias", "bias", "stride", "padding", "dilation",
                        "groups"], 2...2, 1...1),
    "cpm": (["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "gate", "temperature", "softmax_group"], 1...1, 1...1),
    "batchnorm": (["weight", "bias", "running_mean", "running_var", "eps"], 1...1, 1...1),
    "relu": ([], 1...1, 1...1), "relu6": ([], 1...1, 1...1),
    "hardswish": ([], 1...1, 1...1), "hardsigmoid": ([], 1...1, 1...1),
    "add": ([], 2...2, 1...1),
    "concat": (["axis"], 1...Int.max, 1...1),
    "channel_shuffle": (["groups"], 1...1, 1...1),
    "channel_split": (["sizes"], 1...1, 1...Int.max),
    "maxpool": (["kernel", "stride", "padding"], 1...1, 1...1),
    "avgpool": (["kernel", "stride", "padding", "count_include_pad"], 1...1, 1...1),
    "global_avgpool": ([], 1...1, 1...1),
    "flatten": ([], 1...1, 1...1),
    "linear": (["weight", "bias"], 1...1, 1...1),
    "softmax": (["temperature"], 1...1, 1...1),
]

/// The op names of the graph format, sorted.
public let graphOpNames: [String] = opFields.keys.sorted()

private func decodeNode(_ json: JSON, index: Int, file: String?) throws -> Node {
    guard json.objectValue != nil else {
        throw DynQError(file: file, "node #\(index) must be an object, not a \(json.kindName)")
    }
    let label = json["name"]?.stringValue.map { "node '\($0)'" } ?? "node #\(index)"
    var r = try FieldReader(json, context: label, file: file)
    guard let name = try r.name("name") else { throw r.error("missing field 'name'") }
    guard let kind = try r.string("op") else { throw r.error("missing field 'op'") }
    guard let spec = opFields[kind] else {
        throw r.error("unknown op '\(kind)' (known ops: \(graphOpNames.joined(separator: ", ")))")
    }
    r.context = "node '\(name)' (\(kind))"
    guard let inputs = try r.names("inputs") else { throw r.error("missing field 'inputs'") }
    guard let outputs = try r.names("outputs") else { throw r.error("missing field 'outputs'") }
    guard spec.inputs.contains(inputs.count) else {
        throw r.error("takes \(arity(spec.inputs)) input\(spec.inputs == 1...1 ? "" : "s"), not \(inputs.count)")
    }
    guard spec.outputs.contains(outputs.count) else {
        throw r.error("produces \(arity(spec.outputs)) output\(spec.outputs == 1...1 ? "" : "s"), not \(outputs.count)")
    }
    for key in r.remainingKeys where !spec.fields.contains(key) {
        throw r.error("unknown field '\(key)'"
                      + (spec.fields.isEmpty ? " (this op has no attributes)" : " (fields: \(spec.fields.joined(separator: ", ")))"))
    }

    let op: Op
    switch kind {
    case "conv2d":
        guard let w = try r.name("weight") else { throw r.error("missing field 'weight'") }
        op = .conv2d(Conv2DAttrs(weight: w, bias: try r.name("bias"), geometry: try r.geometry()))
    case "dynamic_conv2d":
        guard let w = try r.name("weight") else { throw r.error("missing field 'weight'") }
        guard let m = try r.string("mode") else { throw r.error("missing field 'mode'") }
        guard let mode = CoefficientMode(rawValue: m) else {
            throw r.error("'mode' must be \"per_channel\" or \"per_layer\", not \"\(m)\"")
        }
        let offset = try r.int("coeff_offset", range: 0...graphMaxAttributeValue) ?? 0
        op = .dynamicConv2d(DynamicConv2DAttrs(weight: w, mode: mode, coeffOffset: offset,
                                               mixedBias: try r.name("mixed_bias"), bias: try r.name("bias"),
                                               geometry: try r.geometry()))
    case "cpm":
        guard let w1 = try r.name("fc1_weight") else { throw r.error("missing field 'fc1_weight'") }
        let b1 = try r.name("fc1_bias"), w2 = try r.name("fc2_weight"), b2 = try r.name("fc2_bias")
        if b2 != nil && w2 == nil { throw r.error("'fc2_bias' given without 'fc2_weight'") }
        guard let g = try r.string("gate") else { throw r.error("missing field 'gate'") }
        let temperature = try r.positiveFloat("temperature")
        let group = try r.int("softmax_group", range: 1...Int.max)
        let gate: Gate
        switch g {
        case "sigmoid":
            if let t = temperature, t != 1 { throw r.error("'temperature' applies only to the softmax gate") }
            if group != nil { throw r.error("'softmax_group' applies only to the softmax gate") }
            gate = .sigmoid
        case "softmax":
            gate = .softmax(temperature: temperature ?? 1, group: group ?? Gate.wholeOutputGroup)
        default:
            throw r.error("'gate' must be \"sigmoid\" or \"softmax\", not \"\(g)\"")
        }
        op = .cpm(CPMAttrs(fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2, gate: gate))
    case "batchnorm":
        var names: [String] = []
        for f in ["weight", "bias", "running_mean", "running_var"] {
            guard let n = try r.name(f) else { throw r.error("missing field '\(f)'") }
            names.append(n)
        }
        op = .batchnorm(BatchNormAttrs(weight: names[0], bias: names[1], runningMean: names[2],
                                       runningVar: names[3], eps: try r.positiveFloat("eps") ?? 1e-5))
    case "relu": op = .relu
    case "relu6": op = .relu6
    case "hardswish": op = .hardswish
    case "hardsigmoid": op = .hardsigmoid
    case "add": op = .add
    case "concat":
        if let axis = try r.int("axis"), axis != 1 { throw r.error("concat supports only axis 1, not \(axis)") }
        op = .concat
    case "channel_shuffle":
        guard let g = try r.int("groups", range: 1...graphMaxAttributeValue) else { throw r.error("missing field 'groups'") }
        op = .channelShuffle(groups: g)
    case "channel_split":
        guard let sizes = try r.ints("sizes") else { throw r.error("missing field 'sizes'") }
        guard sizes.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else { throw r.error("'sizes' must be positive") }
        guard sizes.count == outputs.count else {
            throw r.error("'sizes' has \(sizes.count) entries but the node has \(outputs.count) outputs")
        }
        op = .channelSplit(sizes: sizes)
    case "maxpool", "avgpool":
        guard let kernel = try r.pair("kernel") else { throw r.error("missing field 'kernel'") }
        let stride = try r.pair("stride")
        let padding = try r.padding("padding") ?? .zero
        let include = try r.bool("count_include_pad") ?? true
        let attrs = PoolAttrs(kernel: kernel, stride: stride, padding: padding, countIncludePad: include)
        op = kind == "maxpool" ? .maxpool(attrs) : .avgpool(attrs)
    case "global_avgpool": op = .globalAvgpool
    case "flatten": op = .flatten
    case "linear":
        guard let w = try r.name("weight") else { throw r.error("missing field 'weight'") }
        op = .linear(LinearAttrs(weight: w, bias: try r.name("bias")))
    case "softmax":
        op = .softmax(temperature: try r.positiveFloat("temperature") ?? 1)
    default:
        throw r.error("unknown op '\(kind)'")
    }
    try r.finish()
    return Node(name: name, op: op, inputs: inputs, outputs: outputs)
}

private func arity(_ r: ClosedRange<Int>) -> String {
    r.lowerBound == r.upperBound ? "\(r.lowerBound)" : r.upperBound == Int.max ? "at least \(r.lowerBound)" : "\(r)"
}

/// Reads the fields of one JSON object, remembering which were consumed so that leftovers can be refused.
private struct FieldReader {
    var object: JSONObject
    var context: String
    let file: String?
    var used: Set<String> = []

    init(_ json: JSON, context: String, file: String?) throws {
        guard let o = json.objectValue else {
            throw DynQError(file: file, "\(context) must be an object, not a \(json.kindName)")
        }
        object = o; self.context = context; self.file = file
    }

    func error(_ message: String) -> DynQError { DynQError(file: file, "\(context): \(message)") }

    var remainingKeys: [String] { object.keys.filter { !used.contains($0) } }

    mutating func take(_ key: String) -> JSON? {
        used.insert(key)
        return object[key]
    }

    func finish() throws {
        if let k = remainingKeys.first { throw error("unknown field '\(k)'") }
    }

    func typeError(_ key: String, _ expected: String, _ v: JSON) -> DynQError {
        error("field '\(key)' must be \(expected), not a \(v.kindName)")
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = take(key) else { return nil }
        guard let s = v.stringValue else { throw typeError(key, "a string", v) }
        return s
    }

    /// A non-empty string (tensor or node name).
    mutating func name(_ key: String) throws -> String? {
        guard let s = try string(key) else { return nil }
        guard !s.isEmpty else { throw error("field '\(key)' must not be empty") }
        return s
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = take(key) else { return nil }
        guard let b = v.boolValue else { throw typeError(key, "true or false", v) }
        return b
    }

    mutating func int(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let v = take(key) else { return nil }
        guard let i = v.intValue else { throw typeError(key, "an integer", v) }
        if let range, !range.contains(i) {
            throw error(range.upperBound == Int.max ? "field '\(key)' must be at least \(range.lowerBound), not \(i)"
                                                    : "field '\(key)' must be in \(range.lowerBound)...\(range.upperBound), not \(i)")
        }
        return i
    }

    mutating func float(_ key: String) throws -> Float? {
        guard let v = take(key) else { return nil }
        guard let d = v.doubleValue else { throw typeError(key, "a number", v) }
        let f = Float(d)
        guard f.isFinite else { throw error("field '\(key)' is out of float32 range") }
        return f
    }

    mutating func positiveFloat(_ key: String) throws -> Float? {
        guard let f = try float(key) else { return nil }
        guard f > 0 else { throw error("field '\(key)' must be positive, not \(f)") }
        return f
    }

    mutating func array(_ key: String) throws -> [JSON]? {
        guard let v = take(key) else { return nil }
        guard let a = v.arrayValue else { throw typeError(key, "an array", v) }
        return a
    }

    mutating func names(_ key: String) throws -> [String]? {
        guard let a = try array(key) else { return nil }
        return try a.map {
            guard let s = $0.stringValue, !s.isEmpty else { throw error("field '\(key)' must list non-empty strings") }
            return s
        }
    }

    mutating func strings(_ key: String) throws -> [String]? {
        guard let a = try array(key) else { return nil }
        return try a.map {
            guard let s = $0.stringValue else { throw error("field '\(key)' must list strings") }
            return s
        }
    }

    mutating func ints(_ key: String) throws -> [Int]? {
        guard let a = try array(key) else { return nil }
        return try a.map {
            guard let i = $0.intValue else { throw error("field '\(key)' must list integers") }
            return i
        }
    }

    mutating func floats(_ key: String) throws -> [Float]? {
        guard let a = try array(key) else { return nil }
        return try a.map {
            guard let d = $0.doubleValue, Float(d).isFinite else { throw error("field '\(key)' must list finite numbers") }
            return Float(d)
        }
    }

    /// `[height, width]`, both in 1...graphMaxAttributeValue.
    mutating func pair(_ key: String) throws -> Pair? {
        guard let v = try ints(key) else { return nil }
        guard v.count == 2, v.allSatisfy({ (1...graphMaxAttributeValue).contains($0) }) else {
            throw error("field '\(key)' must be [height, width] with positive integers")
        }
        return Pair(v[0], v[1])
    }

    /// `[top, left, bottom, right]`, each in 0...graphMaxAttributeValue.
    mutating func padding(_ key: String) throws -> Padding? {
        guard let v = try ints(key) else { return nil }
        guard v.count == 4, v.allSatisfy({ (0...graphMaxAttributeValue).contains($0) }) else {
            throw error("field '\(key)' must be [top, left, bottom, right] with non-negative integers")
        }
        return Padding(top: v[0], left: v[1], bottom: v[2], right: v[3])
    }

    mutating func geometry() throws -> ConvGeometry {
        ConvGeometry(stride: try pair("stride") ?? .one, padding: try padding("padding") ?? .zero,
                     dilation: try pair("dilation") ?? .one,
                     groups: try int("groups", range: 1...graphMaxAttributeValue) ?? 1)
    }
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
    input["shape"] = ints(graph.input.shape)
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

private func ints(_ v: [Int]) -> JSON { .array(v.map(JSON.int)) }

private func encodeNode(_ node: Node) -> JSON {
    var o = JSONObject()
    o["name"] = .string(node.name)
    o["op"] = .string(node.op.kind)
    o["inputs"] = .array(node.inputs.map(JSON.string))
    o["outputs"] = .array(node.outputs.map(JSON.string))
    func opt(_ key: String, _ value: String?) { if let value { o[key] = .string(value) } }
    func geometry(_ g: ConvGeometry) {
        o["stride"] = ints([g.stride.h, g.stride.w])
        o["padding"] = ints([g.padding.top, g.padding.left, g.padding.bottom, g.padding.right])
        o["dilation"] = ints([g.dilation.h, g.dilation.w])
        o["groups"] = .int(g.groups)
    }
    switch node.op {
    case .conv2d(let a):
        o["weight"] = .string(a.weight); opt("bias", a.bias); geometry(a.geometry)
    case .dynamicConv2d(let a):
        o["weight"] = .string(a.weight)
        o["mode"] = .string(a.mode.rawValue)
        o["coeff_offset"] = .int(a.coeffOffset)
        opt("mixed_bias", a.mixedBias); opt("bias", a.bias); geometry(a.geometry)
    case .cpm(let a):
        o["fc1_weight"] = .string(a.fc1Weight); opt("fc1_bias", a.fc1Bias)
        opt("fc2_weight", a.fc2Weight); opt("fc2_bias", a.fc2Bias)
        switch a.gate {
        case .sigmoid: o["gate"] = .string("sigmoid")
        case .softmax(let t, let group):
            o["gate"] = .string("softmax")
            o["temperature"] = .float(t)
            if group != Gate.wholeOutputGroup { o["softmax_group"] = .int(group) }
        }
    case .batchnorm(let a):
        o["weight"] = .string(a.weight); o["bias"] = .string(a.bias)
        o["running_mean"] = .string(a.runningMean); o["running_var"] = .string(a.runningVar)
        o["eps"] = .float(a.eps)
    case .relu, .relu6, .hardswish, .hardsigmoid, .add, .concat, .globalAvgpool, .flatten:
        break
    case .channelShuffle(let g): o["groups"] = .int(g)
    case .channelSplit(let sizes): o["sizes"] = ints(sizes)
    case .maxpool(let p), .avgpool(let p):
        o["kernel"] = ints([p.kernel.h, p.kernel.w])
        o["stride"] = ints([p.stride.h, p.stride.w])
        o["padding"] = ints([p.padding.top, p.padding.left, p.padding.bottom, p.padding.right])
        if case .avgpool = node.op { o["count_include_pad"] = .bool(p.countIncludePad) }
    case .linear(let a):
        o["weight"] = .string(a.weight); opt("bias", a.bias)
    case .softmax(let t): o["temperature"] = .float(t)
    }
    return .object(o)
}
