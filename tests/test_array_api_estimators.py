"""PCA, ProbabilisticPCA, FactorAnalysis and LinearAutoencoder on array-API input.

With ``array_api_dispatch=True`` every fitted array attribute and every output
equals the numpy path's on the same values (the numpy fit of the input rounded
to its dtype): 1e-10 relative in float64 and 1e-4 in float32, after aligning
the signs of the components with the numpy fit's. Attributes live in the
input's namespace and device; outputs also in its dtype. Missing-value EM and
``partial_fit`` are numpy only and say so.

array-api-strict computes with numpy's arithmetic, so there even the
iterative fits (EM, L-BFGS, rotations) follow numpy's path step by step.
PyTorch sums the scatter in another order (differences of 1e-16 relative):
the closed-form and Newton fits still agree to 1e-10, but a fit that stops by
a tolerance agrees only to the accuracy at which it stops (L-BFGS: weights to
about 1e-8, see ``_run_lbfgs``; EM and the rotation iterations to ~1e-9), so
those are compared at 1e-7 in float64 on PyTorch, and their iteration records
(``loss_curve_``) by the final value.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from _array_api_helpers import assert_lives, rtol_for, to_np, to_xp
from sklearn.base import clone

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    _array_api,
    _stats,
)
from latentmodels._stats import SufficientStats, stats_in_namespace

ESTIMATORS = {
    "pca": PCA(3),
    "pca_whiten": PCA(3, whiten=True),
    "pca_full": PCA(3, svd_solver="full"),  # the rows go to the host
    "pca_ratio": PCA(0.8),
    "ppca": ProbabilisticPCA(3),
    "ppca_em": ProbabilisticPCA(3, method="em", random_state=0),
    "fa": FactorAnalysis(3, random_state=0),
    "fa_em_oblimin": FactorAnalysis(3, solver="em", rotation="oblimin", random_state=0),
    "fa_varimax_bartlett": FactorAnalysis(
        3, rotation="varimax", scores="bartlett", random_state=0
    ),
    "ae": LinearAutoencoder(3, random_state=0),
    # weight decay large enough to separate the decoder's singular values
    # (1 − λ/s_i), so that principal_directions_ are well determined
    "ae_tied": LinearAutoencoder(3, tied=True, weight_decay=200.0, random_state=0),
    "ae_sampled": LinearAutoencoder(
        2, input_noise=0.1, noise_mode="sampled", n_epochs=2, random_state=0
    ),
}
# fits that stop by a tolerance (EM, L-BFGS, rotation iterations)
ITERATIVE = {"ppca_em", "fa_em_oblimin", "fa_varimax_bartlett", "ae", "ae_tied",
             "ae_sampled"}


def _data(n=200, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, k))
    noise = rng.uniform(0.3, 1.0, d)
    return rng.standard_normal((n, k)) @ W.T + noise * rng.standard_normal((n, d)) + 3


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _signs(est, ref):
    """±1 per component that aligns ``est``'s components with ``ref``'s."""
    C, R = to_np(est.components_), ref.components_
    s = np.sign(np.sum(C * R, axis=1))
    return np.where(s == 0, 1.0, s)


def _aligned(name, value, signs):
    """Attributes and outputs whose rows or columns follow the component signs."""
    if name in ("components_", "encoder_", "principal_directions_"):
        return value * signs[:, None]
    if name in ("decoder_", "transform"):
        return value * signs
    return value


def _outputs(est, X, gaussian):
    out = {"transform": est.transform(X)}
    out["inverse_transform"] = est.inverse_transform(out["transform"])
    if gaussian:
        out["score_samples"] = est.score_samples(X)
        out["get_covariance"] = est.get_covariance()
        out["get_precision"] = est.get_precision()
        out["sample"] = est.sample(5, random_state=0)
    return out


def _check_same_as_numpy(est, X_np, xp, device, dtype, iterative=True):
    """Fit on numpy and on ``xp``; compare every array attribute and output."""
    rtol = rtol_for(xp, dtype)
    numpy_arithmetic = xp.__name__ == "array_api_strict"
    if iterative and not numpy_arithmetic:
        rtol = max(rtol, 1e-7)
    Xa = to_xp(X_np, xp, device, dtype)
    Xn = to_np(Xa)  # the same values, in the input's dtype
    ref = clone(est).fit(Xn)
    gaussian = not isinstance(est, LinearAutoencoder)
    ref_out = _outputs(ref, Xn, gaussian)
    with sklearn.config_context(array_api_dispatch=True):
        fitted = clone(est).fit(Xa)
        out = _outputs(fitted, Xa, gaussian)
        score = fitted.score(Xa)
    signs = _signs(fitted, ref)
    attributes = [k for k, v in vars(ref).items() if isinstance(v, np.ndarray)]
    assert "mean_" in attributes
    for name in attributes:
        value = getattr(fitted, name)
        assert_lives(value, xp, device)  # float64 attributes, as numpy's
        got, want = _aligned(name, to_np(value), signs), getattr(ref, name)
        if want.dtype.kind in "iub":
            np.testing.assert_array_equal(got, want, err_msg=name)
        elif name == "loss_curve_" and not numpy_arithmetic:
            assert _rel(got[-1], want[-1]) <= rtol, name
        else:
            assert _rel(got, want) <= rtol, (name, _rel(got, want))
    for name, value in out.items():
        # outputs from the rows keep their dtype; model matrices and samples
        # are in the attributes' float64
        rows = name in ("transform", "inverse_transform", "score_samples")
        assert_lives(value, xp, device, dtype if rows else None)
        want = ref_out[name]
        assert _rel(_aligned(name, to_np(value), signs), want) <= rtol, (
            name,
            _rel(_aligned(name, to_np(value), signs), want),
        )
    assert isinstance(score, float)
    assert score == pytest.approx(ref.score(Xn), rel=rtol)
    return fitted


@pytest.mark.parametrize("key", sorted(ESTIMATORS))
def test_same_as_numpy(array_namespace, key):
    xp, device, dtype = array_namespace
    _check_same_as_numpy(
        ESTIMATORS[key], _data(), xp, device, dtype, iterative=key in ITERATIVE
    )


@pytest.mark.parametrize(
    "est",
    [
        PCA(3),
        ProbabilisticPCA(3),
        FactorAnalysis(2, random_state=0),
        LinearAutoencoder(2, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_wide_data_on_the_host_same_as_numpy(array_namespace, est):
    """n < d: the Gram/row routes run on the host, results still come back."""
    xp, device, dtype = array_namespace
    _check_same_as_numpy(est, _data(n=12, d=20), xp, device, dtype)


def test_blocks_of_rows(array_namespace, monkeypatch):
    """The device pass and the row-wise outputs by many blocks of rows."""
    xp, device, dtype = array_namespace
    monkeypatch.setattr(_stats, "_DEVICE_BLOCK_BYTES", 8 * 8 * 16)  # 16 rows
    monkeypatch.setattr(_array_api, "_ROW_BLOCK_BYTES", 8 * 8 * 7)  # 7 rows
    est = FactorAnalysis(3, rotation="oblimin", random_state=0)
    _check_same_as_numpy(est, _data(), xp, device, dtype)


@pytest.mark.parametrize("trend", [False, True])
def test_device_statistics_equal_numpy(array_namespace, monkeypatch, trend):
    """``(n, mean, scatter)`` from the device pass equal numpy's float64 ones;
    with a trend the first block's mean is far from the mean and the second
    pass from the corrected shift runs (as in ``from_array``)."""
    xp, device, dtype = array_namespace
    monkeypatch.setattr(_stats, "_DEVICE_BLOCK_BYTES", 8 * 8 * 16)
    X = _data() + (np.linspace(0, 50, 200)[:, None] if trend else 0)
    Xa = to_xp(X, xp, device, dtype)
    ref = SufficientStats.from_array(to_np(Xa))
    got = stats_in_namespace(Xa, xp, device)
    assert got.n == ref.n
    assert isinstance(got.scatter, np.ndarray) and got.scatter.dtype == np.float64
    assert _rel(got.mean, ref.mean) <= 1e-12
    assert _rel(got.scatter, ref.scatter) <= 1e-12
    np.testing.assert_array_equal(got.scatter, got.scatter.T)


def test_tags():
    for est in ESTIMATORS.values():
        tags = est.__sklearn_tags__()
        assert tags.array_api_support
        assert "float32" in tags.transformer_tags.preserves_dtype


# --- numpy only, with errors that say what to do ----------------------------------
@pytest.mark.parametrize(
    "est",
    [ProbabilisticPCA(2, missing_values="em"), FactorAnalysis(2, missing_values="em")],
    ids=lambda e: type(e).__name__,
)
def test_missing_value_em_is_numpy_only(array_namespace, est):
    xp, device, dtype = array_namespace
    X = _data()
    X[3, 1] = np.nan
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match="numpy arrays only.*X.cpu\\(\\).numpy"):
            clone(est).fit(to_xp(X, xp, device, dtype))
        # complete data with missing_values='em' take the device path
        fitted = clone(est).fit(to_xp(_data(), xp, device, dtype))
    assert_lives(fitted.components_, xp, device)


@pytest.mark.parametrize("est", [ProbabilisticPCA(2), FactorAnalysis(2)], ids=type)
def test_partial_fit_is_numpy_only(array_namespace, est):
    xp, device, dtype = array_namespace
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match="partial_fit runs on numpy arrays only"):
            clone(est).partial_fit(to_xp(_data(), xp, device, dtype))


@pytest.mark.parametrize("value, what", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_entries_name_the_row(array_namespace, value, what):
    xp, device, dtype = array_namespace
    X = _data()
    X[17, 2] = value
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=rf"{what} in 1 row \(first: row 17\)"):
            FactorAnalysis(2).fit(to_xp(X, xp, device, dtype))
        fitted = PCA(2).fit(to_xp(_data(), xp, device, dtype))
        with pytest.raises(ValueError, match=rf"{what} in 1 row \(first: row 17\)"):
            fitted.transform(to_xp(X, xp, device, dtype))


def test_other_namespace_at_transform_is_refused(array_namespace):
    xp, device, dtype = array_namespace
    X = _data()
    with sklearn.config_context(array_api_dispatch=True):
        fitted = PCA(2).fit(to_xp(X, xp, device, dtype))
        with pytest.raises(ValueError, match="must use the same namespace"):
            fitted.transform(X)


def test_dispatch_off_is_the_numpy_path():
    xps = pytest.importorskip("array_api_strict")
    X = _data()
    for est in ESTIMATORS.values():
        a = clone(est).fit(xps.asarray(X))  # CPU device: np.asarray converts it
        b = clone(est).fit(X)
        assert isinstance(a.components_, np.ndarray)
        np.testing.assert_array_equal(a.components_, b.components_)


def test_bench_gpu_quick_runs(tmp_path):
    """benchmarks/bench_gpu.py --quick on the CPU (PyTorch, else array-api-strict):
    the FA and PCA rows run and their device fits equal the numpy fits."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    try:
        import torch  # noqa: F401

        device = "cpu"
    except ImportError:
        pytest.importorskip("array_api_strict")
        device = "strict"
    out_path = tmp_path / "gpu.json"
    out = bench.main(["--quick", "--device", device, "--rows", "factor_analysis,pca",
                      "--repeats", "1", "--out", str(out_path)])
    assert out_path.exists()
    for row in ("factor_analysis", "pca"):
        assert out[row]["device_s"] > 0 and out[row]["numpy_all_cores_s"] > 0
        assert out[row]["covariance_rel_diff_vs_numpy"] <= 1e-10
    assert out["pca"]["sklearn_array_api_device_s"] > 0


def test_on_host_runs_numpy_code_on_a_device_fit(array_namespace):
    """``on_host``: a numpy-only method sees numpy attributes equal to the
    device ones, and the estimator itself keeps its device attributes."""
    xp, device, dtype = array_namespace

    def loadings_norm(model):  # numpy code
        return float(np.linalg.norm(np.asarray(model.components_)))

    wrapped = _array_api.on_host(loadings_norm)
    Xa = to_xp(_data(), xp, device, dtype)
    with sklearn.config_context(array_api_dispatch=True):
        fitted = FactorAnalysis(2, random_state=0).fit(Xa)
    ref = FactorAnalysis(2, random_state=0).fit(to_np(Xa))
    assert wrapped(fitted) == pytest.approx(loadings_norm(ref), rel=rtol_for(xp, dtype))
    assert_lives(fitted.components_, xp, device)


def test_impute_on_the_host_returns_device_arrays(array_namespace):
    xp, device, dtype = array_namespace
    X = _data()
    Xa = to_xp(X, xp, device, dtype)
    Xm = to_np(Xa).copy()
    Xm[[3, 8], [1, 4]] = np.nan
    ref = ProbabilisticPCA(2).fit(to_np(Xa))
    with sklearn.config_context(array_api_dispatch=True):
        fitted = ProbabilisticPCA(2).fit(Xa)
        filled = fitted.impute(to_xp(Xm, xp, device, dtype))
    assert_lives(filled, xp, device, dtype)
    assert _rel(to_np(filled), ref.impute(Xm)) <= rtol_for(xp, dtype)


def test_assessment_of_a_device_fit_runs_on_the_host(array_namespace):
    """Goodness of fit, standard errors, identification, summary and the
    bootstrap of a device fit equal those of the numpy fit; factor scores by
    every method come back on the device."""
    xp, device, dtype = array_namespace
    Xa = to_xp(_data(), xp, device, dtype)
    Xn = to_np(Xa)
    ref = FactorAnalysis(2, rotation="varimax", random_state=0).fit(Xn)
    with sklearn.config_context(array_api_dispatch=True):
        fitted = FactorAnalysis(2, rotation="varimax", random_state=0).fit(Xa)
        gof, ref_gof = fitted.goodness_of_fit(), ref.goodness_of_fit()
        se = fitted.standard_errors()
        summary = fitted.summary(standard_errors=True)
        boot = fitted.bootstrap_loadings(Xa, n_boot=3, random_state=0)
        scores = {m: fitted.factor_scores(Xa, m) for m in ("bartlett", "ten_berge")}
    rtol = rtol_for(xp, dtype)
    assert gof.statistic == pytest.approx(ref_gof.statistic, rel=max(rtol, 1e-8))
    assert _rel(se.components, ref.standard_errors().components) <= rtol
    ref_summary = ref.summary(standard_errors=True).to_numpy(dtype=float)
    got_summary = summary.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(got_summary), np.isnan(ref_summary))
    filled = ~np.isnan(ref_summary)
    assert _rel(got_summary[filled], ref_summary[filled]) <= rtol
    ref_boot = ref.bootstrap_loadings(Xn, n_boot=3, random_state=0)
    assert _rel(boot.standard_errors, ref_boot.standard_errors) <= rtol
    fitted.identification()
    for method, H in scores.items():
        assert_lives(H, xp, device, dtype)
        assert _rel(to_np(H), ref.factor_scores(Xn, method)) <= rtol


def test_compare_with_pca_of_a_device_fit(array_namespace):
    xp, device, dtype = array_namespace
    Xa = to_xp(_data(), xp, device, dtype)
    ref = LinearAutoencoder(2, random_state=0).fit(to_np(Xa))
    with sklearn.config_context(array_api_dispatch=True):
        got = LinearAutoencoder(2, random_state=0).fit(Xa).compare_with_pca(Xa)
    want = ref.compare_with_pca(to_np(Xa))
    # the angle and errors are at rounding level: compare absolutely
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_input_not_modified(array_namespace):
    xp, device, dtype = array_namespace
    Xa = to_xp(_data(), xp, device, dtype)
    before = to_np(Xa).copy()
    with sklearn.config_context(array_api_dispatch=True):
        for est in ESTIMATORS.values():
            fitted = clone(est).fit(Xa)
            fitted.inverse_transform(fitted.transform(Xa))
    np.testing.assert_array_equal(to_np(Xa), before)
