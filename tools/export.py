"""Export a tools/dynet.py model to the DynQ graph format (docs/graph-format.md).

    from export import export
    export(model, "fixtures/fmnist/model")   # -> model.graph.json + model.safetensors

BatchNorm is exported as `batchnorm` nodes (the Swift quantizer folds it). The safetensors file is written by hand
(no dependency on the `safetensors` package): 8-byte little-endian header length, JSON header
`{name: {dtype, shape, data_offsets}}` padded with spaces to a multiple of 8, then the raw little-endian bytes.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from dynet import Emitter

FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
           np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("int16"): "I16", np.dtype("int32"): "I32",
           np.dtype("int64"): "I64", np.dtype("bool"): "BOOL"}
_NP = {v: k for k, v in _DTYPES.items()}


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
           output_name="logits") -> dict:
    """Writes `<path_prefix>.graph.json` and `<path_prefix>.safetensors`; returns the graph document.

    Meta defaults come from the model (`graph_name`, `input_shape`, `preprocess`, `classes` of dynet.DyNet).
    The output tensor of the last node is renamed `output_name`."""
    em = Emitter()
    out = model.emit(em, "input")
    if output_name and out != output_name:
        last = em.nodes[-1]
        assert last["outputs"] == [out], "graph output must be the last node's only output"
        last["outputs"] = [output_name]
        out = output_name
    doc = graph_document(em.nodes, [out], name=name or getattr(model, "graph_name", "dynet"),
                         input_shape=input_shape or getattr(model, "input_shape"),
                         preprocess=preprocess if preprocess is not None else getattr(model, "preprocess", None),
                         classes=classes if classes is not None else getattr(model, "classes", None))
    prefix = Path(path_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    dump_graph(doc, f"{prefix}.graph.json")
    write_safetensors(f"{prefix}.safetensors", em.tensors)
    return doc
