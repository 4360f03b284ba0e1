r"""One optimisation engine for the Gaussian models: EM, accelerated by SQUAREM.

Every maximum likelihood fit of a linear-Gaussian model by EM (probabilistic
PCA and factor analysis, on a covariance matrix or on data with missing
entries) is an *EM map* ``θ ↦ (ℓ(θ), M(θ))``: the mean log-likelihood per
sample of the parameters ``θ`` and the parameters after one EM step. The E-step
that gives ``M(θ)`` gives ``ℓ(θ)`` at almost no extra cost, so the engine never
asks for a log-likelihood on its own. :func:`run_em` iterates such a map.

Parameters ``θ`` are a tuple of arrays (``(W, ψ)``, ``(W, σ²)``,
``(W, ψ, μ)``); the caller (or the map object, as its methods) supplies
``pack`` (``θ`` to a flat vector on which SQUAREM extrapolates, e.g.
``(W, log ψ)`` so that extrapolated variances stay positive) and ``unpack``
(the flat vector back to ``θ``, with any projection the model needs: noise
floors, for instance).

Acceleration (Varadhan & Roland 2008, scheme SqS3). From ``θ₀`` with
``θ₁ = M(θ₀)`` and ``θ₂ = M(θ₁)``, in packed coordinates

.. math::

    r = θ₁ − θ₀, \quad v = θ₂ − 2θ₁ + θ₀, \quad
    s = \lVert r \rVert / \lVert v \rVert, \quad
    θ' = θ₀ + 2 s\, r + s^2 v,

(``s = 1`` gives back ``θ₂``). The step length is bounded, ``1 ≤ s ≤ s_max``;
``s_max`` starts at 1 … 4 and grows fourfold each time the bound is reached
(Varadhan & Roland's ``mstep = 4``) and shrinks fourfold after a rejected
step. The extrapolated point is kept only when ``ℓ(θ') ≥ ℓ(θ₁)``; otherwise the
cycle falls back to the plain EM point ``θ₂``. The log-likelihood recorded
after each accepted update therefore never decreases (up to rounding, see
below), and the fixed points
are those of EM. A cycle costs two evaluations of the map when the
extrapolation is kept (the stabilising EM step ``M(θ')`` of SqS3 is the next
cycle's ``θ₁``), three when it is not.

Stopping rule. Each cycle begins with a plain EM step ``θ₀ → θ₁``; the run
stops with ``θ₁`` when **both**

.. math::

    ℓ(θ₁) − ℓ(θ₀) ≤ \mathrm{tol}
    \quad\text{and}\quad
    \lVert θ₁ − θ₀ \rVert_2 ≤ \mathrm{param\_tol} \cdot (1 + \lVert θ₀ \rVert_2)

hold, the norms taken on the packed vectors (``param_tol`` defaults to
``max(tol, PARAM_TOL)``, ``PARAM_TOL = 1e-10``). ``tol`` is absolute, in nats per
sample: the change of a mean log-likelihood does not depend on the units of
the data (its value does, by ``−Σ log c_j`` when feature ``j`` is scaled by
``c_j``), so an absolute tolerance on the change is the scale-free one. The
likelihood alone near a maximum is flat to second order, so stopping on it
leaves the parameters accurate only to about ``√tol``; the parameter test
pins them down as well (callers pack them on a unit scale). Other ends:
``"max_iter"`` (the budget of map evaluations is spent) and ``"no_progress"``
(a plain EM step lowered the log-likelihood by more than rounding,
``ROUNDING · (1 + |ℓ|)``, which exact EM cannot do: the arithmetic can no
longer resolve the maximum, and the run counts as converged). A drop within
rounding is recorded as it is computed, so the trace never decreases by more
than ``ROUNDING · (1 + |ℓ|)``; near the maximum the likelihood is flat to
rounding while the parameters still move, and it is the parameter test that
ends the run there.

References
----------
Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods for
accelerating the convergence of any EM algorithm. Scand. J. Statist.
35(2):335–353.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._warnings import warn

#: Smallest default relative parameter tolerance: ``param_tol=None`` means
#: ``max(tol, PARAM_TOL)`` (see the module docstring).
PARAM_TOL = 1e-10

#: Relative size of the rounding noise in a computed log-likelihood: an EM step
#: that lowers ℓ by less than ``ROUNDING · (1 + |ℓ|)`` is rounding, not a
#: failure, and the run goes on until the parameters have settled too.
ROUNDING = 1e-12

STOP_REASONS = ("converged", "no_progress", "max_iter", "joined")


@dataclass
class EMResult:
    """What an EM run did.

    Attributes
    ----------
    params : tuple of ndarray
        The parameters reached; ``loglike[-1]`` is their log-likelihood.
    loglike : list of float
        Mean log-likelihood per sample after each accepted update (the start
        first); never decreases by more than rounding (``ROUNDING``).
    n_iter : int
        Evaluations of the EM map (extrapolated points count as one each).
    converged : bool
        True when ``stop_reason`` is ``"converged"`` or ``"no_progress"``.
    stop_reason : {"converged", "no_progress", "max_iter", "joined"}
        ``"joined"``: the caller's ``joined`` test held (a later start of a
        multi-start fit reached a maximum already found); not converged.
    loglike_change : float
        ``ℓ(θ₁) − ℓ(θ₀)`` of the last plain EM step (nan if none was taken).
    param_change : float
        Its relative parameter change ``‖θ₁ − θ₀‖ / (1 + ‖θ₀‖)``.
    """

    params: tuple
    loglike: list
    n_iter: int
    stop_reason: str
    loglike_change: float = np.nan
    param_change: float = np.nan

    @property
    def converged(self) -> bool:
        return self.stop_reason in ("converged", "no_progress")


def param_property(index: int, doc: str, convert=None) -> property:
    """A read-only property that names ``params[index]`` of an :class:`EMResult`.

    A model's result class names its parameters with it (``convert``, when
    given, maps the stored value to the form the estimators keep).
    """

    def get(result):
        value = result.params[index]
        return value if convert is None else convert(value)

    return property(get, doc=doc)


EMMap = Callable[[Any], "tuple[float, Optional[Any]]"]


class _Counted:
    """The EM map with a budget: counts evaluations, maps failures to −inf."""

    def __init__(self, em_map: EMMap, max_iter: int):
        self.em_map, self.max_iter, self.n_eval = em_map, max_iter, 0

    def __call__(self, theta):
        self.n_eval += 1
        with np.errstate(all="ignore"):
            try:
                ll, nxt = self.em_map(theta)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                return -np.inf, None
        if nxt is None or not np.isfinite(ll):
            return -np.inf, None
        return float(ll), nxt

    @property
    def exhausted(self) -> bool:
        return self.n_eval >= self.max_iter


def _rounding(loglike: float) -> float:
    """What rounding may take off a computed log-likelihood (see ROUNDING)."""
    return ROUNDING * (1.0 + abs(loglike))


def _relative_change(t1: np.ndarray, t0: np.ndarray) -> float:
    return float(np.linalg.norm(t1 - t0) / (1.0 + np.linalg.norm(t0)))


def run_em(
    em_map: EMMap,
    theta0,
    *,
    pack: Optional[Callable[[Any], np.ndarray]] = None,
    unpack: Optional[Callable[[np.ndarray], Any]] = None,
    tol: float,
    max_iter: int,
    param_tol: Optional[float] = None,
    accelerate: bool = True,
    jump: Optional[Callable] = None,
    joined: Optional[Callable] = None,
) -> EMResult:
    """Maximise a log-likelihood by EM, accelerated by SQUAREM (SqS3).

    Parameters
    ----------
    em_map : callable
        ``em_map(θ) -> (ℓ(θ), M(θ))``: the mean log-likelihood per sample of
        ``θ`` and the EM update. It may return ``(-inf, None)`` or raise
        ``LinAlgError``/``ValueError`` at a point that is not a valid model (an
        extrapolation gone too far): the engine then falls back.
    theta0 : tuple of ndarray
        Starting parameters (valid).
    pack, unpack : callable, optional
        ``θ`` to a flat vector and back; ``unpack`` applies the model's
        projection (floors) to an extrapolated vector. None: the map's own
        ``em_map.pack`` and ``em_map.unpack`` (an EM map object that knows
        its parameterisation).
    tol : float
        Log-likelihood tolerance (absolute, nats per sample); see the module
        docstring for the stopping rule.
    max_iter : int
        Budget of evaluations of ``em_map``.
    param_tol : float or None, default=None
        Relative parameter tolerance; None means ``max(tol, PARAM_TOL)``, so
        that a loose ``tol`` loosens both tests and the default stops with
        parameters settled to ``1e-10`` relative.
    accelerate : bool, default=True
        SQUAREM; False runs plain EM (with the same stopping rule).
    jump : callable, optional
        ``jump(θ, ℓ, evaluate) -> None or (θ', ℓ', M(θ'))``: a move the model
        proposes before a cycle (factor analysis tries falling noise variances
        at the floor); ``evaluate`` is the counted map. A move is taken only
        when ``ℓ' ≥ ℓ``.
    joined : callable, optional
        ``joined(θ, ℓ) -> bool``, asked after each accepted update: True ends
        the run as ``"joined"`` (a later start screened against the maxima
        already found).

    Returns
    -------
    EMResult
    """
    if param_tol is None:
        param_tol = max(tol, PARAM_TOL)
    pack = em_map.pack if pack is None else pack
    unpack = em_map.unpack if unpack is None else unpack
    F = _Counted(em_map, max_iter)
    theta, (ll0, nxt0) = theta0, F(theta0)
    if nxt0 is None:
        raise ValueError(
            "The starting point of EM is not a valid model (its log-likelihood "
            "is not finite); check the data for constant or duplicated features."
        )
    loglike = [ll0]
    step_max = 1.0
    dl = dp = np.nan

    def result(params, reason):
        return EMResult(params, loglike, F.n_eval, reason, dl, dp)

    while not F.exhausted:
        if jump is not None:
            moved = jump(theta, ll0, F)
            if moved is not None and moved[1] >= ll0:
                theta, ll0, nxt0 = moved
                loglike.append(ll0)
                if F.exhausted:
                    break
        theta1 = nxt0
        ll1, nxt1 = F(theta1)
        if nxt1 is None:  # EM produced an invalid model: stop where we were
            return result(theta, "no_progress")
        t0, t1 = pack(theta), pack(theta1)
        dl, dp = ll1 - ll0, _relative_change(t1, t0)
        if dl < -_rounding(ll0):  # EM cannot lower ℓ: the arithmetic broke down
            return result(theta, "no_progress")
        loglike.append(ll1)
        if dl <= tol and dp <= param_tol:
            return result(theta1, "converged")
        if joined is not None and joined(theta1, ll1):
            return result(theta1, "joined")
        if F.exhausted:
            return result(theta1, "max_iter")
        theta2 = nxt1
        if not accelerate:
            theta, ll0, nxt0 = theta1, ll1, nxt1
            continue
        t2 = pack(theta2)
        r, v = t1 - t0, t2 - 2.0 * t1 + t0
        v_norm = np.linalg.norm(v)
        s = np.linalg.norm(r) / v_norm if v_norm > 0 else 1.0
        s = float(min(max(s, 1.0), step_max))
        if s == step_max:
            step_max *= 4.0
        accepted = False
        if s > 1.0:
            t = t0 + 2.0 * s * r + s * s * v
            if np.all(np.isfinite(t)):
                theta_x = unpack(t)
                ll_x, nxt_x = F(theta_x)
                if nxt_x is not None and ll_x >= ll1:
                    accepted = True
                    theta, ll0, nxt0 = theta_x, ll_x, nxt_x
            if not accepted:
                step_max = max(1.0, step_max / 4.0)
        if not accepted:  # the plain EM point θ₂, whose EM step comes next
            if F.exhausted:
                return result(theta1, "max_iter")
            ll2, nxt2 = F(theta2)
            if nxt2 is None or ll2 < ll1 - _rounding(ll1):
                return result(theta1, "no_progress")
            theta, ll0, nxt0 = theta2, ll2, nxt2
        loglike.append(ll0)
        if joined is not None and joined(theta, ll0):
            return result(theta, "joined")
    return result(theta, "max_iter")


class HeywoodJump:
    """A move for factor analysis: falling noise variances tried at the floor.

    EM approaches a maximum on the boundary ``ψ_j = 0`` (a Heywood case) only
    sublinearly, ``ψ_j`` falling like ``1/t``. Every ``window`` calls, the
    features whose ``ψ_j`` is below ``RTOL`` times their variance and fell
    since the last window are set to the floor, each loading row rescaled so
    that ``‖w_j‖² + ψ_j`` is the feature's variance (as at the maximum: there
    ``w_j`` alone explains feature ``j``, and EM would take very many steps to
    adjust it). The trial costs one evaluation of the map and is kept only if
    its log-likelihood is at least the current one (the engine's ``jump``
    argument: ``θ = (W, ψ, …)``, further parameters passed through); the
    window doubles after each failed trial, up to 16 times.
    """

    # A feature is a Heywood candidate when its noise variance is below this
    # fraction of its variance and still falling; candidates are tried every
    # ``WINDOW`` calls.
    RTOL, WINDOW = 0.25, 10

    def __init__(self, variance: np.ndarray, floor: np.ndarray):
        self.variance, self.floor = variance, floor
        self._psi_ref, self._n_calls, self._window = None, 0, self.WINDOW

    def __call__(self, theta, ll, evaluate):
        W, psi = theta[0], theta[1]
        self._n_calls += 1
        if self._n_calls < self._window:
            return None
        self._n_calls = 0
        ref, self._psi_ref = self._psi_ref, psi
        if ref is None or evaluate.exhausted:
            return None
        cand = (
            (psi < self.RTOL * self.variance)
            & (psi < (1.0 - 1e-3) * ref)
            & (psi > self.floor * (1.0 + 1e-9))
        )
        if not cand.any():
            return None
        W_t, psi_t = W.copy(), psi.copy()
        norm2 = np.sum(W_t[cand] ** 2, axis=1)
        target = self.variance[cand] - self.floor[cand]
        gain = np.where(norm2 > 0, target / np.where(norm2 > 0, norm2, 1.0), 1.0)
        W_t[cand] *= np.sqrt(np.maximum(gain, 0.0))[:, None]
        psi_t[cand] = self.floor[cand]
        theta_t = (W_t, psi_t, *theta[2:])
        ll_t, nxt_t = evaluate(theta_t)
        if nxt_t is not None and ll_t >= ll:
            self._window = self.WINDOW
            return theta_t, ll_t, nxt_t
        self._window = min(2 * self._window, 16 * self.WINDOW)
        return None


def warn_not_converged(
    estimator: str, result: EMResult, *, tol: float, max_iter: int, hint: str
) -> None:
    """One ConvergenceWarning for an EM run that ran out of iterations.

    Names the estimator, the budget, the last plain EM step's log-likelihood
    and parameter changes against their tolerances, and the caller's ``hint``;
    attributed to the user's line (:func:`latentmodels._warnings.warn`).
    """
    if result.converged:
        return
    dl, dp = result.loglike_change, result.param_change
    detail = (
        f"the last EM step raised the mean log-likelihood by {dl:.3g} "
        f"(tol={tol:g}) and changed the parameters by {dp:.3g} relative"
        if np.isfinite(dl)
        else "no EM step was completed"
    )
    warn(
        f"{estimator} did not converge in max_iter={max_iter} iterations: "
        f"{detail}. {hint}",
        ConvergenceWarning,
    )
