"""Moving test arrays between numpy and an array-API namespace."""

from __future__ import annotations

import numpy as np
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import move_to


def to_xp(a, xp, device, dtype):
    """numpy ``a`` as an ``xp`` array of ``dtype`` on ``device``."""
    return xp.asarray(np.asarray(a, dtype=np.float64), dtype=dtype, device=device)


def to_np(a):
    """An array-API array (any device) as a float64/int/bool numpy array."""
    return np.asarray(move_to(a, xp=np, device="cpu"))


def assert_lives(out, xp, device, dtype=None):
    """``out`` is an ``xp`` array on ``device`` (of ``dtype`` when given)."""
    assert not isinstance(out, np.ndarray), type(out)
    assert array_api_compat.array_namespace(out) is xp
    assert str(array_api_compat.device(out)) == str(device)
    if dtype is not None:
        assert out.dtype == dtype, (out.dtype, dtype)


def rtol_for(xp, dtype):
    """The equality tolerance with numpy: 1e-10 in float64, 1e-4 in float32."""
    return 1e-10 if dtype == xp.float64 else 1e-4


def lasso_problem(seed=0, n=240, d=32, k=64, *, positive=False, active=5,
                  zero_rows=3):
    """Signals ``X = H D + noise`` on a unit-norm dictionary ``D`` (k × d).

    About ``active`` atoms per row (non-negative codes with ``positive``); the
    first ``zero_rows`` rows are shrunk so that their lasso code is exactly
    zero (``‖D x‖_∞ ≤ α`` for α = 0.1).
    """
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((k, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    H = rng.standard_normal((n, k)) * (rng.random((n, k)) < active / k)
    if positive:
        H = np.abs(H)
    X = H @ D + 0.1 * rng.standard_normal((n, d))
    X[:zero_rows] *= 1e-3
    return X, D
