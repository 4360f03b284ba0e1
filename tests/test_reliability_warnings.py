"""Reliability, warnings: a ConvergenceWarning is specific (the achieved value,
the tolerance, what to increase) and comes once per loop that ran out."""

import re
import warnings

import numpy as np
import pytest
from _reliability import (
    MAKERS,
    X0,
    X_NAN,
    D,
    K,
)
from sklearn.exceptions import ConvergenceWarning

from latentmodels import (
    FactorAnalysis,
    ProbabilisticPCA,
)
from latentmodels.rotations import rotate
from latentmodels.sparse import sparse_encode

pytestmark = [
    # convergence and Heywood warnings are checked on purpose in their own tests
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Heywood case:UserWarning"),
]


# ----------------------------------------------------------------------------
# 7. Warnings: specific, with the achieved value and a hint, once per fit.

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
