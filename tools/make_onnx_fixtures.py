"""Writes fixtures/onnx/: the networks of tools/example_nets.py exported by `torch.onnx.export` (both exporters:
TorchScript, `dynamo=False`, at several opsets, and torch.export, `dynamo=True`), for the ONNX import tests (Tests/DynQGraphTests/ONNXImportTests.swift).

    python3 tools/make_onnx_fixtures.py [OUTDIR]          # default fixtures/onnx

For each network NAME (and opset): `NAME.onnx`, `NAME.input.npy` (float32 [1, C, H, W]) and `NAME.expected.npy`
(PyTorch's output). If onnxruntime is installed, each file is also run by it and must agree with PyTorch within
1e-4. Weights are seeded; the files are a few tens of KiB each.
"""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import example_nets  # noqa: E402

logging.disable(logging.WARNING)  # the dynamo exporter logs every step

# (fixture name, network, opset): opsets 11, 12 and 18 spell Split, Squeeze, ReduceMean, Softmax and Clip differently.
# opset None: the torch.export-based exporter (`dynamo=True`, torch.onnx.export's default since torch 2.9; needs the
# onnxscript package), which writes opset 18+ and decomposes differently (Split for chunk, ReduceMean for pooling).
CASES = [("plain", "plain", 17), ("resnet", "resnet", 17), ("dynet", "dynet", 17), ("dynet_opset12", "dynet", 12),
         ("thirdparty", "thirdparty", 17), ("thirdparty_opset11", "thirdparty", 11),
         ("plain_dynamo", "plain", None), ("resnet_dynamo", "resnet", None), ("dynet_dynamo", "dynet", None),
         ("thirdparty_dynamo", "thirdparty", None), ("activations_dynamo", "activations", None)]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "fixtures" / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")
    for name, net, opset in CASES:
        model, shape = example_nets.ONNX_NETS[net]()
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(200))
        with torch.no_grad():
            y = model(x)
        path = out / f"{name}.onnx"
        if opset is None:
            torch.onnx.export(model, (x,), str(path), dynamo=True, input_names=["input"], output_names=["logits"],
                              external_data=False, verbose=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["input"],
                              output_names=["logits"])
        np.save(out / f"{name}.input.npy", x.numpy().astype(np.float32))
        np.save(out / f"{name}.expected.npy", y.numpy().astype(np.float32))
        try:
            import onnxruntime as ort
            got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
            err = float(np.abs(got - y.numpy()).max())
            print(f"{name}: {path.stat().st_size} bytes, onnxruntime vs PyTorch max |diff| {err:.2e}")
            if err > 1e-4:
                return 1
        except ImportError:
            print(f"{name}: {path.stat().st_size} bytes (onnxruntime not installed: not cross-checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
