#!/usr/bin/env bash
# Times the HostWide kernels against the SIMD128 kernels on standard layers, for one host ISA level (docs/host-isa.md).
#   bash scripts/bench-hostwide.sh [sse2|avx2|avx512|native] [ROUNDS] [FILTER]
# Builds a throwaway package in ${TMPDIR:-/tmp}/dynq-bench-hostwide (DynQCore and DynQIntrinsics linked from this
# checkout, scripts/bench-hostwide/main.swift as the executable) with DYNQ_HOST_ISA set, and runs it. Not part of CI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
ISA="${1:-native}"; ROUNDS="${2:-11}"; FILTER="${3:-}"
DIR="${TMPDIR:-/tmp}/dynq-bench-hostwide"
mkdir -p "$DIR/Sources/Bench"
ln -sfn "$ROOT/Sources/DynQCore" "$DIR/Sources/DynQCore"
ln -sfn "$ROOT/Sources/DynQIntrinsics" "$DIR/Sources/DynQIntrinsics"
cp "$ROOT/scripts/bench-hostwide/main.swift" "$DIR/Sources/Bench/main.swift"
cat > "$DIR/Package.swift" <<'SWIFT'
// swift-tools-version:6.0
import PackageDescription
let f: [String] = switch Context.environment["DYNQ_HOST_ISA"] ?? "sse2" {
case "avx2": ["-march=x86-64-v3"]
case "avx512": ["-march=x86-64-v4", "-mavx512vnni"]
case "native": ["-march=native"]
default: []
}
let s: [SwiftSetting] = f.isEmpty ? [] : [.unsafeFlags(f.flatMap { ["-Xcc", $0] })]
let package = Package(name: "Bench", targets: [
    .target(name: "DynQIntrinsics", path: "Sources/DynQIntrinsics"),
    .target(name: "DynQCore", dependencies: ["DynQIntrinsics"], path: "Sources/DynQCore", swiftSettings: s),
    .executableTarget(name: "Bench", dependencies: ["DynQCore"], path: "Sources/Bench", swiftSettings: s),
], swiftLanguageModes: [.v5])
SWIFT
cd "$DIR"
DYNQ_HOST_ISA="$ISA" swift build -c release --scratch-path ".build-$ISA" >&2
".build-$ISA/release/Bench" "$ROUNDS" $FILTER
