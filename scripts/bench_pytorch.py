#!/usr/bin/env python3
"""PyTorch's fastest CPU configuration for the same benchmarks as `medtransfer bench`.

EfficientNet-Lite0 (the plain-PyTorch definition in scripts/reference/efficientnet_reference.py,
scratch weights), channels_last, 2 threads, random input. Run it with glibc told to keep freed
memory (otherwise every batch costs ~0.7 M page faults):

  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
    python3 scripts/bench_pytorch.py train --batch 32 --size 224 --json

Modes: infer (eval forward, no_grad), train (forward with BN batch stats + cross-entropy +
backward + SGD momentum step), probe (frozen backbone in eval/no_grad, _fc trained).
Prints one JSON document like `medtransfer bench … --json`.
"""
import argparse
import json
import os
import pathlib
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "reference"))
from efficientnet_reference import EfficientNetLite0  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer", "probe"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = EfficientNetLite0().to(memory_format=torch.channels_last)
    x = (torch.rand(a.batch, 3, a.size, a.size) * 2 - 1).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (a.batch,))
    params = model._fc.parameters() if a.mode == "probe" else model.parameters()
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)

    def step():
        if a.mode == "infer":
            model.eval()
            with torch.no_grad():
                model(x)
        elif a.mode == "train":
            model.train()
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad():
                h = x
                h = F.relu6(model._bn0(model._conv_stem(h)))
                for b in model._blocks:
                    h = b(h)
                h = F.relu6(model._bn1(model._conv_head(h))).mean(dim=(2, 3))
            model._fc.train()
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(model._fc(model._dropout(h)), y).backward()
            opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.iterations):
        step()
    dt = time.perf_counter() - t0
    ips = a.batch * a.iterations / dt
    result = {
        "mode": a.mode, "model": "efficientnet-lite0 (pytorch)", "batch": a.batch, "size": a.size,
        "iterations": a.iterations, "threads": a.threads, "images_per_second": ips,
        "seconds_per_iteration": dt / a.iterations,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
        "malloc_tuned": os.environ.get("MALLOC_MMAP_MAX_") == "0",
    }
    print(json.dumps(result) if a.json else result)


if __name__ == "__main__":
    main()
