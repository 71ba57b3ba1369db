#!/usr/bin/env bash
# Runs a .dynq model with DynQCore on an emulated Cortex-A53 (QEMU virt, AArch64 bare metal) and reports what it used.
#
#   scripts/qemu-a53-run.sh MODEL.dynq INPUT.bin                # INPUT.bin: the model input, uint8 HWC, H·W·C bytes
#   scripts/qemu-a53-run.sh MODEL.dynq --first-image X.npy      # the first image of a uint8 .npy ([N,C,H,W], [N,H,W], ...)
#   scripts/qemu-a53-run.sh MODEL.dynq --first-image X.npy --host   # also cross-check against the host
#
# Options:
#   --kernels NAME  the ONE kernel set the image links (-D DYNQ_KERNELS_<SET>, firmware-sim/qemu/main.swift.embedded):
#              scalar (default), simd128 (the 128-bit Swift SIMD set) or neon (Kernels/NEON: SMULL/SMLAL2/SADALP
#              tiles, SDOT when SWIFT_EXTRA targets a dot-product core); --simd = --kernels simd128
#   --host     cross-check: the same DynQCore sources built for the host must give the same logits (oracle,
#              scalar, simd128 and neon sets; neon through its C models on x86) and the same arena size
# Environment: CPU (cortex-a53; QEMU's -cpu and clang's -mcpu, e.g. cortex-a76 for a core with the dot-product
#   extension), SWIFT_EXTRA (more swiftc flags, e.g. "-Xcc -march=armv8.2-a+dotprod"), OPT (-O, default, or -Osize),
#   STACK_BYTES (65536), RAM_MB (256), PROBE_ARENA_MB (8: the first run's arena), OUT (build directory, default
#   .build-qemu/a53-firmware), HOST_OUT (the host twin's directory, default $OUT/host), SWIFT_BIN
#   (/opt/swift/usr/bin), QEMU (qemu-system-aarch64), QEMU_TIMEOUT (seconds, 900).
#
# What happens: DynQCore's sources and firmware-sim/qemu/main.swift.embedded (the Cortex-M4 firmware main, shared
# unchanged, with -D DYNQ_KERNELS_<SET>) are compiled as ONE Embedded Swift module (aarch64-none-none-elf, -wmo), the model and the input are
# embedded with .incbin (16-byte aligned), the image is linked with ld.lld and firmware-sim/qemu/a53_link.ld (all in
# virt's RAM at 0x40000000), and QEMU runs it with semihosting (HLT #0xF000) and `-icount shift=0` (one instruction
# = one virtual nanosecond; the generic timer CNTVCT_EL0 counts that clock at 62.5 MHz, one count per 16
# instructions; a53_support.c gives the shared main its 40-instruction ticks). A first run with a large arena reads
# the plan's arena size; the image is relinked with a static arena of exactly that size in .bss and run again.
# Exit code 0 only when the firmware reports `status: ok` (and, with --host, every cross-check matches).
# Builds run under `nice -n 10`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QDIR="$ROOT/firmware-sim/qemu"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
QEMU="${QEMU:-qemu-system-aarch64}"
CPU="${CPU:-cortex-a53}"
OPT="${OPT:--O}"
STACK_BYTES="${STACK_BYTES:-65536}"
RAM_MB="${RAM_MB:-256}"
OUT="${OUT:-$ROOT/.build-qemu/a53-firmware}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-900}"
PROBE_ARENA_MB="${PROBE_ARENA_MB:-8}"
read -r -a SWIFT_EXTRA <<< "${SWIFT_EXTRA:-}"
TARGET=aarch64-none-none-elf
NICE=(nice -n 10)
PROG=qemu-a53-run
# shellcheck source=scripts/qemu-common.sh
. "$ROOT/scripts/qemu-common.sh"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

MODEL="" INPUT="" NPY="" KERNELS=scalar HOST=0
while [ $# -gt 0 ]; do
    case "$1" in
        --first-image) [ $# -ge 2 ] || die "--first-image needs a .npy file"; NPY="$2"; shift 2 ;;
        --simd) KERNELS=simd128; shift ;;
        --kernels) [ $# -ge 2 ] || die "--kernels needs a name"; KERNELS="$2"; shift 2 ;;
        --host) HOST=1; shift ;;
        -h|--help) usage 0 ;;
        -*) die "unknown option $1" ;;
        *) if [ -z "$MODEL" ]; then MODEL="$1"; elif [ -z "$INPUT" ]; then INPUT="$1"; else die "extra argument $1"; fi
           shift ;;
    esac
done
[ -n "$MODEL" ] || usage
[ -f "$MODEL" ] || die "no model file $MODEL"
if [ -n "$NPY" ] && [ -n "$INPUT" ]; then die "give INPUT.bin or --first-image X.npy, not both"; fi
[ -n "$NPY" ] || [ -n "$INPUT" ] || die "no input: give INPUT.bin or --first-image X.npy"
case "$RAM_MB" in ''|*[!0-9]*) die "RAM_MB must be a number of megabytes" ;; esac
[ "$RAM_MB" -ge 16 ] && [ "$RAM_MB" -le 1024 ] || die "RAM_MB must be in 16...1024 (the page table maps 1 GB of RAM)"
case "$PROBE_ARENA_MB" in ''|*[!0-9]*) die "PROBE_ARENA_MB must be a number of megabytes" ;; esac
[ "$PROBE_ARENA_MB" -ge 1 ] && [ "$PROBE_ARENA_MB" -lt "$RAM_MB" ] || die "PROBE_ARENA_MB must be in 1..RAM_MB-1"

qemu_find_tools
qemu_prepare_files "$MODEL" "$NPY" "$INPUT"

# ---- compile: DynQCore + the firmware main as one Embedded Swift module (cached by a hash of its inputs) ----
mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)
case "$KERNELS" in
    scalar) KERNEL_FLAG=() ;;
    simd128) KERNEL_FLAG=(-D DYNQ_KERNELS_SIMD128) ;;
    neon) KERNEL_FLAG=(-D DYNQ_KERNELS_NEON) ;;
    *) die "--kernels must be scalar, simd128 or neon, not '$KERNELS'" ;;
esac
SWIFT_FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -enable-experimental-feature Extern
             "${KERNEL_FLAG[@]}" -wmo "$OPT" -parse-as-library -Xfrontend -disable-stack-protector
             -Xfrontend -function-sections -Xcc "-mcpu=$CPU" -module-name DynQCore)
SWIFT_FLAGS+=(-Xcc "-I$ROOT/Sources/DynQIntrinsics/include" "${SWIFT_EXTRA[@]}")
qemu_compile_firmware "$OPT, -mcpu=$CPU"

# ---- startup and C support; the model and input are .incbin'ed from $OUT ----
CFLAGS=(--target=aarch64-none-elf "-mcpu=$CPU")
cp "$QDIR/a53_startup.S.embedded" "$OUT/a53_startup.S"
cp "$QDIR/a53_support.c.embedded" "$OUT/a53_support.c"
cp "$QDIR/a53_link.ld" "$OUT/"
(
    cd "$OUT"
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c a53_startup.S -o a53_startup.o
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -fno-builtin -Wall -Wextra -ffunction-sections \
        -c a53_support.c -o a53_support.o
)

link_image() {  # $1 = arena bytes
    "$LLD" -T "$OUT/a53_link.ld" --defsym=ARENA_BYTES="$1" --defsym=STACK_BYTES="$STACK_BYTES" \
        --defsym=RAM_BYTES="$((RAM_MB * 1024 * 1024))" --gc-sections -Map="$OUT/image.map" \
        "$OUT/a53_startup.o" "$OUT/a53_support.o" "$OUT/firmware.o" "$UNICODE_LIB" -o "$OUT/image.elf"
}

# The shared firmware main explains its 64-bit division count with the M4's missing divide instruction; on the
# A53 the count (always 0 here: UDIV is one instruction) is left out.
run_qemu() {  # $1 = log file; returns QEMU's exit code (the firmware's)
    local rc=0
    timeout "$QEMU_TIMEOUT" "$QEMU" -M virt -cpu "$CPU" -m "${RAM_MB}M" -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$OUT/image.elf" >"$1.raw" 2>&1 || rc=$?
    sed -e '/^invoke_64bit_divisions:/d' "$1.raw" >"$1"
    rm -f "$1.raw"
    return "$rc"
}

# ---- pass 1 plans the model in a large arena, pass 2 runs it in a static arena of the size it needs ----
qemu_probe_and_run "$((PROBE_ARENA_MB * 1024 * 1024))" "$QEMU -M virt -cpu $CPU -m ${RAM_MB}M -nographic -semihosting -icount shift=0 -kernel $OUT/image.elf"

echo "qemu-a53-run: image sizes (llvm-size; .rodata holds the model and the input, .bss the arena)"
if [ -n "$SIZE" ]; then
    "$SIZE" -A "$OUT/image.elf" | awk '$1 ~ /^\./ { printf "  %-12s %9d\n", $1, $2 }'
fi

# ---- cross-check on the host: the same DynQCore sources built for the host, logits byte for byte ----
HOST_STATUS="not run (pass --host)"
failures=0
if [ "$HOST" -eq 1 ]; then
    qemu_host_twin "${HOST_OUT:-$OUT/host}" "qemu $CPU ($KERNELS)" oracle scalar simd128 neon
    failures=$HOST_FAILURES
    HOST_STATUS=$([ "$failures" -eq 0 ] && echo "logits identical (host oracle, scalar, simd128, neon sets), same arena" || echo "$failures MISMATCH(ES)")
fi

# ---- summary ----
echo "qemu-a53-run: summary"
echo "  model            $MODEL ($(stat -c %s "$OUT/model.bin") B), input $(stat -c %s "$OUT/input.bin") B, $(value kernels "$LOG") kernels, Swift $OPT, -mcpu=$CPU ${SWIFT_EXTRA[*]}"
echo "  arena            $(value arena_needed "$LOG") B (static, in .bss)"
echo "  heap             $(value heap_after_init "$LOG")  (init only; invoke() does not allocate)"
echo "  stack            invoke $(value stack_high_water_invoke "$LOG")"
echo "  instructions     $(value invoke_instructions "$LOG") per invoke (±40; second run $(value invoke_instructions_second_run "$LOG")), model load $(value load_instructions "$LOG"), interpreter init $(value init_instructions "$LOG")"
echo "  logits           $LOGITS"
echo "  top-1            $(value top1 "$LOG")"
echo "  host check       $HOST_STATUS"
[ "$failures" -eq 0 ] || exit 1
exit 0
