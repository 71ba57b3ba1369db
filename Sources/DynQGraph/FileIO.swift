import Foundation

/// Small file helpers whose failures are `DynQError`s naming the file.
public enum FileIO {
    /// The size of the file at `path`, in bytes.
    public static func size(of path: String) throws -> Int {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DynQError(file: path, "no such file")
        }
        guard !isDir.boolValue else { throw DynQError(file: path, "is a directory, not a file") }
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
              let n = (attrs[.size] as? NSNumber)?.intValue else {
            throw DynQError(file: path, "cannot read the file's size")
        }
        // A device or pipe has no size to check before reading (and a FIFO blocks the open until a writer comes).
        guard (attrs[.type] as? FileAttributeType) == .typeRegular else {
            throw DynQError(file: path, "is not a regular file")
        }
        return n
    }

    /// The whole file, refusing files larger than `limit` bytes (default 1 GiB) before reading anything.
    public static func read(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
        let n = try size(of: path)
        guard n <= limit else { throw DynQError(file: path, "file is \(n) bytes, larger than the \(limit)-byte limit") }
        return try read(path, offset: 0, count: n)
    }

    /// `count` bytes starting at `offset`; throws if the file is shorter.
    public static func read(_ path: String, offset: Int, count: Int) throws -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: path) else { throw DynQError(file: path, "cannot open the file") }
        defer { try? h.close() }
        do {
            try h.seek(toOffset: UInt64(offset))
            var out: [UInt8] = []
            out.reserveCapacity(count)
            while out.count < count {
                guard let chunk = try h.read(upToCount: min(count - out.count, 1 << 26)), !chunk.isEmpty else {
                    throw DynQError(file: path, "file is truncated: expected \(count) bytes at offset \(offset), found \(out.count)")
                }
                out.append(contentsOf: chunk)
            }
            return out
        } catch let e as DynQError {
            throw e
        } catch {
            throw DynQError(file: path, "read failed: \(error.localizedDescription)")
        }
    }

    /// A text document (JSON) of at most `limit` bytes: its size is checked first, then its first 64 KiB must
    /// start (after whitespace and a UTF-8 byte-order mark) with `{`, before the rest is read, so a junk or
    /// oversized file costs at most 64 KiB of reading.
    public static func readJSONDocument(_ path: String, limit: Int, what: String) throws -> [UInt8] {
        let n = try size(of: path)
        guard n <= limit else {
            throw DynQError(file: path, "file is \(n) bytes, larger than the \(limit)-byte limit for \(what)")
        }
        let head = try read(path, offset: 0, count: min(n, 1 << 16))
        var k = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while k < head.count, [0x20, 0x09, 0x0A, 0x0D].contains(head[k]) { k += 1 }
        guard k < head.count, head[k] == UInt8(ascii: "{") else {
            throw DynQError(file: path, "not \(what): a JSON object must start with '{'")
        }
        return n == head.count ? head : try read(path, offset: 0, count: n)
    }

    /// Writes `bytes` to `path`, replacing it (atomically). Refuses, with a one-line error, a path that is a
    /// directory or whose directory does not exist (`checkWritable`).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try checkWritable(path)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DynQError(file: path, "cannot write the file: \(error.localizedDescription)")
        }
    }

    /// Throws a one-line error when `path` cannot be a file to write: it is a directory, or its directory does not
    /// exist. Commands call it before long work.
    public static func checkWritable(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw DynQError(file: path, "is a directory; give the name of a file to write")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty {
            guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
                throw DynQError(file: path, "cannot write the file: directory '\(parent)' does not exist")
            }
        }
    }
}

/// Little-endian byte reading without alignment requirements.
extension Array where Element == UInt8 {
    @inline(__always)
    func le<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
