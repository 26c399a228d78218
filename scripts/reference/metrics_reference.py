#!/usr/bin/env python3
"""Golden values for Tests/MetricsTests (written to Tests/MetricsTests/Fixtures/metrics_reference.json).

Independent implementations in numpy/scipy of what Sources/Metrics computes:
  * KS two-sample statistic/p-value and 1-D Wasserstein: scipy.stats (ks_2samp, method="exact").
  * DeLong AUROC variance: brute-force O(m·n) structural components psi(x, y) (DeLong 1988),
    not the mid-rank shortcut the Swift code uses; paired DeLong z and p for two models.
  * LogME: straight from You et al. 2021 with explicit D×D matrices (A = αI + βFᵀF solved with
    numpy.linalg, log|A| by slogdet), no eigen trick — same fixed point (start α = β = 1,
    relative tolerance 1e-8 on α/β).
  * Fréchet distance: scipy.linalg.sqrtm on the sample covariances (pytorch-fid's formula).
  * Multinomial logistic regression with L2: scipy.optimize L-BFGS on the same objective.
  * McNemar exact and mid-p: scipy.stats.binom; Student t quantile: scipy.stats.t.ppf.
  * Wilson interval of a proportion: scipy.stats.binomtest(k, n).proportion_ci("wilson").

Run:  python3 scripts/reference/metrics_reference.py
"""
import json
import os

import numpy as np
import scipy
import scipy.linalg
import scipy.optimize
import scipy.stats

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MetricsTests", "Fixtures",
                   "metrics_reference.json")
rng = np.random.default_rng(20261123)


def ks_cases():
    cases = []
    specs = [
        (rng.normal(0, 1, 40), rng.normal(0.3, 1, 55)),
        (rng.normal(0, 1, 200), rng.normal(0, 1.2, 150)),
        (np.round(rng.normal(0, 1, 60), 1), np.round(rng.normal(0.5, 1, 60), 1)),  # ties
        (rng.exponential(1, 17), rng.exponential(2, 9)),
        (rng.normal(0, 1, 300), rng.normal(0.6, 1, 300)),  # tiny p
    ]
    for x, y in specs:
        ks = scipy.stats.ks_2samp(x, y, method="exact")
        cases.append({
            "x": x.tolist(), "y": y.tolist(), "statistic": float(ks.statistic),
            "pvalue": float(ks.pvalue), "wasserstein": float(scipy.stats.wasserstein_distance(x, y)),
        })
    return cases


def delong_bruteforce(scores, labels):
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    m, n = len(pos), len(neg)
    psi = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    auc = psi.mean()
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    return auc, v10, v01, m, n


def delong_case():
    n = 90
    labels = (rng.random(n) < 0.4).astype(int)
    a = np.round(labels * 0.8 + rng.normal(0, 0.6, n), 1)  # rounded: ties
    b = np.round(labels * 0.5 + 0.5 * a + rng.normal(0, 0.6, n), 1)
    auc_a, v10a, v01a, m, nn = delong_bruteforce(a, labels)
    auc_b, v10b, v01b, _, _ = delong_bruteforce(b, labels)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / m + s01 / nn
    var_diff = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (auc_a - auc_b) / np.sqrt(var_diff)
    p = 2 * scipy.stats.norm.sf(abs(z))
    return {"scoresA": a.tolist(), "scoresB": b.tolist(), "labels": labels.tolist(),
            "aucA": auc_a, "aucB": auc_b, "varA": cov[0, 0], "varB": cov[1, 1],
            "covAB": cov[0, 1], "z": z, "p": p}


def logme_class(f, y, tol=1e-8, max_iter=1000):
    n, d = f.shape
    ftf = f.T @ f
    fty = f.T @ y
    alpha, beta = 1.0, 1.0
    sigma = np.linalg.eigvalsh(ftf)
    sigma = np.maximum(sigma, 0)

    def state(alpha, beta):
        a = alpha * np.eye(d) + beta * ftf
        m = beta * np.linalg.solve(a, fty)
        gamma = np.sum(beta * sigma / (alpha + beta * sigma))
        res = np.sum((f @ m - y) ** 2)
        return a, m, gamma, res

    for _ in range(max_iter):
        _, m, gamma, res = state(alpha, beta)
        new_alpha = gamma / (m @ m)
        new_beta = (n - gamma) / res
        change = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta)
        alpha, beta = new_alpha, new_beta
        if change < tol:
            break
    a, m, gamma, res = state(alpha, beta)
    logdet = np.linalg.slogdet(a)[1]
    ev = (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
          - beta / 2 * res - alpha / 2 * (m @ m) - 0.5 * logdet)
    return ev / n


def logme_cases():
    cases = []
    for n, d, k in [(120, 16, 3), (30, 50, 2)]:
        labels = rng.integers(0, k, n)
        centers = rng.normal(0, 1, (k, d))
        f = centers[labels] + rng.normal(0, 1.5, (n, d))
        f = f.astype(np.float32).astype(np.float64)  # Swift receives Float features
        per = [logme_class(f, (labels == c).astype(float)) for c in range(k)]
        cases.append({"n": n, "d": d, "k": k, "features": f.ravel().tolist(),
                      "labels": labels.tolist(), "perClass": per, "score": float(np.mean(per))})
    return cases


def frechet_case():
    n1, n2, d = 60, 45, 8
    x = rng.normal(0, 1, (n1, d)) @ rng.normal(0, 0.7, (d, d))
    y = rng.normal(0.3, 1, (n2, d)) @ rng.normal(0, 0.7, (d, d)) + 0.5
    x = x.astype(np.float32).astype(np.float64)
    y = y.astype(np.float32).astype(np.float64)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    fd = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    coral = float(np.sum((s1 - s2) ** 2) / (4 * d * d))
    return {"d": d, "x": x.ravel().tolist(), "y": y.ravel().tolist(), "frechet": fd,
            "coral": coral}


def logreg_case():
    n, d, k, lam = 150, 5, 3, 0.05
    labels = rng.integers(0, k, n)
    x = rng.normal(0, 1, (n, d)) + rng.normal(0, 1.0, (k, d))[labels]
    x = x.astype(np.float32).astype(np.float64)
    mean = x.mean(0)
    scale = x.std(0)
    xs = (x - mean) / scale
    y = np.eye(k)[labels]

    def objective(theta):
        w = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        z = xs @ w + b
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss = -np.mean(np.sum(y * logp, 1)) + 0.5 * lam * np.sum(w * w)
        p = np.exp(logp)
        gw = xs.T @ (p - y) / n + lam * w
        gb = (p - y).mean(0)
        return loss, np.concatenate([gw.ravel(), gb])

    res = scipy.optimize.minimize(objective, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    w = res.x[: d * k].reshape(d, k)
    b = res.x[d * k:]
    z = xs @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return {"n": n, "d": d, "k": k, "l2": lam, "features": x.ravel().tolist(),
            "labels": labels.tolist(), "loss": float(res.fun), "probabilities": p.ravel().tolist()}


def mcnemar_cases():
    out = []
    for b, c in [(3, 11), (10, 10), (0, 5), (25, 40)]:
        k, n = min(b, c), b + c
        exact = min(1.0, 2 * scipy.stats.binom.cdf(k, n, 0.5))
        mid = exact - scipy.stats.binom.pmf(k, n, 0.5)
        out.append({"b": b, "c": c, "exact": exact, "mid": mid})
    return out


def t_quantiles():
    return [{"p": p, "df": df, "q": float(scipy.stats.t.ppf(p, df))}
            for p, df in [(0.975, 1), (0.975, 4), (0.95, 9), (0.995, 29), (0.6, 2.5)]]


def wilson_cases():
    out = []
    for k, n, level in [(2, 4, 0.95), (0, 10, 0.95), (81, 263, 0.95), (10, 10, 0.95), (7, 30, 0.9)]:
        ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        out.append({"k": k, "n": n, "level": level, "low": float(ci.low), "high": float(ci.high)})
    return out


def main():
    doc = {
        "generator": "scripts/reference/metrics_reference.py",
        "numpy": np.__version__, "scipy": scipy.__version__,
        "ks": ks_cases(), "delong": delong_case(), "logme": logme_cases(),
        "frechet": frechet_case(), "logreg": logreg_case(), "mcnemar": mcnemar_cases(),
        "tQuantiles": t_quantiles(), "wilson": wilson_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, default=float)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
