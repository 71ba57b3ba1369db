"""Exports the networks of tools/example_nets.py with tools/export.py for the Swift tests
(Tests/DynQGraphTests/PyTorchExportTests.swift), with one input and PyTorch's output for each:

    python3 tools/check_export.py OUTDIR [NAME ...]      # default: every network

writes `OUTDIR/NAME.graph.json`, `OUTDIR/NAME.safetensors`, `OUTDIR/NAME.input.npy` (float32 [1, C, H, W], already
preprocessed) and `OUTDIR/NAME.expected.npy` (float32 [1, 10], the model's output). Also checks that refused
modules get a one-line `ExportError` naming the module (NAME `refusals`) and that the softmax CPM temperature is
the module's unless `cpm_temperature=` overrides it (NAME `temperature`), exiting 1 if not.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import example_nets  # noqa: E402
from export import ExportError, export  # noqa: E402


def export_case(name: str, out: Path) -> None:
    model, shape = example_nets.NETS[name]()
    export(model, out / name, input_shape=shape)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(100))
    with torch.no_grad():
        y = model(x)
    np.save(out / f"{name}.input.npy", x.numpy().astype(np.float32))
    np.save(out / f"{name}.expected.npy", y.numpy().astype(np.float32))


class _Elu(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ELU())

    def forward(self, x):
        return self.features(x).flatten(1)


class _Mul(nn.Module):
    def forward(self, x):
        return x * 2


def refusals() -> list[str]:
    """Each refused model must raise an ExportError whose one-line message contains the expected words."""
    cases = [
        (_Elu(), "features.1 (ELU)"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU(approximate="tanh")), "1 (GELU)"),
        (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect")), "0 (Conv2d): padding_mode 'reflect'"),
        (_Mul(), "mul (mul)"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Upsample(scale_factor=2)), "1 (Upsample)"),
    ]
    problems = []
    for model, expected in cases:
        try:
            export(model.eval(), "/dev/null/never", input_shape=(1, 1, 8, 8))
            problems.append(f"{type(model).__name__}: exported, expected a refusal")
        except ExportError as e:
            text = str(e)
            if expected not in text or "\n" in text:
                problems.append(f"{type(model).__name__}: message {text!r} lacks {expected!r} or is not one line")
    return problems


def temperature() -> list[str]:
    """The softmax CPM's temperature: the module's value by default, `cpm_temperature=` overrides it."""
    import json
    import tempfile
    problems = []
    model, shape = example_nets.dynet()
    with tempfile.TemporaryDirectory() as d:
        for override, expected in ((None, 0.7), (2.5, 2.5)):
            doc = export(model, Path(d) / "t", input_shape=shape, cpm_temperature=override)
            got = [n["temperature"] for n in doc["nodes"] if n["op"] == "cpm" and n["gate"] == "softmax"]
            written = json.loads((Path(d) / "t.graph.json").read_text())["nodes"]
            if got != [expected] or [n.get("temperature") for n in written if n["op"] == "cpm" and n["gate"] == "softmax"] != [expected]:
                problems.append(f"cpm_temperature={override}: exported {got}, expected [{expected}]")
    held = [m.temperature for m in model.modules() if getattr(m, "gate", None) == "softmax"]
    if held != [0.7]:
        problems.append(f"export changed the module's temperature to {held}")
    return problems


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    names = sys.argv[2:] or list(example_nets.NETS)
    for name in names:
        if name in ("refusals", "temperature"):
            problems = refusals() if name == "refusals" else temperature()
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                return 1
            continue
        export_case(name, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
