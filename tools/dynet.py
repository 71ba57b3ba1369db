"""Reference PyTorch modules for the DyNet family (Zhang et al. 2020, "DyNet: Dynamic Convolution for
Accelerating Convolutional Neural Networks"), plus CondConv / DY-CNN style per-layer variants.

Every module here knows how to emit the DynQ graph nodes (docs/graph-format.md) that compute exactly what its
`forward` computes at batch 1, through an `Emitter` (explicit export, no torch.fx):

    em = Emitter()
    out = model.emit(em, "input")        # returns the name of the output tensor

`tools/export.py` turns an Emitter into `<prefix>.graph.json` + `<prefix>.safetensors`.

Modules
-------
- `Conv2d`           static convolution with per-side padding [top, left, bottom, right] (asymmetric allowed).
- `DynamicConv2d`    g fixed kernels `weight[g, O, I/groups, kh, kw]` fused per sample with coefficients read from
                     a CPM output at `coeff_offset` (modes `per_channel` = DyNet, `per_layer` = CondConv/DY-CNN).
- `CPM`              coefficient prediction module: global avg pool -> linear (-> ReLU -> linear) -> gate.
- `DyBlock`          ONE CPM reading the block input feeds every DynamicConv2d of the block through offsets
                     (the paper's layout), optional residual `add` and post-activation.
- `DyNet`            stem / blocks / head container carrying the graph meta (input shape, preprocess, classes).
- plain torch modules (BatchNorm2d, ReLU, ReLU6, Hardswish, Hardsigmoid, MaxPool2d, AvgPool2d,
  AdaptiveAvgPool2d(1), Flatten, Linear, Sequential) are emitted by `emit_module`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "Emitter", "emit_module", "pad4", "Conv2d", "DynamicConv2d", "CPM", "DyBlock", "DyNet",
    "ChannelShuffle", "ChannelSplitConcat",
]


# ----------------------------------------------------------------------------------------------------------------
# helpers


def pad4(padding) -> tuple[int, int, int, int]:
    """Normalise a padding spec to (top, left, bottom, right).

    int p -> (p, p, p, p); (ph, pw) -> (ph, pw, ph, pw) (PyTorch's convention); 4-tuple taken as [t, l, b, r]."""
    if isinstance(padding, int):
        return (padding, padding, padding, padding)
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    if len(padding) == 4:
        return padding  # type: ignore[return-value]
    raise ValueError(f"bad padding {padding!r}")


def pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    assert len(v) == 2
    return v  # type: ignore[return-value]


def _apply_pad(x: torch.Tensor, p4: tuple[int, int, int, int]):
    """Returns (x', conv_padding): symmetric padding is left to conv2d, asymmetric padding is done with F.pad."""
    t, l, b, r = p4
    if t == b and l == r:
        return x, (t, l)
    return F.pad(x, (l, r, t, b)), (0, 0)


# ----------------------------------------------------------------------------------------------------------------
# emitter


class Emitter:
    """Collects graph nodes and named weight tensors."""

    def __init__(self):
        self.nodes: list[dict] = []
        self.tensors: dict[str, np.ndarray] = {}
        self._node_names: set[str] = set()
        self._act_names: set[str] = {"input"}

    def weight(self, name: str, t: torch.Tensor | np.ndarray) -> str:
        if name in self.tensors:
            raise ValueError(f"duplicate weight {name}")
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().to(torch.float32).numpy()
        self.tensors[name] = np.ascontiguousarray(t, dtype=np.float32)
        return name

    def node(self, name: str, op: str, inputs: Sequence[str], outputs: Sequence[str] | None = None,
             **attrs) -> list[str]:
        if name in self._node_names:
            raise ValueError(f"duplicate node name {name}")
        outputs = list(outputs) if outputs is not None else [name]
        for o in outputs:
            if o in self._act_names:
                raise ValueError(f"tensor {o} produced twice")
            self._act_names.add(o)
        self._node_names.add(name)
        node = {"name": name, "op": op, "inputs": list(inputs), "outputs": outputs}
        for k, v in attrs.items():
            if v is None:
                continue  # absent optional attribute: omit (spec: "(none)")
            node[k] = v
        self.nodes.append(node)
        return outputs

    def one(self, name: str, op: str, inputs: Sequence[str], **attrs) -> str:
        return self.node(name, op, inputs, None, **attrs)[0]


def _conv_attrs(stride, p4, dilation, groups) -> dict:
    return {"stride": list(pair(stride)), "padding": list(p4), "dilation": list(pair(dilation)),
            "groups": int(groups)}


def emit_module(m: nn.Module, em: Emitter, x: str, name: str) -> str:
    """Emit the nodes of a module whose forward takes one tensor. Returns the output tensor name."""
    if hasattr(m, "emit") and not isinstance(m, (nn.Sequential,)):
        return m.emit(em, x, name)
    if isinstance(m, nn.Sequential):
        for i, (cname, child) in enumerate(m.named_children()):
            x = emit_module(child, em, x, f"{name}.{cname}" if name else cname)
        return x
    if isinstance(m, nn.Conv2d):
        assert m.padding_mode == "zeros" and not isinstance(m.padding, str)
        return em.one(name, "conv2d", [x], weight=em.weight(f"{name}.weight", m.weight),
                      bias=em.weight(f"{name}.bias", m.bias) if m.bias is not None else None,
                      **_conv_attrs(m.stride, pad4(m.padding), m.dilation, m.groups))
    if isinstance(m, nn.BatchNorm2d):
        assert m.affine and m.track_running_stats
        return em.one(name, "batchnorm", [x], weight=em.weight(f"{name}.weight", m.weight),
                      bias=em.weight(f"{name}.bias", m.bias),
                      running_mean=em.weight(f"{name}.running_mean", m.running_mean),
                      running_var=em.weight(f"{name}.running_var", m.running_var), eps=float(m.eps))
    for cls, op in ((nn.ReLU, "relu"), (nn.ReLU6, "relu6"), (nn.Hardswish, "hardswish"),
                    (nn.Hardsigmoid, "hardsigmoid")):
        if type(m) is cls:
            return em.one(name, op, [x])
    if isinstance(m, nn.MaxPool2d):
        assert not m.ceil_mode and pair(m.dilation) == (1, 1)
        return em.one(name, "maxpool", [x], kernel=list(pair(m.kernel_size)), stride=list(pair(m.stride)),
                      padding=list(pad4(m.padding)))
    if isinstance(m, nn.AvgPool2d):
        assert not m.ceil_mode and m.divisor_override is None
        return em.one(name, "avgpool", [x], kernel=list(pair(m.kernel_size)), stride=list(pair(m.stride)),
                      padding=list(pad4(m.padding)), count_include_pad=bool(m.count_include_pad))
    if isinstance(m, nn.AdaptiveAvgPool2d):
        assert pair(m.output_size) == (1, 1)
        return em.one(name, "global_avgpool", [x])
    if isinstance(m, nn.Flatten):
        assert m.start_dim == 1 and m.end_dim == -1
        return em.one(name, "flatten", [x])
    if isinstance(m, nn.Linear):
        return em.one(name, "linear", [x], weight=em.weight(f"{name}.weight", m.weight),
                      bias=em.weight(f"{name}.bias", m.bias) if m.bias is not None else None)
    if isinstance(m, nn.Identity):
        return x
    raise TypeError(f"don't know how to emit {type(m).__name__} ({name})")


# ----------------------------------------------------------------------------------------------------------------
# static conv with per-side padding


class Conv2d(nn.Module):
    """conv2d with padding [top, left, bottom, right] (asymmetric = F.pad then conv)."""

    def __init__(self, in_ch, out_ch, k, stride=1, padding=0, dilation=1, groups=1, bias=False):
        super().__init__()
        kh, kw = pair(k)
        self.stride, self.padding, self.dilation, self.groups = pair(stride), pad4(padding), pair(dilation), groups
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch // groups, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_ch)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        x, p = _apply_pad(x, self.padding)
        return F.conv2d(x, self.weight, self.bias, self.stride, p, self.dilation, self.groups)

    def emit(self, em: Emitter, x: str, name: str) -> str:
        return em.one(name, "conv2d", [x], weight=em.weight(f"{name}.weight", self.weight),
                      bias=em.weight(f"{name}.bias", self.bias) if self.bias is not None else None,
                      **_conv_attrs(self.stride, self.padding, self.dilation, self.groups))


# ----------------------------------------------------------------------------------------------------------------
# dynamic convolution


class DynamicConv2d(nn.Module):
    """g fixed kernels fused per sample with CPM coefficients (docs/graph-format.md, "Dynamic convolution").

    per_channel (DyNet):   W_o = sum_t eta[off + o*g + t] * W[t, o]        (reads O*g coefficients)
    per_layer (CondConv):  W_o = sum_t eta[off + t]       * W[t, o]        (reads g coefficients)
    bias:                  b_o = sum_t eta_{o,t} * mixed_bias[t, o] + bias[o]   (each term only if present)

    then ONE conv2d with W, b and the layer's stride/padding/dilation/groups.

    `impl`:
      "fused"   (the spec, used in eval): fuse the kernels per sample, then one F.conv2d (batch 1), or one grouped
                F.conv2d over the whole batch (batch > 1: the grouped-conv trick).
      "stacked" one conv with all g*O kernels, then the per-sample coefficient-weighted sum of the g partial
                outputs. Identical math by linearity of convolution (differs only in rounding); g times the conv
                work, kept as a cross-check (on a 2-core CPU the grouped "fused" path trains ~3x faster).
    """

    def __init__(self, in_ch, out_ch, k, stride=1, padding=0, dilation=1, groups=1, g=4, mode="per_channel",
                 mixed_bias=False, bias=False, impl="fused"):
        super().__init__()
        assert mode in ("per_channel", "per_layer")
        assert in_ch % groups == 0 and out_ch % groups == 0
        kh, kw = pair(k)
        self.in_ch, self.out_ch, self.g, self.mode = in_ch, out_ch, g, mode
        self.stride, self.padding, self.dilation, self.groups = pair(stride), pad4(padding), pair(dilation), groups
        self.coeff_offset = 0  # set by the owning block
        self.impl = impl
        self.weight = nn.Parameter(torch.empty(g, out_ch, in_ch // groups, kh, kw))
        self.mixed_bias = nn.Parameter(torch.empty(g, out_ch)) if mixed_bias else None
        self.bias = nn.Parameter(torch.empty(out_ch)) if bias else None
        fan_in = (in_ch // groups) * kh * kw
        bound = 1 / math.sqrt(fan_in)
        for t in range(g):  # each kernel initialised like an ordinary nn.Conv2d
            nn.init.kaiming_uniform_(self.weight.data[t], a=math.sqrt(5))
        if self.mixed_bias is not None:
            nn.init.uniform_(self.mixed_bias, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def n_coeffs(self) -> int:
        return self.out_ch * self.g if self.mode == "per_channel" else self.g

    def eta(self, coeffs: torch.Tensor, offset: int | None = None) -> torch.Tensor:
        """[B, O, g] coefficients for this layer."""
        off = self.coeff_offset if offset is None else offset
        assert off + self.n_coeffs <= coeffs.shape[1], "coefficient slice runs past the CPM output"
        B = coeffs.shape[0]
        if self.mode == "per_channel":
            return coeffs[:, off:off + self.out_ch * self.g].reshape(B, self.out_ch, self.g)
        return coeffs[:, off:off + self.g].reshape(B, 1, self.g).expand(B, self.out_ch, self.g)

    def fused(self, coeffs: torch.Tensor, offset: int | None = None):
        """Per-sample fused kernels [B, O, I/groups, kh, kw] and bias [B, O] (or None)."""
        eta = self.eta(coeffs, offset)
        w = torch.einsum("bot,toikl->boikl", eta, self.weight)
        b = None
        if self.mixed_bias is not None:
            b = torch.einsum("bot,to->bo", eta, self.mixed_bias)
        if self.bias is not None:
            b = self.bias.expand(eta.shape[0], -1) if b is None else b + self.bias
        return w, b

    def forward(self, x: torch.Tensor, coeffs: torch.Tensor, offset: int | None = None) -> torch.Tensor:
        B = x.shape[0]
        impl = self.impl
        x, p = _apply_pad(x, self.padding)
        if impl == "stacked":
            O, g = self.out_ch, self.g
            w = self.weight.transpose(0, 1).reshape(O * g, *self.weight.shape[2:])  # channel o*g + t
            y = F.conv2d(x, w, None, self.stride, p, self.dilation, self.groups)
            y = y.view(B, O, g, y.shape[2], y.shape[3])
            eta = self.eta(coeffs, offset)
            y = (y * eta[:, :, :, None, None]).sum(2)
            b = None
            if self.mixed_bias is not None:
                b = torch.einsum("bot,to->bo", eta, self.mixed_bias)
            if self.bias is not None:
                b = self.bias.expand(B, -1) if b is None else b + self.bias
            return y if b is None else y + b[:, :, None, None]
        w, b = self.fused(coeffs, offset)
        if B == 1:
            return F.conv2d(x, w[0], None if b is None else b[0], self.stride, p, self.dilation, self.groups)
        C, H, W = x.shape[1:]
        y = F.conv2d(x.reshape(1, B * C, H, W), w.reshape(B * self.out_ch, *w.shape[2:]),
                     None if b is None else b.reshape(-1), self.stride, p, self.dilation, self.groups * B)
        return y.view(B, self.out_ch, y.shape[2], y.shape[3])

    def emit(self, em: Emitter, x: str, coeffs: str, name: str) -> str:
        return em.one(name, "dynamic_conv2d", [x, coeffs], weight=em.weight(f"{name}.weight", self.weight),
                      mode=self.mode, coeff_offset=int(self.coeff_offset),
                      mixed_bias=em.weight(f"{name}.mixed_bias", self.mixed_bias)
                      if self.mixed_bias is not None else None,
                      bias=em.weight(f"{name}.bias", self.bias) if self.bias is not None else None,
                      **_conv_attrs(self.stride, self.padding, self.dilation, self.groups))


class CPM(nn.Module):
    """Coefficient prediction module: global avg pool -> fc1 (-> ReLU -> fc2) -> gate.

    gate "sigmoid": eta = sigmoid(h); gate "softmax": eta = softmax(h / temperature) over consecutive chunks of
    `softmax_group` entries (default: all n_out). `temperature` is a plain float attribute (anneal it freely)."""

    def __init__(self, in_ch, hidden, n_out, gate="sigmoid", temperature=1.0, softmax_group=None, two_layer=True,
                 bias=True):
        super().__init__()
        assert gate in ("sigmoid", "softmax")
        self.in_ch, self.hidden, self.n_out, self.gate = in_ch, hidden, n_out, gate
        self.temperature = float(temperature)
        self.softmax_group = int(softmax_group) if softmax_group else n_out
        assert n_out % self.softmax_group == 0
        self.two_layer = two_layer
        self.fc1 = nn.Linear(in_ch, hidden if two_layer else n_out, bias=bias)
        self.fc2 = nn.Linear(hidden, n_out, bias=bias) if two_layer else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x.mean(dim=(2, 3)))
        if self.fc2 is not None:
            h = self.fc2(F.relu(h))
        if self.gate == "sigmoid":
            return torch.sigmoid(h)
        B = h.shape[0]
        return F.softmax(h.view(B, -1, self.softmax_group) / self.temperature, dim=2).reshape(B, self.n_out)

    def emit(self, em: Emitter, x: str, name: str) -> str:
        w = lambda suffix, t: em.weight(f"{name}.{suffix}", t) if t is not None else None  # noqa: E731
        attrs = dict(fc1_weight=w("fc1.weight", self.fc1.weight), fc1_bias=w("fc1.bias", self.fc1.bias))
        if self.fc2 is not None:
            attrs.update(fc2_weight=w("fc2.weight", self.fc2.weight), fc2_bias=w("fc2.bias", self.fc2.bias))
        attrs["gate"] = self.gate
        if self.gate == "softmax":
            attrs.update(temperature=float(self.temperature), softmax_group=int(self.softmax_group))
        return em.one(name, "cpm", [x], **attrs)


class DyBlock(nn.Module):
    """A block in the paper's layout: ONE CPM reads the block input and feeds every DynamicConv2d in `body`
    (each through its own coeff_offset slice). `body` is a list of modules applied in order (dynamic convs get
    the coefficients). Optional residual `add` of the block input (shapes must match), then `post` (e.g. ReLU).

    The CPM is built here so that its n_out matches the consumers: per_channel convs read O*g coefficients each,
    per_layer convs g each (with softmax gate use softmax_group = g)."""

    def __init__(self, in_ch: int, body: Sequence[nn.Module], cpm_hidden: int, gate="sigmoid", temperature=1.0,
                 softmax_group=None, two_layer=True, residual=False, post: nn.Module | None = None):
        super().__init__()
        self.body = nn.ModuleList(body)
        off = 0
        for m in self.body:
            if isinstance(m, DynamicConv2d):
                m.coeff_offset = off
                off += m.n_coeffs
        assert off > 0, "a DyBlock needs at least one DynamicConv2d"
        self.cpm = CPM(in_ch, cpm_hidden, off, gate=gate, temperature=temperature, softmax_group=softmax_group,
                       two_layer=two_layer)
        self.residual = residual
        self.post = post if post is not None else nn.Identity()

    def forward(self, x):
        c = self.cpm(x)
        h = x
        for m in self.body:
            h = m(h, c) if isinstance(m, DynamicConv2d) else m(h)
        if self.residual:
            h = h + x
        return self.post(h)

    def emit(self, em: Emitter, x: str, name: str) -> str:
        c = self.cpm.emit(em, x, f"{name}.cpm")
        h = x
        for i, m in enumerate(self.body):
            if isinstance(m, DynamicConv2d):
                h = m.emit(em, h, c, f"{name}.body.{i}")
            else:
                h = emit_module(m, em, h, f"{name}.body.{i}")
        if self.residual:
            h = em.one(f"{name}.add", "add", [h, x])
        return emit_module(self.post, em, h, f"{name}.post")


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        B, C, H, W = x.shape
        return x.view(B, self.groups, C // self.groups, H, W).transpose(1, 2).reshape(B, C, H, W)

    def emit(self, em: Emitter, x: str, name: str) -> str:
        return em.one(name, "channel_shuffle", [x], groups=int(self.groups))


class ChannelSplitConcat(nn.Module):
    """split along channels, apply `branch` to chunk `branch_index`, concat back in `order` (ShuffleNet-v2 style)."""

    def __init__(self, sizes: Sequence[int], branch: nn.Module | None = None, branch_index=1, order=None):
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        self.branch = branch if branch is not None else nn.Identity()
        self.branch_index = branch_index
        self.order = list(order) if order is not None else list(range(len(self.sizes)))

    def forward(self, x):
        parts = list(torch.split(x, self.sizes, dim=1))
        parts[self.branch_index] = self.branch(parts[self.branch_index])
        return torch.cat([parts[i] for i in self.order], dim=1)

    def emit(self, em: Emitter, x: str, name: str) -> str:
        outs = em.node(f"{name}.split", "channel_split", [x],
                       [f"{name}.split.{i}" for i in range(len(self.sizes))], sizes=self.sizes)
        outs[self.branch_index] = emit_module(self.branch, em, outs[self.branch_index], f"{name}.branch")
        return em.one(f"{name}.concat", "concat", [outs[i] for i in self.order], axis=1)


class DyNet(nn.Module):
    """stem -> blocks -> head, plus the graph meta used by the exporter."""

    def __init__(self, stem: nn.Module, blocks: Sequence[nn.Module], head: nn.Module, *, name="dynet",
                 input_shape=(1, 1, 28, 28), preprocess=None, classes=None):
        super().__init__()
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.head = head
        self.graph_name = name
        self.input_shape = list(input_shape)
        self.preprocess = dict(preprocess) if preprocess else None
        self.classes = list(classes) if classes else None

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))

    def emit(self, em: Emitter, x: str, name: str = "") -> str:
        x = emit_module(self.stem, em, x, "stem")
        for i, b in enumerate(self.blocks):
            x = emit_module(b, em, x, f"blocks.{i}")
        return emit_module(self.head, em, x, "head")

    def set_cpm_temperature(self, t: float):
        for m in self.modules():
            if isinstance(m, CPM) and m.gate == "softmax":
                m.temperature = float(t)
