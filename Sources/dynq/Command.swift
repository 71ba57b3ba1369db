import DynQGraph
import Foundation

/// One `dynq` subcommand. To add one: write `let fooCommand = Command(...)` in its own file and list it in
/// `allCommands` (Commands.swift).
///
/// `run` receives the arguments after the subcommand name (`--help` is handled before it is called). It returns
/// the exit status; throwing a `UsageError` exits with 2 and a usage hint, a `DynQError` with 1.
struct Command: Sendable {
    var name: String
    /// One line for `dynq --help`.
    var summary: String
    /// The full `dynq NAME --help` text (starting with the `usage:` line).
    var usage: String
    var run: @Sendable ([String]) throws -> Int32
}

/// A command-line mistake: reported as one line plus "Run 'dynq CMD --help' for usage.", exit status 2.
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Parsed `--flag`, `--option VALUE` / `--option=VALUE` and positional arguments. Anything starting with `-`
/// that is not declared is an error; `--` ends option parsing.
struct Arguments {
    private(set) var flags: Set<String> = []
    private(set) var options: [String: String] = [:]
    private(set) var positionals: [String] = []

    /// - Parameters:
    ///   - flags: names (without `--`) of options that take no value.
    ///   - options: names of options that take one value.
    init(_ args: [String], flags knownFlags: Set<String> = [], options knownOptions: Set<String> = []) throws {
        var k = 0
        var onlyPositionals = false
        while k < args.count {
            let a = args[k]
            k += 1
            if onlyPositionals || !a.hasPrefix("-") || a == "-" {
                positionals.append(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            guard a.hasPrefix("--") else { throw UsageError("unknown option '\(a)'") }
            var name = String(a.dropFirst(2))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if knownFlags.contains(name) {
                guard inlineValue == nil else { throw UsageError("option '--\(name)' takes no value") }
                flags.insert(name)
            } else if knownOptions.contains(name) {
                guard options[name] == nil else { throw UsageError("option '--\(name)' given twice") }
                if let inlineValue {
                    options[name] = inlineValue
                } else {
                    guard k < args.count else { throw UsageError("option '--\(name)' needs a value") }
                    options[name] = args[k]
                    k += 1
                }
            } else {
                throw UsageError("unknown option '--\(name)'")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func value(_ option: String) -> String? { options[option] }

    func required(_ option: String) throws -> String {
        guard let v = options[option] else { throw UsageError("missing --\(option)") }
        return v
    }

    /// An integer option within `range`, or `defaultValue` when absent.
    func int(_ option: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = options[option] else { return defaultValue }
        guard let v = Int(text), range.contains(v) else {
            throw UsageError("--\(option) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        return v
    }

    /// Exactly `count` positional arguments, described by `what` in the error.
    func positionals(_ count: Int, _ what: String) throws -> [String] {
        guard positionals.count == count else {
            throw UsageError(positionals.count < count ? "missing \(what)" : "unexpected argument '\(positionals[count])'")
        }
        return positionals
    }
}

/// Standard output and error helpers.
enum Console {
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
    static func err(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

enum CLI {
    static let usage = """
        usage: dynq COMMAND [OPTIONS]

        Runs trained DyNet dynamic-convolution CNNs in int8 on edge targets.

        Commands:
        \(allCommands.map { "  " + $0.name.padding(toLength: 10, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n"))

        Run 'dynq COMMAND --help' for a command's options.
        """

    /// Dispatches `args` (without the program name) and returns the exit status.
    static func main(_ args: [String]) -> Int32 {
        guard let first = args.first else {
            Console.err(usage)
            return 2
        }
        if first == "--help" || first == "-h" || first == "help" {
            if args.count > 1, let c = allCommands.first(where: { $0.name == args[1] }) {
                Console.out(c.usage)
            } else {
                Console.out(usage)
            }
            return 0
        }
        guard let command = allCommands.first(where: { $0.name == first }) else {
            Console.err("dynq: unknown command '\(first)'")
            Console.err("Run 'dynq --help' for the list of commands.")
            return 2
        }
        let rest = Array(args.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            Console.out(command.usage)
            return 0
        }
        do {
            return try command.run(rest)
        } catch let e as UsageError {
            Console.err("dynq \(command.name): \(e.message)")
            Console.err("Run 'dynq \(command.name) --help' for usage.")
            return 2
        } catch let e as DynQError {
            Console.err("dynq: \(e.description)")
            return 1
        } catch {
            Console.err("dynq: \(error)")
            return 1
        }
    }
}
