"""PCA and PPCA against scikit-learn's PCA, side by side in one run.

For each shape, the best of ``--repeat`` runs of: ``fit`` (k = 10, default
solvers on both sides: their ``'auto'`` policy against ours), and
``score_samples`` on the training data (their dense ``d × d`` precision against
our whitened-SVD core). Ratios > 1 mean we are faster. Results go to
``benchmarks/results/pca.json``.

Usage: ``python benchmarks/bench_pca.py [--quick] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA as SkPCA

from latentmodels import PCA, ProbabilisticPCA


def best_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, 20))
    return rng.standard_normal((n, 20)) @ W.T + rng.standard_normal((n, d))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shapes = (
        [(5000, 100), (1000, 2000)]
        if args.quick
        else [(50_000, 200), (20_000, 1000), (1000, 5000)]
    )
    k = 10
    rows = []
    for n, d in shapes:
        X = data(n, d)
        sk = SkPCA(k).fit(X)
        ours = PCA(k).fit(X)
        ppca = ProbabilisticPCA(k).fit(X)
        row = {
            "n": n,
            "d": d,
            "k": k,
            "sklearn_fit_s": best_time(lambda: SkPCA(k).fit(X), args.repeat),
            "ours_fit_s": best_time(lambda: PCA(k).fit(X), args.repeat),
            "ppca_fit_s": best_time(lambda: ProbabilisticPCA(k).fit(X), args.repeat),
            "sklearn_score_s": best_time(lambda: sk.score_samples(X), args.repeat),
            "ours_score_s": best_time(lambda: ours.score_samples(X), args.repeat),
            "score_rel_diff": abs(ours.score(X) / sk.score(X) - 1),
            "ppca_score_minus_sklearn": ppca.score(X) - sk.score(X),
        }
        row["fit_speedup"] = row["sklearn_fit_s"] / row["ours_fit_s"]
        row["score_speedup"] = row["sklearn_score_s"] / row["ours_score_s"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = Path(__file__).parent / "results" / "pca.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": rows}, indent=2))


if __name__ == "__main__":
    main()
