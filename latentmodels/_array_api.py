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
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.externals.array_api_compat import is_array_api_obj
from sklearn.utils._array_api import (
    _is_numpy_namespace,
    get_namespace_and_device,
    move_to,
)

__all__ = [
    "Namespace",
    "as_numpy",
    "from_host",
    "in_namespace",
    "namespace_of",
    "to_host",
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


def namespace_of(*arrays) -> Namespace:
    """The namespace, device and floating dtype of ``arrays`` (None ignored).

    With ``array_api_dispatch`` off, or for numpy arrays and array-likes, the
    result is numpy on the CPU with ``is_array_api=False``: callers keep their
    numpy path unchanged.
    """
    xp, is_api, device = get_namespace_and_device(*arrays)
    if not is_api or _is_numpy_namespace(xp):
        return Namespace(np, "cpu", np.float64, False)
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
        return np.asarray(move_to(a, xp=np, device="cpu"))
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
