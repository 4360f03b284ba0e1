"""scikit-learn's estimator checks on every public estimator, in one place.

Settings are small enough for the checks' tiny data sets. RuntimeWarnings
(overflow, invalid values) are errors here; the expected warnings of tiny
data — EM or inference stopping at ``max_iter``, Heywood cases — are not.
"""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

import latentmodels
from latentmodels import (
    PCA,
    ConfirmatoryFactorAnalysis,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    SparseCoding,
)

ESTIMATORS = [
    PCA(n_components=1),
    PCA(n_components=1, whiten=True),
    PCA(n_components=1, svd_solver="full"),
    ProbabilisticPCA(n_components=1),
    ProbabilisticPCA(n_components=1, method="em", random_state=0),
    ProbabilisticPCA(n_components=1, missing_values="em"),
    FactorAnalysis(n_components=1),
    FactorAnalysis(
        n_components=1, acceleration=None, init="random", tol=1e-6, random_state=0
    ),
    FactorAnalysis(n_components=2, rotation="varimax"),
    FactorAnalysis(n_components=2, rotation="oblimin"),
    FactorAnalysis(n_components=1, missing_values="em"),
    ConfirmatoryFactorAnalysis(),
    ConfirmatoryFactorAnalysis(missing_values="fiml"),
    SparseCoding(3, alpha=0.1, max_iter=20, random_state=0),
    SparseCoding(
        3,
        alpha=0.1,
        fit_algorithm="online",
        batch_size=7,
        max_iter=5,
        encoder="linear",
        encoder_max_iter=20,
        solver="cd",
        n_jobs=1,
        random_state=0,
    ),
    LinearAutoencoder(1, random_state=0),
    LinearAutoencoder(1, tied=True, weight_decay=0.1, random_state=0),
    LinearAutoencoder(1, unit_penalties=[0.1], contractive=0.1, random_state=0),
    LinearAutoencoder(
        1, input_noise=0.1, noise_mode="sampled", n_epochs=3, random_state=0
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Heywood case")
        check(estimator)


def test_every_public_estimator_is_checked():
    checked = {type(e).__name__ for e in ESTIMATORS}
    assert checked == set(latentmodels._ESTIMATORS)


@pytest.mark.parametrize("name", sorted(latentmodels._ESTIMATORS))
def test_public_estimator_has_numpydoc_sections(name):
    doc = getattr(latentmodels, name).__doc__
    for section in ("Parameters", "Attributes", "References"):
        assert f"\n    {section}\n    ---" in doc, f"{name} lacks {section}"
