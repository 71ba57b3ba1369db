#!/usr/bin/env bash
# Runs a .dynq model with DynQCore on an emulated Cortex-M4 (QEMU mps2-an386), M7 (mps2-an500) or M55
# (mps3-an547) and reports what it used.
#
#   scripts/qemu-run.sh MODEL.dynq INPUT.bin                # INPUT.bin: the model input, uint8 HWC, H·W·C bytes
#   scripts/qemu-run.sh MODEL.dynq --first-image X.npy      # the first image of a uint8 .npy ([N,C,H,W], [N,H,W], ...)
#   scripts/qemu-run.sh MODEL.dynq --first-image X.npy --host   # also cross-check against the host
#
# Options:
#   --kernels NAME  the ONE kernel set the image links: scalar (default: weights in place, the smallest arena),
#              simd128 (the 128-bit Swift SIMD set; packed weights; --simd), cortex-m-dsp (Armv7E-M DSP
#              instructions through DynQIntrinsics; int8 weights in place) or helium (Armv8.1-M MVE through
#              DynQIntrinsics; int8 weights in place; implies --core m55)
#   --core m4|m7|m55  Cortex-M4 on mps2-an386 (default), Cortex-M7 on mps2-an500, Cortex-M55 on mps3-an547
#              (512 KB ITCM for code and the model, 512 KB DTCM for RAM; SysTick counts instructions): -mcpu for
#              Swift's Clang and C
#   --host     cross-check: the same DynQCore sources built for the host must give the same logits (oracle,
#              scalar, simd128, cortex-m-dsp, helium and neon sets), and `dynq run MODEL X --json` (release build) the
#              same top-1 class and scores
# Environment: OPT (-O, default, or -Osize), STACK_BYTES (65536), OUT (build directory, default
#   .build-qemu/firmware), SWIFT_BIN (/opt/swift/usr/bin), QEMU (qemu-system-arm), DYNQ (the release dynq for
#   --host, default .build-qemu/release/dynq, built if missing), QEMU_TIMEOUT (seconds, 900).
#
# What happens: DynQCore's sources and firmware-sim/qemu/main.swift.embedded are compiled as ONE Embedded Swift
# module (armv7em-none-none-eabi, -wmo), the model and the input are embedded in flash with .incbin (16-byte
# aligned), the image is linked with ld.lld and firmware-sim/qemu/link.ld, and QEMU runs it with semihosting and
# `-icount shift=0` (one instruction = one virtual nanosecond, so the board's 25 MHz timer counts instructions in
# steps of 40). A first run with an empty arena reads the plan's arena size; the image is relinked with a static
# arena of exactly that size in .bss and run again. Exit code 0 only when the firmware reports `status: ok` (and,
# with --host, every cross-check matches). Builds run under `nice -n 10`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QDIR="$ROOT/firmware-sim/qemu"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
QEMU="${QEMU:-qemu-system-arm}"
OPT="${OPT:--O}"
STACK_BYTES="${STACK_BYTES:-65536}"
OUT="${OUT:-$ROOT/.build-qemu/firmware}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-900}"
TARGET=armv7em-none-none-eabi
NICE=(nice -n 10)
PROG=qemu-run
# shellcheck source=scripts/qemu-common.sh
. "$ROOT/scripts/qemu-common.sh"

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

MODEL="" INPUT="" NPY="" KERNELS=scalar HOST=0 CORE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --first-image) [ $# -ge 2 ] || die "--first-image needs a .npy file"; NPY="$2"; shift 2 ;;
        --simd) KERNELS=simd128; shift ;;
        --kernels) [ $# -ge 2 ] || die "--kernels needs a name"; KERNELS="$2"; shift 2 ;;
        --host) HOST=1; shift ;;
        --core) [ $# -ge 2 ] || die "--core needs m4, m7 or m55"; CORE="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        -*) die "unknown option $1" ;;
        *) if [ -z "$MODEL" ]; then MODEL="$1"; elif [ -z "$INPUT" ]; then INPUT="$1"; else die "extra argument $1"; fi
           shift ;;
    esac
done
[ -n "$MODEL" ] || usage
[ -n "$CORE" ] || { [ "$KERNELS" = helium ] && CORE=m55 || CORE=m4; }
# FLASH/RAM: the lengths link.ld gets; TIMER: the C timer support.c.embedded uses (CMSDK APB timer at 0x40000000 on
# the mps2 boards; SysTick on the M55, whose board has no timer there).
case "$CORE" in
    m4)  BOARD=mps2-an386; CPU=cortex-m4;  FLASH=4M;   RAM=4M;   TIMER=() ;;
    m7)  BOARD=mps2-an500; CPU=cortex-m7;  FLASH=4M;   RAM=4M;   TIMER=() ;;
    m55) BOARD=mps3-an547; CPU=cortex-m55; FLASH=512K; RAM=512K; TIMER=(-DDYNQ_TIMER_SYSTICK) ;;
    *) die "--core must be m4, m7 or m55, not '$CORE'" ;;
esac
[ "$KERNELS" != helium ] || [ "$CORE" = m55 ] || die "--kernels helium needs --core m55 (MVE)"
[ -f "$MODEL" ] || die "no model file $MODEL"
if [ -n "$NPY" ] && [ -n "$INPUT" ]; then die "give INPUT.bin or --first-image X.npy, not both"; fi
[ -n "$NPY" ] || [ -n "$INPUT" ] || die "no input: give INPUT.bin or --first-image X.npy"

qemu_find_tools
qemu_prepare_files "$MODEL" "$NPY" "$INPUT"

# ---- compile: DynQCore + the firmware main as one Embedded Swift module (cached by a hash of its inputs) ----
mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)

case "$KERNELS" in
    scalar) KERNEL_FLAG=() ;;
    simd128) KERNEL_FLAG=(-D DYNQ_KERNELS_SIMD128) ;;
    cortex-m-dsp) KERNEL_FLAG=(-D DYNQ_KERNELS_CORTEX_M_DSP) ;;
    helium) KERNEL_FLAG=(-D DYNQ_KERNELS_HELIUM) ;;
    *) die "--kernels must be scalar, simd128, cortex-m-dsp or helium, not '$KERNELS'" ;;
esac
SWIFT_FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -enable-experimental-feature Extern "${KERNEL_FLAG[@]}"
             -wmo "$OPT" -parse-as-library -Xfrontend -disable-stack-protector -Xfrontend -function-sections
             -Xcc -mcpu="$CPU" -Xcc -I"$ROOT/Sources/DynQIntrinsics/include"
             -module-name DynQCore)
qemu_compile_firmware "$CPU, $OPT"

# ---- startup, ABI helpers, C stubs; the model and input are .incbin'ed from $OUT ----
CFLAGS=(--target=arm-none-eabi -mcpu="$CPU" -mthumb -mfloat-abi=soft)
cp "$QDIR/startup.S.embedded" "$OUT/startup.S"; cp "$QDIR/aeabi.S.embedded" "$OUT/aeabi.S"
cp "$QDIR/support.c.embedded" "$OUT/support.c"
sed -e "/^ *FLASH (rx)/ s/LENGTH = [0-9A-Z]*/LENGTH = $FLASH/" -e "/^ *RAM  *(rwx)/ s/LENGTH = [0-9A-Z]*/LENGTH = $RAM/" \
    "$QDIR/link.ld" > "$OUT/link.ld"
(
    cd "$OUT"
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c startup.S -o startup.o
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c aeabi.S -o aeabi.o
    "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -fno-builtin -Wall -Wextra "${TIMER[@]}" \
        -c support.c -o support.o
)

link_image() {  # $1 = arena bytes
    "$LLD" -T "$OUT/link.ld" --defsym=ARENA_BYTES="$1" --defsym=STACK_BYTES="$STACK_BYTES" --gc-sections \
        -Map="$OUT/image.map" "$OUT/startup.o" "$OUT/aeabi.o" "$OUT/support.o" "$OUT/firmware.o" "$UNICODE_LIB" \
        -o "$OUT/image.elf"
}

run_qemu() {  # $1 = log file; returns QEMU's exit code (the firmware's)
    local rc=0
    timeout "$QEMU_TIMEOUT" "$QEMU" -M "$BOARD" -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$OUT/image.elf" >"$1" 2>&1 || rc=$?
    return "$rc"
}

# ---- pass 1 plans the model in a large arena, pass 2 runs it in a static arena of the size it needs ----
qemu_probe_and_run 262144 "$QEMU -M $BOARD -nographic -semihosting -icount shift=0 -kernel $OUT/image.elf"
# The core the log is of (dynq sim --qemu-log compares a log only with an estimate for the same core).
echo "core: $CPU ($BOARD)" >> "$LOG"

# ---- sizes ----
echo "qemu-run: image sizes (llvm-size; .rodata holds the model and the input, .bss the arena)"
if [ -n "$SIZE" ]; then
    "$SIZE" "$OUT/image.elf" | sed 's/^/  /'
    "$SIZE" -A "$OUT/image.elf" | awk '$1 ~ /^\./ { printf "  %-12s %9d\n", $1, $2 }'
fi
MODEL_BYTES=$(stat -c %s "$OUT/model.bin"); INPUT_BYTES=$(stat -c %s "$OUT/input.bin")

# ---- cross-check on the host ----
HOST_STATUS="not run (pass --host)"
if [ "$HOST" -eq 1 ]; then
    failures=0
    # (a) The same DynQCore sources built for the host: logits byte for byte, and the arena size.
    qemu_host_twin "$OUT" "qemu ($KERNELS)" oracle scalar simd128 cortex-m-dsp helium neon
    failures=$HOST_FAILURES

    # (b) `dynq run MODEL X --json` (release): its top-1 class and class scores against the softmax of QEMU's
    #     dequantized logits, computed the way dynq does (Float dequantization, Double softmax, %.6g).
    if [ -z "${DYNQ:-}" ]; then
        # Always (re)build: an existing binary may predate the sources (incremental, quick when up to date).
        echo "qemu-run: building the release dynq for the host check"
        (cd "$ROOT" && "${NICE[@]}" "$SWIFT_BIN/swift" build -c release --scratch-path .build-qemu --product dynq)
        DYNQ="$ROOT/.build-qemu/release/dynq"
    fi
    SHAPE="$(sed -n 's/^input_bytes: .*model input \[\(.*\)\], uint8 HWC.*/\1/p' "$LOG")"
    python3 - "$OUT/input.bin" "$SHAPE" "$OUT/host_input.npy" <<'EOF'
import sys
import numpy as np
n, h, w, c = (int(v) for v in sys.argv[2].split(","))
x = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(h, w, c).transpose(2, 0, 1)[None]
np.save(sys.argv[3], np.ascontiguousarray(x))
EOF
    RUNFLAGS=(--json --top 100000 --kernels "$KERNELS")
    "$DYNQ" run "$MODEL" "$OUT/host_input.npy" "${RUNFLAGS[@]}" > "$OUT/dynq-run.json"
    echo "qemu-run: dynq run $MODEL <first image> ${RUNFLAGS[*]}"
    if ! python3 - "$LOG" "$OUT/dynq-run.json" <<'EOF'
import json, sys
import numpy as np
log = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines() if ": " in l)
q = np.array([int(v) for v in log["logits"].split()], dtype=np.int64)
scale = np.frombuffer(int(log["output_scale_bits"], 16).to_bytes(4, "little"), dtype=np.float32)[0]
zp = int(log["output_zero_point"])
real = (scale * (q - zp).astype(np.float32)).astype(np.float32)          # Float, as Int8Session.real
if log["output_is_softmax"].strip() == "1":
    scores = real.astype(np.float64)
else:
    e = np.exp(real.astype(np.float64) - float(real.max()))
    scores = e / e.sum()
mine = [float("%.6g" % s) for s in scores]
host = {t["class"]: t["score"] for t in json.loads(open(sys.argv[2]).readline())["top"]}
top_host = json.loads(open(sys.argv[2]).readline())["top"][0]["class"]
top_qemu = int(log["top1"].split()[0])
worst = max(abs(mine[c] - host[c]) / max(abs(host[c]), 1e-12) for c in host)
print(f"  top-1: dynq run {top_host}, qemu {top_qemu}; class scores from qemu's logits vs dynq run: "
      f"{len(host)} classes, worst relative difference {worst:.2e}")
ok = top_host == top_qemu and len(host) == len(q) and worst <= 1e-5
print("  " + ("same" if ok else "DIFFERENT"))
sys.exit(0 if ok else 1)
EOF
    then failures=$((failures + 1)); fi
    HOST_STATUS=$([ "$failures" -eq 0 ] && echo "logits identical (host oracle, scalar, simd128, cortex-m-dsp, helium and neon sets), dynq run top-1 and scores agree" || echo "$failures MISMATCH(ES)")
fi

# ---- summary ----
echo "qemu-run: summary"
echo "  model            $MODEL ($MODEL_BYTES B in flash), input $INPUT_BYTES B, $(value kernels "$LOG") kernels, $CPU ($BOARD), Swift $OPT"
echo "  arena            $(value arena_needed "$LOG") B (static, in .bss)"
echo "  heap             $(value heap_after_init "$LOG") (interpreter init; invoke: $(value invoke_heap_allocations "$LOG") allocations)"
echo "  stack            invoke $(value stack_high_water_invoke "$LOG")"
echo "                   init $(value stack_high_water_init "$LOG"), reserved $STACK_BYTES B"
echo "  instructions     $(value invoke_instructions "$LOG") per invoke (±$(value calibration "$LOG" | sed -n "s/.*resolution \([0-9]*\)).*/\1/p"); second run $(value invoke_instructions_second_run "$LOG")), model load $(value load_instructions "$LOG"), interpreter init $(value init_instructions "$LOG")"
echo "  logits           $LOGITS"
echo "  top-1            $(value top1 "$LOG")"
echo "  host check       $HOST_STATUS"
if [ "$HOST" -eq 1 ] && [ "$failures" -ne 0 ]; then exit 1; fi
exit 0
