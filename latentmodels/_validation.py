"""Input validation shared by every estimator and public function.

One place for the checks and their messages: an error says what was wrong and
what to do about it. Estimators call :func:`validate_X`; public functions that
take raw arrays call :func:`check_array_finite`.
"""

from __future__ import annotations

import functools
import numbers
import os

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, validate_data

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
    if allow_nan and not np.isinf(X).any():
        return  # only missing entries: the common case with missing_values='em'
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


def _with_hint(
    message: str, name: str, ensure_min_samples: int, ensure_min_features: int
) -> str | None:
    """scikit-learn's message for a bad array, followed by what to do about it.

    The original text is kept at the start (scikit-learn's estimator checks
    match on it); None when there is nothing to add.
    """
    if message.startswith("Complex data not supported"):
        return (
            f"Complex data not supported: {name} has complex entries, and these "
            "models are for real data. Pass the real part, or the real and "
            "imaginary parts stacked as separate features."
        )
    if "could not convert" in message or "convert string to float" in message:
        return (
            f"{message} ({name} has non-numeric entries). Encode categorical "
            "columns as numbers (e.g. sklearn.preprocessing.OneHotEncoder) or "
            "drop them."
        )
    if message.startswith("Found array with dim"):
        return f"{message} Pass a 2-D array of shape (n_samples, n_features)."
    if message.startswith("Found array with 0 ") or "while a minimum of" in message:
        return (
            f"{message} Pass a 2-D array of shape (n_samples, n_features) with at "
            f"least {ensure_min_samples} sample(s) and {ensure_min_features} "
            "feature(s)."
        )
    if "features, but" in message and "is expecting" in message:
        return (
            f"{message} Pass data with the same columns, in the same order, as "
            "the data the estimator was fitted on."
        )
    return None


def _checked(validate, X, name: str, sizes, *, allow_nan: bool, nan_hint=""):
    """scikit-learn's array check ``validate``, then ours, with what to do.

    ``validate`` (``check_array`` or ``validate_data`` with their options
    bound) converts and checks the array, leaving the finite check to
    :func:`check_array_finite`; ``sizes`` is ``(ensure_min_samples,
    ensure_min_features)``. A ValueError it raises is re-raised with the hint
    of :func:`_with_hint`.
    """
    min_samples, min_features = sizes
    try:
        X = validate(
            X,
            ensure_all_finite=False,
            ensure_min_samples=min_samples,
            ensure_min_features=min_features,
        )
    except ValueError as exc:
        hint = _with_hint(str(exc), name, min_samples, min_features)
        if hint is None:
            raise
        raise ValueError(hint) from exc
    check_array_finite(X, name=name, allow_nan=allow_nan, nan_hint=nan_hint)
    return X


def check_data(
    X,
    *,
    name: str = "X",
    dtype=np.float64,
    allow_nan: bool = False,
    ensure_min_samples: int = 1,
    ensure_min_features: int = 1,
) -> np.ndarray:
    """Validate a 2-D data array for a public function (no estimator).

    scikit-learn's ``check_array`` with the finite check of
    :func:`check_array_finite` and messages that say what to do (complex,
    non-numeric and empty input). Sparse matrices are refused with a
    TypeError. The input is never modified.
    """
    validate = functools.partial(check_array, dtype=dtype, input_name=name)
    sizes = (ensure_min_samples, ensure_min_features)
    return _checked(validate, X, name, sizes, allow_nan=allow_nan)


def check_codes(
    H,
    n_components: int,
    *,
    name: str,
    holder: str = "the model",
    unit: str = "components",
    dtype=FLOAT_DTYPES,
    validate=None,
) -> np.ndarray:
    """Validate the codes given to ``inverse_transform``: ``n_components`` columns.

    :func:`check_data` (2-D, real, finite), or ``validate(H)`` when given (the
    array-API codes of :func:`latentmodels._array_api.codes_in_namespace`),
    then the number of columns, with a message that names what ``holder`` has
    ``n_components`` of (``unit``).
    """
    H = check_data(H, name=name, dtype=dtype) if validate is None else validate(H)
    if H.shape[1] != n_components:
        raise ValueError(
            f"{name} has {H.shape[1]} columns but {holder} has {n_components} "
            f"{unit} (expected shape (n_samples, {n_components}), got "
            f"{tuple(H.shape)}); pass the output of transform."
        )
    return H


def as_real_array(A, *, name: str) -> np.ndarray:
    """``A`` as a float64 ndarray of any shape, or an error saying what to do.

    For small arrays of parameters (loadings, components) whose shape the
    caller checks itself: refuses sparse matrices (TypeError), complex
    entries and non-numeric entries (ValueError) instead of letting numpy
    drop imaginary parts or fail with its own message. Returns a new array
    only when a conversion is needed.
    """
    if sp.issparse(A):
        raise TypeError(
            f"{name} is a scipy sparse matrix, but a dense array is required; "
            f"pass {name}.toarray()."
        )
    try:
        arr = np.asarray(A)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"{name} could not be read as a numeric array ({exc}); pass a "
            "rectangular array of real numbers."
        ) from exc
    if arr.dtype.kind == "c":
        raise ValueError(_with_hint("Complex data not supported", name, 1, 1))
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} has non-numeric entries (dtype {arr.dtype}: {exc}); pass an "
            "array of real numbers."
        ) from exc


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
    a view or a converted copy. scikit-learn's messages for complex,
    non-numeric or empty input and for the wrong number of features are
    followed by what to do.
    """
    validate = functools.partial(validate_data, estimator, reset=reset, dtype=dtype)
    sizes = (ensure_min_samples, ensure_min_features)
    return _checked(validate, X, "X", sizes, allow_nan=allow_nan, nan_hint=nan_hint)


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


def check_int(value, name: str, *, low: int = 1) -> int:
    """Check an integer parameter (``max_iter``, ``n_samples``, ...) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
        )
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}.")
    return int(value)


def n_threads_from_jobs(n_jobs) -> int:
    """Threads for scikit-learn's ``n_jobs``: None or -1 all cores, -2 all but one."""
    n_cpu = os.cpu_count() or 1
    if n_jobs is None:
        return n_cpu
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, numbers.Integral)
        or not n_jobs
    ):
        raise ValueError(
            f"n_jobs must be a non-zero integer or None, got {n_jobs!r}; use None "
            "or -1 for all cores."
        )
    return max(n_cpu + 1 + n_jobs, 1) if n_jobs < 0 else int(n_jobs)


def check_positive_int(value, name: str) -> int:
    """Check a positive integer such as ``max_iter`` or ``n_starts``."""
    return check_int(value, name, low=1)


def check_option(value, name: str, options) -> str:
    """Check that ``value`` is one of ``options``, naming them in the error."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}.")
    return value
