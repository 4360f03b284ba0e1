"""The estimator surface shared by every Gaussian model (PCA, PPCA, FA).

A subclass says how it fits (``_fit_stats``, or ``_fit_array`` when it needs
the rows) and which loadings its Gaussian has (``_loadings``, default
``components_``); everything that follows from the model ``N(mean_, W Wᵀ + Ψ)``
— scoring, the posterior, covariance, precision, sampling, information
criteria — is written here once, on top of
:class:`~latentmodels._gaussian.LinearGaussian`.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._array_api import (
    NUMPY,
    Namespace,
    as_numpy,
    centred_product,
    codes_in_namespace,
    from_host,
    has_nan,
    host_view,
    move_fitted,
    namespace_of,
    numpy_only,
    product_plus,
    row_blocks,
    to_host,
    validate_in_namespace,
)
from ._dask import dask_sufficient_stats, is_dask_array, lazy_over_rows
from ._docstrings import fill_doc
from ._gaussian import LinearGaussian
from ._gaussian_observed import (
    impute_observed,
    posterior_mean_observed,
    score_rows_observed,
)
from ._stats import SufficientStats, stats_in_namespace
from ._validation import check_codes, check_n_components, validate_X


def _n_components(model) -> int:
    return model.components_.shape[0]


def _n_features(model) -> int:
    return model.components_.shape[1]


class GaussianLatentModel(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Base class: a fitted model ``x = mean_ + W h + ε``, ``h ~ N(0, Φ)``.

    Fitted attributes every subclass sets: ``components_`` (k, d), the
    loadings ``Wᵀ``; ``noise_variance_`` (d,), the diagonal of ``Ψ``;
    ``mean_`` (d,); ``n_components_``; ``n_features_in_``. An oblique rotation
    also sets ``factor_correlation_`` (Φ, k × k); otherwise Φ = I.
    """

    # Whether fit and the outputs follow scikit-learn's array-API convention
    # (docs/user_guide/array_api.rst); a subclass that supports it says so.
    _array_api_support = False

    # --- hooks ------------------------------------------------------------------
    def _allow_nan(self) -> bool:
        """NaN marks a missing entry when the estimator has ``missing_values='em'``."""
        return getattr(self, "missing_values", "raise") == "em"

    @property
    def _nan_hint(self) -> str:
        if hasattr(self, "missing_values"):
            return (
                "pass missing_values='em' to fit the model to the observed entries "
                "(exact EM), or remove or impute the missing entries."
            )
        return "remove or impute the missing entries."

    def _fit_stats(self, stats: SufficientStats) -> None:  # pragma: no cover
        raise NotImplementedError

    def _fit_array(self, X: np.ndarray) -> None:
        self._sufficient_stats = SufficientStats.from_array(X)
        self._fit_stats(self._sufficient_stats)

    def _loadings(self) -> np.ndarray:
        """Loadings ``Wᵀ`` (k, d) of the Gaussian model, in the factors' basis."""
        return self.components_

    def _n_parameters(self) -> int:  # pragma: no cover
        raise NotImplementedError

    # --- validation ---------------------------------------------------------------
    def _validate_declared_params(self) -> None:
        """Check the constructor arguments against ``_parameter_constraints``.

        Called once per ``fit``/``partial_fit`` (scikit-learn's constraint
        tables, ``sklearn.utils._param_validation``), for the estimators that
        declare their parameters that way; skipped where scikit-learn says so
        (inside a subclass's ``@_fit_context`` that has checked them already,
        or with ``skip_parameter_validation`` set).
        """
        if hasattr(type(self), "_parameter_constraints") and not get_config()[
            "skip_parameter_validation"
        ]:
            self._validate_params()

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        return validate_X(
            self,
            X,
            reset=reset,
            allow_nan=self._allow_nan(),
            nan_hint=self._nan_hint,
            ensure_min_samples=2 if reset else 1,
        )

    def _resolve_n_components(self, n_samples: int, n_features: int) -> int:
        """``n_components=None`` means ``n_features``; otherwise 1 ≤ k ≤ d."""
        if self.n_components is None:
            return n_features
        return check_n_components(
            self.n_components,
            upper=n_features,
            upper_reason=f"n_features={n_features}",
        )

    # --- fitting ------------------------------------------------------------------
    @fill_doc
    def fit(self, X, y=None):
        """Fit the model to ``X`` (n_samples, n_features) by maximum likelihood.

        A Dask array of complete data is reduced to its sufficient statistics
        in one distributed pass.

        %(fit_sections)s
        """
        self._validate_declared_params()
        if is_dask_array(X):
            return self._fit_dask(X)
        ns = self._input_namespace(X)
        if ns.is_array_api:
            return self._fit_namespace(X, ns)
        # One memory layout for the arithmetic: a Fortran-ordered or strided
        # array would sum in another order and change the fit by rounding.
        X = np.ascontiguousarray(self._validate(X, reset=True))
        self._fit_array(X)
        return self

    # --- array-API input (dispatch on) ----------------------------------------------
    def _input_namespace(self, X, method: str | None = None) -> Namespace:
        """Where ``X`` lives; numpy unless this estimator supports the array API.

        With ``method`` (an output method of a fitted model) scikit-learn's
        ``check_same_namespace`` first checks that ``X`` lives where the
        fitted attributes do.
        """
        if not self._array_api_support or is_dask_array(X):
            return NUMPY
        if method is not None:
            check_same_namespace(X, self, attribute="components_", method=method)
        return namespace_of(X)

    def _fits_on_device(self, n_samples: int, n_features: int) -> bool:
        """Whether a fit from ``(n, mean, scatter)`` serves ``n × d`` data.

        Then the scatter is accumulated on the input's device; otherwise
        (wide data, solvers that need the rows) the rows go to the host.
        """
        return n_samples >= n_features

    def _fit_namespace(self, X, ns: Namespace):
        """Fit an array-API ``X``: the data pass on its device, the rest on the host.

        ``(n, mean, scatter)`` are accumulated where ``X`` lives
        (:func:`~latentmodels._stats.stats_in_namespace`); the small ``d × d``
        fit runs in numpy and the fitted arrays move to ``X``'s namespace and
        device (float64, or the device's widest float). Missing-value EM is
        numpy only.
        """
        X = validate_in_namespace(
            self, X, ns, reset=True, allow_nan=self._allow_nan(),
            nan_hint=self._nan_hint, ensure_min_samples=2,
        )
        if self._allow_nan() and has_nan(X, ns):
            raise numpy_only(
                f"{type(self).__name__}(missing_values={self.missing_values!r}) "
                "on data with NaN",
                "convert X to a numpy array to fit with its missing entries "
                "(e.g. X.cpu().numpy() for a PyTorch tensor), or remove or impute "
                "them to fit on the device.",
            )
        n, d = X.shape
        if self._fits_on_device(n, d):
            self._sufficient_stats = stats_in_namespace(X, ns.xp, ns.device)
            self._fit_stats(self._sufficient_stats)
        else:
            self._fit_array(np.ascontiguousarray(to_host(X, ns=ns)))
        move_fitted(self, ns)
        return self

    def _fitted_namespace(self) -> Namespace:
        """Where the fitted attributes live (numpy for a numpy fit)."""
        if not self._array_api_support:
            return NUMPY
        return namespace_of(self.components_)

    def _validate_rows(self, X, ns: Namespace, method: str):
        """Rows for an output method on an array-API ``X`` (complete only)."""
        return validate_in_namespace(
            self, X, ns, reset=False,
            nan_hint=f"{method} of rows with missing entries runs on numpy arrays "
            "only: pass them as a numpy array, or impute them.",
        )

    def _transform_matrix(self):
        """``(B, μ)`` with ``transform(x) = (x − μ) B``, host float64 (d × k).

        Computed on the host from the fitted parameters; the ``O(n d k)``
        product runs on the input's device.
        """
        model = self._model()
        B = model.posterior_weights()
        G = self._factor_chol()
        return (B if G is None else B @ G.T), model.mean

    def _inverse_matrix(self):
        """``(M, μ)`` with ``inverse_transform(h) = h M + μ`` (host, k × d)."""
        return self.components_, self.mean_

    def _transform_in_namespace(self, X, ns: Namespace):
        X = self._validate_rows(X, ns, "transform")
        B, mean = host_view(self)._transform_matrix()
        return centred_product(X, mean, B, ns)

    def _inverse_in_namespace(self, H, ns: Namespace):
        k = self.components_.shape[0]
        H = codes_in_namespace(H, k, ns, name="factors", unit="factors")
        M, mean = host_view(self)._inverse_matrix()
        return product_plus(H, M, mean, namespace_of(H))

    def _score_in_namespace(self, X, ns: Namespace):
        """:meth:`LinearGaussian.log_likelihood_rows` on the input's device."""
        X = self._validate_rows(X, ns, "score_samples")
        model = host_view(self)._model()
        xp, d = ns.xp, model.n_features
        mean, isd, V, w = from_host(
            ns, model.mean, model._isd, model._V, 1.0 / (1.0 + model._s**2)
        )
        const = float(d * np.log(2.0 * np.pi) + model.logdet)

        def block(B):
            R = (B - mean) * isd  # whitened residuals
            P = R @ V
            perp = R - P @ V.T
            maha = xp.sum(perp * perp, axis=1) + (P * P) @ w
            return -0.5 * (maha + const)

        return row_blocks(X, ns, block)

    def _fit_dask(self, X):
        """Fit from one distributed pass over a Dask array.

        See the user guide, factor analysis, "Streams and Dask arrays".
        """
        if self._allow_nan():
            raise ValueError(
                "missing_values='em' needs a pass over the data per EM iteration "
                "and is not supported for Dask arrays; compute the array, or fit "
                "with missing_values='raise' on complete data."
            )
        stats = dask_sufficient_stats(X)
        for attr in ("feature_names_in_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self.n_features_in_ = stats.n_features
        self._sufficient_stats = stats
        self._fit_stats(stats)
        return self

    # --- the Gaussian model ---------------------------------------------------------
    def _factor_chol(self):
        """Cholesky factor ``G`` of Φ (``Φ = G Gᵀ``), or None when Φ = I."""
        phi = getattr(self, "factor_correlation_", None)
        return None if phi is None else linalg.cholesky(phi, lower=True)

    def _model(self) -> LinearGaussian:
        check_is_fitted(self, "components_")
        W_t = self._loadings()
        G = self._factor_chol()
        if G is not None:  # W Φ Wᵀ = (W G)(W G)ᵀ
            W_t = G.T @ W_t
        return LinearGaussian(W_t, self.noise_variance_, self.mean_)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # --- transforms ---------------------------------------------------------------
    @fill_doc
    @lazy_over_rows(_n_components)
    def transform(self, X):
        """Posterior mean of the factors, ``E[h | x] = M⁻¹ Wᵀ Ψ⁻¹ (x − μ)``.

        With an oblique rotation the factors have correlation Φ and the
        posterior mean is expressed in that basis. With
        ``missing_values='em'`` a row with NaN gets ``E[h | x_o]``, the same
        formula on its observed entries ``o`` (rows ``o`` of W, μ and Ψ).

        %(transform_sections)s
        """
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "transform")
        if ns.is_array_api:
            return self._transform_in_namespace(X, ns)
        X = self._validate(X, reset=False)
        return self._transform_array(X).astype(X.dtype, copy=False)

    def _transform_array(self, X: np.ndarray) -> np.ndarray:
        """``transform`` of validated numpy rows: the posterior mean."""
        if np.isnan(X).any():  # only with missing_values='em'
            H = posterior_mean_observed(self._model(), X)
        else:
            H = self._model().posterior_mean(X)
        G = self._factor_chol()
        return H if G is None else H @ G.T

    @fill_doc
    @lazy_over_rows(_n_features)
    def inverse_transform(self, X):
        """Map factors back to data space: ``E[x | h] = mean_ + W h``.

        %(inverse_transform_sections)s
        """
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "inverse_transform")
        if ns.is_array_api:
            return self._inverse_in_namespace(X, ns)
        H = self._as_codes(X)
        M, mean = self._inverse_matrix()
        # float32 in, float32 out (as transform, and the array-API path)
        return (H @ M + mean).astype(H.dtype, copy=False)

    def _as_codes(self, X) -> np.ndarray:
        """Check a fitted model and an array of factors (n_samples, n_components)."""
        check_is_fitted(self, "components_")
        k = self.components_.shape[0]
        return check_codes(X, k, name="factors", unit="factors")

    # --- likelihood -----------------------------------------------------------------
    @lazy_over_rows(lambda self: None)
    def score_samples(self, X):
        """Log-likelihood of each sample under ``N(mean_, W Wᵀ + Ψ)``.

        With ``missing_values='em'`` a row with NaN gets the marginal
        log-likelihood of its observed entries, ``log N(x_o; μ_o, C_oo)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ll : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "score_samples")
        if ns.is_array_api:
            return self._score_in_namespace(X, ns)
        X = self._validate(X, reset=False)
        # float32 in, float32 out, as transform (and the array-API path)
        return self._log_likelihood_rows(X).astype(X.dtype, copy=False)

    def _log_likelihood_rows(self, X: np.ndarray) -> np.ndarray:
        """Float64 log-likelihood of validated numpy rows (NaN: observed part)."""
        if np.isnan(X).any():  # only with missing_values='em'
            return score_rows_observed(self._model(), X)
        return self._model().log_likelihood_rows(X)

    def impute(self, X):
        """Fill each missing entry with its conditional expectation.

        For a row with observed entries ``o`` and missing entries ``m``, the
        fitted Gaussian gives ``E[x_m | x_o] = μ_m + W_m E[h | x_o]`` (the
        posterior-mean reconstruction; equal to ``μ_m + C_mo C_oo⁻¹ (x_o − μ_o)``).
        Observed entries are returned unchanged, a row with no observed entry
        gets ``mean_``. NaN is accepted whatever ``missing_values`` is, since
        filling it is the point; infinities are an error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with NaN marking missing entries; it is not modified.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            A new array, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "impute")
        if ns.is_array_api:  # row by row on the host, back to the device
            return from_host(ns, host_view(self).impute(to_host(X, ns=ns)))
        X = validate_X(self, X, reset=False, allow_nan=True)
        return impute_observed(self._model(), X).astype(X.dtype, copy=False)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample of ``X`` under the model."""
        if is_dask_array(X):
            return float(self.score_samples(X).mean().compute())
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "score")
        if ns.is_array_api:  # the rows' terms on the device, their mean here
            ll = as_numpy(self._score_in_namespace(X, ns))
            return float(np.mean(ll, dtype=np.float64))
        return float(np.mean(self._log_likelihood_rows(self._validate(X, reset=False))))

    def get_covariance(self) -> np.ndarray:
        """Model covariance ``C = W Φ Wᵀ + Ψ`` (n_features, n_features).

        Computed on the host; in the fitted attributes' namespace and device.
        """
        ns = self._fitted_namespace()
        return from_host(ns, host_view(self)._model().covariance())

    def get_precision(self) -> np.ndarray:
        """Model precision ``C⁻¹`` by Woodbury through the k × k matrix.

        Computed on the host; in the fitted attributes' namespace and device.
        """
        ns = self._fitted_namespace()
        return from_host(ns, host_view(self)._model().precision())

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Draw samples ``x = mean_ + W h + ε`` from the fitted model.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None
            Seeds the draw; the estimator's own ``random_state`` is not used, so
            that repeated calls can give independent samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise TypeError(f"n_samples must be an integer, got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}.")
        X, _ = host_view(self)._model().sample(
            int(n_samples), check_random_state(random_state)
        )
        return from_host(self._fitted_namespace(), X)

    def bic(self, X) -> float:
        """Bayesian information criterion ``−2 log L + p log n`` on ``X``.

        ``p`` is the number of free parameters of the model (``_n_parameters``);
        lower is better.
        """
        n = _num_samples(X)
        return -2.0 * n * self.score(X) + self._n_parameters() * np.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion ``−2 log L + 2 p`` on ``X``."""
        return -2.0 * _num_samples(X) * self.score(X) + 2.0 * self._n_parameters()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = self._allow_nan()
        tags.array_api_support = self._array_api_support
        return tags


class IncrementalStatsMixin:
    """``partial_fit`` for models fitted from ``(n, mean, scatter)`` alone.

    Each call merges the statistics of the new batch into those seen so far
    (Chan et al.) and refits from them — the same fit as one call on all the
    rows, to rounding, for any batch sizes.
    """

    @fill_doc
    def partial_fit(self, X, y=None):
        """Update the fit with a batch of rows ``X``.

        %(fit_sections)s
        """
        self._validate_declared_params()
        if self._input_namespace(X).is_array_api:
            raise numpy_only(
                f"{type(self).__name__}.partial_fit",
                "pass each batch as a numpy array, or fit once on all rows on "
                "the device (fit accumulates the statistics there).",
            )
        first = not hasattr(self, "_sufficient_stats")
        X = validate_X(
            self,
            X,
            reset=first,
            nan_hint=(
                "partial_fit does not handle missing values; use fit with "
                "missing_values='em', or impute them."
            ),
        )
        new = SufficientStats.from_array(np.ascontiguousarray(X))
        stats = new if first else self._sufficient_stats.merge(new)
        self._sufficient_stats = stats
        self.n_samples_seen_ = stats.n
        if stats.n >= 2:
            self._fit_stats(stats)
        return self


def ppca_n_parameters(n_features: int, n_components: int) -> int:
    """Free parameters of PPCA: ``d k − k(k−1)/2 + 1 + d`` (mean included)."""
    d, k = n_features, n_components
    return d * k - k * (k - 1) // 2 + 1 + d


def sign_flip(
    components: np.ndarray, reference: np.ndarray | None = None
) -> np.ndarray:
    """Deterministic signs: the largest-magnitude entry of each row is positive.

    This is the package's one sign convention. With ``reference`` (same shape)
    the signs are chosen on ``reference`` and applied to ``components``: a row
    of ``components`` is flipped when the largest-magnitude entry of the same
    row of ``reference`` is negative (factor analysis chooses them on the
    whitened loadings ``Ψ^{-1/2} W``, which do not depend on feature units).
    """
    ref = components if reference is None else reference
    idx = np.argmax(np.abs(ref), axis=1)
    signs = np.sign(ref[np.arange(ref.shape[0]), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


def canonical_orientation(
    W: np.ndarray, noise_variance: np.ndarray | None = None
) -> np.ndarray:
    """Rotate loadings ``W`` (d, k) to the canonical member of their orbit.

    ``W R`` for orthogonal ``R`` is the same model. With ``A = Ψ^{-1/2} W``
    (``A = W`` when ``noise_variance`` is None or constant) and its thin SVD
    ``A = U diag(s) Qᵀ``, the result is ``W Q``: the columns of ``Ψ^{-1/2} W Q``
    are orthogonal and sorted by decreasing norm (``Wᵀ Ψ⁻¹ W`` diagonal and
    decreasing: Lawley & Maxwell's orientation of the maximum likelihood
    solution of factor analysis; ``U diag(s)`` itself for PPCA), with signs by
    :func:`sign_flip` on the columns of ``A``. Fits from different starts can
    then be compared entry by entry.
    """
    A = W if noise_variance is None else W / np.sqrt(noise_variance)[:, None]
    _, _, Qt = linalg.svd(A, full_matrices=False)
    return sign_flip((W @ Qt.T).T, reference=(A @ Qt.T).T).T
