#!/usr/bin/env bash
# Compiles every Swift file under Sources/DynQCore as Embedded Swift for a Cortex-M4/M7 (armv7em, Thumb-2) and
# prints the object's size. Exits non-zero if the module does not compile. Flags live here, not in Package.swift.
#
#   scripts/embedded-build.sh                 # armv7em-none-none-eabi, -O
#   TARGET=armv6m-none-none-eabi scripts/embedded-build.sh
#   OUT=/tmp/x OPT=-Osize scripts/embedded-build.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
TARGET="${TARGET:-armv7em-none-none-eabi}"
OPT="${OPT:--O}"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/dynq-embedded.XXXXXX")}"
mkdir -p "$OUT"

SWIFTC="$SWIFT_BIN/swiftc"
[ -x "$SWIFTC" ] || SWIFTC="$(command -v swiftc)"

mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)
if [ "${#SOURCES[@]}" -eq 0 ]; then
    echo "embedded-build: no sources under Sources/DynQCore" >&2
    exit 1
fi

OBJ="$OUT/DynQCore-$TARGET.o"
echo "embedded-build: ${#SOURCES[@]} files -> $OBJ ($TARGET, $OPT)"
"$SWIFTC" \
    -target "$TARGET" \
    -enable-experimental-feature Embedded \
    -wmo "$OPT" -parse-as-library \
    -module-name DynQCore \
    -Xcc -I"$ROOT/Sources/DynQIntrinsics/include" \
    -c "${SOURCES[@]}" \
    -o "$OBJ"

if [ -x "$SWIFT_BIN/llvm-size" ]; then
    "$SWIFT_BIN/llvm-size" "$OBJ"
elif command -v llvm-size >/dev/null 2>&1; then
    llvm-size "$OBJ"
else
    ls -l "$OBJ"
fi
echo "embedded-build: OK"
