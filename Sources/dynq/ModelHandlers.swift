import DynQGraph

/// A handler for a model file format other than a float graph (e.g. quantized `.dynq` files), used by
/// `dynq inspect MODEL` and `dynq run MODEL INPUT`. Handlers are tried in order; the first whose `matches`
/// accepts the path runs.
struct ModelHandler: Sendable {
    var name: String
    var matches: @Sendable (String) -> Bool
    /// Receives the model file and the other arguments (unparsed); returns the exit status.
    var run: @Sendable (_ path: String, _ args: [String]) throws -> Int32
}

/// `dynq inspect MODEL`: add an entry per model format. Float graphs use `--graph`/`--weights` instead.
let allInspectors: [ModelHandler] = [
    dynqInspector,
]

/// `dynq run MODEL INPUT ...` (without `--float`): add an entry per model format.
let allRunners: [ModelHandler] = [
    dynqRunner,
]

/// If `args` name no `--graph`/`--weights` and their first positional argument is a file some handler in
/// `handlers` accepts, runs that handler (with the other arguments) and returns its status; otherwise `nil`.
/// Throws a usage error when a positional model file is given that no handler accepts.
func dispatchToModelHandler(_ handlers: [ModelHandler], _ args: [String], floatHint: String) throws -> Int32? {
    let floatArgs = ["--graph", "--weights", "--float"]
    guard !args.contains(where: { a in floatArgs.contains { a == $0 || a.hasPrefix($0 + "=") } }),
          let index = args.firstIndex(where: { !$0.hasPrefix("-") }) else { return nil }
    let path = args[index]
    guard let handler = handlers.first(where: { $0.matches(path) }) else {
        throw UsageError("don't know how to open '\(path)' (\(floatHint))")
    }
    var rest = args
    rest.remove(at: index)
    return try handler.run(path, rest)
}
