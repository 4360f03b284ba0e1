"""The main job: ``python -m latentmodels compare`` fits every model on a data set.

Commands
--------
``compare``
    Fits PCA, probabilistic PCA, factor analysis, sparse coding and a linear
    autoencoder on the same training rows (scikit-learn's bundled digits by
    default, or ``--data FILE``) and reports, per model: the fit time; the
    held-out mean log-likelihood per sample (Gaussian models); the held-out
    relative reconstruction error ``‖X − X̂‖²_F / ‖X − x̄‖²_F``; the fraction of
    exact zeros in the held-out codes; the cross-validated accuracy of a
    logistic regression on the model's features (a scikit-learn Pipeline, the
    model refitted in every fold) when labels exist; and the largest principal
    angle between the model's subspace and PCA's. ``--output DIR`` writes
    ``DIR/results.json`` with every figure and, when matplotlib is installed,
    images of the learned components and plots of the training traces.
``identifiability``
    Prints :func:`identifiability_demo`: rotated
    Gaussian factor models keep their likelihood, Laplace factors do not.

Bad input gives one line on stderr and exit status 2, never a traceback.
``main(argv)`` returns the exit status.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
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
    classifier_folds,
    make_estimator,
    run_model,
    split_data,
)
from ._report import format_table, json_safe, write_figures


class UsageError(Exception):
    """A command-line usage error (one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: error: {message} (see --help)")


def _model_list(text: str) -> list[str]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not names or names == ["all"]:
        return list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown model {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(MODELS)} (comma separated)"
        )
    return [m for m in MODELS if m in names]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _alpha(text: str):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a positive number, got {text!r}"
        ) from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m latentmodels``."""
    parser = _Parser(
        prog="python -m latentmodels",
        description="Linear latent-variable models: compare them on a data set.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "compare",
        help="fit every model on a data set and compare them",
        description="Fit the models on the same training rows and compare fit "
        "time, held-out log-likelihood, reconstruction error, code sparsity, "
        "downstream accuracy and the angle to PCA's subspace.",
        epilog="example: python -m latentmodels compare --data table.csv "
        "--target label --n-components 5 --output results/",
    )
    p.add_argument(
        "--data",
        metavar="PATH",
        help=".csv/.tsv (header optional), .npy or .npz file; default: "
        "scikit-learn's bundled digits",
    )
    p.add_argument(
        "--target",
        metavar="COLUMN",
        help="label column for the classifier: a column name or index (.csv), a "
        "column index (.npy) or an array name (.npz; 'y' by default)",
    )
    p.add_argument(
        "--n-components",
        type=_positive_int,
        default=16,
        metavar="K",
        help="number of components of every model (default 16)",
    )
    p.add_argument(
        "--models",
        type=_model_list,
        default=list(MODELS),
        metavar="LIST",
        help=f"comma separated subset of {','.join(MODELS)} (default: all)",
    )
    p.add_argument(
        "--missing",
        choices=("raise", "em"),
        default="raise",
        help="'em': fit the Gaussian models with missing values (NaN) by EM on the "
        "observed entries (ppca, fa); default 'raise'",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--output",
        metavar="DIR",
        help="write DIR/results.json and figures (default: no files)",
    )
    p.add_argument(
        "--alpha",
        type=_alpha,
        default="auto",
        help="sparse coding penalty; 'auto' = 0.1 x median norm of the centred "
        "training rows",
    )
    p.add_argument(
        "--cv",
        type=_nonneg_int,
        default=3,
        metavar="FOLDS",
        help="cross-validation folds for the classifier (0: skip; default 3)",
    )
    p.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        metavar="FRACTION",
        help="fraction of rows held out (default 0.25)",
    )
    q = sub.add_parser(
        "identifiability",
        help="show that Gaussian factors are identified only up to rotation",
        description="Rotate fitted Gaussian and Laplace factor models and compare "
        "the likelihood spread and the recovery of the true loadings.",
    )
    q.add_argument("--n-samples", type=_positive_int, default=None, metavar="N")
    q.add_argument("--n-features", type=_positive_int, default=None, metavar="D")
    q.add_argument("--n-components", type=_positive_int, default=None, metavar="K")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--quick", action="store_true", help="a smaller, faster run")
    return parser


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


def compare(args, out=None) -> int:
    """Run ``compare`` with parsed arguments; print the table; return 0.

    Raises DataError for bad input (the caller prints it and returns 2).
    """
    out = sys.stdout if out is None else out
    import latentmodels

    start, cpu_start = time.perf_counter(), time.process_time()
    data = load_data(args.data, args.target)
    has_nan = bool(np.isnan(data.X).any())
    models, notes = _resolve_models(args, data, has_nan)
    split = split_data(data, args.test_size, args.seed)
    _check_sizes(args, data, split)
    if not split.heldout:
        notes.append("too few rows to hold any out: figures are on the training rows.")
    n_folds, why = classifier_folds(data.y, args.cv)
    if why and args.cv:
        notes.append(f"{why}: the classifier's accuracy is skipped.")
    elif n_folds and n_folds < args.cv:
        notes.append(f"the smallest class has {n_folds} rows: {n_folds}-fold CV.")
    alpha = auto_alpha(split.X_train) if args.alpha == "auto" else args.alpha
    k = args.n_components
    held = (
        f"{split.X_train.shape[0]} train / {split.X_test.shape[0]} held out"
        if split.heldout
        else "none held out"
    )
    print(
        f"data: {data.source}, {data.n_samples} rows x {data.n_features} features "
        f"({held}); {k} component{'s' if k > 1 else ''}",
        file=out,
        flush=True,
    )

    outdir = None
    if args.output:
        outdir = Path(args.output)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create the output directory {args.output!r}: "
                f"{exc.strerror or exc}."
            ) from exc

    reference = None
    if not has_nan:
        reference = latentmodels.PCA(n_components=k).fit(split.X_train).components_

    results, fitted, skipped, failed = {}, {}, {}, {}
    for i, name in enumerate(models, 1):
        prefix = f"[{i}/{len(models)}] {name:<12}"
        try:
            cls = getattr(latentmodels, CLASS_NAMES[name])
        except (ImportError, AttributeError) as exc:
            skipped[name] = f"not available ({type(exc).__name__}: {exc})"
            print(f"{prefix} skipped: {skipped[name]}", file=out, flush=True)
            continue
        if has_nan and "missing_values" not in cls._get_param_names():
            skipped[name] = "cannot fit missing values in this version"
            print(f"{prefix} skipped: {skipped[name]}", file=out, flush=True)
            continue
        t0 = time.perf_counter()
        print(f"{prefix} fitting ...", end="", file=out, flush=True)
        try:
            estimator = make_estimator(name, cls, k, args, alpha, has_nan)
            result, core = run_model(name, estimator, split, reference, args)
        except Exception as exc:  # report and go on with the other models
            message = str(exc).splitlines()[0] if str(exc) else ""
            failed[name] = f"{type(exc).__name__}: {message}"
            print(f" failed: {failed[name]}", file=out, flush=True)
            continue
        results[name], fitted[name] = result, core
        extra = f"; {len(result['warnings'])} warning(s)" if result["warnings"] else ""
        print(
            f" done in {time.perf_counter() - t0:.1f} s "
            f"(fit {result['fit_time_s']:.2f} s){extra}",
            file=out,
            flush=True,
        )

    print("", file=out)
    if results:
        print(format_table(results), file=out)
    for name, r in results.items():
        for w in r["warnings"]:
            notes.append(f"{name}: {w if len(w) < 160 else w[:157] + '...'}")
    for note in notes:
        print(f"note: {note}", file=out)

    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if outdir is not None:
        figures = write_figures(outdir, fitted, results, data.n_features)
        if figures is None:
            figures = []
            notes.append("no figures: install the 'plot' extra (matplotlib).")
        report = {
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
            },
            "settings": {
                "n_components": k,
                "models": list(args.models),
                "missing": args.missing,
                "seed": args.seed,
                "alpha": alpha,
                "cv_folds": args.cv,
                "test_size": args.test_size,
            },
            "metrics": METRICS,
            "models": results,
            "skipped": skipped,
            "failed": failed,
            "notes": notes,
            "figures": figures,
            "total_time_s": total,
            "total_cpu_s": cpu,
        }
        with open(outdir / "results.json", "w") as handle:
            json.dump(json_safe(report), handle, indent=2)
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
