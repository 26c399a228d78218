#!/usr/bin/env bash
# Interleaved side-by-side comparison of `medtransfer bench` and scripts/bench_pytorch.py
# (the machine's speed drifts over minutes, so only ratios from alternating runs mean anything).
# Usage: scripts/bench_compare.sh [BIN] [MODES] [SIZES] [BATCH] [ROUNDS]
set -euo pipefail
bin="${1:-.build/release/medtransfer}"
modes="${2:-infer probe train}"
sizes="${3:-128 224}"
batch="${4:-32}"
rounds="${5:-2}"
here="$(cd "$(dirname "$0")" && pwd)"
for size in $sizes; do
  for mode in $modes; do
    for r in $(seq "$rounds"); do
      ours="$("$bin" bench "$mode" --batch "$batch" --size "$size" --iterations 3 --warmup 1 --json)"
      theirs="$(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
        python3 "$here/bench_pytorch.py" "$mode" --batch "$batch" --size "$size" --iterations 3 --warmup 1 --json)"
      python3 - "$mode" "$size" "$r" "$ours" "$theirs" <<'PY'
import json, sys
mode, size, r, ours, theirs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
print(f"{mode:5} {size:>3} round {r}: ours {ours['images_per_second']:7.1f} img/s "
      f"({ours['peak_rss_bytes']/1e9:.2f} GB)  pytorch {theirs['images_per_second']:7.1f} img/s "
      f"({theirs['peak_rss_bytes']/1e9:.2f} GB)  ratio {ours['images_per_second']/theirs['images_per_second']:.2f}x")
PY
    done
  done
done
