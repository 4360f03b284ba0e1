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

The recorded run used ``OPENBLAS_NUM_THREADS=1`` (both sides single-threaded:
the two cores were shared with other jobs, where threaded BLAS contends).

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
        "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
        "versus_sklearn": versus_sklearn(*cmp_size, repeats),
        "versus_covariance_pass": versus_covariance_pass(*pass_size, repeats),
    }
    print(json.dumps(out, indent=2))
    if not args.quick:
        path = Path(__file__).parent / "results" / "factor_analysis.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
