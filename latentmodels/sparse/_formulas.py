"""The two formulas of the lasso, written once for numba and numpy alike.

Every solver and certificate in :mod:`latentmodels.sparse` calls these two
functions: the vectorised numpy code calls them on arrays
(``soft_threshold_np``, ``gap_and_primal_np``), the compiled kernels call
the same functions compiled by numba on scalars (``soft_threshold``,
``gap_and_primal``). They are written with ``np.maximum``/``np.sign`` so
that the same expression is valid for both.

Soft-thresholding
-----------------
The proximal operator of ``τ‖·‖₁`` (plus the indicator of ``h ≥ 0`` for
non-negative codes),

.. math::

    S_\\tau(z) = \\operatorname{sign}(z) \\max(|z| - \\tau, 0), \\qquad
    S^+_\\tau(z) = \\max(z - \\tau, 0).

Duality gap
-----------
For one signal ``x`` with code ``h``, residual ``r = x − hD`` and
correlations ``c = r Dᵀ``, the dual problem of the lasso
``P(h) = ½‖r‖² + α‖h‖₁`` is ``max_θ ½‖x‖² − ½‖x − θ‖²`` subject to
``‖θ Dᵀ‖_∞ ≤ α`` (``θ Dᵀ ≤ α`` for ``h ≥ 0``). The rescaled residual
``θ = s r`` with ``s = α / max(c_max, α)``, ``c_max = ‖c‖_∞`` (``max(c)`` for
``h ≥ 0``), is dual feasible, and ``P(h) − D(θ)`` simplifies to

.. math::

    \\mathrm{gap}(h) = \\tfrac12 (1 - s)^2 \\lVert r \\rVert^2
        + \\alpha \\lVert h \\rVert_1 - s\\, h \\cdot c \\;\\ge\\; 0,

zero exactly at the optimum (Kim et al. 2007, IEEE J. Sel. Top. Signal
Process. 1:606–617; El Ghaoui, Viallon & Rabbani 2012; Massias, Gramfort &
Salmon 2018, "Celer", ICML). It needs only ``‖r‖²``, ``‖h‖₁``, ``h·c`` and
``c_max``, which the Gram-form solvers keep without forming ``r`` (see
:class:`~latentmodels.sparse.LassoProblem`) and the final certificate
computes from the residual. The user guide (``docs/user_guide/
sparse_inference.rst``) derives it.
"""

from __future__ import annotations

import numpy as np

from ._numba_jit import njit

TINY = np.finfo(np.float64).tiny


def soft_threshold_np(z, tau, positive):
    """``S_τ(z)`` (``S⁺_τ(z)`` if ``positive``), for a scalar or an array."""
    if positive:
        return np.maximum(z - tau, 0.0)
    return np.sign(z) * np.maximum(np.abs(z) - tau, 0.0)


def gap_and_primal_np(r2, l1, hc, cmax, alpha):
    """Duality gap and primal objective from ``‖r‖²``, ``‖h‖₁``, ``h·c``, ``c_max``.

    Scalars or arrays (one entry per signal); ``r2`` is clipped at zero
    (Gram-form values can be slightly negative by rounding) and the gap too.
    """
    r2 = np.maximum(r2, 0.0)
    s = alpha / np.maximum(cmax, alpha)
    gap = np.maximum(0.5 * (1.0 - s) * (1.0 - s) * r2 + alpha * l1 - s * hc, 0.0)
    return gap, 0.5 * r2 + alpha * l1


#: The same two formulas compiled for the kernels (scalars).
soft_threshold = njit()(soft_threshold_np)
gap_and_primal = njit()(gap_and_primal_np)


@njit()
def relative_gap_row(h, c, b, xx, alpha, positive):
    """Relative gap ``gap / max(P, tiny)`` of one code from ``c = b − G h``.

    ``‖r‖² = ‖x‖² − h·b − h·c`` (as ``r = x − hD`` and ``c = b − G h``).
    """
    l1 = 0.0
    hc = 0.0
    hb = 0.0
    cmax = 0.0
    for j in range(h.shape[0]):
        l1 += abs(h[j])
        hc += h[j] * c[j]
        hb += h[j] * b[j]
        cj = c[j] if positive else abs(c[j])
        if cj > cmax:
            cmax = cj
    gap, primal = gap_and_primal(xx - hb - hc, l1, hc, cmax, alpha)
    return gap / max(primal, TINY)


def max_correlation(C: np.ndarray, positive: bool) -> np.ndarray:
    """``c_max`` per row: ``max_j |c_j|``, or ``max(max_j c_j, 0)`` for ``h ≥ 0``."""
    if C.shape[1] == 0:
        return np.zeros(C.shape[0])
    if positive:
        return np.maximum(C.max(axis=1), 0.0)
    return np.abs(C).max(axis=1)
