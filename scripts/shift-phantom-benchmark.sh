#!/usr/bin/env bash
# Shift numbers on the multi-site phantom: A vs A' (two disjoint patient halves of site A),
# A vs B, A vs C, B vs C, each with `medtransfer shift --json`, plus wall time per pair.
#
#   scripts/shift-phantom-benchmark.sh [OUT_DIR] [PER_CLASS] [MAX_IMAGES]
#
# OUT_DIR defaults to ~/.cache/medtransfer/phantoms/shift-bench-PERCLASS; the phantom is
# generated once (datasets/chest-ct-sites.yaml) and reused. Results go to OUT_DIR/shift-*.json
# and a summary table on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
per_class="${2:-600}"  # the spec's own perClass: 8,400 images
max_images="${3:-1000}"
out="${1:-${MEDTRANSFER_CACHE:-$HOME/.cache/medtransfer}/phantoms/shift-bench-$per_class}"
bin="${MEDTRANSFER_BIN:-$root/.build/release/medtransfer}"

if [ ! -f "$out/manifest.csv" ]; then
  "$bin" dataset generate "$root/datasets/chest-ct-sites.yaml" --out "$out" \
    --per-class "$per_class" --json > /dev/null
fi

run() {  # name, then shift arguments
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  "$bin" shift --source "$out/manifest.csv" --max-images "$max_images" --json \
    --plot "$out/shift-$name.svg" "$@" > "$out/shift-$name.json" 2> "$out/shift-$name.log"
  end=$(date +%s.%N)
  echo "$name $(echo "$end - $start" | bc)" >> "$out/times.txt"
}

: > "$out/times.txt"
run A-Aprime --source-domain site-a --target-domain site-a --source-split a --target-split b \
  --splits a=0.5,b=0.5
run A-B --source-domain site-a --target-domain site-b
run A-C --source-domain site-a --target-domain site-c
run B-C --source-domain site-b --target-domain site-c

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
times = dict(line.split() for line in open(f"{out}/times.txt"))
def ci(e):
    i = e.get("interval")
    return f"{e['value']:.4g} [{i['lower']:.4g}, {i['upper']:.4g}]" if i else f"{e['value']:.4g}"
print("| pair | n | MMD² [95% CI] | MMD p | PAD [95% CI] | Fréchet [CI] | CORAL [CI] | "
      "min KS p (Holm) | shift? | label TV | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in ["A-Aprime", "A-B", "A-C", "B-C"]:
    d = json.load(open(f"{out}/shift-{name}.json"))
    a = d["analysis"]
    m = a["mmd"]
    mmd = {"value": m["mmd2"], "interval": m.get("interval")}
    ks = [t for t in a["tests"] if t["name"].startswith("KS")]
    minks = min(t["adjustedPValue"] for t in ks) if ks else float("nan")
    tv = a["labels"]["totalVariation"]["value"] if a.get("labels") else float("nan")
    print(f"| {name} | {a['sourceCount']}/{a['targetCount']} | {ci(mmd)} | {m['pValue']:.4g} | "
          f"{ci(a['proxyADistance'])} | {ci(a['frechetDistance'])} | {ci(a['coralDistance'])} | "
          f"{minks:.3g} | {'yes' if a['shiftDetected'] else 'no'} | {tv:.3f} | "
          f"{float(times[name]):.1f} |")
for name in ["A-Aprime", "A-B", "A-C", "B-C"]:
    d = json.load(open(f"{out}/shift-{name}.json"))
    logme = ", ".join(f"{t['backbone'].replace('efficientnet-', '')}/{t['initialization']} "
                      f"{t['logME']:.3f}" for t in d["transferability"])
    print(f"{name}: seconds {json.dumps({k: round(v, 1) for k, v in d['seconds'].items()})}; "
          f"headers differing {d['analysis']['headers']['differing']}; LogME {logme}")
EOF
