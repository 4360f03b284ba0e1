"""Thread scaling: sparse_encode, SparseCoding.fit and FactorAnalysis.fit.

For 1, 2, 4, … threads up to the machine's cores (and the core count
itself), each workload is timed with ``n_jobs=threads`` (the sparse side:
one thread pool over row blocks, BLAS at one thread inside it) or with BLAS
limited to ``threads`` (``FactorAnalysis``, whose work is BLAS). The thread
counts are interleaved within each repeat (1, 2, …, 1, 2, …), so a change of
the machine's load during the run hits every count alike; the best and the
median of the repeats are kept, with the process CPU time of the best run.

Workloads (issue 18):

* ``sparse_encode`` at 10 000 and 50 000 signals (``--n-signals``; e.g.
  200 000 on big machines): the synthetic problem of
  ``bench_sparse_encode.py`` (64 features, 256 unit-norm atoms, 8 active per
  signal, α = 0.1, relative gap ≤ 1e-6);
* ``SparseCoding.fit``: batch learning of 128 atoms on 10 000 such signals,
  2 dictionary updates (``tol=0``);
* ``FactorAnalysis.fit``: 50 000 × 100 Gaussian data with 10 factors.

**CPU accounting.** On a machine shared with other processes wall-clock
ratios say little, so each ``sparse_encode`` run is followed by a second,
accounted run (the timed one is not instrumented) that records, per thread
of its pool (Linux), the CPU time in the blocks (``time.thread_time``), the
time spent waiting on a run queue for a core (``/proc/thread-self/
schedstat``) and the rest of the wall time in the blocks (sleep), and for
the process the voluntary context switches (a thread blocked: on the GIL,
a lock or a join). A thread's *busy fraction* is its CPU time over its wall
time in the blocks (and over the part not spent queueing; in this VM
schedstat's times are not exact, so they are clamped and only shown).

Three load-independent estimates go with them:

* *idle estimate*: the main thread's CPU time outside the pool plus the
  largest CPU time of a pool thread, i.e. the call's wall time if the
  threads never waited for one another (the blocking waits and
  ``gil_held`` say how little they do);
* ``gil_held``: the CPU time of the Python glue around the compiled kernels
  per block (an upper bound on the time a block holds the GIL) and the
  speed-up bound it implies (:func:`gil_share`);
* ``schedule_estimate_speedup``: the pool's schedule replayed on 2–32
  threads with one thread's measured block costs
  (:func:`schedule_estimate`).

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
import threading
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
from latentmodels.sparse import _encode, encode  # noqa: E402


def thread_counts(n_cpu: int) -> list[int]:
    counts, t = [], 1
    while t < n_cpu:
        counts.append(t)
        t *= 2
    return [*counts, n_cpu]


def _run_queue_seconds() -> float:
    """Time this thread has waited for a core (Linux schedstat; 0 elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) * 1e-9
    except OSError:
        return 0.0


def _context_switches() -> tuple[int, int]:
    """The process's voluntary and involuntary context switches (0 on Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0, 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw, usage.ru_nivcsw


def _clocks() -> tuple[float, float, float]:
    """Wall clock, this thread's CPU time and its run-queue time (seconds)."""
    return time.perf_counter(), time.thread_time(), _run_queue_seconds()


class PoolAccounting:
    """Per-thread CPU, run-queue and sleep time of ``encode``'s row blocks.

    Wraps the block function ``encode`` hands to its pool
    (``_encode.map_row_blocks``) while active.
    """

    def __init__(self):
        self.blocks = []
        self.wrapped = {}
        self._lock = threading.Lock()

    def __enter__(self):
        self._original = _encode.map_row_blocks

        def accounted(fn, n_rows, n_threads, **split):
            def block(blk):
                e0 = time.thread_time()  # the accounting's own cost included
                w0, c0, q0 = _clocks()
                out = fn(blk)
                w1, c1, q1 = _clocks()
                tid = threading.get_ident()
                with self._lock:
                    self.blocks.append((tid, w1 - w0, c1 - c0, q1 - q0))
                    self.wrapped[tid] = self.wrapped.get(tid, 0.0) + (
                        time.thread_time() - e0
                    )
                return out

            return self._original(block, n_rows, n_threads, **split)

        _encode.map_row_blocks = accounted
        return self

    def __exit__(self, *exc):
        _encode.map_row_blocks = self._original

    def call(self, fn):
        """Run ``fn()`` and account for it: a dict of seconds and fractions."""
        self.blocks.clear()
        self.wrapped = {}
        main = threading.get_ident()
        v0, i0 = _context_switches()
        w0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
        fn()
        wall = time.perf_counter() - w0
        v1, i1 = _context_switches()
        process_cpu, main_cpu = time.process_time() - c0, time.thread_time() - m0
        per = {}
        for tid, w, c, q in self.blocks:  # the accounting's cost left out
            per.setdefault(tid, np.zeros(3))[:] += (w, c, q)
        # schedstat's run-queue time can exceed (wall - CPU) in a VM: clamp
        queue = {t: min(a[2], a[0] - a[1]) for t, a in per.items()}
        sleep = {t: a[0] - a[1] - queue[t] for t, a in per.items()}
        outside = main_cpu - self.wrapped.get(main, 0.0)
        return {
            "wall_seconds": wall,
            "process_cpu_seconds": process_cpu,
            "cpu_in_blocks_seconds": float(sum(a[1] for a in per.values())),
            "main_cpu_outside_pool_seconds": outside,
            "run_queue_seconds": float(sum(queue.values())),
            "sleep_in_blocks_seconds": float(sum(sleep.values())),
            # a thread that blocks (on the GIL, a lock, a join) switches out
            # voluntarily; preemption by other processes is involuntary
            "voluntary_context_switches": v1 - v0,
            "involuntary_context_switches": i1 - i0,
            "busy_fraction_per_thread": sorted(
                float(a[1] / max(a[0], 1e-12)) for a in per.values()
            ),
            "busy_fraction_not_queued_per_thread": sorted(
                float(a[1] / max(a[0] - queue[t], 1e-12)) for t, a in per.items()
            ),
            "idle_estimate_seconds": outside
            + max((a[1] for a in per.values()), default=0.0),
            "block_cpu_seconds": [c for _, _, c, _ in self.blocks],
        }


def workloads(n_signals: list[int], quick: bool):
    rng = np.random.default_rng(0)
    problems = {n: synthetic(n, rng) for n in n_signals}
    Xf, _ = synthetic(5000 if quick else 10000, rng)
    n_fa = 10000 if quick else 50000
    L = rng.standard_normal((100, 10))
    Xa = rng.standard_normal((n_fa, 10)) @ L.T + rng.standard_normal((n_fa, 100))

    def run_encode(n):
        Xs, Ds = problems[n]

        def run(t):
            res = encode(Xs, Ds, ALPHA, solver="auto", tol=TOL, n_jobs=t)
            assert res.converged.all(), res.message
            return {"relative_gap_max": float(res.relative_gap.max())}

        return run

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

    out = {
        f"sparse_encode {n}": (
            run_encode(n),
            f"{n} x 64, 256 atoms, alpha=0.1, tol={TOL:g}",
        )
        for n in n_signals
    }
    out["SparseCoding.fit"] = (run_fit, f"{Xf.shape[0]} x 64, 128 atoms, 2 updates")
    out["FactorAnalysis.fit"] = (run_fa, f"{n_fa} x 100, 10 factors")
    return out


def _summary(name, counts, times, cpu, info):
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
    return rows


def gil_share(n_signals: int, one_thread_cpu: float, counts) -> dict:
    """GIL-held CPU time of the compiled pipeline per block, and its bound.

    A block of one zero row is screened and costs the kernels nothing, so
    the CPU time of its pipeline (``_encode._compiled_block``) is the Python
    glue around them (slicing, the BLAS calls' set-up, numba's dispatch),
    i.e. an upper bound on the time a block holds the GIL. Times the number
    of blocks of an ``n_signals`` call, over the one-thread CPU time of the
    call, it is the share ``g`` of the work that cannot overlap; the speed-up
    on ``t`` threads is at most ``1 / (g + (1 − g) / t)``. Load-independent.
    """
    from latentmodels._threads import row_blocks
    from latentmodels.sparse._registry import SOLVERS

    rng = np.random.default_rng(0)
    X, D = synthetic(64, rng)
    X[:] = 0.0
    gram = _encode._gram(D, 1)
    k = gram.n_components
    out = {
        "codes": np.zeros((64, k)),
        "obj": np.zeros(64),
        "gap": np.zeros(64),
        "n_iter": np.zeros(64, dtype=np.int64),
        "init_obj": None,
    }
    block = _encode._compiled_block(
        "feature_sign", X, gram, ALPHA, False, TOL, 1000, None, out
    )
    block(slice(0, 1))
    best = np.inf
    for _ in range(20):
        c0 = time.thread_time()
        for i in range(64):
            block(slice(i, i + 1))
        best = min(best, (time.thread_time() - c0) / 64)
    entry = SOLVERS["feature_sign"]
    n_blocks = len(
        row_blocks(n_signals, n_blocks=entry.n_blocks, max_rows=entry.max_rows)
    )
    g = best * n_blocks / one_thread_cpu
    return {
        "seconds_per_block": best,
        "n_blocks": n_blocks,
        "share_of_one_thread_cpu": g,
        "speedup_bound": {str(t): 1.0 / (g + (1.0 - g) / t) for t in counts},
    }


def schedule_estimate(outside: float, block_cpu, gil_per_block: float) -> dict:
    """Speed-ups predicted from one thread's per-block CPU times.

    The pool hands the blocks out in order to whichever thread is free; this
    replays that schedule on ``t`` threads with the measured block costs
    (``outside`` stays serial, and at most one thread at a time spends the
    ``gil_per_block`` of a block, which bounds the rate at which blocks can
    start). It assumes nothing else is shared (memory bandwidth, caches), so
    it says what the split and the GIL allow, e.g. on 16 cores here.
    """
    import heapq

    total = outside + float(np.sum(block_cpu))
    out = {}
    for t in (2, 4, 8, 16, 32):
        free = [0.0] * t
        gil = 0.0  # when the GIL is next free
        for c in block_cpu:
            start = max(heapq.heappop(free), gil)
            gil = start + gil_per_block
            heapq.heappush(free, start + c)
        out[str(t)] = total / (outside + max(free))
    return out


def _accounting_summary(name, counts, acc):
    """Medians over the repeats of each accounted quantity, and the ratios."""
    out = {}
    base = np.median([a["idle_estimate_seconds"] for a in acc[1]])
    cpu1 = np.median([a["process_cpu_seconds"] for a in acc[1]])
    for t in counts:
        med = {
            key: float(np.median([a[key] for a in acc[t]]))
            for key in acc[t][0]
            if not key.startswith("busy") and key != "block_cpu_seconds"
        }
        for key in ("busy_fraction_per_thread", "busy_fraction_not_queued_per_thread"):
            busy = np.median([a[key] for a in acc[t]], axis=0)
            med[key] = [float(b) for b in busy]
        med["idle_estimate_speedup"] = float(base / med["idle_estimate_seconds"])
        med["process_cpu_vs_1_thread"] = float(med["process_cpu_seconds"] / cpu1)
        med["serial_share"] = med["main_cpu_outside_pool_seconds"] / max(
            med["idle_estimate_seconds"], 1e-12
        )
        out[str(t)] = med
        print(
            f"{name:20s} threads={t:2d} CPU accounting: busy "
            f"{', '.join(f'{b:.0%}' for b in med['busy_fraction_per_thread'])} "
            f"(not queued {', '.join(f'{b:.0%}' for b in busy)}); sleep in blocks "
            f"{med['sleep_in_blocks_seconds'] * 1e3:.1f} ms, "
            f"{med['voluntary_context_switches']:.0f} blocking waits, run queue "
            f"{med['run_queue_seconds'] * 1e3:.1f} ms; process CPU "
            f"{med['process_cpu_vs_1_thread']:.3f}x one thread's; idle estimate "
            f"{med['idle_estimate_seconds'] * 1e3:.1f} ms -> "
            f"{med['idle_estimate_speedup']:.2f}x",
            flush=True,
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-signals", type=int, nargs="*", default=None)
    parser.add_argument(
        "--only", nargs="*", default=None, help="workload names (default: all)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    n_cpu = os.cpu_count() or 1
    n_signals = args.n_signals or ([2000] if args.quick else [10000, 50000])
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
            "machine the load averages say how many other processes competed; "
            "cpu_accounting (sparse_encode) gives per-thread busy fractions and "
            "an idle-machine estimate from CPU, run-queue and sleep times."
        ),
    }
    for name, (fn, problem) in workloads(n_signals, args.quick).items():
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        fn(1)  # warm up (numba compilation, caches)
        load0 = os.getloadavg()
        times = {t: [] for t in counts}
        cpu = {t: [] for t in counts}
        acc = {t: [] for t in counts}
        info = {}
        accounted = name.startswith("sparse_encode")
        for _ in range(repeats):
            for t in counts:
                w0, c0 = time.perf_counter(), time.process_time()
                info[t] = fn(t)
                times[t].append(time.perf_counter() - w0)
                cpu[t].append(time.process_time() - c0)
                if accounted:  # a separate run: the timed one is not instrumented
                    with PoolAccounting() as pool:
                        acc[t].append(pool.call(lambda: fn(t)))
        results[name] = {
            "problem": problem,
            "load_average": [load0, os.getloadavg()],
            "threads": _summary(name, counts, times, cpu, info),
        }
        if accounted:
            summary = _accounting_summary(name, counts, acc)
            results[name]["cpu_accounting"] = summary
            if _encode.use_numba():
                n = int(name.split()[-1])
                cpu1 = summary["1"]["cpu_in_blocks_seconds"]
                gil = results[name]["gil_held"] = gil_share(n, cpu1, counts)
                one = min(acc[1], key=lambda a: a["idle_estimate_seconds"])
                sched = schedule_estimate(
                    one["main_cpu_outside_pool_seconds"],
                    one["block_cpu_seconds"],
                    gil["seconds_per_block"],
                )
                results[name]["schedule_estimate_speedup"] = sched
                print(
                    f"{name:20s} schedule estimate (one thread's block costs): "
                    + ", ".join(f"{t} threads {v:.2f}x" for t, v in sched.items()),
                    flush=True,
                )
                print(
                    f"{name:20s} GIL held {gil['seconds_per_block'] * 1e6:.1f} us "
                    f"per block x {gil['n_blocks']} blocks = "
                    f"{gil['share_of_one_thread_cpu']:.2%} of one thread's CPU; "
                    f"bound {gil['speedup_bound']}",
                    flush=True,
                )
    results["machine"]["load_average_at_end"] = os.getloadavg()
    name = "scaling.quick.tmp" if args.quick else "scaling.json"
    out = args.output or ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
