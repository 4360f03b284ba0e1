"""Persistence: every fitted estimator round-trips through pickle and skops.io.

A loaded model must give bit-identical outputs (transform, inverse_transform,
likelihoods, covariance, samples, parametric codes) and keep learning the
same way (``partial_fit``). ``skops.io`` is the secure format: loading runs no
code, and only types the user trusts are rebuilt; the types it asks to trust
must be ours, numpy's, scikit-learn's or scipy's.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    SparseCoding,
)

skops_io = pytest.importorskip("skops.io")

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Heywood case:UserWarning"),
]

RNG = np.random.RandomState(0)
X = RNG.standard_normal((60, 2)) @ RNG.standard_normal((2, 6)) + RNG.standard_normal(
    (60, 6)
)
X_NAN = X.copy()
X_NAN[::7, 2] = np.nan

SC = dict(alpha=0.1, max_iter=10, n_jobs=1, random_state=0)
CONFIGS = {
    "PCA": lambda: PCA(2).fit(X),
    "PCA whiten": lambda: PCA(2, whiten=True).fit(X),
    "PCA randomized": lambda: PCA(2, svd_solver="randomized", random_state=0).fit(X),
    "PCA mle": lambda: PCA("mle").fit(X),
    "ProbabilisticPCA": lambda: ProbabilisticPCA(2).fit(X),
    "ProbabilisticPCA em": lambda: ProbabilisticPCA(2, method="em", random_state=0).fit(
        X
    ),
    "ProbabilisticPCA missing": lambda: ProbabilisticPCA(
        2, missing_values="em", random_state=0
    ).fit(X_NAN),
    "FactorAnalysis": lambda: FactorAnalysis(2).fit(X),
    "FactorAnalysis varimax": lambda: FactorAnalysis(2, rotation="varimax").fit(X),
    "FactorAnalysis oblimin": lambda: FactorAnalysis(2, rotation="oblimin").fit(X),
    "FactorAnalysis missing": lambda: FactorAnalysis(
        2, missing_values="em", random_state=0
    ).fit(X_NAN),
    "SparseCoding": lambda: SparseCoding(3, **SC).fit(X),
    "SparseCoding online": lambda: SparseCoding(
        3, fit_algorithm="online", batch_size=16, **SC
    ).fit(X),
    "SparseCoding linear encoder": lambda: SparseCoding(
        3, encoder="linear", encoder_max_iter=20, **SC
    ).fit(X),
    "SparseCoding lista encoder": lambda: SparseCoding(
        3, encoder="lista", encoder_max_iter=20, **SC
    ).fit(X),
    "LinearAutoencoder": lambda: LinearAutoencoder(2, random_state=0).fit(X),
    "LinearAutoencoder weight decay": lambda: LinearAutoencoder(
        2, weight_decay=1.0, tied=True, random_state=0
    ).fit(X),
}


def _predictions(est):
    """Every output of a fitted estimator that a user could rely on."""
    data = X_NAN if getattr(est, "missing_values", "raise") == "em" else X
    out = {"transform": est.transform(data)}
    out["inverse_transform"] = est.inverse_transform(out["transform"])
    if not isinstance(est, SparseCoding):
        out["score"] = np.array([est.score(data)])
    for method in ("score_samples", "impute"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(data)
    for method in ("get_covariance", "get_precision"):
        if hasattr(est, method):
            out[method] = getattr(est, method)()
    if hasattr(est, "sample"):
        out["sample"] = np.asarray(est.sample(4, random_state=0))
    if isinstance(est, SparseCoding) and est.encoder_ is not None:
        out["encode_parametric"] = est.encode_parametric(X)
    out["feature_names_out"] = np.asarray(est.get_feature_names_out())
    return out


def _assert_same_model(loaded, est):
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    expected = _predictions(est)
    got = _predictions(loaded)
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def fitted(request):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return request.param, CONFIGS[request.param]()


def test_pickle_round_trip(fitted):
    _, est = fitted
    loaded = pickle.loads(pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL))
    _assert_same_model(loaded, est)


ALLOWED_MODULES = ("latentmodels.", "numpy.", "sklearn.", "scipy.")


def test_skops_round_trip(fitted, tmp_path):
    name, est = fitted
    path = tmp_path / f"{name.replace(' ', '_')}.skops"
    skops_io.dump(est, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    # only our own types, and the numerical libraries', need trusting
    assert untrusted, "the estimator itself should need trusting"
    assert all(t.startswith(ALLOWED_MODULES) for t in untrusted), untrusted
    assert f"{type(est).__module__}.{type(est).__name__}" in untrusted
    # without trusting them, nothing is loaded
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        skops_io.load(path)
    loaded = skops_io.load(path, trusted=untrusted)
    _assert_same_model(loaded, est)


def test_skops_bytes_round_trip(fitted):
    _, est = fitted
    blob = skops_io.dumps(est)
    loaded = skops_io.loads(blob, trusted=skops_io.get_untrusted_types(data=blob))
    _assert_same_model(loaded, est)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PCA(2),
        lambda: ProbabilisticPCA(2),
        lambda: FactorAnalysis(2),
        lambda: SparseCoding(3, **SC),
        lambda: LinearAutoencoder(2, random_state=0),
    ],
    ids=["PCA", "ProbabilisticPCA", "FactorAnalysis", "SparseCoding", "Autoencoder"],
)
@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_feature_names_and_output_config_survive(make, how):
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)])
    est = make().fit(df).set_output(transform="pandas")
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        blob = skops_io.dumps(est)
        loaded = skops_io.loads(blob, trusted=skops_io.get_untrusted_types(data=blob))
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    out, expected = loaded.transform(df), est.transform(df)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    with pytest.raises(ValueError, match="feature names should match"):
        loaded.transform(df[df.columns[::-1]])


@pytest.mark.parametrize("how", ["pickle", "skops"])
@pytest.mark.parametrize(
    "make",
    [lambda: ProbabilisticPCA(2), lambda: SparseCoding(3, **SC)],
    ids=["ProbabilisticPCA", "SparseCoding"],
)
def test_partial_fit_continues_after_loading(make, how):
    """Statistics kept for partial_fit are saved: learning resumes exactly."""
    est = make()
    est.partial_fit(X[:30])
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        blob = skops_io.dumps(est)
        loaded = skops_io.loads(blob, trusted=skops_io.get_untrusted_types(data=blob))
    est.partial_fit(X[30:])
    loaded.partial_fit(X[30:])
    np.testing.assert_array_equal(loaded.components_, est.components_)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_unfitted_estimators_round_trip():
    for make in (PCA, ProbabilisticPCA, FactorAnalysis, LinearAutoencoder):
        est = make(n_components=2)
        blob = skops_io.dumps(est)
        loaded = skops_io.loads(blob, trusted=skops_io.get_untrusted_types(data=blob))
        assert loaded.get_params() == est.get_params()
        assert pickle.loads(pickle.dumps(est)).get_params() == est.get_params()
