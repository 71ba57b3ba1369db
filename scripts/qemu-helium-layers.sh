#!/usr/bin/env bash
# Per-layer benchmark of the Helium kernel set on an emulated Cortex-M55 (QEMU mps3-an547): instructions per MAC of
# the oracle, scalar, simd128 and helium sets on issue 13's standard layers (3x3 16->32 and 32->32 @14x14,
# depthwise 3x3 32 ch @14x14 s2/s1, 1x1 32->48 @7x7 and 16->32 @14x14, FC 48->10, stem 3x3 1->16 @28x28), each
# set through the KernelSet interface (chooser, packing, scratch), every output's hash checked against the
# oracle's on the same core.
#
#   scripts/qemu-helium-layers.sh               # Cortex-M55 (the only core with MVE here)
#
# Environment: OPT (-O, default, or -Osize), OUT (build directory, default .build-qemu/helium-layers), SWIFT_BIN
#   (/opt/swift/usr/bin), QEMU (qemu-system-arm), QEMU_TIMEOUT (seconds, 1800), STACK_BYTES (32768).
#
# What happens: DynQCore's sources and firmware-sim/qemu/helium_layers.swift.embedded are compiled as ONE Embedded
# Swift module (armv7em-none-none-eabi, -wmo, -Xcc -mcpu=cortex-m55: LLVM emits MVE), linked with the startup,
# ABI and support files of firmware-sim/qemu/ (SysTick timer, -DDYNQ_TIMER_SYSTICK) into the board's 512 KB ITCM
# / 512 KB DTCM, and run under QEMU with semihosting and `-icount shift=0` (one instruction = one virtual
# nanosecond; SysTick at 32 MHz = 31.25 instructions per tick, checked by a calibration loop). Exit code 0 only
# when the firmware finishes and every set's output equals the oracle's on every layer. Builds run under nice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QDIR="$ROOT/firmware-sim/qemu"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
QEMU="${QEMU:-qemu-system-arm}"
OPT="${OPT:--O}"
STACK_BYTES="${STACK_BYTES:-32768}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-1800}"
OUT="${OUT:-$ROOT/.build-qemu/helium-layers}"
TARGET=armv7em-none-none-eabi
BOARD=mps3-an547 CPU=cortex-m55
NICE=(nice -n 10)

PROG=qemu-helium-layers
# shellcheck source=scripts/qemu-common.sh
. "$ROOT/scripts/qemu-common.sh"
case "${1:-}" in -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; "") ;; *) die "unknown argument $1" ;; esac

qemu_find_tools
INCLUDE="$ROOT/Sources/DynQIntrinsics/include"
mkdir -p "$OUT"

mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)
SWIFT_FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -enable-experimental-feature Extern
             -wmo "$OPT" -parse-as-library -Xfrontend -disable-stack-protector -Xfrontend -function-sections
             -Xcc -mcpu="$CPU" -Xcc -I"$INCLUDE" -module-name DynQCore)
cp "$QDIR/helium_layers.swift.embedded" "$OUT/layers.swift"
KEY="$( { "$SWIFTC" --version 2>&1; echo "${SWIFT_FLAGS[*]}"; cat "${SOURCES[@]}" "$INCLUDE"/* "$OUT/layers.swift"; } \
        | sha256sum | cut -c1-16)"
if [ -f "$OUT/layers.o" ] && [ "$(cat "$OUT/layers.key" 2>/dev/null)" = "$KEY" ]; then
    echo "qemu-helium-layers: Embedded Swift object up to date ($CPU, $OPT)"
else
    echo "qemu-helium-layers: compiling DynQCore (${#SOURCES[@]} files) + the benchmark main ($TARGET, $CPU, $OPT)"
    rm -f "$OUT/layers.key"
    "${NICE[@]}" "$SWIFTC" "${SWIFT_FLAGS[@]}" -c "${SOURCES[@]}" "$OUT/layers.swift" -o "$OUT/layers.o"
    echo "$KEY" > "$OUT/layers.key"
fi

CFLAGS=(--target=arm-none-eabi -mcpu="$CPU" -mthumb -mfloat-abi=soft)
cp "$QDIR/startup.S.embedded" "$OUT/startup.S"; cp "$QDIR/aeabi.S.embedded" "$OUT/aeabi.S"
cp "$QDIR/support.c.embedded" "$OUT/support.c"
sed -e "/^ *FLASH (rx)/ s/LENGTH = [0-9A-Z]*/LENGTH = 512K/" -e "/^ *RAM  *(rwx)/ s/LENGTH = [0-9A-Z]*/LENGTH = 512K/" \
    "$QDIR/link.ld" > "$OUT/link.ld"
: > "$OUT/model.bin"; : > "$OUT/input.bin"           # startup.S embeds a model and an input; none here
(
    cd "$OUT"
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c startup.S -o startup.o
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c aeabi.S -o aeabi.o
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -fno-builtin -Wall -Wextra -DDYNQ_TIMER_SYSTICK \
        -c support.c -o support.o
)
"$LLD" -T "$OUT/link.ld" --defsym=ARENA_BYTES=131072 --defsym=STACK_BYTES="$STACK_BYTES" --gc-sections \
    -Map="$OUT/image.map" "$OUT/startup.o" "$OUT/aeabi.o" "$OUT/support.o" "$OUT/layers.o" "$UNICODE_LIB" \
    -o "$OUT/image.elf"

echo "qemu-helium-layers: $QEMU -M $BOARD -icount shift=0 -kernel $OUT/image.elf"
rc=0
timeout "$QEMU_TIMEOUT" "$QEMU" -M "$BOARD" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$OUT/image.elf" >"$OUT/run.log" 2>&1 || rc=$?
cat "$OUT/run.log"
if [ "$rc" -ne 0 ] || ! grep -q '^status: ok' "$OUT/run.log"; then
    qemu_explain_fault "$OUT/run.log"
    die "the firmware failed (exit $rc)"
fi
echo "qemu-helium-layers: every output equals the oracle's on the Cortex-M55"
