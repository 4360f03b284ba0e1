"""Data, estimator makers and input variants shared by the reliability tests.

The reliability tests (``test_reliability_*.py``) run every public estimator
and public function on bad, odd and carelessly prepared input. Each case ends
either in a correct result (checked against an independent reference or an
invariant) or in an error whose message says what was wrong and what to do;
never in NaN output, a bare numpy error, or a modified input array (issue 10).
"""

import numpy as np

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    SparseCoding,
)

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


def _with_nan(X):
    X = X.copy()
    X[min(3, X.shape[0] - 1), 1] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[min(5, X.shape[0] - 1), 0] = -np.inf
    return X


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


def _strided(A):
    """A view of a copy of ``A`` with a column stride of two."""
    A = np.asarray(A)
    big = np.zeros((A.shape[0], 2 * A.shape[1]))
    big[:, ::2] = A
    view = big[:, ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view


def _readonly(X):
    X = X.copy()
    X.setflags(write=False)
    return X


# two missing entries, in rows 3 and N − 4 (the reversed copy moves the first)
X_NAN = _with_nan(_with_nan(X0)[::-1].copy())
