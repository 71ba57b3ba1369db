#!/usr/bin/env bash
# Builds the DynQ C library (include/dynq.h) as static libraries, one per core, each with one kernel set:
#
#   scripts/build-libs.sh                    # every core below
#   scripts/build-libs.sh cortex-m4 host     # only these
#
#   core           swift target               cpu / float ABI               kernel set (-D DYNQ_KERNELS_)  library
#   cortex-m0plus  armv6m-none-none-eabi      cortex-m0plus, soft           SCALAR                         libdynq-cortex-m0plus.a
#   cortex-m4      armv7em-none-none-eabi     cortex-m4, soft               CORTEX_M_DSP, else SCALAR (*)  libdynq-cortex-m4.a
#   cortex-m4f     armv7em-none-none-eabi     cortex-m4, hard (fpv4-sp-d16) CORTEX_M_DSP, else SCALAR (*)  libdynq-cortex-m4f.a
#   cortex-m55     armv7em-none-none-eabi     cortex-m55, softfp (**)       HELIUM, else SCALAR (*)        libdynq-cortex-m55.a
#   cortex-a53     aarch64-none-none-elf      cortex-a53                    NEON, else SIMD128 (*)         libdynq-cortex-a53.a
#   host           x86_64-unknown-linux-gnu   (default)                     SIMD128                        libdynq-host.a
#   cortex-m3      armv7em-none-none-eabi     cortex-m3, soft               SCALAR                         libdynq-cortex-m3.a
#                  (on request only: `scripts/build-libs.sh cortex-m3`; the M4 libraries use DSP instructions)
#   (*) a core's own set is used when its type is in Sources/DynQCore (CortexMDSPKernels, HeliumKernels,
#       NEONKernels: issue 13); until then the library is built with the fallback set and the script says so.
#       dynq_kernel_set() returns the set a library runs; Sources/DynQFirmware/KernelSelection.swift maps the flag.
#   (**) -mfloat-abi=soft turns MVE off in clang (no __ARM_FEATURE_MVE: the Helium set would run its portable C
#       models); softfp keeps MVE and the soft-float calling convention, so the library links with soft-float code.
# The float ABI only matters to the linker (the library has no floating point): GNU ld refuses to mix objects
# built with -mfloat-abi=hard and soft, so a project compiled with -mfloat-abi=hard links libdynq-cortex-m4f.a.
#
# Each library is Sources/DynQCore + Sources/DynQFirmware compiled as ONE Embedded Swift module (-wmo, -O,
# -function-sections), then pre-linked into one relocatable object (ld.lld -r --gc-sections with every dynq_*
# function of include/dynq.h as a root: only the code the API reaches stays) whose only global symbols are the
# dynq_* functions (llvm-objcopy --keep-global-symbols): nothing else of Swift's leaks into the firmware's symbol
# space, and a firmware links it with or without --gc-sections. Embedded Swift needs no runtime library. The
# script reports what a firmware must provide ("needs": the object's undefined symbols) and how much code and
# data it gets ("linked": a probe that takes the address of every dynq_* function, linked with ld.lld).
# Output: $OUT/libdynq-<core>.a (default OUT=.build-libs), cached by a hash of the sources and flags.
# Environment: OUT, SWIFT_BIN (/opt/swift/usr/bin), OPT (-O or -Osize), KERNELS_<core>=SCALAR|SIMD128|CORTEX_M_DSP|HELIUM|NEON
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

ALL=(cortex-m0plus cortex-m4 cortex-m4f cortex-m55 cortex-a53 host)
CORES=("$@"); [ ${#CORES[@]} -gt 0 ] || CORES=("${ALL[@]}")

# core -> "swift-target clang-target cpu float-abi kernel-set fallback-set"
spec() {
    case "$1" in
        cortex-m0plus) echo "armv6m-none-none-eabi arm-none-eabi cortex-m0plus soft SCALAR SCALAR" ;;
        cortex-m3)     echo "armv7em-none-none-eabi arm-none-eabi cortex-m3 soft SCALAR SCALAR" ;;   # no armv7m stdlib: the CPU sets the ISA
        cortex-m4)     echo "armv7em-none-none-eabi arm-none-eabi cortex-m4 soft CORTEX_M_DSP SCALAR" ;;
        cortex-m4f)    echo "armv7em-none-none-eabi arm-none-eabi cortex-m4 hard CORTEX_M_DSP SCALAR" ;;
        cortex-m55)    echo "armv7em-none-none-eabi arm-none-eabi cortex-m55 softfp HELIUM SCALAR" ;;   # soft: no MVE
        cortex-a53)    echo "aarch64-none-none-elf aarch64-none-elf cortex-a53 - NEON SIMD128" ;;
        host)          echo "x86_64-unknown-linux-gnu x86_64-unknown-linux-gnu - - SIMD128 SIMD128" ;;
        *) return 1 ;;
    esac
}
# kernel-set flag -> the Swift type of the set (KernelSelection.swift's typealias); present = defined in DynQCore.
set_type() {
    case "$1" in
        SCALAR) echo ScalarKernels ;; SIMD128) echo SIMD128Kernels ;; CORTEX_M_DSP) echo CortexMDSPKernels ;;
        HELIUM) echo HeliumKernels ;; NEON) echo NEONKernels ;; *) return 1 ;;
    esac
}
set_present() {
    local t; t="$(set_type "$1")" || die "unknown kernel set '$1' (known: SCALAR SIMD128 CORTEX_M_DSP HELIUM NEON)"
    grep -rqE "struct $t\b" "$ROOT/Sources/DynQCore"
}
# The C intrinsics module the DSP / Helium / NEON sets import (Sources/DynQIntrinsics), when it exists.
INTRINSICS="$ROOT/Sources/DynQIntrinsics/include"
CLANG="$SWIFT_BIN/clang"; [ -x "$CLANG" ] || CLANG="$(command -v clang)" || die "no clang"
LLD="$SWIFT_BIN/ld.lld"; [ -x "$LLD" ] || LLD="$(command -v ld.lld)" || die "no ld.lld"
OBJCOPY="$SWIFT_BIN/llvm-objcopy"; [ -x "$OBJCOPY" ] || OBJCOPY="$(command -v llvm-objcopy)" || die "no llvm-objcopy"

# The API: every function include/dynq.h declares.
mapfile -t API < <(sed -n 's/^[a-z][a-z_ *]*[ *]\(dynq_[a-z0-9_]*\)(.*/\1/p' "$ROOT/include/dynq.h" | sort -u)
[ ${#API[@]} -ge 10 ] || die "found only ${#API[@]} functions in include/dynq.h"
mapfile -t SOURCES < <( { find "$ROOT/Sources/DynQCore" -name '*.swift'; find "$ROOT/Sources/DynQFirmware" -name '*.swift'; } | LC_ALL=C sort)
mkdir -p "$OUT"
SUMMARY=()

for core in "${CORES[@]}"; do
    read -r TARGET CTARGET CPU FLOAT SET FALLBACK < <(spec "$core") || die "unknown core '$core' (known: ${ALL[*]})"
    override="KERNELS_${core//-/_}"; SET="${!override:-$SET}"
    NOTE=""
    if ! set_present "$SET"; then
        [ -z "${!override:-}" ] || die "$core: KERNELS_${core//-/_}=$SET, but $(set_type "$SET") is not in Sources/DynQCore"
        NOTE=" ($SET set not in DynQCore yet)"; SET="$FALLBACK"
    fi
    FLAGS=(-target "$TARGET" -enable-experimental-feature Embedded -wmo "$OPT" -parse-as-library
           -Xfrontend -disable-stack-protector -Xfrontend -function-sections
           -module-name DynQCore -I "$ROOT/include" -D "DYNQ_KERNELS_$SET" -suppress-warnings)
    if [ -d "$INTRINSICS" ]; then FLAGS+=(-Xcc "-I$INTRINSICS"); fi
    CFLAGS=(--target="$CTARGET")
    [ "$CPU" = - ] || { FLAGS+=(-Xcc "-mcpu=$CPU"); CFLAGS+=("-mcpu=$CPU"); }
    case "$FLOAT" in
        soft) FLAGS+=(-Xcc -mfloat-abi=soft); CFLAGS+=(-mthumb -mfloat-abi=soft) ;;
        softfp) FLAGS+=(-Xcc -mfloat-abi=softfp); CFLAGS+=(-mthumb -mfloat-abi=softfp) ;;
        hard) FLAGS+=(-Xcc -mfloat-abi=hard -Xcc -mfpu=fpv4-sp-d16); CFLAGS+=(-mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16) ;;
    esac
    DIR="$OUT/$core"; LIB="$OUT/libdynq-$core.a"
    mkdir -p "$DIR"
    KEY="$( { "$SWIFTC" --version 2>&1; echo "${FLAGS[*]}"; cat "${SOURCES[@]}" "$ROOT/include/dynq.h";
              if [ -d "$INTRINSICS" ]; then cat "$INTRINSICS"/*; fi; } | sha256sum | cut -c1-16)"
    if [ -f "$DIR/swift.o" ] && [ "$(cat "$DIR/key" 2>/dev/null)" = "$KEY" ]; then
        echo "build-libs: $core: Swift object up to date"
    else
        echo "build-libs: $core: compiling ${#SOURCES[@]} files as Embedded Swift ($TARGET, cpu $CPU, float ABI $FLOAT, DYNQ_KERNELS_$SET$NOTE, $OPT)"
        rm -f "$DIR/key"
        # DynQFirmware's `import DynQCore` is ignored in the one-module build (-suppress-warnings hides the
        # "ignoring import" notes; a real warning still shows in the SwiftPM build of the same files).
        "${NICE[@]}" "$SWIFTC" "${FLAGS[@]}" -c "${SOURCES[@]}" -o "$DIR/swift.o"
        echo "$KEY" > "$DIR/key"
    fi
    # Pre-link: only what the API reaches, only the API global.
    printf '%s\n' "${API[@]}" > "$DIR/api.txt"
    "$LLD" -r --gc-sections "${API[@]/#/--undefined=}" -o "$DIR/dynq-all.o" "$DIR/swift.o"
    "$OBJCOPY" --keep-global-symbols="$DIR/api.txt" "$DIR/dynq-all.o" "$DIR/dynq.o"
    missing="$(comm -23 "$DIR/api.txt" <("$NM" --defined-only --extern-only "$DIR/dynq.o" | awk '{print $3}' | sort -u))"
    [ -z "$missing" ] || die "$core: the library does not define: $missing"
    rm -f "$LIB"
    "$AR" rcs "$LIB" "$DIR/dynq.o"
    # The probe link: every API function kept, everything else collected.
    {
        echo '#include "dynq.h"'
        echo "void *volatile dynq_probe_keep[${#API[@]}];"
        echo 'void dynq_probe_entry(void) {'
        for k in "${!API[@]}"; do echo "    dynq_probe_keep[$k] = (void *)${API[$k]};"; done
        echo '}'
    } > "$DIR/probe.c"
    "$CLANG" "${CFLAGS[@]}" -O2 -ffreestanding -I "$ROOT/include" -c "$DIR/probe.c" -o "$DIR/probe.o"
    "$LLD" --gc-sections -e dynq_probe_entry --warn-unresolved-symbols --no-pie -static -o "$DIR/probe.elf" \
        "$DIR/probe.o" "$LIB" 2> "$DIR/probe.log" || { cat "$DIR/probe.log"; die "$core: the probe link failed"; }
    NEEDS="$("$NM" --undefined-only "$DIR/dynq.o" | awk '{print $2}' | sort -u | tr '\n' ' ')"
    PROBE_UNDEFINED="$(sed -n 's/.*undefined symbol: \(.*\)/\1/p' "$DIR/probe.log" | sort -u | tr '\n' ' ')"
    [ "$PROBE_UNDEFINED" = "$NEEDS" ] || die "$core: the probe link needs '$PROBE_UNDEFINED', the object '$NEEDS'"
    LINKED="$("$SIZE" -A "$DIR/probe.elf" | awk '
        $1 ~ /^\.text/ {t += $2} $1 ~ /^\.rodata/ {r += $2} $1 ~ /^\.(data|got)/ {d += $2} $1 ~ /^\.bss/ {b += $2}
        END {printf "text %d, rodata %d, data %d, bss %d", t, r, d, b}')"
    KSET="$(echo "$SET" | tr 'A-Z' 'a-z')$NOTE"
    echo "build-libs: $core: $LIB ($(stat -c %s "$LIB") B)"
    echo "  kernels: $KSET"
    echo "  linked:  $LINKED (every dynq_* function, ld.lld --gc-sections)"
    echo "  needs:   $NEEDS"
    SUMMARY+=("$(printf '%-14s %-40s %s' "$core" "$KSET" "$LINKED")")
done

echo "build-libs: summary (code and data a firmware calling every dynq_* function links, llvm-size -A of the probe)"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
