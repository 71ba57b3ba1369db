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
#   --host     cross-check: the same DynQCore sources built for the host must give the same int8 logits (oracle,
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

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "qemu-run: $*" >&2; exit 1; }

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

SWIFTC="$SWIFT_BIN/swiftc"; [ -x "$SWIFTC" ] || SWIFTC="$(command -v swiftc)" || die "no swiftc"
CLANG="$SWIFT_BIN/clang"; [ -x "$CLANG" ] || CLANG="$(command -v clang)" || die "no clang"
LLD="$SWIFT_BIN/ld.lld"; [ -x "$LLD" ] || LLD="$(command -v ld.lld)" || die "no ld.lld"
SIZE="$SWIFT_BIN/llvm-size"; [ -x "$SIZE" ] || SIZE="$(command -v llvm-size || true)"
command -v "$QEMU" >/dev/null || die "no $QEMU (apt-get install -y qemu-system-arm)"
SWIFT_LIBDIR="$(dirname "$SWIFTC")/../lib/swift/embedded/$TARGET"
UNICODE_LIB="$SWIFT_LIBDIR/libswiftUnicodeDataTables.a"
[ -f "$UNICODE_LIB" ] || die "no Embedded Swift libraries for $TARGET in $SWIFT_LIBDIR"

mkdir -p "$OUT"
cp "$MODEL" "$OUT/model.bin"

# ---- the input: uint8 HWC bytes in $OUT/input.bin ----
if [ -n "$NPY" ]; then
    [ -f "$NPY" ] || die "no file $NPY"
    python3 - "$NPY" "$OUT/input.bin" <<'EOF' || die "cannot take the first image of $NPY"
import sys
import numpy as np
x = np.load(sys.argv[1])
if x.dtype != np.uint8:
    sys.exit(f"qemu-run: {sys.argv[1]} holds {x.dtype}; give uint8 pixels (the firmware input is uint8 HWC)")
if x.ndim == 4:   x = x[0]            # [N,C,H,W] -> [C,H,W]
elif x.ndim == 3: x = x[0:1]          # [N,H,W]   -> [1,H,W] (grey images, as dynq reads them)
elif x.ndim == 2: x = x[None]         # [H,W]
else: sys.exit(f"qemu-run: {sys.argv[1]} has shape {x.shape}")
np.ascontiguousarray(x.transpose(1, 2, 0)).tofile(sys.argv[2])   # CHW -> HWC
EOF
else
    [ -f "$INPUT" ] || die "no input file $INPUT"
    cp "$INPUT" "$OUT/input.bin"
fi

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
cp "$QDIR/main.swift.embedded" "$OUT/firmware.swift"
KEY="$( { "$SWIFTC" --version 2>&1; echo "${SWIFT_FLAGS[*]}"; cat "${SOURCES[@]}" "$ROOT"/Sources/DynQIntrinsics/include/* "$OUT/firmware.swift"; } | sha256sum | cut -c1-16)"
if [ -f "$OUT/firmware.o" ] && [ "$(cat "$OUT/firmware.key" 2>/dev/null)" = "$KEY" ]; then
    echo "qemu-run: Embedded Swift object up to date ($CPU, $OPT)"
else
    echo "qemu-run: compiling DynQCore (${#SOURCES[@]} files) + firmware main as Embedded Swift ($TARGET, $CPU, $OPT)"
    rm -f "$OUT/firmware.key"
    "${NICE[@]}" "$SWIFTC" "${SWIFT_FLAGS[@]}" -c "${SOURCES[@]}" "$OUT/firmware.swift" -o "$OUT/firmware.o"
    echo "$KEY" > "$OUT/firmware.key"
fi

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

value() { sed -n "s/^$1: //p" "$2" | head -1; }

# ---- pass 1: a large arena (256 KiB), in which the firmware plans the model and reports the size it needs ----
link_image 262144
rc=0; run_qemu "$OUT/probe.log" || rc=$?
NEED="$(value arena_needed "$OUT/probe.log" | cut -d' ' -f1)"
if [ -z "$NEED" ] || { [ "$rc" -ne 3 ] && [ "$rc" -ne 0 ]; }; then
    cat "$OUT/probe.log"
    die "the probe run failed (exit $rc) before it reported the arena size"
fi
ARENA=$(( (NEED + 15) / 16 * 16 ))

# ---- pass 2: the static arena sized for the model ----
link_image "$ARENA"
echo "qemu-run: $QEMU -M $BOARD -nographic -semihosting -icount shift=0 -kernel $OUT/image.elf (arena $ARENA B, stack $STACK_BYTES B)"
rc=0; run_qemu "$OUT/run.log" || rc=$?
sed 's/^/  | /' "$OUT/run.log"
if [ "$rc" -ne 0 ] || ! grep -q '^status: ok' "$OUT/run.log"; then
    PC="$(sed -n 's/^FAULT: .* at pc \(0x[0-9a-f]*\).*/\1/p' "$OUT/run.log")"
    if [ -n "$PC" ] && [ -x "$SWIFT_BIN/llvm-symbolizer" ]; then
        echo "qemu-run: the fault pc $PC is in: $("$SWIFT_BIN/llvm-symbolizer" --obj="$OUT/image.elf" "$PC" | head -1 \
            | { "$SWIFT_BIN/swift-demangle" --simplified 2>/dev/null || cat; })"
    fi
    die "the firmware failed (exit $rc)"
fi
LOG="$OUT/run.log"
LOGITS="$(value logits "$LOG")"

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
    # (a) The same DynQCore sources built for the host: int8 logits byte for byte, and the arena size.
    HOST_FLAGS=(-O -wmo -parse-as-library -Xcc -I"$ROOT/Sources/DynQIntrinsics/include" -module-name DynQCore)
    cp "$QDIR/host_check.swift.host" "$OUT/host_check.swift"
    HKEY="$( { "$SWIFTC" --version 2>&1; echo "${HOST_FLAGS[*]}"; cat "${SOURCES[@]}" "$ROOT"/Sources/DynQIntrinsics/include/* "$OUT/host_check.swift"; } | sha256sum | cut -c1-16)"
    if [ ! -x "$OUT/host_check" ] || [ "$(cat "$OUT/host_check.key" 2>/dev/null)" != "$HKEY" ]; then
        echo "qemu-run: compiling the host twin (DynQCore + host_check, $(uname -m))"
        rm -f "$OUT/host_check.key"
        "${NICE[@]}" "$SWIFTC" "${HOST_FLAGS[@]}" "${SOURCES[@]}" "$OUT/host_check.swift" -o "$OUT/host_check"
        echo "$HKEY" > "$OUT/host_check.key"
    fi
    "$OUT/host_check" "$OUT/model.bin" "$OUT/input.bin" > "$OUT/host.log" || { cat "$OUT/host.log"; die "host twin failed"; }
    KIND="$KERNELS"
    echo "qemu-run: int8 logits"
    printf '  %-19s %s\n' "qemu ($KIND)" "$LOGITS"
    for k in oracle scalar simd128 cortex-m-dsp helium neon; do
        h="$(value "host_logits_$k" "$OUT/host.log")"
        verdict=same; [ "$h" = "$LOGITS" ] || { verdict=DIFFERENT; failures=$((failures + 1)); }
        printf '  %-19s %s   [%s]\n' "host ($k)" "$h" "$verdict"
    done
    HA="$(value "host_arena_$KIND" "$OUT/host.log")"
    echo "  arena: qemu plan $NEED B, host plan $HA B ($KIND kernels)"
    [ "$HA" = "$NEED" ] || { echo "  arena sizes differ"; failures=$((failures + 1)); }

    # (b) `dynq run MODEL X --json` (release): its top-1 class and class scores against the softmax of QEMU's
    #     dequantized int8 logits, computed the way dynq does (Float dequantization, Double softmax, %.6g).
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
    HOST_STATUS=$([ "$failures" -eq 0 ] && echo "int8 logits identical (host oracle, scalar, simd128, cortex-m-dsp, helium and neon sets), dynq run top-1 and scores agree" || echo "$failures MISMATCH(ES)")
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
