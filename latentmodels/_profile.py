r"""Maximum likelihood factor analysis through the profile likelihood of ψ.

For fixed uniquenesses ``Ψ = diag(ψ)`` the loadings that maximise the
likelihood of a correlation (or covariance) matrix ``R`` are known in closed
form (Lawley & Maxwell 1971, Jöreskog 1967): with the eigendecomposition
``Ψ^{-1/2} R Ψ^{-1/2} = U Λ Uᵀ`` (``λ₁ ≥ … ≥ λ_d``),

.. math::

    W(ψ) = Ψ^{1/2} U_k (Λ_k − I)_+^{1/2}.

What is left is a function of the ``d`` uniquenesses only, the *profile*
mean log-likelihood per sample

.. math::

    ℓ(ψ) = −\tfrac12\Bigl[d \log 2π + \sum_j \log ψ_j
        + \sum_{i ≤ k} \bigl(\log \max(λ_i, 1) + \min(λ_i, 1) − λ_i\bigr)
        + \sum_j R_{jj} / ψ_j\Bigr],

which needs only the ``k`` leading eigenpairs. Its gradient in
``x = log ψ`` follows from the envelope theorem (``W`` is optimal, so only
the explicit dependence on ψ counts):

.. math::

    \frac{∂(−ℓ)}{∂x_j} = \tfrac12\Bigl(1 − \frac{R_{jj}}{ψ_j}
        + \sum_{i ≤ k} u_{ji}^2 (λ_i − 1)_+\Bigr)
        = \frac{(C − R)_{jj}}{2 ψ_j},

the form R's ``factanal`` uses. Its Fisher information in ``x`` (the
expected Hessian, Jöreskog 1967) is ``½ (P ∘ P)`` with
``P = I − U_k U_kᵀ`` the projection off the fitted factor space (``∘`` the
entrywise product); it costs ``O(d² k)``.

:func:`fit_profile` maximises ``ℓ`` by projected Fisher scoring
(Bertsekas 1982): the uniquenesses at the floor whose gradient points below
it are held there (Heywood cases), the others take the scoring step
``−H_FF⁻¹ g_F``, and a backtracking line search on the projected path keeps
every accepted step an increase of ``ℓ``. The predicted gain of a step,
``½ g_Fᵀ H_FF⁻¹ g_F``, estimates how far the current point is from the
maximum; the fit stops once it is below ``tol`` (nats per sample) and the
step moved no ``log ψ_j`` by more than ``xtol``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from ._gaussian import _LOG_2PI

_MAX_STEP = 6.0
# Screening of later starts against the maxima already found (fit_profile).
# 'joined' (the Newton point within _SAME_X of a known maximum) is trusted
# from a predicted gain of _LOCAL_GAIN; 'below' (the quadratic model's maximum
# under the best known one) only from _BELOW_GAIN: with 5e-2 it cut off a run
# on digits (k = 8) that went on to the best maximum, 0.04 nats higher.
_LOCAL_GAIN, _BELOW_GAIN, _SAME_X, _BELOW_MARGIN = 5e-2, 1e-2, 1e-2, 1e-6
# Basin test against a known maximum x* with information H*: within
# _BASIN_X of it (in every log ψ_j), the gradient and the drop of ℓ agree with
# the quadratic model ½ (x − x*)ᵀ H* (x − x*) to these relative errors.
_BASIN_X, _BASIN_GRAD, _BASIN_DROP = 1.0, 0.2, 0.1
# Fisher scoring (O(d² k) per step, k leading eigenpairs) is kept while each
# full step shrinks the predicted gain by at least this factor; after a
# backtrack, slower progress, or once the gain is below tol, exact Newton
# (O(d³ k), all eigenpairs) takes over. Measured on the real-data panel: 1.0
# (scoring as long as the gain falls) reached a maximum 0.25 nats per sample
# below scikit-learn's on breast cancer k = 6; 0.5, 0.3, 0.05 and 0 none.
_SCORING_RATE = 0.3
# Heywood jumps are tried for uniqueness within e^10 of the floor.
_HEYWOOD_SPAN = 10.0
_ROUNDING = 1e-13
_POLISH_GTOL = 1e-6
_FAIL_TOL = 100.0


@dataclass
class ProfileResult:
    """What a profile fit reached: parameters, trace, iterations and why it stopped.

    ``loglike`` holds the mean log-likelihood per sample at each accepted
    iterate (it never decreases); ``stop_reason`` is ``'converged'``,
    ``'max_iter'``, ``'no_progress'`` (neither Newton nor L-BFGS-B found an
    increase), or, for a screened start (:func:`fit_profile`'s ``known``),
    ``'joined'`` (heading for the known maximum number ``joined``) or
    ``'below'`` (heading for a lower maximum).
    """

    W: np.ndarray
    psi: np.ndarray
    loglike: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    stop_reason: str = "max_iter"
    joined: int | None = None
    # Hessian of −ℓ in log ψ at the maximum reached (``curvature=True``)
    information: np.ndarray | None = None


class ProfileLikelihood:
    """The profile likelihood of ψ for ``k`` factors of the matrix ``R``."""

    def __init__(self, R: np.ndarray, k: int):
        self.R, self.k, self.d = R, k, R.shape[0]
        self.R_diag = np.diag(R).copy()
        self.n_eval = 0

    def _eig(self, psi, vectors, full):
        s = 1.0 / np.sqrt(psi)
        Rs = self.R * s[:, None] * s[None, :]
        if not full:  # the k leading pairs only (LAPACK syevr)
            d, k = self.d, self.k
            out = linalg.eigh(
                Rs, subset_by_index=[d - k, d - 1], eigvals_only=not vectors,
                driver="evr", overwrite_a=True, check_finite=False,
            )
            if not vectors:
                return out[::-1], None
            return out[0][::-1], out[1][:, ::-1]
        if not vectors:
            return np.linalg.eigvalsh(Rs)[::-1], None
        lam, U = np.linalg.eigh(Rs)
        return lam[::-1], U[:, ::-1]  # all d, decreasing

    def evaluate(self, x, vectors=True, full=True):
        """``(ℓ, λ, U)`` at ``ψ = exp(x)``: the eigenpairs of
        ``Ψ^{-1/2} R Ψ^{-1/2}`` in decreasing order, all ``d`` of them or
        (``full=False``) the ``k`` leading ones; ``U`` is None unless
        ``vectors``; ``ℓ = −inf`` when not finite."""
        self.n_eval += 1
        psi = np.exp(x)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                lam_all, U_all = self._eig(psi, vectors, full)
        except (np.linalg.LinAlgError, ValueError):
            return -np.inf, None, None
        lam = lam_all[: self.k]
        big = np.maximum(lam, 1.0)
        val = (
            np.sum(x)
            + np.sum(np.log(big) + np.minimum(lam, 1.0) - lam)
            + np.sum(self.R_diag / psi)
        )
        ll = -0.5 * (self.d * _LOG_2PI + val)
        return (ll if np.isfinite(ll) else -np.inf), lam_all, U_all

    def gradient(self, x, lam, U):
        """Gradient of ``−ℓ`` in ``x = log ψ``: ``(C − R)_jj / (2 ψ_j)``."""
        k = self.k
        excess = np.maximum(lam[:k] - 1.0, 0.0)
        return 0.5 * (1.0 - self.R_diag * np.exp(-x) + (U[:, :k] ** 2) @ excess)

    def fisher(self, U):
        """Fisher information of ``−ℓ`` in ``x``: ``½ (P ∘ P)``, ``P = I − U Uᵀ``."""
        Uk = U[:, : self.k]
        P = -(Uk @ Uk.T)
        P[np.diag_indices_from(P)] += 1.0
        return 0.5 * P * P

    def hessian(self, x, lam, U, rows=None):
        r"""Hessian of ``−ℓ`` in ``x = log ψ`` (all ``d`` eigenpairs needed).

        With ``∂λ_i/∂x_m = −λ_i u_{mi}²`` and first-order perturbation of the
        eigenvectors,

        .. math::

            2H = \operatorname{diag}(R_{jj}/ψ_j)
              − \sum_{i: λ_i > 1} \bigl[λ_i\, (u_i ∘ u_i)(u_i ∘ u_i)ᵀ
              + (λ_i − 1)\, (u_i u_iᵀ) ∘ (U \operatorname{diag}(c^{(i)}) Uᵀ)\bigr],

        ``c^{(i)}_p = (λ_i + λ_p)/(λ_i − λ_p)`` for ``p ≠ i``. ``O(d³ k)``;
        ``rows`` (a boolean mask) restricts it to those rows and columns.
        """
        if rows is not None:
            x, U_rows = x[rows], U[rows]
        else:
            U_rows = U
        R_diag = self.R_diag if rows is None else self.R_diag[rows]
        H = np.diag(R_diag * np.exp(-x))
        m = int(np.sum(lam[: self.k] > 1.0))
        if m == 0:
            return 0.5 * H
        lm, Um = lam[:m], U_rows[:, :m]
        u2 = Um * Um
        H -= (u2 * lm) @ u2.T
        gap = lm[:, None] - lam[None, :]  # (m, d)
        gap[np.arange(m), np.arange(m)] = 1.0
        gap = np.where(np.abs(gap) < 1e-10, np.copysign(1e-10, gap), gap)
        B = (lm - 1.0)[:, None] * (lm[:, None] + lam[None, :]) / gap
        B[np.arange(m), np.arange(m)] = 0.0
        # Σ_i Σ_p B_ip (u_i ∘ u_p)(u_i ∘ u_p)ᵀ as one product, in row blocks of i
        f, d = U_rows.shape
        step = max(1, 4_000_000 // (f * d))
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            V = (Um[:, lo:hi, None] * U_rows[:, None, :]).reshape(f, -1)
            H -= (V * B[lo:hi].ravel()) @ V.T
        return 0.5 * H

    def loadings(self, x, lam, U):
        """``W(ψ) = Ψ^{1/2} U_k (Λ_k − I)_+^{1/2}``."""
        k = self.k
        root = np.sqrt(np.maximum(lam[:k] - 1.0, 0.0))
        return (U[:, :k] * root) * np.exp(0.5 * x)[:, None]


def _newton_direction(H, g):
    """``−H⁻¹ g``, with ``H``'s eigenvalues made positive when it is not."""
    try:
        c = linalg.cho_factor(H, check_finite=False)
        p = -linalg.cho_solve(c, g, check_finite=False)
        return p, -0.5 * float(g @ p), True
    except linalg.LinAlgError:
        pass
    mu, V = np.linalg.eigh(H)
    top = max(np.max(np.abs(mu)), 1e-300)
    mu = np.maximum(np.abs(mu), 1e-8 * top)
    z = (V.T @ g) / mu
    return -(V @ z), 0.5 * float(np.dot(V.T @ g, z)), False


def fit_profile(
    R, psi0, k, *, floor, tol, max_iter, xtol=1e-8, known=(), curvature=False
) -> ProfileResult:
    """Maximise the profile likelihood of ψ by a projected Newton method.

    Parameters
    ----------
    R : ndarray of shape (d, d)
        Correlation (or covariance) matrix.
    psi0 : ndarray of shape (d,)
        Starting uniquenesses (clipped to ``floor``).
    k : int
        Number of factors.
    floor : ndarray of shape (d,)
        Lower bounds on ψ (Heywood cases sit there).
    tol : float
        Stop when the predicted gain of a Newton step is below ``tol`` (nats
        per sample) and the step moved no ``log ψ_j`` by more than ``xtol``;
        or when the gain is below the rounding error of ``ℓ``; or when the
        line search finds no increase where at most ``100 tol`` is predicted
        (a bound or a kink spoils the last quadratic model).
    max_iter : int
        Maximum number of Newton steps.
    known : sequence of (ndarray, float) or (ndarray, float, ndarray)
        ``(log ψ, ℓ)`` of maxima found from earlier starts, optionally with
        the Hessian ``H*`` of ``−ℓ`` there (``ProfileResult.information``).
        Once the run is in Newton's local regime (positive definite Hessian,
        full steps, predicted gain below ``5e-2``), it stops as ``'joined'``
        when every ``log ψ_j`` of the current point or of its Newton point is
        within ``0.01`` of a known maximum (it would converge there), and
        (with a predicted gain below ``1e-2``) as ``'below'`` when the
        quadratic model's maximum, padded to ``ℓ + 2 × gain``, is below the
        best known one by more than ``1e-6``.
        With ``H*``, it also stops as ``'joined'`` at any point ``x`` within
        1 of ``x*`` (in every ``log ψ_j``) where the quadratic model of that
        maximum explains the gradient (``‖g − H* r‖_∞ ≤ 0.2 ‖H* r‖_∞``,
        ``r = x − x*``) and the drop ``ℓ* − ℓ`` (to 10% of ``½ rᵀ H* r``):
        the point lies in the maximum's quadratic basin.
    curvature : bool, default=False
        Return the Hessian of ``−ℓ`` at a converged point when it is positive
        definite (``ProfileResult.information``), for screening later starts.

    Returns
    -------
    ProfileResult
    """
    prof = ProfileLikelihood(R, k)
    lb = np.log(floor)
    x = np.maximum(np.log(psi0), lb)
    ll, lam, U = prof.evaluate(x)
    if not np.isfinite(ll):
        raise np.linalg.LinAlgError("the profile likelihood is not finite at the start")
    trace, n_iter, reason = [ll], 0, "max_iter"
    full_step, joined = False, None
    scoring, prev_gain = True, np.inf
    subset = 4 * k <= prof.d  # Fisher scoring needs only the k leading pairs
    while n_iter < max_iter:
        n_iter += 1
        g = prof.gradient(x, lam, U)
        basin = _in_basin(x, ll, g, known)
        if basin is not None:
            reason, joined = "joined", basin
            break
        # ε-active set (Bertsekas 1982): near the floor and pushed against it
        eps = min(1e-3, float(np.linalg.norm(x - np.maximum(x - g, lb))))
        active = (x <= lb + eps) & (g > 0)
        free = ~active
        if not free.any():
            reason = "converged"
            break
        if scoring:
            H = prof.fisher(U)[np.ix_(free, free)]
        else:
            H = prof.hessian(x, lam, U, rows=None if free.all() else free)
        p = np.zeros_like(x)
        p[free], gain, convex = _newton_direction(H, g[free])
        if convex and full_step and gain < _LOCAL_GAIN and known:
            # Newton's local regime: the quadratic model predicts the maximum,
            # at the Newton point x + p (where the next iterate would be)
            target = np.maximum(x + p, lb)
            near = [j for j, (xk, *_) in enumerate(known)
                    if min(np.max(np.abs(x - xk)), np.max(np.abs(target - xk)))
                    < _SAME_X]
            if near:
                reason, joined = "joined", near[0]
                break
            if gain < _BELOW_GAIN and (
                ll + 2.0 * gain < max(v for _, v, *_ in known) - _BELOW_MARGIN
            ):
                reason = "below"
                break
        p[active] = -g[active]  # projected gradient step on the held ones
        longest = np.max(np.abs(p))
        if longest > _MAX_STEP:  # ψ moves by at most a factor e^{_MAX_STEP}
            p *= _MAX_STEP / longest
        t, accepted = 1.0, False
        # scoring ends after this step whatever the line search does (slow, or
        # nearly there): the trial points get all eigenpairs for exact Newton
        last_scoring = scoring and (
            gain <= tol or gain > _SCORING_RATE * prev_gain
        )
        partial = scoring and subset and not last_scoring
        # rounding error of ℓ (measured: ~2e-12 at ℓ ≈ −66, d = 61, with six
        # uniquenesses at the floor 1e-6)
        rounding = _ROUNDING * (abs(ll) + prof.d)
        # Heywood jump: a small uniqueness that Newton pushes down (in log ψ
        # the likelihood flattens like ψ_j → 0, so steps shrink to about −1
        # each) is also tried at the floor at once; the better point is kept
        falling = free & (p < -0.5) & (x < lb + _HEYWOOD_SPAN)
        jump = None
        if falling.any():
            x_j = np.maximum(x + p, lb)
            x_j[falling] = lb[falling]
            ll_j, lam_j, U_j = prof.evaluate(x_j, full=not partial)
            dx_j = x_j - x
            pred_j = -float(g[free] @ dx_j[free]) - float(g[active] @ dx_j[active])
            if ll_j - ll >= 1e-4 * pred_j and ll_j >= ll:
                jump = (x_j, ll_j, lam_j, U_j)
        for _ in range(30):
            x_new = np.maximum(x + t * p, lb)
            # the full step is usually taken: its eigenvectors serve next
            ll_new, lam_new, U_new = prof.evaluate(
                x_new, vectors=t == 1.0, full=not partial
            )
            dx = x_new - x
            pred = -float(g[free] @ dx[free]) - float(g[active] @ dx[active])
            if ll_new - ll >= 1e-4 * pred and ll_new >= ll:
                accepted = True
                break
            if gain <= max(tol, rounding) and ll_new >= ll - rounding:
                accepted = True  # at the top: the change is below rounding
                break
            if jump is not None:
                break  # the jump is an increase: no need to backtrack further
            t *= 0.5
        if jump is not None and (not accepted or jump[1] > ll_new):
            x_new, ll_new, lam_new, U_new = jump
            dx, t, accepted = x_new - x, 1.0, True
        if not accepted:
            # no increase along a step predicted to gain this little: the top
            # to rounding (a bound or a kink can spoil the last Newton model)
            if gain <= max(_FAIL_TOL * tol, rounding):
                reason = "converged"
                break
            polished = _lbfgs_polish(
                prof, x, lb, tol=tol, max_iter=max(max_iter - n_iter, 1)
            )
            n_iter += polished[4]
            if polished[1] >= ll:
                x, ll, lam, U = polished[:4]
                trace.append(ll)
            reason = "converged" if polished[5] else "no_progress"
            break
        full_step = t == 1.0
        step = float(np.max(np.abs(dx)))
        if scoring and (
            not full_step or gain <= tol or gain > _SCORING_RATE * prev_gain
        ):
            scoring = False  # slow, or nearly there: exact Newton from now on
            step = np.inf  # (the last step does not count for stopping)
        prev_gain = gain
        x, ll = x_new, ll_new
        trace.append(ll)
        # converged: nothing left to gain to rounding (in a flat direction the
        # parameters are determined no better), or little and a tiny step
        done = gain <= rounding or (gain <= tol and step <= xtol)
        if U_new is None or (
            not done and not scoring and U_new.shape[1] < prof.d
        ):  # (the loadings need only the k leading pairs)
            _, lam, U = prof.evaluate(x, full=not scoring or not subset)
        else:
            lam, U = lam_new, U_new
        if done:
            reason = "converged"
            break
    W = prof.loadings(x, lam, U)
    return ProfileResult(
        W, np.exp(x), trace, n_iter, reason == "converged", reason, joined,
        information=_curvature(prof, x, lam, U) if curvature and reason ==
        "converged" else None,
    )


def _curvature(prof, x, lam, U):
    """The Hessian of ``−ℓ`` at a maximum, or None where it is not positive
    definite (a saddle, or a flat direction: no quadratic basin to test).

    The exact Hessian, not the Fisher information, which is positive definite
    at saddle points as well (statsmodels' one-factor AR(1) case).
    """
    if U.shape[1] < prof.d:
        _, lam, U = prof.evaluate(x)
    H = prof.hessian(x, lam, U)
    try:
        linalg.cho_factor(H, check_finite=False)
    except linalg.LinAlgError:
        return None
    return H


def _in_basin(x, ll, g, known) -> int | None:
    """Index of a known maximum whose quadratic model explains ``(ℓ, g)`` at ``x``.

    ``g`` is the gradient of ``−ℓ``; a maximum ``(x*, ℓ*, H*)`` explains it
    when ``x`` is within ``_BASIN_X`` of ``x*`` and both the gradient
    ``H* r`` and the drop ``½ rᵀ H* r`` (``r = x − x*``) match to the
    relative errors ``_BASIN_GRAD`` and ``_BASIN_DROP``: there Newton's
    method converges to ``x*``. Maxima given without ``H*`` are skipped.
    """
    for j, entry in enumerate(known):
        if len(entry) < 3 or entry[2] is None:
            continue
        xk, llk, H = entry
        r = x - xk
        if np.max(np.abs(r)) >= _BASIN_X:
            continue
        q = H @ r
        scale = np.max(np.abs(q))
        drop = 0.5 * float(r @ q)
        if (
            scale > 0
            and np.max(np.abs(g - q)) <= _BASIN_GRAD * scale
            and abs((llk - ll) - drop) <= _BASIN_DROP * drop
        ):
            return j
    return None


def _lbfgs_polish(prof, x, lb, *, tol, max_iter):
    """L-BFGS-B over ``log ψ ≥ log floor`` (as R's ``factanal``) from ``x``.

    The fall-back when a Newton step finds no increase (a kink where
    ``λ_k = λ_{k+1}``, or rounding); returns ``(x, ll, lam, U, n_iter, ok)``.
    """
    from scipy import optimize

    def f(z):
        ll, lam, U = prof.evaluate(z)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(z)
        return -ll, prof.gradient(z, lam, U)

    res = optimize.minimize(
        f, x, jac=True, method="L-BFGS-B",
        bounds=optimize.Bounds(lb, np.inf),
        options={"ftol": tol, "gtol": 1e-9, "maxiter": max_iter, "maxcor": 20},
    )
    ll, lam, U = prof.evaluate(res.x)
    # L-BFGS-B often ends on a failed line search at the top (rounding): the
    # point is a maximum when the projected gradient vanishes
    g = prof.gradient(res.x, lam, U)
    projected = res.x - np.maximum(res.x - g, lb)
    ok = bool(res.success) or float(np.max(np.abs(projected))) <= _POLISH_GTOL

    return res.x, ll, lam, U, int(res.nit), ok


# --------------------------------------------------------------------------
# Starting points (uniquenesses on the scale of R).


def fit_screened(starts, fit_one) -> list:
    """Fit from each start in turn, later ones screened against earlier maxima.

    ``fit_one(ψ₀, known, last)`` fits one start (e.g. :func:`fit_profile`
    with ``known=known, curvature=not last``); ``known`` holds ``(log ψ, ℓ,
    H*)`` of the maxima converged to so far, and a fit that stops as
    ``'joined'`` has its ``joined`` index mapped from ``known`` to the list
    returned (one fit per start, in order).
    """
    fits, known, index = [], [], []
    for i, psi0 in enumerate(starts):
        res = fit_one(psi0, known, i == len(starts) - 1)
        if res.joined is not None:  # index into fits, not into known
            res.joined = index[res.joined]
        fits.append(res)
        if res.converged:
            known.append((np.log(res.psi), res.loglike[-1], res.information))
            index.append(len(fits) - 1)
    return fits


def start_smc(R, k, floor):
    """``ψ_j = (1 − k/(2d)) / (R⁻¹)_jj``: R ``factanal``'s default start.

    ``1 − 1/(R⁻¹)_jj`` is the squared multiple correlation of feature ``j``
    on the others (:func:`latentmodels._extraction.smc_from_correlation`).
    """
    from ._extraction import smc_from_correlation

    d = R.shape[0]
    # an ill-conditioned R (few samples, collinear features) only gives a
    # poorer start: nothing to warn about
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        psi = (1.0 - 0.5 * k / d) * (1.0 - smc_from_correlation(R))
    psi = np.where(np.isfinite(psi), psi, 0.0)  # a constant feature: the floor
    return np.clip(psi, floor, np.maximum(np.diag(R), floor))


def start_pca(R, k, floor, root=None):
    """``ψ = diag(R − W Wᵀ)`` at the PPCA loadings of ``R`` (Tipping & Bishop).

    With ``root`` (``R = L Lᵀ``, L d × r, e.g. the centred rows of wide data)
    the leading eigenpairs come from the SVD of ``L`` (O(d r²), not O(d³)).
    """
    d = R.shape[0]
    if root is not None:
        U, sv, _ = linalg.svd(root, full_matrices=False)
        lam = np.zeros(k)
        lam[: min(k, sv.size)] = sv[:k] ** 2
        U = U[:, :k]
    else:
        lam, U = np.linalg.eigh(R)
        lam, U = lam[::-1][:k], U[:, ::-1][:, :k]
    U = np.pad(U, ((0, 0), (0, k - U.shape[1])))
    sigma2 = max((np.trace(R) - lam.sum()) / (d - k), 0.0) if k < d else 0.0
    W = U * np.sqrt(np.maximum(lam - sigma2, 0.0))
    return np.maximum(np.diag(R) - np.sum(W * W, axis=1), floor)


def start_random(R, floor, rng):
    """``ψ_j = R_jj · u_j``, ``u_j`` uniform on ``[0.1, 0.9]``."""
    u = rng.uniform(0.1, 0.9, R.shape[0])
    return np.maximum(np.diag(R) * u, floor)


def starting_points(R, k, floor, *, n_init, init, rng, root=None):
    """The ``n_init`` starts: ``init`` first, then random ones.

    ``init`` is ``'smc'``, ``'pca'`` or ``'random'``. Returns a list of
    ``(name, ψ₀)``.
    """
    out = []
    for i in range(n_init):
        name = init if i == 0 else "random"
        if name == "smc":
            psi = start_smc(R, k, floor)
        elif name == "pca":
            psi = start_pca(R, k, floor, root)
        else:
            psi = start_random(R, floor, rng)
        out.append((name, psi))
    return out
