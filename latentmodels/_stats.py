"""Sufficient statistics of a Gaussian model: ``(n, mean, scatter)``.

Every Gaussian model in the package is fitted by maximum likelihood from these
three numbers alone (THEORY.md §1, §7): ``S = scatter / n`` is the maximum
likelihood covariance and the mean log-likelihood of a data set is a function of
``(n, mean, S)``. Statistics of two blocks of rows merge exactly with the
pairwise rule of Chan, Golub & LeVeque (1979),

    n = n_a + n_b,  δ = m_b − m_a,  m = m_a + δ n_b / n,
    scatter = scatter_a + scatter_b + δ δᵀ n_a n_b / n,

which is what a distributed pass (Dask) or a stream (``partial_fit``) uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import blas

# Rows per block when the scatter matrix is accumulated from an in-memory array:
# large enough for BLAS-3 efficiency, small enough to keep the centred copy of a
# block in cache-friendly memory (a few MB).
_BLOCK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class SufficientStats:
    """Sample size, mean and scatter matrix ``Σ (x − mean)(x − mean)ᵀ`` of data.

    Attributes
    ----------
    n : int
        Number of rows.
    mean : ndarray of shape (n_features,)
    scatter : ndarray of shape (n_features, n_features)
        Centred cross-product matrix; ``scatter / n`` is the (biased) sample
        covariance ``S`` used by maximum likelihood.
    """

    n: int
    mean: np.ndarray
    scatter: np.ndarray

    @property
    def n_features(self) -> int:
        return self.mean.shape[0]

    @property
    def covariance(self) -> np.ndarray:
        """Maximum likelihood covariance ``S = scatter / n``."""
        return self.scatter / self.n

    @classmethod
    def from_array(cls, X: np.ndarray) -> "SufficientStats":
        """Statistics of an in-memory array (two passes: mean, then scatter).

        The scatter matrix is accumulated block by block with the symmetric
        rank-k update of BLAS (``syrk``), in float64 whatever the input dtype,
        so the centred copy of ``X`` never exists whole.
        """
        X = np.asarray(X)
        n, d = X.shape
        mean = X.mean(axis=0, dtype=np.float64)
        scatter = np.zeros((d, d), order="F")
        rows = max(1, _BLOCK_BYTES // (8 * max(d, 1)))
        for start in range(0, n, rows):
            block = np.asarray(X[start : start + rows], dtype=np.float64) - mean
            # syrk with trans=0 computes a @ a.T; block.T is Fortran-ordered,
            # so no copy is made. Only the upper triangle is written.
            scatter = blas.dsyrk(
                1.0, block.T, beta=1.0, c=scatter, lower=0, overwrite_c=1
            )
        scatter = np.triu(scatter) + np.triu(scatter, 1).T
        return cls(int(n), mean, np.ascontiguousarray(scatter))

    def merge(self, other: "SufficientStats") -> "SufficientStats":
        """Statistics of the union of two disjoint sets of rows (Chan et al.)."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        scatter = (
            self.scatter
            + other.scatter
            + np.outer(delta, delta) * (self.n * other.n / n)
        )
        return SufficientStats(n, mean, scatter)


def top_eigenpairs(S: np.ndarray, k: int | None = None):
    """Eigenvalues (descending) and eigenvectors of a symmetric matrix.

    With ``k``, only the ``k`` largest pairs are computed (LAPACK ``syevr``
    on an index range: a few times faster than the full decomposition when
    ``k ≪ d``); otherwise all of them (divide and conquer, ``syevd``).
    """
    d = S.shape[0]
    if k is not None and k < d:
        lam, U = linalg.eigh(S, subset_by_index=[d - k, d - 1])
    else:
        lam, U = linalg.eigh(S, driver="evd")
    return lam[::-1], U[:, ::-1]


def gram_eigenpairs(Xc: np.ndarray, k: int | None = None):
    """Spectrum of centred wide data from its ``n × n`` Gram matrix.

    ``Xc Xcᵀ = V diag(s²) Vᵀ`` gives the right singular vectors
    ``Vtᵀ = Xcᵀ V diag(1/s)``: ``O(n² d)`` work against the SVD's larger
    constant. Returns ``(s², Vt)`` with the ``n − 1`` squared singular values
    of the centred data and the first ``k`` (default all ``n − 1``) rows of
    ``Vt``; or ``(None, None)`` when one of those ``k`` singular values is
    numerically zero (its direction is not determined accurately from the
    Gram matrix, and the caller falls back to the SVD).
    """
    n = Xc.shape[0]
    rank = n - 1  # centring removes one dimension
    m = rank if k is None else k
    if m < 1 or m > rank:
        return None, None
    s2, V = linalg.eigh(Xc @ Xc.T, driver="evd")
    s2, V = np.maximum(s2[::-1], 0.0), V[:, ::-1]
    if s2[m - 1] <= s2[0] * n * np.finfo(np.float64).eps * 1e3:
        return None, None
    Vt = (V[:, :m].T @ Xc) / np.sqrt(s2[:m])[:, None]
    return s2[:rank], Vt
