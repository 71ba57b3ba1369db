// The C API allocates nothing: dynq_arena_bytes, dynq_create and dynq_invoke make no call of malloc and friends
// (Tests/AllocationCounter interposes libc's allocator in the test executable and counts per thread). The host
// build is full Swift, whose runtime fills caches (generic metadata) on a first call, so each function is called
// once before the counted call. The Cortex-M4 example checks the same without that warm-up: an Embedded Swift
// image has no runtime caches (examples/cortex-m4, scripts/firmware-example.sh).
#if canImport(AllocationCounter)
import AllocationCounter
import CDynQ
import DynQCore
@testable import DynQFirmware
import Testing

@Suite("C API: no heap")
struct CAPIAllocationTests {
    @Test("dynq_arena_bytes, dynq_create, dynq_invoke and dynq_destroy call no allocator (counted per call)")
    func noAllocatorCalls() throws {
        guard dynq_allocation_count() >= 0 else {
            Issue.record("the allocation counter is not available on this platform")
            return
        }
        let model = try fixtureBytes()
        let image = try firstTestImage()
        try aligned(model) { m in
            var need = 0
            #expect(arenaBytes(m, model.count, &need, nil) == DYNQ_OK)
            try arena(need) { a in
                var counts: [String: Int] = [:]
                var h: OpaquePointer?
                for round in 0..<2 {
                    dynq_count_allocations(1)
                    var n = 0
                    let s0 = dynq_arena_bytes(m, model.count, a, need, &n, nil)
                    let sizing = dynq_allocation_count()
                    dynq_count_allocations(1)
                    let s1 = dynq_create(m, model.count, a, need, &h, nil)
                    let create = dynq_allocation_count()
                    var input: UnsafeMutablePointer<UInt8>?
                    _ = dynq_input(h, &input, nil)
                    for i in 0..<image.count { input![i] = image[i] }
                    dynq_count_allocations(1)
                    let s2 = dynq_invoke(h)
                    let invoke = dynq_allocation_count()
                    dynq_count_allocations(1)
                    dynq_destroy(h)
                    let destroy = dynq_allocation_count()
                    // Positive control: the counter sees an allocate-and-free on this thread.
                    dynq_count_allocations(1)
                    let probe = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
                    probe.deallocate()
                    let control = dynq_allocation_count()
                    dynq_count_allocations(0)
                    #expect(s0 == DYNQ_OK && s1 == DYNQ_OK && s2 == DYNQ_OK && n == need)
                    #expect(control >= 1, "the counter is blind: it did not see an allocate-and-free")
                    if round == 1 {
                        counts = ["dynq_arena_bytes": sizing, "dynq_create": create, "dynq_invoke": invoke,
                                  "dynq_destroy": destroy]
                    }
                }
                for (function, n) in counts { #expect(n == 0, "\(function): \(n) allocator calls") }
                #expect(counts.count == 4)
            }
        }
    }
}
#endif
