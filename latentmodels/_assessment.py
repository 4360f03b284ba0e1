r"""Assessing a fitted factor model: fit statistics, standard errors, scores.

:class:`FactorAssessmentMixin` adds to :class:`~latentmodels.FactorAnalysis`
what users of R's ``factanal``/``psych::fa`` and statsmodels' ``Factor``
reach for after a fit: :meth:`~FactorAssessmentMixin.goodness_of_fit`,
:meth:`~FactorAssessmentMixin.standard_errors`,
:meth:`~FactorAssessmentMixin.bootstrap_loadings`,
:meth:`~FactorAssessmentMixin.factor_scores`,
:meth:`~FactorAssessmentMixin.fit_covariance` and
:meth:`~FactorAssessmentMixin.summary`. It reads only fitted attributes
(``components_``, ``noise_variance_``, ``mean_``, ``factor_correlation_``)
and the sufficient statistics ``(n, mean, S)`` stored by the fit. The user
guide page "Assessing a factor model" (``docs/user_guide/assessment.rst``)
walks through them on a real data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _warnings
from ._array_api import centred_product, host_view, on_host
from ._docstrings import fill_doc
from ._fit_statistics import GoodnessOfFit, bartlett_multiplier, goodness_of_fit
from ._scores import SCORE_METHODS, score_weights
from ._standard_errors import (
    canonical_constraint,
    parameter_covariance,
    rotation_constraint,
)
from ._stats import SufficientStats


def _training_stats(model) -> SufficientStats:
    check_is_fitted(model, "components_")
    stats = getattr(model, "_sufficient_stats", None)
    if stats is None:
        raise ValueError(
            f"{type(model).__name__} was fitted without storing the sample "
            "covariance, which this statistic needs: missing_values='em' on "
            "data with NaN, or fewer samples than features (then S is singular "
            "and the likelihood-ratio test against the saturated model is "
            "undefined). Fit complete data with n_samples > n_features, or "
            "fit_covariance with an estimate of the covariance."
        )
    return stats


def _require_ml(model, what: str) -> None:
    extraction = getattr(model, "extraction", "ml")
    if extraction != "ml":
        raise ValueError(
            f"{what} is defined for the maximum likelihood fit, but this model "
            f"was fitted with extraction={extraction!r}; refit with "
            "extraction='ml'."
        )


class GoodnessOfFitMixin:
    """``goodness_of_fit()`` for a Gaussian model with a structured covariance.

    The hooks ``_gof_n_free_params`` (free covariance parameters) and
    ``_gof_multiplier`` (``m`` of ``T = m F_ML``; ``n`` by default, the
    likelihood-ratio statistic) say what the model is. For
    :class:`~latentmodels.ProbabilisticPCA` the free parameters are
    ``d k − k(k − 1)/2 + 1``.
    """

    def _gof_n_free_params(self) -> int:
        d, k = self.n_features_in_, self.components_.shape[0]
        return d * k - k * (k - 1) // 2 + 1  # PPCA: one noise variance

    def _gof_multiplier(self, n: int, d: int, k: int) -> tuple[float, float]:
        """``(chi2_multiplier, rmsea_n)``."""
        return float(n), float(n)

    @on_host  # numpy copies of a device fit's attributes
    def goodness_of_fit(self) -> GoodnessOfFit:
        """χ² test against the saturated model, RMSEA, CFI, TLI, SRMR, AIC, BIC.

        Computed from the training data's maximum likelihood covariance ``S``
        and the fitted ``C = get_covariance()`` by
        :func:`latentmodels._fit_statistics.goodness_of_fit` (the formulas
        are on the user guide page "Assessing a factor model").

        Returns
        -------
        GoodnessOfFit
        """
        _require_ml(self, "goodness_of_fit")
        stats = _training_stats(self)
        n, d, k = stats.n, stats.n_features, self.components_.shape[0]
        m, n_eff = self._gof_multiplier(n, d, k)
        return goodness_of_fit(
            stats.covariance,
            self.get_covariance(),
            n_samples=n,
            n_free_params=self._gof_n_free_params(),
            chi2_multiplier=m,
            rmsea_n=n_eff,
        )


@dataclass(frozen=True)
class StandardErrors:
    """Asymptotic standard errors of a maximum likelihood factor solution.

    Attributes
    ----------
    components : ndarray of shape (n_components, n_features)
        Standard errors of ``components_`` (the rotated loadings when a
        rotation was fitted), in the units of the data.
    noise_variance : ndarray of shape (n_features,)
    factor_correlation : ndarray of shape (n_components, n_components) or None
        Standard errors of ``factor_correlation_`` (zero diagonal); None when
        the solution is orthogonal.
    covariance : ndarray
        Covariance of ``θ = (loadings row by row, ψ, φ_rs for r < s)``.
    """

    components: np.ndarray
    noise_variance: np.ndarray
    factor_correlation: np.ndarray | None
    covariance: np.ndarray


@dataclass(frozen=True)
class BootstrapLoadings:
    """Bootstrap distribution of the loadings (see ``bootstrap_loadings``).

    Attributes
    ----------
    replicates : ndarray of shape (n_boot, n_components, n_features)
        ``components_`` of each replicate, aligned to the fitted solution.
    lower, upper : ndarray of shape (n_components, n_features)
        Percentile interval ``(α/2, 1 − α/2)``.
    standard_errors : ndarray of shape (n_components, n_features)
        Standard deviation of the replicates.
    """

    replicates: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    standard_errors: np.ndarray


def _align(reference: np.ndarray, est: np.ndarray, method: str) -> np.ndarray:
    """Align ``est`` (k, d) to ``reference`` by order and sign, or Procrustes."""
    from .identifiability import matched_congruence, procrustes_alignment

    if method == "procrustes":
        return procrustes_alignment(reference, est).aligned_components
    return matched_congruence(reference, est).aligned_components


class FactorAssessmentMixin(GoodnessOfFitMixin):
    """Fit statistics, standard errors, score methods and a summary table."""

    def _gof_n_free_params(self) -> int:
        d, k = self.n_features_in_, self.components_.shape[0]
        return d * k - k * (k - 1) // 2 + d

    def _gof_multiplier(self, n: int, d: int, k: int) -> tuple[float, float]:
        # factanal's and psych's Bartlett-corrected statistic; psych's RMSEA
        return bartlett_multiplier(n, d, k), float(n - 1)

    # --- the solution on the correlation scale ----------------------------------
    def _scale(self) -> np.ndarray:
        var = np.diag(_training_stats(self).covariance)
        fallback = var[var > 0].mean() if np.any(var > 0) else 1.0
        return np.sqrt(np.where(var > 0, var, fallback))

    def _phi(self):
        return getattr(self, "factor_correlation_", None)

    # --- fitting from a covariance ------------------------------------------------
    def fit_covariance(self, covariance, n_samples):
        """Fit the model to a covariance or correlation matrix.

        As R's ``factanal(covmat=...)`` and statsmodels' ``Factor(corr=...)``:
        the likelihood depends on the data only through ``(n, mean, S)``, so a
        covariance matrix and the number of rows it came from are enough. The
        mean is taken as zero.

        Parameters
        ----------
        covariance : array-like of shape (n_features, n_features)
            Sample covariance (or correlation) matrix, symmetric positive
            definite; read as the maximum likelihood covariance.
        n_samples : int
            Number of observations behind it (used by the fit statistics and
            standard errors).

        Returns
        -------
        self
        """
        self._validate_declared_params()
        S = np.array(covariance, dtype=np.float64)
        if S.ndim != 2 or S.shape[0] != S.shape[1]:
            raise ValueError(
                f"covariance must be a square matrix, got shape {S.shape}."
            )
        if not np.all(np.isfinite(S)) or not np.allclose(S, S.T, atol=1e-10):
            raise ValueError("covariance must be a finite symmetric matrix.")
        if int(n_samples) != n_samples or n_samples < 2:
            raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}.")
        n = int(n_samples)
        d = S.shape[0]
        for attr in ("feature_names_in_",):
            if hasattr(self, attr):
                delattr(self, attr)
        self.n_features_in_ = d
        stats = SufficientStats(n, np.zeros(d), 0.5 * (S + S.T) * n)
        self._sufficient_stats = stats
        self._fit_stats(stats)
        return self

    # --- standard errors ----------------------------------------------------------
    @on_host  # numpy copies of a device fit's attributes
    def standard_errors(self, information="expected") -> StandardErrors:
        r"""Standard errors from the expected or observed information.

        For the unrotated solution (``Λᵀ Ψ⁻¹ Λ`` diagonal) and through any
        rotation that minimises a criterion (orthogonal or oblique; not
        promax), by the constrained inverse of the information matrix
        (Jennrich 1973, 1974; see :mod:`latentmodels._standard_errors`).
        Valid for an interior maximum likelihood solution: Heywood features
        make the information singular.

        Parameters
        ----------
        information : {'expected', 'observed'}, default='expected'
            The expected (Fisher) information, lavaan's default for ML, or the
            observed one (the Hessian of the log-likelihood at the estimate,
            by differences of its analytic gradient). They coincide when the
            model reproduces ``S`` exactly.

        Returns
        -------
        StandardErrors
        """
        _require_ml(self, "standard_errors")
        if information not in ("expected", "observed"):
            raise ValueError(
                "information must be 'expected' or 'observed', got "
                f"{information!r}."
            )
        stats = _training_stats(self)
        heywood = getattr(self, "heywood_features_", np.array([], dtype=int))
        if len(heywood):
            _warnings.warn(
                f"Feature(s) {[int(j) for j in heywood]} are Heywood cases (noise "
                "variance at the floor): the solution is on the boundary, where "
                "the information-based standard errors do not apply; use "
                "bootstrap_loadings, or fewer factors.",
                UserWarning,
            )
        W = self.components_.T
        psi = self.noise_variance_
        phi = self._phi()
        d, k = W.shape
        rotation = getattr(self, "rotation", None)
        if rotation is None:
            h = canonical_constraint(d, k)
        elif rotation == "promax":
            raise ValueError(
                "promax minimises no criterion, so its standard errors have no "
                "closed form here; use bootstrap_loadings, or rotation='oblimin'."
            )
        else:
            from .rotations import _check_target, _make_criterion

            kw = dict(getattr(self, "rotation_kwargs", None) or {})
            B, Wt = _check_target(
                rotation, W, kw.get("target"), kw.get("target_weights")
            )
            crit = _make_criterion(
                rotation,
                k,
                gamma=kw.get("gamma", 0.0),
                delta=kw.get("delta", 0.01),
                kappa=kw.get("kappa", 0.0),
                d=d,
                target=B,
                weights=Wt,
            )
            h = rotation_constraint(
                d,
                k,
                crit,
                None,  # standardised by the model's SDs (= the sample's at the MLE)
                oblique=phi is not None,
                kaiser=bool(kw.get("normalize", False)),
            )
        S = stats.covariance if information == "observed" else None
        cov = parameter_covariance(W, psi, phi, stats.n, h, S)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        se_phi = None
        if phi is not None:
            se_phi = np.zeros((k, k))
            iu = np.triu_indices(k, 1)
            se_phi[iu] = se[d * k + d :]
            se_phi = se_phi + se_phi.T
        return StandardErrors(
            components=se[: d * k].reshape(d, k).T,
            noise_variance=se[d * k : d * k + d],
            factor_correlation=se_phi,
            covariance=cov,
        )

    @on_host  # numpy copies of a device fit's attributes
    def bootstrap_loadings(
        self, X, n_boot=200, random_state=None, *, alpha=0.05, align="match"
    ) -> BootstrapLoadings:
        """Nonparametric bootstrap of the loadings with percentile intervals.

        Each replicate refits a clone of this estimator to ``n`` rows drawn
        with replacement and is aligned to the fitted ``components_``: by
        order and sign (``align='match'``, Hungarian matching of Tucker's
        congruences, :func:`latentmodels.identifiability.matched_congruence`),
        or by the best orthogonal matrix (``'procrustes'``,
        :func:`latentmodels.identifiability.procrustes_alignment`; for
        unrotated solutions, whose orientation is arbitrary).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data.
        n_boot : int, default=200
        random_state : int, RandomState instance or None, default=None
            Seeds the resampling (and the replicates' own randomness).
        alpha : float, default=0.05
            The intervals cover ``1 − alpha``.
        align : {'match', 'procrustes'}, default='match'

        Returns
        -------
        BootstrapLoadings
        """
        check_is_fitted(self, "components_")
        if align not in ("match", "procrustes"):
            raise ValueError(f"align must be 'match' or 'procrustes', got {align!r}.")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
        X = np.asarray(X)
        rng = check_random_state(random_state)
        n = X.shape[0]
        ref = self.components_
        reps = np.empty((int(n_boot),) + ref.shape)
        for b in range(int(n_boot)):
            idx = rng.randint(0, n, n)
            est = clone(self).set_params(random_state=rng.randint(2**31 - 1))
            est.fit(X[idx])
            reps[b] = _align(ref, est.components_, align)
        lower, upper = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
        return BootstrapLoadings(reps, lower, upper, reps.std(axis=0, ddof=1))

    # --- factor scores -------------------------------------------------------------
    def factor_scores(self, X, method="regression"):
        """Factor scores by one of four methods (see :mod:`latentmodels._scores`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        method : {'regression', 'bartlett', 'anderson_rubin', 'ten_berge'}
            Thurstone's regression scores (the posterior mean, as
            ``transform``), Bartlett's conditionally unbiased scores,
            Anderson–Rubin's uncorrelated unit-variance scores, or ten Berge's
            scores whose covariance is Φ. The last two are standardised on the
            training data.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_components)
        """
        if method not in SCORE_METHODS:
            raise ValueError(f"method must be one of {SCORE_METHODS}, got {method!r}.")
        check_is_fitted(self, "components_")
        ns = self._input_namespace(X, "factor_scores")
        if ns.is_array_api:  # the weights on the host, the product on the device
            X = self._validate_rows(X, ns, "factor_scores")
            host = host_view(self)
            B, s = host._score_weights(method)
            return centred_product(X, host.mean_, B / s[:, None], ns)
        X = self._validate(X, reset=False)
        if np.isnan(X).any():
            raise ValueError(
                "factor_scores needs complete rows; use transform for rows with "
                "missing entries (posterior mean of their observed entries)."
            )
        B, s = self._score_weights(method)
        return ((X - self.mean_) / s) @ B

    def _score_weights(self, method: str):
        """``(B, s)``: the scores are ``((x − μ) / s) B`` (correlation scale)."""
        stats = _training_stats(self)
        s = self._scale()
        R = stats.covariance / np.outer(s, s)
        L = self.components_.T / s[:, None]
        B = score_weights(method, L, self.noise_variance_ / s**2, self._phi(), R)
        return B, s

    @fill_doc
    def transform(self, X):
        """Factor scores of ``X``, by the method of the ``scores`` parameter.

        ``scores='regression'`` (the default) returns the posterior mean
        ``E[f | x]``; the other methods are those of :meth:`factor_scores`.

        %(transform_sections)s
        """
        method = getattr(self, "scores", "regression")
        if method == "regression":
            return super().transform(X)
        return self.factor_scores(X, method=method)

    # --- summary -------------------------------------------------------------------
    @on_host  # numpy copies of a device fit's attributes
    def identification(self, *, n_random=3, random_state=None):
        """Local identification: the rank of the Jacobian of ``vech C(θ)``.

        ``θ`` holds every loading and noise variance (and the factor
        correlations of an oblique rotation). The rotations ``W ↦ W Q`` leave
        ``C`` unchanged, so an orthogonal solution with ``k`` factors shows
        ``k(k − 1)/2`` unidentified directions (``k(k − 1)`` oblique): the
        rotation non-identifiability of Gaussian factors, which
        :class:`~latentmodels.ConfirmatoryFactorAnalysis` removes by
        constraints (user guide: "Confirmatory factor analysis").

        Parameters
        ----------
        n_random : int, default=3
            Random points at which the rank is also computed.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        Identification
            ``rank``, ``n_unidentified``, the null directions and the
            parameters they move.
        """
        from ._identification import fa_identification

        check_is_fitted(self, "components_")
        return fa_identification(
            self.components_,
            self.noise_variance_,
            factor_correlation=getattr(self, "factor_correlation_", None),
            feature_names=getattr(self, "feature_names_in_", None),
            n_random=n_random,
            random_state=random_state,
        )

    @on_host  # numpy copies of a device fit's attributes
    def summary(self, standard_errors=False):
        """Loadings table as a pandas DataFrame (psych's ``print.fa`` layout).

        Rows are the features then ``SS loadings``, ``Proportion Var`` and
        ``Cumulative Var``; columns the factors' loadings, ``communality``
        (``h2``) and ``uniqueness`` (``u2``), on the correlation scale (the
        loadings divided by the features' standard deviations). With
        ``standard_errors=True`` a column ``se <factor>`` follows each factor
        (from :meth:`standard_errors`, on the same scale).

        Returns
        -------
        pandas.DataFrame
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test extra
            raise ImportError(
                "summary() returns a pandas DataFrame; install pandas "
                "(pip install pandas)."
            ) from exc
        check_is_fitted(self, "components_")
        s = self._scale()
        L = self.components_.T / s[:, None]
        phi = self._phi()
        h2 = np.sum((L @ phi) * L, axis=1) if phi is not None else np.sum(L * L, 1)
        u2 = self.noise_variance_ / s**2
        d, k = L.shape
        names = self.get_feature_names_out()
        factors = [str(f) for f in names]
        features = getattr(self, "feature_names_in_", None)
        features = (
            [str(f) for f in features]
            if features is not None
            else [f"x{j}" for j in range(d)]
        )
        table = pd.DataFrame(L, index=features, columns=factors)
        if standard_errors:
            se = self.standard_errors().components.T / s[:, None]
            for r, f in reversed(list(enumerate(factors))):
                table.insert(r + 1, f"se {f}", se[:, r])
        table["communality"] = h2
        table["uniqueness"] = u2
        # SS loadings (of the structure when oblique: psych's convention)
        ss = np.sum(L * (L @ phi), axis=0) if phi is not None else np.sum(L * L, 0)
        rows = {
            "SS loadings": ss,
            "Proportion Var": ss / d,
            "Cumulative Var": np.cumsum(ss) / d,
        }
        extra = pd.DataFrame(
            {f: [rows[r][i] for r in rows] for i, f in enumerate(factors)},
            index=list(rows),
        )
        return pd.concat([table, extra])
