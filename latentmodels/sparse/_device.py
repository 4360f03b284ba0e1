"""A lasso solver for accelerators, written in array-API namespace code.

:func:`solve_device` solves the Gram-form lasso of a batch of signals (see
:mod:`latentmodels.sparse._formulas` and the user guide pages
``docs/user_guide/sparse_inference.rst`` and ``docs/user_guide/array_api.rst``)

.. math::

    \\min_h \\tfrac12 \\lVert x \\rVert^2 - h \\cdot b + \\tfrac12 h G h^\\top
        + \\alpha \\lVert h \\rVert_1 \\quad (h \\ge 0 \\text{ optionally})

with only batched, large operations (matrix products, element-wise maps,
batched small solves), so that it runs wherever the arrays live: numpy,
array-api-strict, PyTorch, CuPy. It stops on the certificate of every other
solver of the package, the per-sample relative duality gap ``gap / P(h) ≤
tol``, computed by the package's one gap formula
(:func:`~latentmodels.sparse._formulas.gap_and_primal_np`, rebound to the
namespace).

Plain FISTA reaches a gap of 1e-6 slowly on coherent dictionaries (a
measurement on 200 000 signals, 256 atoms: worst gap 1.4e-2 after 200
iterations). Here FISTA (Beck & Teboulle 2009) with gradient-based adaptive
restart (O'Donoghue & Candès 2015) only finds the *support*; at checkpoints
(after 20, 40, 80, ... iterations) every uncertified row is *polished*:

1. the active set ``A`` = support of ``h`` plus the atoms whose correlation
   violates optimality (``|c_j| > α``; ``c_j > α`` for ``h ≥ 0``), with signs
   ``s`` from ``h`` (from ``c`` for the added atoms);
2. the exact lasso solution on that set and sign pattern,
   ``h_A = G_AA⁻¹ (b_A − α s)``: one batched solve of the rows' small
   systems (padded to the largest active set of a chunk with identity rows);
3. entries whose sign disagrees with ``s`` are dropped and the round is
   repeated (``n_polish`` rounds, as in feature-sign search, Lee et al. 2007,
   without its line search).

The polished point replaces the FISTA iterate (and restarts its momentum)
when its gap is lower.

A polished row is certified when its gap is below ``tol``; certified rows
leave the batch. Rows left uncertified after ``max_iter`` FISTA iterations
are returned with ``certified=False`` (their best iterate), so that the
caller finishes them on the host, e.g. with feature-sign search.

float32: the gap of a float32 solution cannot be evaluated below about
``64 ε₃₂ ≈ 7.6e-6`` relative (the residual norm ``‖x‖² − h·b − h·c`` is a
difference of float32 numbers), so in float32 the tolerance is raised to
``max(tol, FLOAT32_TOL)``; pass float64 arrays for ``tol = 1e-6``. The
certificate is then a float32 one: the gap of the float32 codes recomputed
in float64 from the residual may be a few times larger (up to 1.8e-5 on
2000 Gaussian signals with dense codes, 64 features, 256 atoms).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from sklearn.externals import array_api_compat

from .._array_api import as_numpy, in_namespace
from ._formulas import gap_and_primal_np, soft_threshold_np

#: Smallest relative gap certified in float32 (see the module docstring).
FLOAT32_TOL = 64 * 2.0**-23


class DeviceResult(NamedTuple):
    """Outcome of :func:`solve_device` (arrays in the input's namespace).

    Attributes
    ----------
    codes : array of shape (n_samples, n_components)
    certified : bool array of shape (n_samples,)
        Rows whose relative gap is at most the tolerance used.
    gaps : array of shape (n_samples,)
        Relative duality gaps of ``codes`` (Gram form).
    n_iter : int
        FISTA iterations of the longest-running row.
    tol : float
        The tolerance used (``max(tol, FLOAT32_TOL)`` in float32).
    """

    codes: Any
    certified: Any
    gaps: Any
    n_iter: int
    tol: float


class _Lasso:
    """The Gram-form problems of a batch, in namespace ``xp``."""

    def __init__(self, xp, G, alpha, positive, dtype):
        self.xp, self.G, self.alpha, self.positive = xp, G, float(alpha), positive
        self.k = G.shape[0]
        self.tiny = float(xp.finfo(dtype).smallest_normal)
        self.gap_and_primal = in_namespace(gap_and_primal_np, xp)
        self.soft = in_namespace(soft_threshold_np, xp)

    def correlations(self, H, B):
        """``c = b − h G`` for every row."""
        return B - H @ self.G

    def relative_gap(self, H, B, xx, C):
        """Per-row ``gap / max(P, tiny)`` from the package's gap formula."""
        xp = self.xp
        l1 = xp.sum(xp.abs(H), axis=1)
        hc = xp.sum(H * C, axis=1)
        r2 = xx - xp.sum(H * B, axis=1) - hc
        if self.positive:
            cmax = xp.maximum(xp.max(C, axis=1), xp.zeros_like(l1))
        else:
            cmax = xp.max(xp.abs(C), axis=1)
        gap, primal = self.gap_and_primal(r2, l1, hc, cmax, self.alpha)
        return gap / xp.maximum(primal, xp.full_like(primal, self.tiny))

    def violators(self, C):
        """Atoms whose correlation breaks optimality at a zero coefficient."""
        xp = self.xp
        return (C > self.alpha) if self.positive else (xp.abs(C) > self.alpha)


def _polish_chunk(lasso: _Lasso, H, B, rank, n_polish):
    """``n_polish`` exact active-set rounds on rows ``H`` (see module doc)."""
    xp, G, k, alpha = lasso.xp, lasso.G, lasso.k, lasso.alpha
    dtype = H.dtype
    Gflat = xp.reshape(G, (-1,))
    zero = xp.zeros_like(H)
    for _ in range(n_polish):
        C = lasso.correlations(H, B)
        active = (H != 0) | lasso.violators(C)
        counts = xp.sum(xp.astype(active, xp.int64), axis=1)
        m = int(xp.max(counts)) if counts.shape[0] else 0
        if m == 0:
            return H
        if m > rank:  # G_AA singular for these rows: leave them to FISTA
            keep = counts <= rank
            active = active & keep[:, None]
            m = int(xp.max(xp.where(keep, counts, xp.zeros_like(counts))))
            if m == 0:
                return H
        else:
            keep = None
        # Active atoms first (a permutation per row), the first m of them.
        order = xp.argsort(xp.astype(~active, xp.int8), axis=1, stable=True)
        idx = order[:, :m]
        valid = xp.take_along_axis(active, idx, axis=1)
        hA = xp.take_along_axis(H, idx, axis=1)
        cA = xp.take_along_axis(C, idx, axis=1)
        one = xp.ones_like(hA)
        if lasso.positive:
            s = one
        else:
            s = xp.where(hA != 0, xp.sign(hA), xp.sign(cA))
        bA = xp.take_along_axis(B, idx, axis=1)
        n = idx.shape[0]
        pair = xp.reshape(idx[:, :, None] * k + idx[:, None, :], (-1,))
        GA = xp.reshape(xp.take(Gflat, pair), (n, m, m))
        vv = valid[:, :, None] & valid[:, None, :]
        pad = xp.astype(~valid, dtype)[:, None, :] * xp.eye(
            m, dtype=dtype, device=H.device
        )
        M = xp.where(vv, GA, xp.zeros_like(GA)) + pad
        rhs = xp.where(valid, bA - alpha * s, xp.zeros_like(bA))
        try:
            sol = xp.linalg.solve(M, rhs[:, :, None])[:, :, 0]
        except (ValueError, RuntimeError):  # a singular G_AA in the chunk
            return H
        ok = valid & (xp.sign(sol) == s)
        sol = xp.where(ok, sol, xp.zeros_like(sol))
        # Back to atom order: the inverse permutation of ``order``.
        full = xp.concat([sol, xp.zeros_like(H)[:, : k - m]], axis=1)
        Hn = xp.take_along_axis(full, xp.argsort(order, axis=1), axis=1)
        if keep is not None:
            Hn = xp.where(keep[:, None], Hn, H)
        H = xp.where(xp.isnan(Hn), zero, Hn)
    return H


def _polish(lasso, H, B, rank, n_polish, budget=2**25):
    """:func:`_polish_chunk` on chunks of rows with similar active-set sizes.

    Each chunk's systems are padded to its largest active set, so the rows are
    sorted by their active-set size first and cut into chunks of about
    ``budget`` array entries (a row of a chunk padded to ``m`` takes ``m²``
    entries in each of the few ``(rows, m, m)`` arrays of a round, ``k`` in
    the ``(rows, k)`` ones, with room for the set to grow by 8 over the
    rounds); large chunks keep the kernel launches and host synchronisations
    few. The rows go back to their order at the end.
    """
    xp, k = lasso.xp, lasso.k
    n = H.shape[0]
    if n == 0:
        return H
    active = (H != 0) | lasso.violators(lasso.correlations(H, B))
    counts = xp.sum(xp.astype(active, xp.int64), axis=1)
    order = xp.argsort(counts, stable=True)
    m = np.minimum(as_numpy(xp.take(counts, order)) + 8, max(rank, 1))
    cost = 4 * m * m + 8 * k  # per row, nondecreasing along the sorted rows
    bounds, i = [], 0
    while i < n:
        rows_cost = np.arange(1, n - i + 1) * cost[i:]
        j = i + max(1, int(np.searchsorted(rows_cost, budget, side="right")))
        bounds.append((i, j))
        i = j
    Hs, Bs = xp.take(H, order, axis=0), xp.take(B, order, axis=0)
    parts = [
        _polish_chunk(lasso, Hs[i:j, :], Bs[i:j, :], rank, n_polish)
        for i, j in bounds
    ]
    Hs = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return xp.take(Hs, xp.argsort(order), axis=0)


def solve_device(
    C,
    G,
    xx,
    alpha: float,
    positive: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    xp=None,
    *,
    n_polish: int = 3,
    first_check: int = 20,
    init=None,
) -> DeviceResult:
    """Lasso codes of a batch by FISTA + exact active-set polish, on any namespace.

    Parameters
    ----------
    C : array of shape (n_samples, n_components)
        Correlations ``B = X Dᵀ`` of the signals with the atoms.
    G : array of shape (n_components, n_components)
        Gram matrix ``D Dᵀ``.
    xx : array of shape (n_samples,)
        Squared signal norms ``‖x‖²``.
    alpha : float
        Penalty ``α > 0`` (not scaled by ``n_features``).
    positive : bool, default=False
        Constrain the codes to ``h ≥ 0``.
    tol : float, default=1e-6
        Certify a row when its relative duality gap is at most ``tol``
        (``max(tol, FLOAT32_TOL)`` for float32 arrays).
    max_iter : int, default=1000
        FISTA iterations at most.
    xp : namespace, optional
        Array namespace of the arrays (found from them with
        ``array_api_compat.array_namespace`` when None, whatever the
        ``array_api_dispatch`` setting: a caller that passes device arrays
        has already chosen the device).
    n_polish : int, default=3
        Active-set rounds at each checkpoint.
    first_check : int, default=20
        Iterations before the first checkpoint; checkpoints then double. On
        the synthetic problem of ``benchmarks/bench_sparse_encode.py`` (8
        active atoms of 256) 3 rounds certify 27% of the rows after 20
        iterations, 99.5% after 40 and all after 80 (2 rounds: 14%, 96%,
        100%), so earlier checkpoints would mostly polish in vain.
    init : array of shape (n_samples, n_components), optional
        Warm start (projected onto ``h ≥ 0`` for ``positive``); zeros by
        default. Rows certified at the warm start are returned unchanged.

    Returns
    -------
    DeviceResult
        ``codes``, ``certified`` (rows to finish on the host when False),
        relative ``gaps``, ``n_iter`` and the ``tol`` used.
    """
    if xp is None:  # whatever the dispatch setting: the caller chose the arrays
        xp = array_api_compat.array_namespace(C, G, xx)
    dtype = C.dtype
    if dtype == xp.float32:
        tol = max(float(tol), FLOAT32_TOL)
    n, k = C.shape
    ev = xp.linalg.eigvalsh(G)
    L = float(ev[-1])
    eps = float(xp.finfo(dtype).eps)
    rank = int(xp.sum(xp.astype(ev > k * eps * L, xp.int64)))
    lasso = _Lasso(xp, G, alpha, positive, dtype)

    if init is None or L <= 0:  # all atoms zero: h = 0 is optimal
        H = xp.zeros_like(C)
        gaps = lasso.relative_gap(H, C, xx, C)
    else:
        H = xp.maximum(init, xp.zeros_like(init)) if positive else init
        gaps = lasso.relative_gap(H, C, xx, lasso.correlations(H, C))
    certified = gaps <= tol
    if L <= 0 or n == 0:
        return DeviceResult(H, certified, gaps, 0, tol)

    rows = xp.nonzero(~certified)[0]  # the working set
    Hw = xp.take(H, rows, axis=0)
    Bw, xw = xp.take(C, rows, axis=0), xp.take(xx, rows, axis=0)
    Yw, tw = Hw, xp.ones_like(xw)
    step, thresh = 1.0 / L, float(alpha) / L
    checkpoint, it = first_check, 0
    done_parts = []  # (row indices, codes, gaps) of certified rows
    while rows.shape[0] and it < max_iter:
        for _ in range(min(checkpoint, max_iter) - it):
            Hn = lasso.soft(Yw + step * lasso.correlations(Yw, Bw), thresh, positive)
            restart = xp.sum((Yw - Hn) * (Hn - Hw), axis=1) > 0
            tn = 0.5 * (1.0 + xp.sqrt(1.0 + 4.0 * tw * tw))
            tn = xp.where(restart, xp.ones_like(tn), tn)
            Yw = Hn + ((tw - 1.0) / tn)[:, None] * (Hn - Hw)
            Yw = xp.where(restart[:, None], Hn, Yw)
            Hw, tw = Hn, tn
        it = min(checkpoint, max_iter)
        checkpoint *= 2
        # Polish a copy; keep it where it certifies or lowers the gap.
        Hp = _polish(lasso, Hw, Bw, rank, n_polish)
        gw = lasso.relative_gap(Hw, Bw, xw, lasso.correlations(Hw, Bw))
        gp = lasso.relative_gap(Hp, Bw, xw, lasso.correlations(Hp, Bw))
        better = gp < gw
        Hw = xp.where(better[:, None], Hp, Hw)
        gw = xp.where(better, gp, gw)
        Yw = xp.where(better[:, None], Hw, Yw)
        tw = xp.where(better, xp.ones_like(tw), tw)
        ok = gw <= tol
        if it >= max_iter:
            ok = xp.ones_like(ok)  # return everything that is left
        sel = xp.nonzero(ok)[0]
        if sel.shape[0]:
            done_parts.append(
                (xp.take(rows, sel), xp.take(Hw, sel, axis=0), xp.take(gw, sel))
            )
            left = xp.nonzero(~ok)[0]
            rows, Hw, Bw, xw, Yw, tw = (
                xp.take(a, left, axis=0) for a in (rows, Hw, Bw, xw, Yw, tw)
            )
    return _assemble(xp, H, gaps, done_parts, tol, it)


def _assemble(xp, H, gaps, parts, tol, n_iter):
    """Rows certified at the start and the rows of ``parts``, back in input order.

    Every row not certified at the start ends in exactly one part (the last
    checkpoint takes all rows left).
    """
    if not parts:
        return DeviceResult(H, gaps <= tol, gaps, n_iter, tol)
    at_zero = xp.nonzero(gaps <= tol)[0]
    idx = xp.concat([at_zero] + [p[0] for p in parts])
    codes = xp.concat([xp.take(H, at_zero, axis=0)] + [p[1] for p in parts], axis=0)
    g = xp.concat([xp.take(gaps, at_zero)] + [p[2] for p in parts])
    inv = xp.argsort(idx)
    codes, g = xp.take(codes, inv, axis=0), xp.take(g, inv)
    return DeviceResult(codes, g <= tol, g, n_iter, tol)


def fista_active_set(problem, H, C, *, tol: float, max_iter: int):
    """The solver table's entry: :func:`solve_device` on a numpy block, in place.

    ``problem`` is a :class:`~latentmodels.sparse.LassoProblem`; ``H`` (the
    warm start) and ``C = B − HG`` are overwritten. Returns the iterations
    per row, negated for the rows left uncertified (the table's fallback,
    feature-sign search, finishes them): the FISTA iterations of the
    block's longest-running row, as :func:`solve_device` counts them.
    """
    res = solve_device(
        problem.B, problem.G, problem.xx, problem.alpha, problem.positive,
        tol=tol, max_iter=max_iter, init=H,
    )
    H[...] = res.codes
    C[...] = problem.B - H @ problem.G
    n_iter = np.full(H.shape[0], max(res.n_iter, 1), dtype=np.int64)
    n_iter[~np.asarray(res.certified)] *= -1
    return n_iter


__all__ = ["DeviceResult", "FLOAT32_TOL", "fista_active_set", "solve_device"]
