"""Least-squares extraction: minres (psych) and principal axis (statsmodels)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from latentmodels import FactorAnalysis
from latentmodels._extraction import minres, principal_axis
from latentmodels.datasets import make_factor_data

PEER = Path(__file__).resolve().parents[2] / "shared" / "peer-references"
FA_PEER = PEER / "factor_analyzer" / "tests"
SM_CASES = PEER / "statsmodels" / "statsmodels_cases.json"

# SAS "Minas Graes" example (statsmodels' test_factor.py; columns Basal, Occ,
# Max, id)
MINAS = np.array(
    [
        [2.068, 2.070, 1.580, 1],
        [2.068, 2.074, 1.602, 2],
        [2.090, 2.090, 1.613, 3],
        [2.097, 2.093, 1.613, 4],
        [2.117, 2.125, 1.663, 5],
        [2.140, 2.146, 1.681, 6],
        [2.045, 2.054, 1.580, 7],
        [2.076, 2.088, 1.602, 8],
        [2.090, 2.093, 1.643, 9],
        [2.111, 2.114, 1.643, 10],
        [2.093, 2.098, 1.653, 11],
        [2.100, 2.106, 1.623, 12],
        [2.104, 2.101, 1.653, 13],
    ]
)


def _match_signs(L, ref):
    return L * np.sign(np.sum(L * ref, axis=0))


# psych fm="minres" loadings; the largest difference is 2.9e-4 (test03, k=3),
# most are below 2e-6: psych stops its L-BFGS-B earlier.
@pytest.mark.parametrize(
    "case", ["01", "02", "03", "04", "06", "07", "08", "09"]
)
@pytest.mark.parametrize("k", [2, 3])
def test_minres_matches_psych(case, k):
    pd = pytest.importorskip("pandas")
    data = FA_PEER / "data" / f"test{case}.csv"
    ref = FA_PEER / "expected" / f"test{case}" / f"loading_uls_none_{k}_test{case}.csv"
    if not (data.exists() and ref.exists()):
        pytest.skip("peer references not present")
    R = np.corrcoef(pd.read_csv(data).to_numpy(float), rowvar=False)
    expected = pd.read_csv(ref, index_col=0).to_numpy()
    L, psi, _ = minres(R, k)
    np.testing.assert_allclose(_match_signs(L, expected), expected, atol=5e-4)
    np.testing.assert_allclose(psi, 1 - np.sum(L**2, axis=1), atol=1e-10)


def test_minres_recovers_exact_structure():
    rng = np.random.RandomState(0)
    W = rng.uniform(0.4, 0.8, (10, 2)) * [1, 0.5]
    R = W @ W.T
    np.fill_diagonal(R, 1.0)
    L, psi, _ = minres(R, 2)
    np.testing.assert_allclose(L @ L.T + np.diag(psi), R, atol=1e-6)


def test_principal_axis_matches_statsmodels_reference():
    if not SM_CASES.exists():
        pytest.skip("peer references not present")
    ref = np.array(json.loads(SM_CASES.read_text())["pa_smc_unrotated"])
    L, _, n_iter = principal_axis(np.corrcoef(MINAS, rowvar=False), 2)
    np.testing.assert_allclose(_match_signs(L, ref), ref, atol=1e-8)
    assert n_iter == 50  # statsmodels' default cap, not converged here


def test_principal_axis_matches_statsmodels_factor():
    sm = pytest.importorskip("statsmodels.multivariate.factor")
    rng = np.random.RandomState(1)
    W = rng.uniform(0.3, 0.8, (9, 3))
    X = rng.standard_normal((300, 3)) @ W.T + rng.standard_normal((300, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Factor(X, 3, method="pa").fit()
    L, psi, _ = principal_axis(np.corrcoef(X, rowvar=False), 3)
    np.testing.assert_allclose(_match_signs(L, res.loadings), res.loadings, atol=1e-10)
    np.testing.assert_allclose(psi, res.uniqueness, atol=1e-10)


# --- the estimator's extraction and scores parameters --------------------------


@pytest.mark.parametrize("case, k, atol", [("01", 2, 1e-6), ("01", 3, 1e-3),
                                           ("02", 2, 3e-3), ("02", 3, 3e-3)])
def test_estimator_minres_varimax_matches_psych(case, k, atol):
    """psych fa(fm="minres", rotate="varimax"): stats::varimax (Kaiser
    normalised, eps = 1e-5, which bounds the agreement)."""
    pd = pytest.importorskip("pandas")
    data = FA_PEER / "data" / f"test{case}.csv"
    name = f"loading_uls_varimax_{k}_test{case}.csv"
    ref = FA_PEER / "expected" / f"test{case}" / name
    if not (data.exists() and ref.exists()):
        pytest.skip("peer references not present")
    X = pd.read_csv(data).to_numpy(float)
    fa = FactorAnalysis(k, extraction="minres", rotation="varimax",
                        rotation_kwargs={"normalize": True}).fit(X)
    expected = pd.read_csv(ref, index_col=0).to_numpy()
    L = fa.components_.T / X.std(axis=0)[:, None]
    order = np.argmax(np.abs(L.T @ expected), axis=0)
    np.testing.assert_allclose(_match_signs(L[:, order], expected), expected,
                               atol=atol)


def test_estimator_principal_axis_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.multivariate.factor")
    rng = np.random.RandomState(2)
    W = rng.uniform(0.3, 0.8, (8, 2))
    X = (rng.standard_normal((300, 2)) @ W.T + rng.standard_normal((300, 8))) * 3
    res = sm.Factor(X, 2, method="pa").fit()
    fa = FactorAnalysis(2, extraction="principal_axis").fit(X)
    L = fa.components_.T / X.std(axis=0)[:, None]
    # the estimator reports the canonical orientation: compare L Lᵀ and ψ
    np.testing.assert_allclose(L @ L.T, res.loadings @ res.loadings.T, atol=1e-10)
    np.testing.assert_allclose(fa.noise_variance_ / X.var(0), res.uniqueness,
                               atol=1e-10)


def test_likelihood_outputs_need_ml():
    X, _ = make_factor_data(200, 6, 2, random_state=0)
    fa = FactorAnalysis(2, extraction="minres").fit(X)
    assert len(fa.loglike_) == 1 and np.isfinite(fa.loglike_[0])
    with pytest.raises(ValueError, match="extraction='ml'"):
        fa.goodness_of_fit()
    with pytest.raises(ValueError, match="extraction='ml'"):
        fa.standard_errors()
    with pytest.raises(ValueError, match="extraction"):
        FactorAnalysis(2, extraction="pca").fit(X)
    with pytest.raises(ValueError, match="missing_values='em'"):
        FactorAnalysis(2, extraction="minres", missing_values="em").fit(X)


@pytest.mark.parametrize("scores", ["bartlett", "anderson_rubin", "ten_berge"])
def test_scores_parameter_selects_transform(scores):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = make_factor_data(300, 8, 2, random_state=1)
    fa = FactorAnalysis(2, rotation="varimax", scores=scores).fit(X)
    np.testing.assert_allclose(fa.transform(X), fa.factor_scores(X, scores))
    pipe = make_pipeline(StandardScaler(), FactorAnalysis(2, scores=scores))
    assert pipe.fit_transform(X).shape == (300, 2)
    with pytest.raises(ValueError, match="scores"):
        FactorAnalysis(2, scores="thomson").fit(X)
