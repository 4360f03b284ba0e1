r"""Confirmatory factor analysis: the rotation identified by fixed loadings.

The model is factor analysis with a pattern: ``x = μ + Λ h + ε`` with
``h ~ N(0, Φ)``, ``ε ~ N(0, Ψ)``, ``Ψ = diag(ψ)``, so

.. math::

    x \sim N(μ, C(θ)), \qquad C(θ) = Λ Φ Λᵀ + Ψ,

where loadings that theory says are zero are fixed at zero. Exploratory
factor analysis leaves ``W ↦ W Q`` free (``k(k − 1)/2`` directions that no data
can identify, see the user guide *identifiability*); the zeros of ``Λ`` and
one scale per factor (the first loading fixed to 1, or the factor variance
fixed to 1 with ``std_lv=True``) remove them, which :meth:`identification`
checks (user guide: *cfa*).

Estimation is maximum likelihood by Fisher scoring on ``θ`` (free loadings,
``ψ``, free entries of Φ) with the analytic gradient and expected information
of :mod:`latentmodels._covariance_structure`, from the sufficient statistics
``(n, x̄, S)``; with ``missing_values='fiml'`` it maximises the observed-data
likelihood over missingness patterns (:mod:`latentmodels._cfa_fit`).
Parametrisation, test statistic (``T = n F_ML``) and standard errors follow
lavaan's defaults (Rosseel 2012).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from . import _warnings
from ._base import GaussianLatentModel
from ._cfa_fit import (
    PatternData,
    complete_objective,
    diagonal_start,
    fiml_objective,
    fisher_scoring,
    independence_loglike,
    saturated_em,
    start_values,
)
from ._cfa_inference import CFAInferenceMixin
from ._cfa_syntax import parse_model
from ._covariance_structure import CovarianceStructure
from ._stats import SufficientStats
from ._threads import blas_threads


class ConfirmatoryFactorAnalysis(CFAInferenceMixin, GaussianLatentModel):
    r"""Confirmatory factor analysis by maximum likelihood (lavaan's ``cfa``).

    ``x ~ N(μ, Λ Φ Λᵀ + Ψ)`` with a pattern of free and fixed loadings.
    By default the first loading of each factor is fixed to 1 and the factor
    variances and covariances are free (lavaan's marker parametrisation);
    ``std_lv=True`` fixes the factor variances to 1 and frees every loading.
    The likelihood is maximised by Fisher scoring with the analytic gradient
    and expected information; the test statistic is ``T = n F_ML`` and the
    standard errors come from the expected information, as lavaan's defaults.

    Under ``sklearn.set_config(array_api_dispatch=True)`` a PyTorch/CuPy/...
    ``X`` is reduced to ``(n, x̄, S)`` on its device and Fisher scoring runs
    on the host; the fitted arrays live on the input's device (float64) and
    the outputs are in its namespace (user guide: *array_api*). FIML on data
    with NaN is numpy only.

    Parameters
    ----------
    model : str, dict, array-like of bool or None, default=None
        The measurement model: lavaan syntax (``"visual =~ x1 + x2 + x3\n
        textual =~ x4 + x5 + x6"``; a numeric prefix ``0.5*x2`` fixes a loading,
        ``NA*x1`` frees a marker), a dict ``{factor: [columns]}`` (names or
        positions), or a boolean array of shape ``(n_features, n_factors)``,
        True where a loading is free. Columns are named by the DataFrame's
        column names, or ``x0, x1, ...`` for arrays. Every column must belong
        to a factor. None means one factor measured by all columns.
    std_lv : bool, default=False
        Fix the factor variances to 1 (free every loading) instead of fixing
        the first loading of each factor to 1.
    orthogonal : bool, default=False
        Fix the factor covariances to 0.
    missing_values : {'raise', 'fiml'}, default='raise'
        What NaN in ``X`` means: an error, or missing entries, fitted by
        full-information maximum likelihood over the missingness patterns
        (means are then free parameters, as lavaan's ``missing="fiml"``).
    tol : float, default=1e-12
        Stop when the Fisher-scoring decrement ``∇ℓᵀ 𝓘⁻¹ ∇ℓ`` (about twice the
        gain in mean log-likelihood per sample still available) is below
        ``tol``.
    max_iter : int, default=500
        Maximum number of Fisher-scoring steps.
    noise_floor : float, default=1e-6
        Residual variances are held at or above ``noise_floor · S_jj`` and
        free factor variances at or above ``noise_floor`` times their
        starting value (Heywood cases; lavaan leaves them unbounded).

    Attributes
    ----------
    loadings_ : ndarray of shape (n_features, n_factors)
        ``Λ``; zero where a loading is fixed at zero.
    components_ : ndarray of shape (n_factors, n_features)
        ``Λᵀ`` (the package's convention for the Gaussian models).
    factor_covariance_ : ndarray of shape (n_factors, n_factors)
        ``Φ``.
    noise_variance_ : ndarray of shape (n_features,)
        ``ψ``, the residual variances.
    mean_ : ndarray of shape (n_features,)
    factor_names_ : tuple of str
    n_components_ : int
        Number of factors.
    loglike_ : list of float
        Mean log-likelihood per sample after each step (never decreases).
    n_iter_ : int
        Fisher-scoring steps taken.
    n_samples_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    References
    ----------
    Jöreskog, K. G. (1969). A general approach to confirmatory maximum
    likelihood factor analysis. Psychometrika 34(2):183–202.
    Bollen, K. A. (1989). Structural Equations with Latent Variables. Wiley.
    Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
    Journal of Statistical Software 48(2):1–36.
    Arbuckle, J. L. (1996). Full information estimation in the presence of
    incomplete data. In Advanced Structural Equation Modeling, 243–277.

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels import ConfirmatoryFactorAnalysis
    >>> rng = np.random.RandomState(0)
    >>> H = rng.standard_normal((500, 2))
    >>> L = np.kron(np.eye(2), np.ones((3, 1)))
    >>> X = H @ L.T + 0.5 * rng.standard_normal((500, 6))
    >>> cfa = ConfirmatoryFactorAnalysis({"f": [0, 1, 2], "g": [3, 4, 5]})
    >>> cfa.fit(X).loadings_.shape
    (6, 2)
    """

    _parameter_constraints: dict = {
        "model": [str, dict, "array-like", None],
        "std_lv": ["boolean"],
        "orthogonal": ["boolean"],
        "missing_values": [StrOptions({"raise", "fiml"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "noise_floor": [Interval(Real, 0, 1, closed="neither")],
    }
    # array-API input (docs/user_guide/array_api.rst): (n, x̄, S) on the device,
    # Fisher scoring on the host from the d × d statistics
    _array_api_support = True

    def __init__(
        self,
        model=None,
        *,
        std_lv=False,
        orthogonal=False,
        missing_values="raise",
        tol=1e-12,
        max_iter=500,
        noise_floor=1e-6,
    ):
        self.model = model
        self.std_lv = std_lv
        self.orthogonal = orthogonal
        self.missing_values = missing_values
        self.tol = tol
        self.max_iter = max_iter
        self.noise_floor = noise_floor

    # --- hooks of the Gaussian base ---------------------------------------------
    def _allow_nan(self) -> bool:
        return self.missing_values == "fiml"

    @property
    def _nan_hint(self) -> str:
        return (
            "pass missing_values='fiml' to fit by full-information maximum "
            "likelihood on the observed entries, or remove or impute them."
        )

    def _fits_on_device(self, n_samples: int, n_features: int) -> bool:
        """Array-API input: always from ``(n, x̄, S)``, whatever ``n`` and ``d``.

        The fit reads the data through the statistics alone (FIML on data
        with NaN is numpy only), so the ``O(n d²)`` pass runs on the device.
        """
        return True

    def _factor_chol(self):
        """A square root ``G`` of Φ (``Φ = G Gᵀ``); Φ is PSD by construction."""
        Phi = self.factor_covariance_
        w, V = np.linalg.eigh(Phi)
        return V * np.sqrt(np.maximum(w, 0.0))

    def get_feature_names_out(self, input_features=None):
        """The factor names, as the columns of ``transform``'s output.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen in ``fit``; not used otherwise.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "loadings_")
        _check_feature_names_in(self, input_features)
        return np.asarray(self.factor_names_, dtype=object)

    def _n_parameters(self) -> int:
        """Free parameters, the ``d`` means included."""
        return self._structure.n_params + self.n_features_in_

    # --- fitting ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to ``X`` (n_samples, n_features) by maximum likelihood.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            With ``missing_values='fiml'``, NaN marks a missing entry.
        y : ignored

        Returns
        -------
        self
        """
        # the matrices are small (d × d, q × q): BLAS threads only add overhead
        with blas_threads(1):
            return super().fit(X)

    def _make_structure(self, d):
        names = getattr(self, "feature_names_in_", None)
        names = [f"x{i}" for i in range(d)] if names is None else list(names)
        mm = parse_model(self.model, names)
        free, fixed = mm.loading_pattern(self.std_lv)
        if not self.std_lv and np.any(free.any(axis=0) & ~(fixed != 0).any(axis=0)):
            bad = [f for f, b in zip(mm.factors, ~(fixed != 0).any(axis=0)) if b]
            raise ValueError(
                f"Factor(s) {bad} have no fixed loading and a free variance, so "
                "their scale is not identified: fix a loading (1*x) or pass "
                "std_lv=True."
            )
        return CovarianceStructure(
            free, fixed, std_lv=self.std_lv, orthogonal=self.orthogonal,
            feature_names=names, factor_names=mm.factors,
        )

    def _lower_bounds(self, structure, S, theta0):
        phi0 = structure.unpack(theta0)[1]
        floor_phi = self.noise_floor * np.min(np.diag(phi0)) if structure.k else 0
        var = np.diag(S)
        floor_psi = self.noise_floor * np.where(var > 0, var, 1.0)
        return structure.lower_bounds(floor_psi, floor_phi)

    def _fit_array(self, X):
        if self.missing_values == "fiml" and np.isnan(X).any():
            self._fit_fiml(X)
        else:
            super()._fit_array(X)

    def _fit_stats(self, stats: SufficientStats) -> None:
        d = stats.n_features
        structure = self._make_structure(d)
        S = stats.covariance
        S = 0.5 * (S + S.T)
        S_fit = S.copy()
        var = np.diag(S_fit).copy()
        if np.any(var <= 0):  # constant columns: a tiny variance keeps C > 0
            S_fit[np.diag_indices(d)] = np.where(var > 0, var, 1e-12 * max(
                var.max(), 1.0))
        theta0 = start_values(structure, S_fit)
        lower = self._lower_bounds(structure, S_fit, theta0)
        theta0 = np.maximum(theta0, lower)
        res = fisher_scoring(complete_objective(structure, S_fit, observed=True),
                             theta0, lower,
                             tol=self.tol, max_iter=self.max_iter)
        self._finish(structure, res, stats.mean, stats.n, lower)
        self._S = S
        self._fiml = None

    def _fit_fiml(self, X):
        n, d = X.shape
        empty = np.flatnonzero(np.all(np.isnan(X), axis=0))
        if empty.size:
            raise ValueError(
                f"Column(s) {empty.tolist()} of X are never observed; drop them "
                "before fitting."
            )
        structure = self._make_structure(d)
        data = PatternData.from_array(X)
        # the saturated model (needed for the χ² test) gives the start
        mu1, S1, ll1, _, converged = saturated_em(
            data, *diagonal_start(X), tol=self.tol, max_iter=100 * self.max_iter
        )
        if not converged:
            _warnings.warn(
                "The saturated model (for the χ² test) did not converge in "
                f"{100 * self.max_iter} EM steps; the test statistic may be "
                "inaccurate. Increase max_iter.",
                ConvergenceWarning,
            )
        theta0 = fisher_scoring(
            complete_objective(structure, S1, observed=True),
            start_values(structure, S1),
            self._lower_bounds(structure, S1, start_values(structure, S1)),
            tol=1e-6, max_iter=self.max_iter,
        ).theta
        lower = self._lower_bounds(structure, S1, theta0)
        q = structure.n_params
        res = fisher_scoring(
            fiml_objective(structure, data, observed=True),
            np.concatenate([theta0, mu1]),
            np.concatenate([lower, np.full(d, -np.inf)]),
            tol=self.tol, max_iter=self.max_iter,
        )
        mean = res.theta[q:]
        res.theta = res.theta[:q]
        self._finish(structure, res, mean, n, lower)
        self._S = S1
        self._fiml = {
            "loglike_h1": n * ll1,
            "loglike_baseline": independence_loglike(X),
            "mean_h1": mu1,
            "information_full": res.information,
            "data": data,
        }

    def _finish(self, structure, res, mean, n, lower):
        if not res.converged:
            _warnings.warn(
                f"ConfirmatoryFactorAnalysis did not converge in "
                f"max_iter={self.max_iter} Fisher-scoring steps (tol={self.tol:g}); "
                "increase max_iter, or check that the model is identified "
                "(identification()).",
                ConvergenceWarning,
            )
        psi_held = (res.theta <= lower)[structure.n_load:structure.n_load
                                        + structure.d]
        if psi_held.any():
            which = [structure.feature_names[i] for i in np.flatnonzero(psi_held)]
            _warnings.warn(
                f"Heywood case: the residual variance of {which} reached the floor "
                f"noise_floor={self.noise_floor:g} times the feature's variance "
                "(lavaan would report a negative variance). The model may be "
                "misspecified, or a factor has too few indicators.",
                UserWarning,
            )
        L, Phi, psi = structure.unpack(res.theta)
        self._structure, self._theta = structure, res.theta
        self._information = res.information[: structure.n_params,
                                            : structure.n_params]
        self._at_bound = res.theta <= lower
        self.loadings_ = L
        self.components_ = L.T.copy()
        self.factor_covariance_ = Phi
        self.noise_variance_ = psi
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.factor_names_ = tuple(structure.factor_names)
        self.n_components_ = structure.k
        self.n_samples_ = int(n)
        self.loglike_ = [float(v) for v in res.loglike]
        self.n_iter_ = res.n_iter
