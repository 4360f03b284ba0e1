"""Factor analysis: latentmodels.FactorAnalysis side by side with scikit-learn.

Two measurements, in one process:

1. **Against scikit-learn** on ``n=20000, d=100, k=10`` with heteroscedastic
   noise (noise variances log-uniform over a factor of 30, fixed seed):
   ours (default settings: SQUAREM, ``tol=1e-8`` nats per sample) against
   ``sklearn.decomposition.FactorAnalysis(n_components=10)`` with its default
   ``svd_method='randomized'`` and with ``svd_method='lapack'``. Each side is
   timed ``REPEATS`` times and the best (minimum) wall-clock time is kept
   (other processes share the CPU). We report ``ratio = theirs / ours``
   (above 1: ours is faster) and the mean log-likelihood per sample each
   reaches on the training data, computed by the same scorer (ours must not
   be lower).
2. **Against the covariance pass** for ``n ≥ 100 d`` (``n=100000, d=100,
   k=10``): the whole ``fit`` against one
   :meth:`SufficientStats.from_array` on the same array, the floor set by
   reading the data. Goal: ``fit / pass ≤ 2``.
3. **Real-data panel**: scikit-learn's bundled sets (iris, wine, breast
   cancer, diabetes, digits without its constant pixels), standardised, every
   ``k`` from 1 to ``d // 2``; each fit once at default settings on each side,
   one BLAS thread each. Reported: total time of each side and the ratio
   (target ours ≤ 0.5× scikit-learn's default), and for each fit the gap
   ``ours − best(scikit-learn default, scikit-learn tol=1e-9)`` in mean
   log-likelihood per sample (target ≥ −1e-6), and whether ours converged.
4. **Grid search**: ``StandardScaler → FactorAnalysis(varimax) →
   LogisticRegression`` over ``n_components`` 1…6 on wine (5-fold), ours
   against scikit-learn's ``FactorAnalysis(rotation='varimax')``.

Both sides run with one BLAS thread (``latentmodels._threads.blas_threads``):
the two cores were shared with other jobs, where threaded BLAS contends.

Run: ``python benchmarks/bench_factor_analysis.py [--quick]`` (writes
benchmarks/results/factor_analysis.json). ``--quick`` uses smaller sizes and
fewer repeats to check that the script runs.
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
import sklearn
from sklearn.decomposition import FactorAnalysis as SkFactorAnalysis

from latentmodels import FactorAnalysis
from latentmodels._gaussian import LinearGaussian
from latentmodels._stats import SufficientStats
from latentmodels._threads import blas_threads


def panel_data() -> dict:
    """The real-data panel: standardised, constant columns dropped."""
    from sklearn import datasets

    out = {}
    for name in ("iris", "wine", "breast_cancer", "diabetes", "digits"):
        X = getattr(datasets, f"load_{name}")().data.astype(np.float64)
        X = X[:, X.std(axis=0) > 0]
        out[name] = (X - X.mean(axis=0)) / X.std(axis=0)
    return out


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """``x = μ + W h + ε`` with ``ψ_j`` log-uniform on [0.1, 3]."""
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, k))
    psi = np.exp(rng.uniform(np.log(0.1), np.log(3.0), d))
    mu = rng.uniform(-5, 5, d)
    H = rng.standard_normal((n, k))
    return mu + H @ W.T + rng.standard_normal((n, d)) * np.sqrt(psi)


def best_time(fn, repeats: int):
    """Best wall-clock time of ``repeats`` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def mean_loglike(model, stats: SufficientStats) -> float:
    """Mean log-likelihood per sample of a fitted model, one scorer for all."""
    lg = LinearGaussian(model.components_, model.noise_variance_, model.mean_)
    return lg.mean_log_likelihood(stats.mean, stats.covariance)


def versus_sklearn(n: int, d: int, k: int, repeats: int) -> dict:
    X = make_data(n, d, k)
    stats = SufficientStats.from_array(X)
    fits = {
        "latentmodels": lambda: FactorAnalysis(k).fit(X),
        "sklearn_randomized": lambda: SkFactorAnalysis(k, random_state=0).fit(X),
        "sklearn_lapack": lambda: SkFactorAnalysis(k, svd_method="lapack").fit(X),
    }
    res = {}
    for name, fn in fits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, model = best_time(fn, repeats)
        res[name] = {
            "seconds": t,
            "mean_loglike": mean_loglike(model, stats),
            "n_iter": int(model.n_iter_),
        }
    ours = res["latentmodels"]
    out = {"n_samples": n, "n_features": d, "n_components": k, "runs": res}
    for peer in ("sklearn_randomized", "sklearn_lapack"):
        out[f"speedup_vs_{peer}"] = res[peer]["seconds"] / ours["seconds"]
        out[f"loglike_gain_vs_{peer}"] = (
            ours["mean_loglike"] - res[peer]["mean_loglike"]
        )
    return out


def versus_covariance_pass(n: int, d: int, k: int, repeats: int) -> dict:
    X = make_data(n, d, k, seed=1)
    t_pass, _ = best_time(lambda: SufficientStats.from_array(X), repeats)
    t_fit, model = best_time(lambda: FactorAnalysis(k).fit(X), repeats)
    return {
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "covariance_pass_seconds": t_pass,
        "fit_seconds": t_fit,
        "fit_over_pass": t_fit / t_pass,
        "n_iter": int(model.n_iter_),
    }


def real_data_panel(ks_per_set=None) -> dict:
    rows, t_ours, t_sk = [], 0.0, 0.0
    for name, X in panel_data().items():
        d = X.shape[1]
        stats = SufficientStats.from_array(X)
        ks = range(1, d // 2 + 1) if ks_per_set is None else ks_per_set(d)
        for k in ks:
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                ours = FactorAnalysis(k, random_state=0).fit(X)
                t1 = time.perf_counter()
                sk = SkFactorAnalysis(k, random_state=0).fit(X)
                t2 = time.perf_counter()
                tight = SkFactorAnalysis(
                    k, tol=1e-9, max_iter=2000, random_state=0
                ).fit(X)
            t_ours += t1 - t0
            t_sk += t2 - t1
            ll = mean_loglike(ours, stats)
            ll_sk = max(mean_loglike(sk, stats), mean_loglike(tight, stats))
            rows.append({
                "data": name, "n_features": d, "k": k,
                "ours_seconds": t1 - t0, "sklearn_seconds": t2 - t1,
                "gap_vs_sklearn_best": ll - ll_sk,
                "converged": bool(ours.converged_),
                "n_iter": int(ours.n_iter_),
                "start_spread": float(np.ptp(ours.start_loglikes_)),
                "multimodal_warning": any(
                    "several maxima" in str(w.message) for w in rec
                ),
            })
    return {
        "n_fits": len(rows),
        "ours_total_seconds": t_ours,
        "sklearn_total_seconds": t_sk,
        "time_ratio_ours_over_sklearn": t_ours / t_sk,
        "worst_gap_per_sample": min(r["gap_vs_sklearn_best"] for r in rows),
        "all_converged": all(r["converged"] for r in rows),
        "fits": rows,
    }


def grid_search(repeats: int) -> dict:
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    out = {}
    for name, fa in (
        ("latentmodels", FactorAnalysis(rotation="varimax", random_state=0)),
        ("sklearn", SkFactorAnalysis(rotation="varimax", random_state=0)),
    ):
        pipe = make_pipeline(StandardScaler(), fa, LogisticRegression(max_iter=1000))
        grid = {"factoranalysis__n_components": list(range(1, 7))}
        search = GridSearchCV(pipe, grid, cv=5)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            t, search = best_time(lambda: search.fit(X, y), repeats)
        out[name] = {
            "seconds": t,
            "best_n_components": search.best_params_["factoranalysis__n_components"],
            "best_score": float(search.best_score_),
            "convergence_warnings": sum(
                "converge" in str(w.message) for w in rec
            ),
        }
    out["ratio_ours_over_sklearn"] = (
        out["latentmodels"]["seconds"] / out["sklearn"]["seconds"]
    )
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        cmp_size, pass_size, repeats = (2000, 30, 5), (3000, 30, 5), 1
    else:
        cmp_size, pass_size, repeats = (20000, 100, 10), (100000, 100, 10), 3
    out = {
        "quick": args.quick,
        "repeats": repeats,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "sklearn": sklearn.__version__,
        },
        "cpu_count": os.cpu_count(),
        "blas_threads": 1,
        "load_average": os.getloadavg(),
    }
    with blas_threads(1):
        out["versus_sklearn"] = versus_sklearn(*cmp_size, repeats)
        out["versus_covariance_pass"] = versus_covariance_pass(*pass_size, repeats)
        out["real_data_panel"] = real_data_panel(
            (lambda d: sorted({1, max(1, d // 4), d // 2})) if args.quick else None
        )
        out["grid_search"] = grid_search(repeats)
    print(json.dumps(out, indent=2))
    if not args.quick:
        path = Path(__file__).parent / "results" / "factor_analysis.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
