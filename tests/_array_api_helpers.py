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
