"""sparse_encode and SparseCoding on array-API arrays (dispatch on).

References: the numpy path on the same values (feature-sign search at a
tight gap: the lasso solution is unique in general position), the relative
duality gap recomputed on the host from the residual
(``latentmodels.sparse.relative_gap``), independent of the device's
bookkeeping. Tolerances: 1e-10 relative in float64, 1e-4 in float32.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
from _array_api_helpers import assert_lives, lasso_problem, rtol_for, to_np, to_xp
from _helpers import assert_monotone

import latentmodels.sparse._encode_device as encode_device_module
from latentmodels.sparse import (
    SOLVER_NAMES,
    lasso_objective,
    relative_gap,
    sparse_encode,
)
from latentmodels.sparse._device import FLOAT32_TOL

ALPHA = 0.1


def _problem(seed=0, n=120, positive=False):
    return lasso_problem(seed, n, 24, 48, positive=positive, active=4, zero_rows=2)


def _on(xp, device, dtype, *arrays):
    """The arrays on the device, and the float64 values the device holds."""
    dev = [to_xp(a, xp, device, dtype) for a in arrays]
    return dev, [to_np(a).astype(np.float64) for a in dev]


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _encode(*args, **kwargs):
    with sklearn.config_context(array_api_dispatch=True):
        return sparse_encode(*args, **kwargs)


@pytest.mark.parametrize("positive", [False, True])
def test_sparse_encode_equals_numpy(array_namespace, positive):
    xp, device, dtype = array_namespace
    (Xd, Dd), (X, D) = _on(xp, device, dtype, *_problem(positive=positive))
    f64 = dtype == xp.float64
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", positive=positive,
                        tol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the float32 floor
        H = _encode(Xd, Dd, ALPHA, positive=positive, tol=1e-12 if f64 else 1e-6)
    assert_lives(H, xp, device, dtype)
    Hn = to_np(H).astype(np.float64)
    assert _rel(Hn, ref) <= rtol_for(xp, dtype)
    np.testing.assert_array_equal(Hn[:2], 0.0)
    if positive:
        assert Hn.min() >= 0
    # the objectives agree too (optimal value: unique even where codes are not)
    P, Pref = lasso_objective(X, D, Hn, ALPHA), lasso_objective(X, D, ref, ALPHA)
    np.testing.assert_allclose(P, Pref, rtol=1e-12 if f64 else 1e-5)
    # every row certified, recomputed in float64 from the residual; float32
    # codes carry a float32 certificate (docs: a few times the floor at most)
    gaps = relative_gap(X, D, Hn, ALPHA, positive)
    assert gaps.max() <= (1e-12 if f64 else 4 * FLOAT32_TOL)


def test_default_tol_every_row_certified_float64(array_namespace):
    xp, device, dtype = array_namespace
    if dtype != xp.float64:
        pytest.skip("float64: the default tol=1e-6 itself")
    (Xd, Dd), (X, D) = _on(xp, device, dtype, *_problem(1))
    H = to_np(_encode(Xd, Dd, ALPHA))
    assert relative_gap(X, D, H, ALPHA).max() <= 1e-6
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-13)
    P, Pref = lasso_objective(X, D, H, ALPHA), lasso_objective(X, D, ref, ALPHA)
    assert np.all(P - Pref <= 1e-6 * P)  # P − P* ≤ gap ≤ tol·P


def test_uncertified_rows_fall_back_to_the_host(monkeypatch):
    """A 2-iteration device budget: the other rows are finished on the host."""
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    X, D = _problem(2, n=80)
    X[2:] = np.random.default_rng(2).standard_normal((78, D.shape[1]))  # dense
    calls = []
    host_encode = encode_device_module.encode

    def spy(Xh, *args, **kwargs):
        calls.append((Xh.shape[0], kwargs["solver"], kwargs["init"] is not None))
        return host_encode(Xh, *args, **kwargs)

    monkeypatch.setattr(encode_device_module, "encode", spy)
    (Xd, Dd), _ = _on(xps, device, xps.float64, X, D)
    H = _encode(Xd, Dd, ALPHA, max_iter=2)
    assert_lives(H, xps, device, xps.float64)
    assert len(calls) == 1
    n_host, solver, warm = calls[0]
    assert 0 < n_host < X.shape[0] and solver == "feature_sign" and warm
    Hn = to_np(H)
    assert relative_gap(X, D, Hn, ALPHA).max() <= 1e-6
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-13)
    P, Pref = lasso_objective(X, D, Hn, ALPHA), lasso_objective(X, D, ref, ALPHA)
    assert np.all(P - Pref <= 1e-6 * P)
    # the device's own account: the rows it kept were certified there
    res = encode_device_module.encode_device(
        Xd, Dd, ALPHA, ns=_ns(Xd), max_iter=2)
    assert f"{X.shape[0] - n_host} on the device, {n_host} finished on the host" \
        in res.message
    assert bool(xps.all(res.converged))


def _ns(X):
    from latentmodels._array_api import namespace_of

    with sklearn.config_context(array_api_dispatch=True):
        return namespace_of(X)


def test_host_solver_by_name_and_warm_start(array_namespace):
    """A named CPU solver runs on the host on the device's values; init works."""
    xp, device, dtype = array_namespace
    X, D = _problem(3, n=40)
    init = sparse_encode(X, D, 0.2, solver="cd")
    (Xd, Dd, Id), (Xn, Dn, In) = _on(xp, device, dtype, X, D, init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Hc = _encode(Xd, Dd, ALPHA, solver="cd", init=Id)
        Hw = _encode(Xd, Dd, ALPHA, init=Id, tol=1e-12)
    tol = 1e-6 if dtype == xp.float64 else FLOAT32_TOL
    ref = sparse_encode(Xn, Dn, ALPHA, solver="cd", init=In, tol=tol)
    assert_lives(Hc, xp, device, dtype)
    assert _rel(to_np(Hc), ref) <= rtol_for(xp, dtype)
    assert_lives(Hw, xp, device, dtype)
    exact = sparse_encode(Xn, Dn, ALPHA, solver="feature_sign", tol=1e-13)
    assert _rel(to_np(Hw), exact) <= rtol_for(xp, dtype)


def test_float32_tol_floor_warns_once_and_says_what_to_do():
    xps = pytest.importorskip("array_api_strict")
    (Xd, Dd), _ = _on(xps, xps.Device("device1"), xps.float32, *_problem(4, n=30))
    with pytest.warns(UserWarning, match="raised to 7.6e-06. Pass float64") as rec:
        _encode(Xd, Dd, ALPHA)
    assert len([w for w in rec if "float32" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _encode(Xd, Dd, ALPHA, tol=1e-5)  # at or above the floor: silent


def test_numpy_dictionary_is_moved_and_foreign_device_refused():
    xps = pytest.importorskip("array_api_strict")
    X, D = _problem(5, n=30)
    Xd = xps.asarray(X, device=xps.Device("device1"))
    H = _encode(Xd, D, ALPHA, tol=1e-12)  # numpy dictionary: moved to X's device
    assert_lives(H, xps, xps.Device("device1"), xps.float64)
    ref = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-13)
    assert _rel(to_np(H), ref) <= 1e-10
    Dc = xps.asarray(D, device=xps.Device("CPU_DEVICE"))
    with pytest.raises(ValueError, match="move dictionary to X's namespace"):
        _encode(Xd, Dc, ALPHA)
    bad = xps.asarray(np.where(np.arange(30)[:, None] == 4, np.nan, X),
                      device=xps.Device("device1"))
    with pytest.raises(ValueError, match="NaN"):
        _encode(bad, D, ALPHA)


def test_dispatch_off_is_the_numpy_path():
    xps = pytest.importorskip("array_api_strict")
    X, D = _problem(6, n=30)
    H = sparse_encode(xps.asarray(X), xps.asarray(D), ALPHA)  # converted by numpy
    assert isinstance(H, np.ndarray)
    np.testing.assert_array_equal(H, sparse_encode(X, D, ALPHA))


def test_registered_solver_on_numpy_with_fallback():
    """'fista_active_set' is a solver of the table, on numpy input too."""
    assert "fista_active_set" in SOLVER_NAMES
    X, D = _problem(7, n=60)
    exact = sparse_encode(X, D, ALPHA, solver="feature_sign", tol=1e-13)
    H = sparse_encode(X, D, ALPHA, solver="fista_active_set", tol=1e-12)
    assert _rel(H, exact) <= 1e-10
    H2 = sparse_encode(X, D, ALPHA, solver="fista_active_set", max_iter=1)
    assert relative_gap(X, D, H2, ALPHA).max() <= 1e-6  # finished by the fallback


# ----------------------------------------------------------------- SparseCoding
def _digits(n=150):
    from sklearn.datasets import load_digits

    return load_digits().data[:n] / 16.0


@pytest.mark.parametrize(
    "options",
    [
        dict(max_iter=4),
        dict(fit_algorithm="online", max_iter=2, batch_size=50),
        dict(max_iter=3, positive_code=True, positive_dict=True),
    ],
    ids=["batch", "online", "positive"],
)
def test_sparse_coding_equals_numpy(array_namespace, options):
    """Same random_state: the device fit is the numpy fit, to rounding."""
    from latentmodels import SparseCoding

    xp, device, dtype = array_namespace
    (Xd,), (X,) = _on(xp, device, dtype, _digits())
    model = SparseCoding(8, alpha=0.2, random_state=0, **options)
    dev = SparseCoding(8, alpha=0.2, random_state=0, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter; the float32 floor
        H = model.fit_transform(X)
        with sklearn.config_context(array_api_dispatch=True):
            Hd = dev.fit_transform(Xd)
            Ht = dev.transform(Xd)
            Xr = dev.inverse_transform(Ht)
    tol = rtol_for(xp, dtype)
    # fitted arrays: on the device, float64 as the numpy fit's
    for name in ("components_", "objective_", "stats_A_", "stats_B_"):
        got = getattr(dev, name)
        assert_lives(got, xp, device, xp.float64)
        assert _rel(to_np(got), getattr(model, name)) <= tol, name
    # outputs: in X's namespace, device and dtype
    for out in (Hd, Ht, Xr):
        assert_lives(out, xp, device, dtype)
    assert _rel(to_np(Hd), H) <= tol and _rel(to_np(Ht), H) <= tol
    assert _rel(to_np(Xr), model.inverse_transform(H)) <= tol
    assert dev.n_iter_ == model.n_iter_
    assert dev.noise_variance_ == pytest.approx(model.noise_variance_, rel=tol)
    if options.get("fit_algorithm", "batch") == "batch":
        assert_monotone(to_np(dev.objective_), increasing=False)


def test_sparse_coding_encoder_and_errors_on_device():
    from latentmodels import SparseCoding

    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    X = _digits(80)
    Xd = xps.asarray(X, device=device)
    model = SparseCoding(6, alpha=0.2, max_iter=2, encoder="linear",
                         encoder_max_iter=10, random_state=0)
    dev = SparseCoding(6, alpha=0.2, max_iter=2, encoder="linear",
                       encoder_max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
        with sklearn.config_context(array_api_dispatch=True):
            dev.fit(Xd)
            P = dev.encode_parametric(Xd)
    assert_lives(P, xps, device, xps.float64)
    assert _rel(to_np(P), model.encode_parametric(X)) <= 1e-8  # L-BFGS on host
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match="fit_algorithm='online'"):
            SparseCoding(6).partial_fit(Xd)
        with pytest.raises(TypeError, match="model was fitted on array-API"):
            dev.partial_fit(X)  # a model fitted on the device
        with pytest.raises(ValueError, match="same namespace"):
            dev.transform(X)


def test_sparse_coding_numpy_float32_in_float32_out():
    from latentmodels import SparseCoding

    X = _digits(60)
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SparseCoding(5, alpha=0.2, max_iter=2, random_state=0).fit(X32)
    H = model.transform(X32)
    assert H.dtype == np.float32 and model.components_.dtype == np.float64
    ref = model.transform(X32.astype(np.float64))  # the same float64 computation
    np.testing.assert_array_equal(H, ref.astype(np.float32))
    assert model.inverse_transform(H).dtype == np.float32


def test_float32_rows_refined_in_float64_on_the_device(monkeypatch):
    """Dense float32 codes failing the float32 certificate are re-solved in
    float64 on the device (not on the host) and then pass it."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(8)
    D = rng.standard_normal((128, 32))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((300, 32))  # ~30 active atoms of 32 dimensions
    (Xd, Dd), (Xn, Dn) = _on(xps, xps.Device("device1"), xps.float32, X, D)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = encode_device_module.encode_device(Xd, Dd, ALPHA, ns=_ns(Xd))
    assert "re-solved in float64 on the device" in res.message, res.message
    assert bool(xps.all(res.converged)) and res.tol == FLOAT32_TOL
    assert_lives(res.codes, xps, xps.Device("device1"), xps.float32)
    # the float32 certificate, recomputed on the host in float32 arithmetic
    H32 = to_np(res.codes)
    gaps32 = relative_gap(Xn.astype(np.float32), Dn.astype(np.float32), H32, ALPHA)
    assert gaps32.max() <= 1.01 * FLOAT32_TOL
    # ill-conditioned active sets: the codes are not determined to 1e-4 by a
    # float32 certificate, the objective is (P − P* ≤ gap, float64 rounding)
    exact = sparse_encode(Xn, Dn, ALPHA, solver="feature_sign", tol=1e-13)
    P = lasso_objective(Xn, Dn, H32.astype(np.float64), ALPHA)
    Pref = lasso_objective(Xn, Dn, exact, ALPHA)
    assert np.all(P - Pref <= 2 * FLOAT32_TOL * P)
