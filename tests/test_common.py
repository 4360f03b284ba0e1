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
from sklearn.utils._testing import _array_api_for_tests
from sklearn.utils.estimator_checks import (
    check_array_api_input,
    parametrize_with_checks,
)

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


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _needs_cuda(check) -> bool:
    """An array-API check on a CUDA device (namespace torch or cupy)."""
    kw = getattr(check, "keywords", {})
    devices = [kw.get("device_name")] + [
        getattr(kw.get(key), "device", None)
        for key in ("X_ns_and_device", "other_ns_and_device")
    ]
    return "cuda" in devices


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_checks(estimator, check):
    if _needs_cuda(check) and not _cuda_available():
        # scikit-learn skips these only when PyTorch is built without CUDA; a
        # CUDA build on a machine without a usable GPU would fail to allocate
        pytest.skip("no usable CUDA device on this machine")
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


# --- the array API (docs/user_guide/array_api.rst) ---------------------------------
# Estimators whose array-API support lands from another branch; the lead removes
# an entry when it is merged.
ARRAY_API_PENDING: dict = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True,  # passes once supported: then remove the entry
                reason=f"array-API support pending: {ARRAY_API_PENDING[name]}",
            ),
        )
        if name in ARRAY_API_PENDING
        else name
        for name in sorted(latentmodels._ESTIMATORS)
    ],
)
def test_public_estimator_supports_array_api(name):
    cls = getattr(latentmodels, name)
    # ConfirmatoryFactorAnalysis has a model, not n_components
    kwargs = (
        {"n_components": 1}
        if "n_components" in inspect.signature(cls).parameters
        else {}
    )
    tags = cls(**kwargs).__sklearn_tags__()
    assert tags.array_api_support, f"{name} lacks the array_api_support tag"


def _array_api_checks():
    """``(estimator, namespace, device)`` of every yielded check_array_api_input."""
    (mark,) = [m for m in test_sklearn_checks.pytestmark if m.name == "parametrize"]
    found = []
    for param in mark.args[1]:
        estimator, check = param.values if hasattr(param, "values") else param
        if getattr(check, "func", None) is check_array_api_input:
            kw = check.keywords
            found.append(
                (type(estimator).__name__, kw["array_namespace"], kw.get("device_name"))
            )
    return found


def test_array_api_checks_run_for_installed_namespaces():
    """scikit-learn's array-API checks are yielded for every supporting estimator
    and none of array-api-strict (two devices) and PyTorch on the CPU is skipped.
    """
    found = _array_api_checks()
    supporting = {
        type(e).__name__
        for e in ESTIMATORS
        if type(e).__name__ not in ARRAY_API_PENDING
    }
    wanted = [("array_api_strict", "CPU_DEVICE"), ("array_api_strict", "device1")]
    pytest.importorskip("array_api_strict")
    try:
        import torch  # noqa: F401

        wanted.append(("torch", "cpu"))
    except ImportError:
        pass
    for name in supporting:
        for ns, device in wanted:
            assert (name, ns, device) in found, (name, ns, device)
    # the checks themselves skip when the namespace cannot be used here
    # (SCIPY_ARRAY_API unset, library missing): none of the wanted is skipped
    for ns, device in wanted:
        for dtype in ("float64", "float32"):
            _array_api_for_tests(ns, device, dtype)  # raises SkipTest otherwise
