"""Tiny golden cases for every op of docs/graph-format.md, with seeded random weights run through PyTorch.

    python3 tools/make_op_goldens.py            # -> fixtures/ops/<case>/ + fixtures/ops/INDEX.md

Each case folder holds:
  graph.json           a complete DynQ graph (input "input", no preprocess: the input is already float32)
  weights.safetensors  its weights (a valid, empty safetensors file for weightless cases)
  input.npy            float32 NCHW [1, C, H, W]
  expected.npy         float32, the graph's first output as computed by PyTorch

Expected values come from PyTorch itself (F.conv2d, F.max_pool2d, ... and the tools/dynet.py modules, whose
asymmetric padding is F.pad then conv); tools/run_graph.py (an independent interpreter written from the spec) is run
on every case afterwards as a cross-check.
"""
from __future__ import annotations

import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dynet import CPM, ChannelShuffle, Conv2d, DyBlock, DyNet, DynamicConv2d, Emitter, emit_module  # noqa: E402
from export import dump_graph, graph_document, write_safetensors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "ops"

CASES: list = []


def case(name: str, desc: str, shape, scale: float = 1.0, minimal: bool = False):
    """Register a case. The builder gets (em, x_name, x) and returns (output tensor name, expected tensor)."""
    def deco(fn):
        CASES.append(dict(name=name, desc=desc, shape=tuple(shape), scale=scale, minimal=minimal, fn=fn))
        return fn
    return deco


_DEFAULTS = {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1, "coeff_offset": 0,
             "eps": 1e-5, "axis": 1, "temperature": 1.0, "count_include_pad": True}


def strip_defaults(nodes):
    """Drop attributes equal to the spec's defaults (pool stride = kernel too), to exercise default handling."""
    for n in nodes:
        for k, v in list(n.items()):
            if k == "groups" and n["op"] == "channel_shuffle":
                continue
            if k in _DEFAULTS and v == _DEFAULTS[k]:
                del n[k]
        if n["op"] in ("maxpool", "avgpool") and n.get("stride") == n["kernel"]:
            del n["stride"]


def randomize_bn(bn: nn.BatchNorm2d):
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return bn.eval()


# ----------------------------------------------------------------------------------------------------------------
# conv2d


def _conv_case(name, desc, shape, in_ch, out_ch, k, minimal=False, **kw):
    @case(name, desc, shape, minimal=minimal)
    def _(em, x, xt):
        m = Conv2d(in_ch, out_ch, k, **kw)
        return m.emit(em, x, "conv"), m(xt)


_conv_case("conv2d_plain", "3x3, no padding, no bias", (1, 3, 7, 7), 3, 4, 3)
_conv_case("conv2d_bias", "3x3, padding 1, bias", (1, 3, 7, 7), 3, 4, 3, padding=1, bias=True)
_conv_case("conv2d_stride2", "3x3, stride 2, padding 1, bias, 9x9 -> 5x5", (1, 3, 9, 9), 3, 5, 3, stride=2,
           padding=1, bias=True)
_conv_case("conv2d_asym_pad", "3x3, padding [t,l,b,r] = [0,1,2,1], bias (PyTorch: F.pad then conv)",
           (1, 3, 7, 8), 3, 4, 3, padding=(0, 1, 2, 1), bias=True)
_conv_case("conv2d_same_s2", "3x3 stride 2 TF-'SAME' padding [0,0,1,1] on 8x8 -> 4x4, no bias",
           (1, 2, 8, 8), 2, 3, 3, stride=2, padding=(0, 0, 1, 1))
_conv_case("conv2d_dilation2", "3x3, dilation 2, padding 2, bias", (1, 3, 9, 9), 3, 4, 3, dilation=2, padding=2,
           bias=True)
_conv_case("conv2d_groups2", "3x3, groups 2 (4 -> 6 channels), padding 1, bias", (1, 4, 7, 7), 4, 6, 3, groups=2,
           padding=1, bias=True)
_conv_case("conv2d_depthwise", "3x3 depthwise (groups = C = 6), padding 1, bias", (1, 6, 7, 7), 6, 6, 3, groups=6,
           padding=1, bias=True)
_conv_case("conv2d_depthwise_mult2", "3x3 depthwise with channel multiplier 2 (4 -> 8, groups 4), stride 2, "
           "padding 1, no bias", (1, 4, 9, 9), 4, 8, 3, groups=4, stride=2, padding=1)
_conv_case("conv2d_1x1", "1x1, no bias; default attributes OMITTED from the node (stride, padding, dilation, "
           "groups)", (1, 6, 5, 5), 6, 5, 1, minimal=True)
_conv_case("conv2d_1x1_bias", "1x1 with bias", (1, 6, 5, 5), 6, 5, 1, bias=True)
_conv_case("conv2d_rect_kernel", "kernel 1x3, stride [2,1], padding [0,1,0,1], bias", (1, 3, 6, 6), 3, 4, (1, 3),
           stride=(2, 1), padding=(0, 1, 0, 1), bias=True)


# ----------------------------------------------------------------------------------------------------------------
# dynamic_conv2d / cpm


@case("dynconv_per_channel", "cpm (2-layer, sigmoid, 4 -> 6 -> 15) + dynamic_conv2d per_channel g=3, 3x3 pad 1, "
      "4 -> 5 channels, static bias", (1, 4, 7, 7))
def _(em, x, xt):
    d = DynamicConv2d(4, 5, 3, padding=1, g=3, mode="per_channel", bias=True)
    cpm = CPM(4, 6, d.n_coeffs, gate="sigmoid")
    c = cpm.emit(em, x, "cpm")
    return d.emit(em, x, c, "dynconv"), d(xt, cpm(xt))


@case("dynconv_per_layer", "cpm (2-layer, softmax, temperature 4) + dynamic_conv2d per_layer g=4 with mixed_bias, "
      "3x3 stride 2 pad 1, 4 -> 6 channels", (1, 4, 9, 9))
def _(em, x, xt):
    d = DynamicConv2d(4, 6, 3, stride=2, padding=1, g=4, mode="per_layer", mixed_bias=True)
    cpm = CPM(4, 8, 4, gate="softmax", temperature=4.0, softmax_group=4)
    c = cpm.emit(em, x, "cpm")
    return d.emit(em, x, c, "dynconv"), d(xt, cpm(xt))


@case("dynconv_shared_cpm", "ONE sigmoid cpm (N = 36) feeding two per_channel dynamic convs via coeff_offset: "
      "3x3 4 -> 6 g=3 (offset 0) -> relu -> depthwise 3x3 6 g=3 (offset 18), both with bias", (1, 4, 7, 7))
def _(em, x, xt):
    b = DyBlock(4, [DynamicConv2d(4, 6, 3, padding=1, g=3, bias=True), nn.ReLU(),
                    DynamicConv2d(6, 6, 3, padding=1, groups=6, g=3, bias=True)], cpm_hidden=8)
    assert b.body[2].coeff_offset == 18 and b.cpm.n_out == 36
    return b.emit(em, x, "block"), b(xt)


@case("dynconv_per_layer_shared", "ONE softmax cpm (T = 4, softmax_group = 4, N = 8) feeding two per_layer "
      "dynamic convs (offsets 0 and 4), mixed_bias AND bias, 3x3 pad 1 then 1x1", (1, 3, 6, 6))
def _(em, x, xt):
    b = DyBlock(3, [DynamicConv2d(3, 5, 3, padding=1, g=4, mode="per_layer", mixed_bias=True, bias=True),
                    nn.ReLU(),
                    DynamicConv2d(5, 4, 1, g=4, mode="per_layer", mixed_bias=True, bias=True)],
                cpm_hidden=6, gate="softmax", temperature=4.0, softmax_group=4)
    assert b.body[2].coeff_offset == 4
    return b.emit(em, x, "block"), b(xt)


@case("dynconv_one_layer_cpm", "one-layer cpm (fc1 only, no fc2; sigmoid) + per_channel 1x1 dynamic conv g=2 "
      "with mixed_bias, 5 -> 4", (1, 5, 5, 5))
def _(em, x, xt):
    d = DynamicConv2d(5, 4, 1, g=2, mode="per_channel", mixed_bias=True)
    cpm = CPM(5, 0, d.n_coeffs, gate="sigmoid", two_layer=False)
    c = cpm.emit(em, x, "cpm")
    return d.emit(em, x, c, "dynconv"), d(xt, cpm(xt))


@case("dynconv_depthwise_asym_s2", "per_channel dynamic depthwise 3x3 g=4, stride 2, padding [0,0,1,1], "
      "dilation 1, no bias (PyTorch: F.pad then conv)", (1, 4, 8, 8))
def _(em, x, xt):
    d = DynamicConv2d(4, 4, 3, stride=2, padding=(0, 0, 1, 1), groups=4, g=4, mode="per_channel")
    cpm = CPM(4, 4, d.n_coeffs, gate="sigmoid")
    c = cpm.emit(em, x, "cpm")
    return d.emit(em, x, c, "dynconv"), d(xt, cpm(xt))


@case("dynconv_offset_odd", "sigmoid cpm with N = 10 and a per_layer g=4 consumer at coeff_offset 5 (reads 5..8), "
      "dilation 2, groups 2, padding 2, bias", (1, 4, 7, 7))
def _(em, x, xt):
    d = DynamicConv2d(4, 6, 3, padding=2, dilation=2, groups=2, g=4, mode="per_layer", bias=True)
    d.coeff_offset = 5
    cpm = CPM(4, 6, 10, gate="sigmoid")
    c = cpm.emit(em, x, "cpm")
    return d.emit(em, x, c, "dynconv"), d(xt, cpm(xt))


@case("cpm_sigmoid", "cpm alone (2-layer, sigmoid, 5 -> 4 -> 6); output [1, 6]", (1, 5, 4, 4))
def _(em, x, xt):
    m = CPM(5, 4, 6, gate="sigmoid")
    return m.emit(em, x, "cpm"), m(xt)


@case("cpm_softmax_groups", "cpm alone, softmax over chunks of 4 (N = 12, softmax_group 4), temperature 2, "
      "fc1/fc2 WITHOUT biases; output [1, 12]", (1, 3, 5, 5))
def _(em, x, xt):
    m = CPM(3, 5, 12, gate="softmax", temperature=2.0, softmax_group=4, bias=False)
    return m.emit(em, x, "cpm"), m(xt)


# ----------------------------------------------------------------------------------------------------------------
# elementwise / structural


@case("batchnorm", "inference batchnorm, C = 5, random running stats, eps 1e-3", (1, 5, 4, 4))
def _(em, x, xt):
    bn = randomize_bn(nn.BatchNorm2d(5, eps=1e-3))
    return emit_module(bn, em, x, "bn"), bn(xt)


for _op, _fn in (("relu", F.relu), ("relu6", F.relu6), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid)):
    def _mk(op=_op, fn=_fn):
        @case(op, f"{op} on inputs spread over [-8, 8] (all clamp regions)", (1, 3, 5, 5), scale=4.0)
        def _(em, x, xt):
            return em.one(op, op, [x]), fn(xt)
    _mk()


for _op, _fn in (("silu", F.silu), ("sigmoid", torch.sigmoid), ("gelu", F.gelu)):
    def _mk(op=_op, fn=_fn):
        @case(op, f"{op} (torch's default form) on inputs spread over about [-8, 8]", (1, 3, 5, 5), scale=4.0)
        def _(em, x, xt):
            return em.one(op, op, [x]), fn(xt)
    _mk()


@case("leaky_relu", "leaky_relu with negative_slope 0.2 on inputs spread over about [-8, 8]", (1, 3, 5, 5), scale=4.0)
def _(em, x, xt):
    return em.one("leaky_relu", "leaky_relu", [x], negative_slope=0.2), F.leaky_relu(xt, 0.2)


@case("leaky_relu_default", "leaky_relu with negative_slope OMITTED (PyTorch's default 0.01)", (1, 3, 5, 5),
      scale=4.0)
def _(em, x, xt):
    return em.one("leaky_relu", "leaky_relu", [x]), F.leaky_relu(xt)


@case("add", "a = conv2d 3x3 pad 1 (x); y = add(a, x)", (1, 3, 5, 5))
def _(em, x, xt):
    m = Conv2d(3, 3, 3, padding=1, bias=True)
    a = m.emit(em, x, "conv")
    return em.one("add", "add", [a, x]), m(xt) + xt


@case("concat", "y = concat(a, x, b) with a = 1x1 conv (2 ch), b = relu(x): 2 + 3 + 3 channels", (1, 3, 4, 4))
def _(em, x, xt):
    m = Conv2d(3, 2, 1, bias=True)
    a = m.emit(em, x, "conv")
    b = em.one("relu", "relu", [x])
    return em.one("concat", "concat", [a, x, b], axis=1), torch.cat([m(xt), xt, F.relu(xt)], 1)


@case("channel_shuffle", "channel_shuffle groups 3 on C = 6 (ShuffleNet: view(3, 2) -> transpose -> flatten)",
      (1, 6, 3, 3))
def _(em, x, xt):
    m = ChannelShuffle(3)
    return m.emit(em, x, "shuffle"), m(xt)


@case("channel_shuffle_g2", "channel_shuffle groups 2 on C = 8", (1, 8, 2, 2))
def _(em, x, xt):
    m = ChannelShuffle(2)
    return m.emit(em, x, "shuffle"), m(xt)


@case("channel_split", "channel_split sizes [2, 4] on C = 6, both outputs used: concat(y2, y1) (swapped order)",
      (1, 6, 3, 3))
def _(em, x, xt):
    y1, y2 = em.node("split", "channel_split", [x], ["split.0", "split.1"], sizes=[2, 4])
    a, b = torch.split(xt, [2, 4], dim=1)
    return em.one("concat", "concat", [y2, y1], axis=1), torch.cat([b, a], 1)


@case("channel_split3", "channel_split sizes [1, 2, 3]; y = concat(relu(y3), y1, y2)", (1, 6, 3, 3))
def _(em, x, xt):
    ys = em.node("split", "channel_split", [x], ["split.0", "split.1", "split.2"], sizes=[1, 2, 3])
    r = em.one("relu", "relu", [ys[2]])
    a, b, c = torch.split(xt, [1, 2, 3], dim=1)
    return em.one("concat", "concat", [r, ys[0], ys[1]], axis=1), torch.cat([F.relu(c), a, b], 1)


# ----------------------------------------------------------------------------------------------------------------
# pooling / head


@case("maxpool_3x3_s2_p1", "maxpool kernel 3 stride 2 padding 1 on 9x9 (inputs shifted negative: padding never "
      "wins)", (1, 3, 9, 9))
def _(em, x, xt):
    xt -= 2.0  # mostly negative values (the input written to input.npy is shifted too)
    return emit_module(nn.MaxPool2d(3, 2, 1), em, x, "pool"), F.max_pool2d(xt, 3, 2, 1)


@case("maxpool_2x2_default_stride", "maxpool kernel 2, stride OMITTED (= kernel), on 9x9 (floor -> 4x4)",
      (1, 2, 9, 9), minimal=True)
def _(em, x, xt):
    return emit_module(nn.MaxPool2d(2), em, x, "pool"), F.max_pool2d(xt, 2)


@case("maxpool_asym_pad", "maxpool kernel 3 stride 2 padding [0,0,1,1] on 8x8 (PyTorch: F.pad with -inf then "
      "max_pool2d)", (1, 2, 8, 8))
def _(em, x, xt):
    xt -= 2.0
    y = F.max_pool2d(F.pad(xt, (0, 1, 0, 1), value=float("-inf")), 3, 2)
    return em.one("pool", "maxpool", [x], kernel=[3, 3], stride=[2, 2], padding=[0, 0, 1, 1]), y


@case("avgpool_3x3_s2_p1_incl", "avgpool kernel 3 stride 2 padding 1, count_include_pad true, 9x9 -> 5x5",
      (1, 3, 9, 9))
def _(em, x, xt):
    return (emit_module(nn.AvgPool2d(3, 2, 1, count_include_pad=True), em, x, "pool"),
            F.avg_pool2d(xt, 3, 2, 1, count_include_pad=True))


@case("avgpool_3x3_s2_p1_excl", "avgpool kernel 3 stride 2 padding 1, count_include_pad false, 9x9 -> 5x5",
      (1, 3, 9, 9))
def _(em, x, xt):
    return (emit_module(nn.AvgPool2d(3, 2, 1, count_include_pad=False), em, x, "pool"),
            F.avg_pool2d(xt, 3, 2, 1, count_include_pad=False))


@case("avgpool_2x2", "avgpool kernel 2 (stride, padding, count_include_pad OMITTED) on 7x7 -> 3x3", (1, 2, 7, 7),
      minimal=True)
def _(em, x, xt):
    return emit_module(nn.AvgPool2d(2), em, x, "pool"), F.avg_pool2d(xt, 2)


@case("global_avgpool", "global_avgpool [1,5,6,7] -> [1,5,1,1]", (1, 5, 6, 7))
def _(em, x, xt):
    return em.one("gap", "global_avgpool", [x]), F.adaptive_avg_pool2d(xt, 1)


@case("flatten", "flatten [1,2,3,3] -> [1,18] (C-order)", (1, 2, 3, 3))
def _(em, x, xt):
    return em.one("flatten", "flatten", [x]), torch.flatten(xt, 1)


@case("linear", "flatten then linear 18 -> 7 with bias", (1, 2, 3, 3))
def _(em, x, xt):
    m = nn.Linear(18, 7)
    f = em.one("flatten", "flatten", [x])
    return emit_module(m, em, f, "fc"), m(torch.flatten(xt, 1))


@case("linear_nobias", "global_avgpool, flatten, linear 4 -> 3 without bias", (1, 4, 3, 3))
def _(em, x, xt):
    m = nn.Linear(4, 3, bias=False)
    h = emit_module(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), m), em, x, "head")
    return h, m(torch.flatten(F.adaptive_avg_pool2d(xt, 1), 1))


@case("softmax_temperature", "flatten then softmax with temperature 2.5 over 12 features", (1, 3, 2, 2),
      scale=3.0)
def _(em, x, xt):
    f = em.one("flatten", "flatten", [x])
    return em.one("softmax", "softmax", [f], temperature=2.5), F.softmax(torch.flatten(xt, 1) / 2.5, dim=1)


@case("softmax", "flatten then softmax, temperature OMITTED (= 1)", (1, 2, 2, 2), scale=3.0, minimal=True)
def _(em, x, xt):
    f = em.one("flatten", "flatten", [x])
    return em.one("softmax", "softmax", [f]), F.softmax(torch.flatten(xt, 1), dim=1)


# ----------------------------------------------------------------------------------------------------------------
# a small end-to-end network


@case("mini_dynet", "end to end: conv stem + batchnorm + relu6, a residual DyBlock (sigmoid cpm, per_channel 3x3 "
      "and depthwise), hardswish, a stride-2 per_layer softmax block, global_avgpool, flatten, linear",
      (1, 2, 9, 9))
def _(em, x, xt):
    BN = lambda c: randomize_bn(nn.BatchNorm2d(c))  # noqa: E731
    stem = nn.Sequential(Conv2d(2, 6, 3, padding=1), BN(6), nn.ReLU6())
    b1 = DyBlock(6, [DynamicConv2d(6, 6, 3, padding=1, g=3), BN(6), nn.ReLU(),
                     DynamicConv2d(6, 6, 3, padding=1, groups=6, g=3), BN(6)], cpm_hidden=4, residual=True,
                 post=nn.Hardswish())
    b2 = DyBlock(6, [DynamicConv2d(6, 8, 3, stride=2, padding=1, g=4, mode="per_layer", mixed_bias=True), BN(8),
                     nn.ReLU()], cpm_hidden=4, gate="softmax", temperature=3.0, softmax_group=4)
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    net = DyNet(stem, [b1, b2], head).eval()
    return net.emit(em, x), net(xt)


# ----------------------------------------------------------------------------------------------------------------


def main():
    torch.set_num_threads(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rows = []
    for c in CASES:
        seed = zlib.crc32(c["name"].encode())
        torch.manual_seed(seed)
        xt = torch.randn(*c["shape"]) * c["scale"]
        em = Emitter()
        with torch.no_grad():
            out, y = c["fn"](em, "input", xt)  # builders may shift xt in place before use
        y = y.detach().to(torch.float32).contiguous()
        if c["minimal"]:
            strip_defaults(em.nodes)
        doc = graph_document(em.nodes, [out], name=c["name"], input_shape=c["shape"])
        d = OUT / c["name"]
        d.mkdir()
        dump_graph(doc, d / "graph.json")
        write_safetensors(d / "weights.safetensors", em.tensors)
        np.save(d / "input.npy", xt.numpy().astype(np.float32))
        np.save(d / "expected.npy", y.numpy().astype(np.float32))
        ops = sorted({n["op"] for n in em.nodes})
        rows.append((c["name"], ", ".join(ops), list(c["shape"]), list(y.shape), c["desc"]))

    import run_graph
    errs = {}
    for c in CASES:
        errs[c["name"]] = run_graph.check_case(OUT / c["name"], tol=1e-5)
    covered = set()
    for r in rows:
        covered |= set(r[1].split(", "))
    missing = run_graph.OPS - covered
    assert not missing, f"ops without a golden: {missing}"

    lines = ["# Op goldens", "",
             "Regenerate from the repository root: `python3 tools/make_op_goldens.py` (seeded; "
             f"torch {torch.__version__}). Check: `python3 tools/run_graph.py --check`.", "",
             "Each folder: `graph.json` (DynQ graph, input tensor `input`, no preprocess), `weights.safetensors` "
             "(float32; a valid empty file when the case has no weights), `input.npy` (float32 NCHW, already "
             "preprocessed), `expected.npy` (float32, the first graph output, computed by PyTorch). Random weights "
             "and inputs are seeded with crc32(case name).", "",
             "Tolerance: outputs are O(1); tools/run_graph.py (independent interpreter) matches every case to "
             f"max |err| {max(errs.values()):.1e}. A float32 engine should match to ~1e-5 absolute.", "",
             "| case | ops | input | output | what |", "|---|---|---|---|---|"]
    for name, ops, ish, osh, desc in rows:
        lines.append(f"| `{name}` | {ops} | {ish} | {osh} | {desc} |")
    lines += ["", "Cases marked OMITTED leave attributes at their spec defaults by not writing them.", ""]
    (OUT / "INDEX.md").write_text("\n".join(lines))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(CASES)} cases, {total} bytes, max cross-check err {max(errs.values()):.2e}")


if __name__ == "__main__":
    main()
