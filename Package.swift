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
        .target(name: "DynQCore", dependencies: ["DynQIntrinsics"], path: "Sources/DynQCore"),
        // Header-only C wrappers of ISA builtins (with portable C models) for the per-ISA kernel sets.
        .target(name: "DynQIntrinsics", path: "Sources/DynQIntrinsics"),
        .target(name: "DynQGraph", dependencies: ["DynQCore"], path: "Sources/DynQGraph"),
        // The C API (include/dynq.h, imported by Swift as CDynQ) and its Swift implementation, which
        // scripts/build-libs.sh also compiles as Embedded Swift into the static libraries a C firmware links.
        .target(name: "CDynQ", path: "include", publicHeadersPath: "."),
        .target(name: "DynQFirmware", dependencies: ["DynQCore", "CDynQ"], path: "Sources/DynQFirmware"),
        .target(name: "DynQQuantizer", dependencies: ["DynQCore", "DynQGraph"], path: "quantizer"),
        .target(name: "DynQSim", dependencies: ["DynQCore", "DynQGraph"], path: "firmware-sim",
                exclude: ["qemu"]),
        .executableTarget(
            name: "dynq",
            dependencies: ["DynQCore", "DynQGraph", "DynQQuantizer", "DynQSim", "DynQFirmware"],
            path: "Sources/dynq"),
        // Test-only: counts malloc-family calls during a window (interposes libc's allocator in the test executable).
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "DynQCoreTests", dependencies: ["DynQCore", "AllocationCounter"], path: "Tests/DynQCoreTests"),
        .testTarget(name: "DynQFirmwareTests",
                    dependencies: ["DynQFirmware", "DynQCore", "CDynQ", "AllocationCounter"],
                    path: "Tests/DynQFirmwareTests"),
        .testTarget(name: "DynQGraphTests", dependencies: ["DynQGraph", "DynQCore"], path: "Tests/DynQGraphTests"),
        .testTarget(name: "DynQQuantizerTests", dependencies: ["DynQQuantizer", "DynQCore", "DynQGraph"],
                    path: "Tests/DynQQuantizerTests"),
        .testTarget(name: "DynQSimTests", dependencies: ["DynQSim", "DynQCore", "DynQGraph", "DynQQuantizer"],
                    path: "Tests/DynQSimTests"),
        // Runs the built `dynq` executable as a user would (exit codes, messages); depends on it so it is built.
        .testTarget(name: "DynQCLITests", dependencies: ["dynq"], path: "Tests/DynQCLITests"),
    ]
)
