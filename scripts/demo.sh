#!/usr/bin/env bash
# The DynQ demo: a trained DyNet (Fashion-MNIST, fixtures/fmnist) from float weights to int8 on edge targets.
#   bash scripts/demo.sh
# Builds the release `dynq`, then: inspect the float graph, classify one image in float, quantize it to int8,
# classify the same image in int8, measure the accuracy drift on 1,000 test images, check which microcontrollers
# it fits, and time it. Everything it writes goes to out/demo/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

echo "== building dynq and the tests (release, with the settings of \`swift test -c release\`, which then reuses this build)"
swift test -c release --list-tests > /dev/null
DYNQ="$(swift build -c release --show-bin-path)/dynq"
F=fixtures/fmnist
OUT=out/demo
mkdir -p "$OUT"
G=(--graph "$F/model.graph.json" --weights "$F/model.safetensors")

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. the trained float DyNet: every layer, its parameters and MACs" \
    "$DYNQ" inspect "${G[@]}"
step "2. float32 reference engine on one test image" \
    "$DYNQ" run --float "${G[@]}" "$F/sample0.pgm" --top 3
step "3. quantize to int8: BN folding, per-channel weights, calibration on 500 training images" \
    "$DYNQ" quantize "${G[@]}" --calib "$F/calib_images.npy" --samples 500 -o "$OUT/model.dynq"
if cmp -s "$OUT/model.dynq" "$F/model.dynq"; then
    echo "(identical to the committed fixtures/fmnist/model.dynq)"
fi
step "4. the integer-only runtime on the same image" \
    "$DYNQ" run "$OUT/model.dynq" "$F/sample0.pgm" --top 3
step "5. accuracy drift on the 1,000 fixture images: int8 vs the float graph" \
    "$DYNQ" eval "$OUT/model.dynq" --data "$F/test_images.npy" --labels "$F/test_labels.npy" "${G[@]}"
step "6. does it fit? RAM, flash and estimated latency on every edge target" \
    "$DYNQ" sim "$OUT/model.dynq" --target all --measure
"$DYNQ" sim "$OUT/model.dynq" --target cortex-m4 --svg "$OUT/fmnist-cortex-m4.svg" > /dev/null
echo "(memory/cycles picture for Cortex-M4: $OUT/fmnist-cortex-m4.svg)"
step "7. speed on this machine: SIMD kernels vs the scalar reference kernels" \
    "$DYNQ" bench "$OUT/model.dynq" --runs 200 --reference-runs 20
