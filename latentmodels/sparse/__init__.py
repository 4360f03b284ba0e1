"""Per-example inference for sparse coding: the lasso, solved row by row.

Each signal ``x`` (a row of ``X``) gets its own code

.. math::

    h^\\star = \\arg\\min_h \\tfrac12 \\lVert x - h D \\rVert_2^2
        + \\alpha \\lVert h \\rVert_1 \\quad (\\text{optionally } h \\ge 0),

with the dictionary ``D`` of shape ``(n_components, n_features)`` (atoms as
rows, scikit-learn's convention) and ``α`` *not* scaled by ``n_features``.
:func:`sparse_encode` validates its input and returns the codes;
:func:`encode` (its private twin, which assumes valid input) also returns
what happened as an :class:`EncodeResult`.

The package is built around one object, :class:`LassoProblem` (the problems
of a block of rows in Gram form: objective, duality gap, soft-thresholding,
``alpha_max``, warm start), and one table of solvers, ``SOLVERS``
(:mod:`._registry`), each of which receives the problem: ``'cd'``
(coordinate descent with the Gram matrix), ``'feature_sign'`` (Lee et al.
2007), ``'fista'`` (batched, BLAS-3, with adaptive restart), ``'cvxpy'``
(the exact reference) and ``'fista_active_set'`` (the device solver of
array-API input, :mod:`._encode_device`); the first two have compiled
(numba) and numpy twins.
Every solver stops on the same certificate, the relative duality gap of
:mod:`._formulas`, and :func:`encode` runs the whole call over row blocks in
one thread pool (:mod:`._encode`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from .._array_api import namespace_of
from .._validation import check_data
from .._warnings import warn
from ._encode import encode
from ._objective import (
    EncodeResult,
    alpha_max,
    duality_gap,
    kkt_violation,
    lasso_objective,
    objective_and_gap,
    relative_gap,
)
from ._problem import Gram, LassoProblem
from ._registry import SOLVER_NAMES, SOLVERS

__all__ = [
    "EncodeResult",
    "Gram",
    "LassoProblem",
    "SOLVERS",
    "SOLVER_NAMES",
    "alpha_max",
    "duality_gap",
    "encode",
    "kkt_violation",
    "lasso_objective",
    "objective_and_gap",
    "relative_gap",
    "sparse_encode",
]

N_JOBS_CONSTRAINT = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
    None,
]
#: Parameter constraints of :func:`sparse_encode` (scikit-learn's tables),
#: shared with :class:`~latentmodels.SparseCoding` for the same quantities.
ENCODE_CONSTRAINTS = {
    # arrays: checked by _check_arrays, whose messages name the bad rows and
    # say what to do (e.g. "call .toarray()" for a sparse matrix)
    "X": "no_validation",
    "dictionary": "no_validation",
    "alpha": [Interval(Real, 0, None, closed="neither")],
    "solver": [StrOptions(set(SOLVER_NAMES))],
    "positive": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "init": "no_validation",
    "n_jobs": N_JOBS_CONSTRAINT,
}


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
    The whole call (products with the dictionary, screening, warm start,
    solver and the final certificate) runs over blocks of rows in ``n_jobs``
    threads; the codes do not depend on ``n_jobs``. See the user guide,
    ``docs/user_guide/sparse_inference.rst``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row. Never modified. With
        ``sklearn.set_config(array_api_dispatch=True)``, an array-API array
        (PyTorch, CuPy, ...) is coded on its device and the codes are
        returned in its namespace, device and dtype; float32 input raises
        ``tol`` to the float32 floor ``7.6e-6`` (with a warning), see
        ``docs/user_guide/array_api.rst``.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (scikit-learn's ``components_`` convention).
    alpha : float
        Penalty ``α > 0``. Not divided by ``n_features``: this is the same
        scale as :func:`sklearn.decomposition.sparse_encode`'s ``alpha`` for
        ``'lasso_cd'``/``'lasso_lars'``.
    solver : {'auto', 'cd', 'feature_sign', 'fista', 'cvxpy', \
            'fista_active_set'}, default='auto'
        ``'auto'`` picks the fastest measured solver: ``'feature_sign'`` when
        numba is installed, ``'cd'`` otherwise (see
        ``benchmarks/bench_sparse_encode.py``); for array-API input
        (``array_api_dispatch=True``), the device solver
        ``'fista_active_set'`` (FISTA, then exact active-set solves; rows it
        leaves above ``tol`` are finished by ``'feature_sign'`` on the host).
        A CPU solver named for array-API input runs on the host.
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
        Threads used over blocks of samples (``None`` or ``-1``: all cores).

    Returns
    -------
    codes : ndarray of shape (n_samples, n_components)
        In ``X``'s namespace, device and dtype for array-API input.

    Warns
    -----
    ConvergenceWarning
        Once, if some samples did not reach ``tol``.

    References
    ----------
    Tibshirani (1996), J. R. Stat. Soc. B 58:267–288; Olshausen & Field
    (1996), Nature 381:607–609; Lee, Battle, Raina & Ng (2007), NIPS 19.
    """
    # the table, checked here rather than by a decorator, whose frame would
    # otherwise be the "caller" that warnings name
    validate_parameter_constraints(
        ENCODE_CONSTRAINTS, dict(locals()), caller_name="sparse_encode"
    )
    if namespace_of(X).is_array_api:  # array-API input, dispatch on
        from ._encode_device import sparse_encode_device

        return sparse_encode_device(
            X, dictionary, alpha, solver=solver, positive=positive, tol=tol,
            max_iter=max_iter, init=init, n_jobs=n_jobs,
        )
    X, D, init = _check_arrays(X, dictionary, init)
    result = encode(
        X,
        D,
        float(alpha),
        solver=solver,
        positive=bool(positive),
        tol=float(tol),
        max_iter=int(max_iter),
        init=init,
        n_jobs=n_jobs,
    )
    if not result.converged.all():
        from sklearn.exceptions import ConvergenceWarning

        warn(
            f"sparse_encode (solver={result.solver!r}): {result.message}; increase "
            "max_iter, loosen tol, or try solver='feature_sign' or 'cd'.",
            ConvergenceWarning,
        )
    return result.codes


def _check_arrays(X, dictionary, init):
    """Finite float64 arrays of matching shapes (the constraint table checks types)."""
    X = check_data(X, name="X")
    D = check_data(dictionary, name="dictionary")
    if D.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but dictionary has {D.shape[1]} columns; "
            "the dictionary must have shape (n_components, n_features) with atoms "
            "as rows (transpose it if it holds atoms as columns)."
        )
    if init is not None:
        init = check_array(init, dtype=np.float64, input_name="init")
        expected = (X.shape[0], D.shape[0])
        if init.shape != expected:
            raise ValueError(
                f"init has shape {init.shape} but the codes have shape {expected} "
                "(n_samples, n_components)."
            )
    return X, D, init
