#!/usr/bin/env bash
# Per-layer kernel benchmark on an emulated Cortex-M or AArch64 core: instructions per MAC of every kernel set on
# issue 13's standard layers (and the rest of the fixture's conv / depthwise / linear shapes), each output's hash
# checked against the oracle kernels on the same core, plus each set's code size and stack.
#
#   scripts/qemu-layers.sh                      # Cortex-M4, QEMU mps2-an386
#   scripts/qemu-layers.sh --core m7            # Cortex-M7, mps2-an500
#   scripts/qemu-layers.sh --core m55           # Cortex-M55, mps3-an547 (Swift built with -Xcc -mcpu=cortex-m55;
#                                               # the Helium set runs there too, beside oracle/scalar/simd128/dsp)
#   scripts/qemu-layers.sh --core a53           # Cortex-A53 (AArch64), QEMU virt: oracle/scalar/simd128/neon sets,
#                                               # and the larger layers of docs/qemu.md's NEON table after the rest
#   scripts/qemu-layers.sh --core a76           # Cortex-A76 (the same, NEON's SDOT tile); = CPU=cortex-a76 --core a53
#   scripts/qemu-layers.sh --layers conv3x3_32_32_14,fc_48_10     # only these layers (names as in the table)
#
# Environment: OPT (-O, default, or -Osize), OUT (build directory, default .build-qemu/layers-CORE), SWIFT_BIN
#   (/opt/swift/usr/bin), QEMU (qemu-system-arm; qemu-system-aarch64 for a53/a76), QEMU_TIMEOUT (seconds, 1800),
#   STACK_BYTES (32768; 65536 for a53/a76), CPU (a53 only: QEMU's -cpu and clang's -mcpu, default cortex-a53),
#   RAM_MB (a53/a76: QEMU -m, 256).
#
# What happens: DynQCore's sources and firmware-sim/qemu/layers.swift.embedded are compiled as ONE Embedded Swift
# module (armv7em-none-none-eabi, -wmo, -function-sections, -Xcc -mcpu=CPU), linked with the startup, ABI and C
# support files of firmware-sim/qemu/ (layers.c: SysTick and the intrinsics check; layers_model.c: the portable
# models of DynQIntrinsics, compiled for a Cortex-M3, i.e. without DSP), and run under QEMU with semihosting and
# `-icount shift=0` (one instruction = one virtual nanosecond; the firmware calibrates SysTick against a loop of
# known length). Small layers are repeated so each measurement spans >= 200,000 MACs; the table shows one call.
# Code size of a set: the Swift object linked from that set's entry points alone (`ld.lld -e dynq_set_NAME
# --gc-sections`, C support left out): .text + .rodata reachable from the set (kernels and what they call). Stack: painted-stack high
# water of one call. Exit code 0 only when the firmware finishes, every set's output hash equals the oracle's
# on every layer and the DynQIntrinsics models match the instructions. Builds run under `nice -n 10`.
# AArch64 (a53, a76): the same Swift main with -D DYNQ_LAYERS_AARCH64 (aarch64-none-none-elf), linked with
# qemu-a53-run.sh's startup, support and linker script and a53_layers.c (NEON intrinsics check); the timer is the
# generic timer, one count per 16 instructions (docs/qemu.md), so a measurement is exact to ±16 instructions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QDIR="$ROOT/firmware-sim/qemu"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
OPT="${OPT:--O}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-1800}"
ENV_CPU="${CPU:-}"
NICE=(nice -n 10)

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
PROG=qemu-layers
# shellcheck source=scripts/qemu-common.sh
. "$ROOT/scripts/qemu-common.sh"

CORE=m4 LAYERS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --core) [ $# -ge 2 ] || die "--core needs m4, m7, m55, a53 or a76"; CORE="$2"; shift 2 ;;
        --layers) [ $# -ge 2 ] || die "--layers needs a comma-separated list"; LAYERS="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) die "unknown argument $1" ;;
    esac
done

ARCH=arm
case "$CORE" in
    m4)  BOARD=mps2-an386; CPU=cortex-m4;  FLASH=4M;   RAM=4M ;;
    m7)  BOARD=mps2-an500; CPU=cortex-m7;  FLASH=4M;   RAM=4M ;;
    m55) BOARD=mps3-an547; CPU=cortex-m55; FLASH=512K; RAM=512K ;;   # ITCM at 0x0, DTCM at 0x20000000
    a53) ARCH=aarch64; BOARD=virt; CPU="${ENV_CPU:-cortex-a53}" ;;
    a76) ARCH=aarch64; BOARD=virt; CPU=cortex-a76 ;;
    *) die "unknown core $CORE (m4, m7, m55, a53 or a76)" ;;
esac
if [ "$ARCH" = aarch64 ]; then
    CORE="${CPU#cortex-}"                     # the table's and the build directory's name: a53, a76, ...
    TARGET=aarch64-none-none-elf
    QEMU="${QEMU:-qemu-system-aarch64}"
    STACK_BYTES="${STACK_BYTES:-65536}"
    RAM_MB="${RAM_MB:-256}"
    case "$RAM_MB" in ''|*[!0-9]*) die "RAM_MB must be a number of megabytes" ;; esac
    QEMU_MACHINE=(-M virt -cpu "$CPU" -m "${RAM_MB}M")
else
    TARGET=armv7em-none-none-eabi
    QEMU="${QEMU:-qemu-system-arm}"
    STACK_BYTES="${STACK_BYTES:-32768}"
    QEMU_MACHINE=(-M "$BOARD")
fi
OUT="${OUT:-$ROOT/.build-qemu/layers-$CORE}"

qemu_find_tools
[ -n "$SIZE" ] || die "no llvm-size"
INCLUDE="$ROOT/Sources/DynQIntrinsics/include"

mkdir -p "$OUT"

# ---- Swift: DynQCore + the benchmark main as one Embedded Swift module (cached by a hash of its inputs) ----
mapfile -t SOURCES < <(find "$ROOT/Sources/DynQCore" -name '*.swift' | LC_ALL=C sort)
SWIFT_FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -enable-experimental-feature Extern
             -wmo "$OPT" -parse-as-library -Xfrontend -disable-stack-protector -Xfrontend -function-sections
             -Xcc -mcpu="$CPU" -Xcc -I"$INCLUDE" -module-name DynQCore)
# The Helium set runs only where MVE exists (the M55): its entry is compiled in with -D DYNQ_LAYERS_HELIUM.
[ "$CORE" != m55 ] || SWIFT_FLAGS+=(-D DYNQ_LAYERS_HELIUM)
# AArch64: the NEON set instead of dsp, the generic timer, the larger layers (layers.swift.embedded's #if).
[ "$ARCH" != aarch64 ] || SWIFT_FLAGS+=(-D DYNQ_LAYERS_AARCH64)
cp "$QDIR/layers.swift.embedded" "$OUT/layers.swift"
KEY="$( { "$SWIFTC" --version 2>&1; echo "${SWIFT_FLAGS[*]}"; cat "${SOURCES[@]}" "$INCLUDE"/* "$OUT/layers.swift"; } \
        | sha256sum | cut -c1-16)"
if [ -f "$OUT/layers.o" ] && [ "$(cat "$OUT/layers.key" 2>/dev/null)" = "$KEY" ]; then
    echo "qemu-layers: Embedded Swift object up to date ($CPU, $OPT)"
else
    echo "qemu-layers: compiling DynQCore (${#SOURCES[@]} files) + layers main as Embedded Swift ($TARGET, $CPU, $OPT)"
    rm -f "$OUT/layers.key"
    "${NICE[@]}" "$SWIFTC" "${SWIFT_FLAGS[@]}" -c "${SOURCES[@]}" "$OUT/layers.swift" -o "$OUT/layers.o"
    echo "$KEY" > "$OUT/layers.key"
fi

# ---- C and assembly: startup, ABI helpers, memory/semihosting support, SysTick + intrinsics check ----
build_m_image() {
    CFLAGS=(--target=arm-none-eabi -mcpu="$CPU" -mthumb -mfloat-abi=soft)
    cp "$QDIR/startup.S.embedded" "$OUT/startup.S"; cp "$QDIR/aeabi.S.embedded" "$OUT/aeabi.S"
    cp "$QDIR/support.c.embedded" "$OUT/support.c"; cp "$QDIR/layers.c.embedded" "$OUT/layers.c"
    cp "$QDIR/layers_model.c.embedded" "$OUT/layers_model.c"
    sed -e "/^ *FLASH (rx)/ s/LENGTH = [0-9A-Z]*/LENGTH = $FLASH/" -e "/^ *RAM  *(rwx)/ s/LENGTH = [0-9A-Z]*/LENGTH = $RAM/" \
        "$QDIR/link.ld" > "$OUT/link.ld"
    : > "$OUT/model.bin"; : > "$OUT/input.bin"           # startup.S embeds a model and an input; none here
    (
        cd "$OUT"
        "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c startup.S -o startup.o
        "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -c aeabi.S -o aeabi.o
        "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -fno-builtin -Wall -Wextra -c support.c -o support.o
        "${NICE[@]}" "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -Wall -Wextra -I"$INCLUDE" \
            -DDYNQ_CORE="\"$CORE ($CPU, $BOARD)\"" -DDYNQ_LAYERS="\"$LAYERS\"" -c layers.c -o layers_c.o
        "${NICE[@]}" "$CLANG" --target=arm-none-eabi -mcpu=cortex-m3 -mthumb -mfloat-abi=soft -O2 -ffreestanding \
            -Wall -Wextra -I"$INCLUDE" -c layers_model.c -o layers_model.o
    )
    OBJECTS=("$OUT/startup.o" "$OUT/aeabi.o" "$OUT/support.o" "$OUT/layers_c.o" "$OUT/layers_model.o"
             "$OUT/layers.o" "$UNICODE_LIB")
    "$LLD" -T "$OUT/link.ld" --defsym=ARENA_BYTES=0 --defsym=STACK_BYTES="$STACK_BYTES" --gc-sections \
        -Map="$OUT/image.map" "${OBJECTS[@]}" -o "$OUT/image.elf"
}

# ---- AArch64: qemu-a53-run.sh's startup, support (generic timer, stack paint) and linker script, a53_layers.c ----
build_aarch64_image() {
    local cflags=(--target=aarch64-none-elf "-mcpu=$CPU")
    cp "$QDIR/a53_startup.S.embedded" "$OUT/a53_startup.S"; cp "$QDIR/a53_support.c.embedded" "$OUT/a53_support.c"
    cp "$QDIR/a53_layers.c.embedded" "$OUT/a53_layers.c"; cp "$QDIR/a53_link.ld" "$OUT/"
    : > "$OUT/model.bin"; : > "$OUT/input.bin"       # a53_startup.S embeds a model and an input; none here
    (
        cd "$OUT"
        "${NICE[@]}" "$CLANG" "${cflags[@]}" -c a53_startup.S -o a53_startup.o
        "${NICE[@]}" "$CLANG" "${cflags[@]}" -O2 -ffreestanding -fno-builtin -Wall -Wextra -ffunction-sections \
            -c a53_support.c -o a53_support.o
        "${NICE[@]}" "$CLANG" "${cflags[@]}" -O2 -ffreestanding -Wall -Wextra -I"$INCLUDE" \
            -DDYNQ_CORE="\"$CORE ($CPU, $BOARD)\"" -DDYNQ_LAYERS="\"$LAYERS\"" -c a53_layers.c -o a53_layers_c.o
    )
    "$LLD" -T "$OUT/a53_link.ld" --defsym=ARENA_BYTES=0 --defsym=STACK_BYTES="$STACK_BYTES" \
        --defsym=RAM_BYTES="$((RAM_MB * 1024 * 1024))" --gc-sections -Map="$OUT/image.map" \
        "$OUT/a53_startup.o" "$OUT/a53_support.o" "$OUT/a53_layers_c.o" "$OUT/layers.o" "$UNICODE_LIB" \
        -o "$OUT/image.elf"
}

if [ "$ARCH" = aarch64 ]; then build_aarch64_image; else build_m_image; fi

# ---- run ----
echo "qemu-layers: $QEMU -M $BOARD -cpu $CPU -icount shift=0 -kernel $OUT/image.elf"
rc=0
timeout "$QEMU_TIMEOUT" "$QEMU" "${QEMU_MACHINE[@]}" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$OUT/image.elf" >"$OUT/run.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '^status: ok' "$OUT/run.log"; then
    cat "$OUT/run.log"
    qemu_explain_fault "$OUT/run.log"
    die "the firmware failed (exit $rc)"
fi

# ---- code size per set: link from the set's entry points only ----
printf 'SECTIONS { .text : { *(.text .text.*) } .rodata : { *(.rodata .rodata.*) } /DISCARD/ : { *(.ARM.exidx*) } }\n' \
    > "$OUT/size.ld"
: > "$OUT/sizes.txt"
for s in $(sed -n 's/^result: [^ ]* \([^ ]*\) .*/\1/p' "$OUT/run.log" | awk '!seen[$0]++'); do
    ENTRY=(-e "dynq_set_$s")
    if grep -q "dynq_prepare_$s" "$OUT/image.map"; then ENTRY+=(--undefined="dynq_prepare_$s"); fi
    if "$LLD" -T "$OUT/size.ld" "${ENTRY[@]}" --gc-sections --unresolved-symbols=ignore-all \
        "$OUT/layers.o" "$UNICODE_LIB" -o "$OUT/size-$s.elf" 2>/dev/null; then
        "$SIZE" -A "$OUT/size-$s.elf" | awk -v s="$s" '$1 == ".text" || $1 == ".rodata" { n += $2 } END { print s, n }' \
            >> "$OUT/sizes.txt"
    fi
done

python3 - "$OUT/run.log" "$OUT/sizes.txt" "$CORE" <<'EOF'
import sys
log, sizes, core = sys.argv[1], sys.argv[2], sys.argv[3]
# CMSIS-NN DSP kernels (single rounding), Cortex-M4, from issue 13 / ../shared/notes/cortex-m-facts.md.
cmsis_m4 = {"conv3x3_16_32_14": 2.10, "conv3x3_32_32_14": 1.91, "dw3x3_32_14_s2": 7.42, "dw3x3_32_14_s1": 7.39,
            "conv1x1_32_48_7": 2.65, "conv1x1_16_32_14": 3.70, "fc_48_10": 3.33, "stem3x3_1_16_28": 9.73,
            "dw3x3_16_28_s2": 7.76, "dw3x3_48_7_s1": 7.05, "conv1x1_48_48_7": 2.26}
issue_table = list(cmsis_m4)[:8]
# AArch64 only (layers.swift.embedded's aarch64Layers): docs/qemu.md's NEON table, printed as a table of their own.
larger = ("conv3x3_64_64_56", "conv3x3_256_256_14", "conv1x1_128_256_28", "conv1x1_24_144_56", "conv1x1_144_24_56",
          "conv1x1_96_576_14", "conv1x1_320_1280_7", "stem3x3_3_32_224_s2")
lines = open(log).read().splitlines()
results, order, sets = {}, [], []
for l in lines:
    if l.startswith("result: "):
        f = l.split()
        name, s = f[1], f[2]
        kv = dict(zip(f[3::2], f[4::2]))
        results[(name, s)] = kv
        if name not in order: order.append(name)
        if s not in sets: sets.append(s)
size = dict(l.split() for l in open(sizes).read().splitlines() if l.strip())
if not order:
    print("qemu-layers: no layer ran (does --layers name layers of the table?)")
    sys.exit(1)
failures = 0
for l in lines:
    if l.startswith(("calibration:", "intrinsics:", "neon:")): print(l)
    if l.startswith("intrinsics: native") and not l.endswith("mismatches 0"): failures += 1
def per_call(kv): return int(kv["instructions"]) / int(kv["reps"])
def other(name): return name.startswith(("fuse_", "add_", "gap_"))
head = f"{'layer':<20} {'MACs':>9}"
for s in sets: head += f" {s + ' i/MAC':>15}"
if core == "m4": head += f" {'CMSIS-NN DSP':>12}"
head += "  outputs"
print(f"\nInstructions per MAC, {core} (QEMU -icount shift=0; one call of the kernel)")
print(head)
tot = {s: 0.0 for s in sets}; tot8 = {s: 0.0 for s in sets}; totx = {s: 0.0 for s in sets}
macs_all = macs8 = 0
def verdicts(name):
    global failures
    kv0, out = results[(name, sets[0])], []
    for s in sets[1:]:
        kv = results.get((name, s))
        if kv is None: continue
        same = kv["hash"] == kv0["hash"]
        if not same: failures += 1
        out.append(f"{s} {'same' if same else 'DIFFERENT'}")
    return ", ".join(out)
def layer_row(name, totals, width=9):
    """A conv/dw/FC layer's row (name, MACs, i/MAC per set); adds each set's instructions per call to totals."""
    macs = int(results[(name, sets[0])]["macs"])
    row = f"{name:<20} {macs:>{width}}"
    for s in sets:
        kv = results.get((name, s))
        if kv is None: row += f" {'-':>15}"; continue
        row += f" {per_call(kv) / macs:>15.2f}"
        totals[s] += per_call(kv)
    return row, macs
for name in [n for n in order if not other(n) and n not in larger]:
    row, macs = layer_row(name, tot)
    if name in issue_table:
        for s in sets:
            if (name, s) in results: tot8[s] += per_call(results[(name, s)])
    macs_all += macs
    if name in issue_table: macs8 += macs
    c = cmsis_m4.get(name)
    if core == "m4": row += f" {c:>12.2f}" if c else f" {'':>12}"
    print(row + "  " + verdicts(name))
if macs8: print(f"{'issue 13 table (8)':<20} {macs8:>9}" + "".join(f" {tot8[s] / macs8:>15.2f}" for s in sets))
if macs_all:
    print(f"{'all conv/dw/FC layers':<20} {macs_all:>9}" + "".join(f" {tot[s] / macs_all:>15.2f}" for s in sets)
          + (f" {2.54:>12.2f}" if core == "m4" and macs_all == 3251824 else ""))
rest = [n for n in order if other(n)]
if rest:
    print(f"\nFusions (per fusion MAC g·O·K), adds and global average pools (per element), instructions per call")
    print(f"{'op':<20} {'MACs/elts':>9}" + "".join(f" {s + ' instr':>15}" for s in sets)
          + "".join(f" {s + ' /MAC':>11}" for s in sets) + "  outputs")
    for name in rest:
        macs = int(results[(name, sets[0])]["macs"])
        row = f"{name:<20} {macs:>9}"
        row += "".join(f" {per_call(results[(name, s)]):>15.0f}" if (name, s) in results else f" {'-':>15}" for s in sets)
        row += "".join(f" {per_call(results[(name, s)]) / macs:>11.2f}" if (name, s) in results else f" {'-':>11}"
                       for s in sets)
        for s in sets:
            if (name, s) in results: totx[s] += per_call(results[(name, s)])
        print(row + "  " + verdicts(name))
    print(f"{'total':<20} {'':>9}" + "".join(f" {totx[s]:>15.0f}" for s in sets))
big = [n for n in order if n in larger]
if big:
    print(f"\nLarger layers (docs/qemu.md's NEON table), instructions per MAC, {core} (one call)")
    print(f"{'layer':<20} {'MACs':>10}" + "".join(f" {s + ' i/MAC':>15}" for s in sets) + "  outputs")
    totb = {s: 0.0 for s in sets}; macsb = 0
    for name in big:
        row, macs = layer_row(name, totb, width=10)
        macsb += macs
        print(row + "  " + verdicts(name))
    print(f"{'all larger layers':<20} {macsb:>10}" + "".join(f" {totb[s] / macsb:>15.2f}" for s in sets))
print(f"\nPer set: code (.text + .rodata reachable from the set's entry points), largest stack and scratch of a call")
for s in sets:
    st = max(int(results[(n, s)]["stack"]) for n in order if (n, s) in results)
    sc = max(int(results[(n, s)]["scratch"]) for n in order if (n, s) in results)
    pk = max(int(results[(n, s)]["packed"]) for n in order if (n, s) in results)
    print(f"  {s:<12} code {size.get(s, '?'):>7} B   stack {st:>5} B   scratch {sc:>6} B   packed weights {pk:>6} B")
if failures:
    print(f"qemu-layers: {failures} mismatch(es)")
    sys.exit(1)
print("qemu-layers: every output equals the oracle's on this core")
EOF
