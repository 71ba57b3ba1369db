// Running `dynq` on hostile input: the child's exit status and output, whether it had to be killed, and optionally
// a cap on its data memory (RLIMIT_DATA: heap and private mappings), so "reads the whole file" or "allocates the
// arena" shows up as a failed allocation instead of a number to compare. (The child's peak RSS cannot be read
// reliably here: posix_spawn's vfork-style start charges the test process's own high-water mark to the child.)
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `dynq` run on hostile input.
struct HostileRun {
    var status: Int32
    /// The signal that ended the child, if one did (a trap is SIGILL or SIGTRAP).
    var signal: Int32?
    var stdout: String
    var stderr: String
    /// The child was still running after the time limit and was killed.
    var timedOut: Bool

    /// A clean refusal: exit status 1, no signal, no timeout, and stderr's last line is `dynq: FILE: ...`
    /// (warnings or details may come before it).
    func refused(naming file: String) -> Bool {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true)
        guard status == 1, signal == nil, !timedOut, let last = lines.last else { return false }
        return last.hasPrefix("dynq: \(file): ")
    }

    var summary: String {
        "status \(status), signal \(signal.map(String.init) ?? "none"), timed out \(timedOut), stderr: \(stderr.prefix(600))"
    }
}

/// Runs `dynq` with `arguments` in the repository root; kills it after `timeout` seconds. With `dataLimitMiB`, the
/// child's data memory is capped (`ulimit -d`): an allocation beyond it fails and dynq stops with a signal.
func hostileDynq(_ arguments: [String], timeout: Double = 120, dataLimitMiB: Int? = nil) throws -> HostileRun {
    let dir = NSTemporaryDirectory() + "dynq-hostile-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outPath = dir + "/stdout", errPath = dir + "/stderr"

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

    // `sh` sets the limit and changes to the repository root in the child only (tests run in parallel in one
    // process), then execs dynq in its place.
    let exe = try dynqPath()
    let limit = dataLimitMiB.map { "ulimit -d \($0 * 1024) && " } ?? ""
    let argv = (["sh", "-c", limit + "cd \"$0\" && exec \"$@\"", repoRoot, exe] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
    guard rc == 0 else { throw CLIError(message: "posix_spawn failed: \(rc)") }

    var status: Int32 = 0
    var timedOut = false
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { throw CLIError(message: "waitpid failed: \(errno)") }
        if Date() > deadline && !timedOut {
            timedOut = true
            kill(pid, SIGKILL)
        }
        usleep(20_000)
    }
    // WIFEXITED / WTERMSIG spelled out (the C macros are not imported).
    let termSignal = status & 0x7F
    let exited = termSignal == 0
    return HostileRun(status: exited ? (status >> 8) & 0xFF : 128 + termSignal,
                      signal: exited ? nil : termSignal,
                      stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", timedOut: timedOut)
}

func hostileDynq(_ arguments: String...) throws -> HostileRun { try hostileDynq(arguments) }

/// A file of `size` zero bytes that takes no disk space (a hole), for "is a huge file read whole?" tests.
func sparseFile(_ path: String, size: UInt64) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try h.truncate(atOffset: size)
    try h.close()
}

let hostile = "fixtures/hostile"
let fmnistGraph = "fixtures/fmnist/model.graph.json"
let fmnistWeights = "fixtures/fmnist/model.safetensors"
