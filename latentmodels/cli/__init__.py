"""The main job: ``python -m latentmodels compare`` fits every model on a data set.

Commands
--------
``compare``
    Fits PCA, probabilistic PCA, factor analysis, sparse coding and a linear
    autoencoder on the same training rows (scikit-learn's bundled digits by
    default, or a FILE) and reports, per model: the fit time; the held-out
    mean log-likelihood per sample (Gaussian models; PCA in scikit-learn's
    noise-variance convention, marked ``*``); the held-out relative
    reconstruction error ``‖X − X̂‖²_F / ‖X − x̄‖²_F``; the fraction of exact
    zeros in the held-out codes; a cross-validated score of the model's
    features when a target exists (accuracy of a logistic regression for
    classes, R² of a ridge regression for a continuous target; the model
    refitted in every fold); and the largest principal angle between the
    model's subspace and PCA's. A model that did not converge is marked
    ``!``. ``--output DIR`` writes ``DIR/results.json`` with every figure and
    the full text of every warning and, when matplotlib is installed, a
    figure of the metrics, the training traces and, for image data, the
    learned components.
``identifiability``
    Prints :func:`identifiability_demo`: rotated Gaussian factor models keep
    their likelihood, Laplace factors do not.

Bad input gives one line on stderr and exit status 2, never a traceback.
``main(argv)`` returns the exit status.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._data import DataError, Dataset, load_data, nan_rows
from ._identifiability_demo import format_demo, identifiability_demo
from ._models import (
    CLASS_NAMES,
    METRICS,
    MODELS,
    NAN_CAPABLE,
    Split,
    auto_alpha,
    cv_plan,
    make_estimator,
    run_model,
    split_data,
    split_rows,
    summary,
)
from ._parser import UsageError, build_parser
from ._prepare import (
    check_rows,
    default_components,
    drop_constant_columns,
    rescale,
    scale_columns,
)
from ._report import (
    format_fit_statistics,
    format_table,
    json_safe,
    table_notes,
    write_figures,
)

OUTPUT_FILES = ("results.json", "metrics.png", "traces.png") + tuple(
    f"components_{name}.png" for name in MODELS
)


# ----------------------------------------------------------------- commands
def _resolve_models(args, data: Dataset, has_nan: bool) -> tuple[list, list]:
    """Models to run and notes, or DataError when the request cannot be met."""
    notes = []
    models = list(args.models)
    explicit = list(args.models) != list(MODELS)
    if has_nan:
        rows = nan_rows(data.X)
        if args.missing != "em":
            raise DataError(
                f"the data contain NaN in {rows.size} row(s) (first: row {rows[0]}, "
                "counting from 0); pass --missing em to fit the Gaussian models "
                f"({', '.join(NAN_CAPABLE)}) by EM on the observed entries, or "
                "impute the data."
            )
        if np.isnan(data.X).all(axis=1).any():
            first = int(np.flatnonzero(np.isnan(data.X).all(axis=1))[0])
            raise DataError(
                f"row {first} (counting from 0) has no observed entry; remove it."
            )
        if np.isnan(data.X).all(axis=0).any():
            first = int(np.flatnonzero(np.isnan(data.X).all(axis=0))[0])
            raise DataError(f"column {first} has no observed entry; remove it.")
        cannot = [m for m in models if m not in NAN_CAPABLE]
        if cannot and explicit:
            raise DataError(
                f"{', '.join(cannot)} cannot fit data with missing values; choose "
                f"among {', '.join(NAN_CAPABLE)} with --models, or impute the data."
            )
        if cannot:
            notes.append(
                f"{', '.join(cannot)} skipped: they cannot fit missing values "
                f"(NaN in {rows.size} rows)."
            )
        models = [m for m in models if m in NAN_CAPABLE]
    elif args.missing == "em":
        notes.append("the data have no missing values: --missing em changes nothing.")
    return models, notes


def _check_sizes(args, data: Dataset, split: Split) -> None:
    k, d = args.n_components, data.n_features
    if k > d:
        raise DataError(
            f"--n-components {k} is larger than the number of features ({d}); pass "
            f"--n-components {d} or fewer."
        )
    n_train = split.X_train.shape[0]
    if k > n_train:
        raise DataError(
            f"--n-components {k} is larger than the number of training rows "
            f"({n_train}); pass --n-components {n_train} or fewer, or more data."
        )


def _prepare_output(path: str) -> Path:
    """Create ``--output`` and check that the files it will hold can be written."""
    outdir = Path(path)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the output directory {path!r}: {exc.strerror or exc}."
        ) from exc
    for name in OUTPUT_FILES:
        target = outdir / name
        if target.exists() and not target.is_file():
            raise DataError(
                f"cannot write {str(target)!r}: a directory (or other non-file) has "
                "that name; remove it or choose another --output."
            )
    return outdir


def _write_report(outdir: Path, report: dict, fitted, results, data) -> list:
    try:
        figures = write_figures(
            outdir, fitted, results, data.image_shape, data.kept_columns
        )
        if figures is None:
            figures = []
            report["notes"].append("no figures: install the 'plot' extra (matplotlib).")
        report["figures"] = figures
        with open(outdir / "results.json", "w") as handle:
            json.dump(json_safe(report), handle, indent=2)
    except OSError as exc:
        where = exc.filename or outdir
        raise DataError(f"cannot write {str(where)!r}: {exc.strerror or exc}.") from exc
    return figures


@dataclass
class _Run:
    """The data as the models see them, and what the command says about them."""

    data: Dataset
    split: Split
    notes: list
    dropped: list
    log_scale: float
    has_nan: bool
    models: list
    task: str | None
    alpha: float


def _prepare(args) -> _Run:
    """Load, clean, split, scale; choose k, the CV task and the penalty."""
    if args.file is not None and args.data is not None:
        raise DataError(
            f"the data file is given twice ({args.file!r} and --data {args.data!r}); "
            "pass one."
        )
    path = args.file if args.file is not None else args.data
    data = load_data(path, args.target, args.index_col)
    notes = list(data.notes)
    check_rows(data)
    data.X, dropped, more = drop_constant_columns(data)
    notes += more
    has_nan = bool(np.isnan(data.X).any())
    models, more = _resolve_models(args, data, has_nan)
    notes += more
    rows = split_rows(data.n_samples, args.test_size, args.seed)
    X, more = scale_columns(data.X, rows[0], args.scale)
    notes += more
    X, log_scale = rescale(X)
    if log_scale:
        notes.append(
            f"the data were divided by 2^{round(log_scale / np.log(2))} inside (their "
            "spread is extreme); every figure is in the data's own units."
        )
    split = split_data(X, data.y, rows)
    if args.n_components is None:
        args.n_components, why = default_components(
            split.X_train.shape[0], data.n_features
        )
        notes.append(why)
    _check_sizes(args, data, split)
    task, n_folds, why = cv_plan(data.y, args.cv, args.task)
    if why and args.cv:
        notes.append(f"{why}: the cross-validated score is skipped.")
    elif task == "classification" and n_folds < args.cv:
        notes.append(f"the smallest class has {n_folds} rows: {n_folds}-fold CV.")
    elif task == "regression":
        notes.append(
            "the target is continuous: the CV column is the cross-validated R² of "
            "a ridge regression (alpha=1) on each model's standardised features."
        )
    scale = float(np.exp(log_scale))
    alpha = auto_alpha(split.X_train) if args.alpha == "auto" else args.alpha / scale
    return _Run(data, split, notes, dropped, log_scale, has_nan, models, task, alpha)


def _fit_models(args, run: _Run, out) -> tuple[dict, dict, dict, dict]:
    """Fit and measure every model, one progress line each."""
    import latentmodels

    k, split = args.n_components, run.split
    reference = None
    if not run.has_nan:
        reference = latentmodels.PCA(n_components=k).fit(split.X_train).components_
    results, fitted, skipped, failed = {}, {}, {}, {}
    for i, name in enumerate(run.models, 1):
        prefix = f"[{i}/{len(run.models)}] {name:<12}"
        cls = getattr(latentmodels, CLASS_NAMES[name])
        params = inspect.signature(cls).parameters
        if run.has_nan and "missing_values" not in params:
            skipped[name] = "cannot fit missing values in this version"
            print(f"{prefix} skipped: {skipped[name]}", file=out, flush=True)
            continue
        t0 = time.perf_counter()
        print(f"{prefix} fitting ...", end="", file=out, flush=True)
        try:
            estimator = make_estimator(name, cls, k, args, run.alpha, run.has_nan)
            result, core = run_model(
                name, estimator, split, reference, args, run.log_scale,
                progress=lambda text: print(text, end="", file=out, flush=True),
            )
        except Exception as exc:  # report and go on with the other models
            message = " ".join(str(exc).split())
            failed[name] = f"{type(exc).__name__}: {summary(message, 300)}"
            print(f" failed: {failed[name]}", file=out, flush=True)
            continue
        results[name], fitted[name] = result, core
        extra = f"; {len(result['warnings'])} warning(s)" if result["warnings"] else ""
        if not result["converged"]:
            extra += "; NOT CONVERGED"
        print(
            f" done in {time.perf_counter() - t0:.1f} s{extra}", file=out, flush=True
        )
    return results, fitted, skipped, failed


def _report(args, run: _Run, results, skipped, failed, total, cpu) -> dict:
    """Everything ``results.json`` holds (figures are added when written)."""
    import latentmodels

    data, split, scale = run.data, run.split, float(np.exp(run.log_scale))
    return {
        "command": "compare",
        "version": latentmodels.__version__,
        "data": {
            "source": data.source,
            "n_samples": data.n_samples,
            "n_features": data.n_features,
            "n_train": int(split.X_train.shape[0]),
            "n_test": int(split.X_test.shape[0]),
            "heldout": split.heldout,
            "target": data.target,
            "n_missing_entries": int(np.isnan(data.X).sum()),
            "dropped_constant_columns": run.dropped,
            "internal_scale": scale,
        },
        "settings": {
            "n_components": args.n_components,
            "models": list(args.models),
            "missing": args.missing,
            "seed": args.seed,
            "alpha": run.alpha * scale,
            "cv_folds": args.cv,
            "cv_task": run.task,
            "test_size": args.test_size,
            "scale": args.scale,
            "index_col": args.index_col,
        },
        "metrics": METRICS,
        "models": results,
        "skipped": skipped,
        "failed": failed,
        "notes": run.notes,
        "figures": [],
        "total_time_s": total,
        "total_cpu_s": cpu,
    }


def compare(args, out=None) -> int:
    """Run ``compare`` with parsed arguments; print the table; return 0.

    Raises DataError for bad input (the caller prints it and returns 2).
    """
    out = sys.stdout if out is None else out
    start, cpu_start = time.perf_counter(), time.process_time()
    run = _prepare(args)
    data, split, k = run.data, run.split, args.n_components
    held = f"{split.X_train.shape[0]} train / {split.X_test.shape[0]} held out"
    print(
        f"data: {data.source}, {data.n_samples} rows x {data.n_features} features "
        f"({held}); {k} component{'s' if k > 1 else ''}",
        file=out,
        flush=True,
    )
    outdir = _prepare_output(args.output) if args.output else None
    results, fitted, skipped, failed = _fit_models(args, run, out)

    print("", file=out)
    if results:
        print(format_table(results), file=out)
        fit_table = format_fit_statistics(results)
        if fit_table is not None:
            print("\n" + fit_table, file=out)
    run.notes += table_notes(results)
    where = "results.json" if outdir is not None else "--output DIR keeps it"
    for name, r in results.items():
        for w in r["warnings"]:
            run.notes.append(f"{name}: {summary(w)} (full text: {where})")
    for note in run.notes:
        print(f"note: {note}", file=out)

    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if outdir is not None:
        report = _report(args, run, results, skipped, failed, total, cpu)
        figures = _write_report(outdir, report, fitted, results, data)
        print(f"wrote {outdir / 'results.json'} and {len(figures)} figure(s)", file=out)
    print(f"total {total:.1f} s (CPU {cpu:.1f} s)", file=out)
    if not results and not failed:
        raise DataError(
            "no model could be fitted: "
            + "; ".join(f"{name} {why}" for name, why in skipped.items())
        )
    if failed:
        raise DataError(
            "; ".join(f"{name} failed: {why}" for name, why in failed.items())
        )
    return 0


def identifiability(args, out=None) -> int:
    """Run ``identifiability``: print the demo's result; return 0."""
    out = sys.stdout if out is None else out
    kwargs = {"random_state": args.seed, "quick": args.quick}
    for name in ("n_samples", "n_features", "n_components"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    t0 = time.perf_counter()
    result = identifiability_demo(**kwargs)
    print(format_demo(result), file=out)
    print(f"total {time.perf_counter() - t0:.1f} s", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m latentmodels``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    command = compare if args.command == "compare" else identifiability
    try:
        return command(args)
    except (DataError, ValueError) as exc:
        text = " ".join(str(exc).split())
        print(f"python -m latentmodels {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of a pipe left (`... | head`)
        # Point stdout at devnull so that flushing it at exit does not raise
        # again (Python's documented recipe for SIGPIPE).
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
