#!/usr/bin/env bash
# Coverage-guided fuzzing of DynQ's readers with libFuzzer (docs/robustness.md).
#
#   scripts/fuzz.sh                    every target for 20 s (the CI run; about 4 minutes with the build)
#   scripts/fuzz.sh TARGET [SECONDS]   one target (dynq, safetensors, graph, npy, pnm, idx, targets, calibrate,
#                                      qemulog, onnx); SECONDS 0 runs until stopped
#   scripts/fuzz.sh all SECONDS        every target, SECONDS each
#   scripts/fuzz.sh build              only build the fuzz binaries
#   scripts/fuzz.sh TARGET SECONDS -- ARGS   extra libFuzzer arguments (e.g. -jobs=2, -runs=100000)
#   scripts/fuzz.sh all 0 -- -runs=100000    a campaign: every target until 100,000 executions
#
# Builds the package modules with `swiftc -sanitize=fuzzer,address` into $FUZZ_BUILD (default .build-fuzz/,
# not committed), links one binary per target (fuzz/targets/*.swift + fuzz/Support.swift), and runs each with
# -timeout=10 -rss_limit_mb=1024 on a working corpus seeded from fuzz/corpus/TARGET (the committed seeds stay
# untouched; new inputs go to $FUZZ_BUILD/corpus/TARGET). A crash, hang or out-of-memory input is written to
# $FUZZ_BUILD/artifacts/TARGET/ and the script exits 1 after the remaining targets ran. One summary line per
# target: seconds, executions, coverage (libFuzzer's `cov:` edges, `ft:` features), corpus size, peak RSS, result.
set -euo pipefail

# Everything runs inside main, which bash parses whole before running: editing this file during a long campaign
# cannot change the running script.
main() {

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD:-$root/.build-fuzz}"
all_targets=(dynq safetensors graph npy pnm idx targets calibrate qemulog onnx)

what="${1:-all}"
seconds="${2:-20}"
shift $(( $# < 2 ? $# : 2 ))
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

case "$what" in
    all|build) targets=("${all_targets[@]}") ;;
    *)
        if [[ ! " ${all_targets[*]} " == *" $what "* ]]; then
            echo "fuzz.sh: unknown target '$what' (one of: ${all_targets[*]}, all, build)" >&2
            exit 2
        fi
        targets=("$what") ;;
esac

mkdir -p "$out"
# DynQCore imports DynQIntrinsics, a header-only C module (its module.modulemap is found through -I).
flags=(-O -parse-as-library -sanitize=fuzzer,address -g -I "$out" -I "$root/Sources/DynQIntrinsics/include")

# A module is rebuilt when one of its sources is newer than its object (or the object is missing).
build_module() {   # NAME DIR [extra swiftc args]
    local name="$1" dir="$2"
    shift 2
    local sources
    sources=$(find "$root/$dir" -name '*.swift' -not -path '*/qemu/*' | sort)
    if [[ -f "$out/$name.o" ]] && [[ -z "$(find "$root/$dir" \( -name '*.swift' -o -name '*.h' \) -newer "$out/$name.o" | head -1)" ]]; then
        return
    fi
    echo "fuzz.sh: building $name" >&2
    # shellcheck disable=SC2086
    swiftc "${flags[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$out/$name.swiftmodule" \
        "$@" -c $sources -o "$out/$name.o"
}

build_module DynQCore Sources/DynQCore
build_module DynQGraph Sources/DynQGraph
build_module DynQQuantizer quantizer
build_module DynQSim firmware-sim

objects_for() {   # TARGET -> the module objects it links
    case "$1" in
        dynq) echo "$out/DynQCore.o $out/DynQGraph.o $out/DynQQuantizer.o $out/DynQSim.o" ;;
        safetensors|graph|npy|pnm|idx|onnx) echo "$out/DynQCore.o $out/DynQGraph.o" ;;
        calibrate) echo "$out/DynQCore.o $out/DynQGraph.o $out/DynQQuantizer.o" ;;
        targets|qemulog) echo "$out/DynQCore.o $out/DynQGraph.o $out/DynQQuantizer.o $out/DynQSim.o" ;;
    esac
}

for t in "${targets[@]}"; do
    bin="$out/fuzz-$t"
    sources=("$root/fuzz/Support.swift" "$root/fuzz/targets/$t.swift")
    [[ "$t" == npy || "$t" == pnm || "$t" == idx ]] && sources+=("$root/fuzz/ImageSupport.swift")
    newest=$(ls -t "${sources[@]}" $(objects_for "$t") | head -1)
    if [[ ! -x "$bin" || "$newest" -nt "$bin" ]]; then
        echo "fuzz.sh: linking fuzz-$t" >&2
        # shellcheck disable=SC2046
        swiftc "${flags[@]}" -module-name "Fuzz_$t" "${sources[@]}" $(objects_for "$t") -o "$bin" 2> "$out/link-$t.log" \
            || { cat "$out/link-$t.log" >&2; exit 1; }
    fi
done
[[ "$what" == build ]] && exit 0

# The `targets` target simulates a small quantized model.
export DYNQ_FUZZ_MODEL="$root/fuzz/corpus/dynq/conv2d_plain.dynq"
# The `dynq` target simulates every model that loads on the shipped profiles.
export DYNQ_FUZZ_TARGETS="$root/targets/targets.json"

# Seeds made from the fixtures (not committed twice): $out/seeds/TARGET, next to the committed fuzz/corpus/TARGET.
make_seeds() {   # TARGET
    local t="$1" dir="$out/seeds/$1" sep
    sep=$'\n#--#\n'
    rm -rf "$dir"
    mkdir -p "$dir"
    local ops=("$root"/fixtures/ops/*/)
    case "$t" in
        safetensors) for d in "${ops[@]}"; do cp "$d/weights.safetensors" "$dir/$(basename "$d").safetensors" 2>/dev/null || true; done ;;
        graph) for d in "${ops[@]}"; do
                   [[ -f "$d/graph.json" ]] || continue
                   { cat "$d/graph.json"; printf '%s' "$sep"; cat "$d/weights.safetensors" 2>/dev/null || true; } > "$dir/$(basename "$d")"
                   cp "$d/graph.json" "$dir/$(basename "$d").json"
               done
               cp "$root/fixtures/fmnist/model.graph.json" "$dir/fmnist.json"
               cp "$root/fixtures/fmnist_perlayer/model.graph.json" "$dir/perlayer.json" ;;
        calibrate) for d in "${ops[@]}"; do
                       [[ -f "$d/graph.json" ]] || continue
                       { cat "$d/graph.json"; printf '%s' "$sep"; cat "$d/weights.safetensors" 2>/dev/null || true
                         printf '%s' "$sep"; cat "$d/input.npy"; } > "$dir/$(basename "$d")"
                   done ;;
        npy) for d in "${ops[@]}"; do
                 cp "$d/input.npy" "$dir/$(basename "$d").input.npy" 2>/dev/null || true
                 cp "$d/expected.npy" "$dir/$(basename "$d").expected.npy" 2>/dev/null || true
             done
             cp "$root"/fixtures/hostile/*.npy "$dir/"
             cp "$root/fixtures/fmnist/test_labels.npy" "$dir/" ;;
        pnm) cp "$root/fixtures/fmnist/sample0.pgm" "$dir/" ;;
        targets) cp "$root/targets/targets.json" "$dir/" ;;
        qemulog) cp "$root"/fixtures/fmnist/qemu-*.log "$dir/" ;;
        onnx) cp "$root"/fixtures/onnx/*.onnx "$dir/" ;;
        dynq|idx) ;;
    esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
    corpus="$out/corpus/$t"
    artifacts="$out/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    dict=()
    [[ -f "$root/fuzz/dict/$t.dict" ]] && dict=(-dict="$root/fuzz/dict/$t.dict")
    time_limit=()
    [[ "$seconds" != 0 ]] && time_limit=(-max_total_time="$seconds")
    log="$out/fuzz-$t.log"
    # ONNX seeds are up to 150 KB (the fixtures' weights); the other formats' seeds fit in 64 KiB.
    max_len=65536
    [[ "$t" == onnx ]] && max_len=262144
    echo "fuzz.sh: fuzzing $t$([[ "$seconds" != 0 ]] && echo " for $seconds s") (log $log)" >&2
    make_seeds "$t"
    dirs=("$corpus" "$out/seeds/$t")
    [[ -d "$root/fuzz/corpus/$t" ]] && dirs+=("$root/fuzz/corpus/$t")
    started=$SECONDS
    set +e
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
        "$out/fuzz-$t" "${dirs[@]}" "${dict[@]}" "${time_limit[@]}" \
        -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 -max_len=$max_len -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${extra[@]}" > "$log" 2>&1
    status=$?
    set -e
    elapsed=$(( SECONDS - started ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    units=$(find "$corpus" -type f | wc -l)
    if [[ $status -eq 0 ]]; then
        result=ok
    else
        result="FOUND (exit $status): $(ls -t "$artifacts" 2>/dev/null | head -1)"
        failed=1
        grep -m3 -E 'ERROR|Fatal error|deadly signal|timeout|out-of-memory' "$log" >&2 || true
    fi
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    summary+=("$(printf '%-12s %6s s  execs %10s  cov %6s  ft %6s  corpus %5s  peak %5s MB  %s' "$t" "$elapsed" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$units" "${rss:-?}" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $failed
}

main "$@"
