#!/usr/bin/env bash
# Interleaved side-by-side comparison of `medtransfer bench` and scripts/bench_pytorch.py
# (the machine's speed drifts over minutes and is shared, so only ratios from alternating runs
# mean anything; each line shows the 1-minute load average when the pair ran).
# Usage: scripts/bench_compare.sh [BIN] [MODES] [SIZES] [BATCH] [ROUNDS] [ITERATIONS]
set -euo pipefail
bin="${1:-.build/release/medtransfer}"
modes="${2:-infer probe train}"
sizes="${3:-128 224}"
batch="${4:-32}"
rounds="${5:-2}"
iterations="${6:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
for r in $(seq "$rounds"); do
  for size in $sizes; do
    for mode in $modes; do
      ours="$("$bin" bench "$mode" --batch "$batch" --size "$size" --iterations "$iterations" --warmup 1 --json)"
      theirs="$(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
        python3 "$here/bench_pytorch.py" "$mode" --batch "$batch" --size "$size" \
        --iterations "$iterations" --warmup 1 --json)"
      load="$(cut -d' ' -f1 /proc/loadavg)"
      python3 - "$mode" "$size" "$r" "$ours" "$theirs" "$load" <<'PY'
import json, sys
mode, size, r, ours, theirs, load = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6]
print(f"{mode:5} {size:>3} round {r}: ours {ours['images_per_second']:7.1f} img/s "
      f"({ours['peak_rss_bytes']/1e9:.2f} GB, {ours.get('fraction_of_sgemm_peak', 0)*100:.0f}% of sgemm)  "
      f"pytorch {theirs['images_per_second']:7.1f} img/s ({theirs['peak_rss_bytes']/1e9:.2f} GB)  "
      f"ratio {ours['images_per_second']/theirs['images_per_second']:.2f}x  load {load}", flush=True)
PY
    done
  done
done
