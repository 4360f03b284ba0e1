"""Confirmatory factor analysis: latentmodels side by side with semopy (and lavaan).

The Holzinger–Swineford three-factor model (301 rows, 9 indicators, 21 free
parameters), in one process:

1. complete data: ``ConfirmatoryFactorAnalysis(model).fit`` against
   ``semopy.Model(model).fit`` (its default and only normal-theory ML
   objective, ``"MLW"``, Wishart ML; the same maximiser as ML), with its
   default BLAS threads and with one BLAS thread, as ours runs;
2. 10% of the entries missing completely at random (seed 2024): our
   ``missing_values='fiml'`` against semopy's ``obj="FIML"`` (timed once:
   it takes about a minute).

Each side is called once untimed (imports, caches), then timed ``repeats``
times and the best wall-clock time is kept;
``ratio = theirs / ours`` (above 1: ours is faster). The χ² / log-likelihood
each reaches is recorded so that speed is not bought with accuracy. When R
lavaan is installed, its own fit time (``system.time`` over the same number
of repeats, inside R, excluding R's start-up) is recorded for reference.

The machine is shared (2 cores, other jobs running): the load average is
recorded with the results.

Run: ``python benchmarks/bench_cfa.py [--quick]`` (writes
benchmarks/results/cfa.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from latentmodels import ConfirmatoryFactorAnalysis
from latentmodels._threads import blas_threads
from latentmodels.datasets import load_holzinger_swineford

MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
COLUMNS = [f"x{i}" for i in range(1, 10)]


def best_time(fn, repeats, warm_up=True):
    """Best of ``repeats`` timed calls, after one untimed call (imports, caches)."""
    if warm_up:
        fn()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def masked(data):
    rng = np.random.RandomState(2024)
    X = data.to_numpy().copy()
    X[rng.uniform(size=X.shape) < 0.10] = np.nan
    return data.__class__(X, columns=data.columns)


def ours(data, repeats, **kwargs):
    t, cfa = best_time(
        lambda: ConfirmatoryFactorAnalysis(MODEL, **kwargs).fit(data), repeats
    )

    def everything():  # what lavaan's cfa() computes: estimates, SEs, test
        cfa = ConfirmatoryFactorAnalysis(MODEL, **kwargs).fit(data)
        return cfa.summary(), cfa.goodness_of_fit()

    t_all, (_, gof) = best_time(everything, repeats)
    return {"seconds": t, "seconds_with_se_and_fit_measures": t_all,
            "chisq": gof.statistic, "loglike": gof.loglike,
            "n_iter": int(cfa.n_iter_)}


def semopy_side(data, repeats, obj, warm_up=True, one_thread=False):
    import semopy

    def fit():
        model = semopy.Model(MODEL)
        limit = blas_threads(1) if one_thread else contextlib.nullcontext()
        with warnings.catch_warnings(), limit:
            warnings.simplefilter("ignore")
            model.fit(data, obj=obj)
        return model

    t, model = best_time(fit, repeats, warm_up)
    out = {"seconds": t, "objective": obj, "repeats": repeats,
           "one_blas_thread": one_thread}
    if obj == "MLW":  # semopy's χ² (its FIML statistic is not lavaan's)
        out["chisq"] = float(semopy.calc_stats(model)["chi2"].iloc[0])
    return out


R_TIMING = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- readLines(args[1]); full <- read.csv(args[2]); mk <- read.csv(args[3])
reps <- as.integer(args[4])
best <- function(expr) min(replicate(reps, system.time(eval(expr))[["elapsed"]]))
cat(best(quote(cfa(model, full))), best(quote(cfa(model, mk, missing = "fiml"))), "\n")
"""


def lavaan_side(full, mk, repeats):
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "m.lav").write_text(MODEL)
        full.to_csv(tmp / "full.csv", index=False)
        mk.to_csv(tmp / "mk.csv", index=False, na_rep="NA")
        (tmp / "t.R").write_text(R_TIMING)
        proc = subprocess.run(
            [rscript, str(tmp / "t.R"), str(tmp / "m.lav"), str(tmp / "full.csv"),
             str(tmp / "mk.csv"), str(repeats)],
            capture_output=True, text=True, timeout=600,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr[-300:]}
    complete, fiml = (float(v) for v in proc.stdout.split())
    return {"complete_seconds": complete, "fiml_seconds": fiml,
            "note": "system.time inside R (10 ms resolution)"}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 20
    full = load_holzinger_swineford()[COLUMNS]
    mk = masked(full)
    out = {
        "quick": args.quick,
        "repeats": repeats,
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "complete": {"latentmodels": ours(full, repeats)},
        "fiml": {"latentmodels": ours(mk, max(1, repeats // 4),
                                      missing_values="fiml")},
    }
    try:
        import semopy

        out["versions"]["semopy"] = semopy.__version__
        out["complete"]["semopy_MLW"] = semopy_side(full, repeats, "MLW")
        # ours runs on one BLAS thread: semopy too, for a like-for-like time
        out["complete"]["semopy_MLW_one_thread"] = semopy_side(
            full, repeats, "MLW", one_thread=True
        )
        # semopy's FIML takes about a minute: one call, no warm-up
        out["fiml"]["semopy_FIML"] = semopy_side(mk, 1, "FIML", warm_up=False)
        for case in ("complete", "fiml"):
            t_ours = out[case]["latentmodels"]["seconds"]
            for name, res in out[case].items():
                if name.startswith("semopy"):
                    res["ratio_theirs_over_ours"] = res["seconds"] / t_ours
    except ImportError:
        out["semopy"] = "not installed"
    out["lavaan"] = lavaan_side(full, mk, repeats)
    print(json.dumps(out, indent=2))
    if not args.quick:
        path = Path(__file__).parent / "results" / "cfa.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
