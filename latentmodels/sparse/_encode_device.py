"""Sparse inference on array-API arrays: the device solver and its host fallback.

Under ``sklearn.set_config(array_api_dispatch=True)``,
:func:`~latentmodels.sparse.sparse_encode` and
:class:`~latentmodels.SparseCoding` hand array-API input (PyTorch, CuPy,
array-api-strict, ...) to :func:`encode_device`, which keeps the whole
computation where the arrays live (user guide ``docs/user_guide/array_api.rst``):

1. the Gram form ``B = X Dᵀ``, ``G = D Dᵀ``, ``‖x‖²`` on the device; rows with
   ``α ≥ alpha_max`` start (and stay) at their exact code zero;
2. the device solver (:func:`~latentmodels.sparse._device.solve_device`:
   FISTA with adaptive restart, then exact active-set polish) until every
   row's relative duality gap is at most ``tol / 2`` in Gram form or its
   iteration budget ``max_iter`` is spent;
3. the certificate of every CPU solver (:mod:`._objective`): objective and
   duality gap from the residual ``x − hD``, on the device;
4. float32 rows above ``tol`` are re-solved in float64 on the device (where
   it has float64; :func:`_refine_float64`) and rounded back;
5. the rows whose certificate exceeds ``tol`` (uncertified by the device
   solver, or by rounding) are moved to the host, finished by the exact
   feature-sign search of the CPU pipeline (:func:`._encode.encode`, warm
   started from the device codes, certified there in float64), moved back
   and certified again on the device.

So every returned row carries the same certificate as the numpy path. In
float32 the gap cannot be evaluated below ``FLOAT32_TOL ≈ 7.6e-6`` (see
:mod:`._device`): ``tol`` is raised to that floor, with a warning when a
smaller ``tol`` was asked for. A solver named explicitly other than
``'fista_active_set'`` (``'cd'``, ``'feature_sign'``, ...) runs on the host
on the same values and its results are moved back.
"""

from __future__ import annotations

import numpy as np
from sklearn.externals import array_api_compat

from .._array_api import (
    Namespace,
    _check_finite,
    attribute_dtype,
    from_host,
    in_namespace,
    namespace_of,
    to_host,
)
from .._validation import check_data
from .._warnings import warn
from ._device import FLOAT32_TOL, solve_device
from ._encode import encode
from ._formulas import gap_and_primal_np
from ._objective import EncodeResult
from ._registry import fallback_max_iter, resolve

__all__ = [
    "check_device_array",
    "encode_device",
    "sparse_encode_device",
]

#: Solver of the host fallback (exact after a few steps, as on the CPU).
FALLBACK_SOLVER = "feature_sign"


def effective_tol(tol: float, dtype, xp, where: str = "sparse_encode") -> float:
    """``tol``, raised to :data:`FLOAT32_TOL` for float32 arrays (with a warning)."""
    if dtype == xp.float32 and tol < FLOAT32_TOL:
        warn(
            f"{where}: float32 input cannot certify a relative duality gap below "
            f"{FLOAT32_TOL:.2g} (float32 rounding of the residual); tol={tol:g} "
            f"is raised to {FLOAT32_TOL:.2g}. Pass float64 arrays to certify "
            f"tol={tol:g}, or set tol >= {FLOAT32_TOL:.2g} to silence this warning.",
            UserWarning,
        )
        return FLOAT32_TOL
    return float(tol)


def check_device_array(A, ns: Namespace, name: str, dtype=None):
    """``A`` as a finite 2-D floating array of ``ns`` (its device and dtype).

    numpy arrays and array-likes are validated on the host and moved to the
    device; arrays of ``ns`` are checked there (only a non-finite array is
    moved to the host, to name its bad rows). An array of another namespace
    or device is refused.
    """
    xp = ns.xp
    dtype = ns.dtype if dtype is None else dtype
    if not array_api_compat.is_array_api_obj(A) or isinstance(A, np.ndarray):
        return from_host(ns, check_data(A, name=name), dtype=dtype)
    other = namespace_of(A)
    if other.xp is not xp or str(other.device) != str(ns.device):
        raise ValueError(
            f"{name} is a {other.xp.__name__} array on {other.device}, but X is a "
            f"{xp.__name__} array on {ns.device}; move {name} to X's namespace and "
            "device (or pass a numpy array)."
        )
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array, got {A.ndim} dimension(s); reshape it "
            "to (n_samples, n_features)."
        )
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(
            f"{name} has shape {tuple(A.shape)}; at least one row and one column "
            "are required."
        )
    if xp.isdtype(A.dtype, "complex floating"):
        raise ValueError(f"{name} is complex; pass real values.")
    if A.dtype != dtype:
        A = xp.astype(A, dtype)
    _check_finite(A, ns, name=name)  # on the device; names the bad rows
    return A


def _certificate(xp, X, D, H, alpha: float, positive: bool):
    """Per-row objective and duality gap from the residual ``x − hD``.

    The formula of :mod:`._formulas` (as :func:`._objective.objective_and_gap`
    on the host), evaluated in ``xp``.
    """
    R = X - H @ D
    C = R @ D.T
    r2 = xp.sum(R * R, axis=1)
    hc = xp.sum(H * C, axis=1)
    l1 = xp.sum(xp.abs(H), axis=1)
    if positive:
        cmax = xp.maximum(xp.max(C, axis=1), xp.zeros_like(r2))
    else:
        cmax = xp.max(xp.abs(C), axis=1)
    gap, primal = in_namespace(gap_and_primal_np, xp)(r2, l1, hc, cmax, alpha)
    return primal, gap


def _relative(xp, gap, primal):
    tiny = float(xp.finfo(primal.dtype).smallest_normal)
    return gap / xp.maximum(primal, xp.full_like(primal, tiny))


def _replace_rows(xp, A, mask, rows, V):
    """``A`` with the rows ``rows`` (where ``mask``) replaced by ``V``, on the device.

    Without item assignment (not in the array API standard for integer
    indices): the kept rows and ``V`` are concatenated and put back in order
    by the inverse permutation.
    """
    keep = xp.nonzero(~mask)[0]
    idx = xp.concat([keep, rows])
    out = xp.concat([xp.take(A, keep, axis=0), V], axis=0)
    return xp.take(out, xp.argsort(idx), axis=0)


def encode_device(
    X,
    D,
    alpha: float,
    *,
    ns: Namespace,
    solver: str = "auto",
    positive: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    init=None,
    n_jobs: int | None = None,
    init_objective: bool = False,
    where: str = "sparse_encode",
) -> EncodeResult:
    """Codes of the rows of ``X`` on ``D``, all arrays of namespace ``ns``.

    The array-API twin of :func:`latentmodels.sparse.encode` (validated
    input: ``X``, ``D`` and ``init`` are finite arrays of ``ns``'s namespace,
    device and dtype). The fields of the returned
    :class:`~latentmodels.sparse.EncodeResult` are arrays of ``ns`` (``tol``
    is the tolerance used: raised to :data:`FLOAT32_TOL` in float32).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    D : array of shape (n_components, n_features)
    alpha : float
        Penalty ``α > 0``.
    ns : Namespace
        Namespace, device and dtype of the arrays
        (:func:`latentmodels._array_api.namespace_of`).
    solver : str, default='auto'
        ``'auto'`` or ``'fista_active_set'``: the device solver with host
        fallback (module docstring); any other name of the solver table runs
        on the host.
    positive, tol, max_iter, init, n_jobs, init_objective :
        As in :func:`latentmodels.sparse.encode`; ``max_iter`` bounds the
        device solver's FISTA iterations, the fallback gets
        ``max(100 max_iter, 10000)`` feature-sign steps; ``n_jobs`` are its
        host threads.
    where : str, default='sparse_encode'
        Caller named in the float32 warning.

    Returns
    -------
    result : EncodeResult
    """
    xp = ns.xp
    tol = effective_tol(tol, X.dtype, xp, where)
    name = resolve(solver, device=True)
    if name != "fista_active_set":
        return _encode_on_host(
            X, D, alpha, ns=ns, solver=name, positive=positive, tol=tol,
            max_iter=max_iter, init=init, n_jobs=n_jobs,
            init_objective=init_objective,
        )
    alpha = float(alpha)
    B = X @ D.T
    G = D @ D.T
    xx = xp.sum(X * X, axis=1)
    start = init
    if init is not None:
        # α ≥ alpha_max: the exact code zero, whatever the warm start
        amax = xp.max(B, axis=1) if positive else xp.max(xp.abs(B), axis=1)
        start = xp.where((amax <= alpha)[:, None], xp.zeros_like(init), init)
    res = solve_device(
        B, G, xx, alpha, positive, tol=0.5 * tol, max_iter=max_iter, xp=xp,
        init=start,
    )
    H = res.codes
    obj, gap = _certificate(xp, X, D, H, alpha, positive)
    rel = _relative(xp, gap, obj)
    # the device solver counts the iterations of its longest-running row
    n_iter = xp.full(rel.shape, res.n_iter, dtype=xp.int64, device=ns.device)
    bad = rel > tol
    n_fallback = int(xp.sum(xp.astype(bad, xp.int64)))
    n_refined = 0
    if n_fallback and X.dtype == xp.float32 and _has_float64(ns):
        H, obj, gap, rel = _refine_float64(
            xp, X, D, H, bad, alpha, positive, tol, max_iter, (obj, gap, rel)
        )
        bad = rel > tol
        n_left = int(xp.sum(xp.astype(bad, xp.int64)))
        n_refined, n_fallback = n_fallback - n_left, n_left
    if n_fallback:
        H, obj, gap, rel, n_iter = _fallback(
            xp, ns, X, D, H, bad, alpha, positive, tol, max_iter, n_jobs,
            (obj, gap, rel, n_iter),
        )
    init_obj = None
    if init_objective and init is not None:
        init_obj = _certificate(xp, X, D, init, alpha, positive)[0]
    converged = rel <= tol
    n = X.shape[0]
    n_bad = int(xp.sum(xp.astype(~converged, xp.int64)))
    if n_bad:
        message = (
            f"{n_bad} of {n} samples did not reach the relative duality gap "
            f"tol={tol:g} (worst: {float(xp.max(rel)):.3g}), even after the host "
            f"fallback ({FALLBACK_SOLVER})"
        )
    else:
        message = (
            f"all {n} samples reached relative duality gap <= {tol:g} "
            f"({n - n_fallback} on the device, {n_fallback} finished on the host)"
        )
        if n_refined:
            message += f"; {n_refined} float32 rows re-solved in float64 on the device"
    return EncodeResult(
        codes=H, objective=obj, gap=gap, relative_gap=rel, n_iter=n_iter,
        converged=converged, solver="fista_active_set", message=message, tol=tol,
        init_objective=init_obj,
    )


def _has_float64(ns: Namespace) -> bool:
    """Whether ``ns``'s device has float64 (not PyTorch's MPS, for one)."""
    return attribute_dtype(ns) == ns.xp.float64


def _refine_float64(xp, X, D, H, bad, alpha, positive, tol, max_iter, cert):
    """Float32 rows ``bad`` re-solved in float64 on the device, certified in float32.

    The float32 Gram form ``B = X Dᵀ``, ``G`` perturbs the problem by
    ``κ(G_AA) ε₃₂``: on dense codes (60 active atoms in 64 dimensions) a
    quarter of the float32 solutions are ``1e-5`` away from the exact one and
    fail the certificate from the residual, although the exact codes rounded
    to float32 pass it. The device solver on those rows in float64, warm
    started, gives codes that pass after rounding; the rows still failing go
    to the host fallback.
    """
    obj, gap, rel = cert
    rows = xp.nonzero(bad)[0]
    f64 = xp.float64
    X64 = xp.astype(xp.take(X, rows, axis=0), f64)
    D64 = xp.astype(D, f64)
    res = solve_device(
        X64 @ D64.T, D64 @ D64.T, xp.sum(X64 * X64, axis=1), alpha, positive,
        tol=0.5 * tol, max_iter=max_iter, xp=xp,
        init=xp.astype(xp.take(H, rows, axis=0), f64),
    )
    Hr = xp.astype(res.codes, X.dtype)
    o, g = _certificate(xp, xp.take(X, rows, axis=0), D, Hr, alpha, positive)
    return (
        _replace_rows(xp, H, bad, rows, Hr),
        _replace_rows(xp, obj, bad, rows, o),
        _replace_rows(xp, gap, bad, rows, g),
        _replace_rows(xp, rel, bad, rows, _relative(xp, g, o)),
    )


def _fallback(xp, ns, X, D, H, bad, alpha, positive, tol, max_iter, n_jobs, cert):
    """Finish the rows ``bad`` on the host with feature-sign search; move back."""
    obj, gap, rel, n_iter = cert
    rows = xp.nonzero(bad)[0]
    Xh = np.asarray(to_host(xp.take(X, rows, axis=0), ns=ns), dtype=np.float64)
    Hh = np.asarray(to_host(xp.take(H, rows, axis=0), ns=ns), dtype=np.float64)
    Dh = np.asarray(to_host(D, ns=ns), dtype=np.float64)
    res = encode(
        Xh, Dh, alpha, solver=FALLBACK_SOLVER, positive=positive, tol=tol,
        max_iter=fallback_max_iter(max_iter), init=Hh, n_jobs=n_jobs,
    )
    Hf = from_host(ns, res.codes)
    Xf = xp.take(X, rows, axis=0)
    of, gf = _certificate(xp, Xf, D, Hf, alpha, positive)  # in the device dtype
    itf = xp.take(n_iter, rows) + from_host(ns, res.n_iter, dtype=xp.int64)
    return (
        _replace_rows(xp, H, bad, rows, Hf),
        _replace_rows(xp, obj, bad, rows, of),
        _replace_rows(xp, gap, bad, rows, gf),
        _replace_rows(xp, rel, bad, rows, _relative(xp, gf, of)),
        _replace_rows(xp, n_iter, bad, rows, itf),
    )


def _encode_on_host(X, D, alpha, *, ns, solver, init, init_objective, **options):
    """A CPU solver of the table on the host, results moved back to ``ns``."""
    Xh, Dh = (np.asarray(a, dtype=np.float64) for a in to_host(X, D, ns=ns))
    if init is not None:
        init = np.asarray(to_host(init, ns=ns), dtype=np.float64)
    res = encode(
        Xh, Dh, float(alpha), solver=solver, init=init,
        init_objective=init_objective, **options,
    )
    fields = ("codes", "objective", "gap", "relative_gap", "init_objective")
    for name in fields:
        setattr(res, name, from_host(ns, getattr(res, name)))
    res.n_iter = from_host(ns, res.n_iter, dtype=ns.xp.int64)
    res.converged = from_host(ns, res.converged, dtype=ns.xp.bool)
    return res


def sparse_encode_device(
    X, dictionary, alpha, *, solver, positive, tol, max_iter, init, n_jobs
):
    """:func:`~latentmodels.sparse.sparse_encode` for array-API ``X`` (dispatch on).

    Returns the codes in ``X``'s namespace, device and floating dtype; warns
    (``ConvergenceWarning``) if some rows were left uncertified.
    """
    from sklearn.exceptions import ConvergenceWarning

    ns = namespace_of(X)
    X = check_device_array(X, ns, "X")
    D = check_device_array(dictionary, ns, "dictionary")
    if D.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but dictionary has {D.shape[1]} columns; "
            "the dictionary must have shape (n_components, n_features) with atoms "
            "as rows (transpose it if it holds atoms as columns)."
        )
    if init is not None:
        init = check_device_array(init, ns, "init")
        expected = (X.shape[0], D.shape[0])
        if tuple(init.shape) != expected:
            raise ValueError(
                f"init has shape {tuple(init.shape)} but the codes have shape "
                f"{expected} (n_samples, n_components)."
            )
    result = encode_device(
        X, D, float(alpha), ns=ns, solver=solver, positive=bool(positive),
        tol=float(tol), max_iter=int(max_iter), init=init, n_jobs=n_jobs,
    )
    if not bool(ns.xp.all(result.converged)):
        warn(
            f"sparse_encode (solver={result.solver!r}): {result.message}; increase "
            "max_iter, loosen tol, or try solver='feature_sign' or 'cd'.",
            ConvergenceWarning,
        )
    return result.codes
