"""The argument parser of ``python -m latentmodels`` (see :mod:`latentmodels.cli`)."""

from __future__ import annotations

import argparse

import numpy as np

from ._models import MODELS


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


def _folds(text: str) -> int:
    """``--cv``: 0 (skip) or at least 2 folds."""
    if text.strip() == "0":
        return 0
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"cross-validation needs at least 2 folds, got {value}; pass 0 to skip it"
        )
    return value


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
        epilog="example: python -m latentmodels compare table.csv "
        "--target label --n-components 5 --output results/",
    )
    p.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the data: .csv/.tsv/.txt (optionally .gz; delimiter, decimal comma "
        "and header sniffed), .npy or .npz; default: scikit-learn's bundled digits",
    )
    p.add_argument("--data", metavar="PATH", help="the data file (same as FILE)")
    p.add_argument(
        "--target",
        metavar="COLUMN",
        help="target column: a column name or index (text), a column index (.npy) "
        "or an array name (.npz; 'y' by default)",
    )
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="what the cross-validated score predicts: classes (accuracy of a "
        "logistic regression) or a continuous target (R² of a ridge regression); "
        "'auto' (default): regression for a numeric target with many distinct "
        "values",
    )
    p.add_argument(
        "--index-col",
        default="auto",
        metavar="COLUMN",
        help="text files: a row-index column to drop (name or index); 'auto' "
        "(default) drops a leading unnamed column holding 0..n-1, as pandas' "
        "to_csv writes it; 'none' keeps every column",
    )
    p.add_argument(
        "--scale",
        choices=("none", "standard"),
        default="none",
        help="'none' (default): model the data in their own units; 'standard': "
        "give every column unit variance on the training rows first (a note "
        "suggests it when column variances differ by more than 1e4)",
    )
    p.add_argument(
        "--n-components",
        type=_positive_int,
        default=None,
        metavar="K",
        help="number of components of every model (default: half the features, "
        "at most 16)",
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
        help="sparse coding penalty, in the data's units; 'auto' = 0.1 x median "
        "norm of the centred training rows",
    )
    p.add_argument(
        "--cv",
        type=_folds,
        default=3,
        metavar="FOLDS",
        help="cross-validation folds for the score of the features (0: skip; at "
        "least 2; default 3)",
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
