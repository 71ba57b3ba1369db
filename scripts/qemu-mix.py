#!/usr/bin/env python3
"""Instruction mix and cycles per instruction of each op of a scripts/qemu-run.sh image, from QEMU's execution trace.

    python3 scripts/qemu-mix.py --core m4  --image .build-qemu/dsp-m4/image.elf     --log .build-qemu/dsp-m4/run.log
    python3 scripts/qemu-mix.py --core m55 --image .build-qemu/helium-m55/image.elf --log .build-qemu/helium-m55/run.log \
        --ops-json targets/calibration/perlayer-ops.json

Runs the image again under QEMU with `-d in_asm,exec,nochain` (every translated block's address range and every
execution of a block, in order), streamed through a FIFO, never stored; the instructions of a block are those of
`llvm-objdump -d --mcpu=CPU` of the image in that range (QEMU's own disassembler does not decode MVE).
The firmware's third, profiled invoke() reads the timer (`dynq_timer_ticks`) before and after every op; the pair
of reads whose instruction count matches each op line of --log delimits that op. Every executed instruction of an
op is classed by its mnemonic and priced with the core's timing model (TIMING below, each figure with its source),
with the two rules a trace can see: a load or store single right after another costs its pipelined figure, and a
branch at the end of a block is taken when the next block does not start right after it.

Prints, per op: instructions (equal to the log's within the timer's resolution), cycles, CPI, the share of loads,
stores, multiplies, branches and vector instructions; then the CPI per cost class of `dynq sim` (--ops-json: the
per-op classes of `dynq sim MODEL --json`), which is what targets/targets.json's "cpi" records.
"""
import argparse, bisect, json, os, re, subprocess, sys, tempfile
from targets_file import replace_target_object

BOARDS = {"m4": "mps2-an386", "m55": "mps3-an547"}

# Cycles per instruction class. m4: Arm Cortex-M4 Processor Technical Reference Manual (r0p1), section 3.3.1,
# Table 3-1 "Cortex-M4 instruction set summary" (P = pipeline refill, 1-3 cycles: 2 taken here; loads/stores
# single: 2, or 1 when they follow another load/store single, "neighboring load and store single instructions can
# pipeline their address and data phases"; LDM/STM/PUSH/POP 1 + N; SDIV/UDIV 2-12, early termination: 7 here).
# m55: Arm Cortex-M55 Technical Reference Manual and Software Optimization Guide, approximated: scalar
# single-issue, ALU and multiply 1, TCM loads/stores 1 (pipelined), LDM/STM/PUSH/POP 1 + N/2 (64-bit data path),
# taken branch 1 + 2, LE/LETP of a low-overhead loop 0 when it loops (the loop is replayed from the loop cache);
# MVE: a 128-bit vector instruction is 4 beats, 2 beats per cycle (dual-beat): 2 cycles, 1 when it follows an MVE
# instruction of the other kind (memory vs arithmetic), which it overlaps; gathers/scatters 1 cycle per 32-bit
# beat pair element group: 4.
TIMING = {
    "m4": dict(alu=1, mul=1, div=7, load=2, load_pipelined=1, store=2, store_pipelined=1, dual=3, multi_base=1,
               multi_per_reg=1.0, branch=1, branch_taken=3, lob_loop=1, lob_exit=1, mve=2, mve_overlap=1, gather=4),
    "m55": dict(alu=1, mul=1, div=7, load=1, load_pipelined=1, store=1, store_pipelined=1, dual=1, multi_base=1,
                multi_per_reg=0.5, branch=1, branch_taken=3, lob_loop=0, lob_exit=1, mve=2, mve_overlap=1, gather=4),
}
# No m7 entry: the Cortex-M7 dual-issues and predicts branches, which this single-issue pricing does not model.

BRANCHES = {"b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh"}
CONDS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}
MULS = re.compile(r"^(mul|mla|mls|smul|smla|smls|smua|smus|smmu|smml|umul|umla|umaa)")
LOB = {"le", "letp", "wls", "wlstp", "dls", "dlstp", "lctp"}


def klass(mn, ops):
    """(class, registers moved) of one instruction (capstone mnemonic and operands)."""
    m = mn.split(".")[0]
    if m in LOB:
        return "lob", 0
    if m.startswith("v"):
        if m.startswith(("vldr", "vstr", "vld2", "vld4", "vst2", "vst4")):
            return ("gather" if re.search(r"\[\w+, q\d+", ops) else "mve_mem"), 0
        return "mve_alu", 0
    if m in ("push", "pop") or m.startswith(("ldm", "stm")):
        regs = 0
        body = ops[ops.find("{") + 1: ops.find("}")] if "{" in ops else ""
        for part in body.split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                regs += abs(int(re.sub(r"\D", "", b) or 0) - int(re.sub(r"\D", "", a) or 0)) + 1
            elif part:
                regs += 1
        pc = "pc" in body
        return ("multi_pc" if pc and (m == "pop" or m.startswith("ldm")) else "multi"), regs
    if m in ("ldrd", "strd"):
        return "dual", 0
    if m.startswith("ldr"):
        return ("load_pc" if ops.split(",")[0].strip() == "pc" else "load"), 0
    if m.startswith("str"):
        return "store", 0
    if m in ("sdiv", "udiv"):
        return "div", 0
    if MULS.match(m):
        return "mul", 0
    if m in BRANCHES or (m.startswith("b") and m[1:] in CONDS) or (m.startswith("bl") and m[2:] in CONDS) \
            or (m == "bx" or m.startswith("bx")):
        return "branch", 0
    if m in ("mov", "add") and ops.split(",")[0].strip() == "pc":
        return "branch", 0
    return "alu", 0


def price(block, next_pc, t, prev):
    """Cycles of one execution of a block; `prev` is the class of the instruction before it (updated)."""
    cycles = 0.0
    for i, (pc, size, cls, regs) in enumerate(block):
        last = i == len(block) - 1
        taken = last and next_pc is not None and next_pc != pc + size
        if cls == "load":
            c = t["load_pipelined"] if prev in ("load", "store") else t["load"]
        elif cls == "store":
            c = t["store_pipelined"] if prev in ("load", "store") else t["store"]
        elif cls == "load_pc":
            c = t["load"] + t["branch_taken"] - 1
        elif cls == "dual":
            c = t["dual"]
        elif cls == "multi":
            c = t["multi_base"] + t["multi_per_reg"] * regs
        elif cls == "multi_pc":
            c = t["multi_base"] + t["multi_per_reg"] * regs + t["branch_taken"] - 1
        elif cls == "branch":
            c = t["branch_taken"] if taken else t["branch"]
        elif cls == "lob":
            c = t["lob_loop"] if taken else t["lob_exit"]
        elif cls == "mul":
            c = t["mul"]
        elif cls == "div":
            c = t["div"]
        elif cls == "gather":
            c = t["gather"]
        elif cls in ("mve_mem", "mve_alu"):
            other = "mve_alu" if cls == "mve_mem" else "mve_mem"
            c = t["mve_overlap"] if prev == other else t["mve"]
        else:
            c = t["alu"]
        cycles += c
        prev = cls
    return cycles, prev


GROUPS = {"load": "load", "load_pc": "load", "dual": "load", "store": "store", "multi": "load", "multi_pc": "load",
          "mul": "mul", "div": "mul", "branch": "branch", "lob": "branch", "mve_mem": "vector", "mve_alu": "vector",
          "gather": "vector", "alu": "alu"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--core", required=True, choices=sorted(TIMING))
    ap.add_argument("--image", required=True)
    ap.add_argument("--log", required=True, help="the run.log of the same image (per-op instruction counts)")
    ap.add_argument("--ops-json", help="`dynq sim MODEL --json` of the same model: per-class CPI")
    ap.add_argument("--qemu", default="qemu-system-arm")
    ap.add_argument("--json", action="store_true", help="print the per-op and per-class figures as JSON")
    ap.add_argument("--write-target", help="write the per-class CPI into this target's \"cpi\" in --targets")
    ap.add_argument("--targets", default="targets/targets.json")
    args = ap.parse_args()
    t = TIMING[args.core]

    ops = []
    for line in open(args.log):
        if line.startswith("op "):
            ops.append((line.split("'")[1], line.split()[2], int(line.split("'")[2].split()[1])))

    # The image's instructions: address -> (address, size, class, registers moved).
    objdump = os.environ.get("OBJDUMP", "/opt/swift/usr/bin/llvm-objdump")
    cpu = {"m4": "cortex-m4", "m55": "cortex-m55"}[args.core]
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", f"--mcpu={cpu}", args.image], check=True,
                          capture_output=True, text=True).stdout
    entries = []
    for line in text.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s+\t(\S+)\t?(.*)$", line)
        if m:
            entries.append((int(m.group(1), 16), m.group(2), m.group(3)))
    listing = {}
    for i, (a, mn, ops_) in enumerate(entries):
        size = entries[i + 1][0] - a if i + 1 < len(entries) and 0 < entries[i + 1][0] - a <= 4 else 4
        cls, regs = klass(mn, ops_)
        listing[a] = (a, size, cls, regs)
    addresses = sorted(listing)

    tmp = tempfile.mkdtemp()
    fifo = os.path.join(tmp, "trace")
    os.mkfifo(fifo)
    cmd = [args.qemu, "-M", BOARDS[args.core], "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", args.image,
           "-d", "in_asm,exec,nochain", "-D", fifo]
    proc = subprocess.Popen(["nice", "-n", "10"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    blocks = {}          # host TB address -> [(pc, size, class, regs)]
    pending = None       # the block just translated, waiting for its first execution line
    reading = None
    # Per timer read: (instructions, cycles, group counts) accumulated since the previous read.
    segments = []
    cur = [0, 0.0, {}]
    prev_cls = "alu"
    last_block = None
    timer_entry = None
    with open(fifo) as f:
        for line in f:
            if line.startswith("Trace "):
                if reading is not None:
                    pending, reading = reading, None
                m = line.split()
                host = m[2]
                pc = int(m[3].split("/")[1], 16)
                sym = m[4] if len(m) > 4 else ""
                if pending is not None and pending and pending[0] == pc:
                    lo = bisect.bisect_left(addresses, pending[0])
                    hi = bisect.bisect_left(addresses, pending[1])
                    blocks[host] = [listing[a] for a in addresses[lo:hi]]
                    pending = None
                block = blocks.get(host)
                if last_block is not None:
                    c, prev_cls = price(last_block, pc, t, prev_cls)
                    cur[0] += len(last_block)
                    cur[1] += c
                    for (_, _, cls, _) in last_block:
                        g = GROUPS[cls]
                        cur[2][g] = cur[2].get(g, 0) + 1
                if sym == "dynq_timer_ticks" and timer_entry is None:
                    timer_entry = pc            # the function's first executed block is its entry
                if pc == timer_entry:
                    segments.append(cur)
                    cur = [0, 0.0, {}]
                last_block = block
            elif line.startswith("IN:"):
                reading = []
            elif reading is not None and line.startswith("0x"):
                # QEMU's disassembler does not know MVE (it prints `.byte` per halfword): only the block's
                # extent is taken from it; its instructions come from llvm-objdump's listing of the image.
                head, _, rest = line.partition(":")
                hexes = re.findall(r"\b[0-9a-f]{4}\b", rest.split("  ")[0] if "  " in rest else rest)[:2]
                addr, size = int(head, 16), 2 * max(len(hexes), 1)
                if not reading:
                    reading = [addr, addr + size]
                else:
                    reading[1] = max(reading[1], addr + size)
    proc.wait()
    os.unlink(fifo)
    os.rmdir(tmp)

    # The profiled run: the 2·N consecutive timer reads whose enclosed counts match the log's per-op counts.
    n = len(ops)
    inside = [s for s in segments]
    start = None
    for j in range(len(inside) - 2 * n + 1):
        if all(abs(inside[j + 1 + 2 * i][0] - ops[i][2]) <= max(400, ops[i][2] // 100) for i in range(n)):
            start = j
    if start is None:
        sys.exit("qemu-mix: no run of timer reads matches the log's per-op counts (another image?)")
    per_op = [inside[start + 1 + 2 * i] for i in range(n)]

    classes = None
    if args.ops_json:
        layers = json.load(open(args.ops_json))["layers"]
        assert [l["name"] for l in layers] == [o[0] for o in ops], "--ops-json is of another model"
        classes = [l["kind"] if l["kind"] in ("add", "global_avgpool") else
                   l["class"] if l["class"] != "elementwise" else "elementwise@" + l["kind"] for l in layers]
        # ops with a chooser answer also count under class@variant (e.g. conv3x3@stem beside conv3x3)
        variants = [c + "@" + l["variant"] if l.get("variant") and l["class"] != "elementwise" else None
                    for c, l in zip(classes, layers)]
    rows = []
    for i, ((name, kind, logged), (ins, cyc, groups)) in enumerate(zip(ops, per_op)):
        rows.append(dict(name=name, kind=kind, logged=logged, instructions=ins, cycles=round(cyc),
                         cpi=round(cyc / ins, 4) if ins else 0, cls=classes[i] if classes else kind,
                         mix={g: round(v / ins, 3) for g, v in sorted(groups.items())} if ins else {}))
    by_class = {}
    for i, r in enumerate(rows):
        for key in [r["cls"]] + ([variants[i]] if classes and variants[i] else []):
            c = by_class.setdefault(key, [0, 0.0])
            c[0] += r["instructions"]; c[1] += r["cycles"]
    total_i = sum(r["instructions"] for r in rows); total_c = sum(r["cycles"] for r in rows)
    if args.write_target:
        write_cpi(args.targets, args.write_target, by_class, total_i, total_c, args)
        return
    if args.json:
        print(json.dumps(dict(core=args.core, ops=rows, classes={k: dict(instructions=v[0], cycles=round(v[1]),
              cpi=round(v[1] / v[0], 4)) for k, v in by_class.items()}, total=dict(instructions=total_i,
              cycles=round(total_c), cpi=round(total_c / total_i, 4))), indent=1))
        return
    print(f"{'op':<28} {'kind':<16} {'log':>9} {'traced':>9} {'cycles':>10} {'CPI':>6}  mix (share of instructions)")
    for r in rows:
        mix = " ".join(f"{g} {v:.2f}" for g, v in r["mix"].items())
        print(f"{r['name']:<28} {r['kind']:<16} {r['logged']:>9} {r['instructions']:>9} {r['cycles']:>10} "
              f"{r['cpi']:>6.3f}  {mix}")
    print(f"\nCPI per class ({args.core} timing model):")
    for k, (i, c) in sorted(by_class.items()):
        print(f"  {k:<18} {i:>10} instructions {c:>12.0f} cycles  CPI {c / i:.3f}")
    print(f"  {'all ops':<18} {total_i:>10} instructions {total_c:>12.0f} cycles  CPI {total_c / total_i:.3f}")


def write_cpi(path, name, by_class, total_i, total_c, args):
    """Replaces target `name`'s "cpi" object (text edit, one line per class)."""
    what = (f"the {args.core} timing model of scripts/qemu-mix.py (TIMING, from the core's Technical Reference Manual) "
            f"over QEMU's execution trace of the ops of the calibration model, not the fixture ({args.log}; the image "
            f"scripts/qemu-run.sh targets/calibration/perlayer.dynq --first-image fixtures/fmnist/test_images.npy "
            f"builds; python3 scripts/qemu-mix.py --core {args.core} --image IMAGE --log {args.log} --ops-json "
            f"{args.ops_json} --write-target NAME)")
    lines = [f'        {json.dumps("default") + ":":<28} {{ "value": {total_c / total_i:.3f}, "source": '
             f'{json.dumps(f"cycles / instructions of all {total_i} traced instructions of its ops under " + what)} }}']
    for k, (i, c) in sorted(by_class.items()):
        lines.append(f'        {json.dumps(k) + ":":<28} {{ "value": {c / i:.3f}, "source": '
                     f'{json.dumps(f"cycles / instructions of its {k} ops ({i} instructions) under " + what)} }}')
    replace_target_object(path, name, "cpi", lines)
    print(f"wrote the cpi of {name} in {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
