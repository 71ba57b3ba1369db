#!/usr/bin/env bash
# Times several `dynq` binaries on the same models, interleaved: each round runs every binary on every model
# (`dynq bench MODEL --runs R --reference-runs 0`, its median per-invoke time), binaries alternating within a model,
# so load on a shared machine hits them alike. Prints per round the medians, then the median over rounds and each
# binary's ratio to the first (the baseline). Speed only: outputs are compared with `dynq run` elsewhere.
#
#   scripts/bench-binaries.sh ROUNDS RUNS MODEL... -- NAME=BINARY NAME=BINARY ...
#   scripts/bench-binaries.sh 5 21 out/peer/mobilenetv2.dynq out/peer/dy-mobile.dynq -- \
#       main=/tmp/base/.build/release/dynq branch=.build/release/dynq
# A BINARY may be a command of words split at spaces, e.g. one binary under several x86 dispatch levels:
#   ... -- off="env DYNQ_HOST_DISPATCH=off .build/release/dynq" avx2="env DYNQ_HOST_DISPATCH=avx2 .build/release/dynq" \
#       vnni=.build/release/dynq
set -euo pipefail
rounds="$1"; runs="$2"; shift 2
models=(); while [ "$1" != "--" ]; do models+=("$1"); shift; done; shift
exec python3 - "$rounds" "$runs" "${#models[@]}" "${models[@]}" "$@" <<'PY'
import re, statistics, subprocess, sys
rounds, runs, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
models, bins = sys.argv[4:4 + n], [a.split("=", 1) for a in sys.argv[4 + n:]]
times = {(m, b): [] for m in models for b, _ in bins}
for r in range(rounds):
    for m in models:
        order = bins if r % 2 == 0 else bins[::-1]
        for name, path in order:
            out = subprocess.run(path.split() + ["bench", m, "--runs", str(runs), "--reference-runs", "0"],
                                 capture_output=True, text=True, check=True).stdout
            ms = float(re.search(r"median ([0-9.]+) ms", out).group(1))
            times[(m, name)].append(ms)
    print(f"round {r + 1}: " + "; ".join(f"{m.split('/')[-1]} " + " ".join(f"{b}={times[(m, b)][-1]:.3f}"
                                        for b, _ in bins) for m in models), flush=True)
base = bins[0][0]
for m in models:
    med = {b: statistics.median(times[(m, b)]) for b, _ in bins}
    print(f"{m.split('/')[-1]}: " + ", ".join(f"{b} {med[b]:.3f} ms ({med[base] / med[b]:.2f}x)" for b, _ in bins)
          + "; per-round ratios " + ", ".join(
              f"{b} " + "/".join(f"{x / y:.2f}" for x, y in zip(times[(m, base)], times[(m, b)]))
              for b, _ in bins[1:]))
PY
