// The x86 run-time dispatch as a user meets it: `dynq run` prints the same logits with the dispatched AVX-512 VNNI
// kernels (chosen by CPUID in any build), with them turned off (`DYNQ_HOST_DISPATCH=off`: the build's own kernels)
// and with the oracle kernel set. On a CPU without AVX-512 VNNI both runs take the fallback and must still agree.
#if arch(x86_64)
import Foundation
import Testing

/// Runs `dynq` with `arguments` and the extra environment `env` in the repository root; returns its stdout.
private func dynqOutput(_ arguments: [String], env: [String: String]) throws -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try dynqPath())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
    process.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self))
}

@Suite("dynq on x86: run-time dispatch")
struct HostDispatchCLITests {
    @Test("run --logits: identical with the run-time dispatch on, off (DYNQ_HOST_DISPATCH=off) and with the oracle set")
    func logitsIdenticalWithAndWithoutDispatch() throws {
        let args = ["run", "fixtures/fmnist/model.dynq", "fixtures/fmnist/test_images.npy", "--logits"]
        let on = try dynqOutput(args, env: ["DYNQ_HOST_DISPATCH": "on"])
        let off = try dynqOutput(args, env: ["DYNQ_HOST_DISPATCH": "off"])
        let oracle = try dynqOutput(args + ["--kernels", "oracle"], env: [:])
        #expect(on.status == 0 && off.status == 0 && oracle.status == 0)
        #expect(on.stdout.split(separator: "\n").count >= 10, "\(on.stdout.prefix(200))")
        #expect(on.stdout == off.stdout)
        #expect(on.stdout == oracle.stdout)
    }
}
#endif
