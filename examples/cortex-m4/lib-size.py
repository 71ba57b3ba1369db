#!/usr/bin/env python3
"""How many bytes of a linked image come from one library: sums the input sections of LIBRARY (a file name such
as libdynq-cortex-m4.a) in a linker map, by kind (text, rodata, data, bss, exidx). Reads ld.lld maps and GNU ld
maps (only the part after "Linker script and memory map": GNU ld lists the discarded sections before it).

    python3 lib-size.py build/cortex-m4-clang/firmware.map libdynq-cortex-m4.a
"""
import re
import sys


def kind(section):
    for prefix, name in ((".text", "text"), (".rodata", "rodata"), (".data", "data"), (".got", "data"),
                         (".bss", "bss"), (".ARM.exidx", "exidx"), (".ARM.extab", "exidx")):
        if section.startswith(prefix):
            return name
    return "other"


def sizes(path, library):
    lines = open(path).read().splitlines()
    totals = {}
    gnu = any(l.startswith("Linker script and memory map") for l in lines)
    if gnu:
        lines = lines[next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map")):]
        previous = ""
        for line in lines:
            m = re.match(r"^ (\S+)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$", line)
            if m and library + "(" in m.group(3):
                section = m.group(1) or previous.strip()
                k = kind(section)
                totals[k] = totals.get(k, 0) + int(m.group(2), 16)
            previous = line
    else:  # ld.lld: VMA LMA Size Align Out/In/Symbol, input sections as "path(member):(section)"
        for line in lines:
            parts = line.split(None, 4)
            if len(parts) == 5 and library + "(" in parts[4]:
                m = re.search(r":\((\S+)\)$", parts[4])
                k = kind(m.group(1) if m else "")
                totals[k] = totals.get(k, 0) + int(parts[2], 16)
    return totals


if __name__ == "__main__":
    t = sizes(sys.argv[1], sys.argv[2])
    print(", ".join(f"{k} {t.get(k, 0)}" for k in ("text", "rodata", "data", "bss", "exidx")))
