#!/usr/bin/env python3
"""Which images change class in int8, and why (a diagnostic; numpy only, never part of CI).

    python3 tools/flips.py --model fixtures/fmnist/model.dynq \
        --graph fixtures/fmnist/model.graph.json --weights fixtures/fmnist/model.safetensors \
        --data fixtures/fmnist/test_images.npy

Runs `dynq run --float --logits` and `dynq run MODEL --logits --dump DIR` on the same images and prints, for every
image whose int8 top-1 class differs from the float graph's (a "flip"):

- the float logits' top-2 margin (a flip with a margin below one int8 logit step is a coin toss at int8),
- whether the int8 logits tie (the runtime's argmax then takes the lowest class index),
- the counterfactual of a wide classifier: the class the int8 model would give if the last layer (a `linear`)
  wrote its int32 accumulators, each times its own requantization multiplier, instead of int8 logits. It is
  computed exactly from the dumped int8 codes of the classifier's input and the weights, bias and multipliers read
  from the .dynq (the script checks that rounding it back reproduces the int8 logits bit for bit).

Then the number of images whose float margin is under 1 and 2 int8 logit steps. The flips that remain with a wide
classifier come from the features (every int8 tensor and weight upstream), not from the logits' resolution.

Options: --limit N (first N images), --dynq PATH (default .build/release/dynq; built with
`swift build -c release --product dynq` if missing), --keep DIR (where the dump goes; default a temporary folder).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def read_dynq(path):
    """Blobs {name: array} and tensors {name: (zero point, scale)} of a .dynq file (docs/model-format.md)."""
    b = open(path, "rb").read()
    if b[:8] != b"\x89DYNQ\r\n\x1a":
        sys.exit(f"flips.py: {path}: not a .dynq file")
    u = lambda o: struct.unpack_from("<I", b, o)[0]
    strings, tensor_table, tensor_count, blob_table, blob_count = u(28), u(36), u(40), u(44), u(48)
    name = lambda r: b[strings + u(r): strings + u(r) + u(r + 4)].decode()
    types = {1: np.int8, 2: np.int16, 3: np.int32, 4: np.uint8}
    blobs = {}
    for i in range(blob_count):
        r = blob_table + 44 * i
        shape = struct.unpack_from("<6i", b, r + 20)[: b[r + 9]]
        blobs[name(r)] = np.frombuffer(b[u(r + 12): u(r + 12) + u(r + 16)], dtype=types[b[r + 8]]).reshape(shape)
    tensors = {}
    for i in range(tensor_count):
        r = tensor_table + 44 * i
        tensors[name(r)] = (struct.unpack_from("<i", b, r + 12)[0], struct.unpack_from("<f", b, r + 16)[0])
        TENSOR_TYPES[name(r)] = b[r + 8]
    return blobs, tensors


TENSOR_TYPES = {}  # tensor name -> element type code (1 int8, 2 int16), filled by read_dynq


def logits(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return np.array([json.loads(line)["logits"] for line in out.splitlines() if line.strip()], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--dynq", default=".build/release/dynq")
    ap.add_argument("--keep")
    a = ap.parse_args()
    if not os.path.exists(a.dynq):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dynq"], check=True)
    data = a.data
    if a.limit:  # dynq run has no --limit: cut the images into a temporary .npy (uint8 or float32 .npy inputs)
        x = np.load(a.data) if a.data.endswith(".npy") else None
        if x is None:
            sys.exit("flips.py: --limit needs a .npy --data")
        data = tempfile.mktemp(suffix=".npy")
        np.save(data, x[: a.limit])
    dump = a.keep or tempfile.mkdtemp(prefix="dynq-flips-")
    f = logits([a.dynq, "run", "--float", "--graph", a.graph, "--weights", a.weights, data, "--logits", "--json"])
    q = logits([a.dynq, "run", a.model, data, "--logits", "--json", "--dump", dump])
    n = len(f)
    graph = json.load(open(a.graph))
    blobs, tensors = read_dynq(a.model)
    out_name = graph["outputs"][0] if isinstance(graph["outputs"][0], str) else graph["outputs"][0]["name"]
    out_zp, out_scale = tensors[out_name]
    step = out_scale

    # The wide-classifier counterfactual: the last node must be a linear whose weights the .dynq holds.
    wide = None
    last = graph["nodes"][-1]
    if last["op"] == "linear" and last["name"] + ".weights" in blobs and last["inputs"][0] in tensors:
        w = blobs[last["name"] + ".weights"].astype(np.int64)
        bias = blobs.get(last["name"] + ".bias")
        bias = np.zeros(w.shape[0], np.int64) if bias is None else bias.astype(np.int64)
        m = blobs[last["name"] + ".multipliers"].astype(np.float64)
        zp_in = tensors[last["inputs"][0]][0]
        sub = (lambda i: f"{dump}/{i}") if n > 1 else (lambda i: dump)
        xq = np.array([np.load(f"{sub(i)}/{last['inputs'][0]}.q.npy").reshape(-1) for i in range(n)]).astype(np.int64)
        acc = (xq - zp_in) @ w.T + bias
        wide = acc * m[:, 0] * np.exp2(m[:, 1] - 31)  # (m, e): real multiplier m · 2^(e − 31)
        lo, hi = (-32768, 32767) if TENSOR_TYPES.get(out_name) == 2 else (-128, 127)  # int16: wide logits
        back = np.clip(np.round(wide) + out_zp, lo, hi)
        if not np.array_equal(back, np.round(q / out_scale) + out_zp):
            print("flips.py: the wide-classifier emulation does not reproduce the int8 logits; not shown",
                  file=sys.stderr)
            wide = None

    ff, fq = f.argmax(1), q.argmax(1)
    flips = np.where(ff != fq)[0]
    srt = np.sort(f, 1)
    margin = srt[:, -1] - srt[:, -2]
    print(f"{n} images, {len(flips)} flips (top-1 agreement {100 * (1 - len(flips) / n):.2f} %); "
          f"int8 logit step {step:.4f}")
    print(f"{'image':>6} {'float':>5} {'int8':>4} {'float margin':>12} {'in steps':>8} {'int8 tie':>8}"
          + (f" {'wide classifier':>15}" if wide is not None else ""))
    for i in flips:
        tie = q[i][ff[i]] == q[i].max()
        line = f"{i:>6} {ff[i]:>5} {fq[i]:>4} {margin[i]:>12.4f} {margin[i] / step:>8.2f} {'yes' if tie else 'no':>8}"
        if wide is not None:
            wf = wide[i].argmax()
            line += f" {('agrees' if wf == ff[i] else f'class {wf}'):>15}"
        print(line)
    print(f"images with a float margin under 1 int8 step: {(margin < step).sum()}, under 2 steps: "
          f"{(margin < 2 * step).sum()}")
    ties = sum(1 for i in flips if q[i][ff[i]] == q[i].max())
    print(f"flips that are int8 ties: {ties}")
    if wide is not None:
        wflips = np.where(wide.argmax(1) != ff)[0]
        print(f"wide classifier: {len(wflips)} flips (top-1 agreement {100 * (1 - len(wflips) / n):.2f} %): "
              + " ".join(map(str, wflips)))


if __name__ == "__main__":
    main()
