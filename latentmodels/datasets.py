"""Synthetic data with known ground truth for the linear latent-variable models.

Two generators:

* :func:`make_factor_data` draws from the linear factor model
  ``x = mean + W h + eps`` with ``W = components.T`` (d, k), factors ``h`` either
  Gaussian or Laplace (both with unit variance, so both priors give the *same*
  covariance ``C = W Wᵀ + Ψ``), and Gaussian noise ``eps ~ N(0, Ψ)`` that is
  isotropic or heteroscedastic. With Gaussian factors the loadings are
  identifiable only up to an orthogonal rotation; with Laplace factors they are
  identifiable up to permutation and sign (Comon 1994), which is what
  :mod:`latentmodels.identifiability` makes visible.
* :func:`make_sparse_coding_data` draws ``x = D h + eps`` from a known
  dictionary ``D`` with unit-norm atoms and codes ``h`` with a fixed number of
  non-zeros per example (the sparse-coding model of Olshausen & Field 1996).

Both return the data and a small record of the truth (``components`` or
``dictionary`` in the (k, d) convention used by every estimator here).

References
----------
Comon, P. (1994). Independent component analysis, a new concept? Signal
Processing 36:287-314.
Olshausen, B. A. & Field, D. J. (1996). Emergence of simple-cell receptive field
properties by learning a sparse code for natural images. Nature 381:607-609.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from ._validation import (
    check_array_finite,
    check_int,
    check_n_components,
    check_option,
    check_positive_scalar,
)

__all__ = [
    "FactorDataTruth",
    "SparseCodingTruth",
    "make_factor_data",
    "make_sparse_coding_data",
    "load_holzinger_swineford",
]

_PRIORS = ("gaussian", "laplace")
_NOISES = ("heteroscedastic", "isotropic")
# A Laplace(0, b) variable has variance 2 b²: b = 1/√2 gives unit variance.
_UNIT_LAPLACE_SCALE = 1.0 / np.sqrt(2.0)


@dataclass(frozen=True)
class FactorDataTruth:
    """The parameters and latent factors behind :func:`make_factor_data`.

    Attributes
    ----------
    components : ndarray of shape (n_components, n_features)
        True loadings ``Wᵀ`` (the estimators' ``components_`` convention).
    noise_variance : ndarray of shape (n_features,)
        Diagonal of the noise covariance ``Ψ``.
    mean : ndarray of shape (n_features,)
        The data mean ``μ``.
    H : ndarray of shape (n_samples, n_components)
        The factors that generated each row (unit variance, independent).
    prior : str
        ``'gaussian'`` or ``'laplace'``, the distribution of the factors.
    """

    components: np.ndarray
    noise_variance: np.ndarray
    mean: np.ndarray
    H: np.ndarray
    prior: str

    @property
    def covariance(self) -> np.ndarray:
        """Model covariance ``C = W Wᵀ + Ψ`` (the same for both priors)."""
        W = self.components.T
        return W @ W.T + np.diag(self.noise_variance)


@dataclass(frozen=True)
class SparseCodingTruth:
    """The dictionary and codes behind :func:`make_sparse_coding_data`.

    Attributes
    ----------
    dictionary : ndarray of shape (n_components, n_features)
        Atoms as rows, each of unit Euclidean norm.
    codes : ndarray of shape (n_samples, n_components)
        Sparse codes: exactly ``n_nonzero`` non-zero entries per row.
    noise_variance : float
        Variance ``σ²`` of the isotropic Gaussian noise.
    """

    dictionary: np.ndarray
    codes: np.ndarray
    noise_variance: float

    @property
    def support(self) -> np.ndarray:
        """Boolean mask of the non-zero codes, shape (n_samples, n_components)."""
        return self.codes != 0


def _check_mean(mean, n_features: int) -> np.ndarray:
    if mean is None:
        return np.zeros(n_features)
    arr = np.asarray(mean, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(
            f"mean must be None, a scalar or an array of shape (n_features,) = "
            f"({n_features},), got shape {arr.shape}."
        )
    check_array_finite(arr, name="mean")
    return arr.copy()


def make_factor_data(
    n_samples: int,
    n_features: int,
    n_components: int,
    *,
    prior: str = "gaussian",
    noise: str = "heteroscedastic",
    noise_level: float = 0.25,
    mean: ArrayLike | float | None = None,
    random_state=None,
) -> tuple[np.ndarray, FactorDataTruth]:
    """Draw data from a linear factor model with known loadings.

    Each row is ``x = μ + W h + ε`` with ``W`` of shape (d, k),
    ``ε ~ N(0, Ψ)`` with ``Ψ = diag(noise_variance)``, and ``k`` independent
    unit-variance factors ``h_j``:

    * ``prior='gaussian'``: ``h_j ~ N(0, 1)``;
    * ``prior='laplace'``: ``h_j ~ Laplace(0, 1/√2)`` (density
      ``exp(-√2 |h|)/√2``, variance 1, excess kurtosis 3).

    Both priors therefore give the same covariance ``C = W Wᵀ + Ψ``; only the
    Laplace one makes the columns of ``W`` identifiable (up to permutation and
    sign; Comon 1994, Hyvärinen & Oja 2000).

    The loadings have i.i.d. standard normal entries, rescaled so that the
    average signal variance per feature, ``‖W‖²_F / d``, is exactly 1. The noise
    variance is expressed relative to that signal: ``noise_level`` is the
    noise-to-signal variance ratio.

    Parameters
    ----------
    n_samples : int
        Number of rows ``n`` (at least 1).
    n_features : int
        Number of observed features ``d`` (at least 1).
    n_components : int
        Number of factors ``k``, ``1 <= k <= d``.
    prior : {'gaussian', 'laplace'}, default='gaussian'
        Distribution of the factors.
    noise : {'heteroscedastic', 'isotropic'}, default='heteroscedastic'
        ``'isotropic'``: ``Ψ = noise_level · I`` (the PPCA model).
        ``'heteroscedastic'``: ``ψ_j = noise_level · u_j`` with ``u_j`` drawn
        uniformly on [0.5, 1.5] (the factor-analysis model).
    noise_level : float, default=0.25
        Noise-to-signal variance ratio, ``>= 0`` (0 gives noiseless data).
    mean : None, float or array-like of shape (n_features,), default=None
        Data mean ``μ``; None means zero.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data.
    truth : FactorDataTruth
        ``components`` (k, d), ``noise_variance`` (d,), ``mean`` (d,), the
        factors ``H`` (n, k), the ``prior``; ``truth.covariance`` is ``C``.

    Examples
    --------
    >>> from latentmodels.datasets import make_factor_data
    >>> X, truth = make_factor_data(500, 6, 2, prior="laplace", random_state=0)
    >>> X.shape, truth.components.shape, truth.H.shape
    ((500, 6), (2, 6), (500, 2))
    """
    n_samples = check_int(n_samples, "n_samples")
    n_features = check_int(n_features, "n_features")
    n_components = check_n_components(
        n_components,
        upper=n_features,
        upper_reason=f"n_features = {n_features} (a factor model has k <= d)",
    )
    check_option(prior, "prior", _PRIORS)
    check_option(noise, "noise", _NOISES)
    noise_level = check_positive_scalar(noise_level, "noise_level", allow_zero=True)
    mu = _check_mean(mean, n_features)
    rng = check_random_state(random_state)

    W = rng.standard_normal((n_features, n_components))
    W *= np.sqrt(n_features) / np.linalg.norm(W)
    if noise == "isotropic":
        psi = np.full(n_features, noise_level)
    else:
        psi = noise_level * rng.uniform(0.5, 1.5, size=n_features)

    if prior == "gaussian":
        H = rng.standard_normal((n_samples, n_components))
    else:
        H = rng.laplace(0.0, _UNIT_LAPLACE_SCALE, size=(n_samples, n_components))
    eps = rng.standard_normal((n_samples, n_features)) * np.sqrt(psi)
    X = mu + H @ W.T + eps
    truth = FactorDataTruth(
        components=np.ascontiguousarray(W.T),
        noise_variance=psi,
        mean=mu,
        H=H,
        prior=prior,
    )
    return X, truth


def make_sparse_coding_data(
    n_samples: int,
    n_features: int,
    n_components: int,
    *,
    n_nonzero: int = 3,
    noise_level: float = 0.01,
    random_state=None,
) -> tuple[np.ndarray, SparseCodingTruth]:
    """Draw data from a known dictionary with sparse codes.

    Each row is ``x = Dᵀ h + ε`` (in the (k, d) convention ``D`` holds the atoms
    as rows; ``W = Dᵀ`` is the decoder of the sparse-coding model, user guide
    "Sparse coding"), where

    * the atoms are i.i.d. Gaussian directions normalised to ``‖d_j‖₂ = 1``;
    * each code ``h`` has exactly ``n_nonzero`` non-zero entries at positions
      chosen uniformly without replacement, with ``N(0, 1)`` values;
    * ``ε ~ N(0, σ² I)`` with ``σ² = noise_level · n_nonzero / d``, the average
      signal variance per feature times the noise-to-signal ratio.

    The dictionary may be overcomplete (``n_components > n_features``).

    Parameters
    ----------
    n_samples : int
        Number of rows ``n`` (at least 1).
    n_features : int
        Dimension ``d`` of each example (at least 1).
    n_components : int
        Number of atoms ``k`` (at least 1; may exceed ``d``).
    n_nonzero : int, default=3
        Non-zero coefficients per code, ``1 <= n_nonzero <= n_components``.
    noise_level : float, default=0.01
        Noise-to-signal variance ratio, ``>= 0``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data (zero mean by construction).
    truth : SparseCodingTruth
        ``dictionary`` (k, d) with unit-norm rows, ``codes`` (n, k) and the
        scalar ``noise_variance``.
    """
    n_samples = check_int(n_samples, "n_samples")
    n_features = check_int(n_features, "n_features")
    n_components = check_int(n_components, "n_components")
    n_nonzero = check_n_components(
        n_nonzero,
        upper=n_components,
        upper_reason=f"n_components = {n_components}",
        name="n_nonzero",
    )
    noise_level = check_positive_scalar(noise_level, "noise_level", allow_zero=True)
    rng = check_random_state(random_state)

    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    # Positions: the first n_nonzero entries of a random permutation per row,
    # drawn at once as the argsort of uniform keys.
    keys = rng.uniform(size=(n_samples, n_components))
    positions = np.argsort(keys, axis=1)[:, :n_nonzero]
    codes = np.zeros((n_samples, n_components))
    rows = np.arange(n_samples)[:, None]
    codes[rows, positions] = rng.standard_normal((n_samples, n_nonzero))
    sigma2 = noise_level * n_nonzero / n_features
    X = codes @ D + np.sqrt(sigma2) * rng.standard_normal((n_samples, n_features))
    return X, SparseCodingTruth(dictionary=D, codes=codes, noise_variance=sigma2)


# --- Holzinger & Swineford (1939) -----------------------------------------------
_HS_COLUMNS = [f"x{i}" for i in range(1, 10)]


def _semopy_hs_path():
    """The CSV that an installed semopy ships, found without importing semopy."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("semopy")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "examples" / "holzinger_swineford39_data.csv"
    return path if path.is_file() else None


def load_holzinger_swineford(path=None):
    """The Holzinger & Swineford (1939) mental ability data (301 children).

    Nine test scores ``x1 … x9`` (visual: x1–x3, textual: x4–x6, speed:
    x7–x9, the classic three-factor model of confirmatory factor analysis)
    with ``id, sex, ageyr, agemo, school, grade``, as R lavaan's
    ``HolzingerSwineford1939``. The data are read from the CSV that an
    installed semopy ships, or from ``path``; nothing is downloaded.

    Parameters
    ----------
    path : str or path-like, optional
        A CSV of the data, for example written from R with
        ``write.csv(lavaan::HolzingerSwineford1939, "hs.csv", row.names=FALSE)``
        (a leading row-name column is dropped). None reads semopy's copy.

    Returns
    -------
    data : pandas.DataFrame of shape (301, 15)

    Raises
    ------
    FileNotFoundError
        When ``path`` is None and semopy is not installed; the message says how
        to get the data.

    References
    ----------
    Holzinger, K. J. & Swineford, F. (1939). A study in factor analysis: the
    stability of a bi-factor solution. Supplementary Educational Monographs 48.
    University of Chicago.

    Examples
    --------
    >>> from latentmodels.datasets import load_holzinger_swineford
    >>> hs = load_holzinger_swineford()  # doctest: +SKIP
    >>> hs[[f"x{i}" for i in range(1, 10)]].shape  # doctest: +SKIP
    (301, 9)
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the test extra
        raise ImportError(
            "load_holzinger_swineford returns a pandas DataFrame: pip install pandas."
        ) from exc
    if path is None:
        path = _semopy_hs_path()
        if path is None:
            raise FileNotFoundError(
                "The Holzinger-Swineford data are not available: install semopy "
                "(pip install semopy), which ships them, or write them from R with "
                'write.csv(lavaan::HolzingerSwineford1939, "hs.csv", '
                'row.names=FALSE) and pass path="hs.csv".'
            )
    data = pd.read_csv(path)
    first = data.columns[0]
    if first == "" or str(first).startswith("Unnamed"):
        data = data.drop(columns=first)
    missing = [c for c in _HS_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {missing}; pass a CSV of lavaan's "
            "HolzingerSwineford1939 (columns id, sex, ..., x1, ..., x9)."
        )
    return data
