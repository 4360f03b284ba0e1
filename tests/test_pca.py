"""PCA against scikit-learn, and its PPCA likelihood against scipy."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA as SkPCA

from latentmodels import PCA

SHAPES = {"tall": (400, 12), "wide": (15, 40), "square": (30, 30)}


def _data(shape, seed=0):
    n, d = shape
    rng = np.random.RandomState(seed)
    scales = np.linspace(3.0, 0.3, d)
    return (
        rng.standard_normal((n, d))
        @ np.diag(scales)
        @ rng.standard_normal((d, d))
        / np.sqrt(d)
        + 5.0
    )


def _abs_rows_close(a, b, **kw):
    # components are defined up to sign: compare after aligning each row
    signs = np.sign(np.sum(a * b, axis=1))
    np.testing.assert_allclose(a * signs[:, None], b, **kw)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("solver", ["auto", "full", "covariance_eigh", "gram_eigh"])
@pytest.mark.parametrize("n_components", [3, 0.8])
def test_matches_sklearn(shape, solver, n_components):
    X = _data(shape)
    ours = PCA(n_components, svd_solver=solver).fit(X)
    ref = SkPCA(n_components, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    _abs_rows_close(ours.components_, ref.components_, atol=1e-9)
    np.testing.assert_allclose(
        ours.explained_variance_, ref.explained_variance_, rtol=1e-10
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=1e-10)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(
        np.abs(ours.transform(X)), np.abs(ref.transform(X)), atol=1e-8
    )


def test_gram_route_falls_back_on_rank_deficient_data():
    rng = np.random.RandomState(3)
    X = rng.standard_normal((20, 4)) @ rng.standard_normal((4, 50))  # rank 4
    ours = PCA(3, svd_solver="gram_eigh").fit(X)
    ref = SkPCA(3, svd_solver="full").fit(X)
    _abs_rows_close(ours.components_, ref.components_, atol=1e-9)
    full = PCA(svd_solver="gram_eigh").fit(X)
    assert full.n_components_ == 20


def test_mle_dimension_matches_sklearn():
    rng = np.random.RandomState(1)
    X = rng.standard_normal((500, 10)) @ np.diag([5, 4, 3, 2.5, 1, 1, 1, 1, 1, 1.0])
    ours, ref = PCA("mle").fit(X), SkPCA("mle", svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_ == 4


def test_randomized_close_to_exact():
    X = _data((300, 20))
    a = PCA(4, svd_solver="randomized", random_state=0).fit(X)
    b = PCA(4).fit(X)
    np.testing.assert_allclose(a.explained_variance_, b.explained_variance_, rtol=1e-6)
    a2 = PCA(4, svd_solver="randomized", random_state=0).fit(X)
    np.testing.assert_array_equal(a.components_, a2.components_)


def test_score_is_ppca_loglik_under_scipy():
    X = _data((200, 8))
    pca = PCA(3).fit(X)
    ref = multivariate_normal(pca.mean_, pca.get_covariance()).logpdf(X)
    np.testing.assert_allclose(pca.score_samples(X), ref, rtol=1e-11)
    # W = U_k (Λ_k − σ²)^{1/2}: covariance has the top-k spectrum of the data
    evals = np.linalg.eigvalsh(pca.get_covariance())[::-1]
    np.testing.assert_allclose(evals[:3], pca.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(evals[3:], pca.noise_variance_[0], rtol=1e-9)


def test_whiten_keeps_the_model_covariance():
    # scikit-learn#13898: whitening must not change the generative model
    X = _data((200, 8))
    plain, white = PCA(3).fit(X), PCA(3, whiten=True).fit(X)
    np.testing.assert_allclose(
        white.get_covariance(), plain.get_covariance(), rtol=1e-12
    )
    np.testing.assert_allclose(white.score(X), plain.score(X), rtol=1e-12)
    Z = white.transform(X)
    np.testing.assert_allclose(np.cov(Z.T), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(
        white.inverse_transform(Z),
        plain.inverse_transform(plain.transform(X)),
        atol=1e-10,
    )


def test_precision_is_inverse_covariance():
    X = _data((100, 10))
    pca = PCA(4).fit(X)
    np.testing.assert_allclose(
        pca.get_covariance() @ pca.get_precision(), np.eye(10), atol=1e-10
    )


def test_bic_parameter_count():
    X = _data((120, 6))
    pca = PCA(2).fit(X)
    p = 6 * 2 - 1 + 1 + 6
    assert pca.bic(X) == pytest.approx(-2 * 120 * pca.score(X) + p * np.log(120))
    assert pca.aic(X) == pytest.approx(-2 * 120 * pca.score(X) + 2 * p)


def test_full_rank_model_stays_finite():
    X = np.random.RandomState(0).standard_normal((10, 30))  # n < d, k = n
    pca = PCA().fit(X)
    assert np.all(np.isfinite(pca.score_samples(X)))
    assert pca.noise_variance_[0] > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_components": 0}, r"'n_components'.*range \[1, inf\).*Got 0 instead"),
        ({"n_components": 50}, r"at most min\(n_samples, n_features\)"),
        ({"n_components": 1.5}, r"'n_components'.*\(0\.0, 1\.0\).*Got 1\.5"),
        ({"n_components": "max"}, r"among \{'mle'\} or None\. Got 'max'"),
        ({"n_components": 0.5, "svd_solver": "randomized"}, "integer n_components"),
        ({"svd_solver": "arpack"}, r"'svd_solver'.*among.*Got 'arpack'"),
        ({"whiten": "yes"}, r"'whiten' parameter.*bool.*Got 'yes'"),
        ({"random_state": "seed"}, r"'random_state' parameter.*Got 'seed'"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PCA(**kwargs).fit(_data((20, 5)))


def test_parameters_validated_once_per_fit(monkeypatch):
    # declared once in _parameter_constraints, checked once by fit
    calls = []
    real = PCA._validate_params
    monkeypatch.setattr(
        PCA, "_validate_params", lambda self: calls.append(1) or real(self)
    )
    PCA(2, svd_solver="covariance_eigh").fit(_data((20, 5)))
    PCA(2, svd_solver="gram_eigh").fit(_data((4, 5)))
    assert len(calls) == 2


def test_nan_error_names_rows_and_input_untouched():
    X = _data((20, 5))
    X[[3, 7], 1] = np.nan
    before = X.copy()
    with pytest.raises(ValueError, match=r"NaN in 2 rows \(first: row 3\)"):
        PCA(2).fit(X)
    np.testing.assert_array_equal(X, before)


def test_large_offset_gives_the_spectrum_of_the_recentred_data():
    # Y + 1e8 is exact for Y on a 2⁻¹⁰ grid, so (Y + 1e8) − 1e8 re-centres
    # exactly: PCA must not see the offset (the uncentred XᵀX − n x̄x̄ᵀ of
    # scikit-learn's covariance route loses every digit here)
    Y = np.round(_data((3000, 8)) * 2**10) / 2**10
    ours = PCA(3).fit(Y + 1e8)
    ref = SkPCA(3, svd_solver="full").fit(Y)
    np.testing.assert_allclose(
        ours.explained_variance_, ref.explained_variance_, rtol=1e-12
    )
    _abs_rows_close(ours.components_, ref.components_, atol=1e-10)
    np.testing.assert_allclose(ours.mean_ - 1e8, ref.mean_, atol=2e-8)
