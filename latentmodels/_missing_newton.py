r"""Newton's method on the observed-data log-likelihood, EM as its safeguard.

Each iteration costs one E-step of :mod:`latentmodels._missing` at the
current point ``θ = (W, φ = log ψ, μ)``, which gives the observed-data
log-likelihood ``ℓ(θ)``, its gradient (Fisher's identity,
:func:`latentmodels._missing_hessian.gradient_from_moments`) and the EM point
``M(θ)``; the exact Hessian comes from the same posteriors
(:func:`latentmodels._missing_hessian.observed_hessian`). The step is

.. math::

    p = −\tilde H^{+} g,

on a unit scale (``W`` and ``μ`` divided by each feature's observed standard
deviation). The ``k(k−1)/2`` directions that only rotate the factors
(``W ↦ W A``, ``A`` antisymmetric), along which the likelihood is constant,
are left out: they are made stiff for a Cholesky factorisation of ``−H`` and
projected off the step. Where ``−H`` is not positive definite its eigenvalues
are taken by absolute value, held at or above ``1e-10`` of the largest (a
direction of zero curvature, e.g. the noise variance of a constant feature,
gets a long step that the bounds then cut). Noise variances at their floor
whose gradient points below it are held there, and a step that would take
one below its floor lands on it (projected Newton, Bertsekas 1982); a step
moves no ``log ψ_j`` by more than ``_MAX_LOG_STEP`` and no scaled loading or
mean by more than ``_MAX_STEP``.

The Newton point is kept only if its log-likelihood is at least the current
one (to rounding); otherwise the EM point ``M(θ)``, which cannot lower the
likelihood, is taken instead, and the next steps are damped (Levenberg:
``−H + λ μ I``, ``μ`` the mean curvature, ``λ`` from ``1e-3`` up fourfold
per refusal and down fourfold per kept point, dropped below ``1e-7``), which
shortens them towards the gradient where the Hessian is indefinite, far from
the maximum. Released step by step, the damping lets the steps grow only
as far as the quadratic model holds: along a curved ridge (standardised
wine, 10% missing, k = 5) dropping it at once after a kept point made Newton
alternate refused full steps and tiny damped ones for 500 E-steps. The
recorded log-likelihood therefore never decreases. After ``MAX_REFUSED``
refusals in a row the run ends as ``"stalled"`` and the caller goes on by
EM. The run stops, converged, when the step predicts a gain
``½ gᵀ \tilde H^{+} g`` of at most ``tol`` and changes the packed parameters
by at most ``param_tol`` relative (the engine's rule, :mod:`latentmodels._em`,
with the gain predicted instead of measured: the stopping test costs no extra
E-step). Near the maximum the Hessian changes little: it is recomputed only
while steps are larger than ``_REUSE_HESSIAN`` relative, and reused after.
Where the gain is within tolerance but the steps stop shrinking (``_STALLS``
steps in a row that do not halve the smallest one), they are the rounding
noise of the gradient, not progress: the run ends as ``"no_progress"``, which
counts as converged (:mod:`latentmodels._em`). Seen at Heywood boundaries,
where the gradient of a feature with ``ψ_j`` at ``1e-6`` of its variance is
computed to ~1e-7 (its terms are divided by ``ψ_j``) and the steps stay near
1e-6 relative while the log-likelihood is flat to 1e-12.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ._em import PARAM_TOL, ROUNDING, EMResult
from ._missing_hessian import gradient_from_moments, observed_hessian, single_precision

_MAX_LOG_STEP = 2.0
_MAX_STEP = 1.0
_EIG_RTOL = 1e-10
_REUSE_HESSIAN = 1e-4
MAX_REFUSED = 5
# steps in a row, each within tolerance in predicted gain, that do not halve
# the smallest parameter change seen: the end ("no_progress", converged)
_STALLS = 2
# Levenberg damping (times the mean curvature) after a refused Newton point;
# it shrinks fourfold per kept point and is dropped below _DAMPING_OFF
_DAMPING_MIN = 1e-3
_DAMPING_OFF = 1e-7


class _Evaluation:
    """One E-step: ``ℓ``, the gradient and (when asked) the EM point at ``θ``."""

    __slots__ = ("theta", "ll", "grad", "_moments", "_m_step")

    def __init__(self, theta, ll, grad, moments, m_step):
        self.theta, self.ll, self.grad = theta, ll, grad
        self._moments, self._m_step = moments, m_step

    @property
    def em_point(self):
        """``M(θ)``, from the E-step's moments (no further pass)."""
        return self._m_step(*self._moments)


def fit_newton(
    data,
    theta0,
    *,
    e_step,
    m_step,
    isotropic: bool,
    floor: np.ndarray,
    tol: float,
    max_iter: int,
    param_tol=None,
    pack,
    em_first: int = 0,
    joined=None,
) -> EMResult:
    """Maximise the observed-data log-likelihood by safeguarded Newton steps.

    Parameters
    ----------
    data : latentmodels._missing._ObservedData
    theta0 : tuple ``(W, ψ, μ)``
        Start (μ in the data's centred coordinates).
    e_step : callable
        ``e_step(data, W, ψ, μ) -> (A, b, ℓ, H)``
        (:func:`latentmodels._missing._e_step`).
    m_step : callable
        ``m_step(A, b, H) -> θ``: the EM update from those moments.
    isotropic : bool
        PPCA (one noise variance) or factor analysis.
    floor : ndarray of shape (d,)
        Lower bounds of the noise variances.
    tol, param_tol, max_iter
        Stopping rule and budget of E-steps (module docstring).
    pack : callable
        ``θ`` to the unit-scale vector in which the parameter change is
        measured (the EM map's ``pack``).
    em_first : int, default=0
        EM steps to take before the first Newton step (each costs an E-step
        and no Hessian): worth one from a start far from the maximum.
    joined : callable, optional
        ``joined(θ, ℓ) -> bool`` after each accepted point: True ends the run
        as ``"joined"`` (:func:`latentmodels._em.run_em`).

    Returns
    -------
    latentmodels._em.EMResult
        ``n_iter`` counts E-steps; ``loglike_change`` is the last accepted
        step's increase of ``ℓ`` and ``param_change`` the relative size of
        the last step computed; ``stop_reason`` is ``"converged"``, ``"max_iter"`` or
        ``"no_progress"`` (neither the Newton nor the EM point reached the
        current log-likelihood to rounding, or the steps stalled at rounding
        noise with the gain within tolerance).

    References
    ----------
    Bertsekas, D. P. (1982). Projected Newton methods for optimization
    problems with simple constraints. SIAM J. Control Optim. 20(2):221–246.
    """
    if param_tol is None:
        param_tol = max(tol, PARAM_TOL)
    d, k = theta0[0].shape
    n_eval = 0
    log_floor = np.log(floor)
    sd = np.sqrt(np.where(data.var > 0, data.var, 1.0))
    m_phi = 1 if isotropic else d
    scale = np.concatenate([np.repeat(sd, k), np.ones(m_phi), sd])

    def evaluate(theta):
        nonlocal n_eval
        n_eval += 1
        W, psi, mu = theta
        with np.errstate(all="ignore"):
            try:
                A, b, ll, H = e_step(data, W, psi, mu)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                return None
            if not (np.isfinite(ll) and np.all(np.isfinite(A))):
                return None
            grad = gradient_from_moments(data, A, b, W, psi, mu, isotropic)
            return _Evaluation(theta, float(ll), grad, (A, b, H), m_step)

    def to_vector(theta):
        W, psi, mu = theta
        phi = np.log(psi[:1]) if isotropic else np.log(psi)
        return np.concatenate([W.ravel(), phi, mu])

    def from_vector(t):
        W = t[: d * k].reshape(d, k)
        phi = t[d * k : d * k + m_phi]
        phi = np.minimum(np.maximum(np.broadcast_to(phi, (d,)), log_floor), 700.0)
        return W, np.exp(phi), t[d * k + m_phi :]

    def rounding(ll):
        return ROUNDING * (1.0 + abs(ll))

    cur = evaluate(theta0)
    if cur is None:
        raise ValueError(
            "The starting point of EM is not a valid model (its log-likelihood "
            "is not finite); check the data for constant or duplicated features."
        )
    loglike = [cur.ll]
    hess, reuse, refused, damping = None, False, 0, 0.0
    gain = dp = np.nan
    flat_dp, stalls = np.inf, 0
    reason = "max_iter"
    for _ in range(em_first):  # EM steps first: no Hessian far from the top
        if n_eval >= max_iter:
            break
        new = evaluate(cur.em_point)
        if new is None or new.ll < cur.ll - rounding(cur.ll):
            break
        dp = float(np.linalg.norm(pack(new.theta) - pack(cur.theta))
                   / (1.0 + np.linalg.norm(pack(cur.theta))))
        cur = new
        loglike.append(cur.ll)
        if joined is not None and joined(cur.theta, cur.ll):
            return EMResult(cur.theta, loglike, n_eval, "joined", np.nan, dp)
    # a float32 Hessian (many rows) is checked in float64 before the run
    # ends, and replaced by float64 for good once one of its steps is
    # refused: on raw scales its errors can fake a converged step (breast
    # cancer with its target, rows tiled to n = 2845, PPCA k = 15: "converged"
    # 0.29 nats per row below the maximum) or mislead step after step
    precise = not single_precision(data, theta0[0])
    while True:
        if hess is None or not reuse:
            hess = observed_hessian(data, *cur.theta, isotropic, precise=precise)
            hess *= scale[:, None]
            hess *= scale[None, :]
        t = to_vector(cur.theta)
        g = cur.grad * scale
        free = np.ones(t.size, dtype=bool)
        if not isotropic:  # projected Newton: held at the floor
            phi = t[d * k : d * k + d]
            held = (phi <= log_floor + 1e-12) & (g[d * k : d * k + d] < 0)
            free[d * k : d * k + d] = ~held
        p = np.zeros_like(t)
        H_free = hess if free.all() else hess[np.ix_(free, free)]
        p[free], gain = _newton_step(
            H_free, g[free], _rotations(cur.theta[0] / sd[:, None], free), damping
        )
        # a noise variance stepping below its floor lands on it (projection)
        ph = slice(d * k, d * k + m_phi)
        p[ph] = np.maximum(t[ph] + p[ph], log_floor[:m_phi]) - t[ph]
        longest = max(
            np.max(np.abs(p[ph])) / _MAX_LOG_STEP,
            np.max(np.abs(np.delete(p, np.s_[ph]))) / _MAX_STEP,
        )
        if longest > 1.0:
            p /= longest
        step = p * scale  # back to the data's scale
        cand = from_vector(t + step)
        t0, t1 = pack(cur.theta), pack(cand)
        dp = float(np.linalg.norm(t1 - t0) / (1.0 + np.linalg.norm(t0)))
        if gain <= max(tol, rounding(cur.ll)):
            if not precise:  # check in float64 before ending (see above)
                precise, reuse = True, False
                continue
            if dp <= param_tol:
                reason = "converged"
                break
            # flat to tolerance: the steps shrink (quadratically) until they
            # are the rounding noise of the gradient; steps that do not halve
            # the smallest one seen say the arithmetic cannot go further
            stalls = stalls + 1 if dp > 0.5 * flat_dp else 0
            flat_dp = min(flat_dp, dp)
            if stalls >= _STALLS:
                reason = "no_progress"
                break
        if n_eval >= max_iter:
            break
        new = evaluate(cand)
        if new is None or new.ll < cur.ll - rounding(cur.ll):
            refused += 1
            precise = True  # a float32 Hessian that misleads is not used again
            if n_eval >= max_iter:
                break
            new = evaluate(cur.em_point)  # EM cannot lower ℓ
            if new is None or new.ll < cur.ll - rounding(cur.ll):
                reason = "no_progress"
                break
            reuse = False
            damping = max(4.0 * damping, _DAMPING_MIN)
            if refused >= MAX_REFUSED:  # far from Newton's region: EM's turn
                cur = new
                loglike.append(cur.ll)
                reason = "stalled"
                break
        else:
            refused = 0
            damping = damping / 4.0 if damping > 4.0 * _DAMPING_OFF else 0.0
            reuse = dp <= _REUSE_HESSIAN
        cur = new
        loglike.append(cur.ll)
        if joined is not None and joined(cur.theta, cur.ll):
            reason = "joined"
            break
    change = loglike[-1] - loglike[-2] if len(loglike) > 1 else np.nan
    return EMResult(cur.theta, loglike, n_eval, reason, change, dp)


def _rotations(Ws: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the rotations of ``W`` among the free coordinates.

    ``W ↦ W exp(tA)`` (``A`` antisymmetric) leaves the likelihood unchanged;
    its tangents ``W A`` span ``k(k−1)/2`` directions of the ``W`` block (in
    the scaled coordinates ``Ws``), which the Newton step leaves out.
    """
    d, k = Ws.shape
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    G = np.zeros((free.size, len(pairs)))
    for c, (a, b) in enumerate(pairs):
        T = np.zeros((d, k))
        T[:, b], T[:, a] = Ws[:, a], -Ws[:, b]
        G[: d * k, c] = T.ravel()
    if not pairs:
        return G[free]
    return np.linalg.qr(G[free])[0]


def _newton_step(H: np.ndarray, g: np.ndarray, G: np.ndarray, damping=0.0):
    """``p = (−H)⁻¹ g`` off the rotations ``G``, and its predicted gain ``½ gᵀp``.

    The rotations are made stiff (``−H + λ G Gᵀ``, ``λ`` the mean curvature)
    and projected out of the step, so that a Cholesky factorisation serves
    near a maximum; elsewhere (``−H`` not positive definite off the
    rotations) the eigenvalues are taken by absolute value, held at or above
    ``_EIG_RTOL`` of the largest.
    """
    lam = max(float(np.mean(np.abs(np.diag(H)))), np.finfo(float).tiny)
    A = lam * (G @ G.T)
    A -= H
    if damping:  # Levenberg: shorter steps, towards the gradient
        A[np.diag_indices_from(A)] += damping * lam
    try:
        c = linalg.cho_factor(A, check_finite=False)
        p = linalg.cho_solve(c, g, check_finite=False)
    except linalg.LinAlgError:
        e, V = np.linalg.eigh(A)
        e = np.maximum(np.abs(e), _EIG_RTOL * np.max(np.abs(e)))
        p = V @ ((V.T @ g) / e)
    p -= G @ (G.T @ p)
    return p, 0.5 * float(g @ p)
