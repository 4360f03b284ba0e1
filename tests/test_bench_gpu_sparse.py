"""The sparse rows of benchmarks/bench_gpu.py, in a quick CPU mode.

array-api-strict's ``device1`` stands in for the GPU (it refuses implicit
conversion to numpy, so a silent host round trip fails here). The rows'
own checks are asserted: every sample's gap ≤ 1e-6 on both sides, the
device's dictionary equal to the numpy fit's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench_gpu():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_gpu


@pytest.fixture
def strict():
    xps = pytest.importorskip("array_api_strict")
    return xps, xps.Device("device1"), lambda: None


def test_sparse_encode_row_quick(bench_gpu, strict):
    row = bench_gpu.bench_sparse(*strict, n=300, repeats=1)
    assert row["worst_relative_gap_device"] <= 1e-6
    assert row["worst_relative_gap_numpy"] <= 1e-6
    assert 0 <= row["rows_finished_on_host"] <= 300
    assert row["max_abs_code_diff"] <= 1e-6
    assert row["speedup"] == pytest.approx(
        row["numpy_all_cores_s"] / row["device_s"])
    assert "all 300 samples reached" in row["float32"]["device_message"]


def test_dictionary_learning_row_quick(bench_gpu, strict):
    row = bench_gpu.bench_dictionary(*strict, repeats=1, quick=True, n_samples=200)
    assert row["n_samples"] == 200 and row["sklearn_epochs"] == 5
    assert 0 < row["host_dictionary_step_s"] < row["device_s"]
    # the device fit is the numpy fit: the same exact objective
    assert row["device_objective_exact"] == pytest.approx(
        row["numpy_objective_exact"], rel=1e-10)
    # the number of updates was chosen to reach scikit-learn's objective
    assert row["numpy_objective_exact"] <= row["sklearn_objective_exact"] * (1 + 1e-6)


def test_without_a_gpu_the_benchmark_skips_cleanly(bench_gpu, monkeypatch, capsys):
    monkeypatch.setattr(bench_gpu, "find_device", lambda want: (None, "no CUDA"))
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py"])
    before = sorted((BENCHMARKS / "results").iterdir())
    bench_gpu.main()
    assert "skipped, no GPU: no CUDA" in capsys.readouterr().out
    assert sorted((BENCHMARKS / "results").iterdir()) == before

