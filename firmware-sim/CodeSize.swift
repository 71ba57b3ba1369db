import Foundation

/// Code size and a stack bound of the runtime core, measured from the Embedded Swift build for armv7em
/// (`scripts/embedded-build.sh`), never guessed.
///
/// - `text`, `data`, `bss`: `llvm-size` of the relocatable object `DynQCore-armv7em-none-none-eabi.o`. Flash =
///   `text + data` (initialised data is stored in flash and copied); static RAM = `data + bss`. The object is not
///   linked, so unused functions are still counted (an upper bound for the core), and the C runtime pieces a
///   firmware links beside it (`memcpy`, `memset`, start-up code) are not.
/// - `stackBound`: from `llvm-objdump -d -r` of the same object: each function's frame is the sum of its stack
///   adjustments (`push`/`push.w` 4 bytes per register, `vpush` 8 bytes per d-register, `sub sp, #n`); calls are
///   the `R_ARM_THM_CALL` / `R_ARM_THM_JUMP24` relocations; the bound is the heaviest call chain from
///   `Interpreter.invoke` (depth-first, memoised; from every function if the object has no such entry). Recursion makes the bound invalid (`recursive` lists such functions);
///   indirect calls (`blx rN`) cannot be followed, so each adds the largest frame in the object once
///   (`indirectCalls`), a conservative allowance.
public struct CodeSize: Equatable, Sendable, Codable {
    public var target: String
    public var text: Int
    public var data: Int
    public var bss: Int
    public var stackBound: Int
    public var functions: Int
    public var indirectCalls: Int
    public var recursive: [String]
    /// Where the numbers come from (command and object).
    public var source: String

    public init(target: String, text: Int, data: Int, bss: Int, stackBound: Int, functions: Int, indirectCalls: Int,
                recursive: [String], source: String) {
        self.target = target; self.text = text; self.data = data; self.bss = bss; self.stackBound = stackBound
        self.functions = functions; self.indirectCalls = indirectCalls; self.recursive = recursive; self.source = source
    }

    public var flashBytes: Int { text + data }
    /// The instruction set measured: the first part of the `target` triple (`armv7em-none-none-eabi` → `armv7em`).
    public var arch: String { String(target.prefix { $0 != "-" }) }
    public var staticRAMBytes: Int { data + bss }
}

extension CodeSize {
    /// Parses `llvm-size` (Berkeley format) output: the first line after the header.
    public static func parseSize(_ s: String) -> (text: Int, data: Int, bss: Int)? {
        for line in s.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.count >= 3, let t = Int(f[0]), let d = Int(f[1]), let b = Int(f[2]) { return (t, d, b) }
        }
        return nil
    }

    /// Stack bound from `llvm-objdump -d -r --no-show-raw-insn` text (see the type's documentation).
    public static func stackBound(disassembly: String) -> (bound: Int, functions: Int, indirect: Int, recursive: [String]) {
        var frame: [String: Int] = [:]
        var calls: [String: Set<String>] = [:]
        var indirect: [String: Int] = [:]
        var current: String?
        for raw in disassembly.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix(">:"), let lt = line.firstIndex(of: "<") {
                let name = String(line[line.index(after: lt)..<line.index(line.endIndex, offsetBy: -2)])
                current = name
                frame[name, default: 0] += 0
                continue
            }
            guard let fn = current else { continue }
            if line.contains("R_ARM_THM_CALL") || line.contains("R_ARM_THM_JUMP24") {
                if let callee = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last {
                    calls[fn, default: []].insert(String(callee))
                }
                continue
            }
            // "addr:  mnemonic operands"
            guard let colon = line.firstIndex(of: ":") else { continue }
            let insn = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let parts = insn.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            guard let mnemonic = parts.first.map(String.init) else { continue }
            let operands = parts.count > 1 ? String(parts[1]) : ""
            switch mnemonic {
            case "push", "push.w", "stmdb", "stmdb.w":
                if mnemonic.hasPrefix("stmdb") && !operands.hasPrefix("sp!") { break }
                frame[fn, default: 0] += 4 * registerCount(operands)
            case "vpush", "vpush.64":
                frame[fn, default: 0] += 8 * registerCount(operands)
            case "sub", "sub.w", "subw":
                let ops = operands.replacingOccurrences(of: " ", with: "").split(separator: ",")
                if ops.count >= 2, ops[0] == "sp", ops.last!.hasPrefix("#"),
                   (ops.count == 2 || ops[1] == "sp") {
                    let imm = ops.last!.dropFirst()
                    let value = imm.hasPrefix("0x") ? Int(imm.dropFirst(2), radix: 16) : Int(imm)
                    frame[fn, default: 0] += value ?? 0
                }
            case "blx":
                if operands.hasPrefix("r") || operands.hasPrefix("lr") || operands.hasPrefix("ip") {
                    indirect[fn, default: 0] += 1
                }
            default:
                break
            }
        }
        let largest = frame.values.max() ?? 0
        var memo: [String: Int] = [:]
        var onStack = Set<String>()
        var recursive = Set<String>()
        func chain(_ f: String) -> Int {
            if let m = memo[f] { return m }
            if onStack.contains(f) { recursive.insert(f); return 0 }
            onStack.insert(f)
            var deepest = 0
            for c in calls[f] ?? [] { deepest = max(deepest, chain(c)) }
            if (indirect[f] ?? 0) > 0 { deepest = max(deepest, largest) }
            onStack.remove(f)
            let v = (frame[f] ?? 0) + deepest
            memo[f] = v
            return v
        }
        // The bound is taken from the interpreter's entry point(s) (`Interpreter.invoke`), the only way firmware
        // runs the model; without one (an older core), from every function.
        let entries = frame.keys.filter { $0.contains("11InterpreterV6invoke") }.sorted()
        var bound = 0
        for f in (entries.isEmpty ? frame.keys.sorted() : entries) { bound = max(bound, chain(f)) }
        return (bound, frame.count, indirect.values.reduce(0, +), recursive.sorted())
    }

    public static func registerCount(_ list: String) -> Int {
        // "{r4, r5, r6, lr}" or "{d8, d9}" or "{r4-r7, lr}" or "{d8-d15}"
        let inner = list.drop(while: { $0 != "{" }).dropFirst().prefix(while: { $0 != "}" })
        var n = 0
        for item in inner.split(separator: ",") {
            let r = item.trimmingCharacters(in: .whitespaces)
            let range = r.split(separator: "-")
            if range.count == 2, let a = Int(range[0].dropFirst()), let b = Int(range[1].dropFirst()) {
                n += b - a + 1
            } else {
                n += 1
            }
        }
        return n
    }

    /// Builds the core with `scripts/embedded-build.sh` under `root` (the DynQ checkout) and measures it.
    public static func measure(root: String, swiftBin: String = "/opt/swift/usr/bin") throws -> CodeSize {
        let out = NSTemporaryDirectory() + "dynq-codesize-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let target = "armv7em-none-none-eabi"
        _ = try run("/bin/bash", ["\(root)/scripts/embedded-build.sh"], env: ["OUT": out, "SWIFT_BIN": swiftBin])
        let object = "\(out)/DynQCore-\(target).o"
        guard let objdump = findTool("llvm-objdump", swiftBin: swiftBin) else { throw SimError("llvm-objdump not found") }
        let text: Int, data: Int, bss: Int, how: String
        if let size = findTool("llvm-size", swiftBin: swiftBin) {
            let sizeText = try run(size, [object])
            guard let s = parseSize(sizeText) else { throw SimError("cannot read llvm-size output:\n\(sizeText)") }
            (text, data, bss, how) = (s.text, s.data, s.bss, "llvm-size")
        } else {
            // No llvm-size: sum the section headers. Read-only data then counts as data (flash is unaffected,
            // static RAM is overestimated).
            let s = parseSectionHeaders(try run(objdump, ["-h", object]))
            (text, data, bss, how) = (s.text, s.data, s.bss, "llvm-objdump -h (section sums)")
        }
        let dis = try run(objdump, ["-d", "-r", "--no-show-raw-insn", object])
        let s = stackBound(disassembly: dis)
        return CodeSize(target: target, text: text, data: data, bss: bss, stackBound: s.bound, functions: s.functions,
                        indirectCalls: s.indirect, recursive: s.recursive,
                        source: "scripts/embedded-build.sh (\(target), -O); \(how) and llvm-objdump -d -r of DynQCore-\(target).o")
    }

    static func findTool(_ name: String, swiftBin: String) -> String? {
        var candidates = ["\(swiftBin)/\(name)", "/usr/bin/\(name)"]
        for v in (10...30).reversed() { candidates.append("/usr/lib/llvm-\(v)/bin/\(name)") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `llvm-objdump -h`: sums of TEXT, DATA and BSS section sizes.
    static func parseSectionHeaders(_ s: String) -> (text: Int, data: Int, bss: Int) {
        var t = 0, d = 0, b = 0
        for line in s.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 5, Int(f[0]) != nil, let size = Int(f[2], radix: 16) else { continue }
            switch f.last! {
            case "TEXT": t += size
            case "DATA": d += size
            case "BSS": b += size
            default: break
            }
        }
        return (t, d, b)
    }

    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SimError("\(exe) \(args.joined(separator: " ")) failed (status \(p.terminationStatus))") }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A simulator failure, phrased for a user.
public struct SimError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
