"""Input validation shared by every estimator and public function.

One place for the checks and their messages: an error says what was wrong and
what to do about it. Estimators call :func:`validate_X`; public functions that
take raw arrays call :func:`check_array_finite`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import validate_data

FLOAT_DTYPES = (np.float64, np.float32)


def _describe_rows(mask_rows: np.ndarray) -> str:
    rows = np.flatnonzero(mask_rows)
    return f"{rows.size} row{'s' if rows.size != 1 else ''} (first: row {rows[0]})"


def check_array_finite(
    X: np.ndarray, *, name: str = "X", allow_nan: bool = False, nan_hint: str = ""
) -> None:
    """Raise a ValueError naming the rows with NaN or infinite entries.

    Parameters
    ----------
    X : ndarray
        Array to check (1-D or 2-D).
    name : str
        Name of the argument, used in the message.
    allow_nan : bool
        If True, NaN entries are allowed (missing values) but infinities are not.
    nan_hint : str
        What the user can do about NaN, appended to the message.
    """
    X = np.asarray(X)
    if X.dtype.kind not in "fc":
        return
    finite = np.isfinite(X)
    if finite.all():
        return
    X2 = X.reshape(X.shape[0], -1) if X.ndim > 1 else X.reshape(-1, 1)
    inf_rows = np.isinf(X2).any(axis=1)
    if inf_rows.any():
        raise ValueError(
            f"{name} contains inf in {_describe_rows(inf_rows)}; infinite values "
            "cannot be modelled: remove or clip them."
        )
    if not allow_nan:
        nan_rows = np.isnan(X2).any(axis=1)
        hint = nan_hint or "remove or impute the missing entries."
        raise ValueError(f"{name} contains NaN in {_describe_rows(nan_rows)}; {hint}")


def validate_X(
    estimator,
    X,
    *,
    reset: bool,
    allow_nan: bool = False,
    nan_hint: str = "",
    dtype=FLOAT_DTYPES,
    ensure_min_samples: int = 1,
    ensure_min_features: int = 1,
) -> np.ndarray:
    """Validate a data matrix for ``estimator`` (scikit-learn's ``validate_data``).

    Sets ``n_features_in_`` and ``feature_names_in_`` when ``reset`` is True and
    checks them otherwise. Finite values are checked here, with a message that
    counts the offending rows. The input array is never modified: callers get
    a view or a converted copy.
    """
    X = validate_data(
        estimator,
        X,
        reset=reset,
        dtype=dtype,
        ensure_all_finite=False,
        ensure_min_samples=ensure_min_samples,
        ensure_min_features=ensure_min_features,
    )
    check_array_finite(X, allow_nan=allow_nan, nan_hint=nan_hint)
    return X


def check_n_components(
    n_components,
    *,
    upper: int,
    upper_reason: str,
    name: str = "n_components",
) -> int:
    """Check an integer number of components in ``[1, upper]``.

    ``upper_reason`` explains the bound in the error message, for example
    ``"min(n_samples, n_features) = 5"``.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer, got {n_components!r} of type "
            f"{type(n_components).__name__}."
        )
    if n_components < 1:
        raise ValueError(f"{name} must be at least 1, got {n_components}.")
    if n_components > upper:
        raise ValueError(
            f"{name}={n_components} is too large: it can be at most {upper_reason}. "
            f"Pass {name} <= {upper}."
        )
    return int(n_components)


def check_positive_scalar(value, name: str, *, allow_zero: bool = False) -> float:
    """Check a real scalar that must be positive (or non-negative)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}.")
    return value


def check_positive_int(value, name: str) -> int:
    """Check a positive integer such as ``max_iter`` or ``n_starts``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_option(value, name: str, options) -> str:
    """Check that ``value`` is one of ``options``, naming them in the error."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}.")
    return value
