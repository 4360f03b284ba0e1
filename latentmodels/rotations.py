"""Analytic rotations of a factor loadings matrix.

A factor model ``x = Λ f + ε`` is not identified: for any invertible k×k
matrix T with unit-length columns, ``Λ̃ = Λ (T⁻¹)ᵀ`` with factor correlation
``Φ = Tᵀ T`` gives the same model covariance, ``Λ̃ Φ Λ̃ᵀ = Λ Λᵀ``. A rotation
picks the T that makes the loadings simplest under a criterion Q(Λ̃).

Conventions (those of R's GPArotation, Bernaards & Jennrich 2005)
-----------------------------------------------------------------
* ``loadings`` has shape ``(n_features, n_factors)`` — the psychometrics
  layout, i.e. ``components_.T`` of a fitted estimator.
* One convention for every method: the returned ``rotation`` T satisfies
  ``rotated = loadings @ inv(T).T`` and ``phi = T.T @ T``. For the orthogonal
  methods T is orthogonal, so ``rotated = loadings @ T`` and ``phi = I``.
* Factor scores ``z`` computed for the unrotated loadings become ``z @ T``
  for the rotated ones (their covariance is Φ when that of z is I).
* Criteria are *minimised* (GPArotation's sign: varimax returns −¼ Σ …).
* Signs and column order are left as the algorithm leaves them (as in
  GPArotation), unless ``sort=True``: then every column is flipped to have a
  positive sum and columns are ordered by decreasing sum of squared loadings.

References
----------
Bernaards, C. A. & Jennrich, R. I. (2005). Gradient projection algorithms and
software for arbitrary rotation criteria in factor analysis. Educational and
Psychological Measurement 65, 676–696.
Jennrich, R. I. (2001, 2002). A simple general procedure for orthogonal /
oblique rotation. Psychometrika 66, 289–306; 67, 7–19.
Kaiser, H. F. (1958). The varimax criterion for analytic rotation in factor
analysis. Psychometrika 23, 187–200.
Hendrickson, A. E. & White, P. O. (1964). Promax: a quick method for rotation
to oblique simple structure. Brit. J. Statist. Psychol. 17, 65–70.
Crawford, C. B. & Ferguson, G. A. (1970). A general rotation criterion and its
use in orthogonal rotation. Psychometrika 35, 321–332.
Browne, M. W. (1972). Orthogonal rotation to a partially specified target.
Brit. J. Math. Statist. Psychol. 25, 115–120.
Browne, M. W. (2001). An overview of analytic rotation in exploratory factor
analysis. Multivariate Behavioral Research 36, 111–150.
Saunders, D. R. (1961). The rationale for an "oblimax" method of
transformation in factor analysis. Psychometrika 26, 317–324.
Yates, A. (1987). Multivariate Exploratory Data Analysis. (Geomin.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from . import _warnings
from ._array_api import Namespace, from_host, namespace_of, to_host
from ._validation import (
    check_array_finite,
    check_option,
)

ORTHOGONAL_METHODS = ("varimax", "quartimax", "equamax", "geomin_t")
OBLIQUE_METHODS = ("promax", "oblimin", "geomin_q")
METHODS = ORTHOGONAL_METHODS + OBLIQUE_METHODS
# Further criteria (Crawford–Ferguson family, oblimax, targets).
TARGET_METHODS = ("target_t", "target_q", "partial_target_t", "partial_target_q")
MORE_ORTHOGONAL_METHODS = ("biquartimax", "parsimax", "cf_t", "target_t",
                           "partial_target_t")
MORE_OBLIQUE_METHODS = ("cf_q", "oblimax", "target_q", "partial_target_q")
ALL_METHODS = METHODS + MORE_ORTHOGONAL_METHODS + MORE_OBLIQUE_METHODS
_ORTHOGONAL = ORTHOGONAL_METHODS + MORE_ORTHOGONAL_METHODS

# A criterion maps loadings L to (Q(L), dQ/dL); both are minimised.
Criterion = Callable[[np.ndarray], "tuple[float, np.ndarray]"]


@dataclass(frozen=True)
class RotationResult:
    """Outcome of :func:`rotate`.

    Attributes
    ----------
    loadings : ndarray of shape (n_features, n_factors)
        Rotated loadings Λ̃ = Λ (T⁻¹)ᵀ (the *pattern* matrix when oblique).
    rotation : ndarray of shape (n_factors, n_factors)
        T, with unit-length columns; orthogonal for orthogonal methods.
    phi : ndarray of shape (n_factors, n_factors)
        Factor correlation matrix Φ = Tᵀ T (the identity when orthogonal).
        The model covariance is unchanged: Λ̃ Φ Λ̃ᵀ = Λ Λᵀ.
    criterion : float or None
        Value of the minimised criterion at the result, on the loadings the
        algorithm rotated (the Kaiser-normalised ones if ``normalize=True``).
        None for promax, which minimises nothing.
    gradient_norm : float
        Frobenius norm of the projected gradient at the result (zero at a
        stationary point). For promax, that of its varimax step.
    n_iter : int
        Iterations of the start that was kept.
    converged : bool
        Whether the projected gradient norm fell below ``tol``.
    method : str
        The rotation criterion.
    orthogonal : bool
        Whether T is orthogonal (Φ = I).
    """

    loadings: np.ndarray
    rotation: np.ndarray
    phi: np.ndarray
    criterion: float | None
    gradient_norm: float
    n_iter: int
    converged: bool
    method: str
    orthogonal: bool

    @property
    def structure(self) -> np.ndarray:
        """Structure matrix Λ̃ Φ: correlations of features with factors."""
        return self.loadings @ self.phi


# --------------------------------------------------------------------------
# Criteria Q(L) and their gradients (GPArotation's "vgQ" functions).


def _orthomax(gamma: float) -> Criterion:
    """Orthomax: Q = −¼ [Σ λ⁴ − (γ/d) Σ_j (Σ_i λ²_ij)²].

    γ = 0 quartimax, γ = 1 varimax (Kaiser 1958), γ = k/2 equamax.
    """

    def crit(L):
        L2 = L * L
        colsum = L2.sum(axis=0)
        g = gamma / L.shape[0]
        f = -0.25 * (np.vdot(L2, L2) - g * np.dot(colsum, colsum))
        return f, -(L * L2 - g * L * colsum)

    return crit


def _oblimin(gamma: float) -> Criterion:
    """Direct oblimin: Q = ¼ Σ (L∘L) ∘ [(I − (γ/d) 11ᵀ)(L∘L)(11ᵀ − I)].

    γ = 0 quartimin, γ = ½ biquartimin, γ = 1 covarimin (Jennrich & Sampson
    1966).
    """

    def crit(L):
        L2 = L * L
        X = L2.sum(axis=1, keepdims=True) - L2
        if gamma != 0:
            X = X - gamma * X.mean(axis=0)
        return 0.25 * np.vdot(L2, X), L * X

    return crit


def _geomin(delta: float) -> Criterion:
    """Geomin: Q = Σ_i (Π_j (λ²_ij + δ))^{1/k} (Yates 1987; Browne 2001)."""

    def crit(L):
        k = L.shape[1]
        L2 = L * L + delta
        pro = np.exp(np.log(L2).mean(axis=1, keepdims=True))
        return float(pro.sum()), (2.0 / k) * L / L2 * pro

    return crit


def _crawford_ferguson(kappa: float) -> Criterion:
    """Crawford–Ferguson: Q = (1−κ)/4 Σ_i Σ_{j≠l} λ²_ij λ²_il
    + κ/4 Σ_j Σ_{i≠m} λ²_ij λ²_mj (row and column complexity).

    κ = 0 quartimax, κ = 1/d varimax, κ = k/(2d) equamax, κ = (k−1)/(d+k−2)
    parsimax, κ = 1 factor parsimony (Crawford & Ferguson 1970; GPArotation
    ``cfT``/``cfQ``).
    """

    def crit(L):
        L2 = L * L
        row = L2.sum(axis=1, keepdims=True) - L2  # Σ_{l≠j} λ²_il
        col = L2.sum(axis=0, keepdims=True) - L2  # Σ_{m≠i} λ²_mj
        f = 0.25 * np.vdot(L2, (1.0 - kappa) * row + kappa * col)
        return f, L * ((1.0 - kappa) * row + kappa * col)

    return crit


def _oblimax(L):
    """Oblimax: Q = −[log Σ λ⁴ − 2 log Σ λ²] (Saunders 1961; GPArotation)."""
    L2 = L * L
    s2, s4 = L2.sum(), (L2 * L2).sum()
    return -(np.log(s4) - 2.0 * np.log(s2)), -(4.0 * L * L2 / s4 - 4.0 * L / s2)


def _target(target: np.ndarray, weights: np.ndarray | None) -> Criterion:
    """Procrustes target: Q = Σ w²_ij (λ_ij − b_ij)² (w = 1: full target)."""

    def crit(L):
        R = L - target
        if weights is not None:
            R = weights * R
            return float(np.vdot(R, R)), 2.0 * weights * R
        return float(np.vdot(R, R)), 2.0 * R

    return crit


def _make_criterion(
    method: str,
    k: int,
    *,
    gamma: float,
    delta: float,
    kappa: float = 0.0,
    d: int | None = None,
    target=None,
    weights=None,
) -> Criterion:
    if method in ("varimax", "quartimax", "equamax", "biquartimax"):
        g = {"varimax": 1.0, "quartimax": 0.0, "equamax": k / 2, "biquartimax": 0.5}
        return _orthomax(g[method])
    if method == "oblimin":
        return _oblimin(gamma)
    if method == "parsimax":
        return _crawford_ferguson((k - 1) / (d + k - 2))
    if method in ("cf_t", "cf_q"):
        return _crawford_ferguson(kappa)
    if method == "oblimax":
        return _oblimax
    if method in TARGET_METHODS:
        return _target(target, weights)
    return _geomin(delta)


def rotation_criterion(
    loadings,
    method: str,
    *,
    gamma: float = 0.0,
    delta: float = 0.01,
    kappa: float = 0.0,
    target=None,
    target_weights=None,
) -> float:
    """Value of a rotation criterion Q at ``loadings`` (lower is simpler).

    Parameters
    ----------
    loadings : array-like of shape (n_features, n_factors)
        Loadings at which to evaluate the criterion.
    method : str
        Any method of :func:`rotate` except ``'promax'``, which has none.
    gamma, delta, kappa : float
        Oblimin γ, geomin δ and Crawford–Ferguson κ.
    target, target_weights : array-like, optional
        For the target methods (see :func:`rotate`).
    """
    check_option(method, "method", tuple(m for m in ALL_METHODS if m != "promax"))
    _reject_sparse(loadings)
    A = _check_loadings(loadings)
    B, Wt = _check_target(method, A, target, target_weights)
    crit = _make_criterion(
        method, A.shape[1], gamma=gamma, delta=delta, kappa=kappa, d=A.shape[0],
        target=B, weights=Wt,
    )
    return float(crit(A)[0])


# --------------------------------------------------------------------------
# Gradient projection algorithms (Bernaards & Jennrich 2005).


def _polar(X: np.ndarray) -> np.ndarray:
    """Orthogonal factor U Vᵀ of the polar decomposition of X (nearest Q)."""
    U, _, Vt = np.linalg.svd(X)
    return U @ Vt


# Line search: Armijo constant (Bernaards & Jennrich's ½) and the number of
# recent criterion values a gradient step is compared with (non-monotone rule
# of Grippo, Lampariello & Lucidi 1986, which lets Barzilai–Borwein steps
# through; 1 would be monotone).
_SIGMA = 0.5
_MEMORY = 10


_getrf, _getri = scipy.linalg.lapack.dgetrf, scipy.linalg.lapack.dgetri


def _norm(A) -> float:
    """Frobenius norm (the loop's hot path: less overhead than np.linalg.norm)."""
    return float(np.sqrt(np.vdot(A, A)))


def _inv_small(T):
    """Inverse of a small square matrix by LAPACK getrf/getri directly.

    The gradient-projection loop inverts a k×k matrix at every evaluation;
    calling LAPACK directly halves numpy's per-call overhead. A singular
    ``T`` raises ``LinAlgError`` as ``np.linalg.inv`` does.
    """
    if T.dtype != np.float64:
        return np.linalg.inv(T)
    lu, piv, info = _getrf(T)
    if info == 0:
        inv, info = _getri(lu, piv)
    if info != 0 or not np.all(np.isfinite(inv)):
        raise np.linalg.LinAlgError("Singular matrix")
    return inv


def _gpa(T, evaluate, project, retract, tol, max_iter, polar_first=False, bb=True):
    """Gradient projection loop of Bernaards & Jennrich (2005).

    ``evaluate(T)`` returns the criterion and its gradient G in T;
    ``project(T, G)`` projects G on the tangent space of the constraint
    manifold; ``retract(X)`` maps a matrix back onto the manifold. A step
    T − αG_p is accepted under Armijo's rule f_new < f_ref − ½ α ‖G_p‖²,
    halving α until it holds. The trial α is the Barzilai–Borwein step
    ‖ΔT‖²/|⟨ΔT, ΔG_p⟩| of the last move (``bb``; otherwise twice the last α,
    as in GPArotation) and f_ref is the largest of the last ``_MEMORY``
    criterion values (Grippo et al. 1986): together they turn the slow linear
    convergence of the fixed-step algorithm (thousands of iterations on
    ill-conditioned problems) into tens. Near the optimum the predicted
    decrease drops below the rounding error of f; a step whose change of f is
    within that error is then accepted if it lowers ‖G_p‖. With
    ``polar_first`` (orthogonal manifold) the full step polar(−G), Kaiser's
    SVD iteration of ``stats::varimax``, is tried first and kept if it lowers
    f below its current value.

    Returns T, f, ‖G_p‖, iterations and whether ‖G_p‖ < tol.
    """
    f, G = evaluate(T)
    Gp = project(T, G)
    s = _norm(Gp)
    noise = 1e-11 * max(1.0, abs(f), T.shape[0])
    alpha = 1.0
    T_prev = Gp_prev = None
    n_iter = 0

    recent = [f]

    def acceptable(ft, Tt, Gt, decrease, ref):
        if ft < ref - decrease:
            return True
        return ft <= f + noise and _norm(project(Tt, Gt)) < s

    while s >= tol and n_iter < max_iter:
        Tt = None
        if polar_first:
            Tt = retract(-G)
            ft, Gt = evaluate(Tt)
            if not acceptable(ft, Tt, Gt, 0.0, f):
                Tt = None
        if Tt is None:
            alpha *= 2.0
            if bb and T_prev is not None:
                dT = T - T_prev
                sy = abs(np.vdot(dT, Gp - Gp_prev))
                alpha = np.vdot(dT, dT) / sy if sy > 0 else alpha
            for _ in range(60):
                Tt = retract(T - alpha * Gp)
                ft, Gt = evaluate(Tt)
                if acceptable(ft, Tt, Gt, _SIGMA * s * s * alpha, max(recent)):
                    break
                alpha *= 0.5
            else:
                break  # no descent left at working precision
        T_prev, Gp_prev = T, Gp
        T, f, G = Tt, ft, Gt
        recent = (recent + [f])[-_MEMORY:]
        Gp = project(T, G)
        s = _norm(Gp)
        n_iter += 1
    return T, float(f), s, n_iter, s < tol


def _gpa_orthogonal(A, T, crit, tol, max_iter, polar_first):
    """Minimise crit(A T) over orthogonal T (GPArotation's GPForth)."""

    def evaluate(T):
        f, Gq = crit(A @ T)
        return f, A.T @ Gq

    def project(T, G):
        M = T.T @ G
        return G - T @ (0.5 * (M + M.T))

    return _gpa(T, evaluate, project, _polar, tol, max_iter, polar_first)


def _gpa_oblique(A, T, crit, tol, max_iter):
    """Minimise crit(A (T⁻¹)ᵀ) over T with unit-length columns (GPFoblq).

    With Λ = A (T⁻¹)ᵀ the gradient in T is G = −(Λᵀ (∂Q/∂Λ) T⁻¹)ᵀ, and the
    tangent projection removes T diag(TᵀG).
    """

    def evaluate(T):
        Ti = _inv_small(T)  # k×k; products with it beat solves with d columns
        L = A @ Ti.T
        f, Gq = crit(L)
        return f, -Ti.T @ (Gq.T @ L)

    def project(T, G):
        return G - T * np.einsum("ij,ij->j", T, G)

    def retract(X):
        return X / np.sqrt(np.einsum("ij,ij->j", X, X))

    return _gpa(T, evaluate, project, retract, tol, max_iter)


def _haar_orthogonal(k: int, rng: np.random.RandomState) -> np.ndarray:
    """Haar-distributed k×k orthogonal matrix: sign-corrected QR of a Gaussian."""
    Q, R = np.linalg.qr(rng.standard_normal((k, k)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def _iterative(
    A, method, *, gamma, delta, tol, max_iter, n_starts, rng, kappa=0.0,
    target=None, weights=None,
):
    """Best of ``n_starts`` runs (identity first, then Haar starts)."""
    d, k = A.shape
    geomin = method in ("geomin_t", "geomin_q")
    # Rotate A / c (unit RMS row norm) so that ``tol`` does not depend on the
    # loadings' units. T is unchanged: the quartic criteria scale by c⁴,
    # geomin with δ by c² if δ becomes δ/c², a target criterion by c² if the
    # target becomes B/c, and oblimax not at all.
    c = float(np.sqrt(np.mean(np.sum(A * A, axis=1))))
    c = c if c > 0 else 1.0
    crit = _make_criterion(
        method, k, gamma=gamma, delta=delta / c**2, kappa=kappa, d=d,
        target=None if target is None else target / c, weights=weights,
    )
    power = 2 if geomin or method in TARGET_METHODS else 4
    power = 0 if method == "oblimax" else power
    # Kaiser's SVD step is a majorisation step for the orthomax family only.
    polar = method in ("varimax", "quartimax", "equamax", "biquartimax")
    best = None
    for start in range(n_starts):
        T0 = np.eye(k) if start == 0 else _haar_orthogonal(k, rng)
        if method in _ORTHOGONAL:
            out = _gpa_orthogonal(A / c, T0, crit, tol, max_iter, polar)
        else:
            out = _gpa_oblique(A / c, T0, crit, tol, max_iter)
        if best is None or out[1] < best[1]:
            best = out
    T, f, s, n_iter, converged = best
    return T, f * c**power, s, n_iter, converged


def _promax_target(L: np.ndarray, power: float) -> np.ndarray:
    """Hendrickson & White's step: U with L U ≈ L∘|L|^(m−1), diag((UᵀU)⁻¹) = 1."""
    target = L * np.abs(L) ** (power - 1.0)
    # Normal equations: LᵀL is k×k and well conditioned for loadings of full
    # column rank; LAPACK's least-squares drivers were up to 1000x slower here.
    U = scipy.linalg.solve(L.T @ L, L.T @ target, assume_a="pos")
    return U * np.sqrt(np.diag(np.linalg.inv(U.T @ U)))


# --------------------------------------------------------------------------
# Public API.


def _reject_sparse(loadings) -> None:
    """Refuse a sparse matrix with the fix (before the generic array-like check)."""
    if scipy.sparse.issparse(loadings):
        raise TypeError(
            "loadings is a scipy sparse matrix, but a dense array is required; "
            "pass loadings.toarray()."
        )


def _check_loadings(loadings) -> np.ndarray:
    A = np.asarray(loadings)
    if A.dtype.kind not in "biuf":
        raise TypeError(f"loadings must be a real numeric array, got dtype {A.dtype}.")
    if A.ndim != 2:
        raise ValueError(
            "loadings must be a 2-D array of shape (n_features, n_factors), got "
            f"shape {A.shape}; for a single factor pass loadings.reshape(-1, 1)."
        )
    if A.size == 0:
        raise ValueError(f"loadings is empty (shape {A.shape}).")
    if A.shape[1] > A.shape[0]:
        raise ValueError(
            f"loadings has shape {A.shape}: more factors than features. Loadings "
            "are (n_features, n_factors); for an estimator's components_ of "
            "shape (n_factors, n_features) pass components_.T."
        )
    check_array_finite(A, name="loadings")
    return np.array(A, dtype=np.float64)  # always a copy: never touch the input


def _check_target(method, A, target, weights):
    """The target B and weights W of a target method (None otherwise).

    NaN entries of ``target`` are unspecified: their weight is 0. The full
    target methods need every entry specified.
    """
    if method not in TARGET_METHODS:
        if target is not None or weights is not None:
            raise ValueError(
                f"target and target_weights are used by the target methods "
                f"{TARGET_METHODS}, not by {method!r}."
            )
        return None, None
    if target is None:
        raise ValueError(
            f"method={method!r} rotates towards a target: pass target, an array "
            f"of shape {A.shape} (NaN marks unspecified entries for the "
            "partial_target methods)."
        )
    B = np.array(target, dtype=np.float64)
    if B.shape != A.shape:
        raise ValueError(
            f"target must have the shape of loadings {A.shape}, got {B.shape}."
        )
    W = np.isfinite(B).astype(np.float64)
    if weights is not None:
        W = W * np.asarray(weights, dtype=np.float64)
        if W.shape != A.shape or np.any(W < 0):
            raise ValueError(
                f"target_weights must be non-negative with shape {A.shape}."
            )
    if method.startswith("target") and not np.all(W == 1.0):
        raise ValueError(
            f"{method!r} needs a fully specified target without weights; use "
            f"'partial_{method}' for NaN (unspecified) entries or weights."
        )
    B = np.where(np.isfinite(B), B, 0.0)
    return B, None if method.startswith("target") else W


def _sort_columns(L: np.ndarray, T: np.ndarray):
    """Flip columns to positive sums; order by decreasing sum of squares."""
    signs = np.where(L.sum(axis=0) < 0, -1.0, 1.0)
    L, T = L * signs, T * signs
    order = np.argsort(-np.sum(L * L, axis=0), kind="stable")
    return L[:, order], T[:, order]


# rotate's parameters, declared once (scikit-learn's constraint tables); checked
# inside rotate, so that its warnings still name the caller's line.
_ROTATE_PARAMETERS = {
    "loadings": ["array-like"],
    "method": [StrOptions(set(ALL_METHODS))],
    "normalize": ["boolean", StrOptions({"varimax"})],
    "power": [Interval(Real, 1, None, closed="left")],
    "gamma": [Interval(Real, None, None, closed="neither")],
    "delta": [Interval(Real, 0, None, closed="neither")],
    "kappa": [Interval(Real, 0, 1, closed="both")],
    "target": [None, "array-like"],
    "target_weights": [None, "array-like"],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "n_starts": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "sort": ["boolean"],
}


def rotate(
    loadings,
    method: str = "varimax",
    *,
    normalize: bool = False,
    power: float = 4,
    gamma: float = 0.0,
    delta: float = 0.01,
    kappa: float = 0.0,
    target=None,
    target_weights=None,
    tol: float = 1e-8,
    max_iter: int = 1000,
    n_starts: int = 1,
    random_state=None,
    sort: bool = False,
) -> RotationResult:
    r"""Rotate a loadings matrix to simple structure.

    Orthogonal methods find an orthogonal T minimising Q(Λ T); oblique ones a
    T with unit-length columns minimising Q(Λ (T⁻¹)ᵀ), with factor
    correlation Φ = TᵀT. Either way Λ̃ Φ Λ̃ᵀ = Λ Λᵀ: the model covariance
    Λ Λᵀ + Ψ is unchanged.

    Criteria (all minimised; λ are the rotated loadings, d features, k
    factors):

    * ``'varimax'``: :math:`-\tfrac14\sum_j [\sum_i \lambda_{ij}^4 - \tfrac1d
      (\sum_i \lambda_{ij}^2)^2]`, minus d/4 times the summed column variances
      of the squared loadings (Kaiser 1958).
    * ``'quartimax'``: :math:`-\tfrac14 \sum_{ij} \lambda_{ij}^4`.
    * ``'equamax'``: orthomax with γ = k/2 (Crawford–Ferguson κ = k/(2d)).
    * ``'oblimin'``: :math:`\tfrac14 \sum_{j \ne l} \sum_i \lambda_{ij}^2
      \lambda_{il}^2 - \tfrac{\gamma}{4d} \sum_{j \ne l} (\sum_i
      \lambda_{ij}^2)(\sum_i \lambda_{il}^2)`; γ = 0 is quartimin.
    * ``'geomin_t'`` / ``'geomin_q'``: :math:`\sum_i (\prod_j (\lambda_{ij}^2 +
      \delta))^{1/k}`, orthogonal / oblique (δ is absolute, so meant for
      loadings on the correlation scale; use ``normalize=True`` otherwise).
    * ``'promax'``: varimax, then the least-squares fit of the target
      λ|λ|^{m−1} with m = ``power``; columns rescaled so that diag(Φ) = 1
      (Hendrickson & White 1964; R's ``stats::promax``).
    * ``'cf_t'`` / ``'cf_q'``: the Crawford–Ferguson family (1970),
      :math:`\tfrac{1-\kappa}{4} \sum_i \sum_{j \ne l} \lambda_{ij}^2
      \lambda_{il}^2 + \tfrac{\kappa}{4} \sum_j \sum_{i \ne m}
      \lambda_{ij}^2 \lambda_{mj}^2`, orthogonal / oblique (GPArotation's
      ``cfT``/``cfQ``): κ = 0 quartimax, 1/d varimax, k/(2d) equamax, 1
      factor parsimony.
    * ``'parsimax'``: orthogonal Crawford–Ferguson with κ = (k − 1)/(d + k − 2).
    * ``'biquartimax'``: orthomax with γ = ½ (halfway between quartimax and
      varimax).
    * ``'oblimax'``: :math:`-[\log \sum \lambda^4 - 2 \log \sum
      \lambda^2]`, oblique (Saunders 1961; GPArotation's ``oblimax``).
    * ``'target_t'`` / ``'target_q'``: Procrustes rotation towards a target
      B, :math:`\sum_{ij} (\lambda_{ij} - b_{ij})^2`, orthogonal (in closed
      form, Schönemann 1966; T may be a reflection) / oblique (GPArotation's
      ``targetT``/``targetQ``; Browne 1972).
    * ``'partial_target_t'`` / ``'partial_target_q'``: partially specified
      target, :math:`\sum_{ij} w_{ij}^2 (\lambda_{ij} - b_{ij})^2` with
      ``w = 0`` where B is NaN (unspecified) or ``target_weights`` is 0
      (GPArotation's ``pstT``/``pstQ``; Browne 2001).

    Iterative methods use the gradient projection algorithm (Bernaards &
    Jennrich 2005) with step-size backtracking; orthomax criteria first try
    Kaiser's SVD step, the algorithm of ``stats::varimax``.

    Parameters
    ----------
    loadings : array-like of shape (n_features, n_factors)
        Unrotated loadings Λ (``components_.T`` of a fitted estimator). Not
        modified. Under ``sklearn.set_config(array_api_dispatch=True)`` it may
        be an array-API array (PyTorch, CuPy, ...): the d×k / k×k iterations
        then run on the host in float64 (faster than many tiny device kernels)
        and ``loadings``, ``rotation`` and ``phi`` of the result come back in
        the input's namespace, device and floating dtype (see the user guide
        page "Array API and GPUs", ``docs/user_guide/array_api.rst``).
    method : str, default='varimax'
        Orthogonal: ``'varimax'``, ``'quartimax'``, ``'equamax'``,
        ``'geomin_t'``, ``'biquartimax'``, ``'parsimax'``, ``'cf_t'``,
        ``'target_t'``, ``'partial_target_t'``. Oblique: ``'promax'``,
        ``'oblimin'``, ``'geomin_q'``, ``'cf_q'``, ``'oblimax'``,
        ``'target_q'``, ``'partial_target_q'``.
    normalize : bool or 'varimax', default=False
        Kaiser normalisation: rotate the rows scaled to unit length, then scale
        back (zero rows are left as they are); T and Φ are unchanged by the
        scaling back. For promax, True normalises the whole procedure (the
        convention of ``psych::fa(rotate='promax')``) and ``'varimax'`` only
        its varimax step (R's ``stats::promax``).
    power : float, default=4
        Promax exponent m (≥ 1; 2 to 4 is usual).
    gamma : float, default=0.0
        Oblimin parameter γ.
    delta : float, default=0.01
        Geomin parameter δ > 0.
    kappa : float, default=0.0
        Crawford–Ferguson κ in [0, 1] (``'cf_t'``, ``'cf_q'``).
    target : array-like of shape (n_features, n_factors), default=None
        Target B of the target methods; NaN marks an unspecified entry (partial
        target methods only).
    target_weights : array-like of shape (n_features, n_factors), default=None
        Non-negative weights w of the partial target methods (default 1 on the
        specified entries).
    tol : float, default=1e-8
        Stop when the Frobenius norm of the projected gradient falls below
        ``tol``. It is measured on the loadings rescaled to unit
        root-mean-square row norm (with geomin's δ rescaled alike), so it does
        not depend on their units; on correlation-scale loadings it is close
        to GPArotation's ``eps``.
    max_iter : int, default=1000
        Maximum iterations per start.
    n_starts : int, default=1
        Number of starts: the identity, then ``n_starts - 1`` Haar-random
        orthogonal matrices; the result with the lowest criterion is kept.
    random_state : int, RandomState instance or None, default=None
        Seeds the random starts.
    sort : bool, default=False
        If True, flip columns to positive sums and order them by decreasing
        sum of squared loadings (``rotation`` and ``phi`` follow).

    Returns
    -------
    RotationResult
        ``loadings``, ``rotation`` T, ``phi`` Φ, ``criterion``,
        ``gradient_norm``, ``n_iter``, ``converged``.

    Warns
    -----
    ConvergenceWarning
        If the kept start did not reach ``tol`` within ``max_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels.rotations import rotate
    >>> L = np.array([[.8, .3], [.7, .4], [.3, .8], [.2, .7]])
    >>> res = rotate(L, "oblimin")
    >>> np.allclose(res.loadings @ res.phi @ res.loadings.T, L @ L.T)
    True
    """
    params = dict(locals())
    _reject_sparse(loadings)
    validate_parameter_constraints(_ROTATE_PARAMETERS, params, caller_name="rotate")
    # Array-API inputs (dispatch on): the d×k / k×k iterations run on the host
    # in float64 and the results go back to the input's namespace and device.
    ns = namespace_of(loadings, target, target_weights)
    loadings, target, target_weights = to_host(
        loadings, target, target_weights, ns=ns
    )
    A = _check_loadings(loadings)
    if normalize == "varimax" and method != "promax":
        raise ValueError(
            "normalize must be True or False ('varimax' for promax only: it "
            f"Kaiser-normalises the varimax step), got 'varimax' for {method!r}."
        )
    B, Wt = _check_target(method, A, target, target_weights)
    rng = check_random_state(random_state)
    orthogonal = method in _ORTHOGONAL
    d, k = A.shape

    if k == 1:
        # Nothing to rotate (the sign is kept, as GPArotation does).
        f = None
        if method != "promax":
            crit = _make_criterion(
                method, 1, gamma=gamma, delta=delta, kappa=kappa, d=d, target=B,
                weights=Wt,
            )
            f = float(crit(A)[0])
        eye = np.eye(1)
        return _in_namespace(
            ns, RotationResult(A, eye, eye, f, 0.0, 0, True, method, orthogonal)
        )

    if not orthogonal:
        ev = np.linalg.eigvalsh(A.T @ A)
        if ev[0] <= 1e-12 * ev[-1]:
            raise ValueError(
                f"oblique rotation ({method!r}) needs loadings of full column rank, "
                f"but the {k} columns are (nearly) linearly dependent; drop the "
                "redundant factors or use an orthogonal method."
            )
    norms = np.sqrt(np.sum(A * A, axis=1, keepdims=True))
    scale = np.where(norms > 0, norms, 1.0)  # Kaiser weights; zero rows stay
    options = dict(tol=tol, max_iter=max_iter, n_starts=n_starts, rng=rng)
    if method == "promax":
        # Varimax step, Kaiser-normalised if normalize is True or 'varimax'.
        Av = A if normalize is False else A / scale
        Tv, _, s, n_iter, converged = _iterative(
            Av, "varimax", gamma=0.0, delta=delta, **options
        )
        # Target step on the normalised loadings (True) or the raw ones.
        base = (A / scale if normalize is True else A) @ Tv
        U = _promax_target(base, power)
        L = base @ U * (scale if normalize is True else 1.0)
        T = Tv @ np.linalg.inv(U).T
        f = None
    else:
        An = A / scale if normalize else A
        if method == "target_t":
            # Orthogonal Procrustes in closed form (Schönemann 1966): the
            # polar factor of Aᵀ B, reflections included; no iteration.
            T = _polar(An.T @ B)
            f, s, n_iter, converged = float(np.sum((An @ T - B) ** 2)), 0.0, 0, True
        else:
            T, f, s, n_iter, converged = _iterative(
                An, method, gamma=float(gamma), delta=delta, kappa=float(kappa),
                target=B, weights=Wt, **options
            )
        L = A @ T if orthogonal else np.linalg.solve(T, A.T).T
    if sort:
        L, T = _sort_columns(L, T)
    phi = np.eye(k) if orthogonal else T.T @ T
    if not converged:
        why = (
            f"in {max_iter} iterations"
            if n_iter >= max_iter
            else f"(no descent left at working precision after {n_iter} iterations)"
        )
        _warnings.warn(
            f"{method} rotation did not converge {why}: projected gradient norm "
            f"{s:.3g} > tol={tol:g}. Increase max_iter, loosen tol, try "
            "normalize=True or n_starts > 1.",
            ConvergenceWarning,
        )
    return _in_namespace(
        ns, RotationResult(L, T, phi, f, s, n_iter, converged, method, orthogonal)
    )


def _in_namespace(ns: Namespace, res: RotationResult) -> RotationResult:
    """``res`` with its arrays in the caller's namespace, device and dtype."""
    if not ns.is_array_api:
        return res
    L, T, phi = from_host(ns, res.loadings, res.rotation, res.phi)
    return replace(res, loadings=L, rotation=T, phi=phi)


def varimax(loadings, *, normalize: bool = False, **kwargs) -> RotationResult:
    """Varimax rotation: ``rotate(loadings, 'varimax', ...)``."""
    return rotate(loadings, "varimax", normalize=normalize, **kwargs)


def quartimax(loadings, *, normalize: bool = False, **kwargs) -> RotationResult:
    """Quartimax rotation: ``rotate(loadings, 'quartimax', ...)``."""
    return rotate(loadings, "quartimax", normalize=normalize, **kwargs)


def promax(
    loadings, *, power: float = 4, normalize: bool | str = "varimax", **kwargs
) -> RotationResult:
    """Promax rotation; the default is R's ``stats::promax(x, m=power)``.

    That is ``rotate(loadings, 'promax', normalize='varimax', ...)``: only the
    varimax step is Kaiser-normalised. ``normalize=True`` normalises the whole
    procedure, as ``psych::fa(rotate='promax')`` does.
    """
    return rotate(loadings, "promax", power=power, normalize=normalize, **kwargs)


def oblimin(
    loadings, *, gamma: float = 0.0, normalize: bool = False, **kwargs
) -> RotationResult:
    """Direct oblimin rotation: ``rotate(loadings, 'oblimin', ...)``."""
    return rotate(loadings, "oblimin", gamma=gamma, normalize=normalize, **kwargs)
