// The x86 run-time dispatch as a user meets it: `dynq run` prints the same logits with the dispatched AVX-512 VNNI
// kernels (chosen by CPUID in any build), with them turned off (`DYNQ_HOST_DISPATCH=off`: the build's own kernels)
// and with the oracle kernel set. On a CPU without AVX-512 VNNI both runs take the fallback and must still agree.
#if arch(x86_64)
import Foundation
import Testing

@Suite("dynq on x86: run-time dispatch")
struct HostDispatchCLITests {
    @Test("run --logits: identical with the run-time dispatch on, off (DYNQ_HOST_DISPATCH=off) and with the oracle set")
    func logitsIdenticalWithAndWithoutDispatch() throws {
        let args = ["run", "fixtures/fmnist/model.dynq", "fixtures/fmnist/test_images.npy", "--logits"]
        let on = try dynq(args, environment: ["DYNQ_HOST_DISPATCH": "on"])
        let off = try dynq(args, environment: ["DYNQ_HOST_DISPATCH": "off"])
        let oracle = try dynq(args + ["--kernels", "oracle"])
        #expect(on.status == 0 && off.status == 0 && oracle.status == 0)
        #expect(on.stdout.split(separator: "\n").count >= 10, "\(on.stdout.prefix(200))")
        #expect(on.stdout == off.stdout)
        #expect(on.stdout == oracle.stdout)
    }
}
#endif
