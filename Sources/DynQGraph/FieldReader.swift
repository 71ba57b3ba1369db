import DynQCore

/// Reads the fields of one JSON object for the graph decoder (GraphJSON.swift) and the ops' `decode`
/// (Ops/<Op>.swift), remembering which were consumed so that leftovers can be refused. Errors name the file and
/// `context` (e.g. `node 'stem' (conv2d)`).
struct FieldReader {
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

    /// A name that must be present.
    mutating func requiredName(_ key: String) throws -> String {
        guard let s = try name(key) else { throw error("missing field '\(key)'") }
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
}

// MARK: - Writing

extension JSON {
    /// `[Int]` as a JSON array.
    static func ints(_ v: [Int]) -> JSON { .array(v.map(JSON.int)) }
}

extension JSONObject {
    /// Sets `key` to the string `value` when there is one.
    mutating func setOptional(_ key: String, _ value: String?) {
        if let value { self[key] = .string(value) }
    }
}
