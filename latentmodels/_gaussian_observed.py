r"""The linear-Gaussian core on rows with missing entries (observed-data forms).

A row ``x`` with observed entries ``o`` has the marginal
``x_o ~ N(μ_o, W_o W_oᵀ + Ψ_o)``: the Gaussian of
:class:`~latentmodels._gaussian.LinearGaussian` restricted to the rows ``o`` of
``W``, ``μ`` and ``Ψ``. With ``W̃ = Ψ^{-1/2} W`` and ``M_o = I + W̃_oᵀ W̃_o``,

.. math::

    \log\det C_{oo} = \sum_{j∈o} \log ψ_j + \log\det M_o, \qquad
    r̃ᵀ C̃_{oo}^{-1} r̃ = \lVert r̃ − W̃_o m \rVert^2 + \lVert m \rVert^2,
    \qquad m = E[h | x_o] = M_o^{-1} W̃_oᵀ r̃,

with ``r̃ = Ψ_o^{-1/2}(x_o − μ_o)`` (Woodbury and the determinant lemma; the
quadratic form is a sum of non-negative terms). ``M_o`` depends only on the
set ``o``, so rows that share a missingness pattern share the ``k × k`` work.
A data set missing at random has about one pattern per row; the batched
functions here (:func:`pattern_posteriors`, :func:`row_posteriors`) do that
algebra for a stack of sub-models at once. They serve the fitted model's
scoring, posterior and imputation (:func:`score_rows_observed`,
:func:`posterior_mean_observed`, :func:`impute_observed`) and the E-step of
the missing-value EM (:mod:`latentmodels._missing`). See the user guide,
"Missing values".
"""

from __future__ import annotations

import numpy as np

from ._gaussian import _LOG_2PI, LinearGaussian

# Up to this many distinct patterns, the fitted model scores rows pattern by
# pattern with a LinearGaussian on the observed sub-model; beyond, in one batch
# (the row E-step's algebra), which avoids a Python loop over ~n patterns.
_MAX_PATTERNS_ONE_BY_ONE = 64

# Largest squared singular value of the whitened loadings Ψ^{-1/2} W for which
# the batched route keeps ~1e-9 relative accuracy (see _observed_rows).
_MAX_BATCHED_SHARPNESS = 1e7


def group_patterns(observed: np.ndarray):
    """Group the rows of a boolean mask by missingness pattern.

    Returns
    -------
    patterns : ndarray of bool, shape (n_patterns, n_features)
        The distinct rows of ``observed``.
    inverse : ndarray of int, shape (n_samples,)
        Pattern index of each row.
    counts : ndarray of int, shape (n_patterns,)
    """
    n, d = observed.shape
    # 64 features per integer key: one integer sort when d <= 64
    width = -(-d // 64) * 8
    packed = np.zeros((n, width), dtype=np.uint8)
    packed[:, : -(-d // 8)] = np.packbits(observed, axis=1)
    keys = packed.view(np.uint64)
    if keys.shape[1] == 1:
        keys = keys[:, 0]
    _, first, inverse, counts = np.unique(
        keys,
        axis=0 if keys.ndim == 2 else None,
        return_index=True,
        return_inverse=True,
        return_counts=True,
    )
    return observed[first], inverse.reshape(-1), counts


def observed_submodel(model: LinearGaussian, observed: np.ndarray) -> LinearGaussian:
    """The marginal Gaussian of the observed entries ``x_o``: rows ``o`` of W, μ, Ψ."""
    return LinearGaussian(
        model.components[:, observed],
        model.noise_variance[observed],
        model.mean[observed],
    )


def _observed_rows(model: LinearGaussian, X: np.ndarray):
    """Posterior means ``E[h | x_o]`` (n, k) and ``log N(x_o; μ_o, C_oo)`` (n,).

    A row with no observed entry gets the prior mean 0 and log-density 0 (the
    empty marginal).
    """
    observed = ~np.isnan(X)
    patterns, inverse, _ = group_patterns(observed)
    n, k = X.shape[0], model.components.shape[0]
    # The batched algebra forms M_o = I + W̃_oᵀ W̃_o, whose entries grow like
    # w_j²/ψ_j: when a noise variance is tiny beside its loadings it loses
    # digits (relative error ~ 1e-16 · max s²), and the pattern-by-pattern
    # route (the SVD of each observed sub-model) is used whatever the count.
    sharp = model._s.size and model._s.max() ** 2 > _MAX_BATCHED_SHARPNESS
    if patterns.shape[0] > _MAX_PATTERNS_ONE_BY_ONE and not sharp:
        W, psi = model.components.T, model.noise_variance
        isd = 1.0 / np.sqrt(psi)
        Wt = W * isd[:, None]
        outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(-1, k * k)
        M_inv, logdet = pattern_posteriors(patterns.astype(float), Wt, isd, outer_w)
        mask = observed.astype(np.float64)
        R = np.where(observed, X - model.mean, 0.0) * isd
        H, quad = row_posteriors(R, mask, M_inv[inverse], Wt)
        ll = -0.5 * (mask.sum(axis=1) * _LOG_2PI + logdet[inverse] + quad)
        return H, ll
    H, ll = np.zeros((n, k)), np.zeros(n)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(patterns.shape[0] + 1))
    for p, obs in enumerate(patterns):
        rows = order[bounds[p] : bounds[p + 1]]
        if obs.any():
            sub = observed_submodel(model, obs)
            X_o = X[np.ix_(rows, obs)]
            H[rows] = sub.posterior_mean(X_o)
            ll[rows] = sub.log_likelihood_rows(X_o)
    return H, ll


# --- the fitted model on rows with missing entries -------------------------------
def score_rows_observed(model: LinearGaussian, X: np.ndarray) -> np.ndarray:
    """Log-density of the observed entries of each row, ``log N(x_o; μ_o, C_oo)``.

    A row with no observed entry has log-density 0 (the empty marginal).
    """
    return _observed_rows(model, X)[1]


def posterior_mean_observed(model: LinearGaussian, X: np.ndarray) -> np.ndarray:
    """``E[h | x_o]`` for each row, from its observed entries only (prior mean 0)."""
    return _observed_rows(model, X)[0]


def impute_observed(model: LinearGaussian, X: np.ndarray) -> np.ndarray:
    """A copy of ``X`` with each missing entry set to ``E[x_m | x_o]``.

    ``E[x_m | x_o] = μ_m + W_m E[h | x_o]``: the posterior-mean reconstruction.
    """
    H = posterior_mean_observed(model, X)
    filled = np.array(X, dtype=np.float64, copy=True)
    missing = np.isnan(filled)
    recon = H @ model.components + model.mean
    filled[missing] = recon[missing]
    return filled




def pattern_posteriors(mask, Wt, isd, outer_w):
    """``Σ_o = M_o⁻¹`` (P, k, k) and ``log det C_oo`` (P,) for each pattern.

    ``M_o = I + W̃ᵀ diag(o) W̃ = I + Σ_{j∈o} w̃_j w̃_jᵀ`` and
    ``log det C_oo = Σ_{j∈o} log ψ_j + log det M_o`` (determinant lemma).
    """
    k = Wt.shape[1]
    M = (mask @ outer_w).reshape(-1, k, k)
    M[:, np.arange(k), np.arange(k)] += 1.0
    M_inv, logdet = spd_inverse(M)
    return M_inv, logdet - 2.0 * (mask @ np.log(isd))




def spd_inverse(M: np.ndarray):
    """Inverse and log-determinant of a stack of small SPD matrices.

    Cholesky ``M = L Lᵀ`` (LAPACK, batched), then ``L⁻¹`` by forward
    substitution vectorised over the stack and ``M⁻¹ = L⁻ᵀ L⁻¹`` (exactly
    symmetric); much cheaper than a batched LU inverse for many ``k × k``.
    """
    L = np.linalg.cholesky(M)
    diag = np.diagonal(L, axis1=1, axis2=2)
    logdet = 2.0 * np.log(diag).sum(axis=1)
    if M.shape[0] <= 64:  # few matrices: LAPACK per matrix is cheaper
        M_inv = np.linalg.inv(M)
        return 0.5 * (M_inv + np.swapaxes(M_inv, 1, 2)), logdet
    L_inv = np.zeros_like(L)
    for i in range(M.shape[-1]):
        row = -np.einsum("pj,pjc->pc", L[:, i, :i], L_inv[:, :i, :])
        row[:, i] += 1.0
        L_inv[:, i, :] = row / diag[:, i, None]
    return np.swapaxes(L_inv, 1, 2) @ L_inv, logdet




def row_posteriors(R, mask, M_inv_rows, Wt):
    """Posterior means and quadratic forms of whitened residual rows.

    ``m = M_o⁻¹ W̃ᵀ r̃`` (``r̃`` zero where missing) and
    ``r̃ᵀ C̃_oo⁻¹ r̃ = ‖r̃ − W̃_o m‖² + ‖m‖²``, a sum of non-negative terms.
    """
    H = (M_inv_rows @ (R @ Wt)[:, :, None])[:, :, 0]
    resid = H @ Wt.T
    resid *= mask
    np.subtract(R, resid, out=resid)
    quad = np.einsum("ij,ij->i", resid, resid) + np.einsum("ij,ij->i", H, H)
    return H, quad
