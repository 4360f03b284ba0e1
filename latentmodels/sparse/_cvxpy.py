"""The exact reference: the lasso written in cvxpy, re-solved per sample.

One parametrised problem ``min ½‖x − Dᵀh‖² + α‖h‖₁`` (``h >= 0`` optionally)
is built once, with the signal ``x`` as a :class:`cvxpy.Parameter`, and
re-solved for each row of ``X`` by an interior-point conic solver at tight
tolerances (Clarabel if installed, then ECOS, then any installed solver).
cvxpy is imported here, inside the function, so ``latentmodels`` does not
need it unless this solver is used.

Interior-point solutions are never exactly sparse. With ``polish=True`` the
solution is finished off on its support: with ``S`` the entries above a
small threshold and ``σ`` their signs, the stationarity condition gives
``h_S = G_SS⁻¹ (b_S − α σ)``; the polished code replaces the conic one when
it keeps the signs and lowers the objective, which makes the reference exact
up to rounding instead of up to the interior-point tolerance.
"""

from __future__ import annotations

import numpy as np

from ._objective import lasso_objective

_PREFERRED = ("CLARABEL", "ECOS", "OSQP", "SCS")
_TIGHT = {
    "CLARABEL": {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12},
    "ECOS": {"abstol": 1e-12, "reltol": 1e-12, "feastol": 1e-12},
    "OSQP": {"eps_abs": 1e-12, "eps_rel": 1e-12, "max_iter": 200000, "polish": True},
    "SCS": {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200000},
}


def _pick_solver(cp) -> str:
    installed = set(cp.installed_solvers())
    for name in _PREFERRED:
        if name in installed:
            return name
    raise ImportError(
        "solver='cvxpy' needs a conic solver; install one of "
        f"{list(_PREFERRED)} (for example `pip install clarabel`)."
    )


def _polish(x, D, G, h, alpha, positive):
    """Exact stationary point on the support of ``h``, if it keeps the signs."""
    scale = np.abs(h).max()
    if scale == 0.0:
        return h
    S = np.flatnonzero(np.abs(h) > 1e-7 * scale)
    sigma = np.sign(h[S])
    rhs = D[S] @ x - alpha * sigma
    try:
        hS = np.linalg.solve(G[np.ix_(S, S)], rhs)
    except np.linalg.LinAlgError:
        return h
    if np.any(np.sign(hS) != sigma):
        return h
    cand = np.zeros_like(h)
    cand[S] = hS
    old = lasso_objective(x[None], D, h[None], alpha)[0]
    new = lasso_objective(x[None], D, cand[None], alpha)[0]
    return cand if new <= old else h


def cvxpy_solver(problem, H, C, *, tol: float, max_iter: int) -> np.ndarray:
    """Registry entry: the exact reference on ``problem.X`` (``tol`` unused).

    Writes the codes into ``H`` and returns the conic solver's iterations.
    """
    Hc, n_iter = solve_cvxpy(
        problem.X,
        problem.gram.D,
        problem.alpha,
        positive=problem.positive,
        max_iter=max_iter,
    )
    H[:] = Hc
    return n_iter


def solve_cvxpy(
    X: np.ndarray,
    D: np.ndarray,
    alpha: float,
    *,
    positive: bool,
    max_iter: int,
    polish: bool = True,
    solver: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the lasso for each row of ``X`` with cvxpy.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    D : ndarray of shape (n_components, n_features)
    alpha : float
    positive : bool
        Constrain ``h >= 0``.
    max_iter : int
        Iteration limit handed to the conic solver.
    polish : bool, default=True
        Finish each solution on its support (module docstring).
    solver : str, optional
        A cvxpy solver name; by default the first installed of
        Clarabel, ECOS, OSQP, SCS.

    Returns
    -------
    H : ndarray of shape (n_samples, n_components)
    n_iter : ndarray of int, shape (n_samples,)
        Iterations reported by the conic solver.
    """
    import cvxpy as cp

    n, k = X.shape[0], D.shape[0]
    name = solver or _pick_solver(cp)
    opts = dict(_TIGHT.get(name, {}))
    iter_key = {"SCS": "max_iters", "OSQP": "max_iter", "ECOS": "max_iters"}.get(
        name, "max_iter"
    )
    opts[iter_key] = max(int(max_iter), opts.get(iter_key, 0))

    h = cp.Variable(k, nonneg=positive)
    x = cp.Parameter(D.shape[1])
    problem = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(x - D.T @ h) + alpha * cp.norm1(h))
    )
    G = D @ D.T
    H = np.zeros((n, k))
    n_iter = np.zeros(n, dtype=np.int64)
    for i in range(n):
        x.value = X[i]
        problem.solve(solver=name, **opts)
        if h.value is None:
            raise RuntimeError(
                f"cvxpy ({name}) failed on sample {i} with status {problem.status}; "
                "try another solver through solve_cvxpy(..., solver=...)."
            )
        hi = np.asarray(h.value, dtype=float).ravel()
        if positive:
            hi = np.maximum(hi, 0.0)
        H[i] = _polish(X[i], D, G, hi, alpha, positive) if polish else hi
        stats = problem.solver_stats
        n_iter[i] = stats.num_iters if stats and stats.num_iters is not None else 0
    return H, n_iter
