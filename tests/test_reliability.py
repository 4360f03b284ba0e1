"""Reliability: the bad-input matrix, numerical edge cases, reproducibility.

Every public estimator and public function is run on bad, odd and carelessly
prepared input. Each case ends either in a correct result (checked against
an independent reference or an invariant) or in an error whose message says
what was wrong and what to do; never in NaN output, a bare numpy error, or a
modified input array (issue 10).
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.linalg import subspace_angles
from sklearn.exceptions import ConvergenceWarning

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    SparseCoding,
)
from latentmodels import identifiability as ident
from latentmodels.datasets import make_factor_data, make_sparse_coding_data
from latentmodels.rotations import rotate
from latentmodels.sparse import sparse_encode

pytestmark = [
    # convergence and Heywood warnings are checked on purpose in their own tests
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Heywood case:UserWarning"),
]

N, D, K = 40, 6, 2


def _data(n=N, d=D, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, K)) * np.linspace(3.0, 1.0, K)
    noise_sd = rng.uniform(1.0, 2.0, d)
    return rng.standard_normal((n, K)) @ W.T + rng.standard_normal((n, d)) * noise_sd


X0 = _data()  # no Heywood case: factor analysis converges in tens of steps

# How closely two fits that differ only by rounding (memory layout, row order,
# units) agree, relative to the size of the output: the exact eigen-solvers to
# rounding; the iterative fits to their stopping tolerance.
FIT_RTOL = {
    "PCA": 1e-10,
    "ProbabilisticPCA": 1e-10,
    "FactorAnalysis": 1e-9,
    "SparseCoding": 1e-6,
    "LinearAutoencoder": 1e-6,
}

MAKERS = {
    "PCA": lambda **kw: PCA(**{"n_components": K, **kw}),
    "ProbabilisticPCA": lambda **kw: ProbabilisticPCA(**{"n_components": K, **kw}),
    "FactorAnalysis": lambda **kw: FactorAnalysis(
        **{"n_components": K, "random_state": 0, **kw}
    ),
    "SparseCoding": lambda **kw: SparseCoding(
        **{
            "n_components": 3,
            "alpha": 0.1,
            "max_iter": 30,
            "n_jobs": 1,
            "random_state": 0,
            **kw,
        }
    ),
    "LinearAutoencoder": lambda **kw: LinearAutoencoder(
        **{"n_components": K, "random_state": 0, **kw}
    ),
}
GAUSSIAN = ("PCA", "ProbabilisticPCA", "FactorAnalysis")
NAMES = sorted(MAKERS)


def _outputs(est, X):
    """Everything an estimator computes from X, to check for NaN and damage."""
    out = {"transform": est.transform(X)}
    if hasattr(est, "score") and not isinstance(est, SparseCoding):
        out["score"] = np.atleast_1d(est.score(X))
    if hasattr(est, "score_samples"):
        out["score_samples"] = est.score_samples(X)
    out["inverse"] = est.inverse_transform(out["transform"])
    return out


def _top_subspace(X, k):
    """Leading k eigenvectors of the sample covariance (an independent eigh)."""
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
    return U[:, ::-1][:, :k], lam[::-1]


# ----------------------------------------------------------------------------
# 1. Bad input: a clear error, at fit and at transform, with the input intact.


def _with_nan(X):
    X = X.copy()
    X[min(3, X.shape[0] - 1), 1] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[min(5, X.shape[0] - 1), 0] = -np.inf
    return X


BAD_X = {
    "nan": (_with_nan, ValueError, r"NaN in 1 row \(first: row 3\).*impute"),
    "inf": (_with_inf, ValueError, r"inf in 1 row \(first: row 5\).*remove or clip"),
    "0 rows": (lambda X: X[:0], ValueError, r"0 sample.*Pass a 2-D array"),
    "0 columns": (lambda X: X[:, :0], ValueError, r"0 feature.*Pass a 2-D array"),
    "1-D": (lambda X: X[:, 0], ValueError, r"Expected 2D array.*reshape"),
    "3-D": (lambda X: X[None], ValueError, r"dim 3.*Pass a 2-D array"),
    "scalar": (lambda X: 3.0, ValueError, r"Expected 2D array.*reshape"),
    "complex": (lambda X: X + 1j, ValueError, r"Complex data not supported.*real"),
    "strings": (
        lambda X: np.full(X.shape, "a", dtype=object),
        ValueError,
        r"non-numeric.*OneHotEncoder",
    ),
    "sparse csr": (sp.csr_matrix, TypeError, r"dense data is required.*toarray"),
    "sparse coo": (sp.coo_matrix, TypeError, r"dense data is required.*toarray"),
}


@pytest.mark.parametrize("case", sorted(BAD_X))
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_at_fit(name, case):
    make, exc, pattern = BAD_X[case]
    X = make(X0)
    before = X.copy() if isinstance(X, np.ndarray) else None
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        MAKERS[name]().fit(X)
    if before is not None:
        np.testing.assert_array_equal(X, before)


@pytest.fixture(scope="module")
def fitted():
    return {name: make().fit(X0) for name, make in MAKERS.items()}


@pytest.mark.parametrize("case", sorted(set(BAD_X) - {"0 columns"}))
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_at_transform(fitted, name, case):
    make, exc, pattern = BAD_X[case]
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        fitted[name].transform(make(X0))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_features", [D - 1, D + 1])
def test_wrong_number_of_features(fitted, name, n_features):
    X = _data(d=n_features, seed=1)
    pattern = rf"X has {n_features} features, but \w+ is expecting {D}.*same columns"
    with pytest.raises(ValueError, match=pattern):
        fitted[name].transform(X)
    if name != "SparseCoding":
        with pytest.raises(ValueError, match=pattern):
            fitted[name].score(X)


BAD_CODES = {
    "nan": (lambda H: _with_nan(H), ValueError, r"NaN"),
    "inf": (lambda H: _with_inf(H), ValueError, r"inf"),
    "1-D": (lambda H: H[0], ValueError, r"(2D|shape \(n_samples, \d\)).*"),
    "wrong k": (lambda H: np.c_[H, H[:, :1]], ValueError, r"\b3\b.*(transform|2|3)"),
    "complex": (lambda H: H + 1j, ValueError, r"([Cc]omplex|real)"),
    "strings": (
        lambda H: np.full(H.shape, "a", dtype=object),
        ValueError,
        r"(non-numeric|real numbers)",
    ),
    "sparse": (sp.csr_matrix, (TypeError, ValueError), r"(dense|shape)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CODES))
@pytest.mark.parametrize("name", NAMES)
def test_bad_codes_at_inverse_transform(fitted, name, case):
    est = fitted[name]
    H = est.transform(X0[:8])
    if H.shape[1] == 3:  # SparseCoding: the wrong-k case adds a 4th column
        H = H[:, :3]
    make, exc, pattern = BAD_CODES[case]
    if case == "wrong k" and name == "SparseCoding":
        pattern = r"4 columns but the dictionary has 3 atoms.*transform"
    elif case == "wrong k":
        pattern = r"(shape \(n_samples, 2\)|codes with 2 columns).*3"
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        est.inverse_transform(make(H))


@pytest.mark.parametrize("case", ["nan", "complex", "strings", "sparse csr"])
@pytest.mark.parametrize("name", ["ProbabilisticPCA", "SparseCoding"])
def test_bad_input_at_partial_fit(name, case):
    make, exc, pattern = BAD_X[case]
    if case == "nan":
        pattern = r"NaN in 1 row.*partial_fit|NaN in 1 row.*impute"
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        MAKERS[name]().partial_fit(make(X0))
    est = MAKERS[name]().partial_fit(X0)
    with pytest.raises(ValueError, match=rf"X has 4 features.*expecting {D}"):
        est.partial_fit(X0[:, :4])


@pytest.mark.parametrize("name", ["PCA", "ProbabilisticPCA", "FactorAnalysis"])
@pytest.mark.parametrize(
    "n, exc, pattern",
    [
        (0, ValueError, "at least 1"),
        (-3, ValueError, "at least 1"),
        (2.5, TypeError, "integer"),
    ],
)
def test_bad_sample_size(fitted, name, n, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fitted[name].sample(n)


@pytest.mark.parametrize("name", ["ProbabilisticPCA", "FactorAnalysis"])
@pytest.mark.parametrize(
    "case, pattern",
    [
        ("all-NaN row", r"1 row with every entry missing \(rows 4\).*drop it"),
        ("all-NaN column", r"1 column that is never observed \(columns 3\).*drop"),
        ("inf", r"inf in 1 row \(first: row 2\).*remove or clip"),
        ("bad option", r"missing_values.* must be .*'em', 'raise'"),
    ],
)
def test_missing_values_edge_cases(name, case, pattern):
    X = _with_nan(X0)
    option = "em"
    if case == "all-NaN row":
        X[4] = np.nan
    elif case == "all-NaN column":
        X[:, 3] = np.nan
    elif case == "inf":
        X[2, 2] = np.inf
    else:
        X, option = X0, "drop"
    with pytest.raises(ValueError, match=pattern):
        MAKERS[name](missing_values=option).fit(X)


@pytest.mark.parametrize("name", ["ProbabilisticPCA", "FactorAnalysis"])
def test_missing_values_one_observed_entry_in_a_column(name):
    """A column observed once: the fit works and every output is finite."""
    X = X0.copy()
    X[1:, 3] = np.nan
    before = X.copy()
    est = MAKERS[name](missing_values="em").fit(X)
    for value in (est.transform(X), est.score_samples(X), est.impute(X)):
        assert np.all(np.isfinite(value))
    np.testing.assert_array_equal(X, before)
    filled = est.impute(X)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])


@pytest.mark.parametrize("name", GAUSSIAN)
def test_one_row_is_refused_by_gaussian_models(name):
    with pytest.raises(ValueError, match=r"1 sample.*at least 2 sample"):
        MAKERS[name]().fit(X0[:1])


def test_nan_hint_points_to_missing_values_em():
    for name in ("ProbabilisticPCA", "FactorAnalysis"):
        with pytest.raises(ValueError, match="missing_values='em'"):
            MAKERS[name]().fit(_with_nan(X0))


@pytest.mark.parametrize("name", NAMES)
def test_input_never_modified(name):
    X = X0.copy()
    est = MAKERS[name]().fit(X)
    _outputs(est, X)
    np.testing.assert_array_equal(X, X0)


# ----------------------------------------------------------------------------
# 2. n_components out of range.

BAD_K = {
    0: (ValueError, r"at least 1, got 0"),
    -1: (ValueError, r"at least 1, got -1"),
    2.5: ((TypeError, ValueError), r"n_components.*2\.5"),
    "two": ((TypeError, ValueError), r"n_components.*'two'"),
    True: (TypeError, r"n_components.*True"),
}


@pytest.mark.parametrize("k", list(BAD_K), ids=[repr(k) for k in BAD_K])
@pytest.mark.parametrize("name", NAMES)
def test_n_components_invalid(name, k):
    exc, pattern = BAD_K[k]
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        MAKERS[name](n_components=k).fit(X0)


@pytest.mark.parametrize(
    "name, k, n, bound",
    [
        ("PCA", D + 1, N, rf"at most min\(n_samples, n_features\).*<= {D}"),
        ("PCA", 5, 4, r"at most min\(n_samples, n_features\).*<= 4"),
        ("ProbabilisticPCA", D + 1, N, rf"at most n_features.*<= {D}"),
        ("FactorAnalysis", D + 1, N, rf"at most n_features.*<= {D}"),
        ("LinearAutoencoder", D + 1, N, rf"at most n_features.*<= {D}"),
    ],
)
def test_n_components_too_large(name, k, n, bound):
    with pytest.raises(ValueError, match=rf"n_components={k} is too large.*{bound}"):
        MAKERS[name](n_components=k).fit(X0[:n])


@pytest.mark.parametrize("name", ["ProbabilisticPCA", "FactorAnalysis"])
def test_more_factors_than_samples_stays_finite(name):
    """k <= d but k > n: the covariance is singular; the noise floor keeps C
    positive definite, so every output is finite and the fit is at least as
    likely as the k = n - 1 fit of the same model (nested models)."""
    X = X0[:4]
    big = MAKERS[name](n_components=5).fit(X)
    small = MAKERS[name](n_components=3).fit(X)
    for value in _outputs(big, X).values():
        assert np.all(np.isfinite(value))
    assert big.score(X) >= small.score(X) - 1e-8 * abs(small.score(X))


def test_sparse_coding_overcomplete_is_allowed():
    """k > d (and k > n) is the point of an overcomplete dictionary."""
    est = MAKERS["SparseCoding"](n_components=2 * D).fit(X0[:8])
    H = est.transform(X0[:8])
    assert H.shape == (8, 2 * D) and np.all(np.isfinite(H))
    assert np.all(np.linalg.norm(est.components_, axis=1) <= 1 + 1e-12)


# ----------------------------------------------------------------------------
# 3. Degenerate data: results are correct, finite, and the input is intact.


def _degenerate(case):
    rng = np.random.RandomState(3)
    if case == "n < d":
        return X0[:5]
    if case == "constant column":
        return np.c_[X0, np.full(N, 7.5)]
    if case == "duplicated columns":
        return np.c_[X0, X0[:, :2]]
    if case == "rank deficient":  # rank K + 1 < d, no noise
        return rng.standard_normal((N, K + 1)) @ rng.standard_normal((K + 1, D))
    raise AssertionError(case)


DEGENERATE = ["n < d", "constant column", "duplicated columns", "rank deficient"]


@pytest.mark.parametrize("case", DEGENERATE)
@pytest.mark.parametrize("name", NAMES)
def test_degenerate_data(name, case):
    X = _degenerate(case)
    X.setflags(write=False)  # any write into the input would raise
    est = MAKERS[name]().fit(X)
    for key, value in _outputs(est, X).items():
        assert np.all(np.isfinite(value)), key
    if name in ("PCA", "ProbabilisticPCA", "LinearAutoencoder"):
        # the fitted k-dimensional subspace is the top principal subspace
        U, lam = _top_subspace(X, K)
        assert lam[K - 1] > 1e-6 * lam[0]  # a well-defined subspace
        angle = subspace_angles(U, est.components_.T).max()
        assert angle < 1e-6
    if name == "FactorAnalysis":
        # FA nests PPCA (Ψ = σ² I): its maximum likelihood cannot be lower
        ppca = ProbabilisticPCA(n_components=K).fit(X)
        assert est.score(X) >= ppca.score(X) - 1e-6 * abs(ppca.score(X))
    if name == "SparseCoding":
        # codes are lasso solutions: |d_jᵀ r| <= α, = α·sign(h_j) on the support
        H = est.transform(X)
        C = (X - H @ est.components_) @ est.components_.T
        alpha = est.alpha
        assert np.all(np.abs(C) <= alpha * (1 + 1e-3) + 1e-9)
        on = H != 0
        np.testing.assert_allclose(C[on], alpha * np.sign(H[on]), rtol=1e-3)


def test_constant_column_gets_no_loading_and_floor_noise():
    X = _degenerate("constant column")
    pca = PCA(n_components=K).fit(X)
    assert np.all(np.abs(pca.components_[:, -1]) < 1e-12)
    fa = FactorAnalysis(n_components=K).fit(X)
    assert np.all(np.abs(fa.components_[:, -1]) < 1e-6 * np.abs(fa.components_).max())
    # the constant column sits at the noise floor but is not a Heywood case
    assert D not in fa.heywood_features_
    assert fa.noise_variance_[D] <= 1e-5 * fa.noise_variance_[:D].mean()


def test_duplicated_columns_get_equal_loadings_and_a_heywood_warning():
    X = _degenerate("duplicated columns")
    pca = PCA(n_components=K).fit(X)
    np.testing.assert_allclose(
        pca.components_[:, :2], pca.components_[:, D:], atol=1e-12
    )
    with pytest.warns(
        UserWarning, match=r"Heywood case.*feature\(s\).*fewer components"
    ):
        fa = FactorAnalysis(n_components=K).fit(X)
    WWt = fa.components_.T @ fa.components_
    np.testing.assert_allclose(WWt[:2, :2], WWt[D:, D:], rtol=1e-6)


# ----------------------------------------------------------------------------
# 4. Scale: results scale as the model says.


@pytest.mark.parametrize("c", [1e-8, 1e8])
@pytest.mark.parametrize("name", GAUSSIAN)
def test_gaussian_models_scale_with_the_data(name, c):
    """x -> c x: loadings c W, noise c² Ψ, log-likelihood − d log c, codes equal.

    PCA's unit components are invariant; the codes (posterior mean of the
    unit-variance factors) do not change, except for PCA's projection,
    which scales by c.
    """
    ref = MAKERS[name]().fit(X0)
    est = MAKERS[name]().fit(c * X0)
    if name == "PCA":
        np.testing.assert_allclose(est.components_, ref.components_, atol=1e-9)
        np.testing.assert_allclose(
            est.explained_variance_, c**2 * ref.explained_variance_, rtol=1e-9
        )
    else:
        np.testing.assert_allclose(
            est.get_covariance(), c**2 * ref.get_covariance(), rtol=1e-7
        )
    np.testing.assert_allclose(
        est.noise_variance_, c**2 * ref.noise_variance_, rtol=1e-7
    )
    np.testing.assert_allclose(
        est.score(c * X0), ref.score(X0) - D * np.log(c), rtol=1e-9
    )
    factor = c if name == "PCA" else 1.0
    scale = np.abs(ref.transform(X0)).max()
    np.testing.assert_allclose(
        est.transform(c * X0), factor * ref.transform(X0), atol=1e-7 * factor * scale
    )


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_autoencoder_scales_with_the_data(c):
    ref = MAKERS["LinearAutoencoder"]().fit(X0)
    est = MAKERS["LinearAutoencoder"]().fit(c * X0)
    U, _ = _top_subspace(X0, K)
    assert subspace_angles(U, est.components_.T).max() < 1e-6
    np.testing.assert_allclose(
        est.inverse_transform(est.transform(c * X0)),
        c * ref.inverse_transform(ref.transform(X0)),
        rtol=1e-6,
        atol=1e-7 * c,
    )
    np.testing.assert_allclose(est.score(c * X0), c**2 * ref.score(X0), rtol=1e-6)


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_sparse_coding_scales_with_data_and_alpha(c):
    """½‖cx − D ch‖² + cα‖ch‖₁ = c² (½‖x − Dh‖² + α‖h‖₁): same dictionary,
    codes times c, objective times c²."""
    D0 = np.random.RandomState(1).standard_normal((3, D))
    D0 /= np.linalg.norm(D0, axis=1, keepdims=True)
    ref = MAKERS["SparseCoding"](dict_init=D0).fit(X0)
    est = MAKERS["SparseCoding"](dict_init=D0, alpha=0.1 * c).fit(c * X0)
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-6)
    np.testing.assert_allclose(est.objective_[-1], c**2 * ref.objective_[-1], rtol=1e-6)
    H, Hr = est.transform(c * X0), ref.transform(X0)
    np.testing.assert_allclose(H, c * Hr, atol=1e-5 * c * np.abs(Hr).max())


# ----------------------------------------------------------------------------
# 5. dtypes and memory layouts.


@pytest.mark.parametrize("name", NAMES)
def test_float32_preserved_where_tagged(name):
    est32 = MAKERS[name]().fit(X0.astype(np.float32))
    est64 = MAKERS[name]().fit(X0)
    H32 = est32.transform(X0.astype(np.float32))
    preserved = est32.__sklearn_tags__().transformer_tags.preserves_dtype
    assert H32.dtype == (np.float32 if "float32" in preserved else np.float64)
    H64 = est64.transform(X0)
    if name == "SparseCoding":  # the input is float32-rounded: compare the codes'
        # objective, which is stable, rather than the (non-convex) dictionary
        assert est32.objective_[-1] == pytest.approx(est64.objective_[-1], rel=1e-3)
        return
    scale = np.abs(H64).max()
    np.testing.assert_allclose(np.abs(H32), np.abs(H64), atol=1e-3 * scale)


def _strided(A):
    """A view of a copy of ``A`` with a column stride of two."""
    A = np.asarray(A)
    big = np.zeros((A.shape[0], 2 * A.shape[1]))
    big[:, ::2] = A
    view = big[:, ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view


def _layouts():
    return {
        "read-only": (_readonly(X0), X0),
        "strided view": (_strided(X0), X0),
        "row-strided view": (np.repeat(X0, 2, axis=0)[::2], X0),
        "Fortran order": (np.asfortranarray(X0), X0),
        "list of lists": (X0.tolist(), X0),
        "int": ((X0 * 10).astype(np.int64), (X0 * 10).astype(np.int64) * 1.0),
        "object numbers": (X0.astype(object), X0),
        "bool": (X0 > 0, (X0 > 0) * 1.0),
    }


def _readonly(X):
    X = X.copy()
    X.setflags(write=False)
    return X


@pytest.mark.parametrize("layout", sorted(_layouts()))
@pytest.mark.parametrize("name", NAMES)
def test_layouts_give_the_same_result(name, layout):
    X, reference = _layouts()[layout]
    est = MAKERS[name]().fit(X)
    ref = MAKERS[name]().fit(reference)
    H, Hr = est.transform(X), ref.transform(reference)
    tol = FIT_RTOL[name]
    np.testing.assert_allclose(H, Hr, rtol=tol, atol=tol * np.abs(Hr).max())


@pytest.mark.parametrize("name", NAMES)
def test_pandas_feature_names(name):
    cols = [f"gene_{j}" for j in range(D)]
    df = pd.DataFrame(X0, columns=cols, index=np.arange(100, 100 + N))
    est = MAKERS[name]().fit(df)
    assert list(est.feature_names_in_) == cols
    prefix = type(est).__name__.lower()
    k = est.components_.shape[0]
    expected = [f"{prefix}{j}" for j in range(k)]
    assert list(est.get_feature_names_out()) == expected
    Hr = MAKERS[name]().fit(X0).transform(X0)
    tol = FIT_RTOL[name]
    np.testing.assert_allclose(est.transform(df), Hr, atol=tol * np.abs(Hr).max())
    est.set_output(transform="pandas")
    out = est.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == expected and list(out.index) == list(df.index)
    with pytest.raises(ValueError, match="feature names should match"):
        est.transform(df[cols[::-1]])


@pytest.mark.parametrize("name", NAMES)
def test_pandas_non_numeric_column(name):
    df = pd.DataFrame(X0, columns=[f"x{j}" for j in range(D)])
    df["label"] = ["a", "b"] * (N // 2)
    with pytest.raises(ValueError, match=r"could not convert.*non-numeric.*Encode"):
        MAKERS[name]().fit(df)
    est = MAKERS[name]().fit(df.drop(columns="label"))
    with pytest.raises(ValueError, match="feature names"):
        est.transform(df)


# ----------------------------------------------------------------------------
# 6. Reproducibility.

RANDOM_CONFIGS = {
    "PCA randomized": lambda: PCA(n_components=K, svd_solver="randomized"),
    "PPCA em": lambda: ProbabilisticPCA(n_components=K, method="em", tol=1e-8),
    "FA random init": lambda: FactorAnalysis(n_components=K, init="random"),
    "FA oblimin n_starts": lambda: FactorAnalysis(
        n_components=K, rotation="oblimin", rotation_kwargs={"n_starts": 3}
    ),
    "SparseCoding batch": lambda: MAKERS["SparseCoding"](),
    "SparseCoding online": lambda: MAKERS["SparseCoding"](
        fit_algorithm="online", batch_size=8, max_iter=5
    ),
    "LinearAutoencoder": lambda: MAKERS["LinearAutoencoder"](),
    "LinearAutoencoder sampled noise": lambda: MAKERS["LinearAutoencoder"](
        input_noise=0.1, noise_mode="sampled", n_epochs=3
    ),
}


def _fitted_arrays(est):
    return {
        k: np.asarray(v)
        for k, v in vars(est).items()
        if k.endswith("_") and not k.startswith("_") and k != "feature_names_in_"
        if isinstance(v, (np.ndarray, float, int, list))
    }


@pytest.mark.parametrize("config", sorted(RANDOM_CONFIGS))
def test_same_random_state_is_bit_identical(config):
    a = RANDOM_CONFIGS[config]().set_params(random_state=7).fit(X0)
    b = RANDOM_CONFIGS[config]().set_params(random_state=7).fit(X0)
    fa, fb = _fitted_arrays(a), _fitted_arrays(b)
    assert fa.keys() == fb.keys() and fa
    for key in fa:
        np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)
    np.testing.assert_array_equal(a.transform(X0), b.transform(X0))
    if isinstance(a, (PCA, ProbabilisticPCA, FactorAnalysis)):
        np.testing.assert_array_equal(a.sample(5, 0), b.sample(5, 0))


@pytest.mark.parametrize("name", NAMES)
def test_row_order_does_not_matter(name):
    """Permuting the rows changes only rounding.

    Gaussian models: the model covariance. SparseCoding (non-convex, started
    from a fixed dictionary so that the start does not depend on the order):
    the objective. LinearAutoencoder (rotation of the code not identified):
    the loss and the reconstruction projector B A.
    """
    perm = np.random.RandomState(5).permutation(N)
    kw = {}
    if name == "SparseCoding":
        D0 = np.random.RandomState(1).standard_normal((3, D))
        kw = {"dict_init": D0 / np.linalg.norm(D0, axis=1, keepdims=True)}
    a = MAKERS[name](**kw).fit(X0)
    b = MAKERS[name](**kw).fit(X0[perm])
    tol = FIT_RTOL[name]
    if name in GAUSSIAN:
        C = a.get_covariance()
        np.testing.assert_allclose(b.get_covariance(), C, atol=tol * np.abs(C).max())
        assert b.score(X0) == pytest.approx(a.score(X0), rel=1e-12)
    elif name == "SparseCoding":
        assert b.objective_[-1] == pytest.approx(a.objective_[-1], rel=tol)
    else:
        assert b.loss_ == pytest.approx(a.loss_, rel=1e-9)
        np.testing.assert_allclose(
            b.decoder_ @ b.encoder_, a.decoder_ @ a.encoder_, atol=tol
        )


def test_row_order_factor_analysis_near_heywood():
    """Near a Heywood boundary EM is slow, and its stopping rule (one step
    raises ℓ by less than tol = 1e-10) leaves the parameters farther from the
    maximum than rounding: permuting the rows then moves the fitted
    covariance by up to ~1e-4 relative (measured 2.1e-5) and the score by
    ~1e-8 nats (measured 3.8e-8). These are the stated tolerances here."""
    X = _data(seed=1)
    perm = np.random.RandomState(5).permutation(N)
    a = FactorAnalysis(n_components=K).fit(X)
    b = FactorAnalysis(n_components=K).fit(X[perm])
    assert a.heywood_features_.size  # the case this test is about
    C = a.get_covariance()
    np.testing.assert_allclose(b.get_covariance(), C, atol=1e-3 * np.abs(C).max())
    assert abs(b.score(X) - a.score(X)) < 1e-6


# ----------------------------------------------------------------------------
# 7. Warnings: specific, with the achieved value and a hint, once per fit.

X_NAN = _with_nan(_with_nan(X0)[::-1].copy())

NOT_CONVERGING = {
    "PPCA em": lambda: ProbabilisticPCA(K, method="em", max_iter=3).fit(X0),
    "PPCA missing": lambda: ProbabilisticPCA(
        K, missing_values="em", max_iter=3, random_state=0
    ).fit(X_NAN),
    "FA squarem": lambda: FactorAnalysis(K, max_iter=3).fit(X0),
    "FA plain": lambda: FactorAnalysis(K, max_iter=3, acceleration=None).fit(X0),
    "FA missing": lambda: FactorAnalysis(
        K, missing_values="em", max_iter=3, random_state=0
    ).fit(X_NAN),
    "FA rotation": lambda: FactorAnalysis(
        K, rotation="oblimin", rotation_kwargs={"max_iter": 1}
    ).fit(X0),
    "SparseCoding batch": lambda: MAKERS["SparseCoding"](
        alpha=0.01, max_iter=4, tol=0, transform_max_iter=1
    ).fit(X0),
    "SparseCoding online": lambda: MAKERS["SparseCoding"](
        alpha=0.01,
        max_iter=4,
        tol=0,
        fit_algorithm="online",
        batch_size=5,
        transform_max_iter=1,
    ).fit(X0),  # fmt: skip
    "SparseCoding transform": lambda: (
        MAKERS["SparseCoding"]()
        .fit(X0)
        .set_params(transform_max_iter=1, transform_tol=1e-12)
        .transform(X0)
    ),
    "LinearAutoencoder": lambda: MAKERS["LinearAutoencoder"](max_iter=2).fit(X0),
    "sparse_encode": lambda: sparse_encode(
        X0, np.random.RandomState(0).standard_normal((8, D)), 0.01, max_iter=1
    ),
    "rotate": lambda: rotate(
        np.random.RandomState(0).standard_normal((D, 3)), "oblimin", max_iter=1
    ),
}

# a number after "by", "worst", "gradient ... is" or "norm": the achieved value
ACHIEVED = re.compile(
    r"(by|worst:|change|is|norm) -?\d+(\.\d+)?(e[-+]?\d+)?\b.*tol", re.IGNORECASE
)


@pytest.mark.parametrize("case", sorted(NOT_CONVERGING))
def test_convergence_warning_is_specific_and_not_repeated(case):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        NOT_CONVERGING[case]()
    conv = [str(w.message) for w in record if w.category is ConvergenceWarning]
    assert conv, "expected a ConvergenceWarning"
    for msg in conv:
        assert ACHIEVED.search(msg), msg
        assert re.search(r"[Ii]ncrease|loosen", msg), msg
    # at most one warning per loop that ran out (the EM/L-BFGS/dictionary loop
    # and, for sparse coding, the per-example inference inside it)
    kinds = [m.split(":")[0].split(" (")[0] + m[:25] for m in conv]
    assert len(conv) == len(set(kinds)) <= 2, conv


# ----------------------------------------------------------------------------
# 8. Numerical safeguards: finite likelihoods near singularity, monotone EM.


@pytest.mark.parametrize("name", ["ProbabilisticPCA", "FactorAnalysis"])
@pytest.mark.parametrize("case", ["duplicated columns", "rank deficient"])
def test_em_log_likelihood_is_monotone(name, case):
    """EM never lowers the likelihood beyond the rounding of its evaluation.

    The stated tolerance is ``1e-10 |ℓ|`` (ARCHITECTURE.md) plus
    ``10 ε Σ_j S_jj / ψ_j``: the log-likelihood contains ``Σ_j S_jj/ψ_j`` and
    subtracts a term of the same size, so when a noise variance sits at its
    floor (a Heywood case, here from duplicated columns, with
    ``S_jj/ψ_j = 1/noise_floor = 1e6``) the evaluation itself carries an
    absolute error of that order. Measured: drops of 2.4e-10 at ℓ ≈ 0.63 for
    FactorAnalysis on duplicated columns, within the 4.4e-9 allowed.
    """
    X = _degenerate(case)
    kw = {"method": "em", "random_state": 0} if name == "ProbabilisticPCA" else {}
    est = MAKERS[name](**kw).fit(X)
    ll = np.asarray(est.loglike_)
    assert ll.size > 1 and np.all(np.isfinite(ll))
    cancel = np.sum(np.var(X, axis=0) / est.noise_variance_)
    allowed = 1e-10 * np.abs(ll[1:]) + 10 * np.finfo(float).eps * cancel
    assert np.all(np.diff(ll) >= -allowed)
    assert np.all(np.isfinite(est.score_samples(X)))
    assert np.all(est.noise_variance_ > 0)


def test_missing_value_em_is_monotone():
    for est in (
        ProbabilisticPCA(K, missing_values="em", random_state=0),
        FactorAnalysis(K, missing_values="em", random_state=0),
    ):
        ll = np.asarray(est.fit(X_NAN).loglike_)
        assert np.all(np.diff(ll) >= -1e-10 * np.abs(ll[1:]))
        assert np.all(np.isfinite(est.transform(X_NAN)))


def test_likelihood_finite_when_noise_is_tiny_beside_loadings():
    """Data of exact rank K: σ² sits at its floor, 1e-12 of the mean variance.

    The whitened SVD keeps the Mahalanobis term a sum of non-negative parts,
    so the scores stay finite and equal PPCA's spectral closed form
    ``log det C = Σ_{i≤k} log λ_i + (d − k) log σ²`` and
    ``rᵀC⁻¹r = Σ_i (u_iᵀr)²/λ_i + ‖r − U_k U_kᵀ r‖²/σ²``. (A dense ``eigh`` of
    C is no reference here: its small eigenvalues carry errors of order
    ε‖C‖, a relative error of 1e-4 at this σ².)
    """
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, K)) @ rng.standard_normal((K, D))  # exact rank K
    est = PCA(n_components=K).fit(X)
    ll = est.score_samples(X)
    assert np.all(np.isfinite(ll))
    sigma2 = est.noise_variance_[0]
    assert sigma2 < 1e-11 * np.var(X, axis=0).mean()
    U, lam = est.components_.T, est.explained_variance_
    R = X - est.mean_
    P = R @ U
    perp = R - P @ U.T
    logdet = np.log(lam).sum() + (D - K) * np.log(sigma2)
    maha = (P**2 / lam).sum(1) + (perp**2).sum(1) / sigma2
    ref = -0.5 * (D * np.log(2 * np.pi) + logdet + maha)
    np.testing.assert_allclose(ll, ref, rtol=1e-10)


# ----------------------------------------------------------------------------
# 9. Public functions: the same matrix.

RNG = np.random.RandomState(0)
DICT = RNG.standard_normal((4, D))
LOADINGS = RNG.standard_normal((D, 3))
TRUE_C, EST_C = RNG.standard_normal((2, D)), RNG.standard_normal((2, D))

FUNCTIONS = {
    "sparse_encode X": (lambda A: sparse_encode(A, DICT, 0.1), X0[:10], "X"),
    "sparse_encode dictionary": (
        lambda A: sparse_encode(X0[:10], A, 0.1),
        DICT,
        "dictionary",
    ),
    "rotate": (lambda A: rotate(A, "varimax"), LOADINGS, "loadings"),
    "principal_angles": (
        lambda A: ident.principal_angles(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "max_principal_angle": (
        lambda A: ident.max_principal_angle(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "procrustes_alignment": (
        lambda A: ident.procrustes_alignment(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "congruence_matrix": (
        lambda A: ident.congruence_matrix(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "matched_congruence": (
        lambda A: ident.matched_congruence(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "amari_distance": (
        lambda A: ident.amari_distance(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "recovery_report": (
        lambda A: ident.recovery_report(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
}

# what each bad argument must produce: (exception, words the message must hold)
FUNCTION_CASES = {
    "nan": (_with_nan, ValueError, r"{arg} contains NaN"),
    "inf": (_with_inf, ValueError, r"{arg} contains inf.*remove or clip"),
    "0 rows": (lambda A: A[:0], ValueError, r"(empty|0 sample|non-empty).*"),
    "1-D": (lambda A: A[0], ValueError, r"(2-D|2D).*reshape"),
    "complex": (lambda A: A + 1j, (ValueError, TypeError), r"([Cc]omplex|real)"),
    "strings": (
        lambda A: np.full(A.shape, "a", dtype=object),
        (ValueError, TypeError),
        r"(non-numeric|real numeric)",
    ),
    "sparse": (sp.csr_matrix, TypeError, r"(dense|sparse).*toarray"),
}


@pytest.mark.parametrize("case", sorted(FUNCTION_CASES))
@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_public_function_bad_input(func, case):
    call, good, arg = FUNCTIONS[func]
    make, exc, pattern = FUNCTION_CASES[case]
    bad = make(good)
    before = bad.copy() if isinstance(bad, np.ndarray) else None
    with pytest.raises(exc, match=re.compile(pattern.format(arg=arg), re.S)):
        call(bad)
    if before is not None:
        np.testing.assert_array_equal(bad, before)


@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_public_function_odd_but_valid_input(func):
    """float32, int, read-only, strided and list input give the float64 result,
    and the input is left as it was."""
    call, good, _ = FUNCTIONS[func]
    expected = call(good.copy())
    variants = [
        good.astype(np.float32).astype(np.float64),
        _readonly(good),
        np.asfortranarray(good),
        _strided(good),
        good.tolist(),
    ]
    for A in variants:
        copy = np.array(A, copy=True)
        result = call(A)
        _assert_same_result(result, expected, float32=A is variants[0])
        np.testing.assert_array_equal(np.asarray(A), copy)


def _assert_same_result(result, expected, float32=False):
    rtol = 1e-5 if float32 else 1e-12
    if isinstance(expected, np.ndarray):
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol)
    elif isinstance(expected, float):
        assert result == pytest.approx(expected, rel=rtol, abs=rtol)
    else:  # a result dataclass: compare its array and float fields
        for key, value in vars(expected).items():
            if isinstance(value, (np.ndarray, float)):
                _assert_same_result(getattr(result, key), value, float32)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(n_samples=0), ValueError, r"n_samples must be at least 1"),
        (dict(n_samples=5.5), TypeError, r"n_samples must be an integer"),
        (dict(n_features=0), ValueError, r"n_features must be at least 1"),
        (dict(n_components=0), ValueError, r"n_components must be at least 1"),
        (dict(n_components=4), ValueError, r"at most n_features = 3.*<= 3"),
        (dict(noise_level=-1.0), ValueError, r"noise_level must be finite and >= 0"),
        (dict(noise_level=np.nan), ValueError, r"noise_level must be finite"),
        (dict(prior="cauchy"), ValueError, r"prior must be one of"),
        (dict(noise="pink"), ValueError, r"noise must be one of"),
        (
            dict(mean=[1.0, 2.0]),
            ValueError,
            r"mean must be .* = \(3,\), got shape \(2,\)",
        ),
        (dict(mean=np.inf), ValueError, r"mean contains inf"),
    ],
)
def test_make_factor_data_bad_arguments(kwargs, exc, pattern):
    args = {"n_samples": 5, "n_features": 3, "n_components": 1, **kwargs}
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        make_factor_data(**args)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(n_samples=0), ValueError, r"n_samples must be at least 1"),
        (dict(n_features=0), ValueError, r"n_features must be at least 1"),
        (dict(n_components=-2), ValueError, r"n_components must be at least 1"),
        (dict(n_nonzero=5), ValueError, r"n_nonzero=5 is too large.*<= 4"),
        (dict(n_nonzero=0), ValueError, r"n_nonzero must be at least 1"),
        (dict(noise_level=-1.0), ValueError, r"noise_level must be finite and >= 0"),
    ],
)
def test_make_sparse_coding_data_bad_arguments(kwargs, exc, pattern):
    args = {"n_samples": 5, "n_features": 3, "n_components": 4, "n_nonzero": 2}
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        make_sparse_coding_data(**{**args, **kwargs})


def test_generators_edge_sizes_are_valid():
    """The smallest valid sizes work and give finite data of the right shape."""
    X, truth = make_factor_data(1, 1, 1, noise_level=0.0, random_state=0)
    assert X.shape == (1, 1) and np.all(np.isfinite(X))
    np.testing.assert_allclose(X, truth.H @ truth.components)
    X, truth = make_sparse_coding_data(1, 1, 3, n_nonzero=3, random_state=0)
    assert X.shape == (1, 1) and np.all(np.isfinite(X))


# ----------------------------------------------------------------------------
# 10. The command line loaders, through latentmodels.cli.main.


def _write_bad_files(d):
    X = _data(n=12, d=4)
    files = {}

    def save(name, array, **kw):
        np.save(d / name, array, **kw)
        files[name] = str(d / name)

    save("complex.npy", X + 1j)
    save("cube.npy", X[None])
    save("empty.npy", np.empty((0, 4)))
    save("nocols.npy", np.empty((12, 0)))
    save("strings.npy", X.astype(str))
    X_inf = X.copy()
    X_inf[4, 1] = np.inf
    save("inf.npy", X_inf)
    np.savez(d / "noname.npz", a=X, b=X)
    files["noname.npz"] = str(d / "noname.npz")
    texts = {
        "empty.csv": "",
        "header_only.csv": "a,b,c\n",
        "ragged.csv": "a,b,c\n1,2,3\n4,5\n6,7,8\n",
        "inf.csv": "a,b\n1,2\ninf,3\n4,5\n",
    }
    for name, text in texts.items():
        (d / name).write_text(text)
        files[name] = str(d / name)
    (d / "truncated.npy").write_bytes((d / "inf.npy").read_bytes()[:100])
    files["truncated.npy"] = str(d / "truncated.npy")
    (d / "folder.csv").mkdir()
    files["folder.csv"] = str(d / "folder.csv")
    return files


CLI_CASES = {
    "complex.npy": "not numeric",
    "cube.npy": "2-D",
    "empty.npy": "at least two rows",
    "nocols.npy": "no feature columns",
    "strings.npy": "not numeric",
    "inf.npy": "infinite values in 1 row",
    "noname.npz": "name the data array 'X'",
    "empty.csv": "empty",
    "header_only.csv": "at least two rows",
    "ragged.csv": "data row 1 has 2 fields",
    "inf.csv": "infinite values in 1 row",
    "truncated.npy": "cannot read",
    "folder.csv": "is not a file",
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_files_one_line_exit_2(case, tmp_path, capsys):
    from latentmodels.cli import main

    path = _write_bad_files(tmp_path)[case]
    code = main(["compare", "--data", path, "--models", "pca", "--n-components", "1"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert CLI_CASES[case] in lines[0], lines[0]
