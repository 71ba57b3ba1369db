// The x86 run-time dispatch as a user meets it: `dynq run` prints the same logits with the dispatched AVX-512 VNNI
// kernels (chosen by CPUID in any build), with the dispatched AVX2 kernels (`DYNQ_HOST_DISPATCH=avx2`), with them
// turned off (`DYNQ_HOST_DISPATCH=off`: the build's own kernels) and with the oracle kernel set. On a CPU without
// AVX-512 VNNI (or AVX2) those runs take the lower level and must still agree.
#if arch(x86_64)
import Foundation
import Testing

@Suite("dynq on x86: run-time dispatch")
struct HostDispatchCLITests {
    @Test("run --logits: identical with the run-time dispatch on, capped at AVX2 (DYNQ_HOST_DISPATCH=avx2), off and with the oracle set")
    func logitsIdenticalWithAndWithoutDispatch() throws {
        let args = ["run", "fixtures/fmnist/model.dynq", "fixtures/fmnist/test_images.npy", "--logits"]
        let on = try dynq(args, environment: ["DYNQ_HOST_DISPATCH": "on"])
        let off = try dynq(args, environment: ["DYNQ_HOST_DISPATCH": "off"])
        let avx2 = try dynq(args, environment: ["DYNQ_HOST_DISPATCH": "avx2"])
        let oracle = try dynq(args + ["--kernels", "oracle"])
        #expect(on.status == 0 && off.status == 0 && avx2.status == 0 && oracle.status == 0)
        #expect(on.stdout.split(separator: "\n").count >= 10, "\(on.stdout.prefix(200))")
        #expect(on.stdout == off.stdout)
        #expect(avx2.stdout == off.stdout)
        #expect(on.stdout == oracle.stdout)
    }
}
#endif
