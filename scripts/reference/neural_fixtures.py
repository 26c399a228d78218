#!/usr/bin/env python3
"""PyTorch reference fixtures for the Neural module's tests (run once by hand, not in CI).

Writes Tests/NeuralTests/Fixtures/tiny_net.safetensors with safetensors.torch (so the test
also proves we read files PyTorch writes): a tiny EfficientNet-Lite-like network's state dict
(prefix "init."), a fixed input (NHWC, "input"), labels, eval-mode logits, one training step
(BN batch statistics, cross-entropy with label smoothing 0.1, SGD momentum 0.9 Nesterov,
weight decay 1e-4) -> loss, gradients ("grad.*"), the parameters and BN buffers after two
steps ("step2.*"), and an AdamW step ("adamw.*"). Metadata records the versions.

    pip install torch safetensors numpy
    python3 scripts/reference/neural_fixtures.py
"""
import math
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/NeuralTests/Fixtures/tiny_net.safetensors"


class SameConv(nn.Conv2d):
    """TensorFlow SAME padding (EfficientNet-Lite / lukemelas Conv2dStaticSamePadding)."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        s = self.stride[0]
        oh, ow = math.ceil(ih / s), math.ceil(iw / s)
        ph = max((oh - 1) * s + kh - ih, 0)
        pw = max((ow - 1) * s + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


class Block(nn.Module):
    def __init__(self, c, e, k, s):
        super().__init__()
        self._expand_conv = nn.Conv2d(c, c * e, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(c * e, eps=1e-3, momentum=0.01)
        self._depthwise_conv = SameConv(c * e, c * e, k, stride=s, groups=c * e, bias=False)
        self._bn1 = nn.BatchNorm2d(c * e, eps=1e-3, momentum=0.01)
        self._project_conv = nn.Conv2d(c * e, c, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
        self.residual = s == 1

    def forward(self, x):
        h = F.relu6(self._bn0(self._expand_conv(x)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 8, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
        self._blocks = nn.Sequential(Block(8, 3, 3, 1), Block(8, 2, 5, 2))
        self._conv_head = nn.Conv2d(8, 16, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
        self._fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def main():
    net = Tiny()
    # Non-trivial BN state so eval mode differs from train mode.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    net = net.to(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 13, 11).to(memory_format=torch.channels_last)
    labels = torch.tensor([0, 3, 1, 4])
    out = {f"init.{k}": v.clone() for k, v in net.state_dict().items()}
    out["input"] = x.permute(0, 2, 3, 1).contiguous()
    out["labels"] = labels.clone()

    net.eval()
    with torch.no_grad():
        out["eval.logits"] = net(x).clone()

    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for step in range(2):
        opt.zero_grad()
        logits = net(x)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
        loss.backward()
        if step == 0:
            out["train.logits"] = logits.detach().clone()
            out["train.loss"] = loss.detach().reshape(1).clone()
            for k, p in net.named_parameters():
                out[f"grad.{k}"] = p.grad.clone()
        opt.step()
    for k, v in net.state_dict().items():
        out[f"step2.{k}"] = v.clone()

    # AdamW on a Linear layer, three steps with different gradients.
    lin = nn.Linear(4, 3)
    out["adamw.init.weight"] = lin.weight.detach().clone()
    out["adamw.init.bias"] = lin.bias.detach().clone()
    adam = torch.optim.AdamW(lin.parameters(), lr=0.01, weight_decay=0.05)
    xs = torch.randn(3, 2, 4)
    out["adamw.inputs"] = xs.clone()
    for i in range(3):
        adam.zero_grad()
        lin(xs[i]).square().sum().backward()
        adam.step()
    out["adamw.final.weight"] = lin.weight.detach().clone()
    out["adamw.final.bias"] = lin.bias.detach().clone()
    out["f16.sample"] = torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16)
    out["bf16.sample"] = torch.tensor([1.0, -2.5, 3.0e38], dtype=torch.bfloat16)

    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT),
              metadata={"torch": torch.__version__, "script": "scripts/reference/neural_fixtures.py"})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
