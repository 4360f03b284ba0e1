r"""Maximum likelihood for covariance structures: Fisher scoring, complete or FIML.

Complete data. The log-likelihood per observation of ``x ~ N(μ, C(θ))`` at
``μ̂ = x̄`` is ``−½[d log 2π + log det C + tr(C⁻¹ S)]`` with ``S`` the
maximum likelihood (1/n) covariance. Fisher scoring steps
``θ ← θ + t 𝓘(θ)⁻¹ ∇ℓ(θ)`` (:mod:`latentmodels._covariance_structure`),
with ``t`` halved until the likelihood rises (so the trace is monotone).
Lower bounds (``ψ``, factor variances) are kept by projection with an active
set: a parameter at its bound whose gradient points outside is held there.

Full-information ML (FIML) with missing entries (Anderson 1957; Arbuckle
1996). Rows are grouped by their pattern of observed entries ``o``; a pattern
with ``n_p`` rows, observed mean ``m_p`` and ML covariance ``S_p`` contributes

.. math::

    ℓ_p = −\tfrac{n_p}{2}\bigl[d_o \log 2π + \log\det C_{oo}
          + \operatorname{tr}\bigl(C_{oo}^{-1} (S_p + δ_p δ_pᵀ)\bigr)\bigr],
    \qquad δ_p = m_p − μ_o,

so ``∂ℓ_p/∂μ_o = n_p C_{oo}^{-1} δ_p`` and the covariance part is the
complete-data formula on ``(S_p + δ_p δ_pᵀ, C_{oo})``; the expected
information is block diagonal in ``(θ, μ)``. The unrestricted (saturated)
model, needed for the χ² test, is the same problem with ``θ = vech C``.

References
----------
Anderson, T. W. (1957). Maximum likelihood estimates for a multivariate normal
distribution when some observations are missing. JASA 52:200–203.
Arbuckle, J. L. (1996). Full information estimation in the presence of
incomplete data. In Advanced Structural Equation Modeling, 243–277.
Jennrich, R. I. & Sampson, P. F. (1976). Newton-Raphson and related
algorithms for maximum likelihood variance component estimation.
Technometrics 18:11–17.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from ._covariance_structure import (
    gaussian_gradient_information,
    gaussian_observed_information,
    whitening,
)
from ._gaussian import _LOG_2PI


@dataclass
class ScoringResult:
    """Where Fisher scoring stopped: ``theta``, the trace of ``ℓ`` per row, why."""

    theta: np.ndarray
    loglike: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    information: np.ndarray | None = None


def _solve_psd(info, g):
    """``𝓘⁺ g`` by an eigen-decomposition (a pseudo-inverse on flat directions)."""
    w, V = linalg.eigh(info)
    keep = w > 1e-12 * max(w[-1], 1e-300)
    return V[:, keep] @ ((V[:, keep].T @ g) / w[keep])


def _newton_or_scoring(val, free):
    """Newton's step where the observed information is positive definite.

    ``val`` is ``(ℓ, ∇ℓ, 𝓘)`` or ``(ℓ, ∇ℓ, 𝓘, 𝓙)`` with ``𝓙 = −∇²ℓ``; without
    ``𝓙``, or where it is not positive definite (far from the maximum),
    the Fisher-scoring step ``𝓘⁻¹ ∇ℓ``.
    """
    g = val[1][free]
    if len(val) > 3:
        try:
            cho = linalg.cho_factor(val[3][np.ix_(free, free)], lower=True)
            return linalg.cho_solve(cho, g)
        except linalg.LinAlgError:
            pass
    return _solve_psd(val[2][np.ix_(free, free)], g)


def fisher_scoring(objective, theta, lower, *, tol, max_iter) -> ScoringResult:
    """Maximise ``objective`` by Fisher scoring / Newton with step halving, bounds.

    ``objective(θ)`` returns ``(ℓ, ∇ℓ, 𝓘)`` — or ``(ℓ, ∇ℓ, 𝓘, 𝓙)`` with the
    observed information ``𝓙``, which gives Newton's step where it is
    positive definite (quadratic convergence near the maximum, where Fisher
    scoring is only linear when the model does not fit exactly) — or None
    where ``θ`` is outside the model (``C`` or Φ not positive definite). It
    stops when the decrement ``∇ℓᵀ Δθ`` (about twice the gain still
    available) falls below ``tol``, after taking that last step.
    """
    val = objective(theta)
    if val is None:
        raise ValueError("The starting point is outside the model.")
    res = ScoringResult(theta, [val[0]])
    for it in range(1, max_iter + 1):
        ll, g, info = val[:3]
        held = (theta <= lower) & (g <= 0)
        free = ~held
        step = np.zeros_like(theta)
        step[free] = _newton_or_scoring(val, free)
        decrement = float(g @ step)
        if decrement <= 0:  # a Newton step that does not ascend: score instead
            step[free] = _solve_psd(info[np.ix_(free, free)], g[free])
            decrement = float(g @ step)
        t, accepted = 1.0, False
        for _ in range(40):
            cand = np.maximum(theta + t * step, lower)
            new = objective(cand)
            if new is not None and new[0] >= ll:
                accepted = True
                break
            t *= 0.5
        res.n_iter = it
        if not accepted:  # no ascent left at rounding level
            res.converged = decrement < max(tol, 1e-8)
            break
        theta, val = cand, new
        res.loglike.append(val[0])
        if decrement < tol:
            res.converged = True
            break
    res.theta, res.information = theta, val[2]
    return res


# --- complete data ---------------------------------------------------------------
def complete_objective(structure, S, observed=False):
    """``θ ↦ (ℓ, ∇ℓ, 𝓘[, 𝓙])`` per observation for data with ML covariance ``S``.

    With ``observed=True`` the observed information ``𝓙 = −∇²ℓ`` comes too
    (:func:`~latentmodels._covariance_structure.gaussian_observed_information`).
    """
    d = S.shape[0]

    def objective(theta):
        if not structure.feasible(theta):
            return None
        C = structure.implied(theta)
        dC = structure.derivatives(theta)
        try:
            Rinv = whitening(C)[1]
        except np.linalg.LinAlgError:
            return None
        g, info, logdet, trace = gaussian_gradient_information(S, C, dC, Rinv=Rinv)
        ll = -0.5 * (d * _LOG_2PI + logdet + trace)
        if not observed:
            return ll, g, info
        obs = gaussian_observed_information(
            S, C, dC, lambda Om: structure.second_derivative_term(theta, Om), Rinv
        )
        return ll, g, info, obs

    return objective


def start_values(structure, S):
    """Starting ``θ``: one-factor principal components per factor.

    For each factor in turn, the leading eigenpair ``(ε, v)`` of ``S`` on its
    indicators, less what the previous factors explain there, gives loadings
    ``v √(ε − ε̄)`` (``ε̄`` the mean of the other eigenvalues); the factor
    covariances are least-squares fits of the cross-covariance blocks, held
    inside ``±0.9`` as correlations; the first loading is then rescaled to its
    fixed value where there is one, and ``ψ = max(diag(S − Λ Φ Λᵀ), 0.1 diag S)``.
    """
    d, k = structure.d, structure.k
    active = structure.free | (structure.fixed != 0)
    L = np.zeros((d, k))
    S_rest = S.copy()  # deflated: factors sharing indicators start apart
    for j in range(k):
        idx = np.flatnonzero(active[:, j])
        w, V = np.linalg.eigh(S_rest[np.ix_(idx, idx)])
        rest = w[:-1].mean() if idx.size > 1 else 0.5 * w[-1]
        v = V[:, -1] * np.sqrt(max(w[-1] - rest, 0.1 * w[-1]))
        if np.sum(v) < 0:
            v = -v
        L[idx, j] = v
        S_rest[np.ix_(idx, idx)] -= np.outer(v, v)
    # factor "correlations" on the scale where every factor has variance 1
    Phi = np.eye(k)
    for j in range(k):
        for m in range(j + 1, k):
            lj, lm = L[:, j], L[:, m]
            r = lj @ S @ lm / max((lj @ lj) * (lm @ lm), 1e-300)
            Phi[j, m] = Phi[m, j] = np.clip(r, -0.9, 0.9)
    if structure.orthogonal:
        Phi = np.eye(k)
    if np.linalg.eigvalsh(Phi)[0] < 0.05:
        Phi = 0.5 * Phi + 0.5 * np.eye(k)
    if not structure.std_lv:  # rescale each factor to its first fixed loading
        for j in range(k):
            fixed_rows = np.flatnonzero(~structure.free[:, j]
                                        & (structure.fixed[:, j] != 0))
            if fixed_rows.size:
                i = fixed_rows[0]
                ratio = L[i, j] / structure.fixed[i, j]
                if abs(ratio) > 1e-8:
                    L[:, j] /= ratio
                    Phi[j, :] *= ratio
                    Phi[:, j] *= ratio
    L = np.where(structure.free, L, structure.fixed)
    psi = np.diag(S) - np.einsum("ij,jk,ik->i", L, Phi, L)
    psi = np.maximum(psi, 0.1 * np.diag(S))
    psi = np.where(psi > 0, psi, 1.0)
    return structure.pack(L, Phi, psi)


# --- missing entries ----------------------------------------------------------------
@dataclass
class PatternData:
    """Rows grouped by observed pattern ``o``: counts ``n_p``, means, covariances."""

    observed: list
    counts: np.ndarray
    means: list
    covs: list
    n: int
    d: int

    @classmethod
    def from_array(cls, X):
        obs = ~np.isnan(X)
        patterns, inverse, counts = np.unique(
            obs, axis=0, return_inverse=True, return_counts=True
        )
        inverse = inverse.reshape(-1)
        observed, means, covs, kept = [], [], [], []
        for p, pat in enumerate(patterns):
            if not pat.any():
                continue
            Xp = X[np.ix_(inverse == p, pat)]
            m = Xp.mean(axis=0)
            R = Xp - m
            observed.append(np.flatnonzero(pat))
            means.append(m)
            covs.append(R.T @ R / Xp.shape[0])
            kept.append(counts[p])
        return cls(observed, np.asarray(kept), means, covs, X.shape[0], X.shape[1])


def fiml_objective(structure, data: PatternData, observed=False):
    r"""``(θ, μ) ↦ (ℓ, ∇ℓ, 𝓘[, 𝓙])`` per row of the observed-data likelihood.

    Every derivative of ``C`` is ``∂_aC = s_a (u_a v_aᵀ + v_a u_aᵀ)``
    (:meth:`CovarianceStructure.rank_one_factors`), so with the pattern's
    ``K = C_oo⁻¹``, ``W = K T_p K`` and the forms ``M_xy = X_oᵀ K Y_o``,
    ``P_xy = X_oᵀ W Y_o`` (``X, Y ∈ {U, V}``),

    .. math::

        ½\operatorname{tr}(K ∂_aC K ∂_bC) = s_a s_b (M_{uv} ∘ M_{uv}ᵀ
            + M_{uu} ∘ M_{vv})_{ab},

        \operatorname{tr}(W ∂_aC K ∂_bC) = s_a s_b (M_{uv}ᵀ ∘ P_{uv}
            + M_{vv} ∘ P_{uu} + M_{uu} ∘ P_{vv} + M_{uv} ∘ P_{uv}ᵀ)_{ab},

    and the observed information is the second less the first, less
    ``½⟨Ω, ∂²C⟩`` (``Ω = Σ_p w_p (W − K)``, embedded), plus ``w_p K`` for
    ``μ_o`` and ``w_p K ∂_aC K δ_p`` between ``θ`` and ``μ_o``; ``w_p = n_p/n``.
    Each pattern costs ``O(q d_o² + q² d_o)``.
    """
    q, d, n = structure.n_params, data.d, data.n
    blocks = [
        (o, np.ix_(o, o), np.ix_(q + o, q + o), n_p / n, m, Sp)
        for o, n_p, m, Sp in zip(data.observed, data.counts, data.means, data.covs)
    ]

    def objective(theta_full):
        theta, mu = theta_full[:q], theta_full[q:]
        if not structure.feasible(theta):
            return None
        C = structure.implied(theta)
        U, V, s = structure.rank_one_factors(theta)
        ss = np.outer(s, s)
        ll, grad, info = 0.0, np.zeros(q + d), np.zeros((q + d, q + d))
        if observed:
            obs, Omega = np.zeros((q + d, q + d)), np.zeros((d, d))
        try:
            for o, oo, qo, w, m, Sp in blocks:
                delta = m - mu[o]
                T = Sp + np.outer(delta, delta)
                Rinv = whitening(C[oo])[1]
                K = Rinv.T @ Rinv
                KT = K @ T
                Uo, Vo = U[o], V[o]
                KU, KV = K @ Uo, K @ Vo
                Muu, Muv, Mvv = Uo.T @ KU, Uo.T @ KV, Vo.T @ KV
                Om = KT @ K - K
                ll -= 0.5 * w * (o.size * _LOG_2PI
                                 - 2.0 * np.sum(np.log(np.diag(Rinv)))
                                 + np.trace(KT))
                grad[:q] += w * s * np.einsum("ia,ia->a", Uo, Om @ Vo)
                inf = ss * (Muv * Muv.T + Muu * Mvv)
                info[:q, :q] += w * inf
                Kd = K @ delta
                grad[q + o] += w * Kd
                info[qo] += w * K
                if observed:
                    WU, WV = (Om + K) @ Uo, (Om + K) @ Vo
                    Puu, Puv, Pvv = Uo.T @ WU, Uo.T @ WV, Vo.T @ WV
                    X = ss * (Muv.T * Puv + Mvv * Puu + Muu * Pvv + Muv * Puv.T)
                    obs[:q, :q] += w * (X - inf)
                    Omega[oo] += w * Om
                    cross = s * (KU * (Vo.T @ Kd) + KV * (Uo.T @ Kd))  # (d_o, q)
                    obs[:q, q + o] += w * cross.T
                    obs[q + o, :q] += w * cross
                    obs[qo] += w * K
        except np.linalg.LinAlgError:
            return None
        if not observed:
            return ll, grad, info
        obs[:q, :q] -= structure.second_derivative_term(theta, Omega)
        return ll, grad, info, 0.5 * (obs + obs.T)

    return objective


def saturated_em(data: PatternData, mu, C, *, tol, max_iter):
    """The unrestricted FIML estimate ``(μ, C)`` by EM (Dempster, Laird & Rubin).

    Per pattern, with ``B = C_mo C_oo⁻¹``, the missing entries are expected at
    ``μ_m + B (x_o − μ_o)`` with conditional covariance
    ``C_mm − B C_om``; the M-step takes the mean and covariance of the
    completed data. Each iteration costs ``O(patterns · d³)`` whatever ``n``;
    it stops when the log-likelihood per row rises by less than ``tol``.

    Returns ``(μ, C, ℓ per row, n_iter, converged)``; ``ℓ`` never decreases.
    """
    d, n = data.d, data.n
    blocks = []
    for o, n_p, m_p, S_p in zip(data.observed, data.counts, data.means, data.covs):
        miss = np.setdiff1d(np.arange(d), o, assume_unique=True)
        blocks.append((o, miss, np.ix_(o, o), np.ix_(miss, o), np.ix_(miss, miss),
                       n_p, m_p, S_p, n_p * m_p, n_p * (S_p + np.outer(m_p, m_p))))
    ll_old = -np.inf
    for it in range(1, max_iter + 1):
        s1, s2, ll = np.zeros(d), np.zeros((d, d)), 0.0
        for o, miss, oo, mo, mm, n_p, m_p, S_p, sx, sxx in blocks:
            Rinv = whitening(C[oo])[1]
            K = Rinv.T @ Rinv
            delta = m_p - mu[o]
            ll -= 0.5 * n_p * (o.size * _LOG_2PI
                               - 2.0 * np.sum(np.log(np.diag(Rinv)))
                               + np.sum(K * S_p) + delta @ K @ delta)
            s1[o] += sx
            s2[oo] += sxx
            if miss.size:
                B = C[mo] @ K  # C_mo C_oo⁻¹: x̂_m = c + B x_o
                c = mu[miss] - B @ mu[o]
                Bsx = B @ sx
                Bsxx = B @ sxx
                s1[miss] += n_p * c + Bsx
                cross = Bsxx + np.outer(c, sx)
                s2[mo] += cross
                s2[np.ix_(o, miss)] += cross.T
                s2[mm] += (Bsxx @ B.T + np.outer(Bsx, c) + np.outer(c, Bsx)
                           + n_p * (np.outer(c, c) + C[mm] - B @ C[mo].T))
        ll /= n
        if ll - ll_old < tol:
            return mu, C, ll, it, True
        ll_old = ll
        mu = s1 / n
        C = s2 / n - np.outer(mu, mu)
        C = 0.5 * (C + C.T)
    return mu, C, ll_old, max_iter, False


def diagonal_start(X):
    """Start of the saturated FIML fit: observed means and variances, no covariance.

    Each mean and variance uses every observed entry of its column; the
    diagonal covariance is positive definite whatever the pattern.
    """
    mu = np.nanmean(X, axis=0)
    var = np.nanvar(X, axis=0)
    var = np.where(var > 0, var, 1.0)
    return mu, np.diag(var)


def independence_loglike(X):
    """Log-likelihood of the independence model (diagonal C, free μ), FIML.

    It factorises over the features, so its maximum uses each column's
    observed entries alone.
    """
    ll = 0.0
    for col in X.T:
        x = col[~np.isnan(col)]
        v = x.var()
        ll += -0.5 * x.size * (_LOG_2PI + np.log(v) + 1.0)
    return float(ll)
