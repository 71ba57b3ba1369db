/// The one error type of DynQ: every user-facing failure names the file (when there is one) and the problem.
///
/// `description` is `"FILE: message"`, or just `"message"` when no file is involved (for example an engine
/// run on an in-memory tensor). The CLI prints it as `dynq: FILE: message`.
public struct DynQError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the problem is in, if any.
    public var file: String?
    /// What is wrong, phrased for a user (no stack traces, no type names).
    public var message: String

    public init(file: String? = nil, _ message: String) {
        self.file = file
        self.message = message
    }

    /// One printable line: control characters (which a hostile file could smuggle into a quoted name or header
    /// to forge terminal output or split the line) are shown as `\u{XX}` escapes.
    public var description: String {
        if let file { return "\(DynQError.printable(file)): \(DynQError.printable(message))" }
        return DynQError.printable(message)
    }

    /// `text` with C0/C1 control characters and DEL replaced by `\u{XX}`.
    public static func printable(_ text: String) -> String {
        func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if isControl(u) { out.append(contentsOf: "\\u{\(String(u.value, radix: 16, uppercase: true))}".unicodeScalars) }
            else { out.append(u) }
        }
        return String(out)
    }

    /// The same error attributed to `file`, unless it already names one.
    public func inFile(_ file: String) -> DynQError {
        self.file == nil ? DynQError(file: file, message) : self
    }
}
