"""Independent float32 interpreter of a DynQ graph (docs/graph-format.md), written from the spec text only (it does
not import tools/dynet.py), used to cross-check the exporter and the goldens.

    python3 tools/run_graph.py --check            # every fixture: ops goldens + trained models
    python3 tools/run_graph.py fixtures/ops/conv2d_plain            # one ops case
    python3 tools/run_graph.py fixtures/fmnist/model.graph.json --images fixtures/fmnist/test_images.npy

Also importable: `load(graph_path, weights_path)`, `run(doc, weights, x)`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import read_safetensors  # noqa: E402

OPS = {"conv2d", "dynamic_conv2d", "cpm", "batchnorm", "relu", "relu6", "hardswish", "hardsigmoid", "leaky_relu",
       "silu", "sigmoid", "gelu", "add",
       "concat", "channel_shuffle", "channel_split", "maxpool", "avgpool", "global_avgpool", "flatten", "linear",
       "softmax"}


def load(graph_path, weights_path):
    doc = json.loads(Path(graph_path).read_text())
    assert doc["format"] == "dynq-graph" and doc["version"] == 1
    w = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in read_safetensors(weights_path).items()}
    return doc, w


def preprocess(doc, images_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float32 per input.preprocess."""
    pp = doc["input"].get("preprocess", {})
    scale = np.float32(pp.get("scale", 1.0))
    C = images_u8.shape[1]
    mean = np.array(pp.get("mean", [0.0]), dtype=np.float32)
    std = np.array(pp.get("std", [1.0]), dtype=np.float32)
    mean = np.broadcast_to(mean, (C,)).reshape(1, C, 1, 1)
    std = np.broadcast_to(std, (C,)).reshape(1, C, 1, 1)
    x = (images_u8.astype(np.float32) * scale - mean) / std
    return torch.from_numpy(x.astype(np.float32))


def _pad(x, p, value=0.0):
    t, l, b, r = p
    return F.pad(x, (l, r, t, b), value=value) if any(p) else x


def _conv(x, w, b, n):
    x = _pad(x, n.get("padding", [0, 0, 0, 0]))
    return F.conv2d(x, w, b, tuple(n.get("stride", [1, 1])), 0, tuple(n.get("dilation", [1, 1])),
                    n.get("groups", 1))


def run(doc, W: dict, x: torch.Tensor) -> dict:
    """Run a batch-1 graph on float32 x [1, C, H, W]; returns every tensor by name."""
    assert x.shape[0] == 1
    env = {doc["input"]["name"]: x}
    for n in doc["nodes"]:
        op = n["op"]
        if op not in OPS:
            raise ValueError(f"{n['name']}: unknown op {op}")
        ins = [env[i] for i in n["inputs"]]
        wt = lambda k: W[n[k]] if n.get(k) is not None else None  # noqa: E731
        if op == "conv2d":
            y = [_conv(ins[0], wt("weight"), wt("bias"), n)]
        elif op == "dynamic_conv2d":
            x0, c = ins[0], ins[1][0]
            Wk = wt("weight")  # [g, O, I/groups, kh, kw]
            g, O = Wk.shape[0], Wk.shape[1]
            off = n.get("coeff_offset", 0)
            if n["mode"] == "per_channel":
                assert off + O * g <= c.shape[0]
                eta = c[off:off + O * g].reshape(O, g)
            elif n["mode"] == "per_layer":
                assert off + g <= c.shape[0]
                eta = c[off:off + g].reshape(1, g).expand(O, g)
            else:
                raise ValueError(n["mode"])
            Wf = torch.zeros_like(Wk[0])
            bf = None
            for t in range(g):
                Wf = Wf + eta[:, t].reshape(O, 1, 1, 1) * Wk[t]
            mb, b = wt("mixed_bias"), wt("bias")
            if mb is not None:
                bf = torch.zeros(O)
                for t in range(g):
                    bf = bf + eta[:, t] * mb[t]
            if b is not None:
                bf = b.clone() if bf is None else bf + b
            y = [_conv(x0, Wf, bf, n)]
        elif op == "cpm":
            p = ins[0].mean(dim=(2, 3))[0]
            h = wt("fc1_weight") @ p
            if n.get("fc1_bias") is not None:
                h = h + wt("fc1_bias")
            if n.get("fc2_weight") is not None:
                h = wt("fc2_weight") @ torch.relu(h)
                if n.get("fc2_bias") is not None:
                    h = h + wt("fc2_bias")
            if n["gate"] == "sigmoid":
                eta = torch.sigmoid(h)
            else:
                T = n.get("temperature", 1.0)
                G = n.get("softmax_group", h.shape[0])
                eta = torch.softmax((h / T).reshape(-1, G), dim=1).reshape(-1)
            y = [eta.reshape(1, -1)]
        elif op == "batchnorm":
            y = [F.batch_norm(ins[0], wt("running_mean"), wt("running_var"), wt("weight"), wt("bias"), False, 0.0,
                              n.get("eps", 1e-5))]
        elif op == "relu":
            y = [torch.relu(ins[0])]
        elif op == "relu6":
            y = [torch.clamp(ins[0], 0, 6)]
        elif op == "hardswish":
            y = [ins[0] * torch.clamp(ins[0] + 3, 0, 6) / 6]
        elif op == "hardsigmoid":
            y = [torch.clamp(ins[0] + 3, 0, 6) / 6]
        elif op == "leaky_relu":  # written from the definitions, not with torch's modules
            slope = n.get("negative_slope", 0.01)
            y = [torch.where(ins[0] > 0, ins[0], ins[0] * slope)]
        elif op == "silu":
            y = [ins[0] / (1 + torch.exp(-ins[0].double())).float()]
        elif op == "sigmoid":
            y = [(1 / (1 + torch.exp(-ins[0].double()))).float()]
        elif op == "gelu":
            y = [(0.5 * ins[0].double() * (1 + torch.erf(ins[0].double() / 2 ** 0.5))).float()]
        elif op == "add":
            assert ins[0].shape == ins[1].shape, n["name"]
            y = [ins[0] + ins[1]]
        elif op == "concat":
            assert n.get("axis", 1) == 1
            y = [torch.cat(ins, dim=1)]
        elif op == "channel_shuffle":
            _, C, H, Wd = ins[0].shape
            G = n["groups"]
            y = [ins[0].reshape(1, G, C // G, H, Wd).transpose(1, 2).reshape(1, C, H, Wd)]
        elif op == "channel_split":
            assert sum(n["sizes"]) == ins[0].shape[1]
            y = list(torch.split(ins[0], n["sizes"], dim=1))
        elif op == "maxpool":
            k = n["kernel"]
            y = [F.max_pool2d(_pad(ins[0], n.get("padding", [0, 0, 0, 0]), float("-inf")), k,
                              n.get("stride", k))]
        elif op == "avgpool":
            k, s, p = n["kernel"], n.get("stride", n["kernel"]), n.get("padding", [0, 0, 0, 0])
            xp = _pad(ins[0], p)
            ssum = F.avg_pool2d(xp, k, s) * (k[0] * k[1])
            if n.get("count_include_pad", True):
                y = [ssum / (k[0] * k[1])]
            else:
                ones = _pad(torch.ones_like(ins[0][:, :1]), p)
                cnt = F.avg_pool2d(ones, k, s) * (k[0] * k[1])
                y = [ssum / cnt]
        elif op == "global_avgpool":
            y = [ins[0].mean(dim=(2, 3), keepdim=True)]
        elif op == "flatten":
            y = [ins[0].reshape(1, -1)]
        elif op == "linear":
            y = [F.linear(ins[0], wt("weight"), wt("bias"))]
        elif op == "softmax":
            y = [torch.softmax(ins[0] / n.get("temperature", 1.0), dim=1)]
        assert len(y) == len(n["outputs"]), n["name"]
        for name, t in zip(n["outputs"], y):
            assert name not in env, f"{name} produced twice"
            env[name] = t
    return env


def run_images(doc, W, images: np.ndarray) -> np.ndarray:
    x = preprocess(doc, images) if images.dtype == np.uint8 else torch.from_numpy(images.astype(np.float32))
    outs = []
    with torch.no_grad():
        for i in range(x.shape[0]):
            outs.append(run(doc, W, x[i:i + 1])[doc["outputs"][0]][0].numpy())
    return np.stack(outs)


def check_case(case_dir: Path, tol=1e-4) -> float:
    doc, W = load(case_dir / "graph.json", case_dir / "weights.safetensors")
    x = torch.from_numpy(np.load(case_dir / "input.npy"))
    with torch.no_grad():
        y = run(doc, W, x)[doc["outputs"][0]].numpy()
    exp = np.load(case_dir / "expected.npy")
    assert y.shape == exp.shape, (case_dir, y.shape, exp.shape)
    err = float(np.abs(y - exp).max())
    if err > tol:
        raise AssertionError(f"{case_dir.name}: max abs err {err}")
    return err


def check_model(d: Path, images_path: Path, tol=1e-3) -> tuple[float, float]:
    doc, W = load(d / "model.graph.json", d / "model.safetensors")
    imgs = np.load(images_path)
    logits = run_images(doc, W, imgs)
    ref = np.load(d / "torch_logits.npy")
    err = float(np.abs(logits - ref).max())
    agree = float((logits.argmax(1) == ref.argmax(1)).mean())
    if err > tol or agree < 1.0:
        raise AssertionError(f"{d}: max abs err {err}, argmax agreement {agree}")
    return err, agree


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?")
    ap.add_argument("--images")
    ap.add_argument("--check", action="store_true", help="check every fixture under fixtures/")
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent / "fixtures"
    if args.check:
        n = 0
        for case in sorted((root / "ops").iterdir()):
            if case.is_dir():
                err = check_case(case)
                print(f"ops/{case.name}: ok (max abs err {err:.2e})")
                n += 1
        for d in ("fmnist", "fmnist_perlayer"):
            if (root / d / "model.graph.json").exists():
                err, agree = check_model(root / d, root / "fmnist" / "test_images.npy")
                print(f"{d}: ok (max abs logit err {err:.2e}, argmax agreement {agree:.3f})")
                n += 1
        print(f"{n} passed, 0 failed")
        return
    p = Path(args.path)
    if p.is_dir():
        print(f"max abs err {check_case(p):.3e}")
        return
    doc, W = load(p, str(p).replace(".graph.json", ".safetensors"))
    imgs = np.load(args.images)
    logits = run_images(doc, W, imgs)
    print(logits.argmax(1)[:20])


if __name__ == "__main__":
    main()
