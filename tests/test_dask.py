"""Dask arrays: the fit equals the numpy fit; transforms stay lazy and equal."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from latentmodels import PCA, ProbabilisticPCA  # noqa: E402


def _data(n=3000, d=12, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, 3)) * 3
    noise = rng.uniform(0.2, 2.0, d)
    return rng.standard_normal((n, 3)) @ W.T + rng.standard_normal((n, d)) * noise + 7


def _models():
    # EM is stopped after a fixed number of iterations: the likelihood is flat to
    # rounding long before the parameters agree to 1e-10, so two runs on equal
    # statistics are compared step for step (the property under test is that
    # Dask gives the same statistics, and the same fit from them).
    from latentmodels import FactorAnalysis

    em = dict(tol=0.0, max_iter=300, random_state=0)
    return [
        PCA(3),
        ProbabilisticPCA(3),
        ProbabilisticPCA(3, method="em", **em),
        FactorAnalysis(3, acceleration=None, **em),
    ]


CHUNKINGS = {
    "rows": (500, 12),
    "uneven": ((1, 999, 2000), 12),
    "rows_and_features": (700, 5),
}


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dask_fit_equals_numpy_fit(model, chunks):
    from sklearn.base import clone

    X = _data()
    ref = clone(model).fit(X)
    lazy = clone(model).fit(da.from_array(X, chunks=chunks))
    np.testing.assert_allclose(lazy.mean_, ref.mean_, rtol=1e-10)
    np.testing.assert_allclose(
        lazy.get_covariance(), ref.get_covariance(), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(lazy.noise_variance_, ref.noise_variance_, rtol=1e-8)
    assert lazy.n_features_in_ == 12


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
def test_dask_statistics_equal_numpy(chunks):
    from latentmodels._dask import dask_sufficient_stats
    from latentmodels._stats import SufficientStats

    X = _data()
    ref = SufficientStats.from_array(X)
    got = dask_sufficient_stats(da.from_array(X, chunks=chunks), split_every=3)
    assert got.n == ref.n
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-14)
    np.testing.assert_allclose(got.scatter, ref.scatter, rtol=1e-12)


@pytest.mark.parametrize(
    "m", [ProbabilisticPCA(3), PCA(3, whiten=True)], ids=["PPCA", "PCA"]
)
def test_lazy_transforms_equal_eager(m):
    X = _data()
    Xd = da.from_array(X, chunks=(400, 6))
    m.fit(X)
    H = m.transform(Xd)
    assert isinstance(H, da.Array) and H.shape == (3000, 3)
    np.testing.assert_allclose(H.compute(), m.transform(X), rtol=1e-12)
    ll = m.score_samples(Xd)
    assert isinstance(ll, da.Array)
    np.testing.assert_allclose(ll.compute(), m.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(m.score(Xd), m.score(X), rtol=1e-12)
    Hd = da.from_array(m.transform(X), chunks=(500, 3))
    back = m.inverse_transform(Hd)
    assert isinstance(back, da.Array)
    np.testing.assert_allclose(back.compute(), m.inverse_transform(m.transform(X)))


def test_partial_fit_equals_fit_for_uneven_batches():
    X = _data()
    ref = ProbabilisticPCA(3).fit(X)
    inc = ProbabilisticPCA(3)
    for sl in (slice(0, 1), slice(1, 700), slice(700, 3000)):
        inc.partial_fit(X[sl])
    assert inc.n_samples_seen_ == 3000
    np.testing.assert_allclose(inc.get_covariance(), ref.get_covariance(), rtol=1e-10)
    np.testing.assert_allclose(inc.mean_, ref.mean_, rtol=1e-12)


def test_pca_dask_needs_covariance_route():
    Xd = da.from_array(_data(), chunks=(500, 12))
    with pytest.raises(ValueError, match="covariance_eigh"):
        PCA(3, svd_solver="full").fit(Xd)


def test_nan_in_dask_array_is_reported():
    X = _data()
    X[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        ProbabilisticPCA(2).fit(da.from_array(X, chunks=(500, 12)))


@pytest.mark.slow
def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    X = _data()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        Xd = da.from_array(X, chunks=(600, 12))
        m = ProbabilisticPCA(3).fit(Xd)
        H = m.transform(Xd).compute()
    ref = ProbabilisticPCA(3).fit(X)
    np.testing.assert_allclose(m.get_covariance(), ref.get_covariance(), rtol=1e-10)
    np.testing.assert_allclose(H, ref.transform(X), rtol=1e-10)


def test_linear_autoencoder_fits_from_dask_scatter_and_transforms_lazily():
    from latentmodels import LinearAutoencoder

    X = _data()
    Xd = da.from_array(X, chunks=(700, 5))
    ref = LinearAutoencoder(3, weight_decay=1.0, random_state=0).fit(X)
    lazy = LinearAutoencoder(3, weight_decay=1.0, random_state=0).fit(Xd)
    # same statistics to rounding, same deterministic L-BFGS path
    np.testing.assert_allclose(
        lazy.decoder_ @ lazy.encoder_, ref.decoder_ @ ref.encoder_, atol=1e-8
    )
    H = ref.transform(Xd)
    assert isinstance(H, da.Array)
    np.testing.assert_allclose(H.compute(), ref.transform(X), rtol=1e-12)
    back = ref.inverse_transform(da.from_array(ref.transform(X), chunks=(500, 3)))
    np.testing.assert_allclose(back.compute(), ref.inverse_transform(ref.transform(X)))
    with pytest.raises(ValueError, match="noise_mode='expected'"):
        LinearAutoencoder(3, input_noise=0.1, noise_mode="sampled").fit(Xd)


def test_sparse_coding_transforms_lazily():
    from latentmodels import SparseCoding

    X = _data(n=600)
    model = SparseCoding(
        6, alpha=1.0, max_iter=5, encoder="linear", random_state=0
    ).fit(X)
    Xd = da.from_array(X, chunks=(250, 12))
    H = model.transform(Xd)
    assert isinstance(H, da.Array)
    np.testing.assert_allclose(H.compute(), model.transform(X), rtol=1e-10, atol=1e-12)
    P = model.encode_parametric(Xd)
    np.testing.assert_allclose(P.compute(), model.encode_parametric(X), rtol=1e-12)
    back = model.inverse_transform(da.from_array(model.transform(X), chunks=(250, 6)))
    np.testing.assert_allclose(
        back.compute(), model.inverse_transform(model.transform(X))
    )
