#!/usr/bin/env python3
"""Where an int8 model's flips come from (a diagnostic; PyTorch, never part of CI). Two studies, each counting the
images whose top-1 class differs from the float graph's ("flips") and the logits' SQNR against the float graph:

weights   The float graph with only its weights quantized the way `dynq quantize` does (activations stay float):
          every batchnorm folded into the conv in front of it; static convs, linears and the CPMs' fc1/fc2 per output
          channel symmetric int8; a dynamic conv's g kernels one scale per output channel; and, per sample, the
          fused kernel re-quantized to int8 per channel (docs/numerics.md, "Fusion"). Rounding is to nearest
          everywhere (`dynq quantize` rounds static layers adaptively, so it does a little better there).
          --part all | static (stem/convs, linears, CPM layers) | bank (the g kernels) | fused (the per-sample
          re-quantization alone) | none. --fused-dc adds, per sample and output channel, the fused kernel's
          rounding error applied to the input's channel means to the bias (a correction the runtime does not make
          today: what it would be worth).

              python3 tools/noise_study.py weights fixtures/fmnist_heldout --images IMGS.npy --count 3000 --part fused

inject    The float graph with chosen tensors replaced, image by image, by the int8 model's values (read from a
          `dynq run MODEL IMGS.npy --dump DUMP` of the same images), the rest computed in float from them. With
          --float-coefficients every CPM's coefficients come from the clean float run instead (so a tensor's
          effect on the coefficients is taken out). --float-cpm recomputes the named CPMs in float from the
          int8 model's input to them (their internal int8 rounding is taken out).

              dynq run M.dynq IMGS.npy --dump /tmp/dump
              python3 tools/noise_study.py inject fixtures/fmnist_heldout --images IMGS.npy --count 3000 \\
                  --dump /tmp/dump --tensors blocks.0.cpm,blocks.1.cpm,blocks.2.cpm

Only graph tensors the int8 model keeps under the same name can be injected (an equalized tensor is renamed
`<name>.equalized` and holds different values). IMGS.npy: uint8 pixels [N, C, H, W] (or [N, H, W]).
"""
import argparse
import copy
import inspect
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_graph as rg  # noqa: E402

# run_graph.run, seeded with a dict of tensors instead of one input, and knowing an `identity` op (a folded BN).
_src = inspect.getsource(rg.run)
_src = (_src.replace("def run(", "def run_seeded(")
        .replace('assert x.shape[0] == 1', 'pass')
        .replace('env = {doc["input"]["name"]: x}', "env = dict(x)")
        .replace('if op not in OPS:', 'if op not in OPS and op != "identity":')
        .replace('        elif op == "batchnorm":', '        elif op == "identity":\n            y = [ins[0]]\n'
                 '        elif op == "batchnorm":')
        .replace("            y = [_conv(x0, Wf, bf, n)]", "            Wq = FUSED(Wf)\n"
                 "            bf = DC_CORRECT(x0, Wf, Wq, bf, n)\n            y = [_conv(x0, Wq, bf, n)]"))
rg.FUSED = lambda w: w
rg.DC_CORRECT = lambda x0, wf, wq, bf, n: bf


def dc_correct(x0, wf, wq, bf, n):
    """--fused-dc: the bias plus the fused kernel's rounding error applied to this sample's input channel means,
    `Σ_{kh,kw,i} (F − q_f)[o, i, kh, kw] · mean(x_i)` (groups 1 and depthwise)."""
    if bf is None:
        bf = torch.zeros(wf.shape[0], dtype=wf.dtype)
    m = x0.mean(dim=(2, 3))[0]
    e = (wf - wq).sum(dim=(2, 3))                     # [O, I/groups]
    if n.get("groups", 1) == 1:
        return bf + e @ m
    if e.shape[1] == 1 and n["groups"] == m.shape[0] == wf.shape[0]:
        return bf + e[:, 0] * m
    sys.exit(f"noise_study.py: {n['name']}: --fused-dc handles groups 1 and depthwise only")
exec(_src, rg.__dict__)


def q8(w, keep):
    """Symmetric int8, one scale per index of the dims in `keep` (max |w| / 127), rounded to nearest."""
    red = tuple(i for i in range(w.dim()) if i not in keep)
    s = w.abs().amax(dim=red, keepdim=True).clamp_min(1e-30) / 127
    return torch.round(w / s).clamp(-127, 127) * s


def fold_batchnorms(doc, W):
    """A copy of the graph with each batchnorm that is the only reader of a conv / dynamic conv folded into it."""
    doc = copy.deepcopy(doc)
    W = dict(W)
    readers = {}
    for n in doc["nodes"]:
        for i in n["inputs"]:
            readers.setdefault(i, []).append(n)
    for n in doc["nodes"]:
        r = readers.get(n["outputs"][0], [])
        if n["op"] not in ("conv2d", "dynamic_conv2d") or len(r) != 1 or r[0]["op"] != "batchnorm":
            continue
        bn = r[0]
        a = W[bn["weight"]] / torch.sqrt(W[bn["running_var"]] + bn.get("eps", 1e-5))
        shift = W[bn["bias"]] - a * W[bn["running_mean"]]
        dyn = n["op"] == "dynamic_conv2d"
        W[n["weight"] + ".folded"] = W[n["weight"]] * (a.reshape(1, -1, 1, 1, 1) if dyn else a.reshape(-1, 1, 1, 1))
        n["weight"] += ".folded"
        bias = W[n["bias"]] * a if n.get("bias") else torch.zeros_like(a)
        if n.get("mixed_bias"):
            W[n["mixed_bias"] + ".folded"] = W[n["mixed_bias"]] * a.reshape(1, -1)
            n["mixed_bias"] += ".folded"
        W[n["name"] + ".bias.folded"] = bias + shift
        n["bias"] = n["name"] + ".bias.folded"
        bn["op"] = "identity"
    return doc, W


def quantized_weights(doc, W, part):
    Q = dict(W)
    for n in doc["nodes"]:
        if part in ("all", "static"):
            if n["op"] in ("conv2d", "linear"):
                Q[n["weight"]] = q8(W[n["weight"]], (0,))
            if n["op"] == "cpm":
                for k in ("fc1_weight", "fc2_weight"):
                    if n.get(k):
                        Q[n[k]] = q8(W[n[k]], (0,))
        if part in ("all", "bank") and n["op"] == "dynamic_conv2d":
            Q[n["weight"]] = q8(W[n["weight"]], (1,))
    return Q


def load_images(doc, path, count):
    imgs = np.load(path)
    if imgs.dtype != np.uint8:
        sys.exit(f"noise_study.py: {path}: expected uint8 pixels, got {imgs.dtype}")
    if imgs.ndim == 3:
        imgs = imgs[:, None]
    return rg.preprocess(doc, imgs[:count]).double(), min(count, len(imgs))


def report(tag, ref, got):
    ref, got = np.array(ref), np.array(got)
    flips = int((ref.argmax(1) != got.argmax(1)).sum())
    snr = 10 * np.log10((ref ** 2).mean() / max(((got - ref) ** 2).mean(), 1e-300))
    print(f"{tag}: flips {flips}/{len(ref)}, logits SQNR {snr:.1f} dB", flush=True)


def study_weights(a):
    doc, W = rg.load(f"{a.model}/model.graph.json", f"{a.model}/model.safetensors")
    W = {k: v.double() for k, v in W.items()}
    fdoc, FW = fold_batchnorms(doc, W)
    QW = quantized_weights(fdoc, FW, a.part)
    rg.FUSED = (lambda w: q8(w, (0,))) if a.part in ("all", "fused") else (lambda w: w)
    if a.fused_dc:
        rg.DC_CORRECT = dc_correct
    x, n = load_images(doc, a.images, a.count)
    out, inp = doc["outputs"][0], doc["input"]["name"]
    ref, got = [], []
    with torch.no_grad():
        for i in range(n):
            ref.append(rg.run(doc, W, x[i:i + 1])[out][0].numpy())
            got.append(rg.run_seeded(fdoc, QW, {inp: x[i:i + 1]})[out][0].numpy())
    report(f"{a.model}: int8 weights ({a.part}{', fused-kernel DC correction' if a.fused_dc else ''}), float activations",
           ref, got)


def study_inject(a):
    doc, W = rg.load(f"{a.model}/model.graph.json", f"{a.model}/model.safetensors")
    W = {k: v.double() for k, v in W.items()}
    names = [t for t in (a.tensors or "").split(",") if t]
    float_cpm = [t for t in (a.float_cpm or "").split(",") if t]
    x, n = load_images(doc, a.images, a.count)
    out, inp = doc["outputs"][0], doc["input"]["name"]

    def dumped(i, name, like):
        p = Path(a.dump) / str(i) / f"{name}.npy"
        if not p.exists():
            sys.exit(f"noise_study.py: {p}: missing (is {name} an int8 tensor of the model, and were the same images "
                     f"dumped?)")
        return torch.from_numpy(np.load(p)).double().reshape(like.shape)

    ref, got = [], []
    with torch.no_grad():
        for i in range(n):
            clean = rg.run_seeded(doc, W, {inp: x[i:i + 1]})
            env = {inp: x[i:i + 1]}
            for node in doc["nodes"]:
                if a.float_coefficients and node["op"] == "cpm":
                    env[node["outputs"][0]] = clean[node["outputs"][0]]
                    continue
                ins = {k: env[k] for k in node["inputs"]}
                if node["name"] in float_cpm:
                    ins = {k: dumped(i, k, v) for k, v in ins.items()}
                r = rg.run_seeded({"nodes": [node]}, W, ins)
                for o in node["outputs"]:
                    env[o] = dumped(i, o, r[o]) if o in names else r[o]
            ref.append(clean[out][0].numpy())
            got.append(env[out][0].numpy())
    what = ", ".join(names + [f"float CPM {c} on its int8 input" for c in float_cpm]
                     + (["every CPM's coefficients float"] if a.float_coefficients else [])) or "nothing"
    report(f"{a.model}: int8 values injected ({what})", ref, got)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="study", required=True)
    for name in ("weights", "inject"):
        s = sub.add_parser(name)
        s.add_argument("model", help="a folder with model.graph.json and model.safetensors")
        s.add_argument("--images", required=True)
        s.add_argument("--count", type=int, default=1000)
        if name == "weights":
            s.add_argument("--part", default="all", choices=["all", "static", "bank", "fused", "none"])
            s.add_argument("--fused-dc", action="store_true",
                           help="correct each sample's fused-kernel rounding error at the input's channel means")
        else:
            s.add_argument("--dump", required=True)
            s.add_argument("--tensors", help="graph tensors to take from the int8 run, comma-separated")
            s.add_argument("--float-coefficients", action="store_true")
            s.add_argument("--float-cpm", help="CPM nodes to compute in float from their int8 input")
    a = p.parse_args()
    torch.set_num_threads(1)
    (study_weights if a.study == "weights" else study_inject)(a)


if __name__ == "__main__":
    main()
