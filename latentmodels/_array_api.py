"""Array-API namespaces and devices: one place for latentmodels' dispatch rules.

latentmodels follows scikit-learn's convention (user guide page
``docs/user_guide/array_api.rst``): arrays from PyTorch, CuPy,
array-api-strict, ... are handled in their own namespace and on their own
device only under ``sklearn.set_config(array_api_dispatch=True)``; with
dispatch off (the default) every input is converted to numpy exactly as
before. These helpers wrap scikit-learn's (``sklearn.utils._array_api``) so
that the rest of the package does not depend on their private names.

* :func:`namespace_of` -- ``(xp, device, is_array_api)`` of some arrays;
  ``is_array_api`` is False for numpy (with or without dispatch) and for any
  input while dispatch is off.
* :func:`to_host` / :func:`from_host` -- the small ``k×k`` / ``d×k`` steps
  (rotation iterations, assignments, SVDs of tiny matrices) that run faster
  with numpy/scipy on the host than as many tiny device kernels: move the
  inputs to numpy, compute, and move the results back to the caller's
  namespace, dtype and device.
* :func:`in_namespace` -- a formula written once with ``np.`` calls, rebound
  to another namespace (the lasso gap of :mod:`latentmodels.sparse._formulas`).

For the estimators (PCA, ProbabilisticPCA, FactorAnalysis, LinearAutoencoder):

* :func:`validate_in_namespace` -- ``validate_X`` for an array-API ``X``
  (float64/float32 kept, the finite check on the device);
* :func:`move_fitted` -- the fitted numpy arrays to the input's namespace and
  device (float64, as the numpy fit's; the device's widest float otherwise);
* :func:`host_view` / :func:`on_host` -- a fitted model with numpy attributes
  for the small host computations (covariance, score weights, reports);
* :func:`centred_product` / :func:`product_plus` / :func:`row_blocks` -- the
  ``O(n d k)`` row-wise products on the device, by blocks of rows;
* :func:`numpy_only` -- the error of a feature that stays numpy only.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.externals.array_api_compat import array_namespace, is_array_api_obj
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace_and_device,
    move_to,
)

__all__ = [
    "Namespace",
    "as_numpy",
    "attribute_dtype",
    "centred_product",
    "codes_in_namespace",
    "from_host",
    "has_nan",
    "host_view",
    "in_namespace",
    "move_fitted",
    "namespace_of",
    "numpy_only",
    "on_host",
    "product_plus",
    "row_blocks",
    "to_host",
    "validate_in_namespace",
]


@dataclass(frozen=True)
class Namespace:
    """Where some arrays live: namespace ``xp``, ``device`` and float ``dtype``.

    ``is_array_api`` is True only with dispatch on and a non-numpy namespace:
    then results go back to ``xp``/``device``/``dtype`` through
    :func:`from_host`. ``dtype`` is the inputs' floating dtype (float32 stays
    float32), or the namespace's default float for integer inputs.
    """

    xp: Any
    device: Any
    dtype: Any
    is_array_api: bool


NUMPY = Namespace(np, "cpu", np.float64, False)


def namespace_of(*arrays) -> Namespace:
    """The namespace, device and floating dtype of ``arrays`` (None ignored).

    With ``array_api_dispatch`` off, or for numpy arrays and array-likes, the
    result is numpy on the CPU with ``is_array_api=False``: callers keep their
    numpy path unchanged.
    """
    if not get_config()["array_api_dispatch"]:
        return NUMPY  # the common case, decided in a microsecond
    if any(type(a).__module__.startswith("dask.") for a in arrays):
        return NUMPY  # Dask arrays keep their own path (latentmodels._dask)
    xp, is_api, device = get_namespace_and_device(*arrays)
    if not is_api or _is_numpy_namespace(xp):
        return NUMPY
    dtype = None
    for a in arrays:
        if a is not None and hasattr(a, "dtype") and xp.isdtype(
            a.dtype, "real floating"
        ):
            dtype = a.dtype if dtype is None else xp.result_type(dtype, a.dtype)
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes(device=device)[
            "real floating"
        ]
    return Namespace(xp, device, dtype, True)


def _is_device_array(a) -> bool:
    """An array of an array-API library other than numpy (torch tensors too)."""
    return is_array_api_obj(a) and not isinstance(a, np.ndarray)


def to_host(*arrays, ns: Namespace | None = None):
    """``arrays`` as numpy arrays on the host (a tuple; one array if one given).

    Array-API arrays are moved with scikit-learn's ``move_to`` (DLPack, or the
    library's own copy to the host); numpy inputs and array-likes are returned
    unchanged, so the numpy validation that follows sees exactly what it saw
    before. None entries stay None.
    """
    ns = namespace_of(*arrays) if ns is None else ns
    if not ns.is_array_api:
        return arrays[0] if len(arrays) == 1 else arrays
    out = tuple(
        move_to(a, xp=np, device="cpu") if _is_device_array(a) else a
        for a in arrays
    )
    return out[0] if len(out) == 1 else out


def as_numpy(a) -> np.ndarray:
    """Any array (array-API array on any device, or array-like) as numpy.

    Whatever the dispatch setting: for results that leave the array world
    (printing, JSON).
    """
    if _is_device_array(a):
        # the library's own copy to the host: with dispatch off, move_to would
        # see a CUDA tensor as a numpy array-like
        return np.asarray(_convert_to_numpy(a, array_namespace(a)))
    return np.asarray(a)


def from_host(ns: Namespace, *arrays, dtype=None):
    """Numpy ``arrays`` moved back to ``ns`` (its namespace, device and dtype).

    Floating arrays take ``ns.dtype`` (float64 host results of a float32 input
    come back float32); other arrays keep their kind (``dtype`` overrides).
    With ``ns.is_array_api`` False the arrays are returned unchanged. Python
    scalars and None pass through.
    """
    if not ns.is_array_api:
        return arrays[0] if len(arrays) == 1 else arrays
    xp = ns.xp
    out = []
    for a in arrays:
        if a is None or not isinstance(a, np.ndarray):
            out.append(a)
            continue
        moved = move_to(np.ascontiguousarray(a), xp=xp, device=ns.device)
        target = dtype
        if target is None and a.dtype.kind == "f":
            target = ns.dtype
        if target is not None and moved.dtype != target:
            moved = xp.astype(moved, target)
        out.append(moved)
    return out[0] if len(out) == 1 else tuple(out)


class _ScalarArguments:
    """``xp`` whose two-argument element-wise functions accept Python scalars.

    The array API standard allows a Python scalar for one argument of
    ``maximum``/``minimum`` only since its 2024.12 revision; PyTorch's
    ``torch.maximum`` still refuses one. Scalars are made 0-d arrays of the
    other argument's dtype and device; everything else is ``xp``'s own.
    """

    _TWO_ARG = ("maximum", "minimum", "copysign", "hypot", "atan2")

    def __init__(self, xp):
        self._xp = xp

    def __getattr__(self, name):
        func = getattr(self._xp, name)
        if name not in self._TWO_ARG:
            return func
        xp = self._xp

        def two_arg(x1, x2, /):
            if isinstance(x1, (int, float)):
                x1 = xp.asarray(x1, dtype=x2.dtype, device=x2.device)
            elif isinstance(x2, (int, float)):
                x2 = xp.asarray(x2, dtype=x1.dtype, device=x1.device)
            return func(x1, x2)

        return two_arg


_NAMESPACED: dict = {}


def in_namespace(func, xp):
    """``func`` with the module global ``np`` it calls bound to namespace ``xp``.

    For formulas written once with ``np.maximum``/``np.abs``/... on arrays (as
    in :mod:`latentmodels.sparse._formulas`, whose same definitions numba also
    compiles): the returned function runs the same code with ``xp``'s
    functions, so a device solver and the CPU solvers share one definition.
    Only the element-wise functions of the array API standard may be used by
    such formulas (Python scalars are accepted as one argument of the
    two-argument ones, whatever the namespace). numpy returns ``func``
    itself.
    """
    if _is_numpy_namespace(xp) or xp is np:
        return func
    key = (func, xp)
    if key not in _NAMESPACED:
        glb = dict(func.__globals__)
        glb["np"] = _ScalarArguments(xp)
        _NAMESPACED[key] = types.FunctionType(
            func.__code__, glb, func.__name__, func.__defaults__, func.__closure__
        )
    return _NAMESPACED[key]


# --------------------------------------------------------------------------
# Estimators: validation, fitted attributes and row-wise products in a namespace.


def attribute_dtype(ns: Namespace):
    """The floating dtype of fitted attributes on ``ns``'s device.

    The numpy path fits in float64 whatever the input dtype, and so do the
    host steps here: attributes stay float64 (as scikit-learn's array-API
    estimator checks require: the same dtypes as the numpy fit), or float32
    on a device without float64 (PyTorch's MPS).
    """
    return _max_precision_float_dtype(ns.xp, ns.device)


def numpy_only(what: str, alternative: str) -> TypeError:
    """The error for a feature that runs on numpy arrays only (raise it)."""
    return TypeError(
        f"{what} runs on numpy arrays only, but got an array-API array with "
        f"array_api_dispatch=True; {alternative}"
    )


def validate_in_namespace(
    estimator,
    X,
    ns: Namespace,
    *,
    reset: bool,
    allow_nan: bool = False,
    nan_hint: str = "",
    ensure_min_samples: int = 1,
):
    """:func:`~latentmodels._validation.validate_X` for an array-API ``X``.

    scikit-learn's ``validate_data`` in ``ns`` (float64 and float32 kept,
    other dtypes made float64; ``n_features_in_`` set or checked) with our
    hints, then :func:`_check_finite` on the device.
    """
    from sklearn.utils.validation import validate_data

    from ._validation import _with_hint

    xp = ns.xp
    try:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[xp.float64, xp.float32],
            ensure_all_finite=False,
            ensure_min_samples=ensure_min_samples,
        )
    except ValueError as exc:
        hint = _with_hint(str(exc), "X", ensure_min_samples, 1)
        if hint is None:
            raise
        raise ValueError(hint) from exc
    _check_finite(X, ns, name="X", allow_nan=allow_nan, nan_hint=nan_hint)
    return X


def _check_finite(X, ns: Namespace, *, name: str, allow_nan=False, nan_hint=""):
    """The finite check of ``check_array_finite``, on the device.

    Finite column sums mean finite entries: one read, no ``n × d`` temporary
    (an overflowing sum, or NaN allowed, takes the entrywise test). Only when
    it fails are the rows moved to the host to name the offending ones.
    """
    from ._validation import check_array_finite

    xp = ns.xp
    if bool(xp.all(xp.isfinite(xp.sum(X, axis=0)))):
        return
    ok = xp.isfinite(X) if not allow_nan else ~xp.isinf(X)
    if not bool(xp.all(ok)):
        check_array_finite(as_numpy(X), name=name, allow_nan=allow_nan,
                           nan_hint=nan_hint)


def codes_in_namespace(H, n_components: int, ns: Namespace, **kwargs):
    """:func:`~latentmodels._validation.check_codes` for array-API codes."""
    from sklearn.utils.validation import check_array

    from ._validation import check_codes

    name = kwargs.get("name", "codes")

    def validate(H):
        H = check_array(H, dtype=[ns.xp.float64, ns.xp.float32], input_name=name,
                        ensure_all_finite=False)
        _check_finite(H, ns, name=name)
        return H

    return check_codes(H, n_components, validate=validate, **kwargs)


def has_nan(X, ns: Namespace) -> bool:
    """Whether an array of ``ns`` has a NaN entry (one device reduction)."""
    return bool(ns.xp.any(ns.xp.isnan(X)))


def move_fitted(estimator, ns: Namespace) -> None:
    """Move every numpy array attribute of ``estimator`` to ``ns`` (in place).

    Floating arrays take :func:`attribute_dtype`, integer and boolean arrays
    keep their kind; ``feature_names_in_`` (strings) stays numpy, as in
    scikit-learn. Nothing happens when ``ns.is_array_api`` is False.
    """
    if not ns.is_array_api:
        return
    dtype = attribute_dtype(ns)
    for name, value in list(vars(estimator).items()):
        if (
            isinstance(value, np.ndarray)
            and name != "feature_names_in_"
            and value.dtype.kind in "fiub"
        ):
            moved = move_to(np.ascontiguousarray(value), xp=ns.xp, device=ns.device)
            if value.dtype.kind == "f" and moved.dtype != dtype:
                moved = ns.xp.astype(moved, dtype)
            setattr(estimator, name, moved)


def host_view(estimator):
    """A shallow copy of ``estimator`` whose array-API attributes are numpy.

    The small host computations of a fitted model (its Gaussian, covariance,
    score weights) then run unchanged on the copy; the estimator itself is
    not touched, so concurrent calls stay safe. A numpy fit is returned as
    it is.
    """
    import copy

    device = {k: v for k, v in vars(estimator).items() if _is_device_array(v)}
    if not device:
        return estimator  # a numpy fit: nothing to copy
    host = copy.copy(estimator)
    for name, value in device.items():
        setattr(host, name, as_numpy(value))
    return host


def on_host(method):
    """Run a method of a fitted estimator on :func:`host_view` of it.

    For the methods that read the fitted attributes with numpy (reports,
    standard errors, summaries): on a model fitted on array-API input they run
    unchanged on numpy copies of its attributes (and of any array-API
    argument, e.g. the rows of a bootstrap) and return numpy results; on a
    numpy fit they run as they are.
    """
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if any(_is_device_array(v) for v in vars(self).values()):
            args = [as_numpy(a) if _is_device_array(a) else a for a in args]
            kwargs = {
                k: as_numpy(v) if _is_device_array(v) else v
                for k, v in kwargs.items()
            }
            return method(host_view(self), *args, **kwargs)
        return method(self, *args, **kwargs)

    return wrapper


# Bytes per block of rows for the row-wise products on a device: bounds the
# temporaries (a centred block) while keeping each kernel large.
_ROW_BLOCK_BYTES = 256 * 2**20


def _as_ns(a, ns: Namespace):
    """A numpy (host) or ``ns`` array as an ``ns`` array of the inputs' dtype."""
    if isinstance(a, np.ndarray):
        return from_host(ns, np.asarray(a, dtype=np.float64))
    return a if a.dtype == ns.dtype else ns.xp.astype(a, ns.dtype)


def row_blocks(X, ns: Namespace, func):
    """``func`` applied to blocks of rows of ``X`` and the results stacked."""
    n, d = X.shape
    rows = max(1, _ROW_BLOCK_BYTES // (8 * max(d, 1)))
    if n <= rows:
        return func(X)
    return ns.xp.concat(
        [func(X[i : min(i + rows, n), ...]) for i in range(0, n, rows)]
    )


def centred_product(X, mean, P, ns: Namespace):
    """``(X − mean) P`` on ``X``'s device in its dtype, by blocks of rows.

    ``mean`` (d,) and ``P`` (d, k) are numpy or ``ns`` arrays (cast to the
    dtype of ``X``): the ``O(n d k)`` product runs where ``X`` lives.
    """
    mean, P = _as_ns(mean, ns), _as_ns(P, ns)
    return row_blocks(X, ns, lambda B: (B - mean) @ P)


def product_plus(H, M, mean, ns: Namespace):
    """``H M + mean`` on ``H``'s device in its dtype (``M`` is k × d)."""
    M, mean = _as_ns(M, ns), _as_ns(mean, ns)
    return row_blocks(H, ns, lambda B: B @ M + mean)
