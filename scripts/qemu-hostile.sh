#!/usr/bin/env bash
# Issue 16 on a 32-bit core: the hostile .dynq reproducers of fixtures/hostile (overflowing weight counts, trailing
# bytes) run through the Cortex-M4 firmware (scripts/qemu-run.sh, Int is 32 bits there) must be refused by the
# core's validator with a one-line reason (the same as the 64-bit host's for the validator rows 1 and 2; the host
# CLI refuses row 13 earlier, in its header-first reader, with its own words), never trap.
#
#   DYNQ=.build/release/dynq scripts/qemu-hostile.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DYNQ="${DYNQ:-$ROOT/.build/release/dynq}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
failures=0
for f in row01-conv-weight-count-overflow row02-dynamic-weight-count-overflow row13-trailing-bytes; do
    model="$ROOT/fixtures/hostile/$f.dynq"
    # The host's reason: the text after the last "): " or "FILE: ".
    host="$("$DYNQ" inspect "$model" 2>&1 >/dev/null || true)"
    reason="$(printf '%s\n' "$host" | sed -e 's/^dynq: [^ ]*: //' -e 's/^op [0-9]* ([a-z_0-9]*): //')"
    printf '\001%.0s' $(seq 16) > "$TMP/input.bin"
    rc=0; bash "$ROOT/scripts/qemu-run.sh" "$model" "$TMP/input.bin" > "$TMP/run.log" 2>&1 || rc=$?
    fw="$(sed -n 's/^error: model: //p' "$TMP/run.log" | head -1)"
    same=1; case "$f" in row13-*) ;; *) [ "$fw" = "$reason" ] || same=0 ;; esac
    if [ "$rc" -ne 0 ] && [ -n "$reason" ] && [ -n "$fw" ] && [ "$same" -eq 1 ]; then
        echo "qemu-hostile: $f: refused on the Cortex-M4: $fw (host: $reason)"
    else
        echo "qemu-hostile: $f: FAILED (exit $rc): firmware '${fw:-no error line}', host '$reason'" >&2
        tail -5 "$TMP/run.log" >&2
        failures=$((failures + 1))
    fi
done
exit "$failures"
