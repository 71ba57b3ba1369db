#!/usr/bin/env bash
# Instructions per MAC of single conv layers with the NEON kernel set on an emulated AArch64 core (QEMU virt,
# `-icount shift=0`), every output checked equal to conv2dReference on the emulated core. Prints one line per layer:
# instructions per MAC (and instructions) of the 2x4 tile and of the thin tile; `*` marks the chooser's pick.
#
#   firmware-sim/qemu/a53-neon-layers.sh                      # every layer of a53_neon_layers.swift.embedded
#   LAYERS="0 2 5" firmware-sim/qemu/a53-neon-layers.sh       # those indices (the dynamic layer is the last, 17)
#   CPU=cortex-a76 firmware-sim/qemu/a53-neon-layers.sh       # SDOT (the a76 has the dot product)
# Environment: CPU (cortex-a53), OUT (build directory, .build-qemu/a53-neon-layers-$CPU), SWIFT_BIN (/opt/swift/usr/bin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
QDIR="$ROOT/firmware-sim/qemu"
B="${SWIFT_BIN:-/opt/swift/usr/bin}"
CPU="${CPU:-cortex-a53}"
OUT="${OUT:-$ROOT/.build-qemu/a53-neon-layers-$CPU}"
mkdir -p "$OUT"
cd "$OUT"
: > model.bin; : > input.bin
cp "$QDIR/a53_startup.S.embedded" a53_startup.S
cp "$QDIR/a53_support.c.embedded" a53_support.c
cp "$QDIR/a53_neon_layers.swift.embedded" layers.swift
echo "let dynqLayers: [Int] = [$(echo "${LAYERS:-}" | tr -s ' ' ',' | sed 's/^,//;s/,$//')]" > config.swift
nice -n 10 "$B/clang" --target=aarch64-none-elf "-mcpu=$CPU" -c a53_startup.S -o startup.o
nice -n 10 "$B/clang" --target=aarch64-none-elf "-mcpu=$CPU" -O2 -ffreestanding -fno-builtin -c a53_support.c -o support.o
mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)
nice -n 10 "$B/swiftc" -target aarch64-none-none-elf -enable-experimental-feature Embedded \
    -enable-experimental-feature Extern -wmo -O -parse-as-library -Xfrontend -disable-stack-protector \
    -Xfrontend -function-sections -Xcc "-mcpu=$CPU" -Xcc "-I$ROOT/Sources/DynQIntrinsics/include" \
    -I "$ROOT/Sources/DynQIntrinsics/include" -module-name DynQCore -c "${SOURCES[@]}" layers.swift config.swift \
    -o layers.o
"$B/ld.lld" -T "$QDIR/a53_link.ld" --defsym=ARENA_BYTES=0 --defsym=STACK_BYTES=1048576 --defsym=RAM_BYTES=0x10000000 \
    --gc-sections startup.o support.o layers.o \
    "$B/../lib/swift/embedded/aarch64-none-none-elf/libswiftUnicodeDataTables.a" -o image.elf
timeout "${QEMU_TIMEOUT:-3600}" qemu-system-aarch64 -M virt -cpu "$CPU" -m 256M -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel image.elf
