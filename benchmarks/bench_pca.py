"""PCA and PPCA against scikit-learn's PCA, side by side in one run.

For each shape (k = 10, default solvers on both sides: their ``'auto'``
policy against ours), ``--repeat`` rounds; in each round every contender runs
once, in turn, so that a busy spell of a shared machine hits all of them
alike. Reported: the median time of each, and the median over rounds of the
per-round ratio (> 1 means we are faster), for ``fit`` and for
``score_samples`` on the training data (their dense ``d × d`` precision
against our whitened-SVD core). The first shape is run again on its data
plus 1e6, where the uncentred ``XᵀX − n x̄x̄ᵀ`` loses digits (each side's
explained variance is compared with that of the exactly re-centred data) and
our shifted pass makes its copy. Everything runs twice: with the BLAS
libraries' default thread count (the cores), and with both sides held to one
BLAS thread, which measures the work itself when other jobs share the cores
(then threads that wait on each other cost much). The load average before and
after, the core count and the library versions are written with the results
to ``benchmarks/results/pca.json``.

Usage: ``python benchmarks/bench_pca.py [--quick] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import PCA as SkPCA
from threadpoolctl import threadpool_info, threadpool_limits

from latentmodels import PCA, ProbabilisticPCA


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, 20))
    return rng.standard_normal((n, 20)) @ W.T + rng.standard_normal((n, d))


def rounds(funcs: dict, repeat: int) -> dict:
    """Times of each function, ``repeat`` interleaved rounds."""
    times = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def one_shape(n: int, d: int, k: int, repeat: int, threads, offset=0.0) -> dict:
    X = data(n, d)
    if offset:
        # Y + offset rounds Y, but re-centring is then exact (Sterbenz): the
        # reference spectrum is that of the rounded data, centred exactly
        X = X + offset
        exact = SkPCA(k, svd_solver="full").fit(X - offset).explained_variance_
    sk = SkPCA(k).fit(X)
    ours = PCA(k).fit(X)
    ppca = ProbabilisticPCA(k).fit(X)
    fit = rounds(
        {
            "sklearn": lambda: SkPCA(k).fit(X),
            "ours": lambda: PCA(k).fit(X),
            "ppca": lambda: ProbabilisticPCA(k).fit(X),
        },
        repeat,
    )
    score = rounds(
        {
            "sklearn": lambda: sk.score_samples(X),
            "ours": lambda: ours.score_samples(X),
        },
        repeat,
    )
    row = {
        "n": n,
        "d": d,
        "k": k,
        "blas_threads": threads,
        "sklearn_solver": sk._fit_svd_solver,
        "sklearn_fit_s": float(np.median(fit["sklearn"])),
        "ours_fit_s": float(np.median(fit["ours"])),
        "ppca_fit_s": float(np.median(fit["ppca"])),
        "fit_speedup": float(np.median(fit["sklearn"] / fit["ours"])),
        "fit_speedup_per_round": (fit["sklearn"] / fit["ours"]).round(3).tolist(),
        "sklearn_score_s": float(np.median(score["sklearn"])),
        "ours_score_s": float(np.median(score["ours"])),
        "score_speedup": float(np.median(score["sklearn"] / score["ours"])),
        "explained_variance_rel_diff": float(
            np.max(np.abs(ours.explained_variance_ / sk.explained_variance_ - 1))
        ),
        "score_rel_diff": abs(ours.score(X) / sk.score(X) - 1),
        "ppca_score_minus_sklearn": ppca.score(X) - sk.score(X),
    }
    if offset:
        row["offset"] = offset
        for name, est in (("sklearn", sk), ("ours", ours)):
            err = np.max(np.abs(est.explained_variance_ / exact - 1))
            row[f"{name}_explained_variance_rel_err_vs_exact"] = float(err)
    print(json.dumps({key: v for key, v in row.items() if "round" not in key}))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    shapes = (
        [(5000, 100), (1000, 2000)]
        if args.quick
        else [(50_000, 200), (20_000, 1000), (1000, 5000)]
    )
    k = 10
    load_before = os.getloadavg()
    runs = {}
    for threads in ("default", 1):
        limit = None if threads == "default" else threads
        with threadpool_limits(limit, user_api="blas"):
            runs[f"blas_threads={threads}"] = [
                one_shape(n, d, k, args.repeat, threads) for n, d in shapes
            ] + [one_shape(*shapes[0], k, args.repeat, threads, offset=1e6)]
    machine = {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "blas": [
            f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "repeat": args.repeat,
    }
    print(json.dumps(machine))
    if not args.quick:
        out = Path(__file__).parent / "results" / "pca.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"machine": machine, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
