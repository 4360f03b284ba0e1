"""Per-example inference for sparse coding: the lasso, solved row by row.

Each signal ``x`` (a row of ``X``) gets its own code

.. math::

    h^\\star = \\arg\\min_h \\tfrac12 \\lVert x - h D \\rVert_2^2
        + \\alpha \\lVert h \\rVert_1 \\quad (\\text{optionally } h \\ge 0),

with the dictionary ``D`` of shape ``(n_components, n_features)`` (atoms as
rows, scikit-learn's convention) and ``α`` *not* scaled by ``n_features``.
:func:`sparse_encode` validates its input and returns the codes;
:func:`encode` (its private twin, which assumes valid input) also returns
what happened as an :class:`EncodeResult`. Every solver stops on the same
certificate, the relative duality gap of :mod:`._objective`.

Solvers: ``'cd'`` (coordinate descent with the Gram matrix, compiled with
numba when available), ``'feature_sign'`` (Lee et al. 2007), ``'fista'``
(batched, BLAS-3, with adaptive restart) and ``'cvxpy'`` (the exact reference).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from .._threads import blas_threads
from .._validation import (
    check_data,
    check_option,
    check_positive_int,
    check_positive_scalar,
    n_threads_from_jobs,
)
from ._numba_jit import use_numba
from ._objective import (
    TINY,
    EncodeResult,
    alpha_max,
    duality_gap,
    kkt_violation,
    lasso_objective,
    objective_and_gap,
    relative_gap,
)

__all__ = [
    "EncodeResult",
    "SOLVERS",
    "alpha_max",
    "duality_gap",
    "encode",
    "kkt_violation",
    "lasso_objective",
    "relative_gap",
    "sparse_encode",
]

SOLVERS = ("auto", "cd", "feature_sign", "fista", "cvxpy")


def _resolve_auto(solver: str) -> str:
    """``'auto'``: the fastest solver measured by ``benchmarks/bench_sparse_encode.py``.

    With numba, feature-sign search (exact after a few steps, insensitive to
    coherent dictionaries); without it, the numpy coordinate descent, which
    vectorises over samples (the numpy feature-sign search loops over them).
    """
    if solver != "auto":
        return solver
    return "feature_sign" if use_numba() else "cd"


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
) -> EncodeResult:
    """Solve the lasso for every row of ``X``; assumes validated input.

    Same arguments as :func:`sparse_encode`, which checks them; here ``X``,
    ``dictionary`` and ``init`` must already be finite float64 arrays of
    matching shapes and ``solver`` a known name.

    Returns
    -------
    result : EncodeResult
        Codes, per-sample objective, absolute and relative duality gap,
        iterations, convergence mask and a message.
    """
    solver = _resolve_auto(solver)
    X = np.asarray(X, dtype=np.float64)
    D = np.asarray(dictionary, dtype=np.float64)
    n, k = X.shape[0], D.shape[0]
    n_iter = np.zeros(n, dtype=np.int64)

    B = X @ D.T
    amax = np.maximum(B.max(axis=1), 0.0) if positive else np.abs(B).max(axis=1)
    todo = alpha < amax  # the rest: h = 0 exactly
    every = bool(todo.all())
    rows = slice(None) if every else np.flatnonzero(todo)  # no copies if all
    n_threads = n_threads_from_jobs(n_jobs)
    H0 = None if init is None else np.asarray(init, dtype=np.float64)[rows]
    if not todo.any():
        H = np.zeros((n, k))
    elif solver == "cvxpy":
        from ._cvxpy import solve_cvxpy

        H = np.zeros((n, k))
        H[rows], n_iter[rows] = solve_cvxpy(
            X[rows], D, alpha, positive=positive, max_iter=max_iter
        )
    else:
        Xt = X[rows]
        # the solvers compute the gap from the Gram matrix; aim a little
        # lower so that the residual-based gap below also meets tol
        Ht, it = _run_gram_solver(
            solver,
            B[rows],
            D @ D.T,
            np.einsum("ij,ij->i", Xt, Xt),
            alpha,
            positive,
            0.5 * tol,
            max_iter,
            H0,
            n_threads,
            D.shape[1],
        )
        if every:
            H, n_iter = Ht, it
        else:
            H = np.zeros((n, k))
            H[rows], n_iter[rows] = Ht, it

    obj, gap = objective_and_gap(X, D, H, alpha, positive)
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
            f"({n - int(todo.sum())} by the alpha >= alpha_max shortcut)"
        )
    return EncodeResult(
        codes=H,
        objective=obj,
        gap=gap,
        relative_gap=rel,
        n_iter=n_iter,
        converged=converged,
        solver=solver,
        message=message,
        tol=tol,
    )


def _run_gram_solver(
    solver, B, G, xx, alpha, positive, tol, max_iter, H0, n_threads, n_features
):
    if solver == "fista":
        from ._fista import solve_fista

        with blas_threads(n_threads):
            return solve_fista(
                B, G, xx, alpha, positive=positive, tol=tol, max_iter=max_iter, H0=H0
            )
    if solver == "cd":
        from ._cd import solve_cd

        return solve_cd(
            B,
            G,
            xx,
            alpha,
            positive=positive,
            tol=tol,
            max_iter=max_iter,
            H0=H0,
            n_threads=n_threads,
        )
    if solver == "feature_sign":
        from ._feature_sign import solve_feature_sign

        return solve_feature_sign(
            B,
            G,
            xx,
            alpha,
            positive=positive,
            tol=tol,
            max_iter=max_iter,
            H0=H0,
            n_threads=n_threads,
            max_active=n_features,
        )
    raise ValueError(f"unknown solver {solver!r}")  # pragma: no cover


def sparse_encode(
    X,
    dictionary,
    alpha: float,
    *,
    solver: str = "auto",
    positive: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    init=None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Sparse codes of the rows of ``X`` on ``dictionary`` (the lasso per row).

    Each row ``x`` gets ``h = argmin ½‖x − hD‖² + α‖h‖₁`` (``h >= 0`` with
    ``positive=True``), solved until its relative duality gap is at most
    ``tol``. Rows with ``α >= alpha_max(x) = ‖D x‖_∞`` get ``h = 0`` exactly.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row. Never modified.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (scikit-learn's ``components_`` convention).
    alpha : float
        Penalty ``α > 0``. Not divided by ``n_features``: this is the same
        scale as :func:`sklearn.decomposition.sparse_encode`'s ``alpha`` for
        ``'lasso_cd'``/``'lasso_lars'``.
    solver : {'auto', 'cd', 'feature_sign', 'fista', 'cvxpy'}, default='auto'
        ``'auto'`` picks the fastest measured solver: ``'feature_sign'`` when
        numba is installed, ``'cd'`` otherwise (see
        ``benchmarks/bench_sparse_encode.py``).
    positive : bool, default=False
        Constrain the codes to be non-negative.
    tol : float, default=1e-6
        Target relative duality gap ``gap / objective`` for every sample.
    max_iter : int, default=1000
        Iteration budget per sample (FISTA iterations, CD sweeps,
        feature-sign steps, or interior-point iterations).
    init : array-like of shape (n_samples, n_components), optional
        Warm start (ignored by ``'cvxpy'``).
    n_jobs : int, optional
        Threads used over samples (``None`` or ``-1``: all cores).

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)

    Warns
    -----
    ConvergenceWarning
        Once, if some samples did not reach ``tol``.

    References
    ----------
    Tibshirani (1996), J. R. Stat. Soc. B 58:267–288; Olshausen & Field
    (1996), Nature 381:607–609; Lee, Battle, Raina & Ng (2007), NIPS 19.
    """
    X, D, alpha, init = _validate(X, dictionary, alpha, solver, tol, max_iter, init)
    n_threads_from_jobs(n_jobs)  # validates n_jobs
    result = encode(
        X,
        D,
        alpha,
        solver=solver,
        positive=bool(positive),
        tol=tol,
        max_iter=max_iter,
        init=init,
        n_jobs=n_jobs,
    )
    if not result.converged.all():
        warnings.warn(
            f"sparse_encode (solver={result.solver!r}): {result.message}; increase "
            "max_iter, loosen tol, or try solver='feature_sign' or 'cd'.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result.codes


def _validate(X, dictionary, alpha, solver, tol, max_iter, init):
    X = check_data(X, name="X")
    D = check_data(dictionary, name="dictionary")
    if D.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but dictionary has {D.shape[1]} columns; "
            "the dictionary must have shape (n_components, n_features) with atoms "
            "as rows (transpose it if it holds atoms as columns)."
        )
    if isinstance(alpha, numbers.Real) and alpha == 0:
        raise ValueError(
            "alpha must be > 0: with alpha = 0 the problem is plain least squares, "
            "whose codes are not sparse and whose optimality the lasso duality gap "
            "cannot certify; use numpy.linalg.lstsq for it."
        )
    alpha = check_positive_scalar(alpha, "alpha")
    check_option(solver, "solver", SOLVERS)
    check_positive_scalar(tol, "tol")
    check_positive_int(max_iter, "max_iter")
    if init is not None:
        init = check_array(init, dtype=np.float64, input_name="init")
        expected = (X.shape[0], D.shape[0])
        if init.shape != expected:
            raise ValueError(
                f"init has shape {init.shape} but the codes have shape {expected} "
                "(n_samples, n_components)."
            )
    return X, D, alpha, init
