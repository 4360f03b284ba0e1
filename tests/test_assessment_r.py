"""Model assessment against R (psych, factanal, lavaan) run in the test.

Skipped when ``Rscript`` (or the R package) is not installed. One R process
per fixture computes every reference value for the scikit-learn wine data
(178 × 13) and a simulated data set with a clear three-factor structure.
"""

import warnings

import numpy as np
import pytest
from _rscript import run_r
from sklearn.datasets import load_wine

from latentmodels import FactorAnalysis
from latentmodels.identifiability import matched_congruence
from latentmodels.selection import (
    bartlett_sphericity,
    kmo,
    parallel_analysis,
    smc,
    velicer_map,
)


def _wine():
    return load_wine().data


def _three_factors():
    rng = np.random.RandomState(0)
    d, k = 9, 3
    W = np.zeros((d, k))
    W[np.arange(d), np.arange(d) % k] = 0.7
    W[np.arange(d), (np.arange(d) + 1) % k] = 0.25
    X = rng.standard_normal((500, k)) @ W.T + 0.6 * rng.standard_normal((500, d))
    return X * np.arange(1, 10)


@pytest.fixture(scope="module")
def psych_wine():
    return run_r(
        """
        v <- psych::VSS(X, n = 6, rotate = 'none', plot = FALSE)
        out('map', v$map)
        k <- psych::KMO(X); out('msa', k$MSA); out('msai', k$MSAi)
        out('bartlett', psych::cortest.bartlett(cor(X), n = nrow(X))$chisq)
        out('smc', psych::smc(X))
        for (k in 1:3) {
          f <- factanal(X, factors = k, rotation = 'none')
          out(paste0('factanal', k), c(f$STATISTIC, f$dof, f$PVAL))
          p <- psych::fa(X, nfactors = k, fm = 'ml', rotate = 'none')
          out(paste0('fa', k), c(p$STATISTIC, p$dof, p$PVAL, p$RMSEA[1:3], p$TLI,
                                  p$objective))
        }
        p <- psych::fa.parallel(X, plot = FALSE); out('parallel', c(p$nfact, p$ncomp))
        """,
        packages=["psych"],
        X=_wine(),
    )


def test_factanal_statistic_on_wine(psych_wine):
    for k in (1, 2, 3):
        gof = FactorAnalysis(k).fit(_wine()).goodness_of_fit()
        stat, dof, pval = psych_wine[f"factanal{k}"]
        assert gof.dof == dof
        np.testing.assert_allclose(gof.statistic, stat, rtol=1e-7)
        np.testing.assert_allclose(gof.pvalue, pval, rtol=1e-5, atol=1e-300)


def test_psych_fa_fit_statistics_on_wine(psych_wine):
    """psych's fa stops its optimiser earlier than our EM: 1e-5 relative."""
    for k in (1, 2, 3):
        gof = FactorAnalysis(k).fit(_wine()).goodness_of_fit()
        stat, dof, pval, rmsea, lo, hi, tli, fmin = psych_wine[f"fa{k}"]
        np.testing.assert_allclose(gof.statistic, stat, rtol=1e-5)
        np.testing.assert_allclose(gof.fmin, fmin, rtol=1e-5)
        np.testing.assert_allclose(gof.rmsea, rmsea, rtol=1e-5)
        np.testing.assert_allclose(gof.rmsea_ci90, (lo, hi), rtol=1e-4)
        np.testing.assert_allclose(gof.tli, tli, rtol=1e-5)


def test_selection_matches_psych(psych_wine):
    X = _wine()
    np.testing.assert_allclose(
        velicer_map(X).average_partial[1:7], psych_wine["map"], rtol=1e-10
    )
    res = kmo(X)
    np.testing.assert_allclose(res.overall, psych_wine["msa"][0], rtol=1e-12)
    np.testing.assert_allclose(res.per_feature, psych_wine["msai"], rtol=1e-12)
    np.testing.assert_allclose(
        bartlett_sphericity(X).statistic, psych_wine["bartlett"][0], rtol=1e-10
    )
    np.testing.assert_allclose(smc(X), psych_wine["smc"], rtol=1e-10)
    pa = parallel_analysis(X, random_state=0)  # different random numbers
    assert (pa.n_factors, pa.n_components) == tuple(psych_wine["parallel"])


@pytest.fixture(scope="module")
def psych_scores():
    X = _wine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # psych takes uniquenesses 1 − h² from the loadings: equal to ours at
        # the exact maximum, so fit to a tight tolerance
        fa = FactorAnalysis(3, rotation="oblimin", tol=1e-15).fit(X)
    L = fa.components_.T / X.std(axis=0)[:, None]
    ref = run_r(
        """
        for (m in c('Thurstone', 'Bartlett', 'Anderson', 'tenBerge')) {
          s <- psych::factor.scores(X, L, Phi = Phi, method = m)
          out(m, s$weights)
        }
        """,
        packages=["psych"],
        X=X,
        L=L,
        Phi=fa.factor_correlation_,
    )
    return X, fa, ref


@pytest.mark.parametrize(
    "method, r_name",
    [
        ("regression", "Thurstone"),
        ("bartlett", "Bartlett"),
        ("anderson_rubin", "Anderson"),
        ("ten_berge", "tenBerge"),
    ],
)
def test_score_weights_match_psych(psych_scores, method, r_name):
    """psych standardises with the n − 1 standard deviation; weights compare."""
    X, fa, ref = psych_scores
    z = (X - X.mean(0)) / X.std(0)
    B = np.linalg.lstsq(z, fa.factor_scores(X, method), rcond=None)[0]
    np.testing.assert_allclose(B, ref[r_name], atol=1e-6)


@pytest.mark.parametrize("information", ["expected", "observed"])
def test_standard_errors_match_lavaan_efa(information):
    """lavaan's efa() (varimax with Kaiser normalisation) on a clear
    three-factor structure, with either information matrix."""
    X = _three_factors()
    r = run_r(
        f"""
        colnames(X) <- paste0('x', 1:ncol(X))
        f <- lavaan::efa(data = as.data.frame(X), nfactors = 3,
                         rotation = 'varimax', output = 'lavaan',
                         information = '{information}')
        pe <- lavaan::parameterEstimates(f)
        out('est', pe$est[pe$op == '=~']); out('se', pe$se[pe$op == '=~'])
        th <- pe[pe$op == '~~' & pe$lhs == pe$rhs & pe$lhs %in% colnames(X), ]
        out('psise', th$se)
        """,
        packages=["lavaan"],
        X=X,
    )
    fa = FactorAnalysis(3, rotation="varimax", rotation_kwargs={"normalize": True})
    se = fa.fit(X).standard_errors(information)
    est = r["est"].reshape(3, -1)
    m = matched_congruence(est, fa.components_)
    np.testing.assert_allclose(m.aligned_components, est, atol=1e-4)
    np.testing.assert_allclose(
        se.components[m.permutation], r["se"].reshape(3, -1), rtol=1e-4
    )
    np.testing.assert_allclose(se.noise_variance, r["psise"], rtol=1e-4)


def test_shared_fit_statistics_match_lavaan_cfa():
    """The module CFA reuses: lavaan's fitMeasures of the Holzinger–Swineford
    three-factor model from its sample and implied covariances (χ² with n,
    no mean structure)."""
    from latentmodels._fit_statistics import goodness_of_fit

    r = run_r(
        """
        m <- 'visual =~ x1 + x2 + x3
              textual =~ x4 + x5 + x6
              speed =~ x7 + x8 + x9'
        f <- lavaan::cfa(m, data = lavaan::HolzingerSwineford1939)
        out('S', lavaan::lavInspect(f, 'sampstat')$cov)
        out('C', lavaan::fitted(f)$cov)
        out('fm', lavaan::fitMeasures(f, c('chisq', 'df', 'pvalue', 'cfi', 'tli',
            'rmsea', 'rmsea.ci.lower', 'rmsea.ci.upper', 'rmsea.pvalue', 'srmr',
            'aic', 'bic', 'logl', 'baseline.chisq', 'npar', 'ntotal')))
        """,
        packages=["lavaan"],
    )
    (chisq, df, p, cfi, tli, rmsea, lo, hi, rp, srmr, aic, bic, logl, base,
     npar, n) = r["fm"]
    g = goodness_of_fit(r["S"], r["C"], n_samples=int(n), n_free_params=int(npar),
                        n_mean_params=0)
    assert g.dof == df
    got = [g.statistic, g.pvalue, g.cfi, g.tli, g.rmsea, *g.rmsea_ci90,
           g.rmsea_pvalue, g.srmr, g.aic, g.bic, g.loglike, g.baseline_statistic]
    want = [chisq, p, cfi, tli, rmsea, lo, hi, rp, srmr, aic, bic, logl, base]
    np.testing.assert_allclose(got, want, rtol=1e-7)


@pytest.mark.parametrize("k", [13, 14, 15])
def test_statistic_from_factanal_solution_test01(k):
    """Where our fit lands elsewhere than factanal's (k = 13…15 on test01),
    the statistic computed from R's own solution equals R's STATISTIC."""
    from pathlib import Path

    from latentmodels._fit_statistics import bartlett_multiplier, goodness_of_fit

    pd = pytest.importorskip("pandas")
    path = (Path(__file__).resolve().parents[2] / "shared" / "peer-references"
            / "factor_analyzer" / "tests" / "data" / "test01.csv")
    if not path.exists():
        pytest.skip("peer references not present")
    X = pd.read_csv(path).to_numpy(float)
    r = run_r(
        f"""
        f <- factanal(X, factors = {k}, rotation = 'none')
        out('L', unclass(f$loadings)); out('u', f$uniquenesses)
        out('stat', c(f$STATISTIC, f$dof))
        """,
        X=X,
    )
    n, d = X.shape
    C = r["L"] @ r["L"].T + np.diag(r["u"])
    gof = goodness_of_fit(
        np.corrcoef(X, rowvar=False), C, n_samples=n,
        n_free_params=d * k - k * (k - 1) // 2 + d,
        chi2_multiplier=bartlett_multiplier(n, d, k),
    )
    assert gof.dof == r["stat"][1]
    np.testing.assert_allclose(gof.statistic, r["stat"][0], rtol=1e-6)
