"""ConfirmatoryFactorAnalysis on array-API input (docs/user_guide/array_api.rst).

The reference is the numpy fit of the same values (the input rounded to its
dtype), compared as in test_array_api_estimators.py: every fitted array
attribute (the private ``_S``, ``_theta``, ``_information`` and ``_at_bound``
included) and every output, 1e-10 relative in float64 and 1e-4 in float32.
array-api-strict computes with numpy's arithmetic, so its Fisher-scoring path
is numpy's step by step (same ``n_iter_`` and ``loglike_``). PyTorch sums the
scatter in another order (1e-16 relative): Fisher scoring stops by a
tolerance (``tol`` on the decrement), so a fit is guaranteed to agree only to
the accuracy at which it stops, and PyTorch is compared at 1e-7 in float64,
as the other iterative fits (on these data it agrees to ~1e-15).
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from _array_api_helpers import assert_lives, rtol_for, to_np, to_xp
from test_array_api_estimators import _check_same_as_numpy, _rel
from test_cfa import TWO_FACTORS, _two_factor_data

from latentmodels import ConfirmatoryFactorAnalysis
from latentmodels._stats import stats_in_namespace

CASES = {
    "marker": ConfirmatoryFactorAnalysis({"f": [0, 1, 2], "g": [3, 4, 5]}),
    "std_lv_syntax": ConfirmatoryFactorAnalysis(TWO_FACTORS, std_lv=True),
    "orthogonal_fiml": ConfirmatoryFactorAnalysis(
        TWO_FACTORS, orthogonal=True, missing_values="fiml"  # complete data
    ),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_same_as_numpy(array_namespace, key):
    xp, device, dtype = array_namespace
    X = _two_factor_data(n=200)
    fitted = _check_same_as_numpy(CASES[key], X, xp, device, dtype)
    ref = CASES[key].fit(to_np(to_xp(X, xp, device, dtype)))
    assert fitted.n_samples_ == ref.n_samples_
    assert fitted._fiml is None
    if xp.__name__ == "array_api_strict":  # numpy's arithmetic: the same path
        assert fitted.n_iter_ == ref.n_iter_
        assert _rel(fitted.loglike_, ref.loglike_) <= rtol_for(xp, dtype)
    else:
        assert fitted.loglike_[-1] == pytest.approx(ref.loglike_[-1], rel=1e-10)


def test_wide_data_fit_from_the_device_statistics(array_namespace, monkeypatch):
    """n < d: CFA still reads the data through (n, x̄, S) only, so the scatter
    pass runs on the device (the other estimators move wide rows to the
    host), and the fit equals numpy's."""
    from latentmodels import _base

    calls = []

    def counted(X, xp, device):
        calls.append(X.shape)
        return stats_in_namespace(X, xp, device)

    monkeypatch.setattr(_base, "stats_in_namespace", counted)
    xp, device, dtype = array_namespace
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2)) @ np.kron(np.eye(2), np.ones((1, 6)))
    X += 0.5 * rng.standard_normal((10, 12)) + 2
    est = ConfirmatoryFactorAnalysis({"f": list(range(6)), "g": list(range(6, 12))})
    _check_same_as_numpy(est, X, xp, device, dtype)
    assert calls == [(10, 12)]


def test_assessment_of_a_device_fit_runs_on_the_host(array_namespace):
    """goodness_of_fit, standard errors (both informations), summary and
    identification of a device fit equal those of the numpy fit."""
    xp, device, dtype = array_namespace
    Xa = to_xp(_two_factor_data(n=200), xp, device, dtype)
    ref = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(to_np(Xa))
    with sklearn.config_context(array_api_dispatch=True):
        fitted = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(Xa)
        gof = fitted.goodness_of_fit()
        tables = {
            info: (fitted.standard_errors(info), fitted.summary(info))
            for info in ("expected", "observed")
        }
        ident = fitted.identification(random_state=0)
    rtol = rtol_for(xp, dtype)
    ref_gof = ref.goodness_of_fit()
    for field in ("statistic", "pvalue", "rmsea", "cfi", "tli", "srmr", "bic"):
        assert getattr(gof, field) == pytest.approx(
            getattr(ref_gof, field), rel=max(rtol, 1e-8)
        ), field
    for info, (se, summary) in tables.items():
        refs = (ref.standard_errors(info), ref.summary(info))
        for got, want in zip((se, summary), refs):
            assert list(got["rhs"]) == list(want["rhs"])
            g = got[["est", "se"]].to_numpy(dtype=float)
            w = want[["est", "se"]].to_numpy(dtype=float)
            assert _rel(g, w) <= rtol, (info, _rel(g, w))
    ref_ident = ref.identification(random_state=0)
    assert (ident.rank, ident.n_unidentified) == (ref_ident.rank, 0)
    # the estimator itself keeps its device attributes
    assert_lives(fitted.loadings_, xp, device)
    assert_lives(fitted.factor_covariance_, xp, device)


def test_fiml_with_missing_entries_is_numpy_only(array_namespace):
    xp, device, dtype = array_namespace
    X = _two_factor_data(n=200)
    X[[3, 10], [1, 4]] = np.nan
    est = ConfirmatoryFactorAnalysis(TWO_FACTORS, missing_values="fiml")
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(
            TypeError,
            match=r"ConfirmatoryFactorAnalysis\(missing_values='fiml'\) on data "
            r"with NaN runs on numpy arrays only.*X.cpu\(\).numpy\(\)",
        ):
            est.fit(to_xp(X, xp, device, dtype))
        # without fiml, NaN is an error that names the option
        with pytest.raises(ValueError, match="missing_values='fiml'"):
            ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(to_xp(X, xp, device, dtype))
    # the numpy route the message names fits the missing entries
    assert ConfirmatoryFactorAnalysis(
        TWO_FACTORS, missing_values="fiml"
    ).fit(to_np(to_xp(X, xp, device, dtype)))._fiml is not None


def test_dispatch_off_is_the_numpy_path():
    xps = pytest.importorskip("array_api_strict")
    X = _two_factor_data(n=200)
    a = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(xps.asarray(X))
    b = ConfirmatoryFactorAnalysis(TWO_FACTORS).fit(X)
    for name in ("loadings_", "components_", "factor_covariance_", "_S"):
        assert isinstance(getattr(a, name), np.ndarray)
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
