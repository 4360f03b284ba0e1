"""Does parallel analysis pick the true number of factors? (issue 16)

200 synthetic data sets: d = 24 features, k = 2, 3, 4, 5, 6 factors (40 data
sets each), simple structure with every feature loading 0.6 on one factor
(the features spread evenly over the factors), unit variances, n = 500 rows.
``latentmodels.selection.parallel_analysis`` with psych's ``fa.parallel``
defaults (20 normal data sets, 95th percentile, minres) is run on each;
target: the factor count is right in at least 95% of them. The principal-
component count is reported too, and Velicer's MAP for comparison.

Peer: R ``psych::fa.parallel`` on the same data when ``Rscript`` with psych is
installed (on a subset, timed in its own process: R start-up excluded by
timing inside R); skipped otherwise.

Run: ``python benchmarks/bench_parallel_analysis.py [--quick]`` (writes
benchmarks/results/parallel_analysis.json).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from latentmodels.selection import parallel_analysis, velicer_map

D, N, LOADING = 24, 500, 0.6


def make(k, rng):
    W = np.zeros((D, k))
    W[np.arange(D), np.arange(D) % k] = LOADING
    return rng.standard_normal((N, k)) @ W.T + np.sqrt(
        1 - LOADING**2
    ) * rng.standard_normal((N, D))


def psych_counts(datasets):
    """psych::fa.parallel's nfact/ncomp on each data set, or None without R."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, X in enumerate(datasets):
            p = Path(tmp) / f"x{i}.csv"
            np.savetxt(p, X, delimiter=",")
            paths.append(str(p))
        script = Path(tmp) / "run.R"
        script.write_text(
            "suppressMessages(library(psych))\n"
            "args <- commandArgs(TRUE)\n"
            "t0 <- proc.time()[3]\n"
            "for (f in args) { x <- as.matrix(read.csv(f, header=FALSE))\n"
            "  p <- fa.parallel(x, fm='minres', n.iter=20, plot=FALSE)\n"
            "  cat(p$nfact, p$ncomp, '\\n') }\n"
            "cat('time', proc.time()[3] - t0, '\\n')\n"
        )
        try:
            out = subprocess.run(
                ["Rscript", str(script), *paths],
                capture_output=True,
                text=True,
                timeout=1800,
            ).stdout.split("\n")
        except (subprocess.SubprocessError, OSError):
            return None
    counts = [tuple(map(int, line.split())) for line in out if line[:1].isdigit()]
    secs = [float(line.split()[1]) for line in out if line.startswith("time")]
    return {"counts": counts, "seconds": secs[0] if secs else None}


def main():
    quick = "--quick" in sys.argv
    per_k = 4 if quick else 40
    rng = np.random.RandomState(2024)
    rows, data = [], []
    t_ours = 0.0
    for k in range(2, 7):
        for rep in range(per_k):
            X = make(k, rng)
            t0 = time.perf_counter()
            res = parallel_analysis(X, random_state=rep)
            t_ours += time.perf_counter() - t0
            rows.append(
                {
                    "k": k,
                    "n_factors": res.n_factors,
                    "n_components": res.n_components,
                    "map": velicer_map(X).n_components,
                }
            )
            data.append(X)
    rows_k = np.array([r["k"] for r in rows])
    out = {
        "design": {"d": D, "n": N, "loading": LOADING, "k": [2, 3, 4, 5, 6],
                   "data_sets": len(rows)},
        "fa_correct": float(np.mean([r["n_factors"] == r["k"] for r in rows])),
        "pc_correct": float(np.mean([r["n_components"] == r["k"] for r in rows])),
        "map_correct": float(np.mean([r["map"] == r["k"] for r in rows])),
        "fa_correct_by_k": {
            int(k): float(np.mean([r["n_factors"] == k for r in rows if r["k"] == k]))
            for k in np.unique(rows_k)
        },
        "ours_seconds_per_call": t_ours / len(rows),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
            "note": "shared 2-core machine, other jobs running",
        },
    }
    subset = data[:: max(1, len(data) // 20)]
    peer = psych_counts(subset)
    if peer is not None and peer["counts"]:
        ks = rows_k[:: max(1, len(data) // 20)]
        hits = [c[0] == k for c, k in zip(peer["counts"], ks)]
        out["psych"] = {
            "data_sets": len(peer["counts"]),
            "fa_correct": float(np.mean(hits)),
            "seconds_per_call": peer["seconds"] / len(peer["counts"]),
        }
    else:
        out["psych"] = "Rscript with psych not installed: skipped"
    print(json.dumps(out, indent=2))
    if not quick:
        path = Path(__file__).parent / "results" / "parallel_analysis.json"
        path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
