#!/usr/bin/env bash
# Which layer's features see the shift that hurts? MMD² between site A and A′, B, C and the
# t = 0.8 sweep level, at every layer of EfficientNet-Lite0 (`medtransfer shift --layer`), on
# ImageNet weights and on a site-A model's weights, plus that model's class probabilities.
#
#   scripts/shift-layers.sh SWEEP_DIR [MODEL_RUN]
#
# SWEEP_DIR is the output folder of scripts/shift-sweep.sh (its phantom, its evaluations and,
# by default, its site-A model). 200 permutations and bootstrap replicates per pair (the
# ordering, not the p-values, is the point here). Output: SWEEP_DIR/layers/*.json,
# SWEEP_DIR/layers.json and a table on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sweep="${1:?usage: scripts/shift-layers.sh SWEEP_DIR [MODEL_RUN]}"
model="${2:-$sweep/site-a-model}"
bin="${MEDTRANSFER_BIN:-$root/.build/release/medtransfer}"
sites="site-a-prime site-b site-c shift-080"
layers="stem stage1 stage2 stage3 stage4 stage5 stage6 stage7 head_conv"
mkdir -p "$sweep/layers"
for features in imagenet model; do
  extra=(--input-size 96)
  [ "$features" = model ] && extra=(--checkpoint "$model")
  for layer in $layers softmax; do
    [ "$layer" = softmax ] && [ "$features" = imagenet ] && continue
    for s in $sites; do
      f="$sweep/layers/$features-$layer-$s.json"
      [ -s "$f" ] || "$bin" shift --source "$sweep/phantom/manifest.csv" --source-domain site-a \
        --target-domain "$s" --layer "$layer" --permutations 200 --bootstrap 200 \
        --covariance-bootstrap 0 --embedding none --no-logme --json "${extra[@]}" > "$f" 2> /dev/null
    done
  done
done

python3 - "$sweep" $sites <<'PY'
import json, sys
sweep, sites = sys.argv[1], sys.argv[2:]
def bacc(s): return json.load(open(f"{sweep}/eval-{s}.json"))["overall"]["balancedAccuracy"]
base = bacc("site-a")
drops = {s: base - bacc(s) for s in sites}
rows = []
for features in ["imagenet", "model"]:
    for layer in "stem stage1 stage2 stage3 stage4 stage5 stage6 stage7 head_conv softmax".split():
        if layer == "softmax" and features == "imagenet":
            continue
        mmd = {s: json.load(open(f"{sweep}/layers/{features}-{layer}-{s}.json"))["analysis"]["mmd"]["mmd2"]
               for s in sites}
        agree = sorted(sites, key=mmd.get) == sorted(sites, key=drops.get)
        rows.append({"features": features, "layer": layer, "mmd2": mmd, "ordersLikeDrop": agree})
json.dump({"drops": drops, "rows": rows}, open(f"{sweep}/layers.json", "w"), indent=2)
print("| weights | layer | " + " | ".join(f"{s} (drop {drops[s]:+.3f})" for s in sites) + " | same order as the drop |")
print("|---|---|" + "---|" * (len(sites) + 1))
for r in rows:
    print(f"| {r['features']} | {r['layer']} | " + " | ".join(f"{r['mmd2'][s]:.4f}" for s in sites)
          + f" | {'yes' if r['ordersLikeDrop'] else 'no'} |")
PY
