"""Before/after the redesign (issue 14): the same calls on the package at an
older revision (``--before REF``, default d5eaae2, the start of the redesign)
and on the working tree, side by side in one process, one BLAS thread each.

Covers what the other benchmarks do not time against the old code:
``rotate`` (four criteria on a 200 × 8 loadings matrix), PCA and PPCA fits
(20 000 × 100, k = 10), factor analysis (bench_factor_analysis's synthetic
20 000 × 100, k = 10, at default settings — three starts now, one before —
and with one start; standardised breast cancer, k = 10) and the linear
autoencoder on breast cancer (k = 10).
Writes ``results/before_after.json``; ratios > 1 mean the new code is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from _baseline import load_baseline, revision
from bench_factor_analysis import make_data
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_limits

import latentmodels.rotations as new_rotations
from latentmodels import PCA, FactorAnalysis, LinearAutoencoder, ProbabilisticPCA


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="d5eaae2")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    old = load_baseline(args.before)
    rng = np.random.default_rng(0)
    L = rng.standard_normal((200, 8))
    Xd = rng.standard_normal((20000, 100))
    Xb = load_breast_cancer().data
    Xb = (Xb - Xb.mean(0)) / Xb.std(0)
    cases = {
        f"rotate_{m}": (
            lambda m=m: old.rotations.rotate(L, m, random_state=0),
            lambda m=m: new_rotations.rotate(L, m, random_state=0),
        )
        for m in ("varimax", "oblimin", "geomin_q", "promax")
    }
    cases["PCA(10) 20000x100"] = (
        lambda: old.PCA(10).fit(Xd), lambda: PCA(10).fit(Xd)
    )
    cases["PPCA(10) 20000x100"] = (
        lambda: old.ProbabilisticPCA(10).fit(Xd),
        lambda: ProbabilisticPCA(10).fit(Xd),
    )
    Xf = make_data(20000, 100, 10)  # bench_factor_analysis's synthetic case
    cases["FactorAnalysis(10) 20000x100"] = (
        lambda: old.FactorAnalysis(10).fit(Xf), lambda: FactorAnalysis(10).fit(Xf)
    )
    cases["FactorAnalysis(10, n_init=1) 20000x100"] = (
        lambda: old.FactorAnalysis(10).fit(Xf),
        lambda: FactorAnalysis(10, n_init=1).fit(Xf),
    )
    cases["FactorAnalysis(10) breast cancer"] = (
        lambda: old.FactorAnalysis(10).fit(Xb), lambda: FactorAnalysis(10).fit(Xb)
    )
    cases["LinearAutoencoder(10) breast cancer"] = (
        lambda: old.LinearAutoencoder(10).fit(Xb),
        lambda: LinearAutoencoder(10).fit(Xb),
    )
    out = {
        "before": revision(args.before),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "blas_threads": 1,
        "cases": {},
    }
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        for name, (before, after) in cases.items():
            a, b = best(before, args.repeats), best(after, args.repeats)
            out["cases"][name] = {
                "before_s": a, "after_s": b, "ratio_before_over_after": a / b
            }
            print(f"{name:38s} before {a * 1e3:8.2f} ms  after {b * 1e3:8.2f} ms"
                  f"  {a / b:5.2f}x")
    path = Path(__file__).parent / "results" / "before_after.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


if __name__ == "__main__":
    main()
