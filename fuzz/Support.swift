// Shared by every fuzz target (compiled into each one by scripts/fuzz.sh; not part of the Swift package).
//
// The contract every target checks: DynQ's readers either accept an input or throw an error a user can read.
// Anything else is a finding, and libFuzzer records it with the input: a trap (overflow, out-of-range index,
// failed precondition), a memory error (AddressSanitizer), a hang (-timeout) or a memory blow-up
// (-rss_limit_mb), and also, checked here, an error that is not a DynQError/ModelError or whose message spans
// several lines or carries control characters from the file (a hostile file could forge terminal output).
import DynQGraph

/// The fuzz input as an array.
@inline(__always)
func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
}

/// Runs `body`; a thrown `DynQError` must render as one printable line, any other thrown error is a finding.
/// Returns the value, or `nil` when `body` refused the input.
@discardableResult
func refusedOrAccepted<T>(_ what: String, _ body: () throws -> T) -> T? {
    do {
        return try body()
    } catch let e as DynQError {
        checkOneLine(e.description, what)
        return nil
    } catch {
        if let accepted = acceptedForeignError(error) {
            checkOneLine(accepted, what)
            return nil
        }
        fatalError("\(what): threw \(type(of: error)), not a DynQError: \(error)")
    }
}

/// Error types other than `DynQError` a target accepts (set by targets that call DynQCore directly).
nonisolated(unsafe) var acceptedForeignError: (any Error) -> String? = { _ in nil }

/// A user-facing message must be one line of printable text.
func checkOneLine(_ message: String, _ what: String) {
    for u in message.unicodeScalars where u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) {
        fatalError("\(what): the error message holds control character U+\(String(u.value, radix: 16)): \(message.debugDescription)")
    }
}

/// Splits a fuzz input at the first occurrence of `separator` into at most `parts` pieces (the last one keeps
/// the rest, separators included).
func splitInput(_ bytes: [UInt8], _ separator: [UInt8], parts: Int) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var start = 0, i = 0
    while i + separator.count <= bytes.count, out.count < parts - 1 {
        if bytes[i..<i + separator.count].elementsEqual(separator) {
            out.append(Array(bytes[start..<i]))
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    out.append(Array(bytes[start...]))
    return out
}

/// The separator between the parts of a multi-file input (graph, weights, images): a line `#--#`.
let partSeparator: [UInt8] = Array("\n#--#\n".utf8)
