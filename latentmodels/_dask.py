"""Dask support: one distributed pass for the statistics, lazy block-wise maps.

The Gaussian models need only ``(n, mean, scatter)`` (merged as in Chan, Golub
& LeVeque 1979). For a
``dask.array.Array`` each row block computes its own statistics in float64
(:meth:`SufficientStats.from_array`), and the blocks are merged pairwise in a
tree with the Chan et al. rule — one pass over the data, never materialised.
``transform``-like methods become lazy ``map_blocks`` over row blocks.

Dask is optional: nothing here imports it unless the input already is a Dask
array (``dask`` is then necessarily installed and imported).
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from ._stats import SufficientStats


def is_dask_array(X) -> bool:
    """True if ``X`` is a ``dask.array.Array`` (without importing Dask)."""
    if "dask.array" not in sys.modules:
        return False
    import dask.array as da

    return isinstance(X, da.Array)


def check_dask_array(X, *, n_features: int | None = None):
    """Validate a 2-D floating Dask array and put whole rows in each block."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array (n_samples, n_features), got {X.ndim}-D; "
            "reshape it first."
        )
    if X.dtype.kind not in "fiu":
        raise TypeError(
            f"Dask array has dtype {X.dtype}; only real numeric data can be modelled."
        )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the estimator was fitted with "
            f"{n_features} features."
        )
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _block_stats(block: np.ndarray) -> SufficientStats:
    block = np.asarray(block)
    if not np.all(np.isfinite(block)):
        bad = int(np.count_nonzero(~np.isfinite(block).all(axis=1)))
        raise ValueError(
            f"The Dask array contains NaN or inf in {bad} rows of one block; "
            "remove or impute them (missing values with Dask are not supported)."
        )
    if block.shape[0] == 0:
        d = block.shape[1]
        return SufficientStats(0, np.zeros(d), np.zeros((d, d)))
    return SufficientStats.from_array(block)


def _merge_many(*stats: SufficientStats) -> SufficientStats:
    out = stats[0]
    for s in stats[1:]:
        out = out.merge(s)
    return out


def dask_sufficient_stats(X, *, split_every: int = 8) -> SufficientStats:
    """``(n, mean, scatter)`` of a Dask array in one pass, merged in a tree."""
    import dask

    X = check_dask_array(X)
    parts = [dask.delayed(_block_stats)(b) for b in X.to_delayed().ravel()]
    while len(parts) > 1:
        parts = [
            dask.delayed(_merge_many)(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    (stats,) = dask.compute(parts[0])
    if stats.n < 2:
        raise ValueError(f"Found {stats.n} sample(s); at least 2 are needed to fit.")
    return stats


def fit_statistics(estimator, X) -> SufficientStats:
    """Statistics of a Dask array for ``estimator.fit``, and its input attributes.

    One distributed pass (:func:`dask_sufficient_stats`); sets
    ``n_features_in_`` and forgets ``feature_names_in_`` from an earlier fit
    on a DataFrame, which no longer describes the data.
    """
    stats = dask_sufficient_stats(X)
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    estimator.n_features_in_ = stats.n_features
    return stats


def map_rows(X, func, n_out: int | None, dtype=np.float64):
    """Lazy ``func`` over row blocks; ``n_out`` columns, or None for a vector."""
    X = check_dask_array(X)
    if n_out is None:
        return X.map_blocks(func, drop_axis=1, dtype=dtype, chunks=(X.chunks[0],))
    return X.map_blocks(func, dtype=dtype, chunks=(X.chunks[0], (n_out,)))


def lazy_over_rows(n_out):
    """Make a row-wise method lazy on Dask input: ``map_blocks`` over row blocks.

    ``n_out(self)`` gives the number of output columns, or None for a vector
    output (one value per row). NumPy input goes straight to the method.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            if is_dask_array(X):
                return map_rows(
                    X, lambda block: method(self, block, *args, **kwargs), n_out(self)
                )
            return method(self, X, *args, **kwargs)

        return wrapper

    return decorate
