"""Further rotations: Crawford–Ferguson family, parsimax, biquartimax, oblimax,
full and partially specified targets (issue 16).

References: statsmodels' ``rotate_factors`` computed in the test when
installed, R GPArotation (``cfT``, ``cfQ``, ``oblimax``, ``targetT``,
``targetQ``, ``pstT``, ``pstQ``) run by ``Rscript`` when installed, and the
criteria written out as explicit sums.
"""

import itertools
import warnings

import numpy as np
import pytest
from _rotation_helpers import _maxdiff, _random_unit_columns, _simple_structure
from _rscript import run_r

from latentmodels import rotations as rot
from latentmodels.rotations import rotate, rotation_criterion

A = _simple_structure(d=10, k=3, seed=21)
TARGET = np.where(np.abs(rotate(A, "varimax").loadings) > 0.3, 0.7, 0.0)
PARTIAL = np.where(TARGET == 0, 0.0, np.nan)  # only the zeros specified

ORTHO = {
    "biquartimax": {},
    "parsimax": {},
    "cf_t": {"kappa": 0.3},
    "target_t": {"target": TARGET},
    "partial_target_t": {"target": PARTIAL},
}
OBLIQUE = {
    "cf_q": {"kappa": 0.1},
    "oblimax": {},
    "target_q": {"target": TARGET},
    "partial_target_q": {"target": PARTIAL},
}


def _by_definition(L, method, kw):
    """The published criteria as explicit sums (independent of the code)."""
    d, k = L.shape
    sq = L**2
    if method in ("cf_t", "cf_q", "parsimax"):
        kappa = kw.get("kappa", (k - 1) / (d + k - 2))
        rows = sum(sq[i, j] * sq[i, m] for i in range(d)
                   for j, m in itertools.permutations(range(k), 2))
        cols = sum(sq[i, j] * sq[m, j] for j in range(k)
                   for i, m in itertools.permutations(range(d), 2))
        return ((1 - kappa) * rows + kappa * cols) / 4
    if method == "biquartimax":  # orthomax, γ = ½
        return -sum(sum(sq[:, j] ** 2) - 0.5 / d * sum(sq[:, j]) ** 2
                    for j in range(k)) / 4
    if method == "oblimax":
        return -(np.log(np.sum(sq**2)) - 2 * np.log(np.sum(sq)))
    B = kw["target"]
    mask = np.isfinite(B)
    return float(np.sum((L[mask] - B[mask]) ** 2))


@pytest.mark.parametrize("method, kw", list({**ORTHO, **OBLIQUE}.items()))
def test_criterion_definition_and_gradient(method, kw):
    L = np.random.RandomState(3).randn(10, 3)
    got = rotation_criterion(L, method, **kw)
    assert got == pytest.approx(_by_definition(L, method, kw), rel=1e-12)
    W = kw.get("target")
    B, Wt = rot._check_target(method, L, W, None)
    crit = rot._make_criterion(method, 3, gamma=0, delta=0.01, d=10,
                               kappa=kw.get("kappa", 0.0), target=B, weights=Wt)
    _, G = crit(L)
    eps = 1e-6
    for i, j in [(0, 0), (4, 1), (9, 2)]:
        E = np.zeros_like(L)
        E[i, j] = eps
        fd = (crit(L + E)[0] - crit(L - E)[0]) / (2 * eps)
        assert G[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("method, kw", list(ORTHO.items()))
def test_orthogonal_keeps_model_and_is_optimal(method, kw):
    res = rotate(A, method, tol=1e-10, **kw)
    assert res.orthogonal and res.converged
    np.testing.assert_allclose(res.rotation.T @ res.rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(res.loadings @ res.loadings.T, A @ A.T, atol=1e-10)
    rng = np.random.RandomState(0)
    for _ in range(50):
        L = A @ rot._haar_orthogonal(3, rng)
        assert res.criterion <= rotation_criterion(L, method, **kw) + 1e-10


@pytest.mark.parametrize("method, kw", list(OBLIQUE.items()))
def test_oblique_keeps_model_and_is_optimal(method, kw):
    res = rotate(A, method, tol=1e-10, **kw)
    assert not res.orthogonal and res.converged
    L, phi = res.loadings, res.phi
    np.testing.assert_allclose(L @ phi @ L.T, A @ A.T, atol=1e-10)
    np.testing.assert_allclose(np.diag(phi), 1.0, atol=1e-12)
    if method == "oblimax":  # unbounded below near singular Φ: local optimum
        assert res.gradient_norm < 1e-10
        return
    rng = np.random.RandomState(1)
    for _ in range(50):
        Lr = A @ np.linalg.inv(_random_unit_columns(3, rng)).T
        assert res.criterion <= rotation_criterion(Lr, method, **kw) + 1e-10


def test_orthomax_members_of_crawford_ferguson():
    """On orthogonal rotations CF(κ) and orthomax(γ = dκ) differ by a
    constant, so they share solutions: κ = 1/d is varimax, κ = 0 quartimax,
    and biquartimax is CF with κ = 1/(2d)."""
    d = A.shape[0]
    for kappa, method in [(1 / d, "varimax"), (0.0, "quartimax"),
                          (0.5 / d, "biquartimax")]:
        cf = rotate(A, "cf_t", kappa=kappa, tol=1e-10).loadings
        assert _maxdiff(cf, rotate(A, method, tol=1e-10).loadings) < 1e-7


def test_exact_target_is_recovered():
    """A target that is an exact rotation of A is reached with zero loss."""
    rng = np.random.RandomState(2)
    T = _random_unit_columns(3, rng)
    B = A @ np.linalg.inv(T).T
    res = rotate(A, "target_q", target=B, tol=1e-12)
    np.testing.assert_allclose(res.loadings, B, atol=1e-8)
    Q = rot._haar_orthogonal(3, rng)
    res = rotate(A, "target_t", target=A @ Q, tol=1e-12)
    np.testing.assert_allclose(res.rotation, Q, atol=1e-8)


def test_target_validation():
    with pytest.raises(ValueError, match="pass target"):
        rotate(A, "target_t")
    with pytest.raises(ValueError, match="shape"):
        rotate(A, "target_q", target=TARGET[:5])
    with pytest.raises(ValueError, match="partial_target_t"):
        rotate(A, "target_t", target=PARTIAL)
    with pytest.raises(ValueError, match="not by 'varimax'"):
        rotate(A, "varimax", target=TARGET)
    with pytest.raises(ValueError, match="kappa"):
        rotate(A, "cf_t", kappa=2.0)


@pytest.mark.parametrize(
    "method, sm_args, kw",
    [
        ("biquartimax", ("biquartimax",), {}),
        ("parsimax", ("parsimax",), {}),
        ("target_t", ("target", TARGET, "orthogonal"), {"target": TARGET}),
        ("target_q", ("target", TARGET, "oblique"), {"target": TARGET}),
        (
            "partial_target_t",
            ("partial_target", np.nan_to_num(PARTIAL), np.isfinite(PARTIAL) * 1.0),
            {"target": PARTIAL},
        ),
    ],
)
def test_matches_statsmodels(method, sm_args, kw):
    fr = pytest.importorskip("statsmodels.multivariate.factor_rotation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # statsmodels' fixed-step GPA stalls below |G_p| ~ 1e-8: stop at 1e-7
        L_sm, _ = fr.rotate_factors(A, *sm_args, tol=1e-7, max_tries=5000)
    assert _maxdiff(rotate(A, method, tol=1e-10, **kw).loadings, L_sm) < 2e-7


@pytest.fixture(scope="module")
def gparotation():
    W = np.isfinite(PARTIAL) * 1.0
    return run_r(
        """
        o <- function(name, r) out(name, unclass(r$loadings))
        o('cf_t', GPArotation::cfT(A, kappa = 0.3, eps = 1e-7, maxit = 1000))
        o('cf_q', GPArotation::cfQ(A, kappa = 0.1, eps = 1e-7, maxit = 1000))
        o('oblimax', GPArotation::oblimax(A, eps = 1e-7, maxit = 1000))
        o('target_t', GPArotation::targetT(A, Target = B, eps = 1e-7,
                                           maxit = 1000))
        o('target_q', GPArotation::targetQ(A, Target = B, eps = 1e-7,
                                           maxit = 1000))
        o('partial_target_t', GPArotation::pstT(A, W = W, Target = P, eps = 1e-7,
                                                maxit = 1000))
        o('partial_target_q', GPArotation::pstQ(A, W = W, Target = P, eps = 1e-7,
                                                maxit = 1000))
        """,
        packages=["GPArotation"],
        A=A,
        B=TARGET,
        P=np.nan_to_num(PARTIAL),
        W=W,
    )


@pytest.mark.parametrize(
    "method, kw",
    [(m, kw) for m, kw in {**ORTHO, **OBLIQUE}.items()
     if m not in ("biquartimax", "parsimax")],
)
def test_matches_gparotation(gparotation, method, kw):
    # GPArotation stops at |G_p| < 1e-7 (its eps): 7e-8 at most here
    ours = rotate(A, method, tol=1e-10, **kw).loadings
    assert _maxdiff(ours, gparotation[method]) < 3e-7
