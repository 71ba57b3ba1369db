# Shared by scripts/qemu-run.sh (Cortex-M), scripts/qemu-a53-run.sh (Cortex-A53), qemu-layers.sh and
# qemu-helium-layers.sh (per-layer benchmarks): sourced, never run.
# Before calling these functions, the caller sets PROG (its name in messages), ROOT, QDIR, SWIFT_BIN, QEMU, TARGET, OUT and NICE.
# Everything here reads those; nothing here changes the caller's options.

die() { echo "$PROG: $*" >&2; exit 1; }

# The first line of KEY's "KEY: value" line in a firmware log.
value() { sed -n "s/^$1: //p" "$2" | head -1; }

# Finds swiftc, clang, ld.lld, llvm-size (optional), the QEMU binary and the Embedded Swift libraries for $TARGET;
# sets SWIFTC, CLANG, LLD, SIZE, UNICODE_LIB.
qemu_find_tools() {
    SWIFTC="$SWIFT_BIN/swiftc"; [ -x "$SWIFTC" ] || SWIFTC="$(command -v swiftc)" || die "no swiftc"
    CLANG="$SWIFT_BIN/clang"; [ -x "$CLANG" ] || CLANG="$(command -v clang)" || die "no clang"
    LLD="$SWIFT_BIN/ld.lld"; [ -x "$LLD" ] || LLD="$(command -v ld.lld)" || die "no ld.lld"
    SIZE="$SWIFT_BIN/llvm-size"; [ -x "$SIZE" ] || SIZE="$(command -v llvm-size || true)"
    command -v "$QEMU" >/dev/null || die "no $QEMU (apt-get install -y qemu-system-arm)"
    local libdir
    libdir="$(dirname "$SWIFTC")/../lib/swift/embedded/$TARGET"
    UNICODE_LIB="$libdir/libswiftUnicodeDataTables.a"
    [ -f "$UNICODE_LIB" ] || die "no Embedded Swift libraries for $TARGET in $libdir"
}

# Copies MODEL to $OUT/model.bin and writes the model input as uint8 HWC bytes to $OUT/input.bin: either the
# first image of the uint8 .npy NPY ([N,C,H,W], [N,H,W] or [H,W]) or a copy of the raw INPUT file.
qemu_prepare_files() {  # $1 = MODEL, $2 = NPY (or ""), $3 = INPUT (or "")
    mkdir -p "$OUT"
    cp "$1" "$OUT/model.bin"
    if [ -n "$2" ]; then
        [ -f "$2" ] || die "no file $2"
        python3 - "$2" "$OUT/input.bin" "$PROG" <<'EOF' || die "cannot take the first image of $2"
import sys
import numpy as np
x = np.load(sys.argv[1])
if x.dtype != np.uint8:
    sys.exit(f"{sys.argv[3]}: {sys.argv[1]} holds {x.dtype}; give uint8 pixels (the firmware input is uint8 HWC)")
if x.ndim == 4:   x = x[0]            # [N,C,H,W] -> [C,H,W]
elif x.ndim == 3: x = x[0:1]          # [N,H,W]   -> [1,H,W] (grey images, as dynq reads them)
elif x.ndim == 2: x = x[None]         # [H,W]
else: sys.exit(f"{sys.argv[3]}: {sys.argv[1]} has shape {x.shape}")
np.ascontiguousarray(x.transpose(1, 2, 0)).tofile(sys.argv[2])   # CHW -> HWC
EOF
    else
        [ -f "$3" ] || die "no input file $3"
        cp "$3" "$OUT/input.bin"
    fi
}

# Compiles DynQCore's Swift sources (SOURCES) + firmware-sim/qemu/main.swift.embedded into $OUT/firmware.o with
# the flags SWIFT_FLAGS, unless an object built from the same compiler, flags, sources and DynQIntrinsics headers
# exists already (the hash of all of them is kept in $OUT/firmware.key). $1 says what is built, for the message.
qemu_compile_firmware() {  # $1 = description
    cp "$QDIR/main.swift.embedded" "$OUT/firmware.swift"
    local key
    key="$( { "$SWIFTC" --version 2>&1; echo "${SWIFT_FLAGS[*]}"; cat "${SOURCES[@]}" "$ROOT"/Sources/DynQIntrinsics/include/* "$OUT/firmware.swift"; } | sha256sum | cut -c1-16)"
    if [ -f "$OUT/firmware.o" ] && [ "$(cat "$OUT/firmware.key" 2>/dev/null)" = "$key" ]; then
        echo "$PROG: Embedded Swift object up to date ($1)"
    else
        echo "$PROG: compiling DynQCore (${#SOURCES[@]} files) + firmware main as Embedded Swift ($TARGET, $1)"
        rm -f "$OUT/firmware.key"
        "${NICE[@]}" "$SWIFTC" "${SWIFT_FLAGS[@]}" -c "${SOURCES[@]}" "$OUT/firmware.swift" -o "$OUT/firmware.o"
        echo "$key" > "$OUT/firmware.key"
    fi
}

# After a failed run: names the function the firmware's fault pc lies in (from the log's "FAULT: ... at pc 0x..."),
# and says what a heap exhaustion or a QEMU lockup means.
qemu_explain_fault() {  # $1 = run log
    local pc
    pc="$(sed -n 's/^FAULT: .* at pc \(0x[0-9a-f]*\).*/\1/p' "$1")"
    if [ -n "$pc" ] && [ -x "$SWIFT_BIN/llvm-symbolizer" ]; then
        echo "$PROG: the fault pc $pc is in: $("$SWIFT_BIN/llvm-symbolizer" --obj="$OUT/image.elf" "$pc" | head -1 \
            | { "$SWIFT_BIN/swift-demangle" --simplified 2>/dev/null || cat; })"
    fi
    if grep -q '^FAULT: heap exhausted' "$1"; then
        echo "$PROG: the firmware's heap ran out (support.c.embedded's allocator; RAM minus static data and STACK_BYTES)"
    fi
    if grep -q 'Lockup' "$1"; then
        echo "$PROG: QEMU locked up: a fault while the fault handler could not run (a corrupt vector table or stack;" \
             "rerun QEMU with -d int,guest_errors to see the exceptions taken)"
    fi
}

# The host twin: the same DynQCore sources + firmware-sim/qemu/host_check.swift.host built for this machine into
# $1/host_check (cached by a hash like the firmware's), run on $OUT/model.bin and $OUT/input.bin; its log goes to
# $OUT/host.log. Then prints QEMU's logits (LOGITS, from a run of kernel set KERNELS, label $2) beside the host's
# for each set named after $2, and the arena sizes (NEED from QEMU, the host's plan for KERNELS). Sets
# HOST_FAILURES to the number of differences.
qemu_host_twin() {  # $1 = host build directory, $2 = label of the QEMU row, $3... = host kernel sets to compare
    local dir="$1" label="$2"; shift 2
    local flags=(-O -wmo -parse-as-library -Xcc -I"$ROOT/Sources/DynQIntrinsics/include" -module-name DynQCore)
    mkdir -p "$dir"
    cp "$QDIR/host_check.swift.host" "$dir/host_check.swift"
    local key
    key="$( { "$SWIFTC" --version 2>&1; echo "${flags[*]}"; cat "${SOURCES[@]}" "$ROOT"/Sources/DynQIntrinsics/include/* "$dir/host_check.swift"; } | sha256sum | cut -c1-16)"
    if [ ! -x "$dir/host_check" ] || [ "$(cat "$dir/host_check.key" 2>/dev/null)" != "$key" ]; then
        echo "$PROG: compiling the host twin (DynQCore + host_check, $(uname -m))"
        rm -f "$dir/host_check.key"
        "${NICE[@]}" "$SWIFTC" "${flags[@]}" "${SOURCES[@]}" "$dir/host_check.swift" -o "$dir/host_check"
        echo "$key" > "$dir/host_check.key"
    fi
    "$dir/host_check" "$OUT/model.bin" "$OUT/input.bin" > "$OUT/host.log" || { cat "$OUT/host.log"; die "host twin failed"; }
    HOST_FAILURES=0
    echo "$PROG: logits"
    printf '  %-19s %s\n' "$label" "$LOGITS"
    local k h verdict
    for k in "$@"; do
        h="$(value "host_logits_$k" "$OUT/host.log")"
        verdict=same; [ -n "$h" ] && [ "$h" = "$LOGITS" ] || { verdict=DIFFERENT; HOST_FAILURES=$((HOST_FAILURES + 1)); }
        printf '  %-19s %s   [%s]\n' "host ($k)" "$h" "$verdict"
    done
    local ha
    ha="$(value "host_arena_$KERNELS" "$OUT/host.log")"
    echo "  arena: qemu plan $NEED B, host plan $ha B ($KERNELS kernels)"
    [ "$ha" = "$NEED" ] || { echo "  arena sizes differ"; HOST_FAILURES=$((HOST_FAILURES + 1)); }
}

# The two runs of every QEMU script, with the caller's link_image (arena bytes → $OUT/image.elf) and run_qemu
# (log file → QEMU's exit code): pass 1 links a large arena ($1 bytes) in which the firmware plans the model and
# reports the size it needs (NEED); pass 2 relinks with a static arena of exactly that size rounded up to 16
# (ARENA) and runs the model, echoing the firmware's log. Dies unless the firmware reports `status: ok`; sets
# LOG (the run log) and LOGITS.
qemu_probe_and_run() {  # $1 = probe arena bytes, $2 = the QEMU command line to show
    local rc=0
    link_image "$1"
    run_qemu "$OUT/probe.log" || rc=$?
    NEED="$(value arena_needed "$OUT/probe.log" | cut -d' ' -f1)"
    if [ -z "$NEED" ] || { [ "$rc" -ne 3 ] && [ "$rc" -ne 0 ]; }; then
        cat "$OUT/probe.log"
        die "the probe run failed (exit $rc) before it reported the arena size"
    fi
    ARENA=$(( (NEED + 15) / 16 * 16 ))
    link_image "$ARENA"
    echo "$PROG: $2 (arena $ARENA B, stack $STACK_BYTES B)"
    rc=0; run_qemu "$OUT/run.log" || rc=$?
    sed 's/^/  | /' "$OUT/run.log"
    if [ "$rc" -ne 0 ] || ! grep -q '^status: ok' "$OUT/run.log"; then
        qemu_explain_fault "$OUT/run.log"
        die "the firmware failed (exit $rc)"
    fi
    LOG="$OUT/run.log"
    LOGITS="$(value logits "$LOG")"
}
