"""rotate and the identifiability measures on array-API arrays.

Every result equals the numpy result on the same values (1e-10 relative in
float64, 1e-4 in float32) and lives in the input's namespace, device and
dtype; with dispatch off the numpy path is untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from _array_api_helpers import assert_lives, rtol_for, to_np, to_xp

from latentmodels import identifiability as ident
from latentmodels.rotations import rotate


def _loadings(seed=0, d=12, k=3):
    rng = np.random.default_rng(seed)
    L = np.zeros((d, k))
    for j in range(k):
        L[j * d // k:(j + 1) * d // k, j] = 0.7
    return L + 0.2 * rng.standard_normal((d, k))


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("method", ["varimax", "oblimin", "promax", "geomin_q"])
def test_rotate_matches_numpy(array_namespace, method):
    xp, device, dtype = array_namespace
    L = _loadings()
    La = to_xp(L, xp, device, dtype)
    ref = rotate(to_np(La), method)  # numpy on the same (possibly float32) values
    with sklearn.config_context(array_api_dispatch=True):
        res = rotate(La, method)
    for name in ("loadings", "rotation", "phi"):
        out = getattr(res, name)
        assert_lives(out, xp, device, dtype)
        assert _rel(to_np(out), getattr(ref, name)) <= rtol_for(xp, dtype), name
    if ref.criterion is None:  # promax minimises nothing
        assert res.criterion is None
    else:
        assert res.criterion == pytest.approx(ref.criterion, rel=1e-10, abs=0)
    assert res.n_iter == ref.n_iter and res.converged


def test_rotate_target_and_sort_on_device(array_namespace):
    xp, device, dtype = array_namespace
    L = _loadings(1)
    B = np.where(np.abs(L) > 0.4, L, np.nan)
    La, Ba = to_xp(L, xp, device, dtype), to_xp(B, xp, device, dtype)
    ref = rotate(to_np(La), "partial_target_q", target=to_np(Ba), sort=True)
    with sklearn.config_context(array_api_dispatch=True):
        res = rotate(La, "partial_target_q", target=Ba, sort=True)
    assert_lives(res.loadings, xp, device, dtype)
    assert _rel(to_np(res.loadings), ref.loadings) <= rtol_for(xp, dtype)


def test_dispatch_off_stays_numpy():
    xps = pytest.importorskip("array_api_strict")
    L = _loadings()
    La = xps.asarray(L)  # CPU device: convertible by np.asarray
    res = rotate(La, "varimax")
    assert isinstance(res.loadings, np.ndarray)
    np.testing.assert_array_equal(res.loadings, rotate(L, "varimax").loadings)
    assert isinstance(ident.principal_angles(La, La), np.ndarray)


def _components(seed=0, k=3, d=10):
    rng = np.random.default_rng(seed)
    T = rng.standard_normal((k, d))
    E = T[[2, 0, 1]] * np.array([[1.0], [-2.0], [0.5]]) + 0.05 * rng.standard_normal(
        (k, d)
    )
    return T, E


def test_measures_match_numpy(array_namespace):
    xp, device, dtype = array_namespace
    T, E = (to_xp(a, xp, device, dtype) for a in _components())
    Tn, En = to_np(T), to_np(E)
    tol = rtol_for(xp, dtype)
    with sklearn.config_context(array_api_dispatch=True):
        angles = ident.principal_angles(T, E)
        pro = ident.procrustes_alignment(T, E)
        phi = ident.congruence_matrix(T, E)
        cong = ident.matched_congruence(T, E)
        amari = ident.amari_distance(T, E)
        report = ident.recovery_report(T, E)
        max_angle = ident.max_principal_angle(T, E)
    assert_lives(angles, xp, device, dtype)
    assert _rel(to_np(angles), ident.principal_angles(Tn, En)) <= tol
    ref = ident.procrustes_alignment(Tn, En)
    for name in ("rotation", "aligned_components"):
        assert_lives(getattr(pro, name), xp, device, dtype)
        assert _rel(to_np(getattr(pro, name)), getattr(ref, name)) <= tol
    assert pro.residual == pytest.approx(ref.residual, rel=1e-10)
    assert_lives(phi, xp, device, dtype)
    assert _rel(to_np(phi), ident.congruence_matrix(Tn, En)) <= tol
    ref = ident.matched_congruence(Tn, En)
    np.testing.assert_array_equal(to_np(cong.permutation), ref.permutation)
    assert_lives(cong.permutation, xp, device)
    assert _rel(to_np(cong.congruences), ref.congruences) <= tol
    assert amari == pytest.approx(ident.amari_distance(Tn, En), rel=1e-10)
    assert isinstance(amari, float) and isinstance(max_angle, float)
    assert_lives(report.principal_angles, xp, device, dtype)
    got, want = report.as_dict(), ident.recovery_report(Tn, En).as_dict()
    assert got.keys() == want.keys()
    for key in want:
        assert np.allclose(got[key], want[key], rtol=tol, atol=0), key


def test_scipy_array_api_is_on_for_the_test_run():
    """tests/conftest.py set SCIPY_ARRAY_API=1 before scipy was imported."""
    from scipy._lib import _array_api as scipy_array_api

    assert scipy_array_api.SCIPY_ARRAY_API  # read by scipy at its import
    with sklearn.config_context(array_api_dispatch=True):  # refused otherwise
        assert sklearn.get_config()["array_api_dispatch"]
