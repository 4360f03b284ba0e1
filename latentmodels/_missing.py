r"""PPCA and factor analysis with missing entries: exact EM, or Newton's method.

The model is the linear-Gaussian one, ``x = μ + W h + ε`` with
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

Numerics. The observed-data algebra (Woodbury and the determinant lemma
through ``M_o = I + W̃_oᵀ W̃_o`` with ``W̃ = Ψ^{-1/2} W``; the quadratic form as
the non-negative sum ``‖r̃ − W̃_o m‖² + ‖m‖²``, for a stack of sub-models at
once) belongs to the Gaussian core, :mod:`latentmodels._gaussian_observed`;
this module accumulates the E-step's moments and takes the M-step. A
pattern known by its statistics enters the quadratic form through pseudo-rows
``R`` with ``Rᵀ R`` its scatter (:func:`_pseudo_rows`), evaluated like rows:
the trace identity ``tr(Ψ⁻¹ S) − tr(Wᵀ Ψ⁻¹ S Gᵀ)`` cancels terms of size
``1/ψ_j`` and was 4e-7 nats per row off at a Heywood boundary (``ψ_j`` at
``1e-6`` of the variance), enough to stop Newton and EM short of the maximum
(5 of 18 fits on standardised wine, diabetes and breast cancer with 10–30%
missing ran to max_iter). The log-likelihood is now within 1e-12 of a
long-double reference at ``1e-6`` and 6e-11 at ``1e-8``; it degrades below
(7e-7 at ``1e-10``), and the fitted model's scoring
(:mod:`latentmodels._gaussian_observed`) has its own pattern-by-pattern route
for such near-degenerate fits (PPCA of data of exact rank ``k``).

Three routes (measured with ``benchmarks/bench_missing.py``, n=20000, d=50,
k=5, 20% missing, and on standardised wine, diabetes and breast cancer with
10–30% missing; user guide, "Missing values"):

* **Newton** (:mod:`latentmodels._missing_newton`): each E-step also gives
  the exact gradient (Fisher's identity) and, from the same posteriors, the
  exact Hessian of the observed-data log-likelihood
  (:mod:`latentmodels._missing_hessian`); safeguarded Newton steps converge
  quadratically: 4–5 E-steps where EM takes 10–19 (and the EM before the
  engine 21–36). The Hessian of the patterns known by their statistics
  costs ``O(P d² k²)``, nothing beside the linear algebra of the step; that
  of the rows handled one by one costs ``O(n (d k)²)``, about 13 E-steps at
  n=20000, d=50, k=5 (at random, every row its own pattern). Where EM
  converges in tens of E-steps Newton is slower in time (block patterns:
  21 vs 15 ms for FA; at random: 1.3 s vs 0.57 s); where EM crawls it is far
  faster (FA on wine or diabetes with 10–30% missing: 8–60 E-steps where EM
  takes 60–5800, 2–55× less time). The default therefore runs EM first and
  hands over to Newton after ``_EM_BEFORE_NEWTON`` (30) E-steps without
  convergence, when there are at most ``_NEWTON_MAX_PARAMS`` parameters
  ``d (k + 2)``.
* **EM with SQUAREM** first, and alone beyond that size (or
  ``accelerate=False`` for plain EM): the EM map through the package's one
  engine, :func:`latentmodels._em.run_em`, SQUAREM (Varadhan & Roland 2008)
  in ``(W / s, log ψ, μ / s)`` (``s`` the observed standard deviation of
  each feature), extrapolated points kept only when they do not lower the
  likelihood, so the guarantees of EM stay. Forcing Newton there (n=20000,
  d=50, k=5, at random) takes 4 E-steps instead of 8 (PPCA) and 5 instead
  of 19 (FA), but 3 Hessians, 2.5–5 times the wall time of EM.

* **EM over the missing entries** (:mod:`latentmodels._missing_filled`),
  for factor analysis beyond Newton's size (``d (k + 2) > 1000``, at most 150
  features): the factors are not missing data there, the M-step is the
  complete-data profile fit of the expected scatter; its rate is the
  information the missing entries carry, not the factors'.

All stop when the last step changes both the log-likelihood (Newton: its
predicted gain) and the parameters by less than their tolerances, and never
lower the recorded log-likelihood. Also measured, and not used: the
closed-form factor analysis of the pairwise covariance as a start (saves one
Newton step at random, none in blocks, and led Newton to a poorer maximum on
a small sample) and an EM that treats only the missing entries as missing,
``M(θ)`` the complete-data fit of ``E[x xᵀ | x_o, θ]`` (rate ≈ 0.23, i.e. 11–15
E-steps with SQUAREM: no better than the EM above).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.utils import check_random_state

from ._em import EMResult as _EngineResult
from ._em import HeywoodJump, param_property, run_em, warn_not_converged
from ._gaussian import _LOG_2PI, floor_noise
from ._gaussian_observed import group_patterns, pattern_posteriors, row_posteriors
from ._missing_filled import FilledEMMap
from ._missing_newton import fit_newton
from ._profile import ProfileLikelihood, fit_profile, fit_screened, starting_points
from ._stats import SufficientStats
from ._threads import blas_threads
from ._validation import check_array_finite, check_n_components

# A pattern with at least max(this, n_features) rows enters the E-step through
# its sufficient statistics; the others are handled row by row. Both routes give
# the same numbers to rounding.
_MIN_ROWS_FOR_STATS = 32

# Newton's method (exact Hessian of the d (k + 2) parameters) is used up to
# this many parameters. Measured at 20% missing at random (one BLAS thread):
# Newton and EM with SQUAREM take the same time at n=300, d=8, k=2 (PPCA; FA:
# Newton 2.5x faster), Newton 1.5-4x slower at n=1000, d=20, k=3, and a
# Hessian costs ~13 E-steps at n=20000, d=50, k=5 (every row its own pattern).
_NEWTON_MAX_PARAMS = 1000
# By default EM (SQUAREM) runs first and Newton takes over after this many
# E-steps without convergence: EM converges in 8-19 E-steps on the benchmark's
# cases (n = 20000, where a Hessian costs ~13 E-steps, and 5 block patterns,
# where EM's steps cost a fraction of a Newton step), while on slow cases
# (standardised wine and diabetes, 10-30% missing, FA with k = 2-5) EM needed
# 60-5800 E-steps and Newton 8-60, 2-55x faster in time.
_EM_BEFORE_NEWTON = 30
# ... unless EM is still climbing fast: more than _FAR_GAIN nats per row over
# its last _EM_CHUNK E-steps (PPCA on raw breast cancer with its target,
# k = 15: EM converges in 69 E-steps, 0.15 s; Newton from E-step 30 took 46
# mostly damped steps, 0.8 s)
_EM_CHUNK = 10
_FAR_GAIN = 0.1
# Newton's lower bound on ψ_j relative to the feature's variance, where the
# floor is lower (see _fit_newton_route)
_SAFE_FLOOR_RTOL = 1e-8
# Newton's own budget of E-steps; a run still going then continues by EM.
# Breast cancer on its raw scales with its target column (10% missing, k = 15, 527
# parameters) needs ~300 damped Newton steps (8-10 s) where EM had not
# converged in 10 000 E-steps (25 s); with 100, 4 of 5 seeds ran to max_iter
_NEWTON_MAX_ITER = 500
# Beyond _NEWTON_MAX_PARAMS, factor analysis with up to this many features
# is fitted by the EM over the missing entries, whose M-step is the
# complete-data profile fit (as FactorAnalysis's solver='auto' up to this
# size): standardised digits, 10% missing, k = 20, 93 E-steps and 6 s a start
# where EM with SQUAREM had not converged in 10 000 (213 s); started after 30
# EM E-steps instead it stopped at a lower maximum (-61.2717 vs -61.2657)
_FILLED_MAX_FEATURES = 150


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


# --- exact EM -------------------------------------------------------------------
class MissingEMResult(_EngineResult):
    """:class:`latentmodels._em.EMResult` of :func:`fit_missing`.

    ``params`` is ``(W, ψ, μ)`` (μ on the data's scale); the properties name
    them as the estimators store them.

    Attributes
    ----------
    components : ndarray of shape (n_components, n_features)
        Loadings ``Wᵀ`` (in the basis EM ended in; any rotation is as good).
    noise_variance : ndarray of shape (n_features,)
        Diagonal of ``Ψ`` (constant for PPCA).
    mean : ndarray of shape (n_features,)
    loglike : list of float
        Mean observed-data log-likelihood per row, at the start and after each
        accepted update; never decreases.
    n_iter : int
        E-steps (evaluations of the EM map).
    converged : bool
    """

    components = param_property(
        0, "Loadings ``Wᵀ`` (k, d).", lambda W: np.ascontiguousarray(W.T)
    )
    noise_variance = param_property(1, "Diagonal of ``Ψ`` (d,).")
    mean = param_property(2, "Mean ``μ`` (d,).")


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
        self.block_root = _pseudo_rows(self.block_scatter)

    def pairwise_covariance(self) -> np.ndarray:
        """Covariance from the pairs of entries observed together (for a start)."""
        scatter = self.block_scatter.sum(axis=0) + self.rows.T @ self.rows
        scatter += (self.block_mean.T * self.block_n) @ self.block_mean
        pair_count = (self.block_mask.T * self.block_n) @ self.block_mask
        pair_count += self.row_mask.T @ self.row_mask
        return scatter / np.maximum(pair_count, 1.0)


def _pseudo_rows(scatter: np.ndarray) -> np.ndarray:
    """Rows ``R`` (P, d, d) with ``Rᵀ R`` each block's scatter (Cholesky ``Lᵀ``).

    A block's sum of quadratic forms ``Σ_i (x_i − x̄)ᵀ C⁻¹ (x_i − x̄) =
    tr(C⁻¹ scatter)`` is the sum over these ``d`` pseudo-rows, which the
    E-step evaluates like real rows, as a sum of non-negative terms
    (:func:`latentmodels._gaussian_observed.row_posteriors`). Through the
    statistics, ``tr(Ψ⁻¹ S) − tr(Wᵀ Ψ⁻¹ S Gᵀ)`` cancels terms of size
    ``1/ψ_j``: near a Heywood boundary (``ψ_j`` at ``1e-6`` of the feature's
    variance) it was seen 4e-7 nats per row off, the pseudo-rows 1e-12.
    """
    # zero rows and columns (missing features) padded with 1 on the diagonal
    # for Cholesky's sake, and zeroed again in the root
    pad = np.diagonal(scatter, axis1=1, axis2=2) == 0
    try:
        L = np.linalg.cholesky(scatter + pad[:, :, None] * np.eye(scatter.shape[1]))
        return np.ascontiguousarray(np.swapaxes(L, 1, 2)) * ~pad[:, None, :]
    except np.linalg.LinAlgError:  # a singular scatter (collinear features)
        lam, V = np.linalg.eigh(scatter)
        root = V * np.sqrt(np.maximum(lam, 0.0))[:, None, :]
        return np.ascontiguousarray(np.swapaxes(root, 1, 2))


def _initial_parameters(data: _ObservedData, k: int, rng) -> tuple:
    """Closed-form PPCA of the pairwise covariance (Tipping & Bishop 1999).

    No pass over the rows. PPCA's start, and one of factor analysis's (with
    :func:`_fa_parameters`): neither of the two always leads EM to the best
    maximum of the observed-data likelihood.
    """
    d = data.d
    lam, U = linalg.eigh(data.pairwise_covariance())
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


def _pairwise_psd(data: _ObservedData) -> np.ndarray:
    """The pairwise covariance made positive definite (for a start).

    With entries missing it need not be positive semi-definite: its
    eigenvalues are raised to at least ``1e-6`` of the largest.
    """
    lam, V = linalg.eigh(data.pairwise_covariance())
    return (V * np.maximum(lam, 1e-6 * max(lam[-1], np.finfo(float).tiny))) @ V.T


def _fa_parameters(data: _ObservedData, k: int, rng, floor_rtol: float) -> tuple:
    """Factor analysis of the pairwise covariance: the complete-data fit.

    ``S`` (:func:`_pairwise_psd`) is scaled to a correlation matrix ``R``
    and its profile likelihood maximised over ψ
    (:func:`latentmodels._profile.fit_profile`, the floor ``floor_rtol`` on
    that scale) as FactorAnalysis fits a covariance by default: from
    ``factanal``'s SMC start and two random ones (``rng``), the later ones
    screened against the maxima found (they stop once they join one), the
    best kept and mapped back to the data's scale. A few milliseconds for d
    in the tens (4 ms at d = 50, k = 5), no pass over the rows.

    The pairwise covariance estimates ``C = W Wᵀ + Ψ`` consistently under
    data missing completely at random, so this start lies near a maximum of
    the observed-data likelihood: on standardised breast cancer with 10% and
    30% of the entries missing, k = 5, EM from it reached maxima 0.11 and
    0.19 nats per sample above the best of ten starts from the PPCA and
    random points (``_initial_parameters``, ``_random_parameters``). The
    pairwise fit's own starts matter: on standardised wine, 10% missing,
    k = 5, only a random one finds the pairwise fit that leads EM to the
    best maximum (0.019 nats per sample above the others).
    """
    S = _pairwise_psd(data)
    sd = np.sqrt(np.diag(S))
    R = S / np.outer(sd, sd)
    floor = np.full(data.d, floor_rtol)
    starts = starting_points(R, k, floor, n_init=3, init="smc", rng=rng)
    fits = fit_screened(
        [psi0 for _, psi0 in starts],
        lambda psi0, known, last: fit_profile(
            R, psi0, k, floor=floor, tol=1e-8, max_iter=200, known=known,
            curvature=not last,
        ),
    )
    best = max(fits, key=lambda res: res.loglike[-1])
    return best.W * sd[:, None], best.psi * sd**2, np.zeros(data.d)


def _random_parameters(data: _ObservedData, k: int, rng) -> tuple:
    """A random start: ``ψ_j = v_j u_j``, ``u_j`` uniform on ``[0.1, 0.9]``.

    ``v_j`` is the observed variance; ``W = Ψ^{1/2} U_k (Λ_k − I)_+^{1/2}``,
    the loadings that maximise the likelihood of the pairwise covariance ``S``
    for that ``Ψ`` (``Λ_k, U_k`` the leading eigenpairs of
    ``Ψ^{-1/2} S Ψ^{-1/2}``), with ``S`` made positive semi-definite first
    (its eigenvalues raised to at least ``1e-6`` of the largest: with entries
    missing it need not be).
    """
    S = _pairwise_psd(data)
    psi = np.maximum(np.diag(S), np.finfo(float).tiny) * rng.uniform(0.1, 0.9, data.d)
    profile = ProfileLikelihood(S, k)
    x = np.log(psi)
    _, lam, U = profile.evaluate(x, full=False)
    return profile.loadings(x, lam, U), psi, np.zeros(data.d)


def _e_step(data: _ObservedData, W: np.ndarray, psi: np.ndarray, mu: np.ndarray):
    """Expected moments for the M-step and the observed-data log-likelihood.

    Returns ``A`` (d, k+1, k+1), ``b`` (d, k+1), the mean log-likelihood
    per row at ``(W, psi, mu)`` and ``H = Σ_i E[h̃_i h̃_iᵀ]`` (k+1, k+1) over
    all rows (for the parameter-expanded step of :func:`_m_step`).
    """
    d, k = W.shape
    A = np.zeros((d, k + 1, k + 1))
    b = np.zeros((d, k + 1))
    H = np.zeros((k + 1, k + 1))
    isd = 1.0 / np.sqrt(psi)
    Wt = W * isd[:, None]  # W̃ = Ψ^{-1/2} W
    outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(d, k * k)
    total = 0.0
    if data.block_n.size:
        total += _e_step_blocks(data, W, Wt, isd, mu, outer_w, A, b, H)
    if data.rows.shape[0]:
        total += _e_step_rows(data, Wt, isd, mu, outer_w, A, b, H)
    return A, b, total / data.n, H


def _loglike_blocks(data: _ObservedData, W, psi, mu) -> float:
    """Summed log-density of the patterns known by their statistics.

    :func:`_e_step_blocks` with its moments thrown away (a few patterns:
    cheap); the EM over the missing entries
    (:class:`latentmodels._missing_filled.FilledEMMap`) needs only this.
    """
    d, k = W.shape
    isd = 1.0 / np.sqrt(psi)
    Wt = W * isd[:, None]
    outer_w = (Wt[:, :, None] * Wt[:, None, :]).reshape(d, k * k)
    A, b = np.zeros((d, k + 1, k + 1)), np.zeros((d, k + 1))
    H = np.zeros((k + 1, k + 1))
    return _e_step_blocks(data, W, Wt, isd, mu, outer_w, A, b, H)


def _e_step_blocks(data, W, Wt, isd, mu, outer_w, A, b, H) -> float:
    """E-step for the patterns known by ``(n_p, x̄_p, scatter_p)``; adds to A, b, H.

    With the gain ``G = Σ_o W_oᵀ Ψ_o⁻¹`` (posterior mean ``m = G (x_o − μ_o)``)
    and ``δ = x̄ − μ``: ``Σ_i m_i = n G δ``, ``Σ_i m_i m_iᵀ = G (scatter + n δδᵀ)
    Gᵀ`` and ``Σ_i x_i m_iᵀ = (scatter + n x̄ δᵀ) Gᵀ``. The summed log-density is
    ``−½ n [d_o log 2π + log det C + tr(C⁻¹ S) + δᵀ C⁻¹ δ]`` with ``S =
    scatter / n``; ``n tr(C⁻¹ S)`` is the sum of the quadratic forms of the
    block's pseudo-rows (:func:`_pseudo_rows`), each ``‖r̃ − W̃ m‖² + ‖m‖²``.
    """
    k = Wt.shape[1]
    mask, n_p, xbar = data.block_mask, data.block_n, data.block_mean
    M_inv, logdet = pattern_posteriors(mask, Wt, isd, outer_w)
    WP = mask[:, :, None] * (Wt * isd[:, None])  # Ψ⁻¹ W_o, (P, d, k)
    gain_t = WP @ M_inv  # Gᵀ (P, d, k)
    delta = xbar - mask * mu  # δ, 0 where missing
    m_bar = (delta[:, None, :] @ gain_t)[:, 0]  # G δ, (P, k)
    SG = data.block_scatter @ gain_t  # scatter Gᵀ, (P, d, k)
    # log-likelihood; the quadratic form of δ as ‖δ̃ − W̃ m̄‖² + ‖m̄‖², and
    # tr(C⁻¹ S) as that of the pseudo-rows (see _pseudo_rows), not through
    # tr(Ψ⁻¹ S) − tr(Wᵀ Ψ⁻¹ S Gᵀ), which cancels terms of size 1/ψ_j
    resid = (delta - (m_bar @ W.T) * mask) * isd
    maha = (resid * resid).sum(axis=1) + (m_bar * m_bar).sum(axis=1)
    m_roots = data.block_root @ gain_t  # their posterior means, (P, d, k)
    res_roots = data.block_root - (m_roots @ W.T) * mask[:, None, :]
    res_roots *= isd
    trace = (np.einsum("pij,pij->p", res_roots, res_roots)
             + np.einsum("pia,pia->p", m_roots, m_roots)) / n_p
    total = -0.5 * n_p @ (data.block_d * _LOG_2PI + logdet + trace + maha)
    # M-step moments, the same for every feature a pattern observes
    Ht = np.concatenate([m_bar, np.ones((n_p.size, 1))], axis=1)  # E[h̃] mean
    T = (n_p[:, None, None] * Ht[:, :, None]) * Ht[:, None, :]
    T[:, :k, :k] += n_p[:, None, None] * M_inv + np.swapaxes(gain_t, 1, 2) @ SG
    A += (mask.T @ T.reshape(n_p.size, -1)).reshape(A.shape)
    H += T.sum(axis=0)
    b[:, :k] += SG.sum(axis=0)
    b += (xbar.T * n_p) @ Ht
    return float(total)


def _e_step_rows(data, Wt, isd, mu, outer_w, A, b, H_sum) -> float:
    """Row-by-row E-step for the patterns with few rows, batched; adds to A, b, H.

    Per pattern, ``M_o = I + W̃_oᵀ W̃_o`` with ``W̃ = Ψ^{-1/2} W`` (zero rows
    where a feature is missing); per row, ``m = M_o⁻¹ W̃ᵀ r̃`` and the
    log-density ``−½[d_o log 2π + log det C_oo + ‖r̃ − W̃ m‖² + ‖m‖²]``, where
    ``log det C_oo = Σ_o log ψ_j + log det M_o`` and the quadratic form is a sum
    of non-negative terms (``r̃ᵀ C̃⁻¹ r̃ = min_h ‖r̃ − W̃ h‖² + ‖h‖²``).
    """
    d, k = Wt.shape
    P = data.row_patterns  # (P, d) float
    M_inv, logdet = pattern_posteriors(P, Wt, isd, outer_w)
    pat = data.row_pattern_of
    mask = data.row_mask
    R = mask * mu
    np.subtract(data.rows, R, out=R)  # residuals, 0 where missing
    R *= isd  # whitened
    H, quad = row_posteriors(R, mask, M_inv[pat], Wt)
    n_obs = mask.sum(axis=1)
    ll = -0.5 * (n_obs * _LOG_2PI + logdet[pat] + quad)
    # M-step moments: Σ_i E[h̃ h̃ᵀ] and Σ_i x_ij E[h̃] over rows observing j.
    Ht = np.hstack([H, np.ones((H.shape[0], 1))])
    outer_h = np.einsum("na,nb->nab", Ht, Ht).reshape(-1, (k + 1) ** 2)
    A += (mask.T @ outer_h).reshape(d, k + 1, k + 1)
    cov = data.row_counts[:, None] * M_inv.reshape(-1, k * k)
    A[:, :k, :k] += (cov.T @ P).T.reshape(d, k, k)
    H_sum += Ht.T @ Ht
    H_sum[:k, :k] += cov.sum(axis=0).reshape(k, k)
    b += data.rows.T @ Ht
    return float(ll.sum())


def _m_step(data: _ObservedData, A, b, H, isotropic: bool, floor: np.ndarray):
    r"""Joint ``(w_j, μ_j)`` by least squares on the moments, ``Ψ`` (floored), PX.

    Then the parameter-expanded step (PX-EM, Liu, Rubin & Wu 1998): with the
    factors given a free prior ``h ~ N(η, Σ)`` in the M-step, its maximiser is
    ``η = Σ_i E[h_i] / n``, ``Σ = Σ_i E[h_i h_iᵀ] / n − η ηᵀ`` (from ``H``), and
    the model maps back to ``h ~ N(0, I)`` as ``μ ← μ + W η``,
    ``W ← W Σ^{1/2}`` (symmetric root), ``Ψ`` unchanged. It is an EM step of
    the expanded model, so the observed-data log-likelihood still never
    decreases and the fixed points are EM's, and it sets the scale and the
    centre of the factors in one step where plain EM crawls.
    """
    k = A.shape[1] - 1
    coef = np.linalg.solve(A, b[:, :, None])[:, :, 0]  # (d, k+1)
    resid = np.maximum(data.sum_sq - np.einsum("ja,ja->j", coef, b), 0.0)
    if isotropic:
        psi = np.full(data.d, resid.sum() / data.n_observed.sum())
    else:
        psi = resid / data.n_observed
    W, mu = coef[:, :k], coef[:, k]
    eta = H[:k, k] / data.n
    Sigma = H[:k, :k] / data.n - np.outer(eta, eta)
    e, V = np.linalg.eigh(Sigma)
    if e[0] > 0:
        mu = mu + W @ eta
        W = W @ ((V * np.sqrt(e)) @ V.T)
    return W, np.maximum(psi, floor), mu


class _MissingEMMap:
    """The EM map ``(W, ψ, μ) ↦ (ℓ, M(W, ψ, μ))`` on the observed data.

    :meth:`pack` gives SQUAREM's coordinates ``(W / s, log ψ, μ / s)`` with
    ``s`` the observed standard deviation of each feature (a unit scale, for
    the step length and the relative parameter change); :meth:`unpack` holds
    extrapolated noise variances at the floor.
    """

    def __init__(self, data: _ObservedData, isotropic: bool, floor: np.ndarray, k):
        self.data, self.isotropic, self.floor, self.k = data, isotropic, floor, k
        self.sd = np.sqrt(np.where(data.var > 0, data.var, 1.0))
        self._log_floor = np.log(floor)

    def __call__(self, theta):
        A, b, ll, H = _e_step(self.data, *theta)
        if not (np.isfinite(ll) and np.all(np.isfinite(A))):
            return -np.inf, None
        return ll, _m_step(self.data, A, b, H, self.isotropic, self.floor)

    def pack(self, theta) -> np.ndarray:
        W, psi, mu = theta
        return np.concatenate(
            [(W / self.sd[:, None]).ravel(), np.log(psi), mu / self.sd]
        )

    def unpack(self, t: np.ndarray):
        d, k = self.sd.size, self.k
        W = t[: d * k].reshape(d, k) * self.sd[:, None]
        log_psi = np.minimum(np.maximum(t[d * k : d * k + d], self._log_floor), 700.0)
        return W, np.exp(log_psi), t[d * k + d :] * self.sd


def _heywood_jump(data: _ObservedData, floor: np.ndarray, isotropic: bool):
    """Factor analysis: noise variances falling towards 0 tried at the floor.

    Only where the E-step stays accurate at the floor (the floor at least
    ``1e-8`` of each feature's variance; the default ``noise_floor=1e-6`` of
    FactorAnalysis is): below, the observed-data log-likelihood loses digits
    (module docstring), and a jump must be judged on it.
    """
    if isotropic or not np.all(floor >= 1e-8 * data.var):
        return None
    return HeywoodJump(data.var, floor)


def _fit_newton_route(data, theta0, F, *, isotropic, floor, var, tol, param_tol,
                      max_iter, joined=None):
    """Newton's method (:mod:`latentmodels._missing_newton`), then EM if needed.

    Newton's noise variances are bounded below by the floor, or by
    ``_SAFE_FLOOR_RTOL`` (1e-8) of the feature's variance where the floor is
    lower: the E-step's log-likelihood is accurate to ~1e-10 nats per row down
    to there (measured against a long-double reference: 1e-12 at ``1e-6``,
    6e-11 at ``1e-8``, 7e-7 at ``1e-10``), and Newton would take a spurious
    gain below it. A Heywood case ends with variances held at that bound (at
    the floor, for FactorAnalysis's default ``1e-6``). When Newton stalls (its
    points refused again and again), when its own budget ``_NEWTON_MAX_ITER``
    runs out, or when it ends held at a bound above the floor, EM (SQUAREM,
    with the engine's Heywood jump) goes on from Newton's point. The trace
    and the count of E-steps cover both.
    """
    bound = np.maximum(floor, _SAFE_FLOOR_RTOL * var)
    # factor analysis starts from PPCA, far from its maximum: one EM step
    # first saves a Hessian (measured: 5 E-steps either way, 3 Hessians not 4)
    res = fit_newton(
        data, theta0, e_step=_e_step,
        m_step=lambda A, b, H: _m_step(data, A, b, H, isotropic, bound),
        isotropic=isotropic, floor=bound, tol=tol,
        max_iter=min(max_iter, _NEWTON_MAX_ITER), param_tol=param_tol,
        pack=F.pack, em_first=0 if isotropic else 1, joined=joined,
    )
    held = (res.params[1] <= bound * (1.0 + 1e-9)) & (bound > floor)
    stuck = res.stop_reason == "stalled" or (
        res.stop_reason == "max_iter" and res.n_iter < max_iter
    )
    if not (stuck or (res.converged and held.any())):
        return res
    em = run_em(
        F, res.params, pack=F.pack, unpack=F.unpack, tol=tol, param_tol=param_tol,
        max_iter=max(max_iter - res.n_iter, 1),
        jump=_heywood_jump(data, floor, isotropic), joined=joined,
    )
    em.loglike = res.loglike[:-1] + em.loglike
    em.n_iter += res.n_iter
    return em


def _newton_after_em(data, F, slow, max_iter, route):
    """Newton's route from where a slow EM run stopped (its budget spent).

    Newton gets at most ``_NEWTON_MAX_ITER`` E-steps; when it does not
    converge in them, EM with SQUAREM resumes, with the E-steps left, from
    Newton's point or, where that is lower, from EM's. The trace is EM's
    followed by the runs kept, so it never decreases; ``n_iter`` counts every
    E-step spent.
    """
    left = max_iter - slow.n_iter
    fast = _fit_newton_route(
        data, slow.params, F, max_iter=min(left, _NEWTON_MAX_ITER), **route
    )
    trace = slow.loglike[:-1]
    if not fast.converged and fast.stop_reason != "joined" and fast.n_iter < left:
        spent = fast.n_iter
        start = slow.params
        if fast.loglike[-1] >= slow.loglike[-1]:  # go on from Newton's point
            start, trace = fast.params, trace + fast.loglike[:-1]
        fast = run_em(
            F, start, pack=F.pack, unpack=F.unpack, tol=route["tol"],
            param_tol=route["param_tol"], max_iter=left - spent,
            jump=_heywood_jump(data, route["floor"], route["isotropic"]),
            joined=route["joined"],
        )
        fast.n_iter += spent
    fast.loglike = trace + fast.loglike
    fast.n_iter += slow.n_iter
    return fast


def _fit_route(data, theta0, F, k, *, newton, filled, switch, accelerate,
               max_iter, route):
    """The route of :func:`fit_missing` (its ``newton`` parameter)."""
    tol, param_tol, joined = route["tol"], route["param_tol"], route["joined"]
    if newton:
        return _fit_newton_route(data, theta0, F, max_iter=max_iter, **route)
    if filled:
        return run_em(FilledEMMap(data, F, _loglike_blocks, k), theta0, tol=tol,
                      param_tol=param_tol, max_iter=max_iter, joined=joined)
    jump = _heywood_jump(data, route["floor"], route["isotropic"])
    budget = min(max_iter, _EM_BEFORE_NEWTON) if switch else max_iter
    res = run_em(
        F, theta0, pack=F.pack, unpack=F.unpack, tol=tol, param_tol=param_tol,
        max_iter=budget, accelerate=accelerate, jump=jump, joined=joined,
    )
    # EM still climbing fast is far from the top, where Newton's quadratic
    # model is poor: it goes on, _EM_CHUNK E-steps at a time
    while (switch and res.stop_reason == "max_iter" and res.n_iter < max_iter
           and _recent_gain(res, _EM_CHUNK) > _FAR_GAIN):
        more = run_em(
            F, res.params, pack=F.pack, unpack=F.unpack, tol=tol,
            param_tol=param_tol, max_iter=min(_EM_CHUNK, max_iter - res.n_iter),
            accelerate=accelerate, jump=jump, joined=joined,
        )
        more.loglike = res.loglike[:-1] + more.loglike
        more.n_iter += res.n_iter
        res = more
    if switch and res.stop_reason == "max_iter" and res.n_iter < max_iter:
        res = _newton_after_em(data, F, res, max_iter, route)
    return res


def _recent_gain(res, e_steps: int) -> float:
    """Rise of the log-likelihood over about the last ``e_steps`` E-steps."""
    trace = res.loglike
    back = int(round(e_steps * (len(trace) - 1) / max(res.n_iter, 1)))
    return trace[-1] - trace[max(len(trace) - 1 - max(back, 1), 0)]


def observed_data(X) -> _ObservedData:
    """Check ``X`` (NaN for missing) and arrange it for :func:`fit_missing`.

    A caller fitting several starts prepares the data once and passes the
    result to each :func:`fit_missing` call in place of ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array, got shape {X.shape}.")
    if np.isinf(X).any():
        check_array_finite(X, allow_nan=True)  # raises, naming the rows
    observed = np.isnan(X)
    np.logical_not(observed, out=observed)
    groups = group_patterns(observed)
    check_patterns(*groups[:2])
    return _ObservedData(X, observed, groups)


def warn_missing_not_converged(estimator, res, *, tol, max_iter) -> None:
    """The ConvergenceWarning of a missing-value fit that ran out of E-steps."""
    warn_not_converged(
        estimator,
        res,
        tol=tol,
        max_iter=max_iter,
        hint="Increase max_iter or loosen tol; with much of the data missing EM "
        "converges slowly.",
    )


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
    param_tol=None,
    estimator: str = "EM with missing values",
    newton=None,
    init="ppca",
    warn: bool = True,
    joined=None,
) -> MissingEMResult:
    r"""Maximum likelihood PPCA or factor analysis of data with missing entries.

    Newton's method or exact EM (module docstring) on the observed-data
    log-likelihood
    ``Σ_i log N(x_{i,o_i}; μ_o, W_o W_oᵀ + Ψ_o)`` (Ilin & Raiko 2010): each
    row's posterior over the factors uses only its observed entries, rows
    that share a missingness pattern share the ``k × k`` work, and the mean
    is a parameter updated jointly with the loadings (see the module
    docstring for the E- and M-steps).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or _ObservedData
        Data; NaN marks a missing entry. No infinities, no row or column
        entirely missing. Or the data prepared by :func:`observed_data`.
    n_components : int
        Number of factors ``k`` (1 ≤ k ≤ n_features).
    isotropic : bool
        True for PPCA (``Ψ = σ² I``), False for factor analysis (diagonal Ψ).
    noise_floor_rtol : float
        Each ``ψ_j`` is held at or above ``noise_floor_rtol`` times the
        feature's observed variance (factor analysis) or the mean observed
        variance (PPCA).
    tol : float
        Log-likelihood tolerance (nats per row): the run stops when one plain
        EM step (Newton: the step's predicted gain) raises the mean
        observed-data log-likelihood by at most ``tol`` and changes the
        parameters by at most ``param_tol`` relative (the stopping rule of
        :mod:`latentmodels._em`).
    max_iter : int
        Maximum number of E-steps (passes over the data computing the
        posterior moments, one per Newton step or evaluation of the EM map);
        a ConvergenceWarning naming ``estimator`` says when they ran out.
    random_state : int, RandomState instance or None
        Draws the ``'random'`` start, and restarts a loading column that the
        ``'ppca'`` start sets to zero (a fixed point EM cannot leave).
    accelerate : bool, default=True
        SQUAREM (Varadhan & Roland 2008, scheme SqS3, through
        :func:`latentmodels._em.run_em`) in ``(W / s, log ψ, μ / s)``; an
        extrapolated point is kept only if its log-likelihood is at least that
        of the plain EM step it started from, so the recorded log-likelihood
        never decreases and the fixed points are EM's. False: plain EM.
    param_tol : float or None, default=None
        Relative parameter tolerance of the stopping rule; None means
        ``max(tol, latentmodels._em.PARAM_TOL)``.
    estimator : str
        Name used in the ConvergenceWarning.
    newton : bool or None, default=None
        True: Newton's route (:mod:`latentmodels._missing_newton`); False:
        EM (with SQUAREM when ``accelerate``); None: EM with SQUAREM, and
        Newton's route from where it is after ``_EM_BEFORE_NEWTON`` (30)
        E-steps without convergence, when ``accelerate`` and there are at most
        ``_NEWTON_MAX_PARAMS`` parameters ``d (k + 2)``; beyond that,
        factor analysis with at most ``_FILLED_MAX_FEATURES`` features is
        fitted by the EM over the missing entries only
        (:mod:`latentmodels._missing_filled`) when ``accelerate``.
    init : {'ppca', 'fa', 'random'} or tuple, default='ppca'
        The start: the closed-form PPCA of the pairwise-complete covariance
        (:func:`_initial_parameters`), its complete-data factor analysis
        (:func:`_fa_parameters`), random noise variances with the
        loadings that suit them (:func:`_random_parameters`), or ``(W, ψ, μ)``
        (e.g. a result's ``params``, to go on from where it stopped).
    warn : bool, default=True
        Give the ConvergenceWarning here (a caller fitting several starts
        gives it for the start it keeps).
    joined : callable, optional
        ``joined(θ, ℓ) -> bool`` with ``θ = (W, ψ, μ)`` (μ in the centred
        coordinates, ``ℓ`` the mean log-likelihood per row), asked after each
        accepted update: True ends the run as ``"joined"`` (a later start
        that reached a maximum already found, :func:`latentmodels._em.run_em`).

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
    data = X if isinstance(X, _ObservedData) else observed_data(X)
    d = data.d
    k = check_n_components(n_components, upper=d, upper_reason=f"n_features={d}")
    var = data.var if not isotropic else np.full(d, data.var.mean())
    # A constant feature has no scale of its own: borrow the mean variance, as
    # the complete-data fit does (a floor of ~0 would make its density blow up).
    positive = var > 0
    fallback = var[positive].mean() if positive.any() else 1.0
    var = np.where(positive, var, fallback)
    floor = floor_noise(np.zeros(d), noise_floor_rtol * var, 1.0)  # positive
    rng = check_random_state(random_state)
    # None: EM first, Newton once EM has taken _EM_BEFORE_NEWTON E-steps
    # without converging (where Newton's Hessian is affordable)
    switch = newton is None and accelerate and d * (k + 2) <= _NEWTON_MAX_PARAMS
    if switch and _EM_BEFORE_NEWTON <= 0:
        newton = True
    # beyond Newton's size, factor analysis is fitted by the EM over the
    # missing entries (complete-data profile M-step, :mod:`_missing_filled`)
    filled = (newton is None and accelerate and not switch and not isotropic
              and d <= _FILLED_MAX_FEATURES)
    if isinstance(init, tuple):  # parameters on the data's scale
        W, psi, mu = (np.asarray(x, dtype=np.float64) for x in init)
        mu = mu - data.offset
    elif init == "random":
        W, psi, mu = _random_parameters(data, k, rng)
    elif init == "fa":
        W, psi, mu = _fa_parameters(data, k, rng, noise_floor_rtol)
    elif init == "ppca":
        W, psi, mu = _initial_parameters(data, k, rng)
    else:
        raise ValueError(
            f"init must be 'ppca', 'fa', 'random' or a tuple, got {init!r}."
        )
    theta0 = (W, np.maximum(psi, floor), mu)
    F = _MissingEMMap(data, isotropic, floor, k)
    route = dict(isotropic=isotropic, floor=floor, var=var, tol=tol,
                 param_tol=param_tol, joined=joined)
    # BLAS on one thread: every product here (batched k × k and d × k per
    # pattern, the Hessian's in blocks of 1024 rows) is below the size where
    # threads pay (latentmodels._threads.THREADED_BLAS_FLOPS); on 2 cores, raw
    # breast cancer (PPCA, k = 15) took 6.7 s with 2 threads, 0.8 s with one
    with blas_threads(1):
        res = _fit_route(data, theta0, F, k, newton=newton, filled=filled,
                         switch=switch, accelerate=accelerate,
                         max_iter=max_iter, route=route)
    if warn:
        warn_missing_not_converged(estimator, res, tol=tol, max_iter=max_iter)
    W, psi, mu = res.params
    res.params = (W, psi, mu + data.offset)
    return MissingEMResult(**vars(res))
