"""Thread scaling: sparse_encode, SparseCoding.fit and FactorAnalysis.fit.

For 1, 2, 4, … threads up to the machine's cores (and the core count
itself), each workload is timed with ``n_jobs=threads`` (the sparse side:
one thread pool over row blocks, BLAS at one thread inside it) or with BLAS
limited to ``threads`` (``FactorAnalysis``, whose work is BLAS). The thread
counts are interleaved within each repeat (1, 2, …, 1, 2, …), so a change of
the machine's load during the run hits every count alike; the best and the
median of the repeats are kept, with the process CPU time of the best run.

Workloads (issue 18):

* ``sparse_encode``: the synthetic problem of ``bench_sparse_encode.py``
  (64 features, 256 unit-norm atoms, 8 active per signal, α = 0.1, relative
  gap ≤ 1e-6), 10 000 signals (``--n-signals``; 200 000 on big machines);
* ``SparseCoding.fit``: batch learning of 128 atoms on 10 000 such signals,
  2 dictionary updates (``tol=0``);
* ``FactorAnalysis.fit``: 50 000 × 100 Gaussian data with 10 factors.

Usage: ``python benchmarks/bench_scaling.py [--quick] [--repeats R]``; writes
``benchmarks/results/scaling.json`` with the core count and the load
averages (``--quick``: smaller problems, written to ``scaling.quick.tmp``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sparse_encode import ALPHA, TOL, synthetic  # noqa: E402

from latentmodels import FactorAnalysis, SparseCoding  # noqa: E402
from latentmodels.sparse import encode  # noqa: E402


def thread_counts(n_cpu: int) -> list[int]:
    counts, t = [], 1
    while t < n_cpu:
        counts.append(t)
        t *= 2
    return [*counts, n_cpu]


def workloads(n_signals: int, quick: bool):
    rng = np.random.default_rng(0)
    Xs, Ds = synthetic(n_signals, rng)
    Xf, _ = synthetic(5000 if quick else 10000, rng)
    n_fa = 10000 if quick else 50000
    L = rng.standard_normal((100, 10))
    Xa = rng.standard_normal((n_fa, 10)) @ L.T + rng.standard_normal((n_fa, 100))

    def run_encode(t):
        res = encode(Xs, Ds, ALPHA, solver="auto", tol=TOL, n_jobs=t)
        assert res.converged.all(), res.message
        return {"relative_gap_max": float(res.relative_gap.max())}

    def run_fit(t):
        model = SparseCoding(
            128, alpha=ALPHA, max_iter=2, tol=0, n_jobs=t, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(Xf)
        return {"objective": float(model.objective_[-1])}

    def run_fa(t):
        with threadpool_limits(t):
            model = FactorAnalysis(10, random_state=0).fit(Xa)
        return {"n_iter": int(model.n_iter_)}

    return {
        "sparse_encode": (run_encode, f"{n_signals} x 64, 256 atoms, alpha=0.1"),
        "SparseCoding.fit": (run_fit, f"{Xf.shape[0]} x 64, 128 atoms, 2 updates"),
        "FactorAnalysis.fit": (run_fa, f"{n_fa} x 100, 10 factors"),
    }


def serial_fraction(n_signals: int, repeats: int) -> dict:
    """Share of one-thread ``encode`` time spent outside its thread pool.

    Amdahl's law bounds the speed-up on ``t`` threads by
    ``1 / (s + (1 − s) / t)`` for a serial share ``s``; measured by timing the
    pool (``map_row_blocks``) inside the call.
    """
    from latentmodels.sparse import _encode

    X, D = synthetic(n_signals, np.random.default_rng(0))
    inner = []
    original = _encode.map_row_blocks

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = original(*args, **kwargs)
        inner.append(time.perf_counter() - t0)
        return out

    _encode.map_row_blocks = timed
    try:
        shares = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            encode(X, D, ALPHA, tol=TOL, n_jobs=1)
            total = time.perf_counter() - t0
            shares.append((total - inner[-1]) / total)
    finally:
        _encode.map_row_blocks = original
    s = float(np.median(shares))
    return {
        "serial_share_median": s,
        "amdahl_bound_2_threads": 1.0 / (s + (1.0 - s) / 2.0),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-signals", type=int, default=None)
    parser.add_argument(
        "--only", nargs="*", default=None, help="workload names (default: all)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    n_cpu = os.cpu_count() or 1
    n_signals = args.n_signals or (2000 if args.quick else 10000)
    counts = thread_counts(n_cpu)
    repeats = 2 if args.quick else args.repeats
    results = {
        "machine": {
            "cpu_count": n_cpu,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(),
        },
        "thread_counts": counts,
        "repeats": repeats,
        "notes": (
            "Wall-clock seconds, best and median of interleaved repeats; "
            "cpu_seconds is the process CPU time of the best run. On a shared "
            "machine the load averages say how many other processes competed."
        ),
    }
    for name, (fn, problem) in workloads(n_signals, args.quick).items():
        if args.only and name not in args.only:
            continue
        fn(1)  # warm up (numba compilation, caches)
        times = {t: [] for t in counts}
        cpu = {t: [] for t in counts}
        info = {}
        for _ in range(repeats):
            for t in counts:
                w0, c0 = time.perf_counter(), time.process_time()
                info[t] = fn(t)
                times[t].append(time.perf_counter() - w0)
                cpu[t].append(time.process_time() - c0)
        best1 = min(times[1])
        rows = {}
        for t in counts:
            i = int(np.argmin(times[t]))
            rows[str(t)] = {
                "seconds": times[t][i],
                "median_seconds": float(np.median(times[t])),
                "cpu_seconds": cpu[t][i],
                "all_runs": times[t],
                "speedup_vs_1_thread": best1 / times[t][i],
                "median_speedup_vs_1_thread": float(
                    np.median(times[1]) / np.median(times[t])
                ),
                **info[t],
            }
            print(
                f"{name:20s} threads={t:2d} best {times[t][i]:8.4f} s "
                f"median {np.median(times[t]):8.4f} s  "
                f"speedup {best1 / times[t][i]:5.2f}x",
                flush=True,
            )
        results[name] = {"problem": problem, "threads": rows}
    results["sparse_encode"]["outside_the_pool"] = serial_fraction(n_signals, repeats)
    print(
        "sparse_encode outside the pool:", results["sparse_encode"]["outside_the_pool"]
    )
    results["machine"]["load_average_at_end"] = os.getloadavg()
    name = "scaling.quick.tmp" if args.quick else "scaling.json"
    out = args.output or ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
