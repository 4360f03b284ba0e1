"""Linear latent-variable models as scikit-learn estimators.

Every Gaussian model here (PCA read as a model, probabilistic PCA, factor
analysis) has the marginal ``x ~ N(mean, W Wᵀ + Ψ)`` and shares one algebra
(:mod:`latentmodels._gaussian`). Sparse coding replaces the Gaussian prior on
the factors by a Laplace prior; the linear autoencoder drops the probabilistic
reading altogether and is compared with PCA.

Estimators are imported lazily, so ``import latentmodels`` stays cheap and the
optional dependencies (cvxpy solvers, numba, Dask) load only when used.
"""

from importlib import import_module

__version__ = "0.1.0"

_ESTIMATORS = {
    "PCA": "._pca",
    "ProbabilisticPCA": "._ppca",
    "FactorAnalysis": "._factor_analysis",
    "SparseCoding": "._sparse_coding",
    "LinearAutoencoder": "._autoencoder",
    "ConfirmatoryFactorAnalysis": "._cfa",
}
_SUBMODULES = ("datasets", "identifiability", "rotations", "selection", "sparse")

__all__ = [*_ESTIMATORS, *_SUBMODULES, "__version__"]


def __getattr__(name: str):
    if name in _ESTIMATORS:
        return getattr(import_module(_ESTIMATORS[name], __name__), name)
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'latentmodels' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
