"""Reliability, bad input: a clear error at fit, transform, inverse_transform,
partial_fit and sample, naming what was wrong and what to do, with the input
intact; n_components out of range."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from _reliability import (
    GAUSSIAN,
    MAKERS,
    NAMES,
    X0,
    D,
    N,
    _data,
    _outputs,
    _with_inf,
    _with_nan,
)

pytestmark = [
    # convergence and Heywood warnings are checked on purpose in their own tests
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Heywood case:UserWarning"),
]


# ----------------------------------------------------------------------------
# 1. Bad input: a clear error, at fit and at transform, with the input intact.


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
        pattern = r"has 3 columns but the model has 2 .*transform"
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
        ("bad option", r"missing_values.* must be .*('em', 'raise'|'raise', 'em')"),
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

# a hand-written check ("at least 1") or a declared constraint table (scikit-learn's
# "must be an int in the range [1, inf) ... Got 0 instead")
BAD_K = {
    0: (ValueError, r"at least 1, got 0|'n_components'.*\[1, inf\).*Got 0 instead"),
    -1: (ValueError, r"at least 1, got -1|'n_components'.*\[1, inf\).*Got -1 "),
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
