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

    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }

    /// The same error attributed to `file`, unless it already names one.
    public func inFile(_ file: String) -> DynQError {
        self.file == nil ? DynQError(file: file, message) : self
    }
}
