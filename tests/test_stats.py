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


def _offset_data(n, d, offset, seed=0, outliers=0):
    """Rows ``y + offset`` that are exact in float64, and the exact scatter of y.

    ``y`` holds multiples of 2⁻¹⁰ below 2¹³ in magnitude, so ``y + 1e8`` is
    exactly representable and ``X − offset`` re-centres exactly; the
    reference is then the ordinary two-pass scatter of the small ``y``. The
    first ``outliers`` rows are moved 2¹² (thousands of standard deviations)
    away from the rest.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, 2))
    y = rng.standard_normal((n, 2)) @ W.T + rng.standard_normal((n, d))
    y = np.round(y * 2**10) / 2**10
    y[:outliers] += 2.0**12
    X = y + offset
    np.testing.assert_array_equal(X - offset, y)  # the data are exact
    yc = y - y.mean(axis=0)
    return X, y.mean(axis=0), yc.T @ yc


@pytest.mark.parametrize("outliers", [0, 10], ids=["shuffled", "outlying 1st block"])
def test_shifted_scatter_exact_under_large_offset(monkeypatch, outliers):
    # data + 1e8: the uncentred formula XᵀX − n m mᵀ loses every digit, the
    # shifted blocks with the rank-one correction keep about 14
    import latentmodels._stats as st

    monkeypatch.setattr(st, "_BLOCK_BYTES", 8 * 4 * 10)  # 10 rows per block
    calls, real = [], st._shifted_scatter
    monkeypatch.setattr(
        st, "_shifted_scatter", lambda *a: calls.append(a[1]) or real(*a)
    )
    X, mean, ref = _offset_data(20000, 4, 1e8, outliers=outliers)
    s = SufficientStats.from_array(X)
    np.testing.assert_allclose(s.mean - 1e8, mean, atol=2e-8)  # ulp(1e8) = 1.5e-8
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    # kept only with the second pass when the first block is an outlier: the
    # shift 2¹² away from the mean alone would leave an error of about 3e-12
    assert np.max(np.abs(s.scatter - ref) / scale) < 2e-13
    assert len(calls) == (2 if outliers else 1)
    # the same property fails for the formula the shift replaces
    m = X.mean(axis=0)
    naive = X.T @ X - X.shape[0] * np.outer(m, m)
    assert np.max(np.abs(naive - ref) / scale) > 1e-5


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_scatter_same_for_any_thread_count(monkeypatch, threads):
    # rows split in `threads` contiguous ranges, partial sums added: the
    # same statistics to rounding, and bit-identical between two runs
    import latentmodels._stats as st

    monkeypatch.setattr(st, "_BLOCK_BYTES", 8 * 4 * 64)  # 64 rows per block
    monkeypatch.setattr(st, "blas_thread_count", lambda: threads)
    X, mean, ref = _offset_data(1000, 4, 1e3, seed=3)
    s = SufficientStats.from_array(X)
    np.testing.assert_allclose(s.mean, mean + 1e3, rtol=1e-15)
    np.testing.assert_allclose(s.scatter, ref, rtol=1e-12)
    np.testing.assert_array_equal(SufficientStats.from_array(X).scatter, s.scatter)


def test_constant_columns_have_zero_scatter():
    X = np.random.default_rng(4).standard_normal((500, 3))
    X[:, 1] = 0.1  # not a multiple of a power of two: its mean is not exact
    X[:, 2] = 0.0
    s = SufficientStats.from_array(X)
    assert np.all(np.abs(s.scatter[1]) <= 500 * (1e-16 * 0.1) ** 2 * 16)
    np.testing.assert_array_equal(s.scatter[2], 0.0)
    np.testing.assert_allclose(s.mean[1:], [0.1, 0.0], rtol=1e-15)


def test_worker_threads_run_serially_and_keep_the_blas_limit(monkeypatch):
    # from a worker thread (a Dask chunk) the pass stays on that thread, so
    # the process-wide BLAS limit is never changed concurrently
    from concurrent.futures import ThreadPoolExecutor

    import latentmodels._stats as st
    from latentmodels._threads import blas_thread_count

    monkeypatch.setattr(st, "_BLOCK_BYTES", 8 * 4 * 64)
    limited = []
    real = st.blas_threads
    monkeypatch.setattr(st, "blas_threads", lambda n: limited.append(n) or real(n))
    X, mean, ref = _offset_data(1000, 4, 1e3, seed=5)
    before = blas_thread_count()
    with ThreadPoolExecutor(4) as pool:
        stats = list(pool.map(SufficientStats.from_array, [X] * 8))
    assert limited == [] and blas_thread_count() == before
    for s in stats:
        np.testing.assert_allclose(s.scatter, ref, rtol=1e-12)


@pytest.mark.parametrize("case", ["centred", "centred 1st block", "read-only"])
def test_zero_shift_when_already_centred(monkeypatch, case):
    # c = 0 when the first block is centred to within a standard deviation;
    # checked on the whole pass, and redone about the mean when the rest is not
    import latentmodels._stats as st

    monkeypatch.setattr(st, "_BLOCK_BYTES", 8 * 4 * 50)  # 50 rows per block
    calls, real = [], st._shifted_scatter
    monkeypatch.setattr(
        st, "_shifted_scatter", lambda *a: calls.append(a[1].copy()) or real(*a)
    )
    X, mean, ref = _offset_data(2000, 4, 0.0, seed=6)
    if case == "centred 1st block":
        X[50:] += 2.0**8  # exact: a multiple of 2⁻¹⁰ below 2¹³
        Xc = X - X.mean(axis=0)
        mean, ref = X.mean(axis=0), Xc.T @ Xc
    if case == "read-only":
        X.setflags(write=False)
    s = SufficientStats.from_array(X)
    np.testing.assert_array_equal(calls[0], 0.0)
    assert len(calls) == (2 if case == "centred 1st block" else 1)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-14, atol=1e-15)
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    assert np.max(np.abs(s.scatter - ref) / scale) < 1e-14


def test_wide_scatter_is_filled_symmetric_across_panels():
    # d = 600 > 256: the lower triangle is copied panel by panel
    rng = np.random.default_rng(7)
    X = rng.standard_normal((700, 600)) + 10.0
    s = SufficientStats.from_array(X)
    Xc = X - X.mean(axis=0)
    np.testing.assert_allclose(s.scatter, Xc.T @ Xc, rtol=1e-11, atol=1e-9)
    np.testing.assert_array_equal(s.scatter, s.scatter.T)
    assert s.scatter.flags.c_contiguous
