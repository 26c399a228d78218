#!/usr/bin/env bash
# Does a bigger measured shift mean a bigger accuracy drop? A controlled sweep on the phantom.
#
#   scripts/shift-sweep.sh OUT_DIR [MODEL_RUN] [PER_CLASS]
#
# Site A of datasets/chest-ct-sites.yaml is copied into a family of sites whose scanner profile
# moves from site A's (t = 0) toward a far profile (t = 1) in equal steps, all knobs at once:
# reconstruction blur 0.3 → 3.0 mm, sharpening 0.6 → 0, dose 200 → 30 mAs, HU offset 0 → 100.
# `site-a-prime` is a second, independent sample of site A itself (t = 0). The real sites B and
# C of the shipped spec are drawn fresh too, so their drop and distances are measured with the
# same model on the same footing as the controlled levels.
# Everything is drawn with seed 4242, so none of these images were seen by a model trained on
# the shipped phantom (seed 20261123).
#
# MODEL_RUN: a `medtransfer train` run folder of a site-A model (trained here if missing:
# full fine-tune of ImageNet Lite0, all site-A labels, 96 px, 15 epochs, seed 0).
# For each level: the model's balanced accuracy (drop = site A's minus the level's), and
# `medtransfer shift` between site A and the level on ImageNet features, on the model's own
# penultimate features, and on the model's class probabilities (`--layer softmax`: black-box
# shift detection, plus the difference of confidences). Then Spearman's rank correlation
# between each distance and the drop, with its permutation p-value (exact up to 8 points,
# else 200,000 random permutations), over the controlled levels and over all sites. LEVELS (env) overrides the shift levels.
# Output: OUT_DIR/sweep.json and a table on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: scripts/shift-sweep.sh OUT_DIR [MODEL_RUN] [PER_CLASS]}"
model="${2:-$out/site-a-model}"
per_class="${3:-150}"
bin="${MEDTRANSFER_BIN:-$root/.build/release/medtransfer}"
levels="${LEVELS:-0.2 0.4 0.6 0.7 0.8 0.9 1.0}"
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
sites += [copy.deepcopy(s) for s in spec["sites"] if s["name"] in ("site-b", "site-c")]
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
sites="$sites site-b site-c"
for s in $sites; do
  [ -f "$out/eval-$s.json" ] || "$bin" evaluate --checkpoint "$model" --data "$out/phantom/manifest.csv" \
    --domain "$s" --json > "$out/eval-$s.json" 2> /dev/null
done
for s in $sites; do
  [ "$s" = site-a ] && continue
  for features in imagenet model softmax; do
    extra=(--input-size 96)
    [ "$features" = model ] && extra=(--checkpoint "$model")
    [ "$features" = softmax ] && extra=(--checkpoint "$model" --layer softmax)
    f="$out/shift-$features-$s.json"
    [ -f "$f" ] || "$bin" shift --source "$out/phantom/manifest.csv" --source-domain site-a \
      --target-domain "$s" --permutations 1000 --json "${extra[@]}" > "$f" 2> "$out/shift-$features-$s.log"
  done
done

python3 - "$out" $sites <<'EOF'
import itertools, json, random, sys
out, sites = sys.argv[1], sys.argv[2:]
def bacc(s): return json.load(open(f"{out}/eval-{s}.json"))["overall"]["balancedAccuracy"]
base = bacc("site-a")
rows = []
for s in sites[1:]:
    t = 0.0 if s == "site-a-prime" else None if s in ("site-b", "site-c") else int(s.split("-")[1]) / 100
    row = {"site": s, "t": t,
           "balancedAccuracy": bacc(s), "drop": base - bacc(s)}
    for features in ["imagenet", "model", "softmax"]:
        d = json.load(open(f"{out}/shift-{features}-{s}.json"))
        a = d["analysis"]
        row[features] = {"mmd2": a["mmd"]["mmd2"], "mmd2Interval": a["mmd"].get("interval"),
                         "pValue": a["mmd"]["pValue"], "frechet": a["frechetDistance"]["value"],
                         "pad": a["proxyADistance"]["value"], "coral": a["coralDistance"]["value"],
                         "shiftDetected": a["shiftDetected"]}
        if d.get("predictions"):
            row[features]["confidenceDrop"] = d["predictions"]["confidenceDrop"]
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
def permutation_p(x, y):  # one-sided: P(rho >= observed) over permutations of y
    obs = spearman(x, y)
    if len(y) <= 8:
        perms = list(itertools.permutations(y))
        return sum(spearman(x, list(p)) >= obs - 1e-12 for p in perms) / len(perms)
    rng, b, hits = random.Random(0), 200_000, 0
    y = list(y)
    for _ in range(b):
        rng.shuffle(y)
        hits += spearman(x, y) >= obs - 1e-12
    return (1 + hits) / (1 + b)

summary = {}
for scope, subset in [("levels", [r for r in rows if r["t"] is not None]), ("all", rows)]:
    drops = [r["drop"] for r in subset]
    for features in ["imagenet", "model", "softmax"]:
        for d in ["mmd2", "frechet", "pad", "coral"] + (["confidenceDrop"] if features == "softmax" else []):
            x = [r[features][d] for r in subset]
            summary[f"{scope}.{features}.{d}"] = {"n": len(subset), "spearman": spearman(x, drops),
                                                 "p": permutation_p(x, drops)}
json.dump({"baseBalancedAccuracy": base, "levels": rows, "rankCorrelation": summary},
          open(f"{out}/sweep.json", "w"), indent=2)

print(f"site-A model balanced accuracy on fresh site-A images: {base:.3f}")
print("| level | t | bal. acc | drop | MMD² ImageNet (p) | MMD² model features (p) | "
      "MMD² model softmax [95% CI] (p) | confidence drop |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    i, m, b = r["imagenet"], r["model"], r["softmax"]
    t = "real" if r["t"] is None else f"{r['t']:.1f}"
    ci = b["mmd2Interval"]
    print(f"| {r['site']} | {t} | {r['balancedAccuracy']:.3f} | {r['drop']:+.3f} | "
          f"{i['mmd2']:.4f} ({i['pValue']:.3g}) | {m['mmd2']:.4f} ({m['pValue']:.3g}) | "
          f"{b['mmd2']:.4f} [{ci['lower']:.4f}, {ci['upper']:.4f}] ({b['pValue']:.3g}) | "
          f"{b['confidenceDrop']:+.3f} |")
print("Spearman ρ between distance and drop (one-sided permutation p), over the controlled levels")
print("and over all sites including the real B and C:")
for k, v in summary.items():
    print(f"  {k} (n = {v['n']}): ρ = {v['spearman']:+.3f}, p = {v['p']:.2g}")
EOF
