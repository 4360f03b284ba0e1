"""scikit-learn's estimator checks on every public Gaussian estimator.

Each estimator module's own test file runs the checks for its estimator too;
this file keeps the Gaussian family together, with settings small enough for
the checks' tiny data sets.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from latentmodels import PCA, ProbabilisticPCA

ESTIMATORS = [
    PCA(n_components=1),
    PCA(n_components=1, whiten=True),
    PCA(n_components=1, svd_solver="full"),
    ProbabilisticPCA(n_components=1),
    ProbabilisticPCA(n_components=1, method="em", random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_every_public_estimator_is_checked():
    import latentmodels

    checked = {type(e).__name__ for e in ESTIMATORS}
    others = {"FactorAnalysis", "SparseCoding", "LinearAutoencoder"}
    assert set(latentmodels._ESTIMATORS) == checked | others
    pytest.importorskip("latentmodels._pca")
