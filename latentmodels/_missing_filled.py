r"""Factor analysis with missing entries: EM over the missing entries only.

The EM of :mod:`latentmodels._missing` treats the factors ``h`` *and* the
missing entries as missing data. For factor analysis its rate is set by the
information the factors miss, which can leave it crawling (and Newton's
Hessian, ``O(n (d k)²)`` per step, out of reach when ``d (k + 2)`` is large).
Treating only the missing entries ``x_m`` as missing gives another EM for the
same observed-data likelihood (Little & Rubin 2002, §11.2):

* **E-step**: the expected complete-data statistics given the observed
  entries, ``x̂_i = E[x_i | x_{i,o}]`` (the observed entries, and
  ``μ_m + W_m E[h | x_o]`` for the missing ones) and
  ``S̃ = (1/n) Σ_i (x̂_i − x̄̂)(x̂_i − x̄̂)ᵀ + (1/n) Σ_i Cov(x_{i,m} | x_{i,o})``,
  with ``Cov(x_m | x_o) = W_m Σ_o W_mᵀ + Ψ_m`` (``Σ_o`` the posterior
  covariance of the factors, :mod:`latentmodels._gaussian_observed`).
* **M-step**: the complete-data maximum likelihood fit of ``(x̄̂, S̃)``: the
  mean ``x̄̂`` and the profile-likelihood Newton fit of ``S̃``
  (:func:`latentmodels._profile.fit_profile`, warm-started at the current
  ``Ψ``, Heywood cases held at the floor), which maximises the expected
  complete-data log-likelihood exactly, whatever the factors' information.

Its rate is the fraction of the information carried by the missing entries
(about the fraction missing), not the factors': on standardised digits
(61 features) with 10% missing and ``k = 20`` (``d (k + 2) = 1342``
parameters: no Newton), 108 E-steps and 3.6 s where EM with SQUAREM had not
converged after 10 000 E-steps (213 s). The loadings of each M-step are
rotated onto the previous ones (orthogonal Procrustes), so that SQUAREM's
extrapolation and the parameter test compare like with like.
:func:`latentmodels._missing.fit_missing` fits factor analysis by it, from
the start, where Newton's Hessian is out of reach (more than
``_NEWTON_MAX_PARAMS`` parameters) and the profile M-step is not (at most
``_FILLED_MAX_FEATURES`` features). Started after 30 E-steps of EM instead,
on digits it stopped at a lower maximum (-61.2717 against -61.2657).

References
----------
Little, R. J. A. & Rubin, D. B. (2002). *Statistical Analysis with Missing
Data*, 2nd ed. Wiley.
"""

from __future__ import annotations

import numpy as np

from ._gaussian import _LOG_2PI
from ._gaussian_observed import pattern_posteriors, row_posteriors
from ._profile import fit_profile

# the M-step's profile fit: tolerance and Newton steps
_M_STEP_TOL = 1e-12
_M_STEP_MAX_ITER = 200


def expected_statistics(data, W, psi, mu):
    """``(Σ_i x̂_i, Σ_i E[x_i x_iᵀ | x_{i,o}], ℓ_rows)`` over all rows (centred data).

    ``ℓ_rows`` is the summed observed-data log-density of the rows handled
    one by one (not of the patterns known by their statistics), from the
    same posteriors (:func:`latentmodels._missing._e_step_rows`'s formula).

    Patterns known by their statistics: ``x̂ = T x + c`` is linear in the
    row, ``T = D_o + D_m W Gᵀ``, ``c = D_m (μ − W Gᵀ D_o μ)`` with the gain
    ``Gᵀ = Ψ⁻¹ W_o M_o⁻¹`` (zero rows where missing), so the block adds
    ``n_p (T x̄ + c)`` and ``T scatter Tᵀ + n_p (T x̄ + c)(T x̄ + c)ᵀ``; every
    row adds its ``D_m (W M_o⁻¹ Wᵀ + Ψ) D_m``, summed as ``Y Yᵀ`` with
    ``Y_i = D_m W L_i`` (``M_o⁻¹ = L_i L_iᵀ``).
    """
    d, k = W.shape
    isd = 1.0 / np.sqrt(psi)
    Wt = W * isd[:, None]
    outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(d, k * k)
    total = np.zeros(d)
    second = np.zeros((d, d))
    ll_rows = 0.0
    if data.block_n.size:
        mask, n_p = data.block_mask, data.block_n
        miss = 1.0 - mask
        M_inv, _ = pattern_posteriors(mask, Wt, isd, outer_w)
        gain_t = (mask[:, :, None] * (Wt * isd[:, None])) @ M_inv  # (P, d, k)
        WG = W @ np.swapaxes(gain_t, 1, 2)  # W Gᵀᵀ: (P, d, d)
        T = miss[:, :, None] * WG
        T[:, np.arange(d), np.arange(d)] += mask
        c = miss * (mu - (WG @ (mask * mu)[:, :, None])[:, :, 0])
        xbar = (T @ data.block_mean[:, :, None])[:, :, 0] + c
        total += n_p @ xbar
        second += np.sum(T @ data.block_scatter @ np.swapaxes(T, 1, 2), axis=0)
        second += (xbar.T * n_p) @ xbar
        cov = W @ M_inv @ W.T  # (P, d, d)
        cov[:, np.arange(d), np.arange(d)] += psi
        cov *= (n_p[:, None] * miss)[:, :, None]
        cov *= miss[:, None, :]
        second += cov.sum(axis=0)
    if data.rows.shape[0]:
        mask = data.row_mask
        M_pat, logdet = pattern_posteriors(data.row_patterns, Wt, isd, outer_w)
        M_inv = M_pat[data.row_pattern_of]
        R = (data.rows - mask * mu) * isd
        H, quad = row_posteriors(R, mask, M_inv, Wt)
        ll_rows = -0.5 * float(mask.sum() * _LOG_2PI
                               + data.row_counts @ logdet + quad.sum())
        filled = np.where(mask > 0, data.rows, mu + H @ W.T)
        total += filled.sum(axis=0)
        second += filled.T @ filled
        miss = 1.0 - mask
        n = mask.shape[0]
        # Y_i = D_m W L_i side by side, (d, n k): one product with W
        L = np.linalg.cholesky(M_inv).transpose(1, 0, 2).reshape(k, n * k)
        Y = (W @ L).reshape(d, n, k)
        Y *= miss.T[:, :, None]
        Y = Y.reshape(d, n * k)
        second += Y @ Y.T
        second[np.diag_indices(d)] += miss.sum(axis=0) * psi
    return total, second, ll_rows


class FilledEMMap:
    """The EM map over the missing entries, for :func:`latentmodels._em.run_em`.

    ``θ = (W, ψ, μ)`` in the centred coordinates of the data; ``ℓ`` is the
    observed-data log-likelihood, the rows' from the posteriors that give the
    statistics (one pass) and the statistics patterns' from
    ``block_loglike(data, W, ψ, μ)``
    (:func:`latentmodels._missing._loglike_blocks`); the parameterisation
    and the floors are those of the EM map ``F`` of
    :mod:`latentmodels._missing` (``pack``/``unpack``).
    """

    def __init__(self, data, F, block_loglike, k):
        self.data, self.F, self.block_loglike, self.k = data, F, block_loglike, k
        self.pack, self.unpack = F.pack, F.unpack

    def __call__(self, theta):
        W, psi, mu = theta
        total, second, ll = expected_statistics(self.data, W, psi, mu)
        n = self.data.n
        if self.data.block_n.size:
            ll += self.block_loglike(self.data, W, psi, mu)
        ll /= n
        if not np.isfinite(ll):
            return -np.inf, None
        mean = total / n
        S = second / n - np.outer(mean, mean)
        D = np.sqrt(np.maximum(np.diag(S), np.finfo(float).tiny))
        R = S / D[:, None] / D[None, :]
        R = 0.5 * (R + R.T)
        floor = self.F.floor / D**2
        fit = fit_profile(
            R, np.maximum(psi / D**2, floor), self.k, floor=floor,
            tol=_M_STEP_TOL, max_iter=_M_STEP_MAX_ITER,
        )
        W_new = fit.W * D[:, None]
        # the rotation closest to the current loadings (orthogonal Procrustes)
        U, _, Vt = np.linalg.svd(W_new.T @ W)
        return ll, (W_new @ (U @ Vt), np.maximum(fit.psi * D**2, self.F.floor), mean)
