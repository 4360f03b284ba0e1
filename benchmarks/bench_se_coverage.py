"""Coverage of 95% Wald intervals from ``FactorAnalysis.standard_errors``.

Simulation of issue 16: k = 3 factors, d = 12 features, n = 500 rows, 500 data
sets drawn from a fixed model (each feature loads 0.7 on one factor and 0.2 on
the next; unit variances). For each data set the model is fitted, rotated, and
the 95% interval ``estimate ± 1.96 se`` of every loading is checked against the
population rotated loadings (the same rotation applied to the true covariance
by ``fit_covariance``), after matching the fitted factors to the population
ones by order and sign. Target: 93%–97% coverage for the rotated loadings.

The nonparametric bootstrap (``bootstrap_loadings``, 100 replicates, percentile
intervals) is checked the same way on 60 data sets.

Peer, side by side in the same process: statsmodels' ``Factor(method="ml")``
unrotated solution with its ``load_stderr`` (Bai & Li's large-d
approximation ``sqrt(ψ/n)``), on the first ``N_PEER`` data sets, coverage and
time per fit against ours unrotated.

Run: ``python benchmarks/bench_se_coverage.py [--quick]`` (writes
benchmarks/results/se_coverage.json).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from latentmodels import FactorAnalysis
from latentmodels.identifiability import matched_congruence

D, K, N = 12, 3, 500
N_SETS = 500
N_PEER = 100


def truth():
    W = np.zeros((D, K))
    W[np.arange(D), np.arange(D) % K] = 0.7
    W[np.arange(D), (np.arange(D) + 1) % K] = 0.2
    return W, 1.0 - np.sum(W**2, axis=1)


def coverage(rotation, sets, W, psi, seed):
    rng = np.random.RandomState(seed)
    C = W @ W.T + np.diag(psi)
    ref = FactorAnalysis(K, rotation=rotation).fit_covariance(C, N).components_
    hits, t_fit, t_se = [], 0.0, 0.0
    for _ in range(sets):
        X = rng.standard_normal((N, K)) @ W.T + rng.standard_normal((N, D)) * np.sqrt(
            psi
        )
        t0 = time.perf_counter()
        fa = FactorAnalysis(K, rotation=rotation).fit(X)
        t1 = time.perf_counter()
        se = fa.standard_errors().components
        t_se += time.perf_counter() - t1
        t_fit += t1 - t0
        m = matched_congruence(ref, fa.components_)
        hits.append(np.abs(m.aligned_components - ref) <= 1.96 * se[m.permutation])
    hits = np.array(hits)
    return {
        "coverage": float(hits.mean()),
        "coverage_min_entry": float(hits.mean(axis=0).min()),
        "coverage_max_entry": float(hits.mean(axis=0).max()),
        "n_sets": sets,
        "seconds_per_fit": t_fit / sets,
        "seconds_per_standard_errors": t_se / sets,
    }


def peer(sets, W, psi, seed):
    try:
        from statsmodels.multivariate.factor import Factor
    except ImportError:  # pragma: no cover - optional peer
        return None
    rng = np.random.RandomState(seed)
    C = W @ W.T + np.diag(psi)
    ref = FactorAnalysis(K).fit_covariance(C, N).components_
    hits_sm, hits_ours, t_sm, t_ours = [], [], 0.0, 0.0
    for _ in range(sets):
        X = rng.standard_normal((N, K)) @ W.T + rng.standard_normal((N, D)) * np.sqrt(
            psi
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = Factor(X, K, method="ml").fit()
        t1 = time.perf_counter()
        fa = FactorAnalysis(K).fit(X)
        se = fa.standard_errors().components
        t2 = time.perf_counter()
        t_sm += t1 - t0
        t_ours += t2 - t1
        m = matched_congruence(ref, fa.components_)
        hits_ours.append(np.abs(m.aligned_components - ref) <= 1.96 * se[m.permutation])
        L = res.loadings.T  # correlation scale = population scale here (unit var)
        ms = matched_congruence(ref, L)
        se_sm = res.load_stderr.T[ms.permutation]
        hits_sm.append(np.abs(ms.aligned_components - ref) <= 1.96 * se_sm)
    return {
        "n_sets": sets,
        "statsmodels_coverage_unrotated": float(np.mean(hits_sm)),
        "ours_coverage_unrotated": float(np.mean(hits_ours)),
        "statsmodels_seconds_per_fit": t_sm / sets,
        "ours_seconds_per_fit_and_se": t_ours / sets,
        "ratio_time_statsmodels_over_ours": t_sm / t_ours,
    }


def bootstrap_coverage(sets, n_boot, W, psi, seed):
    """Percentile intervals of ``bootstrap_loadings`` (varimax)."""
    rng = np.random.RandomState(seed)
    C = W @ W.T + np.diag(psi)
    ref = FactorAnalysis(K, rotation="varimax").fit_covariance(C, N).components_
    hits, t = [], 0.0
    for i in range(sets):
        X = rng.standard_normal((N, K)) @ W.T + rng.standard_normal((N, D)) * np.sqrt(
            psi
        )
        fa = FactorAnalysis(K, rotation="varimax").fit(X)
        t0 = time.perf_counter()
        boot = fa.bootstrap_loadings(X, n_boot=n_boot, random_state=i)
        t += time.perf_counter() - t0
        m = matched_congruence(ref, fa.components_)
        lo, hi = boot.lower[m.permutation], boot.upper[m.permutation]
        lo, hi = np.minimum(lo * m.signs[:, None], hi * m.signs[:, None]), np.maximum(
            lo * m.signs[:, None], hi * m.signs[:, None]
        )
        hits.append((lo <= ref) & (ref <= hi))
    return {
        "coverage": float(np.mean(hits)),
        "n_sets": sets,
        "n_boot": n_boot,
        "seconds_per_bootstrap": t / sets,
    }


def main():
    quick = "--quick" in sys.argv
    sets = 40 if quick else N_SETS
    W, psi = truth()
    out = {
        "design": {"d": D, "k": K, "n": N, "loadings": "0.7 main, 0.2 cross"},
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "note": "shared 2-core machine, other jobs running",
        },
        "rotations": {},
    }
    for i, rotation in enumerate(["varimax", "oblimin", "quartimax", None]):
        res = coverage(rotation, sets, W, psi, seed=100 + i)
        out["rotations"][str(rotation)] = res
        print(rotation, res, flush=True)
    out["bootstrap_varimax"] = bootstrap_coverage(
        5 if quick else 60, 20 if quick else 100, W, psi, seed=11
    )
    print("bootstrap", out["bootstrap_varimax"], flush=True)
    out["peer_statsmodels"] = peer(10 if quick else N_PEER, W, psi, seed=7)
    print(out["peer_statsmodels"])
    out["machine"]["loadavg_end"] = os.getloadavg()
    if not quick:
        path = Path(__file__).parent / "results" / "se_coverage.json"
        path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
