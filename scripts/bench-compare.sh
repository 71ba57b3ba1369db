#!/usr/bin/env bash
# Same-run latency comparison of two dynq binaries on the paper's zoo models (for "no slower than before"):
#   bash scripts/bench-compare.sh OLD_DYNQ NEW_DYNQ [RUNS] [ROUNDS] [MODELS...]
# Both binaries time the same .dynq files (made by NEW_DYNQ: `dynq zoo` + `dynq quantize` on 4 fixed calibration
# images, as scripts/bench-zoo.sh does). Rounds alternate OLD, NEW, NEW, OLD, ... so a burst of load on a shared
# machine hits both; the summary gives each binary's median over the rounds' medians and NEW/OLD per model.
# Example: build main at an older commit into another scratch path, then
#   bash scripts/bench-compare.sh .build-old/release/dynq .build/release/dynq 21 3
set -euo pipefail
cd "$(dirname "$0")/.."
OLD="$1"; NEW="$2"; shift 2
RUNS="${1:-11}"; ROUNDS="${2:-3}"; shift 2 || true
MODELS=("$@"); [ ${#MODELS[@]} -gt 0 ] || MODELS=(mobilenetv2 dy-mobile resnet18 dy-resnet18)
OUT=out/compare; mkdir -p "$OUT"
CALIB="$OUT/calib-4x3x224x224.npy"
if [ ! -f "$CALIB" ]; then
    python3 -c "
import numpy as np, sys
np.save(sys.argv[1], np.frombuffer((b'DynQ calibration seed 1\n' * 50000)[:4*3*224*224], dtype=np.uint8).reshape(4, 3, 224, 224))
" "$CALIB"
fi
for m in "${MODELS[@]}"; do
    [ -f "$OUT/$m.dynq" ] && continue
    "$NEW" zoo "$m" --graph "$OUT/$m.graph.json" --weights "$OUT/$m.safetensors" > /dev/null
    "$NEW" quantize --graph "$OUT/$m.graph.json" --weights "$OUT/$m.safetensors" --calib "$CALIB" --method minmax \
        -o "$OUT/$m.dynq" > /dev/null 2>&1
done
rm -f "$OUT"/*.r*.json
for r in $(seq 1 "$ROUNDS"); do
    order=(old new); [ $((r % 2)) -eq 0 ] && order=(new old)
    for m in "${MODELS[@]}"; do
        for which in "${order[@]}"; do
            bin="$OLD"; [ "$which" = new ] && bin="$NEW"
            "$bin" bench "$OUT/$m.dynq" --runs "$RUNS" --reference-runs 0 --json > "$OUT/$m.$which.r$r.json"
        done
    done
done
python3 - "$OUT" "$ROUNDS" "${MODELS[@]}" <<'PY'
import json, statistics, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def med(m, w):
    return statistics.median(json.load(open(f"{out}/{m}.{w}.r{r}.json"))["simd"]["median_ms"] for r in range(1, rounds + 1))
print(f"{'model':<12} {'old ms':>9} {'new ms':>9} {'new/old':>8}   (median over {rounds} interleaved rounds)")
for m in models:
    o, n = med(m, "old"), med(m, "new")
    print(f"{m:<12} {o:9.2f} {n:9.2f} {n / o:8.3f}")
PY
