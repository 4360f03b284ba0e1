"""Assertions shared by the test modules (one place for each property)."""

from __future__ import annotations

import numpy as np


def assert_monotone(values, *, increasing: bool = True, rtol: float = 1e-10,
                    atol=0.0, name: str = "sequence") -> None:
    """Assert a trace never moves the wrong way by more than rounding.

    For a log-likelihood (``increasing=True``) every step must satisfy
    ``ℓ[t+1] − ℓ[t] ≥ −(rtol·|ℓ[t+1]| + atol)``; for an objective that must not
    rise, ``increasing=False``. ``atol`` may be an array of per-step
    allowances. A decreasing log-likelihood fails this, whatever its size
    beyond rounding.
    """
    v = np.asarray(values, dtype=float)
    assert v.ndim == 1 and v.size >= 1, f"{name}: need a 1-d trace"
    assert np.all(np.isfinite(v)), f"{name}: non-finite values {v}"
    step = np.diff(v) if increasing else -np.diff(v)
    allowed = rtol * np.abs(v[1:]) + atol
    bad = np.flatnonzero(step < -allowed)
    assert bad.size == 0, (
        f"{name} moved the wrong way at step(s) {bad[:5].tolist()}: "
        f"changes {np.diff(v)[bad[:5]].tolist()}"
    )
