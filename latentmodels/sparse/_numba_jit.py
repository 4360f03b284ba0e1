"""Optional numba: compile kernels when numba is importable, else run numpy.

numba is an optional extra (``pip install latentmodels[fast]``). Kernels are
written as plain Python functions and decorated with :func:`njit`; without
numba the decorator returns the function unchanged (with ``py_func`` set to
itself, as numba's dispatchers have), so the same code can be tested in pure
Python. The solvers ask :func:`use_numba` at call time; setting the
environment variable ``LATENTMODELS_DISABLE_NUMBA=1`` (or the module flag
``ENABLED = False``) makes them take their vectorised numpy path, which gives
the same results.
"""

from __future__ import annotations

import os

try:  # pragma: no cover - depends on the environment
    import numba

    HAVE_NUMBA = True
    prange = numba.prange
except ImportError:  # pragma: no cover
    numba = None
    HAVE_NUMBA = False
    prange = range

ENABLED = True


def use_numba() -> bool:
    """Whether the compiled kernels should run (numba present and not disabled)."""
    disabled = os.environ.get("LATENTMODELS_DISABLE_NUMBA", "") not in ("", "0")
    return HAVE_NUMBA and ENABLED and not disabled


def njit(*, parallel: bool = False):
    """``numba.njit(cache=True, nogil=True, ...)`` with numba, else the identity."""

    def decorate(func):
        if HAVE_NUMBA:
            return numba.njit(cache=True, nogil=True, parallel=parallel)(func)
        func.py_func = func
        return func

    return decorate
