"""Inference for confirmatory factor analysis: standard errors, tables, fit, rank.

What follows from a fitted :class:`~latentmodels.ConfirmatoryFactorAnalysis`
(its structure ``_structure``, estimate ``_theta``, expected information
``_information``, covariance ``_S`` and, with FIML, ``_fiml``) without
refitting: standard errors from the expected or observed information,
lavaan's parameter table, the fit measures of
:func:`latentmodels._fit_statistics.goodness_of_fit`, and the identification
check of :mod:`latentmodels._identification` (user guide: *cfa*). On a model
fitted on array-API input they run on numpy copies of its attributes
(:func:`~latentmodels._array_api.on_host`) and return numpy/pandas results.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import stats as sps
from sklearn.utils.validation import check_is_fitted

from . import _warnings
from ._array_api import on_host
from ._cfa_fit import complete_objective, fiml_objective
from ._identification import structure_identification
from ._threads import blas_threads


class CFAInferenceMixin:
    """Standard errors, ``summary``, ``goodness_of_fit``, ``identification``."""

    @on_host  # numpy copies of a device fit's attributes
    def standard_errors(self, information=None):
        """Standard errors, z-values and p-values of the free parameters.

        ``Cov(θ̂) ≈ 𝓘(θ̂)⁻¹ / n`` with ``𝓘`` the information per observation:
        the expected (Fisher) information, or the observed one (minus the
        Hessian of the mean log-likelihood, analytic). lavaan's
        defaults: expected for complete data, observed with FIML (where it
        also covers the means). Parameters held at a bound get NaN.

        Parameters
        ----------
        information : {'expected', 'observed'} or None, default=None
            None follows lavaan's default for the fit.

        Returns
        -------
        table : pandas.DataFrame
            One row per free parameter, in lavaan's order, with columns
            ``lhs, op, rhs, est, se, z, pvalue``.
        """
        check_is_fitted(self, "loadings_")
        est, se = self._estimates_and_se(information)
        rows = self._structure.parameter_table()
        if self._fiml is not None:
            rows += [(x, "~1", "") for x in self._structure.feature_names]
        return self._table(rows, est, se)

    def _information_matrix(self, information):
        if information is None:
            information = "expected" if self._fiml is None else "observed"
        if information not in ("expected", "observed"):
            raise ValueError(
                f"information must be 'expected', 'observed' or None, got "
                f"{information!r}."
            )
        st = self._structure
        if information == "expected":
            if self._fiml is None:
                return self._information
            return self._fiml["information_full"]
        if self._fiml is None:
            return complete_objective(st, self._S, observed=True)(self._theta)[3]
        objective = fiml_objective(st, self._fiml["data"], observed=True)
        return objective(np.concatenate([self._theta, self.mean_]))[3]

    def _estimates_and_se(self, information=None):
        st = self._structure
        info = self._information_matrix(information)
        keep = np.concatenate([~self._at_bound,
                               np.ones(info.shape[0] - st.n_params, dtype=bool)])
        w, V = np.linalg.eigh(info[np.ix_(keep, keep)])
        flat = w <= 1e-10 * max(w[-1], 1e-300)
        var = np.full(info.shape[0], np.nan)
        var[keep] = (V[:, ~flat] ** 2) @ (1.0 / w[~flat])
        if flat.any():  # not identified: no standard error along the null space
            moved = np.zeros(info.shape[0], dtype=bool)
            moved[keep] = np.sqrt(np.sum(V[:, flat] ** 2, axis=1)) > 1e-6
            var[moved] = np.nan
            _warnings.warn(
                f"The information matrix is singular ({int(flat.sum())} "
                "direction(s)): the model is not identified at the estimate, and "
                "the standard errors of the parameters it moves are NaN; see "
                "identification().",
                UserWarning,
            )
        se = np.sqrt(np.maximum(var, 0.0) / self.n_samples_)
        est = self._theta
        if self._fiml is not None:
            est = np.concatenate([est, self.mean_])
        return est, se

    @staticmethod
    def _table(rows, est, se):
        import pandas as pd

        z = est / np.where(se > 0, se, np.nan)
        df = pd.DataFrame(rows, columns=["lhs", "op", "rhs"])
        df["est"], df["se"], df["z"] = est, se, z
        df["pvalue"] = 2.0 * sps.norm.sf(np.abs(z))
        return df

    @on_host  # numpy copies of a device fit's attributes
    def summary(self, information=None):
        """The parameter table in lavaan's layout (``parameterEstimates``).

        Loadings (``=~``, fixed ones with ``se = 0``), residual variances and
        factor (co)variances (``~~``), and with FIML the intercepts (``~1``)
        and the factor means (fixed at 0).

        Parameters
        ----------
        information : {'expected', 'observed'} or None, default=None
            Of the standard errors (see :meth:`standard_errors`).

        Returns
        -------
        pandas.DataFrame
            Columns ``lhs, op, rhs, est, se, z, pvalue``.
        """
        check_is_fitted(self, "loadings_")
        st = self._structure
        est, se = self._estimates_and_se(information)
        names, factors = st.feature_names, st.factor_names
        rows, e, s = [], [], []
        free = iter(range(st.n_load))
        for j, f in enumerate(factors):
            for i, x in enumerate(names):
                if st.free[i, j]:
                    t = next(free)
                    value, error = est[t], se[t]
                elif st.fixed[i, j] != 0:
                    value, error = st.fixed[i, j], 0.0
                else:
                    continue
                rows.append((f, "=~", x))
                e.append(value)
                s.append(error)
        rows += [(x, "~~", x) for x in names]
        e += list(est[st.n_load: st.n_load + st.d])
        s += list(se[st.n_load: st.n_load + st.d])
        Phi = self.factor_covariance_
        for j in range(st.k):  # variances, then covariances (lavaan's order)
            rows.append((factors[j], "~~", factors[j]))
            e.append(Phi[j, j])
            s.append(se[st.n_load + st.d + j] if not st.std_lv else 0.0)
        base = st.n_load + st.d + len(st.phi_var)
        for t, (j, m) in enumerate((j, m) for j in range(st.k)
                                   for m in range(j + 1, st.k)):
            rows.append((factors[j], "~~", factors[m]))
            e.append(Phi[j, m])
            s.append(0.0 if st.orthogonal else se[base + t])
        if self._fiml is not None:
            rows += [(x, "~1", "") for x in names]
            e += list(self.mean_)
            s += list(se[st.n_params:])
            rows += [(f, "~1", "") for f in factors]  # factor means, fixed at 0
            e += [0.0] * st.k
            s += [0.0] * st.k
        return self._table(rows, np.asarray(e, float), np.asarray(s, float))

    @on_host  # numpy copies of a device fit's attributes
    def goodness_of_fit(self):
        """χ² test and fit indices, as lavaan's ``fitMeasures``.

        ``T = n F_ML`` on ``d(d + 1)/2 − q`` degrees of freedom (with FIML
        ``T = 2(ℓ_sat − ℓ)`` against the saturated model fitted by FIML),
        CFI and TLI against the independence model, RMSEA with its 90%
        interval, SRMR, AIC and BIC (lavaan counts the means only when they
        are modelled, i.e. with FIML; there the SRMR also averages the
        standardised mean residuals, as lavaan's).

        Returns
        -------
        GoodnessOfFit
            The same result object as ``FactorAnalysis.goodness_of_fit()``.
        """
        from ._fit_statistics import goodness_of_fit

        check_is_fitted(self, "loadings_")
        C = self.get_covariance()
        q = self._structure.n_params
        if self._fiml is None:
            return goodness_of_fit(self._S, C, n_samples=self.n_samples_,
                                   n_free_params=q, n_mean_params=0)
        n, f = self.n_samples_, self._fiml
        ll = n * self.loglike_[-1]
        gof = goodness_of_fit(
            self._S, C, n_samples=n, n_free_params=q,
            statistic=max(2.0 * (f["loglike_h1"] - ll), 0.0),
            baseline_statistic=2.0 * (f["loglike_h1"] - f["loglike_baseline"]),
            loglike=ll,
        )
        # lavaan's SRMR with a mean structure also averages the d standardised
        # mean residuals (saturated FIML means against the model's)
        sd = np.sqrt(np.diag(self._S))
        resid_cov = ((self._S - C) / np.outer(sd, sd))[np.tril_indices(C.shape[0])]
        resid_mean = (f["mean_h1"] - self.mean_) / sd
        srmr = np.sqrt((np.sum(resid_cov**2) + np.sum(resid_mean**2))
                       / (resid_cov.size + resid_mean.size))
        return replace(gof, srmr=float(srmr))

    @on_host  # numpy copies of a device fit's attributes
    def identification(self, *, n_random=3, random_state=None):
        """Local identification: rank of ``∂ vech C / ∂θ`` at the estimate.

        Also computed at ``n_random`` random points of the model (the rank
        almost everywhere); see the user guide *cfa*. The model is locally
        identified when ``n_unidentified == 0``; otherwise ``moved`` names the
        parameters the null directions change.

        Parameters
        ----------
        n_random : int, default=3
            Random points at which the rank is also computed.
        random_state : int, RandomState instance or None, default=None
            Seeds the random points.

        Returns
        -------
        Identification
            ``rank``, ``n_unidentified``, ``generic_rank``, ``moved``,
            ``null_directions`` ...
        """
        check_is_fitted(self, "loadings_")
        with blas_threads(1):
            return structure_identification(
                self._structure, self._theta, n_random=n_random,
                random_state=random_state,
            )
