r"""Exact EM for probabilistic PCA and factor analysis with missing entries.

The model is the one of THEORY.md §1, ``x = μ + W h + ε`` with
``h ~ N(0, I_k)`` and ``ε ~ N(0, Ψ)`` (``Ψ = σ² I`` for PPCA, diagonal for
factor analysis). A row ``x`` with observed entries ``o`` has the marginal
``x_o ~ N(μ_o, W_o W_oᵀ + Ψ_o)``: the same Gaussian restricted to the rows
``o`` of ``W``, ``μ`` and ``Ψ``. Maximum likelihood maximises the sum of these
marginals, the *observed-data* log-likelihood; missing entries are
marginalised out, never filled in.

EM (the exact algorithm for PPCA with missing values of Ilin & Raiko 2010,
JMLR 11:1957–2000, with the mean as a model parameter) alternates

* **E-step**, per row, with only its observed entries:
  ``h | x_o ~ N(m, Σ_o)`` with ``Σ_o = (I + W_oᵀ Ψ_o⁻¹ W_o)⁻¹`` and
  ``m = Σ_o W_oᵀ Ψ_o⁻¹ (x_o − μ_o)``. ``Σ_o`` and the gain
  ``Σ_o W_oᵀ Ψ_o⁻¹`` depend only on the set ``o``, so rows that share a
  missingness pattern share that ``k × k`` work.
* **M-step**, per feature ``j``, over the rows ``i`` that observe it, with
  ``h̃ = (h, 1)``: ``A_j = Σ_i E[h̃ h̃ᵀ]``, ``b_j = Σ_i x_ij E[h̃]`` and

  .. math::

      (w_j, μ_j) = A_j^{-1} b_j, \qquad
      ψ_j = \frac{1}{N_j}\Big(\sum_i x_{ij}^2 − (w_j, μ_j)ᵀ b_j\Big),

  and for PPCA ``σ² = Σ_j N_j ψ_j / Σ_j N_j`` (all observed entries pooled).
  The loadings and the mean of a feature are updated jointly, so the step
  maximises the expected complete-data log-likelihood exactly and the
  observed-data log-likelihood never decreases. Each ``ψ_j`` is held at or
  above a floor, which keeps the step a constrained maximiser.

Cost. A pattern with many rows enters the E-step through its sufficient
statistics ``(n_p, x̄_p, scatter_p)`` of the observed columns, computed once:
every sum above is linear or quadratic in ``x_o`` and the posterior mean is
linear in ``x_o``, so an iteration costs ``O(d² k)`` per pattern, whatever
``n``. Complete data are one pattern: the cost of the complete-data EM.
Patterns with few rows (entries missing at random) are handled row by row, in
one batch: ``O(n d k)`` per iteration plus ``O(k³)`` per pattern.

Numerics. The algebra is that of :class:`~latentmodels._gaussian.LinearGaussian`
(Woodbury and the determinant lemma through ``M_o = I + W̃_oᵀ W̃_o`` with
``W̃ = Ψ^{-1/2} W``; the quadratic form as the non-negative sum
``‖r̃ − W̃_o m‖² + ‖m‖²``), written for a stack of sub-models at once, since a
data set missing at random has about one pattern per row. The fitted model
scores a few patterns with one ``LinearGaussian`` per observed sub-model; the
tests check both routes against each other and against scipy.

Acceleration. Iterations are SQUAREM steps (Varadhan & Roland 2008) kept only
when they do not lower the likelihood, so the guarantees of EM stay.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._gaussian import LinearGaussian, floor_noise
from ._stats import SufficientStats
from ._validation import (
    check_array_finite,
    check_n_components,
    check_positive_int,
    check_positive_scalar,
)

_LOG_2PI = np.log(2.0 * np.pi)

# A pattern with at least max(this, n_features) rows enters the E-step through
# its sufficient statistics; the others are handled row by row. Both routes give
# the same numbers to rounding.
_MIN_ROWS_FOR_STATS = 32


# --- missingness patterns ------------------------------------------------------
def check_patterns(patterns: np.ndarray, inverse: np.ndarray) -> None:
    """Reject rows with every entry missing and columns never observed.

    A row with every entry missing carries no information about the model and
    a column that is never observed has no estimable mean or variance: both
    get a ValueError that names them. Works on the distinct patterns
    (:func:`group_patterns`), so it costs nothing per row.
    """
    empty = ~patterns.any(axis=1)
    if empty.any():
        empty_rows = np.flatnonzero(empty[inverse])
        raise ValueError(
            f"X has {empty_rows.size} row{'s' if empty_rows.size > 1 else ''} with "
            f"every entry missing (rows {_head(empty_rows)}); such a row carries no "
            "information: drop it before fitting (impute(X) can fill it afterwards "
            "with the model mean)."
        )
    empty_cols = np.flatnonzero(~patterns.any(axis=0))
    if empty_cols.size:
        raise ValueError(
            f"X has {empty_cols.size} column{'s' if empty_cols.size > 1 else ''} that "
            f"{'are' if empty_cols.size > 1 else 'is'} never observed (columns "
            f"{_head(empty_cols)}); their mean and variance cannot be estimated: "
            "drop these columns before fitting."
        )


def _head(idx: np.ndarray, n: int = 5) -> str:
    text = ", ".join(str(i) for i in idx[:n])
    return text + (", ..." if idx.size > n else "")


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


# Up to this many distinct patterns, the fitted model scores rows pattern by
# pattern with a LinearGaussian on the observed sub-model; beyond, in one batch
# (the row E-step's algebra), which avoids a Python loop over ~n patterns.
_MAX_PATTERNS_ONE_BY_ONE = 64


def _observed_rows(model: LinearGaussian, X: np.ndarray):
    """Posterior means ``E[h | x_o]`` (n, k) and ``log N(x_o; μ_o, C_oo)`` (n,).

    A row with no observed entry gets the prior mean 0 and log-density 0 (the
    empty marginal).
    """
    observed = ~np.isnan(X)
    patterns, inverse, _ = group_patterns(observed)
    n, k = X.shape[0], model.components.shape[0]
    if patterns.shape[0] > _MAX_PATTERNS_ONE_BY_ONE:
        W, psi = model.components.T, model.noise_variance
        isd = 1.0 / np.sqrt(psi)
        Wt = W * isd[:, None]
        outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(-1, k * k)
        M_inv, logdet = _pattern_posteriors(patterns.astype(float), Wt, isd, outer_w)
        mask = observed.astype(np.float64)
        R = np.where(observed, X - model.mean, 0.0) * isd
        H, quad = _row_posteriors(R, mask, M_inv[inverse], Wt)
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


# --- exact EM -------------------------------------------------------------------
@dataclass
class MissingEMResult:
    """What :func:`fit_missing` found.

    Attributes
    ----------
    components : ndarray of shape (n_components, n_features)
        Loadings ``Wᵀ`` (in the basis EM ended in; any rotation is as good).
    noise_variance : ndarray of shape (n_features,)
        Diagonal of ``Ψ`` (constant for PPCA).
    mean : ndarray of shape (n_features,)
    loglike : list of float
        Mean observed-data log-likelihood per row after each iteration; never
        decreases.
    n_iter : int
    converged : bool
    """

    components: np.ndarray
    noise_variance: np.ndarray
    mean: np.ndarray
    loglike: list
    n_iter: int
    converged: bool


class _ObservedData:
    """The data as EM needs it: big patterns as statistics, the rest as rows.

    Columns are centred on their observed means (``offset``) to keep the
    second moments free of cancellation; the fitted mean adds it back.
    """

    def __init__(self, X: np.ndarray, observed: np.ndarray, groups: tuple):
        n, d = X.shape
        self.n, self.d = n, d
        patterns, inverse, counts = groups
        # at least d rows: the padded d × d scatter costs no more than the rows
        big = counts >= max(_MIN_ROWS_FOR_STATS, d)
        if patterns.shape[0] > 1:
            order = np.argsort(inverse, kind="stable")
        else:
            order = np.arange(n)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        self.n_observed = counts @ patterns.astype(np.float64)  # N_j
        totals = np.zeros(d)  # Σ_i x_ij over observed rows, for the offset
        # patterns fitted from statistics, zero-padded to d features:
        # mask (P, d), n_p (P,), x̄_p (P, d), scatter_p (P, d, d)
        big_idx = np.flatnonzero(big)
        self.block_mask = patterns[big_idx].astype(np.float64)
        self.block_n = counts[big_idx].astype(np.float64)
        self.block_mean = np.zeros((big_idx.size, d))
        self.block_scatter = np.zeros((big_idx.size, d, d))
        for b, p in enumerate(big_idx):
            obs = patterns[p]
            if counts[p] == n:
                block = X  # complete data: no copy
            else:
                block = X.take(order[bounds[p] : bounds[p + 1]], axis=0)
                if not obs.all():
                    block = block.compress(obs, axis=1)
            s = SufficientStats.from_array(block)
            self.block_mean[b, obs] = s.mean
            self.block_scatter[b][np.ix_(obs, obs)] = s.scatter
        totals += self.block_n @ self.block_mean
        # patterns fitted row by row (missing entries set to 0)
        small = ~big
        in_small = small[inverse]
        self.row_patterns = patterns[small].astype(np.float64)
        self.row_counts = counts[small]
        self.row_pattern_of = (np.cumsum(small) - 1)[inverse[in_small]]
        row_obs = observed[in_small]
        self.row_mask = row_obs.astype(np.float64)
        self.rows = np.where(row_obs, X[in_small], 0.0)
        totals += self.rows.sum(axis=0)
        self.offset = totals / self.n_observed
        # centre: the block means and the observed row entries
        self.block_mean -= self.block_mask * self.offset
        diag = np.diagonal(self.block_scatter, axis1=1, axis2=2)
        self.sum_sq = diag.sum(axis=0) + self.block_n @ self.block_mean**2
        self.rows -= self.offset * self.row_mask
        self.sum_sq += np.einsum("ij,ij->j", self.rows, self.rows)
        self.var = self.sum_sq / self.n_observed  # observed variance
        self.block_d = self.block_mask.sum(axis=1)
        self.block_diag = np.diagonal(self.block_scatter, axis1=1, axis2=2).copy()

    def pairwise_covariance(self) -> np.ndarray:
        """Covariance from the pairs of entries observed together (for a start)."""
        scatter = self.block_scatter.sum(axis=0) + self.rows.T @ self.rows
        scatter += (self.block_mean.T * self.block_n) @ self.block_mean
        pair_count = (self.block_mask.T * self.block_n) @ self.block_mask
        pair_count += self.row_mask.T @ self.row_mask
        return scatter / np.maximum(pair_count, 1.0)


def _initial_parameters(data: _ObservedData, k: int, rng) -> tuple:
    """Closed-form PPCA of the pairwise covariance (Tipping & Bishop 1999)."""
    d = data.d
    S = data.pairwise_covariance()
    lam, U = linalg.eigh(S)
    lam, U = lam[::-1], U[:, ::-1]
    mean_var = float(np.mean(data.var))
    sigma2 = float(np.mean(np.maximum(lam[k:], 0.0))) if k < d else 0.0
    sigma2 = max(sigma2, 1e-3 * mean_var, np.finfo(float).tiny)
    scale = np.sqrt(np.maximum(lam[:k] - sigma2, 0.0))
    W = U[:, :k] * scale
    # A zero column is a fixed point EM cannot leave: start it at random.
    dead = scale <= 1e-6 * np.sqrt(sigma2)
    if dead.any():
        W[:, dead] = rng.standard_normal((d, int(dead.sum()))) * np.sqrt(sigma2 / d)
    return W, np.full(d, sigma2), np.zeros(d)


def _e_step(data: _ObservedData, W: np.ndarray, psi: np.ndarray, mu: np.ndarray):
    """Expected moments for the M-step and the observed-data log-likelihood.

    Returns ``A`` (d, k+1, k+1), ``b`` (d, k+1) and the mean log-likelihood
    per row at ``(W, psi, mu)``.
    """
    d, k = W.shape
    A = np.zeros((d, k + 1, k + 1))
    b = np.zeros((d, k + 1))
    isd = 1.0 / np.sqrt(psi)
    Wt = W * isd[:, None]  # W̃ = Ψ^{-1/2} W
    outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(d, k * k)
    total = 0.0
    if data.block_n.size:
        total += _e_step_blocks(data, W, Wt, isd, mu, outer_w, A, b)
    if data.rows.shape[0]:
        total += _e_step_rows(data, Wt, isd, mu, outer_w, A, b)
    return A, b, total / data.n


def _pattern_posteriors(mask, Wt, isd, outer_w):
    """``Σ_o = M_o⁻¹`` (P, k, k) and ``log det C_oo`` (P,) for each pattern.

    ``M_o = I + W̃ᵀ diag(o) W̃ = I + Σ_{j∈o} w̃_j w̃_jᵀ`` and
    ``log det C_oo = Σ_{j∈o} log ψ_j + log det M_o`` (determinant lemma).
    """
    k = Wt.shape[1]
    M = (mask @ outer_w).reshape(-1, k, k)
    M[:, np.arange(k), np.arange(k)] += 1.0
    M_inv, logdet = _spd_inverse(M)
    return M_inv, logdet - 2.0 * (mask @ np.log(isd))


def _e_step_blocks(data, W, Wt, isd, mu, outer_w, A, b) -> float:
    """E-step for the patterns known by ``(n_p, x̄_p, scatter_p)``; adds to A, b.

    With the gain ``G = Σ_o W_oᵀ Ψ_o⁻¹`` (posterior mean ``m = G (x_o − μ_o)``)
    and ``δ = x̄ − μ``: ``Σ_i m_i = n G δ``, ``Σ_i m_i m_iᵀ = G (scatter + n δδᵀ)
    Gᵀ`` and ``Σ_i x_i m_iᵀ = (scatter + n x̄ δᵀ) Gᵀ``. The summed log-density is
    ``−½ n [d_o log 2π + log det C + tr(C⁻¹ S) + δᵀ C⁻¹ δ]`` with ``S =
    scatter / n`` and ``tr(C⁻¹ S) = tr(Ψ⁻¹ S) − tr(Wᵀ Ψ⁻¹ S Gᵀ)`` (Woodbury).
    """
    k = Wt.shape[1]
    mask, n_p, xbar = data.block_mask, data.block_n, data.block_mean
    M_inv, logdet = _pattern_posteriors(mask, Wt, isd, outer_w)
    WP = mask[:, :, None] * (Wt * isd[:, None])  # Ψ⁻¹ W_o, (P, d, k)
    gain_t = WP @ M_inv  # Gᵀ (P, d, k)
    delta = xbar - mask * mu  # δ, 0 where missing
    m_bar = (delta[:, None, :] @ gain_t)[:, 0]  # G δ, (P, k)
    SG = data.block_scatter @ gain_t  # scatter Gᵀ, (P, d, k)
    # log-likelihood; the quadratic form of δ as ‖δ̃ − W̃ m̄‖² + ‖m̄‖²
    resid = (delta - (m_bar @ W.T) * mask) * isd
    maha = (resid * resid).sum(axis=1) + (m_bar * m_bar).sum(axis=1)
    trace = (data.block_diag @ isd**2 - (WP * SG).sum(axis=(1, 2))) / n_p
    total = -0.5 * n_p @ (data.block_d * _LOG_2PI + logdet + trace + maha)
    # M-step moments, the same for every feature a pattern observes
    Ht = np.concatenate([m_bar, np.ones((n_p.size, 1))], axis=1)  # E[h̃] mean
    T = (n_p[:, None, None] * Ht[:, :, None]) * Ht[:, None, :]
    T[:, :k, :k] += n_p[:, None, None] * M_inv + np.swapaxes(gain_t, 1, 2) @ SG
    A += (mask.T @ T.reshape(n_p.size, -1)).reshape(A.shape)
    b[:, :k] += SG.sum(axis=0)
    b += (xbar.T * n_p) @ Ht
    return float(total)


def _spd_inverse(M: np.ndarray):
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


def _row_posteriors(R, mask, M_inv_rows, Wt):
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


def _e_step_rows(data, Wt, isd, mu, outer_w, A, b) -> float:
    """Row-by-row E-step for the patterns with few rows, batched; adds to A, b.

    Per pattern, ``M_o = I + W̃_oᵀ W̃_o`` with ``W̃ = Ψ^{-1/2} W`` (zero rows
    where a feature is missing); per row, ``m = M_o⁻¹ W̃ᵀ r̃`` and the
    log-density ``−½[d_o log 2π + log det C_oo + ‖r̃ − W̃ m‖² + ‖m‖²]``, where
    ``log det C_oo = Σ_o log ψ_j + log det M_o`` and the quadratic form is a sum
    of non-negative terms (``r̃ᵀ C̃⁻¹ r̃ = min_h ‖r̃ − W̃ h‖² + ‖h‖²``).
    """
    d, k = Wt.shape
    P = data.row_patterns  # (P, d) float
    M_inv, logdet = _pattern_posteriors(P, Wt, isd, outer_w)
    pat = data.row_pattern_of
    mask = data.row_mask
    R = mask * mu
    np.subtract(data.rows, R, out=R)  # residuals, 0 where missing
    R *= isd  # whitened
    H, quad = _row_posteriors(R, mask, M_inv[pat], Wt)
    n_obs = mask.sum(axis=1)
    ll = -0.5 * (n_obs * _LOG_2PI + logdet[pat] + quad)
    # M-step moments: Σ_i E[h̃ h̃ᵀ] and Σ_i x_ij E[h̃] over rows observing j.
    Ht = np.hstack([H, np.ones((H.shape[0], 1))])
    outer_h = np.einsum("na,nb->nab", Ht, Ht).reshape(-1, (k + 1) ** 2)
    A += (mask.T @ outer_h).reshape(d, k + 1, k + 1)
    cov_sum = (data.row_counts[:, None] * M_inv.reshape(-1, k * k)).T @ P
    A[:, :k, :k] += cov_sum.T.reshape(d, k, k)
    b += data.rows.T @ Ht
    return float(ll.sum())


def _m_step(data: _ObservedData, A, b, isotropic: bool, floor: np.ndarray):
    """Joint ``(w_j, μ_j)`` by least squares on the moments, then ``Ψ`` (floored)."""
    k = A.shape[1] - 1
    coef = np.linalg.solve(A, b[:, :, None])[:, :, 0]  # (d, k+1)
    resid = np.maximum(data.sum_sq - np.einsum("ja,ja->j", coef, b), 0.0)
    if isotropic:
        psi = np.full(data.d, resid.sum() / data.n_observed.sum())
    else:
        psi = resid / data.n_observed
    return coef[:, :k], np.maximum(psi, floor), coef[:, k]


def _try_e_step(data: _ObservedData, theta: tuple):
    """E-step at an extrapolated point, or None if it is not a usable model."""
    try:
        with np.errstate(all="ignore"):
            moments = _e_step(data, *theta)
    except np.linalg.LinAlgError:  # M_o not numerically positive definite
        return None
    if not (np.isfinite(moments[2]) and np.all(np.isfinite(moments[0]))):
        return None
    return moments


def _squarem_point(theta0, theta1, theta2, floor, step_max):
    """The SQUAREM extrapolation (scheme S3) in ``(W, log ψ, μ)``, or None.

    Returns ``(candidate, α)``; None when the step length is −1 (the
    candidate would be ``θ₂`` itself) or the candidate is not finite.
    """

    def pack(theta):
        W, psi, mu = theta
        return np.concatenate([W.ravel(), np.log(psi), mu])

    t0, t1, t2 = pack(theta0), pack(theta1), pack(theta2)
    r, v = t1 - t0, t2 - 2.0 * t1 + t0
    norm_v = np.linalg.norm(v)
    if not norm_v > 0:
        return None, -1.0
    alpha = max(-np.linalg.norm(r) / norm_v, -step_max)
    if alpha >= -1.0:
        return None, alpha
    t = t0 - 2.0 * alpha * r + alpha**2 * v
    W0 = theta0[0]
    d, k = W0.shape
    W = t[: d * k].reshape(d, k)
    log_psi = np.maximum(t[d * k : d * k + d], np.log(floor))
    if not (np.all(np.isfinite(t)) and np.all(log_psi < 700.0)):
        return None, alpha
    return (W, np.exp(log_psi), t[d * k + d :]), alpha


def fit_missing(
    X: np.ndarray,
    n_components: int,
    *,
    isotropic: bool,
    noise_floor_rtol: float,
    tol: float,
    max_iter: int,
    random_state=None,
    accelerate: bool = True,
) -> MissingEMResult:
    r"""Maximum likelihood PPCA or factor analysis of data with missing entries.

    Exact EM on the observed-data log-likelihood
    ``Σ_i log N(x_{i,o_i}; μ_o, W_o W_oᵀ + Ψ_o)`` (Ilin & Raiko 2010): each
    row's posterior over the factors uses only its observed entries, rows
    that share a missingness pattern share the ``k × k`` work, and the mean
    is a parameter updated jointly with the loadings (see the module
    docstring for the E- and M-steps).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data; NaN marks a missing entry. No infinities, no row or column
        entirely missing.
    n_components : int
        Number of factors ``k`` (1 ≤ k ≤ n_features).
    isotropic : bool
        True for PPCA (``Ψ = σ² I``), False for factor analysis (diagonal Ψ).
    noise_floor_rtol : float
        Each ``ψ_j`` is held at or above ``noise_floor_rtol`` times the
        feature's observed variance (factor analysis) or the mean observed
        variance (PPCA).
    tol : float
        Stop when an iteration raises the mean observed-data log-likelihood
        per row by less than ``tol`` (nats).
    max_iter : int
        Maximum number of EM iterations; a ConvergenceWarning says when they
        ran out.
    random_state : int, RandomState instance or None
        Only used to restart a loading column that the starting point sets to
        zero (a fixed point EM cannot leave). The start is the closed-form
        PPCA of the pairwise-complete covariance.
    accelerate : bool, default=True
        SQUAREM (Varadhan & Roland 2008): each iteration takes two EM steps
        ``θ → θ₁ → θ₂`` and tries the extrapolation
        ``θ − 2α r + α² v`` (``r = θ₁ − θ``, ``v = θ₂ − 2θ₁ + θ``,
        ``α = −‖r‖/‖v‖``) in ``(W, log ψ, μ)``; it is kept only if its
        log-likelihood is at least that of ``θ₁`` (otherwise ``θ₂`` is), so
        the recorded log-likelihood still never decreases and the fixed points
        are EM's. An iteration costs two E-steps when the extrapolation is
        kept, three otherwise.
        False: one plain EM step per iteration.

    Returns
    -------
    result : MissingEMResult

    References
    ----------
    Ilin, A. & Raiko, T. (2010). Practical approaches to principal component
    analysis in the presence of missing values. JMLR 11:1957–2000.
    Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods
    for accelerating the convergence of any EM algorithm. Scand. J. Stat.
    35(2):335–353.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array, got shape {X.shape}.")
    if np.isinf(X).any():
        check_array_finite(X, allow_nan=True)  # raises, naming the rows
    d = X.shape[1]
    k = check_n_components(n_components, upper=d, upper_reason=f"n_features={d}")
    floor_rtol = check_positive_scalar(noise_floor_rtol, "noise_floor_rtol")
    tol = check_positive_scalar(tol, "tol", allow_zero=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    observed = np.isnan(X)
    np.logical_not(observed, out=observed)
    groups = group_patterns(observed)
    check_patterns(*groups[:2])
    data = _ObservedData(X, observed, groups)
    var = data.var if not isotropic else np.full(d, data.var.mean())
    # A constant feature has no scale of its own: borrow the mean variance, as
    # the complete-data fit does (a floor of ~0 would make its density blow up).
    positive = var > 0
    fallback = var[positive].mean() if positive.any() else 1.0
    var = np.where(positive, var, fallback)
    floor = floor_noise(np.zeros(d), floor_rtol * var, 1.0)  # positive
    W, psi, mu = _initial_parameters(data, k, check_random_state(random_state))
    theta = (W, np.maximum(psi, floor), mu)
    moments = _e_step(data, *theta)
    loglike, converged, change = [], False, np.inf
    step_max = 4.0
    for n_iter in range(1, max_iter + 1):
        theta1 = _m_step(data, *moments[:2], isotropic, floor)
        moments1 = _e_step(data, *theta1)
        new, new_moments = theta1, moments1
        if accelerate and moments1[2] - moments[2] >= tol:
            # θ₂ = F(θ₁) needs only the E-step at θ₁; E(θ₂) only on rejection
            theta2 = _m_step(data, *moments1[:2], isotropic, floor)
            cand, alpha = _squarem_point(theta, theta1, theta2, floor, step_max)
            cand_moments = None if cand is None else _try_e_step(data, cand)
            if cand_moments is not None and cand_moments[2] >= moments1[2]:
                new, new_moments = cand, cand_moments
                if alpha <= -step_max:
                    step_max *= 4.0
            else:
                new, new_moments = theta2, _e_step(data, *theta2)
        change = new_moments[2] - moments[2]
        theta, moments = new, new_moments
        loglike.append(moments[2])
        if change < tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"EM with missing values did not converge in max_iter={max_iter} "
            f"iterations: the last one raised the mean observed-data "
            f"log-likelihood by {change:.3g} > tol={tol:g}. Increase max_iter or "
            "loosen tol; with much of the data missing EM converges slowly.",
            ConvergenceWarning,
            stacklevel=2,
        )
    W, psi, mu = theta
    return MissingEMResult(
        components=np.ascontiguousarray(W.T),
        noise_variance=psi,
        mean=mu + data.offset,
        loglike=loglike,
        n_iter=n_iter,
        converged=converged,
    )
