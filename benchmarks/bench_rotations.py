"""Rotations: latentmodels.rotations side by side with scikit-learn and
factor_analyzer, in one process.

Peers
-----
* scikit-learn's private ``sklearn.decomposition._factor_analysis._ortho_rotation``
  (varimax and quartimax by Kaiser's SVD iteration; stops when the sum of
  singular values grows by less than ``tol=1e-6``, at most 100 iterations).
  It is run twice: with its defaults, and with ``tol=1e-13, max_iter=10000``
  so that it gets as close to a stationary point as its stopping rule allows.
* factor_analyzer's ``Rotator`` (GPA, ``tol=1e-5``, 500 iterations), if it can
  be imported. It is not a dependency: install it into a throwaway location
  (``pip install --target /tmp/fa_pkg --no-deps factor_analyzer``) and run with
  ``PYTHONPATH=/tmp/fa_pkg``. Ours runs with its default ``tol=1e-8`` and
  also with ``tol=1e-5``, factor_analyzer's tolerance (``ratio_same_tol``).

For each case the best of ``REPEATS`` wall-clock times is kept for each side,
the calls of the two sides interleaved (other processes share the CPU), and
we report ``ratio = peer / ours`` (above 1: ours is faster), the criterion each
reaches and its projected-gradient norm (zero at a stationary point), and the
largest loading difference after matching columns up to sign and order.

Run: ``python benchmarks/bench_rotations.py`` (writes
benchmarks/results/rotations.json).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition._factor_analysis import _ortho_rotation

from latentmodels import rotations as rot

try:  # optional peer
    from factor_analyzer.rotator import Rotator

    FA_VERSION = importlib.metadata.version("factor_analyzer")
except ImportError:  # pragma: no cover - depends on the environment
    Rotator = FA_VERSION = None

REPEATS = 9
SHAPES = [(30, 3), (100, 10), (1000, 20)]
FA_METHODS = {  # ours: factor_analyzer's name
    "varimax": "varimax",
    "quartimax": "quartimax",
    "promax": "promax",
    "oblimin": "oblimin",
    "geomin_t": "geomin_ort",
    "geomin_q": "geomin_obl",
}


def make_loadings(d: int, k: int, seed: int = 0) -> np.ndarray:
    """Simple-structure loadings with noise, hidden by a Haar rotation."""
    rng = np.random.RandomState(seed)
    W = 0.15 * rng.randn(d, k)
    W[np.arange(d), np.arange(d) % k] += 0.5 + 0.4 * rng.rand(d)
    return W @ rot._haar_orthogonal(k, rng)


def race(*fns, repeats: int = REPEATS):
    """Best wall-clock time of each function, the calls interleaved so that
    both sides see the same load; returns [(seconds, output), ...]."""
    best = [np.inf] * len(fns)
    outs = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return list(zip(best, outs))


def matched_maxdiff(X: np.ndarray, Y: np.ndarray) -> float:
    k = X.shape[1]
    cost = np.empty((k, k))
    for i, j in itertools.product(range(k), range(k)):
        cost[i, j] = min(
            np.abs(X[:, i] - Y[:, j]).max(), np.abs(X[:, i] + Y[:, j]).max()
        )
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def orthogonal_quality(A, L, method):
    """Criterion and projected-gradient norm of L = A T (T orthogonal)."""
    T = np.linalg.lstsq(A, L, rcond=None)[0]
    c = 1.0  # rotate() rescales the quartic criteria to unit RMS row norm
    if not method.startswith("geomin"):
        c = np.sqrt(np.mean(np.sum(A * A, axis=1)))
    f, Gq = rot._make_criterion(method, A.shape[1], gamma=0.0, delta=0.01)(L / c)
    G = (A / c).T @ Gq
    M = T.T @ G
    return float(f * c**4), float(np.linalg.norm(G - T @ (M + M.T) / 2))


def bench_sklearn(results):
    for (d, k), method in itertools.product(SHAPES, ["varimax", "quartimax"]):
        A = make_loadings(d, k)
        (t_ours, res), (t_sk, L_sk), (t_skt, L_skt) = race(
            lambda: rot.rotate(A, method),
            lambda: _ortho_rotation(A, method=method).T,
            lambda: _ortho_rotation(A, method=method, tol=1e-13, max_iter=10000).T,
        )
        f_sk, g_sk = orthogonal_quality(A, L_sk, method)
        f_skt, g_skt = orthogonal_quality(A, L_skt, method)
        row = {
            "peer": "sklearn._ortho_rotation",
            "method": method,
            "n_features": d,
            "n_factors": k,
            "ours_seconds": t_ours,
            "ours_n_iter": res.n_iter,
            "ours_criterion": res.criterion,
            "ours_gradient_norm": res.gradient_norm,
            "peer_default_seconds": t_sk,
            "peer_default_criterion": f_sk,
            "peer_default_gradient_norm": g_sk,
            "ratio_default": t_sk / t_ours,
            "maxdiff_default": matched_maxdiff(res.loadings, L_sk),
            "peer_tight_seconds": t_skt,
            "peer_tight_criterion": f_skt,
            "peer_tight_gradient_norm": g_skt,
            "ratio_tight": t_skt / t_ours,
            "maxdiff_tight": matched_maxdiff(res.loadings, L_skt),
        }
        results.append(row)
        print(
            f"sklearn {method:9s} d={d:5d} k={k:3d}  ours {t_ours * 1e3:8.2f} ms "
            f"(|Gp| {res.gradient_norm:.1e})  sklearn default {t_sk * 1e3:8.2f} ms "
            f"(|Gp| {g_sk:.1e}, ratio {t_sk / t_ours:5.2f})  sklearn tight "
            f"{t_skt * 1e3:8.2f} ms (|Gp| {g_skt:.1e}, ratio {t_skt / t_ours:5.2f})"
        )


def bench_factor_analyzer(results):
    if Rotator is None:
        print("factor_analyzer is not importable: skipped")
        return
    for (d, k), (ours, theirs) in itertools.product(SHAPES, FA_METHODS.items()):
        A = make_loadings(d, k)

        def run_fa():
            return Rotator(method=theirs, normalize=False).fit_transform(A)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (t_ours, res), (t_ours5, _), (t_fa, L_fa) = race(
                lambda: rot.rotate(A, ours, max_iter=5000),
                lambda: rot.rotate(A, ours, max_iter=5000, tol=1e-5),
                run_fa,
            )
        f_fa = None
        if ours != "promax":
            f_fa = rot.rotation_criterion(L_fa, ours)
            if ours in rot.ORTHOGONAL_METHODS:  # compare on the same scale
                f_fa = orthogonal_quality(A, L_fa, ours)[0]
        row = {
            "peer": f"factor_analyzer {FA_VERSION} Rotator",
            "method": ours,
            "n_features": d,
            "n_factors": k,
            "ours_seconds": t_ours,
            "ours_n_iter": res.n_iter,
            "ours_converged": res.converged,
            "ours_criterion": res.criterion,
            "peer_seconds": t_fa,
            "peer_criterion": f_fa,
            "ratio": t_fa / t_ours,
            "ours_tol_1e-5_seconds": t_ours5,
            "ratio_same_tol": t_fa / t_ours5,
            "maxdiff": matched_maxdiff(res.loadings, L_fa),
        }
        results.append(row)
        print(
            f"factor_analyzer {ours:9s} d={d:5d} k={k:3d}  ours {t_ours * 1e3:8.2f} "
            f"ms  theirs {t_fa * 1e3:8.2f} ms  ratio {t_fa / t_ours:6.2f} "
            f"(same tol {t_fa / t_ours5:6.2f})  "
            f"criterion {res.criterion} vs {f_fa}  maxdiff "
            f"{row['maxdiff']:.1e}"
        )


def main():
    results = []
    bench_sklearn(results)
    bench_factor_analyzer(results)
    out = {
        "benchmark": "rotations",
        "repeats_min_of": REPEATS,
        "ratio_meaning": "peer seconds / ours seconds (above 1: ours faster)",
        "versions": {
            "numpy": np.__version__,
            "sklearn": sklearn.__version__,
            "factor_analyzer": FA_VERSION,
            "python": platform.python_version(),
        },
        "results": results,
    }
    path = Path(__file__).parent / "results" / "rotations.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
