"""PPCA by EM against its closed form on raw real data, before/after the engine.

``ProbabilisticPCA(method='em')`` at default settings on scikit-learn's raw
(unstandardised) wine and breast cancer data, k = 3 and 4: time, EM map
evaluations, stopping reason and the relative gap of its log-likelihood to the
closed form (``ProbabilisticPCA()``, Tipping & Bishop's eigen-solution, the
reference). Target: within 1e-6 relative in under 1 s. The closed form is
timed beside it. With ``--baseline REF`` the package at git revision ``REF``
runs the same fits in the same race (see ``_baseline.py``). BLAS on one thread.

Run: ``python benchmarks/bench_em.py [--quick] [--baseline REF]`` (writes
benchmarks/results/em.json).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _baseline import load_baseline, write_report
from sklearn.datasets import load_breast_cancer, load_wine
from threadpoolctl import threadpool_limits

import latentmodels

OUT = Path(__file__).parent / "results" / "em.json"
DATA = {"wine": load_wine, "breast_cancer": load_breast_cancer}


def best_time(fns: dict, repeats: int):
    best, outs = {name: np.inf for name in fns}, {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, outs


def run(repeats: int, baseline=None) -> dict:
    packages = {"new": latentmodels}
    if baseline is not None:
        packages["baseline"] = baseline
    results = {}
    for data_name, loader in DATA.items():
        X = loader().data
        for k in (3, 4):
            fns = {"closed_form": lambda k=k: latentmodels.ProbabilisticPCA(k).fit(X)}
            for side, pkg in packages.items():
                fns[side] = lambda k=k, pkg=pkg: pkg.ProbabilisticPCA(
                    k, method="em", random_state=0
                ).fit(X)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                times, fits = best_time(fns, repeats)
            ref = fits["closed_form"].loglike_[-1]
            row = {"closed_form": {"seconds": times["closed_form"], "loglike": ref}}
            for side in packages:
                fit = fits[side]
                gap = abs(fit.loglike_[-1] - ref) / abs(ref)
                row[side] = {
                    "seconds": times[side],
                    "n_iter": fit.n_iter_,
                    "stop_reason": getattr(fit, "stop_reason_", None),
                    "loglike": fit.loglike_[-1],
                    "relative_gap_to_closed_form": gap,
                }
            results[f"{data_name}_k{k}"] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, not 5")
    parser.add_argument(
        "--baseline", metavar="REF", help="also time the package at git revision REF"
    )
    args = parser.parse_args()
    baseline = load_baseline(args.baseline) if args.baseline else None
    with threadpool_limits(1):
        results = run(2 if args.quick else 5, baseline)
    report = {
        "benchmark": "PPCA EM vs the closed form on raw real data",
        "target": "relative log-likelihood gap <= 1e-6 in under 1 s at defaults",
        "blas_threads": 1,
        "results": results,
    }
    write_report(OUT, report, args.baseline)
    for case, row in results.items():
        line = f"{case}: closed form {row['closed_form']['seconds'] * 1e3:.1f} ms"
        for side in ("new", "baseline"):
            if side in row:
                r = row[side]
                line += (
                    f" | {side} EM {r['seconds'] * 1e3:.1f} ms, {r['n_iter']} iter, "
                    f"gap {r['relative_gap_to_closed_form']:.1e}"
                )
        print(line)


if __name__ == "__main__":
    main()
