"""scikit-learn's estimator checks on every public estimator, in one place.

Settings are small enough for the checks' tiny data sets. RuntimeWarnings
(overflow, invalid values) are errors here; the expected warnings of tiny
data — EM or inference stopping at ``max_iter``, Heywood cases — are not.
"""

import inspect
import warnings

import pytest
from numpydoc.docscrape import NumpyDocString
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
from latentmodels.rotations import rotate
from latentmodels.sparse import sparse_encode

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


# Every public estimator (its class docstring against ``__init__``) and public
# function whose "Parameters" section must name exactly its parameters.
PUBLIC_CALLABLES = {
    **{
        name: getattr(latentmodels, name)
        for name in latentmodels.__all__
        if isinstance(getattr(latentmodels, name), type)
    },
    "sparse.sparse_encode": sparse_encode,
    "rotations.rotate": rotate,
}


def _documented_parameters(obj) -> list[str]:
    """Names in the numpydoc "Parameters" section (``a, b : int`` gives two)."""
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    return [
        part.strip() for entry in doc["Parameters"] for part in entry.name.split(",")
    ]


def _signature_parameters(obj) -> list[str]:
    func = obj.__init__ if isinstance(obj, type) else obj
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def test_public_callables_cover_the_estimators():
    assert set(latentmodels._ESTIMATORS) <= set(PUBLIC_CALLABLES)


@pytest.mark.parametrize("name", sorted(PUBLIC_CALLABLES))
def test_docstring_parameters_match_signature(name):
    obj = PUBLIC_CALLABLES[name]
    documented = _documented_parameters(obj)
    actual = _signature_parameters(obj)
    assert documented == actual, (
        f"{name}: the docstring's Parameters section lists {documented}, the "
        f"signature has {actual}; undocumented: "
        f"{[p for p in actual if p not in documented]}, not in the signature: "
        f"{[p for p in documented if p not in actual]}"
    )


# Every public estimator declares its parameters in a constraint table.
MUST_DECLARE_PARAMETERS = set(latentmodels._ESTIMATORS)


def test_parameter_constraints_cover_get_params():
    undeclared = []
    for name in sorted(latentmodels._ESTIMATORS):
        cls = getattr(latentmodels, name)
        table = getattr(cls, "_parameter_constraints", None)
        if table is None:
            undeclared.append(name)
            continue
        assert set(table) == set(cls._get_param_names()), (
            f"{name}._parameter_constraints declares {sorted(table)}, but "
            f"get_params() has {sorted(cls._get_param_names())}"
        )
    assert not MUST_DECLARE_PARAMETERS & set(undeclared), (
        f"estimators without _parameter_constraints: {undeclared}"
    )
