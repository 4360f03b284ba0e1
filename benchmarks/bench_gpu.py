"""latentmodels on a GPU (issue 15) vs our numpy path on all CPU cores.

Uses whatever CUDA device PyTorch or CuPy sees (PyTorch first); without one
it prints why and exits 0 without touching the results. Every row is timed
side by side in one process on the same machine: the device side (arrays
created on the device, ``torch.cuda.synchronize()`` / CuPy stream sync
around every timing) and our numpy path with all CPU cores
(``n_jobs=-1``). Timings are the best of ``--repeats`` runs after one
warm-up run.

Rows measured now:

* ``rotate``: varimax and oblimin of 1000×20 loadings given as a device
  array (the iterations run on the host; this measures the round trip) vs
  the same call on numpy.
* ``sparse_encode``: 200 000 signals × 64 features, 256 unit-norm atoms, the
  synthetic problem of ``bench_sparse_encode.py``, α = 0.1, relative duality
  gap ≤ 1e-6 for *every* row: ``solve_device`` (float64, FISTA + exact
  active-set polish) with the uncertified rows finished on the host by our
  numpy ``sparse_encode``; vs ``sparse_encode(..., n_jobs=-1)``. The worst
  gap of both is recomputed in float64 from the residual.
* ``sklearn_pca``: scikit-learn's array-API ``PCA(20,
  svd_solver='covariance_eigh')`` on a 200 000 × 200 device array, the
  reference that our PCA on the device must match (target ≤ 1.2× its time).

TODO (a later session, once the estimators accept array-API input): the
``factor_analysis`` (n = 5·10⁶, d = 256, k = 16, float32, with the device's own
``Xᵀ X`` pass timed beside it), ``pca`` (ours on the same device vs
``sklearn_pca``) and ``dictionary_learning`` (digits, to
``MiniBatchDictionaryLearning``'s 40-epoch objective) rows; they are written
as ``"TODO"`` entries in the JSON.

Usage: ``python benchmarks/bench_gpu.py [--quick] [--device cpu]``; writes
``benchmarks/results/gpu.json`` (``--quick``: 20 000 signals, written to
``gpu.quick.tmp``). ``--device cpu`` runs the same code with PyTorch on the
CPU, a smoke test for machines without a GPU (written to ``gpu.cpu.tmp``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy is imported

import sklearn  # noqa: E402
from bench_sparse_encode import ALPHA, TOL, synthetic  # noqa: E402
from sklearn.decomposition import PCA as SkPCA  # noqa: E402

from latentmodels.rotations import rotate  # noqa: E402
from latentmodels.sparse import relative_gap, sparse_encode  # noqa: E402
from latentmodels.sparse._device import solve_device  # noqa: E402


def find_device(want: str | None):
    """``(xp, device, name, sync)`` of a CUDA device, or None with a reason."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and (want == "cpu" or torch.cuda.is_available()):
        from sklearn.externals.array_api_compat import torch as xp

        dev = "cpu" if want == "cpu" else "cuda"
        if dev == "cuda":
            name = torch.cuda.get_device_name(0)
        else:
            name = f"CPU ({platform.processor() or platform.machine()})"
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        return xp, torch.device(dev), f"torch {torch.__version__}: {name}", sync
    try:
        import cupy
    except ImportError:
        return None, "neither a CUDA PyTorch nor CuPy is importable"
    if cupy.cuda.runtime.getDeviceCount() == 0:
        return None, "CuPy sees no CUDA device"
    from sklearn.externals.array_api_compat import cupy as xp

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props[
        "name"]
    return (xp, cupy.cuda.Device(0), f"cupy {cupy.__version__}: {name}",
            cupy.cuda.Stream.null.synchronize)


def best(fn, sync, repeats):
    """Best wall time of ``repeats`` runs after a warm-up, and the last result."""
    out = fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_rotate(xp, device, sync, repeats):
    rng = np.random.default_rng(0)
    L = rng.standard_normal((1000, 20))
    La = xp.asarray(L, device=device)
    rows = {}
    for method in ("varimax", "oblimin"):
        t_cpu, ref = best(lambda: rotate(L, method), lambda: None, repeats)
        with sklearn.config_context(array_api_dispatch=True):
            t_dev, res = best(lambda: rotate(La, method), sync, repeats)
        got = to_numpy(res.loadings)
        rows[method] = dict(
            device_s=t_dev, numpy_s=t_cpu, speedup=t_cpu / t_dev,
            max_abs_diff=float(np.max(np.abs(got - ref.loadings))),
        )
    return rows


def to_numpy(a):
    return a.get() if hasattr(a, "get") else a.cpu().numpy()


def bench_sparse(xp, device, sync, n, repeats):
    rng = np.random.default_rng(0)
    X, D = synthetic(n, rng)
    Xd, Dd = xp.asarray(X, device=device), xp.asarray(D, device=device)

    def on_device():
        C, G = Xd @ Dd.T, Dd @ Dd.T
        res = solve_device(C, G, xp.sum(Xd * Xd, axis=1), ALPHA, tol=TOL, xp=xp)
        H = to_numpy(res.codes)
        left = np.flatnonzero(~to_numpy(res.certified))
        if left.size:  # the host fallback finishes the uncertified rows
            H[left] = sparse_encode(X[left], D, ALPHA, tol=TOL, n_jobs=-1)
        return H, left.size, res.n_iter

    t_dev, (H, n_left, n_iter) = best(on_device, sync, repeats)
    t_cpu, Hc = best(lambda: sparse_encode(X, D, ALPHA, tol=TOL, n_jobs=-1),
                     lambda: None, repeats)
    gap_dev = relative_gap(X, D, H, ALPHA).max()
    gap_cpu = relative_gap(X, D, Hc, ALPHA).max()
    return dict(
        n_samples=n, device_s=t_dev, numpy_all_cores_s=t_cpu,
        speedup=t_cpu / t_dev, device_us_per_signal=1e6 * t_dev / n,
        uncertified_rows_finished_on_host=int(n_left), fista_iterations=n_iter,
        worst_relative_gap_device=float(gap_dev),
        worst_relative_gap_numpy=float(gap_cpu), target_speedup=5.0,
    )


def bench_sklearn_pca(xp, device, sync, n, repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 200)) @ rng.standard_normal((200, 200))
    Xd = xp.asarray(X, device=device)
    with sklearn.config_context(array_api_dispatch=True):
        t_dev, _ = best(lambda: SkPCA(20, svd_solver="covariance_eigh").fit(Xd),
                        sync, repeats)
    t_cpu, _ = best(lambda: SkPCA(20, svd_solver="covariance_eigh").fit(X),
                    lambda: None, repeats)
    return dict(n_samples=n, n_features=200, device_s=t_dev, numpy_s=t_cpu,
                note="scikit-learn's array-API PCA: the reference for ours")


TODO_ROWS = {
    "factor_analysis": "TODO: FactorAnalysis on the device (n=5e6, d=256, k=16, "
    "float32) vs our all-core numpy fit, with the device's X^T X pass beside it",
    "pca": "TODO: latentmodels PCA on the device vs sklearn_pca (target <= 1.2x)",
    "dictionary_learning": "TODO: dictionary learning on digits on the device to "
    "MiniBatchDictionaryLearning's 40-epoch objective",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    found = find_device(args.device)
    if found[0] is None:
        print(f"bench_gpu: skipped, no GPU: {found[1]}.")
        return
    xp, device, name, sync = found
    n = 20_000 if args.quick or args.device == "cpu" else 200_000
    out = dict(
        device=name, cpu_count=os.cpu_count(), load_average=os.getloadavg(),
        date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        repeats=args.repeats,
        rotate=bench_rotate(xp, device, sync, args.repeats),
        sparse_encode=bench_sparse(xp, device, sync, n, args.repeats),
        sklearn_pca=bench_sklearn_pca(xp, device, sync, n, args.repeats),
        **TODO_ROWS,
    )
    suffix = ".cpu.tmp" if args.device == "cpu" else (
        ".quick.tmp" if args.quick else ".json")
    path = ROOT / "benchmarks" / "results" / f"gpu{suffix}"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
