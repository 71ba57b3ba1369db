#!/usr/bin/env bash
# Builds and runs the two C examples of the DynQ C API (include/dynq.h) and checks their logits:
#
#   scripts/firmware-example.sh
#
#   1. the release `dynq` (swift build -c release --product dynq; DYNQ=path to use another);
#   2. the libraries libdynq-cortex-m4.a and libdynq-host.a (scripts/build-libs.sh cortex-m4 host);
#   3. `dynq export` of fixtures/fmnist/model.dynq and of the first image of fixtures/fmnist/test_images.npy,
#      twice, byte-compared (the export is deterministic);
#   4. examples/cortex-m4 built with clang + ld.lld and, when arm-none-eabi-gcc is installed, with GCC, each run
#      on qemu-system-arm -M mps2-an386 (-icount shift=0): `status: ok` required (the firmware itself checks
#      that dynq_arena_bytes(), dynq_create() and dynq_invoke() made no heap allocation, that the counting heap
#      saw its positive control, that a short
#      arena is refused with the bytes needed, and that the callback saw every op);
#   5. examples/host built with cc and run;
#   6. the logits of every run equal each other and the host interpreter's output codes
#      (`dynq run MODEL IMAGE --dump DIR`, DIR/<output>.q.npy), and the class scores they give equal
#      `dynq run MODEL IMAGE --json`'s (dequantized with the output scale and zero point, softmax as dynq run does
#      it, within 1e-5 relative).
#
# Prints the firmware's measurements and sizes (library code linked into the example from the ld.lld map).
# Exit code 0 only when everything above passed. Environment: OUT (.build-examples), DYNQ, SWIFT_BIN, QEMU,
# QEMU_TIMEOUT (seconds, 600), NO_GCC=1 (skip the GCC build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/.build-examples}"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
QEMU="${QEMU:-qemu-system-arm}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-600}"
NICE=(nice -n 10)
START=$(date +%s)
die() { echo "firmware-example: $*" >&2; exit 1; }
command -v "$QEMU" >/dev/null || die "no $QEMU (apt-get install -y qemu-system-arm)"
SIZE="$SWIFT_BIN/llvm-size"; [ -x "$SIZE" ] || SIZE="$(command -v llvm-size)" || die "no llvm-size"
mkdir -p "$OUT"

# 1. dynq
if [ -z "${DYNQ:-}" ]; then
    echo "firmware-example: building the release dynq"
    (cd "$ROOT" && "${NICE[@]}" "$SWIFT_BIN/swift" build -c release --product dynq 2>&1 | tail -1)
    DYNQ="$ROOT/.build/release/dynq"
fi

# 2. libraries
"$ROOT/scripts/build-libs.sh" cortex-m4 host

# 3. export, twice
MODEL="$ROOT/fixtures/fmnist/model.dynq"
IMAGES="$ROOT/fixtures/fmnist/test_images.npy"
GEN="$OUT/gen"
for g in "$GEN" "$OUT/gen-again"; do
    mkdir -p "$g"
    "$DYNQ" export "$MODEL" --c -o "$g/fmnist_model"
    "$DYNQ" export "$MODEL" --c -o "$g/test_image" --image "$IMAGES" --index 0
done
for f in fmnist_model.h fmnist_model.c test_image.h test_image.c; do
    cmp -s "$GEN/$f" "$OUT/gen-again/$f" || die "dynq export wrote different bytes for $f on the second run"
done
echo "firmware-example: dynq export: the same bytes twice ($(cat "$GEN"/*.{h,c} | wc -c) bytes of C)"

value() { sed -n "s/^$1: //p" "$2" | head -1; }
RUNS=()

# 4. Cortex-M4 firmware on QEMU
run_m4() {  # $1 = clang | gcc
    local build="$OUT/cortex-m4-$1" log="$OUT/cortex-m4-$1.log" rc=0
    rm -f "$build/firmware.elf"
    "${NICE[@]}" make -s -C "$ROOT/examples/cortex-m4" TOOLCHAIN="$1" GEN="$GEN" BUILD="$build" DYNQ="$DYNQ" \
        SWIFT_BIN="$SWIFT_BIN" DYNQ_LIB="$ROOT/.build-libs/libdynq-cortex-m4.a" 2>&1 \
        | grep -v -e 'missing .note.GNU-stack section' -e 'NOTE: This behaviour is deprecated' || true
    [ -f "$build/firmware.elf" ] || die "the $1 build of examples/cortex-m4 failed"
    timeout "$QEMU_TIMEOUT" "$QEMU" -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$build/firmware.elf" >"$log" 2>&1 || rc=$?
    sed 's/^/  | /' "$log"
    [ "$rc" -eq 0 ] && grep -q '^status: ok' "$log" || die "the $1 firmware failed on QEMU (exit $rc)"
    echo "  image ($1): $("$SIZE" "$build/firmware.elf" | tail -1 | awk '{print "text " $1 ", data " $2 ", bss " $3}')"
    RUNS+=("cortex-m4-$1:$log")
}
echo "firmware-example: examples/cortex-m4 (clang + ld.lld) on $QEMU -M mps2-an386"
run_m4 clang
if [ "${NO_GCC:-0}" != 1 ] && command -v arm-none-eabi-gcc >/dev/null; then
    echo "firmware-example: examples/cortex-m4 (arm-none-eabi-gcc) on $QEMU -M mps2-an386"
    run_m4 gcc
else
    echo "firmware-example: no arm-none-eabi-gcc (or NO_GCC=1): GCC build skipped"
fi

# The library's share of the images, from the linker maps (GNU ld's attributes merged strings to their library;
# ld.lld merges them into <internal> sections, so its rodata figure is lower).
for tc in gcc clang; do
    map="$OUT/cortex-m4-$tc/firmware.map"
    [ -f "$map" ] && echo "  library in the $tc image: $(python3 "$ROOT/examples/cortex-m4/lib-size.py" "$map" libdynq-cortex-m4.a)"
done

# 5. host example
echo "firmware-example: examples/host (cc, libdynq-host.a)"
HB="$OUT/host"
"${NICE[@]}" make -s -C "$ROOT/examples/host" GEN="$GEN" BUILD="$HB" DYNQ="$DYNQ" \
    DYNQ_LIB="$ROOT/.build-libs/libdynq-host.a" || die "the host example did not build"
rc=0; "$HB/classify" > "$OUT/host.log" 2>&1 || rc=$?
sed 's/^/  | /' "$OUT/host.log"
[ "$rc" -eq 0 ] && grep -q '^status: ok' "$OUT/host.log" || die "the host example failed (exit $rc)"
RUNS+=("host:$OUT/host.log")

# 6. logits: equal across runs, and equal in class scores to `dynq run --json`
echo "firmware-example: logits"
FIRST=""
failures=0
for r in "${RUNS[@]}"; do
    name="${r%%:*}" log="${r#*:}"
    l="$(value logits "$log")"
    [ -n "$FIRST" ] || FIRST="$l"
    verdict=same; [ "$l" = "$FIRST" ] || { verdict=DIFFERENT; failures=$((failures + 1)); }
    printf '  %-18s %s   [%s]\n' "$name" "$l" "$verdict"
done
python3 - "$IMAGES" "$OUT/first.npy" <<'EOF'
import sys
import numpy as np
x = np.load(sys.argv[1])
np.save(sys.argv[2], np.ascontiguousarray(x[0:1]))
EOF
"$DYNQ" run "$MODEL" "$OUT/first.npy" --json --top 100000 > "$OUT/dynq-run.json"
LAST_OP="$("$DYNQ" inspect "$MODEL" | grep '^\[' | tail -1 | sed 's/.*: //')"
if ! python3 - "$FIRST" "$GEN/fmnist_model.h" "$OUT/dynq-run.json" "$LAST_OP" <<'EOF'
import json, re, sys
import numpy as np
q = np.array([int(v) for v in sys.argv[1].split()], dtype=np.int64)
h = open(sys.argv[2]).read()
def macro(name):
    return re.search(r"#define FMNIST_MODEL_" + name + r"\s+\(?(-?(?:0x)?[0-9a-f]+)u?\)?", h).group(1)
bits = int(macro("OUTPUT_SCALE_BITS"), 16)
zp = int(macro("OUTPUT_ZERO_POINT"))
scale = np.frombuffer(bits.to_bytes(4, "little"), dtype=np.float32)[0]
real = (scale * (q - zp).astype(np.float32)).astype(np.float32)     # Float, as dynq run dequantizes
if sys.argv[4].strip() == "softmax":
    scores = real.astype(np.float64)
else:
    e = np.exp(real.astype(np.float64) - float(real.max()))
    scores = e / e.sum()
mine = [float("%.6g" % s) for s in scores]
run = json.loads(open(sys.argv[3]).readline())
host = {t["class"]: t["score"] for t in run["top"]}
worst = max(abs(mine[c] - host[c]) / max(abs(host[c]), 1e-12) for c in host)
top = run["top"][0]["class"]
ok = top == int(np.argmax(q)) and len(host) == len(q) and worst <= 1e-5
print(f"  dynq run --json: top-1 {top}, {len(host)} class scores, worst relative difference {worst:.2e} "
      f"from the C logits' scores: {'same' if ok else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
EOF
then failures=$((failures + 1)); fi
# The host reference, exactly: the int8 codes of the model's output as the host interpreter computed them
# (`dynq run --dump`, <output>.q.npy).
OUTPUT_NAME="$("$DYNQ" inspect "$MODEL" | sed -n "s/^outputs '\([^']*\)'.*/\1/p" | head -1)"
rm -rf "$OUT/dump"
"$DYNQ" run "$MODEL" "$OUT/first.npy" --logits --dump "$OUT/dump" > /dev/null 2> "$OUT/dump.log" \
    || die "dynq run --dump failed: $(cat "$OUT/dump.log")"
HOST="$(python3 -c 'import sys, numpy as np; print(" ".join(str(int(v)) for v in np.load(sys.argv[1]).reshape(-1)))' \
    "$OUT/dump/$OUTPUT_NAME.q.npy")" || die "no $OUT/dump/$OUTPUT_NAME.q.npy from dynq run --dump"
if [ "$HOST" = "$FIRST" ]; then
    echo "  host reference (dynq run --dump, $OUTPUT_NAME.q.npy): $HOST   [same logits]"
else
    echo "  host reference (dynq run --dump, $OUTPUT_NAME.q.npy): $HOST   [DIFFERENT from the C logits]"
    failures=$((failures + 1))
fi
QLOG="$ROOT/fixtures/fmnist/qemu-cortex-m4-scalar.log"   # scripts/qemu-run.sh's last logged run (information only)
if [ -f "$QLOG" ]; then
    LOGGED="$(sed -n 's/^logits: //p' "$QLOG" | head -1)"
    echo "  ${QLOG#"$ROOT"/}: $LOGGED ($([ "$LOGGED" = "$FIRST" ] && echo same || echo 'differs: the log predates the model?'))"
fi

M4="$OUT/cortex-m4-clang.log"
echo "firmware-example: summary ($(($(date +%s) - START)) s)"
echo "  cortex-m4 (clang)  arena $(value arena_bytes "$M4" | cut -d' ' -f1) B, model $(value model_bytes "$M4") B"
echo "                     dynq_arena_bytes: heap $(value arena_bytes_heap "$M4")"
echo "                     create: heap $(value create_heap "$M4"); stack $(value create_stack "$M4"); $(value create_instructions "$M4") instructions"
echo "                     invoke: heap $(value invoke_heap "$M4"); stack $(value invoke_stack "$M4"); $(value invoke_instructions "$M4" | cut -d' ' -f1) instructions"
echo "  class              $(value class "$M4")"
[ "$failures" -eq 0 ] || die "$failures check(s) failed"
echo "firmware-example: OK"
