#!/usr/bin/env python3
"""Peer comparison: DynQ int8 vs ONNX Runtime float32 and int8 on the same DynQ graph (optional; never part of CI).

    python3 tools/peer_bench.py                                  # the four zoo networks at 224x224 (dynq zoo)
    python3 tools/peer_bench.py --models mobilenetv2 dy-mobile --rounds 5 --runs 15
    python3 tools/peer_bench.py --graph G.graph.json --weights W.safetensors [--graph ... --weights ...]
    python3 tools/peer_bench.py --check        # converter check only: fixture vs PyTorch, zoo nets vs dynq run --float
    python3 tools/peer_bench.py --agreement fixtures/fmnist_heldout --calib fixtures/fmnist/calib_images.npy \
        --images fixtures/fmnist/test_images.npy [--images t10k-images.npy]     # int8 top-1 agreement, both tools

Needs `pip install onnx onnxruntime` and numpy, and builds `dynq` with `swift build -c release --product dynq`
(or takes `--dynq PATH`). Everything it writes goes to out/peer/ (ignored by git).

What it does, per model:
  1. DynQ: `dynq quantize --graph G --weights W --calib CALIB --method minmax` (the graph's own quantizer, BN folded).
  2. ONNX: the graph converted by hand (docs/graph-format.md) with the `onnx` package, opset 17. BatchNorm is folded
     into the preceding conv (static or dynamic: the kernels, the mixed bias and the bias are scaled per channel);
     a batchnorm after anything else stays a BatchNormalization node. `dynamic_conv2d` is its exported form: the
     CPM subgraph (GlobalAveragePool, Gemm, Relu, Gemm, Sigmoid or grouped Softmax), the per-sample kernel computed
     from the coefficients (MatMul of the coefficients with the stacked kernels, Reshape) and a Conv whose weight
     and bias are run-time tensors.
  3. ORT int8: `onnxruntime.quantization.quantize_static` of that model, QDQ format, per-channel int8 weights,
     activations u8 (default; `--activations s8` for int8), MinMax calibration on the same 4 images DynQ is
     calibrated on. ORT quantizes the computed dynamic kernels too (run-time-weight QDQ convs, per-tensor scales).
  4. Timing, interleaved: for every round, every model, every runtime in turn, `--runs` inferences each, batch 1,
     one thread (ORT: intra_op_num_threads = inter_op_num_threads = 1, sequential execution, all graph
     optimizations; DynQ is single-threaded). CPU time per inference: ORT around each `session.run`
     (time.process_time_ns of this process); DynQ from the CPU time of `dynq bench` processes: one with `--runs N`
     and one with `--runs 1`, the difference divided by the 3·(N − 1) invokes `dynq bench` makes between them
     (per run: one untimed invoke that sets the input, the timed one, one with the per-op observer), so model
     loading, packing and warm-up cancel. Each
     model's time is the median over rounds of the round's median (ORT) or mean (DynQ) CPU time per inference.
  5. Prints a table of times and the ratios DynQ / ORT (below 1: DynQ faster), for the same network and for each
     dynamic network against the static network a user would pick instead (Dy-mobile vs MobileNetV2, Dy-ResNet18 vs
     ResNet18, Dy-shuffle vs ShuffleNetV2, Dy-ResNet50 vs ResNet50).

`--agreement DIR` (DIR/model.graph.json + model.safetensors) instead measures accuracy, not time: the share of
`--images` (uint8 .npy) whose int8 top-1 class equals the float model's, for ORT int8 (`quantize_static` as in 3,
calibrated on the `--calib` images, against ORT float32) and for DynQ (`dynq quantize` with its defaults on the same
images, `dynq run --logits`, against `dynq run --float`). Both `--activations` types of ORT are reported.

Inputs: all three runtimes see the same image: uint8 pixels from a seeded generator, preprocessed as the graph says
(`x = (p·scale − mean) / std`) for ORT, raw uint8 for DynQ (its input table applies the same preprocessing).
`--check` converts the fmnist fixture and compares ORT float logits with the committed PyTorch logits, and four zoo
networks at 64x64 with `dynq run --float` (Dy-shuffle is left out: its random weights make logits of ~1e6 whose
order float rounding decides).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "peer"

# ---------------------------------------------------------------- graph + safetensors

_ST = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8, "U8": np.uint8, "I16": np.int16,
       "I32": np.int32, "I64": np.int64, "BOOL": np.bool_}


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as float32 (BF16 widened), by name."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=np.dtype(_ST[info["dtype"]]).newbyteorder("<"))
        out[name] = a.reshape(info["shape"]).astype(np.float32)
    return out


def load_graph(graph_path, weights_path):
    doc = json.loads(Path(graph_path).read_text())
    if doc.get("format") != "dynq-graph" or doc.get("version") != 1:
        sys.exit(f"peer_bench: {graph_path}: not a dynq-graph version 1 document")
    return doc, read_safetensors(weights_path)


def preprocess(doc, pixels_u8: np.ndarray) -> np.ndarray:
    """uint8 [N, C, H, W] → the float32 network input, as `input.preprocess` says."""
    p = doc["input"].get("preprocess", {})
    c = pixels_u8.shape[1]
    mean = np.array(p.get("mean", [0.0]), np.float32).reshape(1, -1, 1, 1) * np.ones((1, c, 1, 1), np.float32)
    std = np.array(p.get("std", [1.0]), np.float32).reshape(1, -1, 1, 1) * np.ones((1, c, 1, 1), np.float32)
    return ((pixels_u8.astype(np.float32) * np.float32(p.get("scale", 1.0)) - mean) / std).astype(np.float32)

# ---------------------------------------------------------------- BatchNorm folding


def fold_batchnorm(doc, weights):
    """Folds every batchnorm whose input comes from a conv2d / dynamic_conv2d read by nothing else into that conv.
    Returns new (nodes, weights); the remaining batchnorm nodes are converted as BatchNormalization."""
    weights = dict(weights)
    nodes = [dict(n) for n in doc["nodes"]]
    producer = {o: i for i, n in enumerate(nodes) for o in n["outputs"]}
    readers: dict[str, int] = {}
    for n in nodes:
        for t in n["inputs"]:
            readers[t] = readers.get(t, 0) + 1
    keep = []
    for n in nodes:
        if n["op"] == "batchnorm":
            src = n["inputs"][0]
            i = producer.get(src)
            conv = nodes[i] if i is not None else None
            if conv is not None and conv["op"] in ("conv2d", "dynamic_conv2d") and readers.get(src, 0) == 1 \
                    and src not in doc["outputs"]:
                eps = float(n.get("eps", 1e-5))
                a = weights[n["weight"]] / np.sqrt(weights[n["running_var"]] + eps)
                c = weights[n["bias"]] - weights[n["running_mean"]] * a
                w = weights[conv["weight"]]
                wname = conv["name"] + ".folded.weight"
                if conv["op"] == "conv2d":
                    weights[wname] = w * a.reshape(-1, 1, 1, 1)
                else:
                    weights[wname] = w * a.reshape(1, -1, 1, 1, 1)
                    if conv.get("mixed_bias"):
                        weights[conv["name"] + ".folded.mixed_bias"] = weights[conv["mixed_bias"]] * a.reshape(1, -1)
                        conv["mixed_bias"] = conv["name"] + ".folded.mixed_bias"
                old_b = weights[conv["bias"]] if conv.get("bias") else np.zeros_like(a)
                weights[conv["name"] + ".folded.bias"] = old_b * a + c
                conv["weight"], conv["bias"] = wname, conv["name"] + ".folded.bias"
                conv["outputs"] = [n["outputs"][0]]
                producer[n["outputs"][0]] = i
                continue
        keep.append(n)
    return keep, weights

# ---------------------------------------------------------------- DynQ graph → ONNX


def to_onnx(doc, weights, opset=17):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes_in, weights = fold_batchnorm(doc, weights)
    inits, nodes = {}, []
    counter = [0]

    def uniq(base):
        counter[0] += 1
        return f"{base}__{counter[0]}"

    def const(name, array, dtype=np.float32):
        if name not in inits:
            inits[name] = numpy_helper.from_array(np.ascontiguousarray(np.asarray(array, dtype=dtype)), name)
        return name

    def op(kind, inputs, outputs=None, name=None, **attrs):
        outputs = outputs or [uniq(name or kind)]
        nodes.append(helper.make_node(kind, inputs, outputs, name=uniq(name or kind), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def pair(v, default):
        return [int(x) for x in (v if v is not None else default)]

    def conv_attrs(n):
        return dict(strides=pair(n.get("stride"), [1, 1]), pads=pair(n.get("padding"), [0, 0, 0, 0]),
                    dilations=pair(n.get("dilation"), [1, 1]), group=int(n.get("groups", 1)))

    for n in nodes_in:
        k, x, y, nm = n["op"], n["inputs"], n["outputs"], n["name"]
        if k == "conv2d":
            ins = [x[0], const(n["weight"], weights[n["weight"]])]
            if n.get("bias"):
                ins.append(const(n["bias"], weights[n["bias"]]))
            w = weights[n["weight"]]
            op("Conv", ins, y, nm, kernel_shape=[int(w.shape[2]), int(w.shape[3])], **conv_attrs(n))
        elif k == "dynamic_conv2d":
            w = weights[n["weight"]]                                   # [g, O, I/groups, kh, kw]
            g, o = int(w.shape[0]), int(w.shape[1])
            kk = int(np.prod(w.shape[2:]))
            off = int(n.get("coeff_offset", 0))
            per_channel = n.get("mode", "per_channel") == "per_channel"
            count = o * g if per_channel else g
            eta = op("Slice", [x[1], const(uniq("starts"), [off], np.int64), const(uniq("ends"), [off + count], np.int64),
                               const(uniq("axes"), [1], np.int64)], name=nm + ".eta")
            if per_channel:
                e3 = op("Reshape", [eta, const(uniq("shape"), [o, 1, g], np.int64)])
                stack = const(nm + ".stacked", w.reshape(g, o, kk).transpose(1, 0, 2))          # [O, g, K]
                wf = op("MatMul", [e3, stack], name=nm + ".fuse")                                 # [O, 1, K]
            else:
                stack = const(nm + ".stacked", w.reshape(g, o * kk))                              # [g, O·K]
                wf = op("MatMul", [eta, stack], name=nm + ".fuse")                                # [1, O·K]
            wk = op("Reshape", [wf, const(uniq("shape"), list(w.shape[1:]), np.int64)])
            terms = []
            if n.get("mixed_bias"):
                mb = weights[n["mixed_bias"]]                              # [g, O]
                if per_channel:
                    e2 = op("Reshape", [eta, const(uniq("shape"), [o, g], np.int64)])
                    prod = op("Mul", [e2, const(nm + ".mixed_bias_t", mb.T)])
                    terms.append(op("ReduceSum", [prod, const(uniq("axes"), [1], np.int64)], keepdims=0))
                else:
                    mm = op("MatMul", [eta, const(nm + ".mixed_bias", mb)])
                    terms.append(op("Reshape", [mm, const(uniq("shape"), [o], np.int64)]))
            if n.get("bias"):
                terms.append(const(n["bias"], weights[n["bias"]]))
            ins = [x[0], wk]
            if terms:
                ins.append(terms[0] if len(terms) == 1 else op("Add", terms))
            op("Conv", ins, y, nm, kernel_shape=[int(w.shape[3]), int(w.shape[4])], **conv_attrs(n))
        elif k == "cpm":
            h = op("Flatten", [op("GlobalAveragePool", [x[0]])], axis=1)
            ins = [h, const(n["fc1_weight"], weights[n["fc1_weight"]])]
            if n.get("fc1_bias"):
                ins.append(const(n["fc1_bias"], weights[n["fc1_bias"]]))
            h = op("Gemm", ins, name=nm + ".fc1", transB=1)
            if n.get("fc2_weight"):
                ins = [op("Relu", [h]), const(n["fc2_weight"], weights[n["fc2_weight"]])]
                if n.get("fc2_bias"):
                    ins.append(const(n["fc2_bias"], weights[n["fc2_bias"]]))
                h = op("Gemm", ins, name=nm + ".fc2", transB=1)
            if n.get("gate", "sigmoid") == "sigmoid":
                op("Sigmoid", [h], y, nm)
            else:
                total = int(weights[n["fc2_weight"] if n.get("fc2_weight") else n["fc1_weight"]].shape[0])
                grp = int(n.get("softmax_group", total))
                t = op("Div", [h, const(uniq("temperature"), float(n.get("temperature", 1.0)))])
                s = op("Softmax", [op("Reshape", [t, const(uniq("shape"), [1, total // grp, grp], np.int64)])], axis=-1)
                op("Reshape", [s, const(uniq("shape"), [1, total], np.int64)], y, nm)
        elif k == "batchnorm":
            op("BatchNormalization", [x[0]] + [const(n[f], weights[n[f]]) for f in
                                               ("weight", "bias", "running_mean", "running_var")],
               y, nm, epsilon=float(n.get("eps", 1e-5)))
        elif k == "relu":
            op("Relu", x, y, nm)
        elif k == "relu6":
            op("Clip", [x[0], const("zero_f", 0.0), const("six_f", 6.0)], y, nm)
        elif k == "hardswish":
            op("HardSwish", x, y, nm)
        elif k == "hardsigmoid":
            op("HardSigmoid", x, y, nm, alpha=1.0 / 6.0, beta=0.5)
        elif k == "add":
            op("Add", x, y, nm)
        elif k == "concat":
            op("Concat", x, y, nm, axis=1)
        elif k == "channel_shuffle":
            # [1, C, H, W] → [1, g, C/g, H, W] → swap the two channel axes → back to the input's own shape
            g = int(n["groups"])
            shape = op("Shape", [x[0]])
            spatial = op("Slice", [shape, const(uniq("s"), [2], np.int64), const(uniq("e"), [4], np.int64)])
            five = op("Concat", [const(uniq("head"), [1, g, -1], np.int64), spatial], axis=0)
            t = op("Transpose", [op("Reshape", [x[0], five])], perm=[0, 2, 1, 3, 4])
            op("Reshape", [t, shape], y, nm)
        elif k == "channel_split":
            op("Split", [x[0], const(uniq("split"), n["sizes"], np.int64)], y, nm, axis=1)
        elif k in ("maxpool", "avgpool"):
            kern = pair(n["kernel"], None)
            attrs = dict(kernel_shape=kern, strides=pair(n.get("stride"), kern),
                         pads=pair(n.get("padding"), [0, 0, 0, 0]))
            if k == "maxpool":
                op("MaxPool", x, y, nm, **attrs)
            else:
                op("AveragePool", x, y, nm, count_include_pad=1 if n.get("count_include_pad", True) else 0, **attrs)
        elif k == "global_avgpool":
            op("GlobalAveragePool", x, y, nm)
        elif k == "flatten":
            op("Flatten", x, y, nm, axis=1)
        elif k == "linear":
            ins = [x[0], const(n["weight"], weights[n["weight"]])]
            if n.get("bias"):
                ins.append(const(n["bias"], weights[n["bias"]]))
            op("Gemm", ins, y, nm, transB=1)
        elif k == "softmax":
            t = op("Div", [x[0], const(uniq("temperature"), float(n.get("temperature", 1.0)))])
            op("Softmax", [t], y, nm, axis=1)
        else:
            sys.exit(f"peer_bench: node {nm}: op {k} has no ONNX conversion")

    shape = [int(s) for s in doc["input"]["shape"]]
    graph = helper.make_graph(
        nodes, doc.get("name", "dynq"), [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, "features"]) for o in doc["outputs"][:1]],
        initializer=list(inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="dynq-peer-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

# ---------------------------------------------------------------- ORT


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def quantize_ort(fp32_path, int8_path, calib_inputs, activations):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input": calib_inputs[i:i + 1]} for i in range(len(calib_inputs))])

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(fp32_path), str(int8_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8 if activations == "u8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8)


def time_ort(session, x, runs):
    """CPU ns per inference of `runs` inferences (one warm-up first)."""
    feed = {"input": x}
    session.run(None, feed)
    out = []
    for _ in range(runs):
        t0 = time.process_time_ns()
        session.run(None, feed)
        out.append(time.process_time_ns() - t0)
    return out

# ---------------------------------------------------------------- DynQ


def child_cpu_ns():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((r.ru_utime + r.ru_stime) * 1e9)


def dynq_bench_cpu(dynq, model, runs):
    """(CPU ns per invoke, wall median ms) from two `dynq bench` processes (--runs N and --runs 1). Each bench run
    invokes the model three times (Int8Session.run sets the input and invokes, then a timed invoke, then one with
    the per-op observer), so the difference holds 3·(N − 1) invokes."""
    def once(n):
        c0 = child_cpu_ns()
        r = subprocess.run([str(dynq), "bench", str(model), "--runs", str(n), "--reference-runs", "0", "--json"],
                           capture_output=True, text=True)
        c1 = child_cpu_ns()
        if r.returncode != 0:
            sys.exit(f"peer_bench: dynq bench {model} failed: {r.stderr.strip()}")
        return c1 - c0, json.loads(r.stdout)["simd"]["median_ms"]
    long_cpu, wall = once(runs)
    short_cpu, _ = once(1)
    return (long_cpu - short_cpu) / (3 * (runs - 1)), wall


def build_dynq():
    subprocess.run(["swift", "build", "-c", "release", "--product", "dynq"], cwd=ROOT, check=True,
                   stdout=sys.stderr)
    p = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                       capture_output=True, text=True).stdout.strip()
    return Path(p) / "dynq"

# ---------------------------------------------------------------- main


PAIRS = [("dy-mobile", "mobilenetv2"), ("dy-resnet18", "resnet18"), ("dy-shuffle", "shufflenetv2"),
         ("dy-resnet50", "resnet50")]


def check_converter(dynq=None):
    """ORT float on the converted graphs against PyTorch (fmnist fixture: trained DyNet, per-channel dynamic convs)
    and, with a dynq binary, against `dynq run --float` (zoo networks at 64x64: shuffle/split/concat/maxpool, the
    inverted residuals, grouped dynamic convs, per-layer CondConv-style blocks)."""
    import onnx
    OUT.mkdir(parents=True, exist_ok=True)
    ok = True
    doc, w = load_graph(ROOT / "fixtures/fmnist/model.graph.json", ROOT / "fixtures/fmnist/model.safetensors")
    path = OUT / "fmnist.onnx"
    onnx.save(to_onnx(doc, w), str(path))
    images = np.load(ROOT / "fixtures/fmnist/test_images.npy")[:8]
    want = np.load(ROOT / "fixtures/fmnist/torch_logits.npy")[:8]
    s = ort_session(path)
    x = preprocess(doc, images if images.ndim == 4 else images[:, None])
    got = np.concatenate([s.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
    err = float(np.abs(got - want).max())
    same = bool((got.argmax(1) == want.argmax(1)).all())
    print(f"fmnist fixture: ORT float logits vs PyTorch on 8 images: max |difference| {err:.2e}, "
          f"top-1 {'same' if same else 'DIFFERENT'}")
    ok &= err < 1e-3 and same
    if dynq is None:
        return ok
    image = np.random.default_rng(1).integers(0, 256, size=(1, 3, 64, 64), dtype=np.uint8)
    np.save(OUT / "check-64.npy", image)
    for m in ["shufflenetv2", "mobilenetv2", "dy-mobile", "dy-resnet18"]:
        g, wt = OUT / f"{m}-64.graph.json", OUT / f"{m}-64.safetensors"
        subprocess.run([str(dynq), "zoo", m, "--graph", str(g), "--weights", str(wt), "--resolution", "64"],
                       check=True, stdout=subprocess.DEVNULL)
        doc, w = load_graph(g, wt)
        onnx.save(to_onnx(doc, w), str(OUT / f"{m}-64.onnx"))
        logits = ort_session(OUT / f"{m}-64.onnx").run(None, {"input": preprocess(doc, image)})[0][0]
        e = np.exp(logits.astype(np.float64) - logits.max())
        p = e / e.sum()
        r = subprocess.run([str(dynq), "run", "--float", "--graph", str(g), "--weights", str(wt),
                            str(OUT / "check-64.npy"), "--top", "5", "--json"], capture_output=True, text=True, check=True)
        top = json.loads(r.stdout.splitlines()[0])["top"]
        worst = max(abs(t["score"] - p[t["class"]]) / max(t["score"], 1e-12) for t in top)
        same = top[0]["class"] == int(p.argmax())
        print(f"{m} at 64x64: ORT float vs dynq run --float, top-5 scores: worst relative difference {worst:.1e}, "
              f"top-1 {'same' if same else 'DIFFERENT'}")
        ok &= worst < 1e-3 and same
    return ok


def agreement(a, dynq):
    """Int8 top-1 agreement with float, ORT and DynQ (module docstring, `--agreement`)."""
    import json as _json
    import tempfile

    import onnx
    d = Path(a.agreement)
    g, w = d / "model.graph.json", d / "model.safetensors"
    doc, weights = load_graph(g, w)
    calib_u8 = np.load(a.calib)
    if calib_u8.dtype != np.uint8 or calib_u8.ndim != 4:
        sys.exit(f"peer_bench: {a.calib}: expected uint8 pixels [N, C, H, W]")
    tmp = Path(tempfile.mkdtemp(prefix="agreement-"))
    fp32 = tmp / "model.onnx"
    onnx.save(to_onnx(doc, weights), str(fp32))
    sessions = {"ORT float32": ort_session(fp32)}
    for act in ("u8", "s8"):
        quantize_ort(fp32, tmp / f"int8-{act}.onnx", preprocess(doc, calib_u8), act)
        sessions[f"ORT int8 ({act} activations)"] = ort_session(tmp / f"int8-{act}.onnx")
    model = tmp / "model.dynq"
    subprocess.run([str(dynq), "quantize", "--graph", str(g), "--weights", str(w), "--calib", a.calib, "-o",
                    str(model)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def dynq_logits(args):
        out = subprocess.run([str(dynq), "run", *args, "--logits", "--json"], check=True, capture_output=True,
                             text=True).stdout
        return np.array([_json.loads(line)["logits"] for line in out.splitlines() if line.startswith("{")])

    for images in a.images:
        pix = np.load(images)
        x = preprocess(doc, pix if pix.ndim == 4 else pix[:, None])
        top = {k: np.array([int(s.run(None, {"input": x[i:i + 1]})[0].argmax()) for i in range(len(x))])
               for k, s in sessions.items()}
        ref = top.pop("ORT float32")
        fl = dynq_logits(["--float", "--graph", str(g), "--weights", str(w), images]).argmax(1)
        q8 = dynq_logits([str(model), images]).argmax(1)
        print(f"{d.name}, {len(x)} images of {images}:")
        for k, t in top.items():
            print(f"  {k:28s} agreement {100 * (t == ref).mean():6.2f} %  ({(t != ref).sum()} flips)")
        print(f"  {'DynQ int8 (defaults)':28s} agreement {100 * (q8 == fl).mean():6.2f} %  ({(q8 != fl).sum()} flips)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=["mobilenetv2", "dy-mobile", "resnet18", "dy-resnet18"],
                    help="dynq zoo networks (224x224, seeded random weights)")
    ap.add_argument("--graph", action="append", default=[], help="a graph JSON (with --weights); replaces --models")
    ap.add_argument("--weights", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10, help="inferences per runtime per round")
    ap.add_argument("--activations", choices=["u8", "s8"], default="u8", help="ORT int8 activation type")
    ap.add_argument("--dynq", help="the dynq binary (default: swift build -c release --product dynq)")
    ap.add_argument("--check", action="store_true", help="only check the ONNX converter (fixture, zoo at 64x64)")
    ap.add_argument("--agreement", metavar="DIR", help="measure int8 top-1 agreement instead (see above)")
    ap.add_argument("--calib", help="--agreement: calibration images (uint8 .npy [N, C, H, W])")
    ap.add_argument("--images", action="append", default=[], help="--agreement: test images (uint8 .npy)")
    a = ap.parse_args()
    if a.agreement:
        if not a.calib or not a.images:
            sys.exit("peer_bench: --agreement needs --calib and at least one --images")
        agreement(a, Path(a.dynq) if a.dynq else build_dynq())
        return
    if a.check:
        sys.exit(0 if check_converter(Path(a.dynq) if a.dynq else build_dynq()) else 1)
    if a.runs < 2 or a.rounds < 1:
        sys.exit("peer_bench: --runs must be >= 2 and --rounds >= 1")
    import onnx
    import onnxruntime as ort

    OUT.mkdir(parents=True, exist_ok=True)
    dynq = Path(a.dynq) if a.dynq else build_dynq()
    if len(a.graph) != len(a.weights):
        sys.exit("peer_bench: give one --weights per --graph")
    models = []
    if a.graph:
        for g, w in zip(a.graph, a.weights):
            models.append((Path(g).name.removesuffix(".json").removesuffix(".graph"), Path(g), Path(w)))
    else:
        for m in a.models:
            g, w = OUT / f"{m}.graph.json", OUT / f"{m}.safetensors"
            if not g.exists() or not w.exists():
                subprocess.run([str(dynq), "zoo", m, "--graph", str(g), "--weights", str(w)], check=True,
                               stdout=subprocess.DEVNULL)
            models.append((m, g, w))

    rng = np.random.default_rng(20261206)
    prepared = {}
    for name, g, w in models:
        doc, weights = load_graph(g, w)
        c, h, wd = doc["input"]["shape"][1:]
        calib_u8 = rng.integers(0, 256, size=(4, c, h, wd), dtype=np.uint8)
        image_u8 = rng.integers(0, 256, size=(1, c, h, wd), dtype=np.uint8)
        calib_npy = OUT / f"{name}.calib.npy"
        np.save(calib_npy, calib_u8)
        dq = OUT / f"{name}.dynq"
        r = subprocess.run([str(dynq), "quantize", "--graph", str(g), "--weights", str(w), "--calib", str(calib_npy),
                            "--method", "minmax", "-o", str(dq)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"peer_bench: dynq quantize {g} failed: {r.stderr.strip()}")
        fp32 = OUT / f"{name}.fp32.onnx"
        onnx.save(to_onnx(doc, weights), str(fp32))
        int8 = OUT / f"{name}.int8-{a.activations}.onnx"
        note = ""
        try:
            quantize_ort(fp32, int8, preprocess(doc, calib_u8), a.activations)
        except Exception as e:                                   # noqa: BLE001 — reported, the row is skipped
            int8, note = None, f"quantize_static failed: {type(e).__name__}: {e}"
        prepared[name] = dict(x=preprocess(doc, image_u8), dynq=dq, fp32=ort_session(fp32),
                              int8=ort_session(int8) if int8 else None, note=note)
        print(f"prepared {name}: {dq.name}, {fp32.name}" + (f", {int8.name}" if int8 else f" ({note})"),
              file=sys.stderr)

    times = {name: {"dynq": [], "ort_fp32": [], "ort_int8": []} for name, _, _ in models}
    walls = {name: [] for name, _, _ in models}
    for r in range(a.rounds):
        for name, _, _ in models:
            p = prepared[name]
            cpu, wall = dynq_bench_cpu(dynq, p["dynq"], a.runs)
            times[name]["dynq"].append(cpu / 1e6)
            walls[name].append(wall)
            times[name]["ort_fp32"].append(statistics.median(time_ort(p["fp32"], p["x"], a.runs)) / 1e6)
            if p["int8"] is not None:
                times[name]["ort_int8"].append(statistics.median(time_ort(p["int8"], p["x"], a.runs)) / 1e6)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    med = {n: {k: statistics.median(v) if v else None for k, v in d.items()} for n, d in times.items()}
    print(f"\nCPU ms per inference, batch 1, one thread; median over {a.rounds} interleaved rounds of {a.runs} "
          f"inferences (onnxruntime {ort.__version__}, ORT int8 = quantize_static QDQ, per-channel s8 weights, "
          f"{a.activations} activations)")
    print(f"{'model':<14} {'DynQ int8':>10} {'ORT fp32':>10} {'ORT int8':>10} {'DynQ/fp32':>10} {'DynQ/int8':>10}"
          f"   (DynQ wall median ms)")
    for n, _, _ in models:
        m = med[n]
        i8 = m["ort_int8"]
        print(f"{n:<14} {m['dynq']:10.2f} {m['ort_fp32']:10.2f} {(i8 if i8 else float('nan')):10.2f} "
              f"{m['dynq'] / m['ort_fp32']:10.2f} {(m['dynq'] / i8 if i8 else float('nan')):10.2f}"
              f"   ({statistics.median(walls[n]):.2f})" + (f"  {prepared[n]['note']}" if prepared[n]["note"] else ""))
    lines = []
    for dy, st in PAIRS:
        if dy in med and st in med and med[st]["ort_int8"]:
            per_round = [x / y for x, y in zip(times[dy]["dynq"], times[st]["ort_int8"])]
            lines.append(f"  DynQ {dy} / ORT int8 {st}: {med[dy]['dynq'] / med[st]['ort_int8']:.2f} "
                         f"(rounds {min(per_round):.2f}-{max(per_round):.2f}: "
                         f"{', '.join(f'{x:.2f}' for x in per_round)})")
    if lines:
        print("\ndynamic network on DynQ vs the static network on ORT int8 (what a user picks instead):")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
