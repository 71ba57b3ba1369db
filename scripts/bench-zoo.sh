#!/usr/bin/env bash
# int8 latency of the paper's static networks vs their DyNet versions on this machine (release build).
#   bash scripts/bench-zoo.sh [RUNS] [MODELS...]
#   ROUNDS=3 bash scripts/bench-zoo.sh ...              # time the models ROUNDS times, alternating (default 1)
#   SCRATCH=.build-mine bash scripts/bench-zoo.sh ...   # build into another SwiftPM scratch path (default .build)
# For each model: `dynq zoo` writes the graph with seeded random He weights at 224x224, `dynq quantize`
# calibrates it on 4 random images (random data is enough to fix the scales; accuracy is not the point),
# and `dynq bench` times the int8 model with the SIMD kernels (RUNS timed runs). With ROUNDS > 1 the models are
# timed round after round, so a burst of interference from other load hits both models of a pair alike; the
# summary gives each model's median over the rounds' medians and each static/dynamic pair's speed-up.
# Outputs go to out/zoo/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
RUNS="${1:-10}"; shift || true
MODELS=("$@"); [ ${#MODELS[@]} -gt 0 ] || MODELS=(mobilenetv2 dy-mobile resnet18 dy-resnet18)

SCRATCH_ARGS=(); [ -n "${SCRATCH:-}" ] && SCRATCH_ARGS=(--scratch-path "$SCRATCH")
swift build -c release --product dynq "${SCRATCH_ARGS[@]}" >&2
DYNQ="$(swift build -c release --show-bin-path "${SCRATCH_ARGS[@]}")/dynq"
OUT=out/zoo; mkdir -p "$OUT"

# 4 calibration images [4,3,224,224] uint8 as a version-1 .npy (header padded to 64 bytes). The pixels are a fixed
# repeating text pattern rather than noise, so every run calibrates identically; any data fixes the scales here.
CALIB="$OUT/calib-random-4x3x224x224.npy"
if [ ! -f "$CALIB" ]; then
    header="{'descr': '|u1', 'fortran_order': False, 'shape': (4, 3, 224, 224), }"
    pad=$(( 64 - (10 + ${#header} + 1) % 64 ))
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#header} + pad + 1) & 255 )))\\x$(printf %02x $(( (${#header} + pad + 1) >> 8 )))"
      printf '%s%*s\n' "$header" "$pad" ""
      head -c $((4 * 3 * 224 * 224)) < <(yes "DynQ calibration seed 1"); } > "$CALIB"
fi

ROUNDS="${ROUNDS:-1}"
for m in "${MODELS[@]}"; do
    "$DYNQ" zoo "$m" --graph "$OUT/$m.graph.json" --weights "$OUT/$m.safetensors" > /dev/null
    "$DYNQ" quantize --graph "$OUT/$m.graph.json" --weights "$OUT/$m.safetensors" --calib "$CALIB" \
        --method minmax -o "$OUT/$m.dynq" > "$OUT/$m.quantize.txt" 2> /dev/null
done
rm -f "$OUT"/*.round*.bench.json
for r in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && echo "round $r"
    printf '%-12s %10s %12s %12s %12s\n' model "MMACs" "median ms" "min ms" "max ms"
    for m in "${MODELS[@]}"; do
        "$DYNQ" bench "$OUT/$m.dynq" --runs "$RUNS" --reference-runs 0 --json > "$OUT/$m.round$r.bench.json"
        cp "$OUT/$m.round$r.bench.json" "$OUT/$m.bench.json"
        python3 - "$m" "$OUT/$m.bench.json" <<'PY' 2>/dev/null || cat "$OUT/$m.bench.json"
import json, sys
b = json.load(open(sys.argv[2])); s = b["simd"]
print(f"{sys.argv[1]:<12} {b['macs']/1e6:10.1f} {s.get('median_ms', 0):12.2f} {s.get('min_ms', 0):12.2f} {s.get('max_ms', 0):12.2f}")
PY
    done
done
if [ "$ROUNDS" -gt 1 ]; then
    python3 - "$OUT" "$ROUNDS" "${MODELS[@]}" <<'PY'
import json, statistics, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = {m: [json.load(open(f"{out}/{m}.round{r}.bench.json"))["simd"]["median_ms"] for r in range(1, rounds + 1)]
       for m in models}
print(f"summary over {rounds} rounds: median of the rounds' medians (min - max)")
for m in models:
    print(f"  {m:<12} {statistics.median(med[m]):8.2f} ms  ({min(med[m]):.2f} - {max(med[m]):.2f})")
pairs = [("mobilenetv2", "dy-mobile"), ("resnet18", "dy-resnet18"), ("resnet50", "dy-resnet50"),
         ("shufflenetv2", "dy-shuffle")]
for a, b in pairs:
    if a in med and b in med:
        per_round = [x / y for x, y in zip(med[a], med[b])]
        print(f"  {a} / {b}: {statistics.median(med[a]) / statistics.median(med[b]):.2f}x "
              f"(per round {min(per_round):.2f} - {max(per_round):.2f}x)")
PY
fi
