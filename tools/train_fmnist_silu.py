"""Train a plain SiLU CNN on Fashion-MNIST and write the fixture fixtures/fmnist_silu/ (a model no test tunes for:
it checks that the default calibration keeps int8 top-1 agreement on a network DynQ was not developed against).

    python3 tools/train_fmnist_silu.py            # -> fixtures/fmnist_silu/

Network: four 3x3 conv + BatchNorm + SiLU stages (16, 32 stride 2, 32, 64 stride 2), global average pool, flatten,
linear 64 -> 10. No dynamic convolution: the graph has `conv2d`, `batchnorm`, `silu`, `global_avgpool`, `flatten`,
`linear` nodes (docs/graph-format.md), written directly from the modules.

Outputs: model.graph.json, model.safetensors, torch_logits.npy (the first 1,000 test images, the same images as
fixtures/fmnist/test_images.npy), PROVENANCE.md. Deterministic: fixed seed, torch.use_deterministic_algorithms,
one thread by default.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import FMNIST_CLASSES, dump_graph, graph_document, write_safetensors  # noqa: E402
from train_fmnist import DATA, MEAN, PREPROCESS, STD, evaluate, load_fmnist, to_input  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "fmnist_silu"
STAGES = [(1, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2)]  # (in, out, stride), 3x3, padding 1


class SiluCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False) for i, o, s in STAGES)
        self.bns = nn.ModuleList(nn.BatchNorm2d(o) for _, o, _ in STAGES)
        self.fc = nn.Linear(STAGES[-1][1], 10)

    def forward(self, x):
        for conv, bn in zip(self.convs, self.bns):
            x = F.silu(bn(conv(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def graph(self):
        """(nodes, weights) of the DynQ graph."""
        g, x = GraphWriter(), "input"
        for k, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = g.activation(f"act{k}", "silu", g.conv_bn(f"conv{k}", f"bn{k}", x, conv, bn))
        return g.head(x, self.fc)


class GraphWriter:
    """Builds the DynQ graph (docs/graph-format.md) of the fixtures' small CNNs: the nodes in order and their
    float32 weights by name. Shared by tools/train_fmnist_silu.py and tools/train_fmnist_dwsep.py."""

    def __init__(self):
        self.nodes, self.weights = [], {}

    def w(self, name, t):
        self.weights[name] = t.detach().to(torch.float32).numpy()
        return name

    def conv_bn(self, conv_name, bn_name, x, conv, bn):
        """A square conv2d without bias (padding k // 2) reading `x`, then its unfolded batchnorm; returns the
        batchnorm's output."""
        s, k = conv.stride[0], conv.kernel_size[0]
        p = k // 2
        self.nodes.append({"name": conv_name, "op": "conv2d", "inputs": [x], "outputs": [conv_name],
                           "weight": self.w(f"{conv_name}.weight", conv.weight), "stride": [s, s],
                           "padding": [p, p, p, p], "dilation": [1, 1], "groups": conv.groups})
        self.nodes.append({"name": bn_name, "op": "batchnorm", "inputs": [conv_name], "outputs": [bn_name],
                           "weight": self.w(f"{bn_name}.weight", bn.weight), "bias": self.w(f"{bn_name}.bias", bn.bias),
                           "running_mean": self.w(f"{bn_name}.running_mean", bn.running_mean),
                           "running_var": self.w(f"{bn_name}.running_var", bn.running_var), "eps": bn.eps})
        return bn_name

    def activation(self, name, op, x):
        self.nodes.append({"name": name, "op": op, "inputs": [x], "outputs": [name]})
        return name

    def head(self, x, fc):
        """Global average pool, flatten and the linear classifier; returns (nodes, weights)."""
        self.nodes.append({"name": "pool", "op": "global_avgpool", "inputs": [x], "outputs": ["pool"]})
        self.nodes.append({"name": "flatten", "op": "flatten", "inputs": ["pool"], "outputs": ["flatten"]})
        self.nodes.append({"name": "fc", "op": "linear", "inputs": ["flatten"], "outputs": ["logits"],
                           "weight": self.w("fc.weight", fc.weight), "bias": self.w("fc.bias", fc.bias)})
        return self.nodes, self.weights


def train_fixture(make_model, *, doc: str, out_default: Path, label: str, graph_name: str, script: str,
                  description: str):
    """Trains `make_model()` on Fashion-MNIST with the fixtures' recipe and writes the fixture (graph JSON,
    safetensors, torch_logits.npy, PROVENANCE.md) to --out (default `out_default`). `label` names the network in
    the log, `graph_name` in the graph document and PROVENANCE.md's title, `script` is the command the provenance
    gives, `description` its paragraph about the network. Shared by tools/train_fmnist_silu.py and
    tools/train_fmnist_dwsep.py."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(out_default))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest on a loaded machine)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load_fmnist(Path(args.data))
    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{label}: {n_params} parameters", flush=True)

    gen = torch.Generator().manual_seed(args.seed)
    total = ((len(xtr) + args.batch - 1) // args.batch) * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.2)
    ytr_t = torch.from_numpy(ytr)
    log = []
    t_start, cpu_start = time.time(), time.process_time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen).numpy()
        tot_loss, n_seen, n_correct = 0.0, 0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb = to_input(xtr[idx])
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            yb = ytr_t[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(idx)
            n_seen += len(idx)
            n_correct += int((logits.argmax(1) == yb).sum())
        acc = evaluate(model, xte, yte)
        line = (f"epoch {ep + 1}/{args.epochs}: train loss {tot_loss / n_seen:.4f}, train acc {n_correct / n_seen:.4f}, "
                f"test acc {acc:.4f}, elapsed {time.time() - t_start:.0f}s")
        print(line, flush=True)
        log.append(line)
    train_time, train_cpu = time.time() - t_start, time.process_time() - cpu_start

    model.eval()
    acc_full = evaluate(model, xte, yte)
    test_u8, test_y = np.ascontiguousarray(xte[:1000]), yte[:1000]
    with torch.no_grad():
        x1k = to_input(test_u8)
        logits = torch.cat([model(x1k[i:i + 1]) for i in range(len(x1k))]).numpy().astype(np.float32)
    np.save(out / "torch_logits.npy", logits)
    acc_1k = float((logits.argmax(1) == test_y).mean())
    nodes, weights = model.graph()
    doc = graph_document(nodes, ["logits"], name=graph_name, input_shape=(1, 1, 28, 28),
                         preprocess=PREPROCESS, classes=FMNIST_CLASSES)
    dump_graph(doc, out / "model.graph.json")
    write_safetensors(out / "model.safetensors", weights)

    import run_graph
    gdoc, W = run_graph.load(out / "model.graph.json", out / "model.safetensors")
    glog = run_graph.run_images(gdoc, W, test_u8)
    max_err = float(np.abs(glog - logits).max())
    agree = float((glog.argmax(1) == logits.argmax(1)).mean())
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    cmd = f"python3 {script}" + (f" --epochs {args.epochs}" if args.epochs != 4 else "") \
        + (f" --seed {args.seed}" if args.seed else "")
    prov = [
        f"# {out.name}: {graph_name}", "",
        description, "",
        "## Regenerate", "", "From the repository root:", "", "```", cmd, "```", "",
        f"Deterministic on CPU (seeded, `torch.use_deterministic_algorithms(True)`, {args.threads} thread(s)); a different CPU or "
        "torch build may change the last bits.", "",
        "## Run", "",
        f"- torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {args.threads} thread(s)",
        f"- seed {args.seed}; {args.epochs} epochs, batch {args.batch}, AdamW (lr {args.lr}, weight decay 5e-4, "
        "one-cycle schedule), cross-entropy, random horizontal flip",
        f"- training time: {train_time:.0f} s wall, {train_cpu:.0f} s CPU (shared 2-core machine)",
        f"- {n_params} parameters, {sizes['model.safetensors']} bytes of float32 weights",
        "", "## Accuracy (PyTorch float32, model.eval())", "",
        f"- full Fashion-MNIST test set (10,000 images): **{acc_full * 100:.2f} %**",
        f"- the 1,000 fixture images (`fixtures/fmnist/test_images.npy`): **{acc_1k * 100:.2f} %**",
        f"- tools/run_graph.py (independent interpreter of the exported graph) vs torch_logits.npy on the 1,000 "
        f"images: max |Δlogit| = {max_err:.2e}, argmax agreement {agree * 100:.1f} %",
        "", "Per epoch (test accuracy is logged only, never used to pick a checkpoint: the last epoch is exported):",
        "", "```", *log, "```", "", "## Files", "",
        f"- `model.graph.json` ({sizes['model.graph.json']} bytes): the graph, input.preprocess scale 1/255, "
        f"mean {MEAN}, std {STD}, 10 class names",
        f"- `model.safetensors` ({sizes['model.safetensors']} bytes): float32 weights",
        f"- `torch_logits.npy` ({sizes['torch_logits.npy']} bytes): float32 (1000, 10), model.eval() logits of "
        "`fixtures/fmnist/test_images.npy`, batch 1",
        "- `PROVENANCE.md`: this file", "",
        "Test and calibration images are those of fixtures/fmnist (`test_images.npy`, `test_labels.npy`, "
        "`calib_images.npy`).",
    ]
    (out / "PROVENANCE.md").write_text("\n".join(prov) + "\n")
    print(f"full test acc {acc_full:.4f}, fixture acc {acc_1k:.4f}, train {train_time:.0f}s, graph max err {max_err:.2e}")



def main():
    train_fixture(
        SiluCNN, doc=__doc__, out_default=OUT, label="silu cnn", graph_name="silu-cnn-fmnist",
        script="tools/train_fmnist_silu.py",
        description="A plain CNN with SiLU activations on Fashion-MNIST, trained for this fixture and NOT used to tune "
        "DynQ: it is the held-out model of the calibration-method study (docs/calibration.md). Four 3x3 conv + "
        "BatchNorm + SiLU stages (1 -> 16, 16 -> 32 stride 2, 32 -> 32, 32 -> 64 stride 2, padding 1, no conv bias), "
        "global average pool, flatten, linear 64 -> 10. BatchNorm exported unfolded (`batchnorm` nodes).")

if __name__ == "__main__":
    main()
