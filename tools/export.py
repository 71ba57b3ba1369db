"""Export a PyTorch model to the DynQ graph format (docs/graph-format.md).

    from export import export
    export(model, "out/mine", input_shape=(1, 3, 32, 32))   # -> out/mine.graph.json + out/mine.safetensors

Any `nn.Module` built from standard layers exports: the model is traced with torch.fx (`forward()` code is
followed, so residual adds, `torch.cat`, channel shuffle (`view` / `transpose` / `view`) and channel splits
(`chunk` / `split`) written in `forward()` work), and each traced operation becomes one graph node. Supported:

- modules: Conv2d (any padding incl. "same"/"valid", zero padding mode, groups, dilation), BatchNorm2d, ReLU,
  ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid, Sigmoid, GELU (exact), Softmax (features), Dropout / Dropout2d / Identity
  (identity at export), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (output 1, or an exact divisor of the input),
  Flatten, Linear; the tools/dynet.py modules Conv2d, DynamicConv2d, CPM, ChannelShuffle, ChannelSplitConcat
  (leaves that emit their own nodes); DyBlock, DyNet and every other container are traced through.
- functions / methods: `+` / `torch.add` of two same-shape tensors, `torch.cat(dim=1)`, `torch.flatten(x, 1)`,
  `x.view(n, -1)` / `reshape` (flatten, identity, channel shuffle), `transpose(1, 2)` inside a shuffle,
  `chunk` / `split` along channels, `F.relu` (and the other activations), `F.dropout`, pooling functions,
  `x.mean((2, 3))`, `F.softmax(x, 1)`.

Anything else is refused with one line naming the module's qualified name and type (`ExportError`).

The model is exported in eval mode (it is put in eval mode for the export and restored afterwards). The CPM
temperature written for a softmax-gated CPM is the value the module holds (`CPM.temperature`, as annealed by the
training script) unless `cpm_temperature=` is given, which overrides it in the exported graph only.

BatchNorm is exported as `batchnorm` nodes (the Swift quantizer folds it). The safetensors file is written by hand
(no dependency on the `safetensors` package): 8-byte little-endian header length, JSON header
`{name: {dtype, shape, data_offsets}}` padded with spaces to a multiple of 8, then the raw little-endian bytes.
"""
from __future__ import annotations

import json
import operator
import struct
from pathlib import Path

import numpy as np

FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
           np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("int16"): "I16", np.dtype("int32"): "I32",
           np.dtype("int64"): "I64", np.dtype("bool"): "BOOL"}
_NP = {v: k for k, v in _DTYPES.items()}


class ExportError(ValueError):
    """A model (part) the DynQ graph format cannot express. The message is one line naming the module."""


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    header: dict = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        raw = a.tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = _NP[info["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[base + b:base + e], dtype=dt).reshape(info["shape"]).astype(
            dt.newbyteorder("="))
    return out


def graph_document(nodes: list[dict], outputs: list[str], *, name: str, input_shape, preprocess=None,
                   classes=None) -> dict:
    doc = {"format": "dynq-graph", "version": 1, "name": name,
           "input": {"name": "input", "shape": [int(s) for s in input_shape], "layout": "NCHW"}}
    if preprocess:
        doc["input"]["preprocess"] = {"scale": float(preprocess["scale"]),
                                      "mean": [float(v) for v in preprocess["mean"]],
                                      "std": [float(v) for v in preprocess["std"]]}
    doc["outputs"] = list(outputs)
    if classes:
        doc["classes"] = list(classes)
    doc["nodes"] = nodes
    return doc


def dump_graph(doc: dict, path) -> None:
    """One node per line: diff-friendly and still small."""
    lines = ["{"]
    keys = [k for k in doc if k != "nodes"]
    for k in keys:
        lines.append(f"  {json.dumps(k)}: {json.dumps(doc[k])},")
    lines.append('  "nodes": [')
    for i, n in enumerate(doc["nodes"]):
        lines.append("    " + json.dumps(n) + ("," if i + 1 < len(doc["nodes"]) else ""))
    lines.append("  ]")
    lines.append("}")
    Path(path).write_text("\n".join(lines) + "\n")


def export(model, path_prefix, *, name=None, input_shape=None, preprocess=None, classes=None,
           output_name="logits", cpm_temperature=None) -> dict:
    """Writes `<path_prefix>.graph.json` and `<path_prefix>.safetensors`; returns the graph document.

    Meta defaults come from the model (`graph_name`, `input_shape`, `preprocess`, `classes` of dynet.DyNet);
    `input_shape` ([1, C, H, W]) is required for any other model. The first graph output is named
    `output_name`. `cpm_temperature`: see the module docstring. Raises `ExportError` (one line) for anything
    the graph format cannot express."""
    from fx_export import trace_to_graph  # torch is only needed here

    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ExportError(f"{type(model).__name__}: pass input_shape=(1, C, H, W) (the model does not carry one)")
    shape = [int(s) for s in shape]
    if len(shape) != 4 or shape[0] != 1 or min(shape) <= 0:
        raise ExportError(f"input_shape must be (1, C, H, W) with positive sizes, not {tuple(shape)}")
    em, outputs = trace_to_graph(model, shape, cpm_temperature=cpm_temperature)
    if output_name and outputs[0] != output_name:
        em.rename_tensor(outputs[0], output_name)
        outputs[0] = output_name
    doc = graph_document(em.nodes, outputs, name=name or getattr(model, "graph_name", type(model).__name__.lower()),
                         input_shape=shape,
                         preprocess=preprocess if preprocess is not None else getattr(model, "preprocess", None),
                         classes=classes if classes is not None else getattr(model, "classes", None))
    prefix = Path(path_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    dump_graph(doc, f"{prefix}.graph.json")
    write_safetensors(f"{prefix}.safetensors", em.tensors)
    return doc
