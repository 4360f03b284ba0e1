"""LinearAutoencoder against the closed forms of the user guide (autoencoder.rst).

Every closed form is computed here from numpy's eigendecomposition of the
scatter matrix ``Σ = X_cᵀ X_c`` (eigenvalues ``s_1 > … > s_d``, vectors
``U``), independently of the estimator's code path (L-BFGS on the loss).
"""

import numpy as np
import pytest
from _helpers import assert_monotone
from scipy.linalg import subspace_angles
from sklearn.exceptions import ConvergenceWarning

from latentmodels import LinearAutoencoder
from latentmodels._autoencoder import compare_with_pca
from latentmodels._autoencoder_loss import (
    EncoderSolver,
    Objective,
    ProfiledObjective,
    Statistics,
    loss_and_grad,
    unit_weights,
)

N, D, K = 150, 6, 3


def _data(seed=0, n=N, d=D):
    """Rows with a well-separated covariance spectrum and a non-zero mean."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    scales = np.linspace(3.0, 0.4, d)
    return rng.standard_normal((n, d)) * scales @ Q.T + rng.normal(size=d) * 5


def _eig(X):
    Xc = X - X.mean(axis=0)
    s, U = np.linalg.eigh(Xc.T @ Xc)
    return s[::-1], U[:, ::-1]


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def data():
    X = _data()
    s, U = _eig(X)
    assert np.all(np.diff(s) < -0.05 * s[0])  # distinct, well separated
    return X, s, U


def _weight_decay_min_loss(s, k, lam):
    """Minimum loss Σ_{i≤k} ℓ_i + Σ_{i>k} s_i, ℓ_i = 2λ - λ²/s_i if s_i > λ else s_i."""
    lam = np.broadcast_to(lam, (k,))
    top = np.where(s[:k] > lam, 2 * lam - lam**2 / s[:k], s[:k])
    return top.sum() + s[k:].sum()


# --------------------------------------------------------------- the loss


def test_loss_equals_direct_sum_over_rows(data):
    """tr Σ - 2 tr(PC) + tr(PQPᵀ) equals Σ_r ‖x_r - P x̃_r‖² on the rows."""
    X, _, _ = data
    rng = np.random.default_rng(1)
    Xc = X - X.mean(axis=0)
    E = 0.7 * rng.standard_normal(Xc.shape)
    Xn = Xc + E
    A, B = rng.standard_normal((K, D)), rng.standard_normal((D, K))
    stats = Statistics(np.sum(Xc**2), Xn.T @ Xc, Xn.T @ Xn)
    zero = np.zeros(K)
    loss = loss_and_grad(A, B, stats, zero, zero)[0]
    direct = np.sum((Xc - Xn @ (B @ A).T) ** 2)
    assert loss == pytest.approx(direct, rel=1e-12)


def test_expected_noise_loss_is_product_penalty(data):
    """Expected statistics give L_0 + n s² ‖BA‖²_F, with L_0 on the clean rows."""
    X, _, _ = data
    rng = np.random.default_rng(2)
    Xc = X - X.mean(axis=0)
    A, B = rng.standard_normal((K, D)), rng.standard_normal((D, K))
    zero = np.zeros(K)
    noise = 0.3
    loss = loss_and_grad(A, B, Statistics.expected(Xc.T @ Xc, N, noise), zero, zero)[0]
    P = B @ A
    direct = np.sum((Xc - Xc @ P.T) ** 2) + N * noise**2 * np.sum(P**2)
    assert loss == pytest.approx(direct, rel=1e-12)


PENALTIES = {
    "none": {},
    "weight_decay": dict(weight_decay=3.0),
    "unit": dict(unit_penalties=np.array([0.5, 2.0, 7.0])),
    "noise": dict(input_noise=0.4),
    "contractive": dict(contractive=5.0, weight_decay=1.0),
    "all": dict(
        weight_decay=1.0,
        unit_penalties=np.array([0.5, 2.0, 7.0]),
        input_noise=0.4,
        contractive=5.0,
    ),
}


def _central_difference(fun, x, h=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (fun(x + e)[0] - fun(x - e)[0]) / (2 * h)
    return grad


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("name", list(PENALTIES))
@pytest.mark.parametrize("sampled", [False, True])
def test_gradient_matches_finite_differences(data, name, tied, sampled):
    X, s, _ = data
    pen = dict(PENALTIES[name])
    noise = pen.pop("input_noise", 0.0)
    Xc = X - X.mean(axis=0)
    rng = np.random.default_rng(3)
    if sampled:  # a non-symmetric cross scatter C, as one epoch of noise gives
        Xn = Xc + noise * rng.standard_normal(Xc.shape)
        stats = Statistics(np.sum(Xc**2), Xn.T @ Xc, Xn.T @ Xn)
    else:
        stats = Statistics.expected(Xc.T @ Xc, N, noise)
    alpha, beta = unit_weights(
        K,
        pen.get("weight_decay", 0.0),
        pen.get("unit_penalties"),
        pen.get("contractive", 0.0),
        tied=tied,
    )
    obj = Objective(
        stats, alpha, beta, n_components=K, n_features=D, tied=tied, scale=s[0]
    )
    x = obj.pack(rng.standard_normal((K, D)) * 0.5, rng.standard_normal((D, K)))
    numeric = _central_difference(obj, x)
    analytic = obj(x)[1]
    assert np.linalg.norm(analytic - numeric) <= 1e-7 * np.linalg.norm(analytic)


@pytest.mark.parametrize("name", list(PENALTIES))
def test_profiled_gradient_matches_finite_differences(data, name):
    """f(B) = min_A L(A, B): its gradient is ∂L/∂B at the best A."""
    X, s, _ = data
    pen = dict(PENALTIES[name])
    Xc = X - X.mean(axis=0)
    stats = Statistics.expected(Xc.T @ Xc, N, pen.pop("input_noise", 0.0))
    alpha, beta = unit_weights(
        K,
        pen.get("weight_decay", 0.0),
        pen.get("unit_penalties"),
        pen.get("contractive", 0.0),
        tied=False,
    )
    obj = ProfiledObjective(
        stats, alpha, beta, n_components=K, n_features=D, scale=s[0]
    )
    rng = np.random.default_rng(6)
    x = obj.pack(None, rng.standard_normal((D, K)))
    numeric = _central_difference(obj, x)
    analytic = obj(x)[1]
    assert np.linalg.norm(analytic - numeric) <= 1e-7 * np.linalg.norm(analytic)


@pytest.mark.parametrize("unit", [None, np.array([0.5, 2.0, 7.0])])
@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_encoder_solver_is_the_minimiser(data, unit, noise):
    """∂L/∂A = 0 at the solved encoder; without penalty it is B⁺."""
    X, _, _ = data
    Xc = X - X.mean(axis=0)
    stats = Statistics.expected(Xc.T @ Xc, N, noise)
    rng = np.random.default_rng(7)
    B = rng.standard_normal((D, K))
    for wd in (0.0, 3.0):
        alpha, beta = unit_weights(K, wd, unit, 0.0, tied=False)
        A = EncoderSolver(stats, alpha)(B)
        _, grad_A, _ = loss_and_grad(A, B, stats, alpha, beta)
        scale = np.linalg.norm(Xc.T @ Xc, 2) * np.linalg.norm(B) ** 2
        assert np.linalg.norm(grad_A) <= 1e-12 * scale * np.linalg.norm(A)
        if unit is None and noise == 0.0 and wd == 0.0:
            np.testing.assert_allclose(A, np.linalg.pinv(B), rtol=1e-10, atol=1e-12)


def test_penalty_values(data):
    """The per-unit weights give the penalties named in the docstring."""
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((K, D)), rng.standard_normal((D, K))
    lam, mu, unit = 0.7, 1.3, np.array([0.1, 0.2, 0.4])
    zero_stats = Statistics(0.0, np.zeros((D, D)), np.zeros((D, D)))
    alpha, beta = unit_weights(K, lam, unit, mu, tied=False)
    value = loss_and_grad(A, B, zero_stats, alpha, beta)[0]
    expected = (
        lam * (np.sum(A**2) + np.sum(B**2))
        + np.sum(unit * (np.sum(A**2, axis=1) + np.sum(B**2, axis=0)))
        + mu * np.sum(A**2)
    )
    assert value == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------- the closed forms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_penalty_gives_pca_projector(data, seed):
    X, s, U = data
    ae = LinearAutoencoder(K, random_state=seed).fit(X)
    A, B = ae.encoder_, ae.decoder_
    projector = U[:, :K] @ U[:, :K].T
    assert _rel(B @ A, projector) < 1e-6
    assert ae.loss_ == pytest.approx(s[K:].sum(), rel=1e-9)
    # A is the pseudo-inverse of B, not its transpose (B = U_k G, G not orthogonal)
    assert np.linalg.norm(A - B.T) / np.linalg.norm(B) > 1e-2
    assert np.allclose(A, np.linalg.pinv(B), rtol=0, atol=1e-6 * np.abs(A).max())


def test_weight_decay_closed_form(data):
    X, s, U = data
    lam = 0.5 * (s[1] + s[2])  # s_1, s_2 > λ > s_3: the third unit switches off
    ae = LinearAutoencoder(K, weight_decay=lam, random_state=0).fit(X)
    A, B = ae.encoder_, ae.decoder_
    assert np.linalg.norm(A - B.T) <= 1e-6 * np.linalg.norm(B)
    shrink = np.sqrt(np.maximum(0.0, 1.0 - lam / s[:K]))
    assert shrink[-1] == 0.0
    sv = np.linalg.svd(B, compute_uv=False)
    np.testing.assert_allclose(sv, shrink, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ae.decoder_singular_values_, shrink, rtol=0, atol=1e-6)
    BBt = U[:, :K] @ np.diag(shrink**2) @ U[:, :K].T
    assert _rel(B @ B.T, BBt) < 1e-6
    assert ae.loss_ == pytest.approx(_weight_decay_min_loss(s, K, lam), rel=1e-9)
    # the left singular vectors of B are the ordered principal directions
    cos = np.abs(np.sum(ae.principal_directions_[:2] * U[:, :2].T, axis=1))
    assert np.all(cos >= 1 - 1e-6)


def test_weight_decay_small_keeps_all_units(data):
    X, s, U = data
    lam = 0.1 * s[K - 1]
    ae = LinearAutoencoder(K, weight_decay=lam, random_state=5).fit(X)
    B = ae.decoder_
    assert np.linalg.norm(ae.encoder_ - B.T) <= 1e-6 * np.linalg.norm(B)
    BBt = U[:, :K] @ np.diag(1 - lam / s[:K]) @ U[:, :K].T
    assert _rel(B @ B.T, BBt) < 1e-6
    assert ae.loss_ == pytest.approx(_weight_decay_min_loss(s, K, lam), rel=1e-9)
    cos = np.abs(np.sum(ae.principal_directions_ * U[:, :K].T, axis=1))
    assert np.all(cos >= 1 - 1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_distinct_unit_penalties_give_ordered_directions(data, seed):
    X, s, U = data
    lam = np.array([0.05, 0.15, 0.3]) * s[K - 1]
    ae = LinearAutoencoder(K, unit_penalties=lam, random_state=seed).fit(X)
    B = ae.decoder_
    norms = np.linalg.norm(B, axis=0)
    cos = np.abs(np.sum(B * U[:, :K], axis=0)) / norms
    assert np.all(cos >= 1 - 1e-6)
    np.testing.assert_allclose(norms, np.sqrt(1 - lam / s[:K]), rtol=1e-6)
    assert np.linalg.norm(ae.encoder_ - B.T) <= 1e-6 * np.linalg.norm(B)
    top = 2 * lam - lam**2 / s[:K]
    assert ae.loss_ == pytest.approx(top.sum() + s[K:].sum(), rel=1e-9)


def test_unit_penalty_order_decides_the_direction(data):
    """The unit with the i-th smallest penalty learns the i-th direction."""
    X, s, U = data
    lam = np.array([0.3, 0.05, 0.15]) * s[K - 1]
    B = LinearAutoencoder(K, unit_penalties=lam, random_state=0).fit(X).decoder_
    order = np.argsort(lam)  # unit order[i] learns u_i
    cos = np.abs(np.sum(B[:, order] * U[:, :K], axis=0))
    cos /= np.linalg.norm(B[:, order], axis=0)
    assert np.all(cos >= 1 - 1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_expected_input_noise_closed_form(data, seed):
    X, s, U = data
    noise = 0.5
    nu = N * noise**2
    ae = LinearAutoencoder(K, input_noise=noise, random_state=seed).fit(X)
    A, B = ae.encoder_, ae.decoder_
    target = U[:, :K] @ np.diag(s[:K] / (s[:K] + nu)) @ U[:, :K].T
    assert _rel(B @ A, target) < 1e-6
    min_loss = np.sum(s[:K] * nu / (s[:K] + nu)) + s[K:].sum()
    assert ae.loss_ == pytest.approx(min_loss, rel=1e-9)
    # a penalty on the product leaves the factorisation free: A ≠ Bᵀ
    assert np.linalg.norm(A - B.T) / np.linalg.norm(B) > 1e-2


def test_sampled_noise_approaches_expected(data):
    """Tolerance stated: error ≈ c/√(n·epochs); 64 epochs cut it ≥ 3x vs one."""
    X, s, U = data
    noise = 0.5
    nu = N * noise**2
    target = U[:, :K] @ np.diag(s[:K] / (s[:K] + nu)) @ U[:, :K].T
    errors = {}
    for epochs in (1, 64):
        ae = LinearAutoencoder(
            K,
            input_noise=noise,
            noise_mode="sampled",
            n_epochs=epochs,
            random_state=0,
        ).fit(X)
        errors[epochs] = _rel(ae.decoder_ @ ae.encoder_, target)
        assert ae.loss_curve_.shape == (epochs,)
    assert errors[64] < 0.05
    assert errors[64] < errors[1] / 3


def test_tied_contractive_equals_weight_decay_half(data):
    """Tied, μ‖A‖²_F is weight decay λ = μ/2 (the closed form and an untied fit)."""
    X, s, U = data
    mu = 0.4 * s[K - 1]
    lam = mu / 2
    ae = LinearAutoencoder(K, tied=True, contractive=mu, random_state=0).fit(X)
    A, B = ae.encoder_, ae.decoder_
    np.testing.assert_array_equal(A, B.T)
    BBt = U[:, :K] @ np.diag(1 - lam / s[:K]) @ U[:, :K].T
    assert _rel(B @ B.T, BBt) < 1e-6
    assert ae.loss_ == pytest.approx(_weight_decay_min_loss(s, K, lam), rel=1e-9)
    wd = LinearAutoencoder(K, weight_decay=lam, random_state=3).fit(X)
    assert _rel(wd.decoder_ @ wd.encoder_, B @ A) < 1e-6
    # the contractive term is the encoder's Jacobian norm, ‖A‖²_F
    recon = -ae.score(X) * X.shape[0]
    assert ae.loss_ - recon == pytest.approx(mu * np.sum(A**2), rel=1e-9)


def test_untied_contractive_has_no_minimiser(data):
    X, _, _ = data
    with pytest.raises(ValueError, match="no minimiser.*tied=True"):
        LinearAutoencoder(K, contractive=1.0).fit(X)
    with pytest.raises(ValueError, match="no minimiser"):  # one unpenalised unit
        LinearAutoencoder(K, contractive=1.0, unit_penalties=[1.0, 0.0, 1.0]).fit(X)


def test_untied_contractive_with_weight_decay_closed_form(data):
    """α‖A‖² + β‖B‖² over factorisations of P is 2√(αβ)‖P‖_*: weight decay √(αβ)."""
    X, s, U = data
    lam, mu = 0.1 * s[K - 1], 0.5 * s[K - 1]
    ae = LinearAutoencoder(K, weight_decay=lam, contractive=mu, random_state=0)
    ae.fit(X)
    A, B = ae.encoder_, ae.decoder_
    eff = np.sqrt(lam * (lam + mu))
    target = U[:, :K] @ np.diag(1 - eff / s[:K]) @ U[:, :K].T
    assert _rel(B @ A, target) < 1e-6
    ratio = np.linalg.norm(A) / np.linalg.norm(B)
    assert ratio == pytest.approx(np.sqrt(lam / (lam + mu)), rel=1e-6)
    assert ae.loss_ == pytest.approx(_weight_decay_min_loss(s, K, eff), rel=1e-9)


@pytest.mark.parametrize("tied", [False, True])
def test_equivariance_to_scale_and_rotation_of_features(data, tied):
    """X -> c X R (R orthogonal) with λ -> c² λ maps BA to Rᵀ BA R."""
    X, s, _ = data
    rng = np.random.default_rng(8)
    R = np.linalg.qr(rng.standard_normal((D, D)))[0]
    c, lam = 1e3, 0.3 * s[K - 1]
    ref = LinearAutoencoder(K, tied=tied, weight_decay=lam, random_state=0).fit(X)
    moved = LinearAutoencoder(K, tied=tied, weight_decay=c**2 * lam, random_state=1)
    moved.fit(c * X @ R)
    P_ref = ref.decoder_ @ ref.encoder_
    assert _rel(moved.decoder_ @ moved.encoder_, R.T @ P_ref @ R) < 1e-6
    assert moved.loss_ == pytest.approx(c**2 * ref.loss_, rel=1e-9)


def test_compare_with_pca(data):
    X, s, U = data
    ae = LinearAutoencoder(K, random_state=0).fit(X)
    cmp = compare_with_pca(ae, X)
    angles = subspace_angles(ae.decoder_, U[:, :K])
    assert cmp.max_principal_angle == pytest.approx(angles.max(), abs=1e-12)
    assert cmp.max_principal_angle < 1e-6
    assert cmp.projector_error < 1e-6
    gap = np.linalg.norm(ae.encoder_ - ae.decoder_.T) / np.linalg.norm(ae.decoder_)
    assert cmp.transpose_gap == pytest.approx(gap, rel=1e-12)
    assert ae.compare_with_pca(X) == cmp
    tied = LinearAutoencoder(K, tied=True, random_state=0).fit(X)
    assert compare_with_pca(tied, X).transpose_gap == 0.0
    assert compare_with_pca(tied, X).projector_error < 1e-6
    with pytest.raises(ValueError, match="features"):
        compare_with_pca(ae, X[:, :3])


# ---------------------------------------------------------- the estimator


def test_transform_and_inverse_transform(data):
    X, _, _ = data
    ae = LinearAutoencoder(K, random_state=0).fit(X)
    H = ae.transform(X)
    np.testing.assert_allclose(H, (X - X.mean(axis=0)) @ ae.encoder_.T)
    Xhat = ae.inverse_transform(H)
    np.testing.assert_allclose(Xhat, X.mean(axis=0) + H @ ae.decoder_.T)
    np.testing.assert_array_equal(ae.components_, ae.decoder_.T)
    assert ae.score(X) == pytest.approx(-np.sum((X - Xhat) ** 2) / X.shape[0])
    full = LinearAutoencoder(D, random_state=0).fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, atol=1e-6)
    assert list(ae.get_feature_names_out()) == [
        f"linearautoencoder{i}" for i in range(K)
    ]


def test_loss_curve_decreases_and_counts_iterations(data):
    X, _, _ = data
    ae = LinearAutoencoder(K, weight_decay=5.0, random_state=0).fit(X)
    curve = ae.loss_curve_
    assert ae.n_iter_ == curve.size > 1
    assert_monotone(curve, increasing=False, rtol=1e-12, name="loss_curve_")
    assert curve[-1] == pytest.approx(ae.loss_, rel=1e-12)


def test_convergence_warning(data):
    X, _, _ = data
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        ae = LinearAutoencoder(K, max_iter=3, random_state=0).fit(X)
    assert ae.n_iter_ == 3


def test_reproducible_and_rotation_free(data):
    X, _, _ = data
    a = LinearAutoencoder(K, random_state=7).fit(X)
    b = LinearAutoencoder(K, random_state=7).fit(X)
    np.testing.assert_array_equal(a.encoder_, b.encoder_)
    np.testing.assert_array_equal(a.decoder_, b.decoder_)
    c = LinearAutoencoder(K, random_state=8).fit(X)
    assert not np.allclose(a.decoder_, c.decoder_, atol=1e-3)  # G differs ...
    assert _rel(a.decoder_ @ a.encoder_, c.decoder_ @ c.encoder_) < 1e-6  # ... P not
    kw = dict(input_noise=0.3, noise_mode="sampled", n_epochs=3)
    s1 = LinearAutoencoder(K, random_state=1, **kw).fit(X)
    s2 = LinearAutoencoder(K, random_state=1, **kw).fit(X)
    np.testing.assert_array_equal(s1.decoder_, s2.decoder_)


def test_input_not_modified(data):
    X, _, _ = data
    X32 = np.asfortranarray(X.astype(np.float32))
    for Xin in (X.copy(), X32):
        before = Xin.copy()
        Xin.setflags(write=False)
        ae = LinearAutoencoder(K, input_noise=0.2, random_state=0).fit(Xin)
        ae.inverse_transform(ae.transform(Xin))
        ae.score(Xin)
        np.testing.assert_array_equal(Xin, before)


@pytest.mark.parametrize(
    "params, err, match",
    [
        (dict(n_components=D + 1), ValueError, "at most n_features = 6"),
        (dict(n_components=0), ValueError, r"n_components.*range \[1, inf\)"),
        (dict(n_components=2.5), TypeError, "n_components.*must be an int"),
        (dict(weight_decay=-1.0), ValueError, r"weight_decay.*range \[0.0, inf\)"),
        (dict(weight_decay=np.inf), ValueError, "weight_decay.*Got inf"),
        (dict(input_noise=np.nan), ValueError, "input_noise"),
        (dict(contractive="a"), TypeError, "contractive"),
        (dict(unit_penalties=[1.0, 2.0]), ValueError, r"shape \(3,\)"),
        (dict(unit_penalties=[1.0, -2.0, 3.0]), ValueError, "non-negative"),
        (dict(unit_penalties=[1.0, np.inf, 3.0]), ValueError, "unit_penalties"),
        (dict(noise_mode="exact"), ValueError, "noise_mode.*must be a str among"),
        (dict(solver="adam"), ValueError, "solver.*must be a str among"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(tol=0.0), ValueError, "tol"),
        (dict(n_epochs=1.5), TypeError, "n_epochs"),
        (dict(tied="yes"), TypeError, "tied"),
    ],
)
def test_bad_parameters(data, params, err, match):
    X, _, _ = data
    params = {"n_components": K, **params}
    with pytest.raises(err, match=match):
        LinearAutoencoder(**params).fit(X)


def test_bad_input(data):
    X, _, _ = data
    Xnan = X.copy()
    Xnan[[4, 9], 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 2 rows \(first: row 4\)"):
        LinearAutoencoder(K).fit(Xnan)
    ae = LinearAutoencoder(K, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        ae.transform(X[:, :4])
    with pytest.raises(ValueError, match="codes has 4 columns but the model has 3"):
        ae.inverse_transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="codes contains NaN"):
        ae.inverse_transform(np.full((2, K), np.nan))


# ------------------------------------------------- wide data, raw scales, Dask
def _wide(n=30, d=400, seed=3):
    """Fewer rows than features, with a decaying spectrum and a mean."""
    rng = np.random.default_rng(seed)
    scales = 1.0 / np.arange(1, n + 1)
    return (rng.standard_normal((n, n)) * scales) @ rng.standard_normal((n, d)) + 2.0


def test_wide_data_fitted_in_the_row_space_reaches_the_closed_forms():
    """n < d: the fit in the span of the centred rows is the full problem's optimum.

    Closed forms from the d×d scatter's eigendecomposition (numpy), which the
    estimator never forms on this path.
    """
    X = _wide()
    s, U = _eig(X)
    k = 5
    ae = LinearAutoencoder(k, random_state=0).fit(X)
    assert ae.converged_
    projector = U[:, :k] @ U[:, :k].T
    assert _rel(ae.decoder_ @ ae.encoder_, projector) < 1e-6
    assert ae.loss_ == pytest.approx(s[k:].sum(), rel=1e-8)
    lam = 0.5 * (s[1] + s[2])
    wd = LinearAutoencoder(k, weight_decay=lam, random_state=0).fit(X)
    shrink = np.sqrt(np.maximum(0.0, 1.0 - lam / s[:k]))
    np.testing.assert_allclose(wd.decoder_singular_values_, shrink, atol=1e-6)
    assert wd.loss_ == pytest.approx(_weight_decay_min_loss(s, k, lam), rel=1e-9)
    noisy = LinearAutoencoder(k, input_noise=0.5, random_state=0).fit(X)
    n = X.shape[0]
    target = U[:, :k] @ np.diag(s[:k] / (s[:k] + n * 0.25)) @ U[:, :k].T
    assert _rel(noisy.decoder_ @ noisy.encoder_, target) < 1e-6
    # the weights themselves live in the row space (the optimum's span)
    Xc = X - X.mean(axis=0)
    row_proj = np.linalg.pinv(Xc) @ Xc
    assert _rel(wd.decoder_, row_proj @ wd.decoder_) < 1e-7


def test_wide_table_costs_what_its_rank_allows():
    """50 × 2000, k = 16 (issue 17): seconds, not minutes, and PCA's subspace."""
    import time

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2000))
    t0 = time.process_time()
    ae = LinearAutoencoder(16, random_state=0).fit(X)
    cpu = time.process_time() - t0
    Xc = X - X.mean(axis=0)
    Vt = np.linalg.svd(Xc, full_matrices=False)[2]
    assert np.degrees(subspace_angles(ae.decoder_, Vt[:16].T).max()) < 1e-3
    assert cpu < 5.0  # 226 s in the issue; 0.04 s measured (one BLAS thread)


def test_raw_scales_fit_to_convergence():
    """Raw wine (proline's variance ~1e5 × the others) reaches PCA's subspace."""
    from sklearn.datasets import load_wine

    X = load_wine().data
    s, U = _eig(X)
    ae = LinearAutoencoder(5, random_state=0).fit(X)
    assert ae.converged_
    angle = np.degrees(subspace_angles(ae.decoder_, U[:, :5]).max())
    assert angle < 0.05, angle  # was 9.8° with the command line's old tol
    assert ae.loss_ == pytest.approx(s[5:].sum(), rel=1e-6)


def test_convergence_warning_names_the_callers_line(data):
    X, _, _ = data
    with pytest.warns(ConvergenceWarning) as record:
        LinearAutoencoder(K, max_iter=2, random_state=0).fit(X)
    assert record[0].filename == __file__


def test_principal_directions_follow_the_package_sign_convention(data):
    from latentmodels._base import sign_flip

    X, _, _ = data
    ae = LinearAutoencoder(K, weight_decay=1.0, random_state=0).fit(X)
    dirs = ae.principal_directions_
    np.testing.assert_array_equal(dirs, sign_flip(dirs))
    U = np.linalg.svd(ae.decoder_, full_matrices=False)[0]
    np.testing.assert_allclose(np.abs(dirs), np.abs(U.T), atol=1e-12)


def test_dask_refit_forgets_dataframe_feature_names(data):
    pd = pytest.importorskip("pandas")
    da = pytest.importorskip("dask.array")
    X, _, _ = data
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(D)])
    ae = LinearAutoencoder(K, random_state=0).fit(frame)
    assert list(ae.feature_names_in_) == list(frame.columns)
    ae.fit(da.from_array(X, chunks=(50, D)))
    assert not hasattr(ae, "feature_names_in_")
    assert ae.n_features_in_ == D
    ref = LinearAutoencoder(K, random_state=0).fit(X)
    assert _rel(ae.decoder_ @ ae.encoder_, ref.decoder_ @ ref.encoder_) < 1e-8
    # transform of a plain array after the refit does not complain about names
    assert ae.transform(X).shape == (N, K)
