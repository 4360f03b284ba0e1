"""Dask scale-out: fit time and peak memory against Dask's own scatter pass.

For n rows × 100 features generated lazily (never materialised), each case
runs in a fresh subprocess so that its peak resident memory is its own:

- ``scatter``: the peer, Dask computing ``Xᵀ X`` (one pass over the data);
- ``ppca`` / ``fa``: ``fit`` of ProbabilisticPCA / FactorAnalysis on the Dask
  array (one pass for ``(n, mean, scatter)``, then EM in memory).

Reported: seconds, peak RSS, and the ratio fit / scatter pass.
Usage: ``python benchmarks/bench_dask.py [--rows 1e6 1e7 2e7] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

D, K, CHUNK = 100, 10, 200_000


def make_data(n: int):
    import dask.array as da
    import numpy as np

    rng = np.random.RandomState(0)
    W = rng.standard_normal((K, D))
    sd = np.sqrt(rng.uniform(0.5, 2.0, D))
    rs = da.random.RandomState(1)
    H = rs.standard_normal((n, K), chunks=(CHUNK, K))
    E = rs.standard_normal((n, D), chunks=(CHUNK, D))
    return H @ W + E * sd


def run_case(case: str, n: int) -> dict:
    import dask

    from latentmodels import FactorAnalysis, ProbabilisticPCA

    X = make_data(n)
    dask.config.set(scheduler="threads")
    t0 = time.perf_counter()
    if case == "scatter":
        (X.T @ X).compute()
    elif case == "ppca":
        ProbabilisticPCA(K).fit(X)
    elif case == "fa":
        FactorAnalysis(K, random_state=0).fit(X)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GiB
    return {"case": case, "n": n, "seconds": seconds, "peak_rss_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="*", type=float, default=[1e6, 1e7, 2e7])
    parser.add_argument("--quick", action="store_true", help="only 2e5 and 1e6 rows")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n)))
        return
    rows = [2e5, 1e6] if args.quick else args.rows
    results = []
    for n in map(int, rows):
        row = {"n": n, "gigabytes": n * D * 8 / 1e9}
        for case in ("scatter", "ppca", "fa"):
            out = subprocess.run(
                [sys.executable, __file__, "--case", case, "--n", str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            row[f"{case}_seconds"] = r["seconds"]
            row[f"{case}_peak_rss_gib"] = r["peak_rss_gib"]
        row["ppca_over_scatter"] = row["ppca_seconds"] / row["scatter_seconds"]
        row["fa_over_scatter"] = row["fa_seconds"] / row["scatter_seconds"]
        print(json.dumps(row), flush=True)
        results.append(row)
    out = Path(__file__).parent / "results" / "dask.json"
    out.write_text(
        json.dumps(
            {"features": D, "components": K, "chunk_rows": CHUNK, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
