"""Rotation non-identifiability made visible, and measures of recovery.

A Gaussian factor model ``x ~ N(μ, W Wᵀ + Ψ)`` is unchanged when the loadings
``W`` (d, k) are replaced by ``W R`` for any orthogonal ``R`` (k, k): the
covariance ``W R Rᵀ Wᵀ + Ψ`` is the same, so is the likelihood, and maximum
likelihood can only recover the *subspace* of ``W``. A non-Gaussian prior on the
factors (Laplace, as in sparse coding) removes the ambiguity up to permutation
and sign (Comon 1994; Hyvärinen & Oja 2000). This module gives the instruments:

* :func:`random_rotation` -- Haar-distributed orthogonal matrices;
* :func:`rotate_model` and :func:`likelihood_invariance` -- turn a fitted
  Gaussian model along the flat direction of its likelihood;
* recovery measures between true and estimated loadings, all in the
  ``(k, d)`` ``components`` convention: :func:`principal_angles` and
  :func:`max_principal_angle` (subspace, rotation-invariant),
  :func:`procrustes_alignment` (up to rotation), :func:`matched_congruence` and
  :func:`amari_distance` (up to permutation, sign and, for Amari, scale), and
  :func:`recovery_report` that returns them all. Under
  ``sklearn.set_config(array_api_dispatch=True)`` they accept array-API
  arrays (PyTorch, CuPy, ...): the k×d / k×k computations run on the host
  with numpy/scipy in float64 and array results come back in the input's
  namespace, device and floating dtype (scalars stay Python floats); see the
  user guide page ``docs/user_guide/array_api.rst``;
* the comparison printed by ``python -m latentmodels identifiability`` lives
  with the command line (:func:`latentmodels.cli.identifiability_demo`).

References
----------
Amari, S., Cichocki, A. & Yang, H. H. (1996). A new learning algorithm for blind
signal separation. NIPS 8.
Comon, P. (1994). Independent component analysis, a new concept? Signal
Processing 36:287-314.
Hyvärinen, A. & Oja, E. (2000). Independent component analysis: algorithms and
applications. Neural Networks 13:411-430.
Lorenzo-Seva, U. & ten Berge, J. M. F. (2006). Tucker's congruence coefficient
as a meaningful index of factor similarity. Methodology 2:57-64.
Mezzadri, F. (2007). How to generate random matrices from the classical compact
groups. Notices of the AMS 54:592-604.
Schönemann, P. H. (1966). A generalized solution of the orthogonal Procrustes
problem. Psychometrika 31:1-10.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg import orthogonal_procrustes, subspace_angles
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from ._array_api import as_numpy, from_host, namespace_of, to_host
from ._validation import as_real_array, check_array_finite, check_positive_int

__all__ = [
    "CongruenceResult",
    "LikelihoodInvarianceResult",
    "ProcrustesResult",
    "RecoveryReport",
    "amari_distance",
    "congruence_matrix",
    "likelihood_invariance",
    "matched_congruence",
    "max_principal_angle",
    "principal_angles",
    "procrustes_alignment",
    "random_rotation",
    "recovery_report",
    "rotate_model",
]

_ORTHOGONALITY_TOL = 1e-8


# --------------------------------------------------------------------------
# Random rotations and rotated models
# --------------------------------------------------------------------------
def random_rotation(k: int, random_state=None) -> np.ndarray:
    """Draw a Haar-distributed (uniform) orthogonal ``k × k`` matrix.

    With ``Z`` a ``k × k`` matrix of i.i.d. standard normals and ``Z = Q R`` its
    QR decomposition, ``Q · diag(sign(diag R))`` is Haar-distributed on the
    orthogonal group O(k) (Mezzadri 2007). The sign correction matters: the
    raw ``Q`` of a Householder QR is not uniform (its determinant, for
    instance, is the same for every draw). Half of the draws have
    ``det = -1`` (reflections): all of O(k) leaves a Gaussian model unchanged.

    Parameters
    ----------
    k : int
        Size of the matrix (at least 1).
    random_state : int, RandomState instance or None, default=None
        Seed or generator.

    Returns
    -------
    R : ndarray of shape (k, k)
        Orthogonal matrix, ``Rᵀ R = I``.
    """
    k = check_positive_int(k, "k")
    rng = check_random_state(random_state)
    Q, R = np.linalg.qr(rng.standard_normal((k, k)))
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0  # probability zero, but keep Q orthogonal anyway
    return Q * signs


def _check_orthogonal(R, k: int) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.shape != (k, k):
        raise ValueError(
            f"R must have shape (n_components, n_components) = ({k}, {k}), "
            f"got {R.shape}."
        )
    check_array_finite(R, name="R")
    err = np.max(np.abs(R.T @ R - np.eye(k)))
    if err > _ORTHOGONALITY_TOL:
        raise ValueError(
            f"R is not orthogonal: max |RᵀR - I| = {err:.3g} > "
            f"{_ORTHOGONALITY_TOL:g}. Only orthogonal R leave the model unchanged; "
            "draw one with random_rotation(k) or orthonormalise yours "
            "(scipy.linalg.polar(R)[0])."
        )
    return R


def _check_gaussian_model(estimator) -> np.ndarray:
    """Check a fitted Gaussian latent model and return its ``components_``."""
    needed = ("components_", "noise_variance_", "mean_")
    missing = [a for a in needed if not hasattr(estimator, a)]
    if missing:
        if not any(hasattr(estimator, a) for a in ("components_", "n_features_in_")):
            raise NotFittedError(
                f"{type(estimator).__name__} is not fitted: call fit(X) first."
            )
        raise TypeError(
            "expected a fitted Gaussian latent model with components_, "
            f"noise_variance_ and mean_; {type(estimator).__name__} lacks "
            f"{', '.join(missing)}."
        )
    components = np.asarray(estimator.components_, dtype=float)
    if components.ndim != 2:
        raise TypeError(
            "components_ must be 2-D (n_components, n_features), got shape "
            f"{components.shape}."
        )
    return components


def rotate_model(estimator: BaseEstimator, R: ArrayLike) -> BaseEstimator:
    """Return a fitted copy of a Gaussian latent model with loadings ``W R``.

    With ``W = components_.T`` (d, k), the copy has ``components_ = Rᵀ
    components_`` so that its loadings are ``W R``. For orthogonal ``R`` its
    covariance ``W R Rᵀ Wᵀ + Ψ`` equals the original one, so its likelihood
    (``score``, ``score_samples``) is the same to rounding, while its posterior
    means turn: with ``M = I + Wᵀ Ψ⁻¹ W`` the rotated model has ``M' = Rᵀ M R``
    and ``E'[h | x] = Rᵀ E[h | x]``, i.e. ``transform`` returns
    ``transform_original(X) @ R`` (rows).

    ``components_`` is replaced, and so are the two attributes that record the
    basis of the loadings in :class:`latentmodels.FactorAnalysis`:
    ``rotation_matrix_`` ``T`` becomes ``T R`` and an oblique rotation's
    ``factor_correlation_`` ``Φ`` becomes ``Rᵀ Φ R`` (so ``W Φ Wᵀ`` is kept;
    it is then a factor covariance, with unit diagonal only when ``R`` is a
    signed permutation). Every other fitted attribute is deep copied
    unchanged. This is exact for estimators whose ``score`` and ``transform``
    read only these attributes, ``noise_variance_`` and ``mean_``
    (latentmodels' ProbabilisticPCA and FactorAnalysis, scikit-learn's
    FactorAnalysis). Per-component summaries that some estimators keep (e.g.
    ``loglike_`` is fine, but an ``explained_variance_`` for each component
    is not) are *not* rotated and no longer describe the rotated components.
    latentmodels' PCA is refused: its likelihood reads ``explained_variance_``
    along with orthonormal ``components_``. If the estimator has
    ``get_covariance``, the copy's covariance is checked against the
    original's, so an estimator that caches rotation-sensitive state used by
    its likelihood (scikit-learn's PCA, for instance) raises an error instead
    of returning a wrong model.

    Parameters
    ----------
    estimator : fitted estimator
        A Gaussian latent model with ``components_`` (k, d), ``noise_variance_``
        and ``mean_``.
    R : array-like of shape (k, k)
        Orthogonal matrix (``|RᵀR - I| <= 1e-8`` entrywise).

    Returns
    -------
    rotated : estimator
        A deep copy with rotated ``components_``.
    """
    components = _check_gaussian_model(estimator)
    R = _check_orthogonal(R, components.shape[0])
    rotated = copy.deepcopy(estimator)
    rotated.components_ = R.T @ components
    # Attributes that describe the loadings' basis turn with them (the
    # conventions of latentmodels.FactorAnalysis): loadings W T⁻ᵀ from the
    # unrotated W become W T⁻ᵀ R = W (T R)⁻ᵀ, and Φ = TᵀT becomes Rᵀ Φ R, which
    # keeps W Φ Wᵀ and so the likelihood.
    T = getattr(estimator, "rotation_matrix_", None)
    if T is not None and np.shape(T) == R.shape:
        rotated.rotation_matrix_ = np.asarray(T) @ R
    phi = getattr(estimator, "factor_correlation_", None)
    if phi is not None:
        rotated.factor_correlation_ = R.T @ np.asarray(phi) @ R
    if hasattr(estimator, "get_covariance"):
        C0, C1 = estimator.get_covariance(), rotated.get_covariance()
        if not np.allclose(C1, C0, rtol=1e-8, atol=1e-10 * np.max(np.abs(C0))):
            raise TypeError(
                f"{type(estimator).__name__} keeps rotation-sensitive fitted state: "
                "its covariance changed when only components_ was rotated, so "
                "rotate_model cannot rotate it exactly. Use a model whose "
                "likelihood reads only components_, noise_variance_ and mean_ "
                "(e.g. latentmodels.FactorAnalysis or ProbabilisticPCA)."
            )
    return rotated


@dataclass(frozen=True)
class LikelihoodInvarianceResult:
    """What :func:`likelihood_invariance` measured.

    Index 0 of each array is the unrotated model, indices 1.. the rotations.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_rotations + 1,)
        Mean log-likelihood per row (``score``) of each rotated model.
    log_likelihood_spread : float
        ``max - min`` of ``log_likelihoods``: zero up to rounding for a
        Gaussian model.
    laplace_criteria : ndarray of shape (n_rotations + 1,)
        Mean over rows of the unit-variance Laplace negative log-density of
        the posterior-mean codes, ``Σ_j (√2 |h_j| + ½ log 2)``.
    laplace_criterion_spread : float
        ``max - min`` of ``laplace_criteria``: a non-Gaussian criterion is not
        rotation-invariant, so this is clearly positive.
    rotations : ndarray of shape (n_rotations, k, k)
        The Haar rotations used.
    """

    log_likelihoods: np.ndarray
    log_likelihood_spread: float
    laplace_criteria: np.ndarray
    laplace_criterion_spread: float
    rotations: np.ndarray


def _laplace_criterion(H: np.ndarray) -> float:
    k = H.shape[1]
    return float(
        np.sqrt(2.0) * np.mean(np.sum(np.abs(H), axis=1)) + 0.5 * k * np.log(2)
    )


def likelihood_invariance(
    estimator: BaseEstimator, X: ArrayLike, n_rotations: int = 20, random_state=None
) -> LikelihoodInvarianceResult:
    """Evaluate a fitted Gaussian model along random rotations of its loadings.

    For ``n_rotations`` Haar rotations ``R`` (:func:`random_rotation`) the model
    ``rotate_model(estimator, R)`` is scored on ``X``. A Gaussian likelihood
    depends on ``W`` only through ``W Wᵀ``, so the spread of the scores is zero
    up to rounding. For contrast, the same rotations change a non-Gaussian
    criterion: the Laplace-prior objective ``√2 Σ_j |h_j|`` of the posterior
    means ``h = E[h | x]`` (the prior term of sparse coding), whose minimum
    over rotations picks out the axes when the factors are Laplace.

    Parameters
    ----------
    estimator : fitted Gaussian latent model
        See :func:`rotate_model`; it needs ``score`` and ``transform``.
    X : array-like of shape (n_samples, n_features)
        Data to score.
    n_rotations : int, default=20
        Number of random rotations (at least 1).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the rotations.

    Returns
    -------
    result : LikelihoodInvarianceResult
    """
    n_rotations = check_positive_int(n_rotations, "n_rotations")
    for method in ("score", "transform"):
        if not callable(getattr(estimator, method, None)):
            raise TypeError(
                f"likelihood_invariance needs an estimator with {method}(X); "
                f"{type(estimator).__name__} has none."
            )
    k = _check_gaussian_model(estimator).shape[0]
    rng = check_random_state(random_state)
    rotations = np.stack([random_rotation(k, rng) for _ in range(n_rotations)])
    models = [estimator] + [rotate_model(estimator, R) for R in rotations]
    ll = np.array([m.score(X) for m in models], dtype=float)
    lap = np.array([_laplace_criterion(m.transform(X)) for m in models])
    return LikelihoodInvarianceResult(
        log_likelihoods=ll,
        log_likelihood_spread=float(ll.max() - ll.min()),
        laplace_criteria=lap,
        laplace_criterion_spread=float(lap.max() - lap.min()),
        rotations=rotations,
    )


# --------------------------------------------------------------------------
# Recovery measures (components in the (k, d) convention)
# --------------------------------------------------------------------------
def _on_host(measure):
    """Run ``measure(true, estimated)`` on the host for array-API inputs.

    With dispatch on and array-API inputs, both arguments are moved to numpy,
    the measure runs unchanged, and its arrays (bare or in a result dataclass)
    go back to the inputs' namespace, device and floating dtype. Otherwise
    the measure is called as it is.
    """

    @functools.wraps(measure)
    def wrapper(true_components, estimated_components):
        ns = namespace_of(true_components, estimated_components)
        if not ns.is_array_api:
            return measure(true_components, estimated_components)
        out = measure(*to_host(true_components, estimated_components, ns=ns))
        if isinstance(out, np.ndarray):
            return from_host(ns, out)
        if hasattr(out, "__dataclass_fields__"):
            moved = {
                f.name: from_host(ns, getattr(out, f.name))
                for f in fields(out)
                if isinstance(getattr(out, f.name), np.ndarray)
            }
            return replace(out, **moved)
        return out

    return wrapper


def _check_components(A, name: str) -> np.ndarray:
    A = as_real_array(A, name=name)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(
            f"{name} must be a non-empty 2-D array of shape (n_components, "
            f"n_features), got shape {A.shape}; for a single component use "
            "a.reshape(1, -1)."
        )
    check_array_finite(A, name=name)
    return A


def _check_pair(true_components, estimated_components, *, same_k: bool = False):
    T = _check_components(true_components, "true_components")
    E = _check_components(estimated_components, "estimated_components")
    if T.shape[1] != E.shape[1]:
        raise ValueError(
            f"true_components has {T.shape[1]} features but estimated_components "
            f"has {E.shape[1]}; both must be (n_components, n_features)."
        )
    if same_k and T.shape[0] != E.shape[0]:
        raise ValueError(
            f"this measure needs as many estimated components as true ones, got "
            f"{E.shape[0]} and {T.shape[0]}; compare subspaces with "
            "principal_angles or match components with matched_congruence."
        )
    if not np.any(T):
        raise ValueError("true_components is all zero: there is nothing to recover.")
    return T, E


@_on_host
def principal_angles(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> np.ndarray:
    """Principal angles between the spans of the true and estimated loadings.

    The angles ``θ_i ∈ [0, π/2]`` between ``span(Wᵀ_true)`` and
    ``span(Wᵀ_est)`` (the row spaces of the ``(k, d)`` components) are the
    arccosines of the singular values of ``Q_trueᵀ Q_est`` for orthonormal bases
    ``Q``; computed with :func:`scipy.linalg.subspace_angles`, which is accurate
    for small angles too. They are invariant to any invertible mixing of the
    components (rotation, scaling, permutation, sign), so they measure
    recovery *up to rotation*, which is all a Gaussian model can achieve.
    Different numbers of components are allowed: ``min(k_true, k_est)``
    angles are returned. When all angles are small (a good estimate) they are
    exact to rounding; when small and large angles mix, scipy obtains some
    small ones from an arccosine, accurate to about ``√(2ε) ≈ 1.5e-8`` rad.

    Array-API inputs (dispatch on) are compared on the host; the angles come
    back in their namespace, device and floating dtype.

    Returns
    -------
    angles : ndarray of shape (min(k_true, k_est),)
        In radians, largest first.
    """
    T, E = _check_pair(true_components, estimated_components)
    return subspace_angles(T.T, E.T)


@_on_host
def max_principal_angle(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> float:
    """Largest principal angle (radians) between true and estimated subspaces.

    See :func:`principal_angles`. Zero when the estimated components span the
    true subspace (or contain it, when ``k_est > k_true``), ``π/2`` when some
    true direction is orthogonal to every estimated one.
    """
    return float(np.max(principal_angles(true_components, estimated_components)))


@dataclass(frozen=True)
class ProcrustesResult:
    """Orthogonal Procrustes alignment of estimated to true loadings.

    Attributes
    ----------
    rotation : ndarray of shape (k, k)
        Orthogonal ``Q`` minimising ``‖W_est Q − W_true‖_F`` (W = components.T).
    aligned_components : ndarray of shape (k, d)
        ``(W_est Q)ᵀ = Qᵀ estimated_components``.
    residual : float
        ``‖W_est Q − W_true‖_F``.
    relative_residual : float
        ``residual / ‖W_true‖_F``.
    """

    rotation: np.ndarray
    aligned_components: np.ndarray
    residual: float
    relative_residual: float


@_on_host
def procrustes_alignment(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> ProcrustesResult:
    """Align estimated to true loadings by the best orthogonal matrix.

    Solves ``min_Q ‖W_est Q − W_true‖_F`` over orthogonal ``Q`` (Schönemann
    1966) with :func:`scipy.linalg.orthogonal_procrustes`: with the SVD
    ``W_estᵀ W_true = U Σ Vᵀ``, ``Q = U Vᵀ``. The residual is zero exactly when
    the estimate equals the truth up to an orthogonal ``Q`` (rotation,
    reflection, permutation, sign), which is what a Gaussian model identifies;
    unlike principal angles it is sensitive to the *scale* of the loadings.
    Both arguments must have the same number of components. Array-API inputs
    (dispatch on) are aligned on the host; ``rotation`` and
    ``aligned_components`` come back in their namespace, device and dtype.
    """
    T, E = _check_pair(true_components, estimated_components, same_k=True)
    Q, _ = orthogonal_procrustes(E.T, T.T)
    aligned = Q.T @ E
    residual = float(np.linalg.norm(aligned - T))
    return ProcrustesResult(
        rotation=Q,
        aligned_components=aligned,
        residual=residual,
        relative_residual=residual / float(np.linalg.norm(T)),
    )


@dataclass(frozen=True)
class CongruenceResult:
    """Tucker's congruence after matching components up to order and sign.

    Attributes
    ----------
    congruences : ndarray of shape (k_true,)
        Congruence of each true component with its match, made non-negative
        by the sign flip; 0 for a true component left unmatched
        (``k_est < k_true``).
    permutation : ndarray of int, shape (k_true,)
        Index of the estimated component matched to each true one (-1 when
        unmatched).
    signs : ndarray of shape (k_true,)
        ``±1`` flips applied to the matched estimated components (0 when
        unmatched).
    mean_congruence : float
        Mean of ``congruences``.
    congruence_matrix : ndarray of shape (k_true, k_est)
        All signed congruences ``φ(true_i, est_j)``.
    aligned_components : ndarray of shape (k_true, d)
        ``signs[i] * estimated_components[permutation[i]]`` (zero rows where
        unmatched).
    """

    congruences: np.ndarray
    permutation: np.ndarray
    signs: np.ndarray
    mean_congruence: float
    congruence_matrix: np.ndarray
    aligned_components: np.ndarray


@_on_host
def congruence_matrix(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> np.ndarray:
    """Tucker's congruence coefficients between every pair of components.

    ``φ(a, b) = aᵀ b / (‖a‖ ‖b‖)``: the cosine between two loading vectors
    (Lorenzo-Seva & ten Berge 2006). An estimated component that is exactly
    zero (e.g. an unused dictionary atom) has congruence 0 with everything.
    Array-API inputs (dispatch on): computed on the host, returned in their
    namespace, device and floating dtype.

    Returns
    -------
    phi : ndarray of shape (k_true, k_est)
    """
    T, E = _check_pair(true_components, estimated_components)
    nt, ne = np.linalg.norm(T, axis=1), np.linalg.norm(E, axis=1)
    if np.any(nt == 0):
        raise ValueError(
            f"true component {int(np.argmin(nt))} is zero: congruence is undefined."
        )
    ne = np.where(ne == 0, np.inf, ne)
    return (T / nt[:, None]) @ (E / ne[:, None]).T


@_on_host
def matched_congruence(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> CongruenceResult:
    """Tucker's congruence after Hungarian matching up to permutation and sign.

    The assignment of estimated to true components maximising
    ``Σ_i |φ(true_i, est_π(i))|`` is found with
    :func:`scipy.optimize.linear_sum_assignment`; each match is then
    sign-flipped to make its congruence non-negative. A mean congruence near
    1 means the *axes* were recovered (what a non-Gaussian prior allows); a
    Gaussian model that only finds the subspace typically lands well below 1
    because its components are an arbitrary rotation of the true ones.
    Congruence is invariant to the scale of each component. Different
    numbers of components are allowed (unmatched true components count 0).
    Array-API inputs (dispatch on): matched on the host (the assignment is a
    scipy routine); the arrays of the result come back in their namespace and
    device (``permutation`` as integers, the others in the inputs' dtype).
    """
    T, E = _check_pair(true_components, estimated_components)
    phi = congruence_matrix(T, E)
    rows, cols = linear_sum_assignment(np.abs(phi), maximize=True)
    k = T.shape[0]
    permutation = np.full(k, -1, dtype=int)
    signs = np.zeros(k)
    permutation[rows] = cols
    matched = phi[rows, cols]
    signs[rows] = np.where(matched < 0, -1.0, 1.0)
    congruences = np.zeros(k)
    congruences[rows] = np.abs(matched)
    aligned = np.zeros_like(T)
    aligned[rows] = signs[rows, None] * E[cols]
    return CongruenceResult(
        congruences=congruences,
        permutation=permutation,
        signs=signs,
        mean_congruence=float(congruences.mean()),
        congruence_matrix=phi,
        aligned_components=aligned,
    )


@_on_host
def amari_distance(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> float:
    """Amari distance between true and estimated loadings, in [0, 1].

    With ``W = components.T`` (d, k) and ``P = pinv(W_true) W_est`` (k, k),

    ``A(P) = 1/(2k(k−1)) [Σ_i (Σ_j |p_ij| / max_j |p_ij| − 1)
    + Σ_j (Σ_i |p_ij| / max_i |p_ij| − 1)]``

    (Amari, Cichocki & Yang 1996, normalised so that 0 is perfect recovery and
    1 the worst case, ``|p_ij|`` all equal). It is 0 exactly when ``P`` is a
    scaled permutation, i.e. when the estimate equals the truth up to order,
    sign and scale of the components; it is positive for a rotation. A row
    or column of ``P`` that is entirely zero counts as worst (``k − 1``). For
    ``k = 1`` it is 0. Both arguments must have the same number of
    components. Array-API inputs (dispatch on) are accepted; the k×k
    computation runs on the host and the distance is a Python float.
    """
    T, E = _check_pair(true_components, estimated_components, same_k=True)
    k = T.shape[0]
    if k == 1:
        return 0.0
    P = np.abs(np.linalg.pinv(T.T) @ E.T)

    def _side(A: np.ndarray) -> float:
        peak = A.max(axis=1)
        ok = peak > 0
        terms = np.full(A.shape[0], k - 1.0)
        terms[ok] = A[ok].sum(axis=1) / peak[ok] - 1.0
        return float(terms.sum())

    return (_side(P) + _side(P.T)) / (2.0 * k * (k - 1))


@dataclass(frozen=True)
class RecoveryReport:
    """All recovery measures of :func:`recovery_report`.

    ``procrustes_relative_residual`` and ``amari_distance`` are None when the
    numbers of components differ (they need square alignments).
    """

    principal_angles: np.ndarray
    max_principal_angle: float
    procrustes_relative_residual: float | None
    mean_congruence: float
    congruences: np.ndarray
    permutation: np.ndarray
    signs: np.ndarray
    amari_distance: float | None

    def as_dict(self) -> dict:
        """Plain-Python version (floats and lists), e.g. for JSON or printing."""
        out = {}
        for key, value in asdict(self).items():
            if value is not None and not isinstance(value, (float, int)):
                value = as_numpy(value)
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


@_on_host
def recovery_report(
    true_components: ArrayLike, estimated_components: ArrayLike
) -> RecoveryReport:
    """Compare estimated with true loadings by every measure at once.

    * up to rotation: :func:`principal_angles` (and the largest one) and the
      relative residual of :func:`procrustes_alignment`;
    * up to permutation and sign: :func:`matched_congruence`;
    * up to permutation, sign and scale: :func:`amari_distance`.

    Parameters
    ----------
    true_components : array-like of shape (k_true, n_features)
    estimated_components : array-like of shape (k_est, n_features)

    Returns
    -------
    report : RecoveryReport
    """
    T, E = _check_pair(true_components, estimated_components)
    angles = principal_angles(T, E)
    cong = matched_congruence(T, E)
    square = T.shape[0] == E.shape[0]
    return RecoveryReport(
        principal_angles=angles,
        max_principal_angle=float(angles.max()),
        procrustes_relative_residual=(
            procrustes_alignment(T, E).relative_residual if square else None
        ),
        mean_congruence=cong.mean_congruence,
        congruences=cong.congruences,
        permutation=cong.permutation,
        signs=cong.signs,
        amari_distance=amari_distance(T, E) if square else None,
    )
