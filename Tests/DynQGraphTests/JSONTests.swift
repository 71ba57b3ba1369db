import Testing
@testable import DynQGraph

@Suite struct JSONParsingTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSON.parse(#"{"a": [1, -2.5, 1e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}}"#)
        #expect(v["a"] == .array([.int(1), .number(-2.5), .number(1000), .bool(true), .bool(false), .null]))
        #expect(v["b"] == .string("x\"\\/\né😀"))
        #expect(v["c"] == .object(JSONObject()))
    }

    @Test func objectsKeepInsertionOrder() throws {
        let v = try JSON.parse(#"{"z": 1, "a": 2, "m": 3}"#)
        #expect(v.objectValue?.keys == ["z", "a", "m"])
    }

    @Test func integersStayIntegers() throws {
        #expect(try JSON.parse("42") == .int(42))
        #expect(try JSON.parse("-0") == .int(0))
        #expect(try JSON.parse("4.0") == .number(4))
        #expect(try JSON.parse("4.0").intValue == 4)
        #expect(try JSON.parse("4.5").intValue == nil)
        // Too large for Int: kept as a double.
        #expect(try JSON.parse("123456789012345678901234567890") == .number(123456789012345678901234567890))
    }

    @Test(arguments: [
        ("", "line 1, column 1: empty document"),
        ("[1, 2", "line 1, column 6: unterminated array"),
        ("{\"a\": 1}\n x", "line 2, column 2: unexpected data after the JSON value"),
        ("[1,]", "line 1, column 4: unexpected ']'"),
        ("{\"a\" 1}", "line 1, column 6: expected ':' after key"),
        ("\"\\x\"", "line 1, column 2: invalid escape '\\x'"),
        ("\"\\u12G4\"", "invalid hex digit in \\u escape"),
        ("\"\\ud83d\"", "unpaired surrogate"),
        ("\"\\ude00\"", "unpaired surrogate"),
        ("\"a\tb\"", "control character in string"),
        ("\"abc", "line 1, column 1: unterminated string"),
        ("NaN", "NaN and Infinity are not JSON numbers"),
        ("-Infinity", "NaN and Infinity are not JSON numbers"),
        ("[01]", "leading zeros"),
        ("1.", "expected a digit after '.'"),
        ("1e", "expected a digit in exponent"),
        ("1e999", "number out of range"),
        ("tru", "invalid literal (expected 'true')"),
        ("{\"a\": 1, \"a\": 2}", "line 1, column 10: duplicate key \"a\""),
        ("{1: 2}", "expected a string key"),
    ])
    func refusesMalformedInput(_ text: String, _ message: String) {
        expectError("doc.json: invalid JSON at", message) { _ = try JSON.parse(text, file: "doc.json") }
    }

    @Test func refusesInvalidUTF8() {
        expectError("string is not valid UTF-8") { _ = try JSON.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func columnsCountCharactersNotBytes() {
        expectError("line 1, column 6: unexpected data") { _ = try JSON.parse("\"éé\" x") }
    }

    @Test func limitsNestingDepth() throws {
        _ = try JSON.parse(String(repeating: "[", count: 128) + String(repeating: "]", count: 128))
        expectError("nesting deeper than 128 levels") {
            _ = try JSON.parse(String(repeating: "[", count: 129) + String(repeating: "]", count: 129))
        }
        expectError("nesting deeper than 128 levels") { _ = try JSON.parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func neverCrashesOnMutatedInput() {
        // Deterministic pseudo-random byte mutations of a valid document: every result parses or throws.
        let base = Array(#"{"a": [1, 2.5e-3, "x\u0041"], "b": {"c": null, "d": [true, false]}}"#.utf8)
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<(1 + next() % 4) {
                switch next() % 3 {
                case 0: bytes[next() % bytes.count] = UInt8(next() % 256)
                case 1: bytes.remove(at: next() % bytes.count)
                default: bytes.insert(UInt8(next() % 256), at: next() % (bytes.count + 1))
                }
            }
            _ = try? JSON.parse(bytes)
        }
    }
}

@Suite struct JSONSerializationTests {
    @Test func compactAndDeterministic() {
        let v = JSON.object(["b": .int(1), "a": .array([.number(0.1), .number(1e-05), .bool(true), .null]),
                             "s": .string("q\"\n\u{01}")])
        #expect(v.serialized() == #"{"b":1,"a":[0.1,1e-05,true,null],"s":"q\"\n\u0001"}"#)
    }

    @Test func prettyKeepsScalarArraysOnOneLine() {
        let v = JSON.object(["shape": .array([.int(1), .int(3)]), "nodes": .array([.object(["x": .int(1)])])])
        #expect(v.serialized(pretty: true) == """
            {
              "shape": [1, 3],
              "nodes": [
                {
                  "x": 1
                }
              ]
            }
            """)
    }

    @Test func numbersRoundTrip() throws {
        for d in [0.1, 1.0 / 3, 1e-300, 5e-324, 1.7976931348623157e308, -2.5, 1e21] {
            #expect(try JSON.parse(JSON.number(d).serialized()) == .number(d))
        }
        #expect(JSON.number(.nan).serialized() == "null")
    }

    @Test func floatsUseTheirShortestSpelling() {
        #expect(JSON.float(1e-5).serialized() == "1e-05")
        #expect(JSON.float(0.1).serialized() == "0.1")
        #expect(JSON.float(3).serialized() == "3")
        #expect(Float(JSON.float(0.00392156862745098).doubleValue!) == Float(0.00392156862745098))
    }

    @Test func parseOfSerializedIsIdentity() throws {
        let text = #"{"z":[1,2,{"k":"v"}],"y":-0.5,"x":"\u00e9"}"#
        let v = try JSON.parse(text)
        #expect(try JSON.parse(v.serialized()) == v)
        #expect(try JSON.parse(v.serialized(pretty: true)) == v)
    }
}
