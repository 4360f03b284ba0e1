"""The SparseCoding estimator: learning, inference, encoder, sampling, contract."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import assert_monotone
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning

import latentmodels
from latentmodels import SparseCoding
from latentmodels.sparse import lasso_objective, sparse_encode

# Small problems: coordinate descent on one thread is the quickest inference.
FAST = dict(solver="cd", n_jobs=1)
pytestmark = pytest.mark.filterwarnings(
    "ignore:SparseCoding:sklearn.exceptions.ConvergenceWarning"
)


def _laplace_data(seed, n=300, k=8, d=16, active=3, noise=0.02):
    """Signals from a known unit-norm dictionary with sparse Laplace codes."""
    rng = np.random.RandomState(seed)
    D = rng.standard_normal((k, d))
    D /= np.linalg.norm(D, axis=1)[:, None]
    H = np.zeros((n, k))
    for i in range(n):
        idx = rng.choice(k, active, replace=False)
        H[i, idx] = rng.laplace(0.0, 1.0, active)
    return H @ D + noise * rng.standard_normal((n, d)), D


def _matched_congruence(D_hat, D):
    """|cosine| of the atoms matched by the Hungarian algorithm (sign-free)."""
    C = np.abs(D_hat @ D.T) / np.outer(
        np.linalg.norm(D_hat, axis=1), np.linalg.norm(D, axis=1)
    )
    rows, cols = linear_sum_assignment(-C)
    return C[rows, cols]


@pytest.fixture(scope="module")
def data():
    return _laplace_data(0)


def test_batch_objective_never_increases(data):
    X, _ = data
    model = SparseCoding(8, alpha=0.05, max_iter=40, tol=0, **FAST, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    obj = model.objective_
    assert obj.shape == (model.n_iter_ + 1,) and model.n_iter_ == 40
    assert_monotone(obj, increasing=False, name="objective_")
    assert obj[-1] < 0.5 * obj[0]
    # The trace is the mean objective, recomputed independently.
    H = model.transform(X)
    final = lasso_objective(X, model.components_, H, 0.05).mean()
    assert_allclose(final, obj[-1], rtol=1e-4)


def test_recovers_true_dictionary_up_to_permutation_and_sign(data):
    X, D = data
    model = SparseCoding(8, alpha=0.05, max_iter=300, tol=1e-7, **FAST, random_state=2)
    model.fit(X)
    congruence = _matched_congruence(model.components_, D)
    assert congruence.min() > 0.995, congruence
    assert np.all(np.linalg.norm(model.components_, axis=1) <= 1 + 1e-12)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_fit_transform_equals_fit_then_transform(data, algorithm):
    X, _ = data
    params = dict(alpha=0.1, max_iter=5, fit_algorithm=algorithm, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        H1 = SparseCoding(8, **params, **FAST, random_state=0).fit_transform(X)
        model = SparseCoding(8, **params, **FAST, random_state=0).fit(X)
    assert_array_equal(H1, model.transform(X))
    # And transform is the exact lasso solution for the learned dictionary.
    H_ref = sparse_encode(X, model.components_, 0.1, solver="cvxpy")
    obj = lasso_objective(X, model.components_, H1, 0.1)
    obj_ref = lasso_objective(X, model.components_, H_ref, 0.1)
    assert_allclose(obj, obj_ref, rtol=1e-5)
    assert_allclose(model.inverse_transform(H1), H1 @ model.components_)


def test_partial_fit_statistics_with_unequal_batches(data):
    X, D_true = data
    D0 = np.random.RandomState(9).standard_normal((8, 16))
    D0 /= np.linalg.norm(D0, axis=1)[:, None]
    bounds = [(0, 17), (17, 117), (117, 130), (130, 300)]
    for rho in [0.0, 3.0]:
        model = SparseCoding(8, alpha=0.1, forget_rate=rho, dict_init=D0, **FAST)
        A, B, D_before = 0.0, 0.0, D0
        Hs = []
        for lo, hi in bounds:
            model.partial_fit(X[lo:hi])
            # The batch is coded with the dictionary before the update.
            H = sparse_encode(X[lo:hi], D_before, 0.1, solver="cd", n_jobs=1)
            Hs.append(H)
            A = (lo / hi) ** rho * A + H.T @ H
            B = (lo / hi) ** rho * B + H.T @ X[lo:hi]
            D_before = model.components_.copy()
        assert model.n_samples_seen_ == 300 and model.n_iter_ == 4
        assert model.objective_.shape == (4,)
        assert_allclose(model.stats_A_, A, rtol=1e-10, atol=1e-12)
        assert_allclose(model.stats_B_, B, rtol=1e-10, atol=1e-12)
        if rho == 0.0:  # no forgetting: the sums over all examples, in one go
            H_all = np.vstack(Hs)
            assert_allclose(model.stats_A_, H_all.T @ H_all, rtol=1e-10)
            assert_allclose(model.stats_B_, H_all.T @ X, rtol=1e-10)


def test_online_fit_reaches_batch_objective(data):
    X, D = data
    batch = SparseCoding(8, alpha=0.05, max_iter=300, tol=1e-7, **FAST, random_state=0)
    online = SparseCoding(
        8,
        alpha=0.05,
        fit_algorithm="online",
        batch_size=50,
        max_iter=50,
        tol=1e-6,
        **FAST,
        random_state=0,
    )
    batch.fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        online.fit(X)
    f_batch = lasso_objective(X, batch.components_, batch.transform(X), 0.05).mean()
    f_online = lasso_objective(X, online.components_, online.transform(X), 0.05)
    assert f_online.mean() < 1.02 * f_batch
    assert _matched_congruence(online.components_, D).min() > 0.99


@pytest.mark.parametrize("kind", ["linear", "lista"])
def test_parametric_encoder_between_exact_and_zero(data, kind):
    X, _ = data
    model = SparseCoding(
        8, alpha=0.1, max_iter=20, encoder=kind, **FAST, random_state=0
    ).fit(X)
    gap = model.encoder_gap_
    H = model.transform(X)
    Hp = model.encode_parametric(X)
    D = model.components_
    exact = lasso_objective(X, D, H, 0.1).mean()
    param = lasso_objective(X, D, Hp, 0.1).mean()
    zero = lasso_objective(X, D, np.zeros_like(H), 0.1).mean()
    assert_allclose(
        [gap["objective_exact"], gap["objective_parametric"]], [exact, param]
    )
    assert_allclose(gap["objective_zero"], zero)
    assert exact < param < zero
    assert gap["relative_objective_gap"] > 0
    assert 0 < gap["relative_code_error"] < 1


def test_lista_beats_linear_encoder(data):
    X, _ = data
    gaps = {}
    for kind in ["linear", "lista"]:
        model = SparseCoding(8, alpha=0.1, max_iter=20, encoder=kind, **FAST)
        gaps[kind] = model.set_params(random_state=0).fit(X).encoder_gap_
    assert gaps["lista"]["relative_code_error"] < gaps["linear"]["relative_code_error"]


def test_positive_code_and_dictionary():
    rng = np.random.RandomState(3)
    X = np.abs(rng.standard_normal((60, 10)))
    model = SparseCoding(
        5, alpha=0.2, positive_code=True, positive_dict=True, max_iter=30, **FAST
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        H = model.set_params(random_state=0, encoder="linear").fit_transform(X)
    assert H.min() >= 0 and model.components_.min() >= 0
    assert model.encode_parametric(X).min() >= 0
    obj = model.objective_
    assert_monotone(obj, increasing=False, name="objective_")
    _, Hs = model.sample(50, random_state=0, return_codes=True)
    assert Hs.min() >= 0


def test_sample_follows_the_generative_model(data):
    X, _ = data
    model = SparseCoding(8, alpha=0.05, max_iter=30, **FAST, random_state=0).fit(X)
    R = X - model.transform(X) @ model.components_
    assert_allclose(model.noise_variance_, np.mean(R**2), rtol=1e-10)
    assert_allclose(model.prior_rate_, 0.05 / model.noise_variance_)
    Xs, Hs = model.sample(20000, random_state=1, return_codes=True)
    # Laplace(0, 1/lambda): E|h| = 1/lambda; noise variance sigma^2.
    assert_allclose(np.abs(Hs).mean(), 1 / model.prior_rate_, rtol=0.03)
    E = Xs - Hs @ model.components_
    assert_allclose(E.var(), model.noise_variance_, rtol=0.03)
    assert_array_equal(Xs, model.sample(20000, random_state=1))


def test_reproducible_and_input_not_modified(data):
    X, _ = data
    X = X[:80].copy()
    X_copy = X.copy()
    X.setflags(write=False)
    fits = [
        SparseCoding(6, alpha=0.1, max_iter=10, **FAST, random_state=5).fit(X)
        for _ in range(2)
    ]
    assert_array_equal(fits[0].components_, fits[1].components_)
    fits[0].transform(X)
    fits[0].partial_fit(X)
    assert_array_equal(X, X_copy)
    D0 = np.ones((6, 16))
    SparseCoding(6, alpha=0.1, max_iter=2, dict_init=D0, **FAST).fit(X)
    assert_array_equal(D0, np.ones((6, 16)))
    other = SparseCoding(6, alpha=0.1, max_iter=10, **FAST, random_state=6).fit(X)
    assert not np.allclose(other.components_, fits[1].components_)


def test_convergence_warning(data):
    X, _ = data
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SparseCoding(8, alpha=0.05, max_iter=2, tol=0, **FAST).fit(X)


OF = "parameter of SparseCoding"


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(alpha=-1.0), ValueError, f"'alpha' {OF} must be a float in the"),
        (dict(solver="lars"), ValueError, f"'solver' {OF} must be a str among"),
        (dict(fit_algorithm="sgd"), ValueError, f"'fit_algorithm' {OF} must be"),
        (dict(encoder="mlp"), ValueError, f"'encoder' {OF} must be a str among"),
        (dict(max_iter=0), ValueError, r"'max_iter' .* in the range \[1, inf\)"),
        (dict(batch_size=2.5), TypeError, f"'batch_size' {OF} must be an int"),
        (dict(n_jobs=0), ValueError, f"'n_jobs' {OF} must be"),
        (dict(transform_tol=0.0), ValueError, f"'transform_tol' {OF} must be"),
        (dict(dict_init=np.ones((2, 2))), ValueError, "dict_init has shape"),
    ],
)
def test_bad_parameters(data, params, error, match):
    X, _ = data
    with pytest.raises(error, match=match):
        SparseCoding(3, **params).fit(X[:20])


def test_bad_input(data):
    X, _ = data
    X_nan = X[:20].copy()
    X_nan[[4, 9], 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 2 rows \(first: row 4\)"):
        SparseCoding(3).fit(X_nan)
    with pytest.raises(TypeError, match=f"'n_components' {OF} must be an instance"):
        SparseCoding(0.5).fit(X[:20])
    model = SparseCoding(3, alpha=0.1, max_iter=3, **FAST).fit(X[:20])
    with pytest.raises(ValueError, match="H has 2 columns but the dictionary has 3"):
        model.inverse_transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="No parametric encoder is fitted"):
        model.encode_parametric(X[:5])
    with pytest.raises(ValueError, match="expecting 16 features"):
        model.transform(X[:5, :4])


def test_feature_names_out(data):
    X, _ = data
    model = SparseCoding(3, alpha=0.1, max_iter=3, **FAST).fit(X[:30])
    assert_array_equal(
        model.get_feature_names_out(),
        ["sparsecoding0", "sparsecoding1", "sparsecoding2"],
    )


@pytest.mark.parametrize("fit_algorithm", ["batch", "online"])
def test_threads_give_the_same_fit(fit_algorithm):
    """fit and transform on 1 and 2 threads agree (inference is bitwise)."""
    X, _ = _laplace_data(3, n=400)
    kw = dict(alpha=0.1, max_iter=5, tol=0, fit_algorithm=fit_algorithm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = SparseCoding(8, n_jobs=1, random_state=0, **kw).fit(X)
        two = SparseCoding(8, n_jobs=2, random_state=0, **kw).fit(X)
    assert_allclose(two.components_, one.components_, rtol=0, atol=1e-12)
    assert_allclose(two.objective_, one.objective_, rtol=1e-12)
    assert_allclose(two.noise_variance_, one.noise_variance_, rtol=1e-12)
    assert_array_equal(one.transform(X), one.set_params(n_jobs=2).transform(X))


def test_warnings_name_the_callers_line(data):
    X, _ = data
    with pytest.warns(ConvergenceWarning) as rec:
        SparseCoding(8, alpha=0.05, max_iter=2, tol=0, **FAST).fit(X)
    assert {w.filename for w in rec} == {__file__}
    model = SparseCoding(8, alpha=0.05, max_iter=3, **FAST, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    model.set_params(transform_max_iter=1, transform_tol=1e-14)
    with pytest.warns(ConvergenceWarning, match="transform_max_iter") as rec:
        model.transform(X)
    # transform is wrapped by scikit-learn's set_output, whose frame counts as
    # the caller (latentmodels._warnings); never a line inside latentmodels
    package = str(Path(latentmodels.__file__).parent)
    assert not any(w.filename.startswith(package) for w in rec)


def test_noise_variance_is_the_mean_squared_residual(data):
    X, _ = data
    model = SparseCoding(8, alpha=0.05, max_iter=5, **FAST, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        H = model.fit_transform(X)
    R = X - H @ model.components_
    assert_allclose(model.noise_variance_, np.mean(R**2), rtol=1e-9)


@pytest.mark.filterwarnings("ignore:sparse_encode:sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_noise_variance_is_the_mean_squared_residual(data):
    """Each batch counts with the residual under the dictionary that coded it."""
    X, _ = data
    model = SparseCoding(8, alpha=0.05, **FAST, random_state=0)
    model.partial_fit(X[:100])
    D1 = model.components_.copy()
    model.partial_fit(X[100:250])
    H2 = sparse_encode(X[100:250], D1, 0.05, solver="cd", n_jobs=1)
    r2_second = np.sum((X[100:250] - H2 @ D1) ** 2)
    # the first batch was coded with the initial dictionary (same random_state)
    init = SparseCoding(8, alpha=0.05, **FAST, random_state=0)
    D0 = init._initial_dictionary(X[:100], np.random.RandomState(0))
    H1 = sparse_encode(X[:100], D0, 0.05, solver="cd", n_jobs=1)
    r2_first = np.sum((X[:100] - H1 @ D0) ** 2)
    expected = (r2_first + r2_second) / (250 * X.shape[1])
    assert_allclose(model.noise_variance_, expected, rtol=1e-9)
