#!/usr/bin/env python3
"""Fits `dynq sim`'s calibrated instruction model of one kernel set on one core (targets/targets.json
"instructions") to the per-layer QEMU benchmark, and its per-op overhead and element-wise cost to a QEMU run of
ANOTHER model than the fixture (fixtures/fmnist_perlayer, quantized), so that the fixture stays a validation.

    python3 scripts/sim-calibrate.py --set dsp --layers targets/calibration/qemu-layers-m4.log \
        --ops targets/calibration/qemu-perlayer-m4-cortex-m-dsp.log --ops-json targets/calibration/perlayer-ops.json \
        --source "scripts/qemu-layers.sh on QEMU mps2-an386 Cortex-M4" --write-target cortex-m4
    python3 scripts/sim-calibrate.py --set helium --layers targets/calibration/qemu-layers-m55.log \
        --ops targets/calibration/qemu-perlayer-m55-helium.log --ops-json targets/calibration/perlayer-ops.json \
        --source "scripts/qemu-layers.sh --core m55 on QEMU mps3-an547 Cortex-M55" --write-target cortex-m55

--layers: the `result:` lines of scripts/qemu-layers.sh (its .build-qemu/layers-CORE/run.log): one call of each
kernel on issue 13's layers plus the fixture's other shapes, fusions, adds and pools.
--ops: a scripts/qemu-run.sh log (per-op instructions of one inference) of the calibration model; --ops-json: its
per-op work (`dynq sim MODEL --target cortex-m4 --json`: class, table lookups, element ops, adds).
Prints the "instructions" object for targets.json (per class: least-squares fit, each with its source) and, per
layer, the fit's error. Units are KernelWork's (firmware-sim/KernelWork.swift): mac = outputs·K (an add's and a
pool's elements), output = output elements (a pool's channels), channel = a fusion's output channels, call = 1.
"""
import argparse, json, sys
import numpy as np
from targets_file import replace_target_object

# Layer name -> (class, units). Shapes as in firmware-sim/qemu/layers.swift.embedded.
def conv(h, ci, co, k, stride=1, pad=0):
    ho = (h + 2 * pad - k) // stride + 1
    out = ho * ho * co
    return {"mac": out * k * k * ci, "output": out, "weight": co * k * k * ci, "call": 1}
def dw(h, c, stride):
    ho = (h + 2 - 3) // stride + 1
    out = ho * ho * c
    inside = lambda o: o * stride - 1 >= 0 and o * stride + 1 <= h - 1
    edge = sum(1 for y in range(ho) for x in range(ho) if not (inside(y) and inside(x))) * c
    return {"mac": out * 9, "output": out, "edge": edge, "channel": c, "input": (h + 2) * (h + 2) * c, "call": 1}
def fc(f, o): return {"mac": f * o, "output": o, "call": 1}
def fusion(o, k, g=4): return {"mac": g * o * k, "channel": o, "call": 1}

STEM = {"dsp": "conv3x3@im2colElements", "helium": "conv3x3@stem"}
LAYERS = {
    "conv3x3_16_32_14": ("conv3x3", conv(14, 16, 32, 3, pad=1)),
    "conv3x3_32_32_14": ("conv3x3", conv(14, 32, 32, 3, pad=1)),
    "stem3x3_1_16_28": ("stem", conv(28, 1, 16, 3, pad=1)),
    "dw3x3_32_14_s2": ("depthwise", dw(14, 32, 2)),
    "dw3x3_32_14_s1": ("depthwise", dw(14, 32, 1)),
    "dw3x3_16_28_s2": ("depthwise", dw(28, 16, 2)),
    "dw3x3_48_7_s1": ("depthwise", dw(7, 48, 1)),
    "conv1x1_32_48_7": ("conv1x1", conv(7, 32, 48, 1)),
    "conv1x1_16_32_14": ("conv1x1", conv(14, 16, 32, 1)),
    "conv1x1_48_48_7": ("conv1x1", conv(7, 48, 48, 1)),
    "fc_48_10": ("linear", fc(48, 10)),
    "cpm0_fc1_16_16": ("linear", fc(16, 16)), "cpm0_fc2_16_192": ("linear", fc(16, 192)),
    "cpm1_fc1_32_16": ("linear", fc(32, 16)), "cpm1_fc2_16_256": ("linear", fc(16, 256)),
    "cpm2_fc1_32_16": ("linear", fc(32, 16)), "cpm2_fc2_16_320": ("linear", fc(16, 320)),
    "cpm3_fc1_48_16": ("linear", fc(48, 16)), "cpm3_fc2_16_384": ("linear", fc(16, 384)),
    "fuse_dw_16x9": ("fusion_depthwise", fusion(16, 9)),
    "fuse_dw_32x9_s1": ("fusion_depthwise", fusion(32, 9)),
    "fuse_dw_32x9_s2": ("fusion_depthwise", fusion(32, 9)),
    "fuse_dw_48x9": ("fusion_depthwise", fusion(48, 9)),
    "fuse_1x1_16_32": ("fusion_conv", fusion(32, 16)),
    "fuse_3x3_32_32": ("fusion_conv", fusion(32, 288)),
    "fuse_1x1_32_48": ("fusion_conv", fusion(48, 32)),
    "fuse_1x1_48_48": ("fusion_conv", fusion(48, 48)),
    "add_14x14x32": ("add", {"mac": 14 * 14 * 32, "call": 1}),
    "add_7x7x48": ("add", {"mac": 7 * 7 * 48, "call": 1}),
    "gap_28x28x16": ("global_avgpool", {"mac": 28 * 28 * 16, "output": 16, "call": 1}),
    "gap_14x14x32": ("global_avgpool", {"mac": 14 * 14 * 32, "output": 32, "call": 1}),
    "gap_7x7x48": ("global_avgpool", {"mac": 7 * 7 * 48, "output": 48, "call": 1}),
}
# The terms each class is fitted with. Depthwise layers all have K = 9 (mac = 9·output), so they get mac, the
# outputs at the padding (border pixels run tap by tap) and the channels (weights widened per channel quad);
# a fusion's channel term is its per-channel division work; the stem is one layer, so one term.
TERMS = {"conv3x3": ["mac", "output"], "stem": ["mac"], "depthwise": ["mac", "edge", "channel"],
         "conv1x1": ["mac", "output"], "linear": ["mac", "output", "call"],
         "fusion_conv": ["mac", "channel", "call"], "fusion_depthwise": ["mac", "call"],
         "add": ["mac", "call"], "global_avgpool": ["mac", "output", "call"]}
# Per set: Helium's depthwise fills a row cache padded with z_in (input term), its convs sum each channel's
# weights per call to fold the zero point into the bias (weight term).
TERMS_BY_SET = {"helium": {"depthwise": ["mac", "input"], "conv1x1": ["mac", "output", "weight"]}}
FIELD = {"mac": "per_mac", "output": "per_output", "edge": "per_edge_output", "channel": "per_channel",
         "input": "per_input", "weight": "per_weight", "call": "per_call"}


def nnls_fit(rows, ys, terms):
    """Least squares on `terms`; a term whose coefficient comes out negative is dropped and the fit redone."""
    terms = list(terms)
    while True:
        a = np.array([[r.get(t, 0) for t in terms] for r in rows], dtype=float)
        coef, *_ = np.linalg.lstsq(a, np.array(ys, dtype=float), rcond=None)
        if (coef >= 0).all() or len(terms) == 1:
            return dict(zip(terms, np.maximum(coef, 0)))
        terms.pop(int(np.argmin(coef)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True, help="the set's name in the layers log: dsp or helium")
    ap.add_argument("--layers", required=True)
    ap.add_argument("--ops")
    ap.add_argument("--ops-json")
    ap.add_argument("--source", default="", help="the command that measured --layers, for the sources")
    ap.add_argument("--write-target", help="write the fit into this target's \"instructions\" in --targets")
    ap.add_argument("--targets", default="targets/targets.json")
    args = ap.parse_args()

    results = {}
    for line in open(args.layers):
        f = line.split()
        if f[:1] == ["result:"] and f[2] == args.set:
            kv = dict(zip(f[3::2], f[4::2]))
            results[f[1]] = int(kv["instructions"]) / int(kv["reps"])
    if not results:
        sys.exit(f"no result lines of set {args.set} in {args.layers}")
    by_class = {}
    for name, n in results.items():
        cls, units = LAYERS[name]
        by_class.setdefault(cls, []).append((name, units, n))
    model = {}
    print(f"per-layer fit, set {args.set} ({args.layers}):", file=sys.stderr)
    for cls, items in by_class.items():
        terms = TERMS_BY_SET.get(args.set, {}).get(cls, TERMS[cls])
        coef = nnls_fit([u for _, u, _ in items], [n for *_, n in items], terms)
        key = STEM.get(args.set, "conv3x3@stem") if cls == "stem" else cls
        names = ", ".join(n for n, *_ in items)
        entry = {FIELD[t]: round(float(v), 4) for t, v in coef.items()}
        errors = []
        for name, u, n in items:
            est = sum(coef[t] * u.get(t, 0) for t in coef)
            errors.append(100 * (est - n) / n)
            print(f"  {key:<24} {name:<18} measured {n:>10.0f}  fit {est:>10.0f}  {errors[-1]:+6.1f} %", file=sys.stderr)
        entry["source"] = (f"least-squares fit of {', '.join(FIELD[t] for t in coef)} to the {args.set} set's "
                           f"instructions per call on {names} ({args.source or args.layers}; "
                           f"python3 scripts/sim-calibrate.py); fit error {min(errors):+.1f}..{max(errors):+.1f} %")
        model[key] = entry

    if args.ops and args.ops_json:
        # Per-op overhead and element-wise cost, from another model's whole-network run: every op's measured
        # instructions minus the per-layer model's, fitted as op.per_call (all ops but dynamic convs, whose
        # fusions the calibration model does differently) + elementwise.per_mac × element work (element-wise ops).
        ops = []
        for line in open(args.ops):
            if line.startswith("op "):
                name = line.split("'")[1]
                ops.append((name, int(line.split("'")[2].split()[1])))
        layers = json.load(open(args.ops_json))["layers"]
        assert [l["name"] for l in layers] == [n for n, _ in ops], "the --ops log and --ops-json are of different models"
        # Residual of each op: measured minus what the per-layer model prices (element-wise kinds: all of it).
        by_kind = {}
        for (name, n), l in zip(ops, layers):
            kind, known, elements = l["kind"], 0.0, None
            if kind == "linear":
                c = model["linear"]
                known = (c.get("per_mac", 0) * (l["conv_macs"] + l["cpm_macs"]) + c.get("per_output", 0)
                         * l["requantizations"] + c.get("per_call", 0))
            elif kind == "conv2d" and l["class"] == "conv3x3" and l["model_bytes"] < 512:
                # the 1-channel stem (fewer than 512 bytes of weights, bias, multipliers): the chooser's element-wise im2col variant
                known = model[STEM.get(args.set, "conv3x3@stem")]["per_mac"] * l["nominal_macs"]
            elif kind == "global_avgpool":
                c = model["global_avgpool"]
                known = (c.get("per_mac", 0) * l["adds"] + c.get("per_output", 0) * l["requantizations"]
                         + c.get("per_call", 0))
            elif kind == "add":
                c = model["add"]
                known = c.get("per_mac", 0) * l["activation_bytes_written"] + c.get("per_call", 0)
            elif l["class"] == "elementwise":
                elements = l["table_lookups"] + l["element_ops"] + l["adds"]
            else:
                continue        # dynamic convs (their fusion mode may differ from the fixture's) and other convs
            by_kind.setdefault(kind, []).append((name, n, known, elements))
        overheads = {}
        for kind, items in by_kind.items():
            ys = [n - known for _, n, known, _ in items]
            els = [e for *_, e in items]
            if els[0] is not None and len(set(els)) > 1:
                coef = nnls_fit([{"call": 1, "el": e} for e in els], ys, ["call", "el"])
            elif els[0] is not None and els[0] >= 256:
                # one element count only, and a large one: the work dominates, priced per element
                coef = {"el": sum(ys) / sum(els)}
            else:
                coef = {"call": sum(ys) / len(ys)}
            names = ", ".join(n for n, *_ in items)
            if "call" in coef:
                overheads[kind] = float(coef["call"])
                model["op@" + kind] = {
                    "per_call": round(float(coef["call"]), 1),
                    "source": f"{kind} ops of another model ({args.ops}: {names}): measured instructions minus the "
                              f"per-layer model's, per op (the interpreter's per-op work; python3 "
                              f"scripts/sim-calibrate.py)"}
            if els[0] is not None and "el" not in coef:
                # an element-wise kind priced per call: its element work is in op@kind
                coef["el"] = 0.0
            if "el" in coef:
                model["elementwise@" + kind] = {
                    "per_mac": round(float(coef["el"]), 3),
                    "source": f"{kind} ops of another model ({args.ops}: {names}): instructions per element of "
                              f"work{' beyond the per-op intercept' if 'call' in coef else ''} (python3 "
                              f"scripts/sim-calibrate.py)"}
            for name, n, known, e in items:
                est = known + coef.get("call", 0) + coef.get("el", 0) * (e or 0)
                print(f"  op {name:<28} {kind:<16} measured {n:>8}  model {est:>9.0f}  {100 * (est - n) / n:+6.1f} %",
                      file=sys.stderr)
        med = float(np.median(list(overheads.values())))
        model["op"] = {"per_call": round(med, 1),
                       "source": f"median of the per-op overheads of the kinds above ({', '.join(sorted(overheads))}), "
                                 f"for kinds the calibration model lacks ({args.ops})"}
        if "conv2d" in overheads:
            model["op@dynamic_conv2d"] = {
                "per_call": round(overheads["conv2d"], 1),
                "source": f"as op@conv2d: the calibration model's dynamic convs use per-layer coefficients, the "
                          f"per-layer benchmark's fusions per-channel ones, so they are not fitted ({args.ops})"}
        el = [v["per_mac"] for k, v in model.items() if k.startswith("elementwise@")]
        model["elementwise"] = {"per_mac": round(max(el) if el else 0, 3),
                                "source": "element-wise op kinds the calibration model lacks: the largest per-element "
                                          "cost of the kinds it has (python3 scripts/sim-calibrate.py)"}
    if args.write_target:
        write_target(args.targets, args.write_target, model)
        print(f"wrote the instructions of {args.write_target} in {args.targets}", file=sys.stderr)
    else:
        print(json.dumps(model, indent=2))


def write_target(path, name, model):
    """Replaces target `name`'s "instructions" object in the targets file, one line per class (text edit: the
    rest of the hand-formatted file stays as it is)."""
    order = ["conv3x3", "conv3x3@im2colElements", "conv3x3@stem", "depthwise", "conv1x1", "linear", "fusion_conv",
             "fusion_depthwise", "add", "global_avgpool", "elementwise"]
    keys = [k for k in order if k in model] + sorted(k for k in model if k.startswith("elementwise@")) + ["op"] \
        + sorted(k for k in model if k.startswith("op@"))
    lines = []
    for k in keys:
        e = model[k]
        nums = ", ".join(f'"{f}": {e[f]}' for f in e if f != "source")
        lines.append(f'        {json.dumps(k) + ":":<28} {{ {nums}, "source": {json.dumps(e["source"])} }}')
    replace_target_object(path, name, "instructions", lines)


if __name__ == "__main__":
    main()
