#!/usr/bin/env bash
# Builds the DynQ C library (include/dynq.h) as static libraries, one per core, each with one kernel set:
#
#   scripts/build-libs.sh                    # every core below
#   scripts/build-libs.sh cortex-m4 host     # only these
#
#   core           swift target               cpu            kernel set (-D)                 library
#   cortex-m0plus  armv6m-none-none-eabi      cortex-m0plus  DYNQ_KERNELS_SCALAR             libdynq-cortex-m0plus.a
#   cortex-m4      armv7em-none-none-eabi     cortex-m4      DYNQ_KERNELS_DSP (*)            libdynq-cortex-m4.a
#   cortex-m55     armv7em-none-none-eabi     cortex-m55     DYNQ_KERNELS_HELIUM (*)         libdynq-cortex-m55.a
#   cortex-a53     aarch64-none-none-elf      cortex-a53     DYNQ_KERNELS_SIMD128            libdynq-cortex-a53.a
#   host           x86_64-unknown-linux-gnu   (default)      DYNQ_KERNELS_SIMD128            libdynq-host.a
#   (*) the DSP and Helium sets are not in DynQCore yet: those libraries run the scalar set (dynq_kernel_set()
#       says which; Sources/DynQFirmware/KernelSelection.swift maps the flag).
#
# Each library is Sources/DynQCore + Sources/DynQFirmware compiled as ONE Embedded Swift module (-wmo, -O,
# -function-sections: link with --gc-sections and only what the firmware calls stays), plus the Embedded Swift
# Unicode tables archive of the target (only linked if referenced). Embedded Swift needs no runtime library: a
# firmware links the .a and provides a few C symbols, which this script lists per library ("needs:").
# Output: $OUT/libdynq-<core>.a (default OUT=.build-libs), cached by a hash of the sources and flags.
# Environment: OUT, SWIFT_BIN (/opt/swift/usr/bin), OPT (-O or -Osize), KERNELS_<core>=SCALAR|SIMD128|DSP|HELIUM
# to override a core's set (e.g. KERNELS_cortex_m4=SIMD128; dashes become _).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
OUT="${OUT:-$ROOT/.build-libs}"
OPT="${OPT:--O}"
NICE=(nice -n 10)
die() { echo "build-libs: $*" >&2; exit 1; }

SWIFTC="$SWIFT_BIN/swiftc"; [ -x "$SWIFTC" ] || SWIFTC="$(command -v swiftc)" || die "no swiftc"
AR="$SWIFT_BIN/llvm-ar"; [ -x "$AR" ] || AR="$(command -v llvm-ar)" || die "no llvm-ar"
NM="$SWIFT_BIN/llvm-nm"; [ -x "$NM" ] || NM="$(command -v llvm-nm)" || die "no llvm-nm"
SIZE="$SWIFT_BIN/llvm-size"; [ -x "$SIZE" ] || SIZE="$(command -v llvm-size)" || die "no llvm-size"
EMBEDDED="$(dirname "$SWIFTC")/../lib/swift/embedded"

ALL=(cortex-m0plus cortex-m4 cortex-m55 cortex-a53 host)
CORES=("$@"); [ ${#CORES[@]} -gt 0 ] || CORES=("${ALL[@]}")

# core -> "swift-target cpu kernel-set"
spec() {
    case "$1" in
        cortex-m0plus) echo "armv6m-none-none-eabi cortex-m0plus SCALAR" ;;
        cortex-m4)     echo "armv7em-none-none-eabi cortex-m4 DSP" ;;
        cortex-m55)    echo "armv7em-none-none-eabi cortex-m55 HELIUM" ;;
        cortex-a53)    echo "aarch64-none-none-elf cortex-a53 SIMD128" ;;
        host)          echo "x86_64-unknown-linux-gnu - SIMD128" ;;
        *) return 1 ;;
    esac
}

mapfile -t SOURCES < <( { find "$ROOT/Sources/DynQCore" -name '*.swift'; find "$ROOT/Sources/DynQFirmware" -name '*.swift'; } | LC_ALL=C sort)
mkdir -p "$OUT"
SUMMARY=()

for core in "${CORES[@]}"; do
    read -r TARGET CPU SET < <(spec "$core") || die "unknown core '$core' (known: ${ALL[*]})"
    override="KERNELS_${core//-/_}"; SET="${!override:-$SET}"
    FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -wmo "$OPT" -parse-as-library
           -Xfrontend -disable-stack-protector -Xfrontend -function-sections
           -module-name DynQCore -I "$ROOT/include" -D "DYNQ_KERNELS_$SET" -suppress-warnings)
    [ "$CPU" = - ] || FLAGS+=(-Xcc "-mcpu=$CPU")
    DIR="$OUT/$core"; LIB="$OUT/libdynq-$core.a"
    mkdir -p "$DIR"
    KEY="$( { "$SWIFTC" --version 2>&1; echo "${FLAGS[*]}"; cat "${SOURCES[@]}" "$ROOT/include/dynq.h"; } | sha256sum | cut -c1-16)"
    if [ -f "$LIB" ] && [ "$(cat "$DIR/key" 2>/dev/null)" = "$KEY" ]; then
        echo "build-libs: $core: up to date ($LIB)"
    else
        echo "build-libs: $core: compiling ${#SOURCES[@]} files as Embedded Swift ($TARGET${CPU:+, $CPU}, DYNQ_KERNELS_$SET, $OPT)"
        rm -f "$DIR/key" "$LIB"
        # DynQFirmware's `import DynQCore` is ignored in the one-module build (-suppress-warnings hides the
        # "ignoring import" notes; a real warning still shows in the SwiftPM build of the same files).
        "${NICE[@]}" "$SWIFTC" "${FLAGS[@]}" -c "${SOURCES[@]}" -o "$DIR/dynq.o"
        UNICODE="$EMBEDDED/$TARGET/libswiftUnicodeDataTables.a"
        {
            echo "CREATE $LIB"
            echo "ADDMOD $DIR/dynq.o"
            [ -f "$UNICODE" ] && echo "ADDLIB $UNICODE"
            echo "SAVE"; echo "END"
        } | "$AR" -M
        echo "$KEY" > "$DIR/key"
    fi
    # What the library needs from the firmware: undefined symbols no member defines.
    "$NM" --defined-only --extern-only "$LIB" 2>/dev/null | awk 'NF>=3 {print $3}' | sort -u > "$DIR/defined.txt"
    "$NM" --undefined-only --extern-only "$LIB" 2>/dev/null | awk 'NF>=2 {print $2}' | sort -u > "$DIR/undefined.txt"
    NEEDS="$(comm -23 "$DIR/undefined.txt" "$DIR/defined.txt" | tr '\n' ' ')"
    KSET="$(echo "$SET" | tr 'A-Z' 'a-z')"
    if [ "$SET" = DSP ] || [ "$SET" = HELIUM ]; then KSET="$KSET -> scalar (not in DynQCore yet)"; fi
    TOTAL="$("$SIZE" -t "$LIB" | awk 'END {print "text " $1 ", data " $2 ", bss " $3}')"
    echo "build-libs: $core: $LIB ($(stat -c %s "$LIB") B archive; members $TOTAL before --gc-sections)"
    echo "  kernels: $KSET"
    echo "  needs:   $NEEDS"
    SUMMARY+=("$(printf '%-14s %-26s %-36s %s' "$core" "$TARGET" "$KSET" "$TOTAL")")
done

echo "build-libs: summary (llvm-size -t of each archive, all members; a firmware links only what it uses)"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
