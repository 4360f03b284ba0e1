r"""Principal component analysis, read as the maximum likelihood PPCA model.

PCA projects centred data on the ``k`` leading eigenvectors ``U_k`` of the
covariance. Read as a probabilistic model (Tipping & Bishop 1999), the same
eigen-decomposition gives the maximum likelihood Gaussian ``N(μ, W Wᵀ + σ² I)``
with ``W = U_k (Λ_k − σ² I)^{1/2}`` and ``σ²`` the mean of the discarded
eigenvalues; ``score`` is that model's log-likelihood. As in scikit-learn, the
eigenvalues here are those of the unbiased covariance (divisor ``n − 1``).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import linalg
from scipy.special import gammaln
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.extmath import randomized_svd

from ._base import (
    GaussianLatentModel,
    ppca_n_parameters,
    sign_flip,
)
from ._docstrings import fill_doc
from ._gaussian import _LOG_2PI, floor_noise
from ._stats import SufficientStats, gram_eigenpairs, top_eigenpairs
from ._validation import check_n_components

# σ² is held at or above this fraction of the mean variance, so the model
# covariance stays positive definite when the discarded spectrum is zero.
NOISE_RTOL = 1e-12


def minka_log_evidence(spectrum: np.ndarray, n_samples: int) -> np.ndarray:
    r"""Laplace approximation of the PPCA evidence for each rank (Minka 2000).

    For rank ``k`` with eigenvalues ``λ`` (descending, length ``d``) and
    ``σ̂² = Σ_{j>k} λ_j / (d − k)``:

    .. math::

        \log p(D | k) ≈ \log p(U) − \tfrac{n}{2}\sum_{j≤k}\log λ_j
        − \tfrac{n(d−k)}{2}\log σ̂² + \tfrac{m+k}{2}\log 2π
        − \tfrac12 \log|A_Z| − \tfrac{k}{2}\log n,

    with ``m = dk − k(k+1)/2``, ``p(U) = 2^{-k} Π_i Γ((d−i+1)/2) π^{-(d−i+1)/2}``
    and ``|A_Z| = Π_{i≤k} Π_{j>i} n (λ̂_j^{-1} − λ̂_i^{-1})(λ_i − λ_j)`` where
    ``λ̂_j = σ̂²`` for ``j > k``.

    Returns
    -------
    log_evidence : ndarray of shape (d,)
        Entry ``k`` is the evidence of rank ``k``; entry 0 is ``-inf`` (rank 0
        is not considered), as are ranks whose ``λ_k`` is numerically zero.
    """
    lam = np.asarray(spectrum, dtype=np.float64)
    d = lam.shape[0]
    out = np.full(d, -np.inf)
    tiny = 1e-15
    for k in range(1, d):
        if lam[k - 1] < tiny:
            continue
        i = np.arange(1, k + 1)
        log_pu = -k * np.log(2.0) + np.sum(
            gammaln((d - i + 1) / 2.0) - np.log(np.pi) * (d - i + 1) / 2.0
        )
        v = max(tiny, lam[k:].sum() / (d - k))
        lam_hat = np.concatenate([lam[:k], np.full(d - k, v)])
        m = d * k - k * (k + 1) / 2.0
        # pairs i < j with i ≤ k: (λ_i − λ_j)(1/λ̂_j − 1/λ̂_i) n
        ii, jj = np.triu_indices(d, 1)
        keep = ii < k
        ii, jj = ii[keep], jj[keep]
        log_az = np.sum(
            np.log((lam[ii] - lam[jj]) * (1.0 / lam_hat[jj] - 1.0 / lam_hat[ii]))
            + np.log(n_samples)
        )
        out[k] = (
            log_pu
            - n_samples / 2.0 * np.sum(np.log(lam[:k]))
            - n_samples * (d - k) / 2.0 * np.log(v)
            + (m + k) / 2.0 * _LOG_2PI
            - log_az / 2.0
            - k * np.log(n_samples) / 2.0
        )
    return out


class PCA(GaussianLatentModel):
    r"""Principal component analysis with the probabilistic PCA likelihood.

    Array-API input (PyTorch, CuPy, ... under
    ``sklearn.set_config(array_api_dispatch=True)``): the pass over the rows
    and the outputs of ``transform``/``inverse_transform``/``score_samples``
    run on the input's device, the small eigendecomposition on the host; fitted
    attributes live on that device (user guide, :ref:`array_api`).

    Parameters
    ----------
    n_components : int, float in (0, 1), 'mle' or None, default=None
        Number of components. A float keeps the fewest components whose
        explained variance ratio exceeds it; ``'mle'`` picks ``k`` by Minka's
        (2000) Laplace evidence; None keeps ``min(n_samples, n_features)``.
    whiten : bool, default=False
        If True, ``transform`` divides each projection by the square root of
        its explained variance, so the outputs have unit variance. The model
        (and ``get_covariance``) does not change.
    svd_solver : str, default='auto'
        One of ``'auto'``, ``'full'``, ``'covariance_eigh'``, ``'gram_eigh'``,
        ``'randomized'``. ``'covariance_eigh'`` eigen-decomposes the ``d × d``
        covariance, accumulated in one pass of BLAS rank-k updates on rows
        shifted by a provisional mean (see the user guide, "How PCA computes
        its scatter"; fastest when ``n_samples >= n_features``);
        ``'gram_eigh'`` eigen-decomposes the ``n × n`` Gram matrix of the
        centred data (fastest for wide data; falls back to ``'full'`` when the
        data are rank deficient); ``'full'`` is the thin SVD of the centred
        data; ``'randomized'`` is the Halko et al. (2011) approximation of
        scikit-learn. ``'auto'`` picks the fastest exact route:
        ``'covariance_eigh'`` for tall data, ``'gram_eigh'`` for wide data.
    random_state : int, RandomState instance or None, default=None
        Used by the randomized solver only.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Principal axes ``U_kᵀ`` (unit rows, largest entry positive).
    explained_variance_ : ndarray of shape (n_components,)
        Eigenvalues ``λ_1 ≥ … ≥ λ_k`` of the covariance (divisor ``n − 1``).
    explained_variance_ratio_ : ndarray of shape (n_components,)
    singular_values_ : ndarray of shape (n_components,)
        Singular values of the centred data, ``√((n − 1) λ_i)``.
    noise_variance_ : ndarray of shape (n_features,)
        The PPCA ``σ²`` (mean of the discarded eigenvalues) broadcast to
        every feature, held at or above ``1e-12`` times the mean variance.
    mean_ : ndarray of shape (n_features,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Notes
    -----
    ``score`` and ``score_samples`` are the log-likelihood of the PPCA model
    ``N(mean_, W Wᵀ + σ² I)`` with ``W = U_k (Λ_k − σ² I)^{1/2}`` — the model
    does not depend on ``whiten`` (scikit-learn#13898).

    References
    ----------
    Tipping, M. E. & Bishop, C. M. (1999). Probabilistic principal component
    analysis. JRSS-B 61:611–622.
    Minka, T. P. (2000). Automatic choice of dimensionality for PCA. NIPS 13.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from latentmodels import PCA
    >>> X = load_digits().data
    >>> pca = PCA(n_components=0.9).fit(X)
    >>> pca.n_components_
    21
    """

    _parameter_constraints: dict = {
        "n_components": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "whiten": ["boolean"],
        "svd_solver": [
            StrOptions({"auto", "full", "covariance_eigh", "gram_eigh", "randomized"})
        ],
        "random_state": ["random_state"],
    }
    _array_api_support = True

    def __init__(
        self, n_components=None, *, whiten=False, svd_solver="auto", random_state=None
    ):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state

    # --- fitting ------------------------------------------------------------------
    @fill_doc
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the principal axes (and the PPCA model) to ``X``.

        A Dask array is reduced to its sufficient statistics in one
        distributed pass (``svd_solver='covariance_eigh'`` or ``'auto'``).

        %(fit_sections)s
        """
        return super().fit(X, y)

    def _choose_solver(self, n: int, d: int) -> str:
        """The solver for ``n × d`` data; ``'auto'``: covariance if ``n ≥ d``."""
        solver = self.svd_solver
        if solver == "auto":
            solver = "covariance_eigh" if n >= d else "gram_eigh"
        if solver == "randomized" and not (
            isinstance(self.n_components, numbers.Integral)
            and not isinstance(self.n_components, bool)
        ):
            raise ValueError(
                "svd_solver='randomized' needs an integer n_components, got "
                f"{self.n_components!r}; pass an integer or use svd_solver='full'."
            )
        return solver

    def _fits_on_device(self, n_samples: int, n_features: int) -> bool:
        """Array-API input: the covariance route on the device; others on the host."""
        return self._choose_solver(n_samples, n_features) == "covariance_eigh"

    def _check_n_components_arg(self, n: int, d: int):
        """The checks of ``n_components`` that depend on the data's shape.

        Its type and range are declared in ``_parameter_constraints``.
        """
        nc = self.n_components
        if nc is None or nc == "mle":
            if nc == "mle" and n < d:
                raise ValueError(
                    f"n_components='mle' needs n_samples >= n_features, got "
                    f"n_samples={n} < n_features={d}; pass an integer instead."
                )
            return nc
        if isinstance(nc, numbers.Real) and not isinstance(nc, numbers.Integral):
            return float(nc)
        return check_n_components(
            nc,
            upper=min(n, d),
            upper_reason=f"min(n_samples, n_features) = min({n}, n_features={d})",
        )

    def _fit_array(self, X: np.ndarray) -> None:
        n, d = X.shape
        nc = self._check_n_components_arg(n, d)
        solver = self._choose_solver(n, d)
        if solver == "covariance_eigh":
            self._fit_stats(SufficientStats.from_array(X))
            return
        mean = X.mean(axis=0, dtype=np.float64)
        Xc = np.asarray(X, dtype=np.float64) - mean
        total = np.einsum("ij,ij->", Xc, Xc) / (n - 1)
        if solver == "gram_eigh" and (
            nc is None or (isinstance(nc, numbers.Integral) and nc > n - 1)
        ):
            solver = "full"  # the Gram route has only the n − 1 centred directions
        if solver == "gram_eigh":
            lam, Vt = gram_eigenpairs(Xc, nc if isinstance(nc, int) else None)
            if lam is not None:
                self._set_spectrum(mean, lam / (n - 1), Vt, total, n, nc, solver)
                return
            solver = "full"  # rank-deficient Gram matrix: take the SVD instead
        if solver == "full":
            _, sv, Vt = linalg.svd(Xc, full_matrices=False)
        else:
            _, sv, Vt = randomized_svd(
                Xc, nc, random_state=self.random_state, flip_sign=False
            )
        self._set_spectrum(mean, sv**2 / (n - 1), Vt, total, n, nc, solver)

    def _fit_stats(self, stats: SufficientStats) -> None:
        """The ``'covariance_eigh'`` route: eigh of the ``d × d`` covariance."""
        n, d = stats.n, stats.n_features
        nc = self._check_n_components_arg(n, d)
        solver = self._choose_solver(n, d)
        if solver != "covariance_eigh":
            raise ValueError(
                f"svd_solver={self.svd_solver!r} needs the rows of X, but this fit "
                "only has its covariance (a Dask array or partial statistics); "
                "use svd_solver='covariance_eigh'."
            )
        r = min(n, d)
        # an integer k needs only the top k pairs; the rest enter through the trace
        k = nc if isinstance(nc, numbers.Integral) else None
        lam, U = top_eigenpairs(stats.scatter / (n - 1), k)
        lam, U = np.maximum(lam[:r], 0.0), U[:, :r]
        total = np.trace(stats.scatter) / (n - 1)
        self._set_spectrum(stats.mean, lam, U.T, total, n, nc, solver)

    def _set_spectrum(self, mean, lam, Vt, total, n, nc, solver) -> None:
        """Choose ``k`` and set the fitted attributes from the spectrum."""
        d = mean.shape[0]
        r = min(n, d)
        if nc is None:
            k = r if solver != "randomized" else lam.size
        elif nc == "mle":
            k = int(np.argmax(minka_log_evidence(lam, n)))
        elif isinstance(nc, float):
            ratio = np.cumsum(lam) / total if total > 0 else np.ones_like(lam)
            k = min(int(np.searchsorted(ratio, nc, side="right") + 1), lam.size)
        else:
            k = nc
        rest = (total - lam[:k].sum()) / (r - k) if k < r else 0.0
        sigma2 = float(floor_noise(max(rest, 0.0), total / d, NOISE_RTOL))

        self.components_ = sign_flip(Vt[:k])
        self.explained_variance_ = lam[:k].copy()
        self.explained_variance_ratio_ = lam[:k] / total if total > 0 else np.zeros(k)
        self.singular_values_ = np.sqrt(lam[:k] * (n - 1))
        self.noise_variance_ = np.full(d, sigma2)
        self.mean_ = mean
        self.n_components_ = k
        self.n_samples_ = n

    # --- the model ------------------------------------------------------------------
    def _loadings(self) -> np.ndarray:
        """PPCA loadings ``(Λ_k − σ² I)^{1/2} U_kᵀ``."""
        scale = np.sqrt(
            np.maximum(self.explained_variance_ - self.noise_variance_[0], 0)
        )
        return self.components_ * scale[:, None]

    def _n_parameters(self) -> int:
        return ppca_n_parameters(self.n_features_in_, self.n_components_)

    def _transform_matrix(self):
        """``(U_k, μ)``, whitened by ``Λ_k^{-1/2}`` if asked (see transform)."""
        B = self.components_.T
        if self.whiten:
            B = B / np.sqrt(np.maximum(self.explained_variance_, np.finfo(float).tiny))
        return B, self.mean_

    def _inverse_matrix(self):
        """``(U_kᵀ, μ)``, un-whitened by ``Λ_k^{1/2}`` if asked."""
        if self.whiten:
            return self.components_ * np.sqrt(self.explained_variance_)[:, None], (
                self.mean_
            )
        return self.components_, self.mean_

    def _transform_array(self, X: np.ndarray) -> np.ndarray:
        B, mean = self._transform_matrix()
        return (X - mean) @ B

    @fill_doc
    def transform(self, X):
        """Project on the principal axes: ``(x − mean_) U_k`` (whitened if asked).

        The base class's map with ``_transform_matrix``'s ``U_k Λ_k^{-1/2}``
        when whitened.

        %(transform_sections)s
        """
        return super().transform(X)

    @fill_doc
    def inverse_transform(self, X):
        """Map projections back: ``mean_ + z U_kᵀ`` (un-whitening first if needed).

        The base class's map with ``_inverse_matrix``'s ``Λ_k^{1/2} U_kᵀ``
        when whitened.

        %(inverse_transform_sections)s
        """
        return super().inverse_transform(X)
