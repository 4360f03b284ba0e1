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
  gap ≤ 1e-6 for *every* row: the public ``sparse_encode`` on float64 device
  arrays with dispatch on (device solver, residual certificate on the
  device, host feature-sign fallback of the uncertified rows; their number
  is reported); vs ``sparse_encode(..., n_jobs=-1)`` on numpy. The worst gap
  of both is recomputed in float64 from the residual.
* ``dictionary_learning``: digits (centred, /16), 64 atoms, α = 0.1: batch
  ``SparseCoding`` on the device for the dictionary updates that reach the
  exact objective of scikit-learn's ``MiniBatchDictionaryLearning`` after 40
  epochs, vs the same fit on numpy (all cores) and vs scikit-learn's fit.
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
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy is imported

import sklearn  # noqa: E402
from bench_sparse_encode import ALPHA, TOL, synthetic  # noqa: E402
from sklearn.decomposition import PCA as SkPCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from latentmodels import PCA, FactorAnalysis  # noqa: E402
from latentmodels._array_api import as_numpy  # noqa: E402
from latentmodels.rotations import rotate  # noqa: E402
from latentmodels.sparse import relative_gap, sparse_encode  # noqa: E402


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


# ------------------------------------------------------------- sparse coding
def bench_sparse(xp, device, sync, n, repeats):
    """``sparse_encode`` on the device (dispatch on) vs our numpy path, all cores.

    The device side is the public call: Gram products, the device solver,
    the residual certificate on the device and the host fallback of the rows
    left uncertified. The worst relative gap of both sides is recomputed in
    float64 from the residual on the host.
    """
    import re

    from latentmodels._array_api import as_numpy, namespace_of
    from latentmodels.sparse._device import FLOAT32_TOL
    from latentmodels.sparse._encode_device import encode_device

    rng = np.random.default_rng(0)
    X, D = synthetic(n, rng)
    Xd, Dd = xp.asarray(X, device=device), xp.asarray(D, device=device)
    with sklearn.config_context(array_api_dispatch=True):
        # untimed: the warm-up, and the account of where each row was finished
        res = encode_device(Xd, Dd, ALPHA, ns=namespace_of(Xd), tol=TOL)
        t_dev, Hd = best(lambda: sparse_encode(Xd, Dd, ALPHA, tol=TOL), sync,
                         repeats)
    found = re.search(r"(\d+) finished on the host", res.message)
    t_cpu, Hc = best(lambda: sparse_encode(X, D, ALPHA, tol=TOL, n_jobs=-1),
                     lambda: None, repeats)
    H = as_numpy(Hd)
    # float32 on the device, certified at the float32 floor (not the target)
    X32, D32 = (xp.astype(a, xp.float32) for a in (Xd, Dd))
    with sklearn.config_context(array_api_dispatch=True):
        res32 = encode_device(X32, D32, ALPHA, ns=namespace_of(X32),
                              tol=FLOAT32_TOL)
        t32, _ = best(lambda: sparse_encode(X32, D32, ALPHA, tol=FLOAT32_TOL),
                      sync, repeats)
    float32 = dict(device_s=t32, speedup_vs_numpy_float64=t_cpu / t32,
                   tol=FLOAT32_TOL, device_message=res32.message)
    return dict(
        n_samples=n, n_features=D.shape[1], n_components=D.shape[0], alpha=ALPHA,
        tol=TOL, device_s=t_dev, numpy_all_cores_s=t_cpu, speedup=t_cpu / t_dev,
        device_us_per_signal=1e6 * t_dev / n,
        rows_finished_on_host=int(found.group(1)) if found else None,
        device_message=res.message,
        worst_relative_gap_device=float(relative_gap(X, D, H, ALPHA).max()),
        worst_relative_gap_numpy=float(relative_gap(X, D, Hc, ALPHA).max()),
        max_abs_code_diff=float(np.max(np.abs(H - Hc))), target_speedup=5.0,
        float32=float32,
    )


def bench_dictionary(xp, device, sync, repeats, quick=False, n_samples=None):
    """Dictionary learning on digits to ``MiniBatchDictionaryLearning``'s objective.

    The problem of ``bench_dictionary_learning.py`` (digits centred, /16, 64
    atoms, α = 0.1): scikit-learn's ``MiniBatchDictionaryLearning`` for 40
    epochs (5 with ``quick``) sets the target, the exact objective of its
    dictionary. Batch ``SparseCoding`` runs the number of dictionary updates
    whose objective reaches it (found once on numpy), timed on the device
    (dispatch on: inference on the device, dictionary step on the host
    statistics) and with our numpy path on all cores; the exact objective
    of the device's dictionary is checked on the host. The time of the
    dictionary step (on the host) inside the device fit is reported.
    """
    from bench_dictionary_learning import ALPHA as DL_ALPHA
    from bench_dictionary_learning import N_COMPONENTS as DL_K
    from bench_dictionary_learning import exact_objective
    from sklearn.datasets import load_digits
    from sklearn.decomposition import MiniBatchDictionaryLearning

    import latentmodels._sparse_coding as sparse_coding
    from latentmodels import SparseCoding
    from latentmodels._array_api import as_numpy

    X = load_digits().data[:n_samples]
    X = (X - X.mean(axis=0)) / 16.0
    epochs = 5 if quick else 40

    def sklearn_fit():
        return MiniBatchDictionaryLearning(
            n_components=DL_K, alpha=DL_ALPHA, fit_algorithm="cd",
            transform_algorithm="lasso_cd", max_iter=epochs, batch_size=256,
            tol=0.0, max_no_improvement=None, random_state=0,
        ).fit(X)

    def ours(max_iter):
        return SparseCoding(DL_K, alpha=DL_ALPHA, max_iter=max_iter, tol=0.0,
                            random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t_sk, sk = best(sklearn_fit, lambda: None, 1)  # 2 fits: seconds each
        target = exact_objective(X, sk.components_)
        probe = ours(60).fit(X)
        reached = np.flatnonzero(probe.objective_ <= target)
        n_updates = max(int(reached[0]) if reached.size else probe.n_iter_, 1)
        t_cpu, model = best(lambda: ours(n_updates).fit(X), lambda: None, repeats)
        Xd = xp.asarray(X, device=device)
        with sklearn.config_context(array_api_dispatch=True):
            t_dev, dev = best(lambda: ours(n_updates).fit(Xd), sync, repeats)
            # the host share: block coordinate descent on the k×k, k×d
            # statistics, timed inside one more device fit
            spent = []
            update = sparse_coding.update_dictionary

            def timed_update(*args, **kwargs):
                t0 = time.perf_counter()
                out = update(*args, **kwargs)
                spent.append(time.perf_counter() - t0)
                return out

            sparse_coding.update_dictionary = timed_update
            try:
                ours(n_updates).fit(Xd)
            finally:
                sparse_coding.update_dictionary = update
    return dict(
        data="load_digits, centred, /16", n_samples=int(X.shape[0]),
        n_components=DL_K, alpha=DL_ALPHA, sklearn_epochs=epochs,
        sklearn_s=t_sk, sklearn_objective_exact=target,
        dictionary_updates=n_updates, numpy_all_cores_s=t_cpu,
        numpy_objective_exact=exact_objective(X, model.components_),
        device_s=t_dev, host_dictionary_step_s=float(sum(spent)),
        device_objective_exact=exact_objective(X, as_numpy(dev.components_)),
        speedup_vs_numpy=t_cpu / t_dev, speedup_vs_sklearn=t_sk / t_dev,
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


ROWS = ("rotate", "sparse_encode", "dictionary_learning", "sklearn_pca",
        "factor_analysis", "pca")


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
    n = 2_000 if args.quick else (20_000 if off_gpu else 200_000)
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
    if "dictionary_learning" in rows:
        out["dictionary_learning"] = bench_dictionary(
            xp, device, sync, args.repeats, quick=args.quick or off_gpu,
            n_samples=300 if args.quick else None,
        )
    if "sklearn_pca" in rows:
        out["sklearn_pca"] = bench_sklearn_pca(xp, device, sync, n, args.repeats)
    if rows & {"factor_analysis", "pca"}:
        gauss = bench_gaussian(xp, device, sync, n_fa, d_fa, k_fa, args.repeats)
        out.update({key: gauss[key] for key in ("factor_analysis", "pca")
                    if key in rows})
    suffix = ".cpu.tmp" if off_gpu else (".quick.tmp" if args.quick else ".json")
    path = (Path(args.out) if args.out
            else ROOT / "benchmarks" / "results" / f"gpu{suffix}")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"written to {path}")
    return out


if __name__ == "__main__":
    main()
