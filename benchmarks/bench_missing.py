"""Missing values: exact EM fit against the complete-data fit, in one process.

For PPCA (``ProbabilisticPCA``) and, when it takes ``missing_values``, factor
analysis (``FactorAnalysis``), on data drawn from a known factor model
(``latentmodels.datasets.make_factor_data``, n=20000, d=50, k=5):

* ``complete``: the ordinary fit on the complete data (the reference time);
* ``mcar``: 20% of the entries missing completely at random (almost every
  row its own missingness pattern: the row-by-row E-step);
* ``blocks``: block missingness with 5 patterns (one fifth of the rows
  complete, each other fifth missing its own block of 10 columns: the
  E-step on per-pattern statistics). Goal: under 3x the complete-data fit.

A peer that imputes column means and then fits the complete-data model (what
``factor_analyzer`` and the ``ppca`` package do) is timed too, for scale, with
its log-likelihood of the observed entries.

With ``--baseline REF`` the same fits of the package as it was at git
revision ``REF`` (imported beside the working tree's, see ``_baseline.py``)
are timed in the same race, with their E-step counts and log-likelihoods:
the before/after of one run.

FactorAnalysis fits missing values from ``n_init`` starts (3 by default,
since this round; one before): ``fa`` is the default, ``fa_n_init_1`` one
start, the work of the baseline's fit; E-steps count every start.

The default fit is EM with SQUAREM, which converges in 8-19 E-steps on both
cases (Newton's route takes over only after 30 E-steps without convergence);
Newton's route from the start is timed too (``newton_route``: its E-steps,
Hessians, time and log-likelihood). ``hessians`` counts Newton's
Hessians; ``start_passes`` the pass over the rows handled one by one that
the start (the closed-form PPCA of the pairwise covariance, the same as the
baseline's) makes, not counted in ``e_steps`` (for either side).

Each fit is timed ``repeats`` times with the calls of all sides interleaved
(other processes share the CPU) and the best time kept, both wall-clock and
CPU (process) time. BLAS runs on one thread (threadpoolctl) so that the
ratios measure the algorithms, not thread contention on a shared machine;
with one thread, CPU time is the cost without the pauses of a loaded machine
(which lengthen long runs more than short ones in a best-of-N).
``n_iter`` is what the estimator reports (E-steps since the EM engine,
SQUAREM cycles before it) and ``e_steps`` counts E-steps (passes computing
the posterior moments, one per Newton step or EM map), for both.

Then two real fits where EM crawls (:func:`hard_real_cases`: digits with
k = 20, beyond Newton's size; raw breast cancer with k = 15), and a
real-data panel
(:func:`real_panel`): PPCA and factor analysis at
default settings on standardised wine, diabetes and breast cancer with 10% and
30% of the entries missing at random, k = 2, 3, 5 (36 fits), each side once,
with time, E-steps, ConvergenceWarnings and the distance to the best
log-likelihood either side reached.

Run: ``python benchmarks/bench_missing.py [--quick] [--baseline REF]``
(writes benchmarks/results/missing.json). ``--quick`` runs 3 repeats
instead of 7.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _baseline import load_baseline, write_report
from scipy.linalg import subspace_angles
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import latentmodels
import latentmodels._missing as missing
from latentmodels.datasets import make_factor_data

N, D, K = 20000, 50, 5
OUT = Path(__file__).parent / "results" / "missing.json"


def masks(n: int, d: int, seed: int = 1) -> dict:
    rng = np.random.RandomState(seed)
    mcar = rng.rand(n, d) < 0.2
    mcar[mcar.all(axis=1), 0] = False
    blocks = np.zeros((n, d), dtype=bool)
    size = n // 5
    for p in range(1, 5):
        blocks[p * size : (p + 1) * size, (p - 1) * 10 : p * 10] = True
    return {"mcar": mcar, "blocks": blocks}


def estimators(package) -> dict:
    ests = {"ppca": lambda mv: package.ProbabilisticPCA(K, missing_values=mv)}
    FactorAnalysis = getattr(package, "FactorAnalysis", None)
    if FactorAnalysis is not None and "missing_values" in FactorAnalysis().get_params():
        ests["fa"] = lambda mv: FactorAnalysis(K, missing_values=mv, random_state=0)
        # one start: the work of a fit before missing values took n_init (the
        # baseline's FactorAnalysis, one start, serves as its own)
        if "n_init" in FactorAnalysis().get_params():
            ests["fa_n_init_1"] = lambda mv: FactorAnalysis(
                K, missing_values=mv, n_init=1, random_state=0
            )
        else:
            ests["fa_n_init_1"] = ests["fa"]
    return ests


class ECounter:
    """Counts calls of the E-step (wraps ``<package>._missing._e_step``).

    Also counts the Newton route's Hessians (``_missing_newton.observed_hessian``,
    where the package has it).
    """

    def __init__(self, module=missing):
        self.calls = 0
        self.hessians = 0
        self.loglikes = []  # the log-likelihood each E-step computed
        self.module = module
        self._orig = module._e_step
        name = module.__name__.rsplit(".", 1)[0] + "._missing_newton"
        self.newton = sys.modules.get(name)
        self._orig_h = getattr(self.newton, "observed_hessian", None)

    def __enter__(self):
        def wrapped(*args, **kwargs):
            self.calls += 1
            out = self._orig(*args, **kwargs)
            self.loglikes.append(float(out[2]))
            return out

        def hessian(*args, **kwargs):
            self.hessians += 1
            return self._orig_h(*args, **kwargs)

        self.module._e_step = wrapped
        if self._orig_h is not None:
            self.newton.observed_hessian = hessian
        return self

    def __exit__(self, *exc):
        self.module._e_step = self._orig
        if self._orig_h is not None:
            self.newton.observed_hessian = self._orig_h


@contextlib.contextmanager
def newton_everywhere():
    """Newton's route even where its Hessian costs more than it saves."""
    saved = missing._EM_BEFORE_NEWTON
    missing._EM_BEFORE_NEWTON = 0
    try:
        yield
    finally:
        missing._EM_BEFORE_NEWTON = saved


def forced_newton(make, Xm):
    with newton_everywhere():
        return make("em").fit(Xm)


def race(fns: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Best wall-clock and best CPU (process) time of each function."""
    wall = {name: np.inf for name in fns}
    cpu = dict(wall)
    outs = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            outs[name] = fn()
            cpu[name] = min(cpu[name], time.process_time() - c0)
            wall[name] = min(wall[name], time.perf_counter() - t0)
    return wall, cpu, outs


def observed_loglike(model, Xm) -> float:
    return float(model.score(Xm))


def run(repeats: int, baseline=None) -> dict:
    X, truth = make_factor_data(N, D, K, noise="heteroscedastic", random_state=0)
    cases = {name: np.where(m, np.nan, X) for name, m in masks(N, D).items()}
    base_ests = estimators(baseline) if baseline is not None else {}
    results = {}
    for est_name, make in estimators(latentmodels).items():
        fns = {"complete": lambda make=make: make("raise").fit(X)}
        make_base = base_ests.get(est_name)
        for case, Xm in cases.items():
            fns[case] = lambda make=make, Xm=Xm: make("em").fit(Xm)
            fns[case + "_mean_imputed"] = lambda make=make, Xm=Xm: make("raise").fit(
                np.where(np.isnan(Xm), np.nanmean(Xm, axis=0), Xm)
            )
            if make_base is not None:
                fns[case + "_baseline"] = lambda mb=make_base, Xm=Xm: mb("em").fit(Xm)
            # the default is EM (Newton after 30 E-steps): Newton for comparison
            fns[case + "_newton"] = lambda make=make, Xm=Xm: forced_newton(make, Xm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times, cpu, fits = race(fns, repeats)
        ref = fits["complete"]
        row = {
            "complete": {
                "seconds": times["complete"],
                "cpu_seconds": cpu["complete"],
                "n_iter": ref.n_iter_,
            }
        }
        for case, Xm in cases.items():
            fit, e_steps, trace, hessians = _counted_fit(make, Xm, missing)
            imputed = fits[case + "_mean_imputed"]
            row[case] = {
                "seconds": times[case],
                "ratio_to_complete": times[case] / times["complete"],
                "cpu_seconds": cpu[case],
                "cpu_ratio_to_complete": cpu[case] / cpu["complete"],
                "n_iter": fit.n_iter_,
                "e_steps": e_steps,
                "hessians": hessians,
                # the start (closed-form PPCA of the pairwise covariance, as
                # the baseline's) passes once over the rows handled one by one
                "start_passes": _start_passes(Xm),
                "stop_reason": getattr(fit, "stop_reason_", None),
                "loglike_observed": observed_loglike(fit, Xm),
                "max_subspace_angle_to_complete_fit_deg": float(
                    np.degrees(
                        subspace_angles(fit.components_.T, ref.components_.T).max()
                    )
                ),
                "mean_imputed_then_fit": {
                    "seconds": times[case + "_mean_imputed"],
                    "cpu_seconds": cpu[case + "_mean_imputed"],
                    "loglike_observed": observed_loglike(_with_em(imputed, make), Xm),
                },
                "fraction_missing": float(np.isnan(Xm).mean()),
                "n_patterns": int(np.unique(np.isnan(Xm), axis=0).shape[0]),
            }
            with newton_everywhere():
                nfit, n_e, n_trace, n_h = _counted_fit(make, Xm, missing)
            row[case]["newton_route"] = {
                "seconds": times[case + "_newton"],
                "cpu_seconds": cpu[case + "_newton"],
                "e_steps": n_e,
                "hessians": n_h,
                "loglike_observed": observed_loglike(nfit, Xm),
            }
            if make_base is not None:
                old, old_e, _, _ = _counted_fit(make_base, Xm, baseline._missing)
                # E-steps the new fit takes to reach the baseline's final value
                reach = np.flatnonzero(np.asarray(trace) >= old.loglike_[-1])
                row[case]["baseline"] = {
                    "seconds": times[case + "_baseline"],
                    "cpu_seconds": cpu[case + "_baseline"],
                    "n_iter": old.n_iter_,
                    "e_steps": old_e,
                    "loglike_observed": observed_loglike(old, Xm),
                    "e_step_ratio_baseline_to_new": old_e / e_steps,
                    "new_e_steps_to_reach_baseline_loglike": (
                        int(reach[0]) + 1 if reach.size else None
                    ),
                    "time_ratio_baseline_to_new": times[case + "_baseline"]
                    / times[case],
                }
        results[est_name] = row
    return results


REAL_SETS = ("wine", "diabetes", "breast_cancer")


def real_panel(package, baseline=None) -> dict:
    """Standardised scikit-learn data sets with entries missing at random.

    wine, diabetes and breast cancer (standardised), 10% and 30% of the
    entries missing completely at random (seed 0), k = 2, 3, 5, PPCA and
    factor analysis at default settings (``random_state=0``); each fit once,
    with the baseline's beside it. Per fit: time, E-steps, how it stopped,
    and the observed-data log-likelihood (scored by the working tree's
    package for both) against the best of the two.
    """
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    rows = []
    for name in REAL_SETS:
        X = StandardScaler().fit_transform(getattr(datasets, "load_" + name)().data)
        for frac in (0.1, 0.3):
            rng = np.random.RandomState(0)
            Xm = np.where(rng.rand(*X.shape) < frac, np.nan, X)
            for k in (2, 3, 5):
                for est in ("ppca", "fa"):
                    row = {"data": name, "missing": frac, "k": k, "estimator": est}
                    sides = {"new": package}
                    if baseline is not None:
                        sides["baseline"] = baseline
                    for side, pkg in sides.items():
                        kw = {} if est == "ppca" else {"random_state": 0}
                        cls = pkg.ProbabilisticPCA if est == "ppca" else (
                            pkg.FactorAnalysis)
                        model = cls(k, missing_values="em", **kw)
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always")
                            t0 = time.perf_counter()
                            model.fit(Xm)
                            seconds = time.perf_counter() - t0
                        scorer = _with_em(model, _real_maker(est, k))
                        row[side] = {
                            "seconds": seconds,
                            "n_iter": int(model.n_iter_),
                            "stop_reason": getattr(model, "stop_reason_", None),
                            "convergence_warning": any(
                                issubclass(w.category, ConvergenceWarning)
                                for w in caught
                            ),
                            "loglike_observed": observed_loglike(scorer, Xm),
                        }
                    best = max(row[s]["loglike_observed"] for s in sides)
                    for s in sides:
                        row[s]["below_best"] = best - row[s]["loglike_observed"]
                    rows.append(row)
    summary = {}
    for est in ("ppca", "fa"):
        mine = [r for r in rows if r["estimator"] == est]
        summary[est] = {
            side: {
                "fits": len(mine),
                "seconds": sum(r[side]["seconds"] for r in mine),
                "convergence_warnings": sum(
                    r[side]["convergence_warning"] for r in mine
                ),
                "worst_below_best": max(r[side]["below_best"] for r in mine),
                "fits_below_best_by_1e-6": sum(
                    r[side]["below_best"] > 1e-6 for r in mine
                ),
            }
            for side in (("new", "baseline") if baseline is not None else ("new",))
        }
    return {"fits": rows, "summary": summary}


def hard_real_cases(em_budget: int = 2000) -> dict:
    """Two real fits where EM with SQUAREM crawls, one start each.

    * ``digits_k20``: standardised digits (61 non-constant pixels, n = 1797),
      10% of the entries missing at random, ``k = 20``: ``d (k + 2) = 1342``
      parameters, beyond Newton's Hessian; the default route is the EM over
      the missing entries (complete-data profile M-step).
    * ``breast_cancer_raw_k15``: breast cancer on its raw scales (variances
      spanning 5e7) with its target column, 10% missing, the first 427 rows
      (what ``python -m latentmodels compare --missing em`` trains on),
      ``k = 15``: Newton's route needs ~300 damped steps.

    Each against EM with SQUAREM alone (``newton=False``), cut at
    ``em_budget`` E-steps.
    """
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = datasets.load_digits().data
    X = StandardScaler().fit_transform(X[:, X.std(axis=0) > 0])
    digits = np.where(rng.rand(*X.shape) < 0.1, np.nan, X)
    bc = datasets.load_breast_cancer()
    X = np.column_stack([bc.data, bc.target])
    rng = np.random.RandomState(0)
    raw = np.where(rng.rand(*X.shape) < 0.1, np.nan, X)[:427]
    raw[:, -1] = X[:427, -1]  # the target column complete
    kw = dict(isotropic=False, noise_floor_rtol=1e-6, tol=1e-10, random_state=0)
    out = {}
    for case, Xm, k in (("digits_k20", digits, 20),
                        ("breast_cancer_raw_k15", raw, 15)):
        row = {"n_samples": Xm.shape[0], "n_features": Xm.shape[1], "k": k}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, extra in (("default", dict(max_iter=10000)),
                                ("em_squarem", dict(max_iter=em_budget,
                                                    newton=False))):
                t0 = time.perf_counter()
                res = missing.fit_missing(Xm, k, **kw, **extra)
                row[name] = {
                    "seconds": time.perf_counter() - t0,
                    "e_steps": res.n_iter,
                    "stop_reason": res.stop_reason,
                    "loglike_observed": res.loglike[-1],
                }
        out[case] = row
    return out


def _real_maker(est, k):
    return lambda mv: (
        latentmodels.ProbabilisticPCA(k, missing_values=mv)
        if est == "ppca"
        else latentmodels.FactorAnalysis(k, missing_values=mv)
    )


def _start_passes(Xm) -> int:
    """1 when some rows are handled one by one (their pass for the start)."""
    counts = np.unique(np.isnan(Xm), axis=0, return_counts=True)[1]
    return int((counts < max(missing._MIN_ROWS_FOR_STATS, Xm.shape[1])).any())


def _counted_fit(make, Xm, module):
    with ECounter(module) as counter, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = make("em").fit(Xm)
    return fit, counter.calls, counter.loglikes, counter.hessians


def _with_em(fitted, make):
    """The same fitted parameters, scored with missing_values='em'."""
    est = make("em")
    for attr, value in vars(fitted).items():
        if attr.endswith("_") and not attr.startswith("__"):
            setattr(est, attr, value)
    return est


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, not 7")
    parser.add_argument(
        "--baseline", metavar="REF", help="also time the package at git revision REF"
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    baseline = load_baseline(args.baseline) if args.baseline else None
    with threadpool_limits(1):
        results = run(repeats, baseline)
        panel = real_panel(latentmodels, baseline)
        hard = hard_real_cases()
    report = {
        "benchmark": "missing values: exact EM vs the complete-data fit",
        "n_samples": N,
        "n_features": D,
        "n_components": K,
        "repeats": repeats,
        "blas_threads": 1,
        "goal": "blocks (5 patterns) under 3x the complete-data fit; "
        "at least 5x fewer E-steps than before the EM engine, at the same "
        "log-likelihood, wall time not worse",
        "results": results,
        "real_data_panel": panel,
        "hard_real_cases": hard,
    }
    write_report(OUT, report, args.baseline)
    for case, row in hard.items():
        for name in ("default", "em_squarem"):
            v = row[name]
            print(
                f"{case}, 10% missing, FA k={row['k']}, {name}: "
                f"{v['seconds']:.1f} s, {v['e_steps']} E-steps, "
                f"{v['stop_reason']}, loglike {v['loglike_observed']:.6f}"
            )
    for est, sides in panel["summary"].items():
        for side, v in sides.items():
            print(
                f"real-data panel, {est}, {side}: {v['fits']} fits in "
                f"{v['seconds']:.2f} s, {v['convergence_warnings']} "
                f"ConvergenceWarnings, {v['fits_below_best_by_1e-6']} fits more "
                f"than 1e-6 below the best of both (worst "
                f"{v['worst_below_best']:.3g} nats per sample)"
            )
    for est, row in results.items():
        c = row["complete"]["seconds"]
        print(f"{est}: complete {c * 1e3:.1f} ms")
        for case in ("mcar", "blocks"):
            r = row[case]
            print(
                f"  {case}: {r['seconds'] * 1e3:.1f} ms = "
                f"{r['ratio_to_complete']:.2f}x complete (CPU "
                f"{r['cpu_ratio_to_complete']:.2f}x), {r['n_iter']} iterations "
                f"({r['e_steps']} E-steps), loglike {r['loglike_observed']:.10f} vs "
                f"mean-imputed {r['mean_imputed_then_fit']['loglike_observed']:.5f}"
            )
            if "newton_route" in r:
                nr = r["newton_route"]
                print(
                    f"    Newton route: {nr['seconds'] * 1e3:.1f} ms, "
                    f"{nr['e_steps']} E-steps, {nr['hessians']} Hessians, loglike "
                    f"{nr['loglike_observed']:.10f}"
                )
            if "baseline" in r:
                b = r["baseline"]
                print(
                    f"    baseline: {b['seconds'] * 1e3:.1f} ms, {b['e_steps']} "
                    f"E-steps, loglike {b['loglike_observed']:.10f}: "
                    f"{b['e_step_ratio_baseline_to_new']:.2f}x the E-steps, "
                    f"{b['time_ratio_baseline_to_new']:.2f}x the time; the new "
                    f"fit passes its log-likelihood after "
                    f"{b['new_e_steps_to_reach_baseline_loglike']} E-steps"
                )


if __name__ == "__main__":
    main()
