"""Train a depthwise-separable ReLU CNN on Fashion-MNIST and write the fixture fixtures/fmnist_dwsep/ (a model
trained after the default calibration was chosen and used to tune nothing: docs/calibration.md).

    python3 tools/train_fmnist_dwsep.py            # -> fixtures/fmnist_dwsep/

Network: stem 3x3 conv 1 -> 16 + BatchNorm + ReLU; four depthwise 3x3 + BatchNorm + ReLU, pointwise 1x1 + BatchNorm +
ReLU blocks (16 -> 32 stride 2, 32 -> 32, 32 -> 64 stride 2, 64 -> 64); global average pool, flatten, linear
64 -> 10. Same training recipe and outputs as tools/train_fmnist_silu.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_fmnist_silu import GraphWriter, train_fixture  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "fmnist_dwsep"
BLOCKS = [(16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]  # (in, out, stride): depthwise 3x3, pointwise 1x1


class DwSepCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.dw = nn.ModuleList(nn.Conv2d(i, i, 3, stride=s, padding=1, groups=i, bias=False) for i, _, s in BLOCKS)
        self.dw_bn = nn.ModuleList(nn.BatchNorm2d(i) for i, _, _ in BLOCKS)
        self.pw = nn.ModuleList(nn.Conv2d(i, o, 1, bias=False) for i, o, _ in BLOCKS)
        self.pw_bn = nn.ModuleList(nn.BatchNorm2d(o) for _, o, _ in BLOCKS)
        self.fc = nn.Linear(BLOCKS[-1][1], 10)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        for dw, dbn, pw, pbn in zip(self.dw, self.dw_bn, self.pw, self.pw_bn):
            x = F.relu(dbn(dw(x)))
            x = F.relu(pbn(pw(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def graph(self):
        """(nodes, weights) of the DynQ graph."""
        g = GraphWriter()

        def conv_bn_relu(name, x, conv, bn):
            return g.activation(f"{name}.relu", "relu", g.conv_bn(name, f"{name}.bn", x, conv, bn))

        x = conv_bn_relu("stem", "input", self.stem, self.stem_bn)
        for k, (dw, dbn, pw, pbn) in enumerate(zip(self.dw, self.dw_bn, self.pw, self.pw_bn)):
            x = conv_bn_relu(f"dw{k}", x, dw, dbn)
            x = conv_bn_relu(f"pw{k}", x, pw, pbn)
        return g.head(x, self.fc)


def main():
    train_fixture(
        DwSepCNN, doc=__doc__, out_default=OUT, label="dwsep cnn", graph_name="dwsep-cnn-fmnist",
        script="tools/train_fmnist_dwsep.py",
        description="A depthwise-separable ReLU CNN on Fashion-MNIST (MobileNet-v1 style), trained for this fixture AFTER DynQ's "
        "default calibration (equalization + bias correction) was chosen, and measured once with it: the held-out "
        "model of docs/calibration.md, used to tune nothing. Stem 3x3 conv 1 -> 16 + BatchNorm + ReLU, then four "
        "blocks of depthwise 3x3 conv + BatchNorm + ReLU and pointwise 1x1 conv + BatchNorm + ReLU (16 -> 32 "
        "stride 2, 32 -> 32, 32 -> 64 stride 2, 64 -> 64), global average pool, flatten, linear 64 -> 10. No conv "
        "bias; BatchNorm exported unfolded (`batchnorm` nodes).")


if __name__ == "__main__":
    main()
