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
* ``factor_analysis``: ``FactorAnalysis(16)`` on n = 5·10⁶, d = 256, float32
  data made on the device (k = 16 factors, heteroscedastic noise; n is scaled
  down when the device or host memory is short, and the JSON says so): the fit
  on the device array, the device's own ``Xᵀ X`` pass (one float32 and one
  float64 product on the whole array, the floor), and our numpy fit on the
  same values on all CPU cores (target: ≥ 10× faster on the device; the ratio
  to the ``Xᵀ X`` pass is reported).
* ``pca``: ``PCA(16)`` on the same array: ours on the device, scikit-learn's
  array-API ``PCA(16, svd_solver='covariance_eigh')`` on the device (target:
  ours ≤ 1.2× its time), our numpy path on all CPU cores.

TODO (a later session): the ``dictionary_learning`` row (digits, to
``MiniBatchDictionaryLearning``'s 40-epoch objective), written as a
``"TODO"`` entry in the JSON.

Usage: ``python benchmarks/bench_gpu.py [--quick] [--device {cuda,cpu,strict}]
[--rows a,b] [--out PATH]``; writes ``benchmarks/results/gpu.json``
(``--quick``: small sizes, written to ``gpu.quick.tmp``). ``--device cpu``
runs the same code with PyTorch on the CPU and ``--device strict`` with
array-api-strict, smoke tests for machines without a GPU (written to
``gpu.cpu.tmp``); ``tests/test_array_api_estimators.py`` runs ``--quick`` that
way so that the script cannot rot.
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

from latentmodels import PCA, FactorAnalysis  # noqa: E402
from latentmodels._array_api import as_numpy  # noqa: E402
from latentmodels.rotations import rotate  # noqa: E402
from latentmodels.sparse import relative_gap, sparse_encode  # noqa: E402
from latentmodels.sparse._device import solve_device  # noqa: E402


def find_device(want: str | None):
    """``(xp, device, name, sync)`` of a CUDA device, or None with a reason."""
    if want == "strict":
        try:
            import array_api_strict as xp
        except ImportError:
            return None, "array-api-strict is not installed"
        return xp, xp.Device("CPU_DEVICE"), "array-api-strict (CPU)", lambda: None
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
    return as_numpy(a)


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


# --- FactorAnalysis and PCA on the device ------------------------------------------
FA_SHAPE = (5_000_000, 256, 16)  # n, d, k of the row (float32)


def free_bytes(xp, device):
    """Free memory of the device (CUDA) and available memory of the host."""
    page = os.sysconf("SC_PAGE_SIZE")
    host = os.sysconf("SC_AVPHYS_PAGES") * page
    dev = host
    name = xp.__name__
    if "torch" in name and getattr(device, "type", "cpu") == "cuda":
        import torch

        dev = torch.cuda.mem_get_info(device)[0]
    elif "cupy" in name:
        import cupy

        dev = cupy.cuda.runtime.memGetInfo()[0]
    return dev, host


def device_normal(xp, device, shape, seed, dtype="float32"):
    """Standard normal draws made on the device (PyTorch, CuPy) or moved there."""
    name = xp.__name__
    if "torch" in name:
        import torch

        g = torch.Generator(device=device).manual_seed(seed)
        return torch.randn(shape, generator=g, device=device,
                           dtype=getattr(torch, dtype))
    if "cupy" in name:
        import cupy

        return cupy.random.default_rng(seed).standard_normal(shape, dtype=dtype)
    draws = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return xp.asarray(draws, device=device)


def factor_data(xp, device, n, d, k):
    """``X = Z Wᵀ + E diag(√ψ)`` on the device, float32; returns X and its size."""
    rng = np.random.default_rng(0)
    Wt = xp.asarray(rng.standard_normal((k, d)).astype(np.float32), device=device)
    sd = xp.asarray(np.sqrt(rng.uniform(0.2, 2.0, d)).astype(np.float32),
                    device=device)
    X = device_normal(xp, device, (n, d), 1) * sd
    return X + device_normal(xp, device, (n, k), 2) @ Wt


def scaled_n(xp, device, n, d):
    """``n`` scaled down so that X fits 4 times on the device and twice on the
    host (the data, the draws and products that make it, the host copy)."""
    dev, host = free_bytes(xp, device)
    row = 4 * d  # float32
    fit = int(min(n, 0.8 * dev / (4 * row), 0.8 * host / (2 * row)))
    return max(fit, 10 * d)


def bench_gaussian(xp, device, sync, n, d, k, repeats):
    """The ``factor_analysis`` and ``pca`` rows on one device array."""
    n_used = scaled_n(xp, device, n, d)
    Xd = factor_data(xp, device, n_used, d, k)
    sync()
    X = to_numpy(Xd)  # the same float32 values on the host
    reps_cpu = max(1, min(repeats, 2))  # the CPU side is the slow one
    with sklearn.config_context(array_api_dispatch=True):
        t_xtx32, _ = best(lambda: Xd.T @ Xd, sync, repeats)
        part = xp.astype(Xd[: min(n_used, 1_000_000), ...], xp.float64)
        t_xtx64, _ = best(lambda: part.T @ part, sync, repeats)
        t_xtx64 *= n_used / part.shape[0]  # per the whole array
        part = None
        t_fa, fa_dev = best(lambda: FactorAnalysis(k, random_state=0).fit(Xd),
                            sync, repeats)
        t_pca, pca_dev = best(lambda: PCA(k).fit(Xd), sync, repeats)
        t_skpca, _ = best(lambda: SkPCA(k, svd_solver="covariance_eigh").fit(Xd),
                          sync, repeats)
        C_fa = to_numpy(fa_dev.get_covariance())
        C_pca = to_numpy(pca_dev.get_covariance())
    t_fa_cpu, fa = best(lambda: FactorAnalysis(k, random_state=0).fit(X),
                        lambda: None, reps_cpu)
    t_pca_cpu, pca = best(lambda: PCA(k).fit(X), lambda: None, reps_cpu)

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    common = dict(n_samples=n_used, n_features=d, n_components=k, dtype="float32",
                  scaled_down=n_used < n, xtx_float32_s=t_xtx32,
                  xtx_float64_s=t_xtx64)
    return dict(
        factor_analysis=dict(
            common, device_s=t_fa, numpy_all_cores_s=t_fa_cpu,
            speedup=t_fa_cpu / t_fa, fit_over_xtx_float32=t_fa / t_xtx32,
            solver=fa.solver_, n_iter=int(fa.n_iter_),
            covariance_rel_diff_vs_numpy=rel(C_fa, fa.get_covariance()),
            target_speedup=10.0,
        ),
        pca=dict(
            common, device_s=t_pca, sklearn_array_api_device_s=t_skpca,
            ours_over_sklearn=t_pca / t_skpca, numpy_all_cores_s=t_pca_cpu,
            speedup=t_pca_cpu / t_pca, fit_over_xtx_float32=t_pca / t_xtx32,
            covariance_rel_diff_vs_numpy=rel(C_pca, pca.get_covariance()),
            target_ours_over_sklearn=1.2,
        ),
    )


TODO_ROWS = {
    "dictionary_learning": "TODO: dictionary learning on digits on the device to "
    "MiniBatchDictionaryLearning's 40-epoch objective",
}
ROWS = ("rotate", "sparse_encode", "sklearn_pca", "factor_analysis", "pca")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", choices=["cuda", "cpu", "strict"],
                        default="cuda")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--out", default=None, help="results path")
    args = parser.parse_args(argv)
    rows = set(args.rows.split(","))
    if not rows <= set(ROWS):
        parser.error(f"--rows: unknown {sorted(rows - set(ROWS))}")
    found = find_device(args.device)
    if found[0] is None:
        print(f"bench_gpu: skipped, no GPU: {found[1]}.")
        return None
    xp, device, name, sync = found
    off_gpu = args.device != "cuda"
    n = 20_000 if args.quick or off_gpu else 200_000
    n_fa, d_fa, k_fa = FA_SHAPE
    if args.quick:
        n_fa, d_fa, k_fa = 5_000, 16, 3
    elif off_gpu:
        n_fa = 200_000
    out = dict(
        device=name, cpu_count=os.cpu_count(), load_average=os.getloadavg(),
        date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        repeats=args.repeats,
    )
    if "rotate" in rows:
        out["rotate"] = bench_rotate(xp, device, sync, args.repeats)
    if "sparse_encode" in rows:
        out["sparse_encode"] = bench_sparse(xp, device, sync, n, args.repeats)
    if "sklearn_pca" in rows:
        out["sklearn_pca"] = bench_sklearn_pca(xp, device, sync, n, args.repeats)
    if rows & {"factor_analysis", "pca"}:
        gauss = bench_gaussian(xp, device, sync, n_fa, d_fa, k_fa, args.repeats)
        out.update({key: gauss[key] for key in ("factor_analysis", "pca")
                    if key in rows})
    out.update(TODO_ROWS)
    suffix = ".cpu.tmp" if off_gpu else (".quick.tmp" if args.quick else ".json")
    path = (Path(args.out) if args.out
            else ROOT / "benchmarks" / "results" / f"gpu{suffix}")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"written to {path}")
    return out


if __name__ == "__main__":
    main()
