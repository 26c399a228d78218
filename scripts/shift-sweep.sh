#!/usr/bin/env bash
# Does a bigger measured shift mean a bigger accuracy drop? A controlled sweep on the phantom.
#
#   scripts/shift-sweep.sh OUT_DIR [MODEL_RUN] [PER_CLASS]
#
# Site A of datasets/chest-ct-sites.yaml is copied into a family of sites whose scanner profile
# moves from site A's (t = 0) toward a far profile (t = 1) in equal steps, all knobs at once:
# reconstruction blur 0.3 → 3.0 mm, sharpening 0.6 → 0, dose 200 → 30 mAs, HU offset 0 → 100.
# `site-a-prime` is a second, independent sample of site A itself (t = 0).
# Everything is drawn with seed 4242, so none of these images were seen by a model trained on
# the shipped phantom (seed 20261123).
#
# MODEL_RUN: a `medtransfer train` run folder of a site-A model (trained here if missing:
# full fine-tune of ImageNet Lite0, all site-A labels, 96 px, 15 epochs, seed 0).
# For each level: the model's balanced accuracy (drop = site A's minus the level's), and
# `medtransfer shift` between site A and the level on ImageNet features and on the model's own
# features. Then Spearman's rank correlation between each distance and the drop, with its
# exact permutation p-value. Output: OUT_DIR/sweep.json and a table on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: scripts/shift-sweep.sh OUT_DIR [MODEL_RUN] [PER_CLASS]}"
model="${2:-$out/site-a-model}"
per_class="${3:-150}"
bin="${MEDTRANSFER_BIN:-$root/.build/release/medtransfer}"
levels="0.2 0.4 0.6 0.8 1.0"
mkdir -p "$out"

python3 - "$root/datasets/chest-ct-sites.yaml" "$out/sweep-spec.yaml" $levels <<'EOF'
import copy, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
a = next(s for s in spec["sites"] if s["name"] == "site-a")
far = {"blurMM": 3.0, "sharpen": 0.0, "exposureMAs": 30.0, "huOffset": 100.0}
sites = [copy.deepcopy(a), dict(copy.deepcopy(a), name="site-a-prime")]
for t in map(float, sys.argv[3:]):
    s = copy.deepcopy(a)
    s["name"] = f"shift-{int(round(t * 100)):03d}"
    for k, v in far.items():
        s[k] = round((1 - t) * float(a[k]) + t * v, 4)
    sites.append(s)
for s in sites:
    s["classPriors"] = [0.25, 0.25, 0.25, 0.25]
spec["sites"] = sites
spec["name"] = "chest-ct-shift-sweep"
yaml.safe_dump(spec, open(sys.argv[2], "w"), sort_keys=False)
EOF

if [ ! -f "$out/phantom/manifest.csv" ]; then
  "$bin" dataset generate "$out/sweep-spec.yaml" --out "$out/phantom" --per-class "$per_class" \
    --seed 4242 --json > /dev/null
fi

if [ ! -f "$model/model.safetensors" ]; then
  train_data="$out/train-phantom"
  if [ ! -f "$train_data/manifest.csv" ]; then
    "$bin" dataset generate "$root/datasets/chest-ct-sites.yaml" --out "$train_data" --json > /dev/null
  fi
  "$bin" train --data "$train_data/manifest.csv" --domain site-a --init pretrained:efficientnet-lite0 \
    --strategy full --backbone-lr-scale 0.3 --epochs 15 --patience 0 --size 96 --seed 0 \
    --out "$model" > /dev/null
fi

sites="site-a site-a-prime"
for t in $levels; do sites="$sites shift-$(printf '%03d' "$(python3 -c "print(round($t*100))")")"; done
for s in $sites; do
  [ -f "$out/eval-$s.json" ] || "$bin" evaluate --checkpoint "$model" --data "$out/phantom/manifest.csv" \
    --domain "$s" --json > "$out/eval-$s.json" 2> /dev/null
done
for s in $sites; do
  [ "$s" = site-a ] && continue
  for features in imagenet model; do
    extra=(--input-size 96)
    [ "$features" = model ] && extra=(--checkpoint "$model")
    f="$out/shift-$features-$s.json"
    [ -f "$f" ] || "$bin" shift --source "$out/phantom/manifest.csv" --source-domain site-a \
      --target-domain "$s" --permutations 1000 --json "${extra[@]}" > "$f" 2> "$out/shift-$features-$s.log"
  done
done

python3 - "$out" $sites <<'EOF'
import itertools, json, sys
out, sites = sys.argv[1], sys.argv[2:]
def bacc(s): return json.load(open(f"{out}/eval-{s}.json"))["overall"]["balancedAccuracy"]
base = bacc("site-a")
rows = []
for s in sites[1:]:
    row = {"site": s, "t": 0.0 if s == "site-a-prime" else int(s.split("-")[1]) / 100,
           "balancedAccuracy": bacc(s), "drop": base - bacc(s)}
    for features in ["imagenet", "model"]:
        a = json.load(open(f"{out}/shift-{features}-{s}.json"))["analysis"]
        row[features] = {"mmd2": a["mmd"]["mmd2"], "mmd2Interval": a["mmd"].get("interval"),
                         "pValue": a["mmd"]["pValue"], "frechet": a["frechetDistance"]["value"],
                         "pad": a["proxyADistance"]["value"], "coral": a["coralDistance"]["value"],
                         "shiftDetected": a["shiftDetected"]}
    rows.append(row)

def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):  # average ranks over ties
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]: j += 1
        for k in range(i, j + 1): r[order[k]] = (i + j) / 2
        i = j + 1
    return r
def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    den = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return num / den if den else float("nan")
def exact_p(x, y):  # one-sided: P(rho >= observed) over all permutations of y
    obs = spearman(x, y)
    perms = list(itertools.permutations(y))
    return sum(spearman(x, list(p)) >= obs - 1e-12 for p in perms) / len(perms)

drops = [r["drop"] for r in rows]
summary = {}
for features in ["imagenet", "model"]:
    for d in ["mmd2", "frechet", "pad", "coral"]:
        x = [r[features][d] for r in rows]
        summary[f"{features}.{d}"] = {"spearman": spearman(x, drops), "p": exact_p(x, drops)}
json.dump({"baseBalancedAccuracy": base, "levels": rows, "rankCorrelation": summary},
          open(f"{out}/sweep.json", "w"), indent=2)

print(f"site-A model balanced accuracy on fresh site-A images: {base:.3f}")
print("| level | t | bal. acc | drop | MMD² ImageNet (p) | MMD² model (p) | Fréchet model | PAD model |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    i, m = r["imagenet"], r["model"]
    print(f"| {r['site']} | {r['t']:.1f} | {r['balancedAccuracy']:.3f} | {r['drop']:+.3f} | "
          f"{i['mmd2']:.4f} ({i['pValue']:.3g}) | {m['mmd2']:.4f} ({m['pValue']:.3g}) | "
          f"{m['frechet']:.1f} | {m['pad']:.3f} |")
print("Spearman ρ between distance and drop over the levels (exact one-sided p):")
for k, v in summary.items():
    print(f"  {k}: ρ = {v['spearman']:+.3f}, p = {v['p']:.4f}")
EOF
