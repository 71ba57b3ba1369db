"""torch.fx tracing of an `nn.Module` into DynQ graph nodes (used by tools/export.py; see its docstring for the
supported layers and functions).

How it works: the model is traced with a `torch.fx.Tracer` whose leaves are the standard `torch.nn` layers and the
tools/dynet.py modules that emit their own nodes; then the traced graph is *run* on a zero input by an
`fx.Interpreter` that emits one graph node per traced operation, knowing every real tensor shape (so `x.view(n, -1)`
is recognised as a flatten, a `view` / `transpose` / `view` as a channel shuffle, and `chunk` / `split` results get
their sizes). Non-tensor values (`x.size(0)`, `x.shape`) are followed but emit nothing.

Node names: a module call is named by the module's qualified name (`layer1.0.conv1`; `.1`, `.2`… when one module
is called again); a function or method is named `<qualified name of the module whose forward called it>.<fx name>`
(`layer1.0.add`, then `layer1.0.add.1`…). Weights are named `<module>.<parameter>` (`layer1.0.conv1.weight`).
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

import dynet
from dynet import Emitter, pad4, pair
from export import ExportError


class GraphEmitter(Emitter):
    """`dynet.Emitter` plus: a weight used by several nodes (a module called twice) keeps one name; unique names."""

    def __init__(self):
        super().__init__()
        self._sources: dict[str, int] = {}
        self._uses: dict[str, int] = {}

    def weight(self, name, t):
        if name in self.tensors and isinstance(t, torch.Tensor) and self._sources.get(name) == id(t):
            return name
        super().weight(name, t)
        if isinstance(t, torch.Tensor):
            self._sources[name] = id(t)
        return name

    def unique(self, name: str) -> str:
        """`name`, or `name.1`, `name.2`… if a node or tensor already has it."""
        base = name
        k = self._uses.get(base, 0)
        while name in self._node_names or name in self._act_names:
            k += 1
            name = f"{base}.{k}"
        self._uses[base] = k
        return name

    def rename_tensor(self, old: str, new: str) -> None:
        if new in self._act_names:
            raise ExportError(f"output name {new!r} is already a tensor of the graph")
        for n in self.nodes:
            n["inputs"] = [new if i == old else i for i in n["inputs"]]
            n["outputs"] = [new if o == old else o for o in n["outputs"]]
        self._act_names.discard(old)
        self._act_names.add(new)


# ----------------------------------------------------------------------------------------------------------------
# tracing

_DYNET_LEAVES = (dynet.Conv2d, dynet.DynamicConv2d, dynet.CPM, dynet.ChannelShuffle, dynet.ChannelSplitConcat)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _is_leaf(m: nn.Module) -> bool:
    if isinstance(m, _DYNET_LEAVES):
        return True
    return m.__module__.startswith("torch.nn") and not isinstance(m, _CONTAINERS)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class _Tracer(fx.Tracer):
    """Leaves as `_is_leaf`; records the qualified name of the module whose forward created each node."""

    def __init__(self):
        super().__init__()
        self._dq_scope: list[str] = []

    def is_leaf_module(self, m, qualname):
        return _is_leaf(m)

    def call_module(self, m, forward, args, kwargs):
        qn = self.path_of_module(m)
        if self.is_leaf_module(m, qn):
            return super().call_module(m, forward, args, kwargs)
        self._dq_scope.append(qn)
        try:
            return super().call_module(m, forward, args, kwargs)
        except ExportError:
            raise
        except Exception as e:  # noqa: BLE001 - fx raises many kinds; report one line naming the module
            raise ExportError(f"{qn} ({type(m).__name__}): forward() cannot be traced: {_first_line(e)}") from None
        finally:
            self._dq_scope.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["scope"] = self._dq_scope[-1] if self._dq_scope else ""
        return node


@dataclass
class _Shuffle:
    """A `[1, a, b, H, W]` view of tensor `src` (`[1, a·b, H, W]`), possibly with dims 1 and 2 transposed."""
    src: str
    a: int
    b: int
    transposed: bool = False


class _Split(tuple):
    """The tensor names of a channel split's outputs."""


def trace_to_graph(model: nn.Module, input_shape, *, cpm_temperature=None):
    """Returns (emitter, output tensor names) for `model` run on one `input_shape` input."""
    em = GraphEmitter()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(*input_shape)
            outs = _Builder(em, cpm_temperature).emit(model, "", "input", x)
    finally:
        model.train(was_training)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    for o in outs:
        if not isinstance(o, str) or o == "input":
            raise ExportError(f"{type(model).__name__}: the model's output must be a tensor computed from the input")
    return em, outs


class _Builder:
    def __init__(self, em: GraphEmitter, cpm_temperature):
        self.em = em
        self.temperature = cpm_temperature

    # entry: a whole module (traced, or emitted directly when it is a leaf)
    def emit(self, module: nn.Module, prefix: str, x_name: str, x: torch.Tensor):
        if _is_leaf(module):
            y = module(x)
            return self.call_module(module, prefix or type(module).__name__, [x_name], [x], {}, y)
        tracer = _Tracer()
        try:
            graph = tracer.trace(module)
        except ExportError as e:
            if prefix:
                raise ExportError(f"{prefix}.{e}") from None
            raise
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"{prefix or 'model'} ({type(module).__name__}): forward() cannot be traced: "
                              f"{_first_line(e)}") from None
        gm = fx.GraphModule(tracer.root, graph)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ExportError(f"{prefix or 'model'} ({type(module).__name__}): forward() must take exactly one "
                              f"tensor, it takes {len(placeholders)} arguments")
        return _Run(gm, self, prefix).go(x_name, x)

    # ------------------------------------------------------------------------------------------------------------
    # modules

    def node(self, name, op, inputs, **attrs) -> str:
        return self.em.one(self.em.unique(name), op, inputs, **attrs)

    def call_module(self, m: nn.Module, qn: str, syms, vals, kwargs, y):
        em = self.em
        where = f"{qn} ({type(m).__name__})"

        def refuse(why):
            raise ExportError(f"{where}: {why}")

        x = syms[0] if syms else None
        xin = vals[0] if vals else None
        if isinstance(m, nn.Flatten):
            return self._reshape(qn, where, x, xin, y)
        if not isinstance(x, str) and not isinstance(m, dynet.DynamicConv2d):
            refuse("its input is not a tensor the graph can name")
        if isinstance(m, dynet.DynamicConv2d):
            if len(syms) < 2 or not isinstance(syms[1], str):
                refuse("needs (x, coefficients) tensors")
            offset = vals[2] if len(vals) > 2 else kwargs.get("offset")
            old = m.coeff_offset
            if offset is not None:
                m.coeff_offset = int(offset)
            try:
                return m.emit(em, syms[0], syms[1], em.unique(qn))
            finally:
                m.coeff_offset = old
        if isinstance(m, dynet.CPM):
            out = m.emit(em, x, em.unique(qn))
            if self.temperature is not None and m.gate == "softmax":
                em.nodes[-1]["temperature"] = float(self.temperature)
            return out
        if isinstance(m, dynet.ChannelSplitConcat):
            name = em.unique(qn)
            outs = em.node(f"{name}.split", "channel_split", [x], [f"{name}.split.{i}" for i in range(len(m.sizes))],
                           sizes=m.sizes)
            parts = list(torch.split(xin, m.sizes, dim=1))
            outs = list(outs)
            outs[m.branch_index] = self.emit(m.branch, f"{qn}.branch", outs[m.branch_index], parts[m.branch_index])
            return em.one(f"{name}.concat", "concat", [outs[i] for i in m.order], axis=1)
        if isinstance(m, (dynet.Conv2d, dynet.ChannelShuffle)):
            return m.emit(em, x, em.unique(qn))
        if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)):
            return x
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                refuse(f"padding_mode {m.padding_mode!r} (only 'zeros')")
            if isinstance(m.padding, str):
                if m.padding == "valid":
                    p4 = (0, 0, 0, 0)
                else:  # "same": PyTorch puts the odd extra pixel at the bottom / right
                    th, tw = (d * (k - 1) for d, k in zip(m.dilation, m.kernel_size))
                    p4 = (th // 2, tw // 2, th - th // 2, tw - tw // 2)
            else:
                p4 = pad4(m.padding)
            name = em.unique(qn)
            return em.one(name, "conv2d", [x], weight=em.weight(f"{qn}.weight", m.weight),
                          bias=em.weight(f"{qn}.bias", m.bias) if m.bias is not None else None,
                          stride=list(m.stride), padding=list(p4), dilation=list(m.dilation), groups=int(m.groups))
        if isinstance(m, nn.BatchNorm2d):
            if m.running_mean is None or m.running_var is None:
                refuse("track_running_stats=False (eval mode would use batch statistics)")
            c = m.num_features
            w = m.weight if m.weight is not None else torch.ones(c)
            b = m.bias if m.bias is not None else torch.zeros(c)
            return self.node(qn, "batchnorm", [x], weight=em.weight(f"{qn}.weight", w), bias=em.weight(f"{qn}.bias", b),
                             running_mean=em.weight(f"{qn}.running_mean", m.running_mean),
                             running_var=em.weight(f"{qn}.running_var", m.running_var), eps=float(m.eps))
        act = _activation_module(m)
        if act is not None:
            op, attrs = act
            return self.node(qn, op, [x], **attrs)
        if isinstance(m, nn.Softmax):
            return self._softmax(qn, where, x, xin, m.dim)
        if isinstance(m, nn.MaxPool2d):
            if pair(m.dilation) != (1, 1) or m.return_indices:
                refuse("dilation and return_indices are not supported")
            return self._pool(qn, where, "maxpool", x, xin, y, m.kernel_size, m.stride, m.padding, True)
        if isinstance(m, nn.AvgPool2d):
            if m.divisor_override is not None:
                refuse("divisor_override is not supported")
            return self._pool(qn, where, "avgpool", x, xin, y, m.kernel_size, m.stride, m.padding, m.count_include_pad)
        if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self._adaptive(qn, where, "maxpool" if isinstance(m, nn.AdaptiveMaxPool2d) else "avgpool", x, xin, y)
        if isinstance(m, nn.Linear):
            if xin.dim() != 2:
                refuse(f"input must be [1, F] (flatten first), not {list(xin.shape)}")
            return self.node(qn, "linear", [x], weight=em.weight(f"{qn}.weight", m.weight),
                             bias=em.weight(f"{qn}.bias", m.bias) if m.bias is not None else None)
        refuse("not supported by the DynQ graph format (docs/graph-format.md)")

    def _softmax(self, name, where, x, xin, dim):
        if xin.dim() != 2 or dim not in (1, -1):
            raise ExportError(f"{where}: softmax only over the features of a [1, F] tensor")
        return self.node(name, "softmax", [x])

    def _pool(self, name, where, op, x, xin, y, kernel, stride, padding, include_pad):
        k = pair(kernel)
        s = pair(stride) if stride not in (None, [], ()) else k
        t, l, b, r = pad4(padding)
        if xin.dim() != 4:
            raise ExportError(f"{where}: input must be [1, C, H, W]")
        H, W = xin.shape[2:]
        floor_hw = [(n + 2 * p - kk) // ss + 1 for n, p, kk, ss in ((H, t, k[0], s[0]), (W, l, k[1], s[1]))]
        extra = [y.shape[2] - floor_hw[0], y.shape[3] - floor_hw[1]]
        if extra != [0, 0]:  # ceil_mode gave one more window: for max pooling that is extra bottom / right padding
            if op != "maxpool":
                raise ExportError(f"{where}: ceil_mode=True changes the output size of average pooling "
                                  "(not supported; use ceil_mode=False)")
            b += (floor_hw[0] - 1 + extra[0]) * s[0] + k[0] - (H + t + b)
            r += (floor_hw[1] - 1 + extra[1]) * s[1] + k[1] - (W + l + r)
        attrs = dict(kernel=list(k), stride=list(s), padding=[t, l, b, r])
        if op == "avgpool":
            attrs["count_include_pad"] = bool(include_pad)
        return self.node(name, op, [x], **attrs)

    def _adaptive(self, name, where, op, x, xin, y):
        if xin.dim() != 4:
            raise ExportError(f"{where}: input must be [1, C, H, W]")
        (H, W), (h, w) = xin.shape[2:], y.shape[2:]
        if (h, w) == (H, W):
            return x
        if (h, w) == (1, 1) and op == "avgpool":
            return self.node(name, "global_avgpool", [x])
        if H % h or W % w:
            raise ExportError(f"{where}: output {h}x{w} does not divide the input {H}x{W}")
        kern = [H // h, W // w]
        attrs = dict(kernel=kern, stride=kern, padding=[0, 0, 0, 0])
        if op == "avgpool":
            attrs["count_include_pad"] = True
        return self.node(name, op, [x], **attrs)

    def _reshape(self, name, where, x, xin, y):
        """flatten / identity / the two views of a channel shuffle, told apart by the real shapes."""
        ins, outs = list(xin.shape), list(y.shape)
        if isinstance(x, _Shuffle):
            if x.transposed and outs == [1, x.a * x.b] + ins[3:]:
                return self.node(name, "channel_shuffle", [x.src], groups=x.a)
            raise ExportError(f"{where}: only the view / transpose(1, 2) / view channel shuffle is supported "
                              f"for 5-d tensors")
        if outs == ins:
            return x
        if len(ins) == 4 and outs == [1, int(np.prod(ins[1:]))]:
            return self.node(name, "flatten", [x])
        if len(ins) == 4 and len(outs) == 5 and outs[0] == 1 and outs[1] * outs[2] == ins[1] and outs[3:] == ins[2:]:
            return _Shuffle(x, outs[1], outs[2])
        if len(ins) == 2 and outs == ins:
            return x
        raise ExportError(f"{where}: reshape {ins} -> {outs} is not a flatten or a channel shuffle")


def _activation_module(m):
    if type(m) is nn.ReLU:
        return "relu", {}
    if type(m) is nn.ReLU6 or (type(m) is nn.Hardtanh and (m.min_val, m.max_val) == (0.0, 6.0)):
        return "relu6", {}
    if type(m) is nn.LeakyReLU:
        return "leaky_relu", {"negative_slope": float(m.negative_slope)}
    if type(m) is nn.SiLU:
        return "silu", {}
    if type(m) is nn.Hardswish:
        return "hardswish", {}
    if type(m) is nn.Hardsigmoid:
        return "hardsigmoid", {}
    if type(m) is nn.Sigmoid:
        return "sigmoid", {}
    if type(m) is nn.GELU and m.approximate == "none":
        return "gelu", {}
    return None


_ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.silu: "silu", F.hardswish: "hardswish",
              F.hardsigmoid: "hardsigmoid", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
              F.leaky_relu: "leaky_relu", torch.relu_: "relu", F.gelu: "gelu"}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid"}
_ADD = {operator.add, operator.iadd, torch.add}
_IDENTITY_FUNCS = {F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout}


class _Run(fx.Interpreter):
    """Runs the traced module and emits one node per operation (see the file comment)."""

    def __init__(self, gm: fx.GraphModule, b: _Builder, prefix: str):
        super().__init__(gm)
        self.b = b
        self.prefix = prefix
        self.sym: dict[fx.Node, object] = {}

    def go(self, x_name: str, x: torch.Tensor):
        self._x_name = x_name
        try:
            self.run(x)
        except ExportError as e:  # fx appends the failing node's description on further lines: keep one line
            raise ExportError(_first_line(e)) from None
        return self._outputs

    def qual(self, qn: str) -> str:
        return f"{self.prefix}.{qn}" if self.prefix and qn else (self.prefix or qn)

    def run_node(self, n: fx.Node):
        value = super().run_node(n)
        if n.op == "placeholder":
            self.sym[n] = self._x_name
        elif n.op == "output":
            self._outputs = fx.node.map_arg(n.args[0], lambda a: self.sym[a])
        elif n.op == "get_attr":
            self.sym[n] = None
        else:
            self.sym[n] = self.translate(n, value)
        return value

    def _args(self, n: fx.Node):
        syms = fx.node.map_arg(n.args, lambda a: self.sym[a])
        vals = fx.node.map_arg(n.args, lambda a: self.env[a])
        return syms, vals

    def translate(self, n: fx.Node, y):
        syms, vals = self._args(n)
        kw = fx.node.map_arg(n.kwargs, lambda a: self.env[a])
        if n.op == "call_module":
            m = self.module.get_submodule(n.target)
            return self.b.call_module(m, self.qual(n.target), list(syms), list(vals), kw, y)
        scope = self.qual(n.meta.get("scope", ""))
        base = re.sub(r"_\d+$", "", n.name)  # fx numbers names graph-wide; unique() numbers them per scope
        name = f"{scope}.{base}" if scope else base
        t = n.target
        tname = t if isinstance(t, str) else getattr(t, "__name__", str(t))
        where = f"{name} ({tname})"
        b = self.b

        def refuse(why="not supported by the DynQ graph format (docs/graph-format.md)"):
            raise ExportError(f"{where}: {why}")

        def arg(i, key, default=None):
            if len(vals) > i:
                return vals[i]
            return kw.get(key, default)

        if not isinstance(y, torch.Tensor) and not (isinstance(y, (tuple, list)) and y and all(isinstance(v, torch.Tensor) for v in y)):
            if t is operator.getitem and isinstance(syms[0], _Split):
                refuse("indexing a split with a slice is not supported")
            return None  # sizes, shapes, ints: followed by the tracer, nothing to emit
        if t is operator.getitem:
            if isinstance(syms[0], _Split) and isinstance(vals[1], int):
                return syms[0][vals[1]]
            refuse("tensor indexing is not supported")
        x = syms[0] if syms else None
        xin = vals[0] if vals else None
        method = n.op == "call_method"
        if t in _ADD or (method and t in ("add", "add_")):
            if len(vals) != 2 or not all(isinstance(v, torch.Tensor) for v in vals) or "alpha" in kw:
                refuse("only the sum of two tensors is supported")
            if vals[0].shape != vals[1].shape:
                refuse(f"add of different shapes {list(vals[0].shape)} and {list(vals[1].shape)} (no broadcasting)")
            return b.node(name, "add", [syms[0], syms[1]])
        if t in (torch.cat, torch.concat):
            dim = arg(1, "dim", 0)
            parts = list(syms[0])
            d = vals[0][0].dim()
            if dim % d != 1:
                refuse("concatenation only along dim 1 (channels)")
            return b.node(name, "concat", parts, axis=1)
        if t in _IDENTITY_FUNCS or (method and t in ("contiguous", "clone", "detach")) or t is torch.clone:
            return x
        if t in _ACT_FUNCS or (method and t in _ACT_METHODS):
            op = _ACT_FUNCS[t] if not method else _ACT_METHODS[t]
            attrs = {}
            if op == "leaky_relu":
                attrs["negative_slope"] = float(arg(1, "negative_slope", 0.01))
            if op == "gelu" and kw.get("approximate", "none") != "none":
                refuse("only the exact (erf) GELU, not approximate='tanh'")
            return b.node(name, op, [x], **attrs)
        if t is F.hardtanh and (arg(1, "min_val", -1.0), arg(2, "max_val", 1.0)) == (0.0, 6.0):
            return b.node(name, "relu6", [x])
        if t in (F.softmax, torch.softmax) or (method and t == "softmax"):
            return b._softmax(name, where, x, xin, arg(1, "dim"))
        if t in (torch.flatten,) or (method and t in ("flatten", "view", "reshape")) or t is torch.reshape:
            return b._reshape(name, where, x, xin, y)
        if (method and t in ("transpose", "permute")) or t in (torch.transpose, torch.permute):
            if isinstance(x, _Shuffle) and not x.transposed:
                dims = [d % 5 for d in (vals[1:] if t in ("transpose", torch.transpose) else
                                        (vals[1] if len(vals) == 2 and isinstance(vals[1], (tuple, list)) else vals[1:]))]
                if dims in ([1, 2], [2, 1], [0, 2, 1, 3, 4]):
                    return _Shuffle(x.src, x.a, x.b, True)
            refuse("transpose / permute only inside a channel shuffle (view [1, g, C/g, H, W], transpose(1, 2), view)")
        if t in (torch.split, torch.chunk) or (method and t in ("split", "chunk")):
            dim = arg(2, "dim", 0)
            if xin.dim() != 4 or dim % 4 != 1:
                refuse("split / chunk only along dim 1 (channels) of a [1, C, H, W] tensor")
            sizes = [int(v.shape[1]) for v in y]
            outs = b.em.node(b.em.unique(name), "channel_split", [x], [f"{name}.{i}" for i in range(len(sizes))],
                             sizes=sizes)
            return _Split(outs)
        if t in (torch.mean,) or (method and t == "mean"):
            dims = arg(1, "dim")
            dims = [dims] if isinstance(dims, int) else list(dims or [])
            if xin.dim() != 4 or sorted(d % 4 for d in dims) != [2, 3]:
                refuse("mean only over dims (2, 3) (global average pooling)")
            g = b.node(name, "global_avgpool", [x])
            return g if y.dim() == 4 else b.node(f"{name}.flatten", "flatten", [g])
        if t is F.adaptive_avg_pool2d or t is F.adaptive_max_pool2d:
            return b._adaptive(name, where, "avgpool" if t is F.adaptive_avg_pool2d else "maxpool", x, xin, y)
        if t is F.max_pool2d:
            if pair(arg(4, "dilation", 1)) != (1, 1) or arg(6, "return_indices", False):
                refuse("dilation and return_indices are not supported")
            k = arg(1, "kernel_size")
            return b._pool(name, where, "maxpool", x, xin, y, k, arg(2, "stride", None) or k, arg(3, "padding", 0), True)
        if t is F.avg_pool2d:
            if arg(6, "divisor_override") is not None:
                refuse("divisor_override is not supported")
            k = arg(1, "kernel_size")
            return b._pool(name, where, "avgpool", x, xin, y, k, arg(2, "stride", None) or k, arg(3, "padding", 0),
                           arg(5, "count_include_pad", True))
        refuse()
