// Fuzz target `qemulog`: the reader of scripts/qemu-run.sh logs (`QemuProfile`, for `dynq sim --qemu-log`).
import DynQGraph
import DynQSim

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQemuLog(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
    if let p = refusedOrAccepted("QemuProfile", { try QemuProfile(log: text, file: "run.log") }) {
        precondition(!p.ops.isEmpty, "an accepted log has no ops")
    }
    return 0
}
