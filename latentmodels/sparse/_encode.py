"""The driver of sparse inference: every step over row blocks in one thread pool.

:func:`encode` splits the signals into blocks of rows
(:func:`latentmodels._threads.row_blocks`) and hands each block, in a thread
pool with BLAS limited to one thread, the whole pipeline:

1. the Gram-form products ``B = X Dᵀ`` and ``‖x‖²`` of the block
   (:class:`~latentmodels.sparse.LassoProblem`);
2. screening: rows with ``α ≥ alpha_max`` get the exact code zero;
3. the warm start ``H₀`` and its correlations ``C = B − H₀ G``;
4. the registered solver (:mod:`._registry`) and its fallback;
5. the independent certificate: objective and duality gap from the residual
   ``x − hD`` (:mod:`._objective`).

With numba, steps 2–4 and the residual of step 5 are one compiled kernel
per block (:mod:`._numba_block`), between two BLAS products that release
the GIL, so a block holds the GIL for a few calls only and the threads run
concurrently; without numba (or for ``'fista'``/``'cvxpy'``) the same steps
run as numpy code (:func:`_numpy_block`).

Only ``G = D Dᵀ`` (``k × k × d``, independent of the number of signals) is
computed before the pool, on one BLAS thread unless it is large
(:func:`_gram`). The split depends on the number of rows only, so the codes
are the same bit for bit whatever ``n_jobs``.
"""

from __future__ import annotations

import numpy as np

from .._threads import blas_threads_for, map_row_blocks
from .._validation import n_threads_from_jobs
from ._formulas import TINY
from ._numba_block import CD, FEATURE_SIGN, solve_block_rows
from ._numba_jit import use_numba
from ._objective import (
    EncodeResult,
    _certificate_rows,
    lasso_objective,
    objective_and_gap,
)
from ._problem import Gram, LassoProblem
from ._registry import SOLVERS, fallback_max_iter, resolve, run

#: Solvers whose whole block pipeline has a compiled kernel (``_numba_block``).
COMPILED_BLOCKS = {"cd": CD, "feature_sign": FEATURE_SIGN}


def encode(
    X: np.ndarray,
    dictionary: np.ndarray,
    alpha: float,
    *,
    solver: str = "auto",
    positive: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    init: np.ndarray | None = None,
    n_jobs: int | None = None,
    init_objective: bool = False,
) -> EncodeResult:
    """Solve the lasso for every row of ``X``; assumes validated input.

    :func:`~latentmodels.sparse.sparse_encode` checks the arguments and calls
    this; here the arrays must already be finite float64 arrays of matching
    shapes and ``solver`` a known name.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Signals, one per row.
    dictionary : ndarray of shape (n_components, n_features)
        Atoms as rows.
    alpha : float
        Penalty ``α > 0``.
    solver : str, default='auto'
        A name of the solver table (``SOLVER_NAMES``).
    positive : bool, default=False
        Constrain the codes to ``h ≥ 0``.
    tol : float, default=1e-6
        Target relative duality gap of every sample.
    max_iter : int, default=1000
        Iteration budget per sample.
    init : ndarray of shape (n_samples, n_components), optional
        Warm start.
    n_jobs : int, optional
        Threads of the pool over row blocks (``None``: all cores).
    init_objective : bool, default=False
        Also return the objective of ``init`` (computed from its residual in
        the same pass, e.g. for dictionary learning's monotone update).

    Returns
    -------
    result : EncodeResult
        Codes, per-sample objective, absolute and relative duality gap,
        iterations, convergence mask and a message.
    """
    name = resolve(solver)
    n_threads = n_threads_from_jobs(n_jobs)
    X = np.asarray(X, dtype=np.float64)
    gram = _gram(dictionary, n_threads)
    n, k = X.shape[0], gram.n_components
    init = None if init is None else np.asarray(init, dtype=np.float64)
    out = {  # every block writes all its rows of codes: no serial zeroing pass
        "codes": np.empty((n, k)),
        "obj": np.zeros(n),
        "gap": np.zeros(n),
        "n_iter": np.zeros(n, dtype=np.int64),
        "init_obj": np.zeros(n) if (init_objective and init is not None) else None,
    }
    entry = SOLVERS[name]
    args = (X, gram, float(alpha), bool(positive), float(tol), int(max_iter), init)
    if name in COMPILED_BLOCKS and use_numba():
        solve_block = _compiled_block(name, *args, out)
    else:
        solve_block = _numpy_block(name, *args, out)
    if entry.threads:
        split = {"n_blocks": entry.n_blocks, "max_rows": entry.max_rows}
        n_screened = sum(map_row_blocks(solve_block, n, n_threads, **split))
    else:  # one block in the calling thread
        n_screened = sum(map_row_blocks(solve_block, n, 1, n_blocks=1, max_rows=n))

    codes, obj, gap, n_iter = out["codes"], out["obj"], out["gap"], out["n_iter"]
    rel = gap / np.maximum(obj, TINY)
    converged = rel <= tol
    n_bad = int((~converged).sum())
    if n_bad:
        message = (
            f"{n_bad} of {n} samples did not reach the relative duality gap "
            f"tol={tol:g} within max_iter={max_iter} (worst: {rel.max():.3g})"
        )
    else:
        message = (
            f"all {n} samples reached relative duality gap <= {tol:g} "
            f"({n_screened} by the alpha >= alpha_max shortcut)"
        )
    return EncodeResult(
        codes=codes,
        objective=obj,
        gap=gap,
        relative_gap=rel,
        n_iter=n_iter,
        converged=converged,
        solver=name,
        message=message,
        tol=tol,
        init_objective=out["init_obj"],
    )


def _gram(dictionary, n_threads: int) -> Gram:
    """``G = D Dᵀ`` on one BLAS thread, or ``n_threads`` if ``k² d`` is large.

    OpenBLAS's workers spin ~0.1 s after a threaded call and would take the
    cores from the pool that follows (:func:`latentmodels._threads.blas_threads_for`).
    """
    D = np.asarray(dictionary, dtype=np.float64)
    k, d = D.shape
    with blas_threads_for(k * k * d, n_threads):
        return Gram(D)


def _compiled_block(name, X, gram, alpha, positive, tol, max_iter, init, out):
    """The pipeline of one row block: two BLAS products around two kernels.

    The GIL is held only for these few calls; the products and the kernels
    (:func:`._numba_block.solve_block_rows`, the certificate's reductions)
    release it.
    """
    D, G = gram.D, gram.G
    k = gram.n_components
    no_rows, no_obj = np.empty((0, k)), np.empty(0)
    method = COMPILED_BLOCKS[name]
    # the solvers stop on the Gram-form gap; aim a little lower so that the
    # residual-based certificate also meets tol
    opts = (alpha, positive, method, 0.5 * tol, max_iter, fallback_max_iter(max_iter))
    codes, obj, gap, n_iter, init_obj = (
        out[key] for key in ("codes", "obj", "gap", "n_iter", "init_obj")
    )

    def solve_block(blk: slice) -> int:
        Xb = np.ascontiguousarray(X[blk])
        B = Xb @ D.T
        H0 = no_rows if init is None else np.ascontiguousarray(init[blk])
        C, R, H = np.empty_like(B), np.empty_like(Xb), codes[blk]
        io = no_obj if init_obj is None else init_obj[blk]
        n_screened = solve_block_rows(
            Xb, D, B, G, H0, *opts, gram.max_active, H, C, R, n_iter[blk], io
        )
        np.matmul(R, D.T, out=C)  # correlations of the residuals: certificate
        _certificate_rows(R, C, H, alpha, positive, obj[blk], gap[blk])
        return n_screened

    return solve_block


def _numpy_block(name, X, gram, alpha, positive, tol, max_iter, init, out):
    """The pipeline of one row block with :class:`LassoProblem` and the registry."""
    codes, obj, gap, n_iter, init_obj = (
        out[key] for key in ("codes", "obj", "gap", "n_iter", "init_obj")
    )

    def solve_block(blk: slice) -> int:
        Xb = X[blk]
        problem = LassoProblem.from_data(Xb, gram, alpha, positive)
        screened = problem.alpha_max() <= problem.alpha
        H0 = None if init is None else init[blk]
        H, C = problem.warm_start(H0, screened)
        if not screened.all():
            # the solvers stop on the Gram-form gap; aim a little lower so
            # that the residual-based certificate below also meets tol
            opts = {"tol": 0.5 * tol, "max_iter": max_iter}
            if not screened.any():
                n_iter[blk] = run(name, problem, H, C, **opts)
            else:
                rows = np.flatnonzero(~screened)
                Hs, Cs = H[rows], C[rows]
                it = np.zeros(Xb.shape[0], dtype=np.int64)
                it[rows] = run(name, problem.rows(rows), Hs, Cs, **opts)
                H[rows] = Hs
                n_iter[blk] = it
        codes[blk] = H
        obj[blk], gap[blk] = objective_and_gap(Xb, gram.D, H, alpha, positive)
        if init_obj is not None:
            init_obj[blk] = lasso_objective(Xb, gram.D, H0, alpha)
        return int(screened.sum())

    return solve_block
