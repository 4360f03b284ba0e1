r"""Probabilistic PCA (Tipping & Bishop 1999), in closed form or by EM.

The model is ``x = μ + W h + ε`` with ``h ~ N(0, I_k)`` and ``ε ~ N(0, σ² I_d)``,
so ``x ~ N(μ, W Wᵀ + σ² I)``. With ``S = U Λ Uᵀ`` the maximum likelihood
covariance (divisor ``n``), the likelihood is maximised by

.. math::

    σ² = \frac{1}{d − k}\sum_{j > k} λ_j, \qquad W = U_k (Λ_k − σ² I)^{1/2} R

for any orthogonal ``R``. The EM algorithm of the same paper works on ``S``
alone: with ``M = WᵀW + σ² I``,

.. math::

    W_{new} = S W (σ² I + M^{-1} Wᵀ S W)^{-1}, \qquad
    σ²_{new} = \tfrac1d \operatorname{tr}(S − S W M^{-1} W_{new}ᵀ),

and its fixed point is the closed form. Both routes cost ``O(d² k)`` per step
once ``S`` is known (one pass over the data). With missing entries
(``missing_values='em'``) the likelihood of the observed entries is maximised
by the exact EM of Ilin & Raiko (2010) in :mod:`latentmodels._missing`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._assessment import GoodnessOfFitMixin
from ._base import (
    GaussianLatentModel,
    IncrementalStatsMixin,
    canonical_orientation,
    ppca_n_parameters,
)
from ._em import run_em, warn_not_converged
from ._gaussian import LinearGaussian, covariance_root, floor_noise
from ._missing import fit_missing
from ._stats import SufficientStats, gram_eigenpairs, top_eigenpairs

NOISE_RTOL = 1e-12


def ppca_closed_form(S: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Maximum likelihood ``(W, σ²)`` of PPCA from the covariance ``S``."""
    d = S.shape[0]
    lam, U = top_eigenpairs(S, k)
    # the d − k smallest eigenvalues enter only through their sum
    sigma2 = (np.trace(S) - lam[:k].sum()) / (d - k) if k < d else 0.0
    sigma2 = float(floor_noise(sigma2, np.trace(S) / d, NOISE_RTOL))
    W = U[:, :k] * np.sqrt(np.maximum(lam[:k] - sigma2, 0.0))
    return canonical_orientation(W), sigma2


def ppca_em_step(
    S: np.ndarray, W: np.ndarray, sigma2: float, expanded=True, S_root=None
):
    """One EM step of Tipping & Bishop on the covariance ``S``; O(d² k).

    The E-step is the shared one of the Gaussian core
    (:meth:`LinearGaussian.em_update`, Ψ = σ² I); the M-step is
    ``W_new = S βᵀ E[h hᵀ]⁻¹`` and ``σ²_new = tr(S − W_new β S) / d``, the
    paper's update written with ``β = M⁻¹ Wᵀ / σ²``. ``expanded=True`` (the
    default) takes the parameter-expanded step (PX-EM, Liu, Rubin & Wu 1998):
    ``W_new`` times a square root of ``E[h hᵀ]``, with the same ``σ²_new`` and
    fixed points, and far faster convergence of the columns' scales.
    ``S_root`` (``L Lᵀ = S``) makes the log-likelihood accurate when ``σ²`` is
    tiny beside the leading variance (:meth:`LinearGaussian.em_moments`).

    Returns
    -------
    loglike : float
        Mean log-likelihood of the *input* ``(W, σ²)``.
    W_new : ndarray of shape (d, k)
    sigma2_new : float
    """
    d = W.shape[0]
    model = LinearGaussian(W.T, np.full(d, sigma2), np.zeros(d))
    loglike, W_new, explained = model.em_update(S, expanded=expanded, S_root=S_root)
    sigma2_new = (np.trace(S) - explained.sum()) / d
    return loglike, W_new, float(sigma2_new)


class ProbabilisticPCA(GoodnessOfFitMixin, IncrementalStatsMixin, GaussianLatentModel):
    r"""Probabilistic PCA: ``x ~ N(μ, W Wᵀ + σ² I)`` by maximum likelihood.

    Array-API input (PyTorch, CuPy, ... under
    ``sklearn.set_config(array_api_dispatch=True)``): the pass over the rows
    and the outputs of ``transform``/``inverse_transform``/``score_samples``
    run on the input's device, the small closed form or EM on the host; fitted
    attributes live on that device (user guide, :ref:`array_api`).

    Parameters
    ----------
    n_components : int or None, default=None
        Number of factors ``k`` (1 ≤ k ≤ n_features); None means n_features.
    method : {'closed_form', 'em'}, default='closed_form'
        Eigen-decomposition of ``S``, or the EM algorithm on ``S``. Both reach
        the same maximum; EM is the route that extends to missing values.
    tol : float, default=1e-10
        EM stops when one plain EM step raises the mean log-likelihood per
        sample by at most ``tol`` (nats per sample, so independent of data
        scale) *and* changes the parameters by at most ``max(tol, 1e-10)``
        relative (see the user guide, "EM: acceleration and stopping
        rule").
    max_iter : int, default=10000
        Maximum number of EM map evaluations (E-steps); SQUAREM's extrapolated
        points count as one each.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initial loadings of EM.
    missing_values : {'raise', 'em'}, default='raise'
        What NaN in ``X`` means. ``'raise'``: an error. ``'em'``: a missing
        entry; the model is fitted to the observed entries by exact EM
        (Ilin & Raiko 2010), whatever ``method`` says, with ``tol`` and
        ``max_iter`` as above. ``score_samples`` then gives the marginal
        log-likelihood of each row's observed entries and ``transform`` the
        posterior mean given them; ``impute`` fills the missing entries with
        their conditional expectation. Complete data take the ordinary path.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``Wᵀ`` in canonical orientation (orthogonal rows sorted by norm,
        largest entry of each row positive): ``(Λ_k − σ² I)^{1/2} U_kᵀ``.
    noise_variance_ : ndarray of shape (n_features,)
        ``σ²`` broadcast to every feature.
    mean_ : ndarray of shape (n_features,)
    n_components_ : int
    loglike_ : list of float
        Mean log-likelihood per sample at the start of EM and after each
        accepted update (one value for the closed form). Never decreases.
    n_iter_ : int
        EM map evaluations (1 for the closed form, a single solve).
    stop_reason_ : str
        Why EM stopped: ``"converged"``, ``"no_progress"`` (at the maximum to
        working precision) or ``"max_iter"``; ``"closed_form"`` otherwise.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    References
    ----------
    Tipping, M. E. & Bishop, C. M. (1999). Probabilistic principal component
    analysis. JRSS-B 61(3):611–622.
    Ilin, A. & Raiko, T. (2010). Practical approaches to principal component
    analysis in the presence of missing values. JMLR 11:1957–2000.

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels import ProbabilisticPCA
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((200, 5)) @ np.diag([3, 2, 1, 1, 1])
    >>> model = ProbabilisticPCA(n_components=2).fit(X)
    >>> model.components_.shape
    (2, 5)
    """

    _parameter_constraints: dict = {
        # its range depends on the data: checked in fit (_resolve_n_components)
        "n_components": "no_validation",
        "method": [StrOptions({"closed_form", "em"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "missing_values": [StrOptions({"raise", "em"})],
    }
    _array_api_support = True

    def __init__(
        self,
        n_components=None,
        *,
        method="closed_form",
        tol=1e-10,
        max_iter=10000,
        random_state=None,
        missing_values="raise",
    ):
        self.n_components = n_components
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.missing_values = missing_values

    def _fit_array(self, X: np.ndarray) -> None:
        if not np.isnan(X).any():
            if self.method == "closed_form" and X.shape[0] < X.shape[1]:
                if self._fit_wide(X):
                    return
            return super()._fit_array(X)
        if hasattr(self, "_sufficient_stats"):  # partial_fit cannot resume this fit
            del self._sufficient_stats
        k = self._resolve_n_components(X.shape[0], X.shape[1])
        result = fit_missing(
            X,
            k,
            isotropic=True,
            noise_floor_rtol=NOISE_RTOL,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            estimator="ProbabilisticPCA(missing_values='em')",
        )
        self.components_ = canonical_orientation(result.components.T).T
        self.noise_variance_ = result.noise_variance
        self.mean_ = result.mean
        self.n_components_ = k
        self.loglike_ = result.loglike
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason

    def _fits_on_device(self, n_samples: int, n_features: int) -> bool:
        """Array-API input: the scatter on the device unless the Gram route applies."""
        return self.method == "em" or n_samples >= n_features

    def _fit_wide(self, X: np.ndarray) -> bool:
        """Closed form for wide data (n < d) from the ``n × n`` Gram matrix.

        Same maximum as the covariance route without forming the ``d × d``
        matrix: ``O(n² d)`` instead of ``O(n d² + d³)``. Returns False (and
        fits nothing) when the Gram route does not apply (rank deficiency, or
        more components than centred directions).
        """
        n, d = X.shape
        k = self._resolve_n_components(n, d)
        mean = X.mean(axis=0, dtype=np.float64)
        Xc = np.asarray(X, dtype=np.float64) - mean
        s2, Vt = gram_eigenpairs(Xc, k)
        if s2 is None:
            return False
        if hasattr(self, "_sufficient_stats"):  # partial_fit cannot resume this fit
            del self._sufficient_stats
        lam = s2[:k] / n
        total = np.einsum("ij,ij->", Xc, Xc) / n
        sigma2 = float(
            floor_noise((total - lam.sum()) / (d - k), total / d, NOISE_RTOL)
        )
        W = canonical_orientation(Vt[:k].T * np.sqrt(np.maximum(lam - sigma2, 0.0)))
        model = LinearGaussian(W.T, np.full(d, sigma2), mean)
        self.components_ = W.T
        self.noise_variance_ = np.full(d, sigma2)
        self.mean_ = mean
        self.n_components_ = k
        self.loglike_ = [float(model.log_likelihood_rows(X).mean())]
        self.n_iter_ = 1
        self.stop_reason_ = "closed_form"
        return True

    def _fit_stats(self, stats: SufficientStats) -> None:
        d = stats.n_features
        k = self._resolve_n_components(stats.n, d)
        S = stats.covariance
        if self.method == "closed_form":
            W, sigma2 = ppca_closed_form(S, k)
            loglike, n_iter, reason = [self._mean_ll(W, sigma2, stats)], 1, None
        else:
            W, sigma2, loglike, n_iter, reason = self._em(S, k)
        self.components_ = W.T
        self.noise_variance_ = np.full(d, sigma2)
        self.mean_ = stats.mean
        self.n_components_ = k
        self.loglike_ = loglike
        self.n_iter_ = n_iter
        self.stop_reason_ = reason or "closed_form"

    @staticmethod
    def _mean_ll(W, sigma2, stats) -> float:
        model = LinearGaussian(W.T, np.full(stats.n_features, sigma2), stats.mean)
        S = stats.covariance  # the root keeps σ² at its floor accurate (k = d)
        return model.mean_log_likelihood(stats.mean, S, root=covariance_root(S))

    def _em(self, S, k):
        """Tipping & Bishop's EM on ``S`` through the engine, with SQUAREM.

        SQUAREM extrapolates on ``(W / s, log(σ² / s²))`` with ``s² = tr(S)/d``
        (unit scale whatever the data's units); ``σ²`` is held at or above
        ``NOISE_RTOL · s²``. Starts from random loadings of scale ``s``.
        """
        d = S.shape[0]
        rng = check_random_state(self.random_state)
        var = float(np.trace(S) / d)
        scale = np.sqrt(var)
        root = covariance_root(S)

        def em_map(theta):
            W, sigma2 = theta
            ll, W_new, s2_new = ppca_em_step(S, W, sigma2, S_root=root)
            return ll, (W_new, float(floor_noise(s2_new, var, NOISE_RTOL)))

        def pack(theta):
            W, sigma2 = theta
            return np.append(W.ravel() / scale, np.log(sigma2 / var))

        def unpack(t):
            sigma2 = var * np.exp(min(t[-1], 700.0))
            return t[:-1].reshape(d, k) * scale, float(
                floor_noise(sigma2, var, NOISE_RTOL)
            )

        W0 = rng.standard_normal((d, k)) * scale
        res = run_em(
            em_map,
            (W0, var),
            pack=pack,
            unpack=unpack,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        warn_not_converged(
            "ProbabilisticPCA(method='em')",
            res,
            tol=self.tol,
            max_iter=self.max_iter,
            hint="Increase max_iter, loosen tol, or use method='closed_form'.",
        )
        W, sigma2 = res.params
        W = canonical_orientation(W)
        return W, sigma2, res.loglike, res.n_iter, res.stop_reason

    def _n_parameters(self) -> int:
        return ppca_n_parameters(self.n_features_in_, self.n_components_)
