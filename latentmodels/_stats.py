"""Sufficient statistics of a Gaussian model: ``(n, mean, scatter)``.

Every Gaussian model in the package is fitted by maximum likelihood from these
three numbers alone (user guide, "PCA and probabilistic PCA"): ``S = scatter / n``
is the maximum likelihood covariance and the mean log-likelihood of a data set
is a function of ``(n, mean, S)``. Statistics of two blocks of rows merge
exactly with the pairwise rule of Chan, Golub & LeVeque (1979),

    n = n_a + n_b,  δ = m_b − m_a,  m = m_a + δ n_b / n,
    scatter = scatter_a + scatter_b + δ δᵀ n_a n_b / n,

which is what a distributed pass (Dask) or a stream (``partial_fit``) uses.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import blas

from ._threads import blas_thread_count, blas_threads

# Bytes per block of shifted rows when the scatter matrix is accumulated from an
# in-memory array: large enough for BLAS-3 efficiency, small enough that each
# thread's shifted block stays in its share of the cache between the shift, the
# row sum and the rank-k update (measured: 0.5-4 MB are equally fast at
# d = 200 and d = 1000; 8 MB and more are slower).
_BLOCK_BYTES = 2 * 2**20
# From this many features one syrk per block keeps BLAS's own threads busy
# (2 cores, 20000 × 1000: 0.23 s, against 0.26 s for threads of gemm); below,
# threads over row ranges with gemm (50000 × 200: 0.033 s against 0.047 s).
_THREADED_SYRK_FEATURES = 512

# Symmetric eigenproblems up to this order run on one BLAS thread (top_eigenpairs).
_EIGH_ONE_THREAD = 4096


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
        r"""Statistics of an in-memory array, in one pass when it can.

        The scatter matrix is accumulated block by block with the symmetric
        rank-k update of BLAS (``syrk``), in float64 whatever the input dtype,
        on rows shifted by a provisional mean ``c`` (the mean of the first
        block, or 0 when the data are already centred to within a standard
        deviation), with the exact rank-one correction

        .. math::

            \sum_i (x_i - \bar x)(x_i - \bar x)^\top
            = \sum_i (x_i - c)(x_i - c)^\top - n\,\delta\delta^\top,
            \qquad \delta = \bar x - c = \tfrac1n \sum_i (x_i - c).

        The rounding error of the sum is ``ε Σ‖x_i − c‖²``, so the formula is
        as accurate as exact centring as long as ``c`` lies within a standard
        deviation or so of the mean in every column (``δ_j² ≤ var_j``), unlike
        the uncentred ``XᵀX − n x̄ x̄ᵀ``, whose error grows with ``x̄_j²/var_j``.
        When the first block is not representative (sorted rows, a trend), the
        pass is repeated with ``c`` the mean found by the first pass. The
        shifted copy of ``X`` exists one block per thread at a time (none at
        all for ``c = 0`` on C-ordered float64 data).
        """
        X = np.asarray(X)
        n, d = X.shape
        if n == 0:
            return cls(0, np.zeros(d), np.zeros((d, d)))
        rows = min(n, max(1, _BLOCK_BYTES // (8 * max(d, 1))))
        shift = _provisional_mean(X[:rows])
        delta, scatter = _shifted_scatter(X, shift, rows)
        if not _shift_is_close(delta, scatter, n, shift):
            shift = shift + delta
            delta, scatter = _shifted_scatter(X, shift, rows)
        # exact rank-one correction, on the upper triangle that syrk wrote
        scatter = blas.dsyr(-float(n), delta, a=scatter, lower=0, overwrite_a=1)
        # symmetric and Fortran-ordered, so its transpose is the C-ordered matrix
        return cls(int(n), shift + delta, _fill_lower(scatter).T)

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


# Bytes per block of rows when the scatter of an array-API array is accumulated
# on its device: large kernels (a GPU needs them), bounded temporaries.
_DEVICE_BLOCK_BYTES = 256 * 2**20


def stats_in_namespace(X, xp, device) -> SufficientStats:
    r"""Statistics of an array-API array, the ``O(n d²)`` pass on its device.

    The same shifted formula as :meth:`SufficientStats.from_array`: blocks of
    rows minus a provisional mean ``c`` (chosen by the same rule from the same
    first rows: their mean, or 0 for data centred to within a standard
    deviation), each block's row sum and
    ``BᵀB`` computed on the device in its widest float (float64 where it has
    one, as the numpy path accumulates float32 data in float64: the
    statistics, and so the fits, agree with numpy's to rounding), then the
    exact rank-one correction ``− n δδᵀ`` and, if ``c`` was not within a
    standard deviation of the mean, a second pass from ``c + δ``. Only the
    ``d``-vector and the ``d × d`` matrix leave the device: the returned
    statistics are numpy float64, for the host fits.

    Cost: one read of ``X`` and ``n d²`` multiply-adds on the device. A
    float32 block is converted to float64 before its product; on data-centre
    GPUs (A100, H100, H200) float64 matrix products run at about the float32
    rate, on consumer GPUs many times slower.
    """
    from sklearn.utils._array_api import _max_precision_float_dtype

    from ._array_api import as_numpy

    n, d = X.shape
    acc = _max_precision_float_dtype(xp, device)
    # each block is converted to the accumulation dtype (8 bytes per entry)
    rows = min(n, max(1, _DEVICE_BLOCK_BYTES // (8 * max(d, 1))))

    def host(a):
        return np.asarray(as_numpy(a), dtype=np.float64)

    def shifted(shift):
        c = xp.asarray(shift, dtype=acc, device=device)
        total = xp.zeros(d, dtype=acc, device=device)
        scatter = xp.zeros((d, d), dtype=acc, device=device)
        for i in range(0, n, rows):
            B = X[i : min(i + rows, n), ...]
            if B.dtype == acc:
                B = B - c  # a new array: X is never written
            else:
                B = xp.astype(B, acc)  # a new array, shifted in place
                B -= c
            total = total + xp.sum(B, axis=0)
            scatter = scatter + B.T @ B
        return shift, host(total) / n, host(scatter)

    # the shift of from_array: the same first rows, the rule of _provisional_mean
    first = xp.astype(X[: min(n, max(1, _BLOCK_BYTES // (8 * max(d, 1)))), ...], acc)
    mean = xp.mean(first, axis=0)
    var = host(xp.mean((first - mean) ** 2, axis=0))
    mean = host(mean)
    shift, delta, scatter = shifted(
        np.zeros_like(mean) if np.all(mean**2 <= var) else mean
    )
    if not _shift_is_close(delta, scatter, n, shift):
        shift, delta, scatter = shifted(shift + delta)
    scatter = scatter - n * np.outer(delta, delta)
    return SufficientStats(int(n), shift + delta, 0.5 * (scatter + scatter.T))


def _shifted_scatter(X: np.ndarray, shift: np.ndarray, rows: int):
    """``(δ, Σ (x − c)(x − c)ᵀ)`` over blocks of rows, upper triangle only.

    ``δ = Σ (x − c) / n``. The rows are split in contiguous ranges, one per
    BLAS thread; each range is read block by block into its own float64
    buffer (or in place, for ``c = 0``), whose row sum is taken while it is in
    cache before one single-threaded ``dsyrk`` adds ``BᵀB``. The partial sums
    then add up.
    Shifting, summing and the rank-k updates all run in parallel, with no
    synchronisation inside BLAS for each block (which costs much on small
    blocks and on a busy machine). Called outside the main thread (a Dask
    chunk, a user's thread pool), it runs on the calling thread alone.
    """
    n, d = X.shape
    n_threads = min(blas_thread_count(), -(-n // rows))
    if not _on_main_thread():
        # inside someone else's worker (a Dask chunk, a thread pool): the BLAS
        # limit below is process-wide, and nested pools would oversubscribe
        n_threads = 1
    if n_threads <= 1 or d >= _THREADED_SYRK_FEATURES:
        # one syrk per block, parallel inside BLAS (wide blocks keep it busy)
        total, scatter = _scatter_rows(X, shift, rows, 0, n)
        return total / n, scatter
    # scipy's syrk wrapper holds the GIL: threads around it ran one at a time
    # (measured: no faster than one thread). numpy's matmul releases it, so
    # each range takes BᵀB by gemm (twice syrk's flops, all cores busy).
    edges = np.linspace(0, n, n_threads + 1).astype(int)
    with blas_threads(1), ThreadPoolExecutor(n_threads) as pool:
        parts = list(
            pool.map(
                lambda i: _scatter_rows(
                    X, shift, rows, edges[i], edges[i + 1], gemm=True
                ),
                range(n_threads),
            )
        )
    total, scatter = parts[0]
    for t, s in parts[1:]:
        total += t
        scatter += s
    return total / n, np.asfortranarray(scatter)


def _fill_lower(S: np.ndarray, block: int = 256) -> np.ndarray:
    """Copy the upper triangle of ``S`` into its lower one, in place.

    Panel by panel (cache-friendly transposes), without the three ``d × d``
    temporaries of ``triu(S) + triu(S, 1).T``: 3x faster at d = 2500.
    """
    d = S.shape[0]
    for j in range(0, d, block):
        e = min(j + block, d)
        D = S[j:e, j:e]
        D[...] = np.triu(D) + np.triu(D, 1).T
        S[e:, j:e] = S[j:e, e:].T
    return S


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _provisional_mean(first: np.ndarray) -> np.ndarray:
    """The shift ``c``: the first block's mean, or 0 if that is as good.

    Where every column of the first block has ``mean² ≤ variance`` the data
    are already centred to within a standard deviation, the condition under
    which a shift is accurate (:func:`_shift_is_close`); ``c = 0`` then
    spares the shifted copy of each block.
    """
    mean = first.mean(axis=0, dtype=np.float64)
    # mean² ≤ var ⟺ 2 mean² ≤ mean of squares (one pass, no temporary: the
    # choice needs no more accuracy than that)
    squares = np.einsum("ij,ij->j", first, first, dtype=np.float64)
    if np.all(2.0 * mean**2 * first.shape[0] <= squares):
        return np.zeros_like(mean)
    return mean


def _scatter_rows(X, shift, rows, start, stop, gemm=False):
    """Row sum and upper-triangular ``Σ (x − c)(x − c)ᵀ`` of ``X[start:stop]``.

    ``gemm``: the whole (symmetric) matrix by numpy's matmul, which releases
    the GIL (for threads), instead of scipy's ``dsyrk``, which does not.
    """
    d = X.shape[1]
    # c = 0 on C-ordered float64 rows: BLAS reads the rows in place
    in_place = X.dtype == np.float64 and X.flags.c_contiguous and not shift.any()
    buf = None if in_place else np.empty((min(rows, stop - start), d))
    ones = np.ones(min(rows, stop - start))  # row sums by gemv: 4x numpy's sum
    total = np.zeros(d)
    scatter = np.zeros((d, d), order="F")
    for i in range(start, stop, rows):
        block = X[i : min(i + rows, stop)]
        if in_place:
            B = block
        else:
            B = buf[: block.shape[0]]
            np.subtract(block, shift, out=B)
        total += ones[: B.shape[0]] @ B
        if gemm:
            scatter += B.T @ B
        else:
            # syrk with trans=0 computes a @ a.T; B.T is Fortran-ordered (no copy)
            scatter = blas.dsyrk(
                1.0, B.T, beta=1.0, c=scatter, lower=0, overwrite_c=1
            )
    return total, scatter


def _shift_is_close(delta, scatter, n, shift) -> bool:
    """Whether the shift ``c`` is within a standard deviation of the mean.

    Then the shifted scatter loses at most about one bit against exact
    centring (its rounding error is ``ε n (var_j + δ_j²)`` per column). A
    ``δ_j`` at the rounding level of ``c_j`` itself (a constant column) is
    harmless at any variance.
    """
    var = np.diag(scatter) / n - delta**2
    floor = (4 * np.finfo(np.float64).eps * np.abs(shift)) ** 2
    return bool(np.all(delta**2 <= np.maximum(var, 0.0) + floor))


def top_eigenpairs(S: np.ndarray, k: int | None = None):
    """Eigenvalues (descending) and eigenvectors of a symmetric matrix.

    With ``k``, only the ``k`` largest pairs are computed (LAPACK ``syevr``
    on an index range: a few times faster than the full decomposition when
    ``k ≪ d``); otherwise all of them (divide and conquer, ``syevd``).

    Matrices of order up to ``_EIGH_ONE_THREAD`` are decomposed on one BLAS
    thread: the reduction to tridiagonal form is memory-bound matrix-vector
    work that threads barely speed up on an idle machine, and that threads
    waiting on each other slow down many times when the cores are shared
    (measured at d = 1000 on two shared cores: 0.10 s on one thread, 0.9 s
    on two; see benchmarks/README.md).
    """
    d = S.shape[0]
    # the BLAS limit is process-wide: only the main thread sets it
    one_thread = d <= _EIGH_ONE_THREAD and _on_main_thread()
    with blas_threads(1) if one_thread else contextlib.nullcontext():
        if k is not None and k < d:
            lam, U = linalg.eigh(S, subset_by_index=[d - k, d - 1])
        else:
            lam, U = linalg.eigh(S, driver="evd")
    return lam[::-1], U[:, ::-1]


def gram_eigenpairs(Xc: np.ndarray, k: int | None = None):
    """Spectrum of centred wide data from its ``n × n`` Gram matrix.

    ``Xc Xcᵀ = V diag(s²) Vᵀ`` gives the right singular vectors
    ``Vtᵀ = Xcᵀ V diag(1/s)``: ``O(n² d)`` work against the SVD's larger
    constant. Returns ``(s², Vt)``: with ``k``, the ``k`` largest squared
    singular values of the centred data and the first ``k`` rows of ``Vt``
    (only those pairs are computed, as in :func:`top_eigenpairs`); without,
    all ``n − 1`` of each. ``(None, None)`` when one of those singular values
    is numerically zero (its direction is not determined accurately from the
    Gram matrix, and the caller falls back to the SVD).
    """
    n = Xc.shape[0]
    rank = n - 1  # centring removes one dimension
    m = rank if k is None else k
    if m < 1 or m > rank:
        return None, None
    s2, V = top_eigenpairs(Xc @ Xc.T, m)
    s2 = np.maximum(s2, 0.0)
    if s2[m - 1] <= s2[0] * n * np.finfo(np.float64).eps * 1e3:
        return None, None
    Vt = (V[:, :m].T @ Xc) / np.sqrt(s2[:m])[:, None]
    return s2[:m], Vt
