"""Sufficient statistics: exact against numpy, merge rule against one pass."""

import numpy as np
import pytest

from latentmodels._stats import SufficientStats


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_from_array_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((5000, 7)) * 3 + 1e3).astype(dtype)
    s = SufficientStats.from_array(X)
    Xd = X.astype(np.float64)
    np.testing.assert_allclose(s.mean, Xd.mean(0), rtol=1e-14)
    ref = (Xd - Xd.mean(0)).T @ (Xd - Xd.mean(0))
    np.testing.assert_allclose(s.scatter, ref, rtol=1e-11)
    np.testing.assert_array_equal(s.scatter, s.scatter.T)
    assert s.n == 5000


def test_merge_equals_one_pass_for_uneven_blocks():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1001, 4)) + 50
    whole = SufficientStats.from_array(X)
    parts = [X[:1], X[1:400], X[400:1001]]
    merged = SufficientStats.from_array(parts[0])
    for p in parts[1:]:
        merged = merged.merge(SufficientStats.from_array(p))
    assert merged.n == whole.n
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-14)
    np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-10)


def test_from_array_many_blocks(monkeypatch):
    import latentmodels._stats as st

    monkeypatch.setattr(st, "_BLOCK_BYTES", 8 * 3 * 10)  # 10 rows per block
    X = np.random.default_rng(2).standard_normal((95, 3))
    s = SufficientStats.from_array(X)
    np.testing.assert_allclose(s.covariance, np.cov(X.T, bias=True), rtol=1e-12)
