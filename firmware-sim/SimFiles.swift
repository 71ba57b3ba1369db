import DynQCore
import DynQGraph
import Foundation

/// Locating the simulator's data files and loading a `.dynq` model for it.
public enum SimFiles {
    /// The DynQ checkout holding `targets/targets.json`: `DYNQ_ROOT`, else the current directory or one of its
    /// ancestors, else an ancestor of the executable.
    public static func root() -> String? {
        func search(from start: URL) -> String? {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent("targets/targets.json").path) {
                    return dir.path
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
            return nil
        }
        if let r = ProcessInfo.processInfo.environment["DYNQ_ROOT"] { return r }
        if let r = search(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) { return r }
        return search(from: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    }

    /// The default targets file.
    public static func defaultTargets() throws -> String {
        guard let r = root() else {
            throw SimError("cannot find targets/targets.json (run from the DynQ checkout, set DYNQ_ROOT, or pass --targets FILE)")
        }
        return r + "/targets/targets.json"
    }

    /// The recorded code-size measurement (`targets/code-size.json`, written by `dynq sim --measure-code`).
    public static func recordedCodeSize() throws -> CodeSize {
        guard let r = root() else { throw SimError("cannot find the DynQ checkout for targets/code-size.json") }
        return try readCodeSize(r + "/targets/code-size.json")
    }

    public static func readCodeSize(_ path: String) throws -> CodeSize {
        let data = Data(try FileIO.readJSONDocument(path, limit: 1 << 20, what: "a code-size file"))
        do {
            return try JSONDecoder().decode(CodeSize.self, from: data)
        } catch {
            throw DynQError(file: path, "not a code-size file written by dynq sim --measure-code")
        }
    }

    public static func writeCodeSize(_ c: CodeSize, to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try (e.encode(c) + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
    }

    /// Reads a `.dynq` file header first: the magic and the file size the header declares are checked against
    /// the file's size before the rest is read, so a junk file costs 24 bytes of reading, a file shorter than it
    /// declares is refused as truncated and one with bytes after its declared end is refused (the format's
    /// size field is 32 bits: at most 4 GiB are ever read).
    public static func readModelFile(_ path: String) throws -> [UInt8] {
        let size = try FileIO.size(of: path)
        let head = try FileIO.read(path, offset: 0, count: Swift.min(size, ModelFormat.checksumStart))
        let m = ModelFormat.magic
        guard head.count >= 8, head[0..<8].elementsEqual([m.0, m.1, m.2, m.3, m.4, m.5, m.6, m.7]) else {
            throw DynQError(file: path, "not a .dynq model (bad magic)")
        }
        guard head.count == ModelFormat.checksumStart else {
            throw DynQError(file: path, "truncated: \(size) bytes, shorter than the .dynq header")
        }
        let declared = (16..<20).reduce(0) { $0 | Int(head[$1]) << (8 * ($1 - 16)) }
        guard declared <= size else {
            throw DynQError(file: path, "truncated: the header declares \(declared) bytes, the file has \(size)")
        }
        guard declared == size else {
            throw DynQError(file: path, "has \(size - declared) bytes after the \(declared) bytes its header declares")
        }
        return try FileIO.read(path, offset: 0, count: size)
    }

    /// Reads and validates a `.dynq` file; returns its description and its bytes.
    public static func loadModel(_ path: String) throws -> (ModelDescription, [UInt8]) {
        let bytes = try readModelFile(path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: ArenaPlan.alignment)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        do {
            let model = try Model(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<bytes.count]))
            return (ModelDescription(model), bytes)
        } catch {
            throw DynQError(file: path, "\(error)")
        }
    }
}
