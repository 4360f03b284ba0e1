"""From a loaded table to the matrix the models see.

Each step either leaves the data as they are and says why in a note, or ends
the command with one line (:class:`DataError`):

* columns with one value (or none observed) carry no variance to model: they
  are dropped with a note; a table whose rows are all identical is refused;
* a table with fewer than :data:`MIN_ROWS` rows is refused (a held-out
  likelihood and a cross-validated score need more rows than that);
* ``--scale standard`` divides every column by its standard deviation on the
  training rows; with ``--scale none`` (the default) a note suggests it when
  the largest column variance exceeds the median one by more than
  :data:`VARIANCE_RATIO`;
* the data are divided by a power of two, ``c``, when their spread is far
  from 1, so that squares and products neither overflow nor underflow (a
  value of 1e308, or a table scaled by 1e-300). Dividing by a power of two is
  exact; every figure is reported in the data's own units (the
  log-likelihood gains ``−log c`` per observed entry, reconstruction errors,
  zeros, angles and scores do not change).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._data import DataError, Dataset

MIN_ROWS = 10
VARIANCE_RATIO = 1e4
DEFAULT_MAX_COMPONENTS = 16
# Spread (root mean square of the centred entries) kept as it is; outside,
# the data are rescaled by a power of two.
_SAFE_SPREAD = (-50, 50)  # log10


def _column_label(data: Dataset, j: int) -> str:
    names = data.feature_names
    return repr(names[j]) if names is not None else str(j)


def check_rows(data: Dataset) -> None:
    """Refuse tables too small to compare models on."""
    if data.n_samples < MIN_ROWS:
        raise DataError(
            f"{data.source} has {data.n_samples} rows; comparing models needs at "
            f"least {MIN_ROWS} (rows to fit on and rows held out)."
        )


def drop_constant_columns(data: Dataset) -> tuple[np.ndarray, list[str], list[str]]:
    """Columns with a single observed value (or none) removed, with notes.

    Sets ``data.kept_columns`` (a mask over the file's feature columns).
    """
    X = data.X
    with warnings.catch_warnings():  # an all-NaN column is reported below
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    constant = ~(hi > lo)  # NaN (no observed value) counts as constant
    if constant.all():
        raise DataError(
            f"every column of {data.source} holds a single value (all rows are "
            "identical): there is no variance to model."
        )
    labels = [_column_label(data, j) for j in np.flatnonzero(constant)]
    notes = []
    if labels:
        shown = ", ".join(labels[:8]) + (" ..." if len(labels) > 8 else "")
        notes.append(
            f"dropped {len(labels)} constant column(s) ({shown}): a column with one "
            "value (or none observed) has no variance to model."
        )
        if data.feature_names is not None:
            data.feature_names = [
                n for n, c in zip(data.feature_names, constant) if not c
            ]
    data.kept_columns = ~constant
    return X[:, ~constant], labels, notes


def scale_columns(X: np.ndarray, train_rows: np.ndarray, scale: str) -> tuple:
    """``--scale``: the (possibly standardised) matrix and notes."""
    notes = []
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.nanmax(np.abs(X))
        var = np.nanvar(X[train_rows] / big, axis=0)
    positive = var[var > 0]
    # the largest variance against the typical one: a few near-constant
    # columns (the border pixels of an image) do not call for scaling
    ratio = positive.max() / np.median(positive) if positive.size else 1.0
    if scale == "standard":
        mean = np.nanmean(X[train_rows] / big, axis=0)
        std = np.sqrt(var)
        std[~(std > 0)] = 1.0
        notes.append(
            "--scale standard: every column divided by its standard deviation on "
            "the training rows; log-likelihoods are in those units."
        )
        return (X / big - mean) / std, notes
    if ratio > VARIANCE_RATIO:
        notes.append(
            f"the largest column variance is {ratio:.1e} times the median one: the "
            "models describe the largest columns almost alone; pass --scale "
            "standard to give every column unit variance."
        )
    return X, notes


def rescale(X: np.ndarray) -> tuple[np.ndarray, float]:
    """``X / c`` with ``c`` a power of two when the spread is extreme; ``log c``."""
    with np.errstate(over="ignore", invalid="ignore"):
        big = float(np.nanmax(np.abs(X)))
    if not big > 0:
        return X, 0.0
    e_big = math.frexp(big)[1]
    Y = np.ldexp(X, -e_big)  # exact: max |Y| in [0.5, 1)
    centred = Y - np.nanmean(Y, axis=0)
    spread = float(np.sqrt(np.nanmean(centred**2)))  # of X: spread * 2^e_big
    if not spread > 0:
        return X, 0.0
    e = math.frexp(spread)[1] + e_big
    log10_spread = math.log10(spread) + e_big * math.log10(2.0)
    if _SAFE_SPREAD[0] <= log10_spread <= _SAFE_SPREAD[1]:
        return X, 0.0
    return np.ldexp(X, -e), e * math.log(2.0)


def default_components(n_train: int, n_features: int) -> tuple[int, str]:
    """``--n-components`` when not given: half the features, at most 16."""
    k = max(1, min(DEFAULT_MAX_COMPONENTS, n_features // 2, n_train - 1))
    return k, (
        f"--n-components not given: {k} (half the {n_features} features, at most "
        f"{DEFAULT_MAX_COMPONENTS}, fewer than the {n_train} training rows)."
    )
