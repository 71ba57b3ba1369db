"""Small seeded networks that exercise every layer tools/export.py and `dynq import` accept (the test networks of
tools/check_export.py and fixtures/onnx/). Each builder returns `(model in eval mode, input shape)`.

- `plain`        a plain nn.Sequential CNN (no DynQ wrapper), ops DynQ has had since version 1;
- `activations`  a plain nn.Sequential with LeakyReLU / SiLU / Sigmoid / GELU, "same"/"valid" padding, ceil-mode pooling;
- `resnet`       a torchvision-style residual network written with forward(): BasicBlocks (`out += identity`, one
                 ReLU module called twice, a 1x1 downsample), a ShuffleNet-v2-style unit (chunk, cat, channel
                 shuffle by view / transpose / view), torch.flatten;
- `dynet`        DyNet (per-channel, sigmoid gate, residual DyBlock), CondConv (per-layer, sigmoid) and DY-CNN
                 (per-layer, softmax gate with temperature 0.7 and mixed bias) blocks from tools/dynet.py, plus
                 ChannelSplitConcat and ChannelShuffle.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dynet import ChannelShuffle, ChannelSplitConcat, Conv2d, DyBlock, DyNet, DynamicConv2d


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones are mean 0 / var 1 / identity), and a
    classifier scaled to logits of a few units, so that any wrong padding, pooling or coefficient shows well above
    the tests' 1e-4 (with fresh weights the logits are ~0.1 and some mistakes stay below it)."""
    g = torch.Generator().manual_seed(seed + 1)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        linears[-1].weight.mul_(30)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            if m.weight is not None:
                m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return model.eval()


def plain():
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.Hardswish(), nn.Dropout(0.3),
        nn.Conv2d(16, 16, 1), nn.Hardsigmoid(), nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Dropout(), nn.Linear(12, 10))
    return _randomize(net, 1), (1, 3, 16, 16)


def activations():
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
        nn.Conv2d(8, 8, 4, padding="same", dilation=1), nn.SiLU(),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(8, 12, 3, padding="valid"), nn.BatchNorm2d(12, affine=False), nn.Sigmoid(),
        nn.Conv2d(12, 12, 1), nn.GELU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10))
    return _randomize(net, 2), (1, 1, 15, 15)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock (one ReLU module used twice, in-place add)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ShuffleUnit(nn.Module):
    """ShuffleNet-v2 basic unit: chunk, a branch on one half, cat, channel shuffle (view / transpose / view)."""

    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
                                    nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h),
                                    nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        out = torch.cat((a, self.branch(b)), dim=1)
        n, c, hh, ww = out.size()
        out = out.view(n, 2, c // 2, hh, ww)
        out = torch.transpose(out, 1, 2).contiguous()
        return out.view(n, -1, hh, ww)


class ResNetish(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2))
        self.shuffle = ShuffleUnit(16)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = self.shuffle(x)
        x = F.relu(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet():
    torch.manual_seed(3)
    return _randomize(ResNetish(), 3), (1, 3, 16, 16)


def dynet():
    torch.manual_seed(4)
    stem = nn.Sequential(Conv2d(1, 8, 3, padding=(0, 1, 2, 1)), nn.BatchNorm2d(8), nn.ReLU())  # asymmetric: F.pad
    dynet_block = DyBlock(8, [DynamicConv2d(8, 8, 3, padding=1, g=4), nn.BatchNorm2d(8), nn.ReLU(),
                              DynamicConv2d(8, 8, 3, padding=1, groups=2, g=2, bias=True), nn.BatchNorm2d(8)],
                          cpm_hidden=6, residual=True, post=nn.ReLU())
    condconv_block = DyBlock(8, [DynamicConv2d(8, 12, 3, stride=2, padding=(0, 0, 1, 1), g=3, mode="per_layer", bias=True),
                                 nn.BatchNorm2d(12), nn.ReLU()],
                             cpm_hidden=6, gate="sigmoid", two_layer=False)
    dycnn_block = DyBlock(12, [DynamicConv2d(12, 12, 3, padding=1, g=4, mode="per_layer", mixed_bias=True),
                               nn.BatchNorm2d(12), nn.ReLU(),
                               DynamicConv2d(12, 12, 1, g=4, mode="per_layer", mixed_bias=True, bias=True)],
                          cpm_hidden=6, gate="softmax", temperature=0.7, softmax_group=4)
    split = ChannelSplitConcat([4, 8], nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU()), branch_index=1)
    net = DyNet(stem, [dynet_block, condconv_block, dycnn_block, split, ChannelShuffle(4)],
                nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)),
                name="example-dynet", input_shape=(1, 1, 12, 12),
                preprocess={"scale": 1 / 255, "mean": [0.5], "std": [0.25]})
    return _randomize(net, 4), (1, 1, 12, 12)


NETS = {"plain": plain, "activations": activations, "resnet": resnet, "dynet": dynet}


# ----------------------------------------------------------------------------------------------------------------
# Dynamic convolutions written the way other code bases write them (for the ONNX importer: these are not
# tools/dynet.py modules, so tools/export.py refuses them; torch.onnx.export turns each into a different subgraph).


class MMDynamicConv(nn.Module):
    """DY-CNN as commonly written: 1x1-conv attention on the pooled input, softmax(x / T), then the kernel bank
    `[K, O*I*k*k]` mixed by `torch.mm`, one grouped conv over the batch (MatMul over a constant bank in ONNX)."""

    def __init__(self, cin, cout, k, K=4, T=0.5, hidden=8, padding=1):
        super().__init__()
        self.cin, self.cout, self.k, self.K, self.T, self.padding = cin, cout, k, K, T, padding
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(cin, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, K, 1, bias=True)
        self.weight = nn.Parameter(torch.randn(K, cout, cin, k, k) * 0.2)
        self.bias = nn.Parameter(torch.randn(K, cout) * 0.1)

    def forward(self, x):
        b, c, h, w = x.size()
        a = self.fc2(F.relu(self.fc1(self.pool(x)))).view(b, -1)
        a = F.softmax(a / self.T, 1)
        x = x.view(1, -1, h, w)
        weight = torch.mm(a, self.weight.view(self.K, -1)).view(b * self.cout, self.cin, self.k, self.k)
        bias = torch.mm(a, self.bias).view(-1)
        out = F.conv2d(x, weight, bias, 1, self.padding, 1, b)
        return out.view(b, self.cout, out.size(-2), out.size(-1))


class MulSumCondConv(nn.Module):
    """CondConv as commonly written: sigmoid routing from a Linear on the mean-pooled input, the experts mixed by a
    broadcast multiply and a sum over the expert axis (Mul + ReduceSum in ONNX), one conv per sample."""

    def __init__(self, cin, cout, k, E=3, stride=1, padding=1):
        super().__init__()
        self.route = nn.Linear(cin, E)
        self.weight = nn.Parameter(torch.randn(E, cout, cin, k, k) * 0.2)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        r = torch.sigmoid(self.route(x.mean((2, 3))))
        w = (r[:, :, None, None, None, None] * self.weight[None]).sum(1)
        return torch.cat([F.conv2d(x[i:i + 1], w[i], None, self.stride, self.padding) for i in range(x.shape[0])])


class MatMulPerChannelConv(nn.Module):
    """DyNet per-output-channel coefficients `[B, O*g]` mixed with a `[O, g, I*k*k]` bank by a batched matmul."""

    def __init__(self, cin, cout, k, g=2, hidden=6, padding=1):
        super().__init__()
        self.cin, self.cout, self.k, self.g, self.padding = cin, cout, k, g, padding
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, cout * g)
        self.bank = nn.Parameter(torch.randn(cout, g, cin * k * k) * 0.2)
        self.bias = nn.Parameter(torch.randn(cout) * 0.1)

    def forward(self, x):
        b = x.shape[0]
        eta = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1).flatten(1)))))
        w = torch.matmul(eta.view(b, self.cout, 1, self.g), self.bank).view(b, self.cout, self.cin, self.k, self.k)
        return torch.cat([F.conv2d(x[i:i + 1], w[i], self.bias, 1, self.padding) for i in range(b)])


class ThirdPartyDynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.dycnn = MMDynamicConv(8, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.condconv = MulSumCondConv(8, 12, 3, stride=2)
        self.bn2 = nn.BatchNorm2d(12)
        self.dynet = MatMulPerChannelConv(12, 12, 3)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.bn1(self.dycnn(x)))
        x = F.relu6(self.bn2(self.condconv(x)))
        x = F.relu(self.dynet(x) + x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def thirdparty():
    torch.manual_seed(5)
    return _randomize(ThirdPartyDynamic(), 5), (1, 1, 12, 12)


ONNX_NETS = {"plain": plain, "resnet": resnet, "dynet": dynet, "thirdparty": thirdparty, "activations": activations}
