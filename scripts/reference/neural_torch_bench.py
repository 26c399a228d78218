#!/usr/bin/env python3
"""PyTorch side of the Neural engine comparison (not the product benchmark; that is
`medtransfer bench`). Same EfficientNet-Lite0 topology as Tests/NeuralTests/NeuralBenchmarks.swift,
random weights, channels_last, 2 threads. Run interleaved with the Swift benchmark:

  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 python3 scripts/reference/neural_torch_bench.py 32 224 2
"""
import math, sys, time, resource
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(2)

class SameConv(nn.Conv2d):
    def forward(self, x):
        ih, iw = x.shape[-2:]; k = self.weight.shape[-1]; s = self.stride[0]
        ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0); pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        return F.conv2d(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), self.weight, None, self.stride, 0, 1, self.groups)

def bn(c): return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

class Block(nn.Module):
    def __init__(s, i, o, e, k, st):
        super().__init__(); m = i * e; s.e = e
        if e != 1: s._expand_conv = nn.Conv2d(i, m, 1, bias=False); s._bn0 = bn(m)
        s._depthwise_conv = SameConv(m, m, k, stride=st, groups=m, bias=False); s._bn1 = bn(m)
        s._project_conv = nn.Conv2d(m, o, 1, bias=False); s._bn2 = bn(o); s.skip = st == 1 and i == o
    def forward(s, x):
        h = F.relu6(s._bn0(s._expand_conv(x))) if s.e != 1 else x
        h = s._bn2(s._project_conv(F.relu6(s._bn1(s._depthwise_conv(h)))))
        return x + h if s.skip else h

class Lite0(nn.Module):
    def __init__(s):
        super().__init__()
        s._conv_stem = SameConv(3, 32, 3, stride=2, bias=False); s._bn0 = bn(32)
        blocks = []
        for r, k, st, e, i, o in [(1,3,1,1,32,16),(2,3,2,6,16,24),(2,5,2,6,24,40),(3,3,2,6,40,80),(3,5,1,6,80,112),(4,5,2,6,112,192),(1,3,1,6,192,320)]:
            for j in range(r): blocks.append(Block(i if j == 0 else o, o, e, k, st if j == 0 else 1))
        s._blocks = nn.Sequential(*blocks)
        s._conv_head = nn.Conv2d(320, 1280, 1, bias=False); s._bn1 = bn(1280); s._fc = nn.Linear(1280, 1000)
    def forward(s, x):
        x = s._blocks(F.relu6(s._bn0(s._conv_stem(x))))
        return s._fc(F.dropout(F.relu6(s._bn1(s._conv_head(x))).mean((2, 3)), 0.2, s.training))

batch, size, steps = (int(a) for a in sys.argv[1:4])
net = Lite0().to(memory_format=torch.channels_last)
x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
y = torch.arange(batch) % 1000
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-5)
for mode in ("infer", "train"):
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        if mode == "infer":
            net.eval()
            with torch.no_grad(): net(x)
        else:
            net.train(); opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
        if i: times.append(time.perf_counter() - t)
    b = min(times)
    print(f"TORCH lite0 {mode} batch {batch} size {size}: best {b:.3f} s = {batch / b:.1f} img/s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
