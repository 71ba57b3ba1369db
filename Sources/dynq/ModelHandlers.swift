import DynQGraph

/// What `dynq inspect FILE` can show, tried in order: the first whose `matches` accepts the path runs.
/// Float graphs are inspected with `--graph`/`--weights` instead (InspectCommand.swift). Add model formats here,
/// e.g. an inspector matching `*.dynq` files.
struct Inspector: Sendable {
    var name: String
    var matches: @Sendable (String) -> Bool
    /// Receives the file and the other arguments (unparsed); returns the exit status.
    var run: @Sendable (_ path: String, _ args: [String]) throws -> Int32
}

let allInspectors: [Inspector] = [
]
