// swift-tools-version:6.0
// DynQ: int8 fixed-point inference of DyNet dynamic-convolution CNNs for edge targets.
//
// Module map (data flows top to bottom):
//   DynQGraph     graph spec (JSON) + safetensors + float32 reference engine + input loaders   (Foundation;
//                 its window geometry is DynQCore's Padding / Pair / Window)
//   DynQQuantizer float graph -> int8 .dynq model file (BN folding, calibration)              (quantizer/)
//   DynQCore      the integer runtime: numerics, kernels, arena, .dynq reader, interpreter   (no Foundation;
//                 compiles as Embedded Swift, see scripts/embedded-build.sh)
//   DynQSim       memory / op measurement for edge targets, the paper's model zoo            (firmware-sim/)
//   dynq          the command-line tool
import PackageDescription

// Host instruction set of an x86-64 build (docs/host-isa.md). The default builds for baseline x86-64 (SSE2) and runs
// on every x86-64 CPU; a higher level lets the compiler use that CPU's vector instructions everywhere (Swift has no
// per-function target attribute, so the whole build targets it) and turns on the HostWide kernels' fast paths
// (Sources/DynQIntrinsics/include/dynq_x86.h). The binary then runs only on CPUs that have the level.
//   DYNQ_HOST_ISA=sse2     baseline x86-64 (default; no flags)
//   DYNQ_HOST_ISA=avx2     x86-64-v3: AVX2, FMA, BMI2 (Haswell, Zen 1 and later)
//   DYNQ_HOST_ISA=avx512   x86-64-v4 plus AVX-512 VNNI (Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4 and later)
//   DYNQ_HOST_ISA=native   everything the building machine has (-march=native)
// Use a separate scratch path per level, e.g. `DYNQ_HOST_ISA=native swift build -c release --scratch-path .build-native`.
let hostISA = Context.environment["DYNQ_HOST_ISA"] ?? "sse2"
let hostISAClangFlags: [String] = switch hostISA {
case "", "sse2": []
case "avx2": ["-march=x86-64-v3"]
case "avx512": ["-march=x86-64-v4", "-mavx512vnni"]
case "native": ["-march=native"]
default: fatalError("DYNQ_HOST_ISA must be sse2, avx2, avx512 or native (got '\(hostISA)')")
}
/// Swift settings of every target: the host ISA passed to Swift's code generation and to the C importer.
let hostISASwiftSettings: [SwiftSetting] =
    hostISAClangFlags.isEmpty ? [] : [.unsafeFlags(hostISAClangFlags.flatMap { ["-Xcc", $0] })]

let package = Package(
    name: "DynQ",
    products: [
        .executable(name: "dynq", targets: ["dynq"]),
        .library(name: "DynQCore", targets: ["DynQCore"]),
        .library(name: "DynQGraph", targets: ["DynQGraph"]),
        .library(name: "DynQQuantizer", targets: ["DynQQuantizer"]),
        .library(name: "DynQSim", targets: ["DynQSim"]),
    ],
    targets: [
        .target(name: "DynQCore", dependencies: ["DynQIntrinsics"], path: "Sources/DynQCore",
                swiftSettings: hostISASwiftSettings),
        // Header-only C wrappers of ISA builtins (with portable C models) for the per-ISA kernel sets.
        .target(name: "DynQIntrinsics", path: "Sources/DynQIntrinsics"),
        .target(name: "DynQGraph", dependencies: ["DynQCore"], path: "Sources/DynQGraph",
                swiftSettings: hostISASwiftSettings),
        // The C API (include/dynq.h, imported by Swift as CDynQ) and its Swift implementation, which
        // scripts/build-libs.sh also compiles as Embedded Swift into the static libraries a C firmware links.
        .target(name: "CDynQ", path: "include", publicHeadersPath: "."),
        .target(name: "DynQFirmware", dependencies: ["DynQCore", "CDynQ"], path: "Sources/DynQFirmware",
                swiftSettings: hostISASwiftSettings),
        .target(name: "DynQQuantizer", dependencies: ["DynQCore", "DynQGraph"], path: "quantizer",
                swiftSettings: hostISASwiftSettings),
        .target(name: "DynQSim", dependencies: ["DynQCore", "DynQGraph"], path: "firmware-sim",
                exclude: ["qemu"], swiftSettings: hostISASwiftSettings),
        .executableTarget(
            name: "dynq",
            dependencies: ["DynQCore", "DynQGraph", "DynQQuantizer", "DynQSim", "DynQFirmware"],
            path: "Sources/dynq", swiftSettings: hostISASwiftSettings),
        // Test-only: counts malloc-family calls during a window (interposes libc's allocator in the test executable).
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "DynQCoreTests", dependencies: ["DynQCore", "DynQIntrinsics", "AllocationCounter"], path: "Tests/DynQCoreTests",
                    swiftSettings: hostISASwiftSettings),
        .testTarget(name: "DynQFirmwareTests",
                    dependencies: ["DynQFirmware", "DynQCore", "DynQGraph", "CDynQ", "AllocationCounter"],
                    path: "Tests/DynQFirmwareTests", swiftSettings: hostISASwiftSettings),
        .testTarget(name: "DynQGraphTests", dependencies: ["DynQGraph", "DynQCore"], path: "Tests/DynQGraphTests",
                    swiftSettings: hostISASwiftSettings),
        .testTarget(name: "DynQQuantizerTests", dependencies: ["DynQQuantizer", "DynQCore", "DynQGraph"],
                    path: "Tests/DynQQuantizerTests", swiftSettings: hostISASwiftSettings),
        .testTarget(name: "DynQSimTests", dependencies: ["DynQSim", "DynQCore", "DynQGraph", "DynQQuantizer"],
                    path: "Tests/DynQSimTests", swiftSettings: hostISASwiftSettings),
        // Runs the built `dynq` executable as a user would (exit codes, messages); depends on it so it is built.
        .testTarget(name: "DynQCLITests", dependencies: ["dynq"], path: "Tests/DynQCLITests",
                    swiftSettings: hostISASwiftSettings),
    ]
)
