r"""Standard errors of a maximum likelihood factor solution (expected information).

The model covariance ``C(θ) = Λ Φ Λᵀ + Ψ`` depends on ``θ = (vec Λ, ψ, φ)``
(loadings row by row, noise variances, the off-diagonal factor correlations
``φ_rs``, r < s, when oblique). The expected information of one observation is

.. math::

    \mathcal I_{ab} = \tfrac12 \operatorname{tr}\bigl(C^{-1} \partial_a C\,
    C^{-1} \partial_b C\bigr),

which is singular: the rotations that leave ``C`` unchanged are not
identified. A solution is identified by ``r`` constraints ``h(θ) = 0`` (the
unrotated maximum likelihood solution: ``Λᵀ Ψ⁻¹ Λ`` diagonal, ``k(k−1)/2``
equations; a rotation: the stationarity of its criterion, ``k(k−1)/2``
equations when orthogonal and ``k(k−1)`` when oblique). With ``D = ∂h/∂θ``
the asymptotic covariance of ``θ̂`` is ``1/n`` times the upper-left block of

.. math::

    \begin{pmatrix} \mathcal I & D^\top \\ D & 0 \end{pmatrix}^{-1}

(Silvey 1959; Jennrich 1973, 1974): the delta method through the rotation,
without differentiating the rotation algorithm. The stationarity conditions of
a criterion ``Q`` with gradient ``G = ∂Q/∂Λ`` are ``Λᵀ G`` symmetric
(orthogonal rotation) and ``Φ⁻¹ Gᵀ Λ`` diagonal (oblique rotation), evaluated on
the loadings the rotation saw (standardised by the feature scales and, with
Kaiser normalisation, by the communalities). ``D`` is computed by central
differences of ``h``.

References
----------
Jennrich, R. I. (1973). Standard errors for obliquely rotated factor loadings.
Psychometrika 38(4):593–604.
Jennrich, R. I. (1974). Simplified formulae for standard errors in
maximum-likelihood factor analysis. British Journal of Mathematical and
Statistical Psychology 27(1):122–131.
Silvey, S. D. (1959). The Lagrangian multiplier test. Annals of Mathematical
Statistics 30(2):389–407.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import linalg


def _upper(k: int):
    return np.triu_indices(k, 1)


def pack(W, psi, phi=None) -> np.ndarray:
    """``θ = (vec W row by row, ψ, φ_rs for r < s)``."""
    parts = [np.ravel(W), np.ravel(psi)]
    if phi is not None:
        parts.append(phi[_upper(W.shape[1])])
    return np.concatenate(parts)


def unpack(theta, d: int, k: int, oblique: bool):
    W = theta[: d * k].reshape(d, k)
    psi = theta[d * k : d * k + d]
    phi = None
    if oblique:
        phi = np.eye(k)
        iu = _upper(k)
        phi[iu] = theta[d * k + d :]
        phi[(iu[1], iu[0])] = theta[d * k + d :]
    return W, psi, phi


def expected_information(W, psi, phi=None) -> np.ndarray:
    r"""Expected information per observation, ``½ tr(C⁻¹ ∂_aC C⁻¹ ∂_bC)``.

    In closed form, with ``P = C⁻¹``, ``M = Λ Φ``, ``A = Mᵀ P M``,
    ``Q = Λᵀ P Λ`` and ``B = Mᵀ P Λ``:

    .. math::

        \mathcal I(λ_{ir}, λ_{js}) &= P_{ij} A_{rs} + (PM)_{is} (PM)_{jr}, \\
        \mathcal I(λ_{ir}, ψ_j) &= P_{ij} (PM)_{jr}, \qquad
        \mathcal I(ψ_i, ψ_j) = \tfrac12 P_{ij}^2, \\
        \mathcal I(λ_{ir}, φ_{tu}) &= B_{rt} (PΛ)_{iu} + B_{ru} (PΛ)_{it}, \qquad
        \mathcal I(ψ_j, φ_{tu}) = (PΛ)_{jt} (PΛ)_{ju}, \\
        \mathcal I(φ_{rs}, φ_{tu}) &= Q_{rt} Q_{su} + Q_{ru} Q_{st}.
    """
    d, k = W.shape
    M = W if phi is None else W @ phi
    C = M @ W.T + np.diag(psi)
    P = linalg.cho_solve(linalg.cho_factor(C, lower=True), np.eye(d))
    PM, PW = P @ M, P @ W
    A = M.T @ PM
    LL = np.kron(P, A) + np.einsum("is,jr->irjs", PM, PM).reshape(d * k, d * k)
    LP = (P[:, None, :] * PM.T[None, :, :]).reshape(d * k, d)  # P_ij (PM)_jr
    PP = 0.5 * P**2
    if phi is None:
        return np.block([[LL, LP], [LP.T, PP]])
    iu = _upper(k)
    Q, B = W.T @ PW, M.T @ PW
    t, u = iu
    LF = (
        B[None, :, t] * PW[:, None, u] + B[None, :, u] * PW[:, None, t]
    ).reshape(d * k, len(t))
    PF = PW[:, t] * PW[:, u]
    FF = Q[np.ix_(t, t)] * Q[np.ix_(u, u)] + Q[np.ix_(t, u)] * Q[np.ix_(u, t)]
    return np.block([[LL, LP, LF], [LP.T, PP, PF], [LF.T, PF.T, FF]])


def discrepancy_gradient(theta, d: int, k: int, oblique: bool, S) -> np.ndarray:
    r"""Gradient of ``f(θ) = ½[log det C + tr(C⁻¹ S)]`` (minus the mean
    log-likelihood, up to a constant).

    With ``Δ = C⁻¹ − C⁻¹ S C⁻¹``: ``∂f/∂λ_ir = (Δ Λ Φ)_ir``,
    ``∂f/∂ψ_i = ½ Δ_ii`` and ``∂f/∂φ_rs = (Λᵀ Δ Λ)_rs``.
    """
    W, psi, phi = unpack(theta, d, k, oblique)
    M = W if phi is None else W @ phi
    C = M @ W.T + np.diag(psi)
    cho = linalg.cho_factor(C, lower=True)
    P = linalg.cho_solve(cho, np.eye(d))
    Delta = P - P @ S @ P
    parts = [(Delta @ M).ravel(), 0.5 * np.diag(Delta)]
    if oblique:
        parts.append((W.T @ Delta @ W)[_upper(k)])
    return np.concatenate(parts)


def observed_information(W, psi, phi, S) -> np.ndarray:
    """Observed information per observation: the Hessian of ``f`` at ``θ``,
    by central differences of its analytic gradient (symmetrised)."""
    d, k = W.shape
    oblique = phi is not None
    H = numerical_jacobian(
        lambda t: discrepancy_gradient(t, d, k, oblique, S), pack(W, psi, phi)
    )
    return 0.5 * (H + H.T)


def numerical_jacobian(h: Callable, theta: np.ndarray) -> np.ndarray:
    """Central differences of ``h`` at ``θ`` (relative step ``1e-6``)."""
    h0 = np.asarray(h(theta))
    J = np.empty((h0.size, theta.size))
    for a in range(theta.size):
        step = 1e-6 * max(1.0, abs(theta[a]))
        tp, tm = theta.copy(), theta.copy()
        tp[a] += step
        tm[a] -= step
        J[:, a] = (np.asarray(h(tp)) - np.asarray(h(tm))) / (2.0 * step)
    return J


def constrained_covariance(info: np.ndarray, D: np.ndarray, n: int) -> np.ndarray:
    """``1/n`` times the upper-left block of ``[[I, Dᵀ], [D, 0]]⁻¹``."""
    p, r = info.shape[0], D.shape[0]
    B = np.zeros((p + r, p + r))
    B[:p, :p] = info
    B[:p, p:] = D.T
    B[p:, :p] = D
    try:
        inv = linalg.inv(B)
    except linalg.LinAlgError as exc:
        raise np.linalg.LinAlgError(
            "The information matrix bordered by the identification constraints "
            "is singular: the solution is not locally identified (a Heywood "
            "case, or more factors than the data support)."
        ) from exc
    return inv[:p, :p] / n


def canonical_constraint(d: int, k: int) -> Callable:
    """``h(θ)``: the off-diagonal entries of ``Λᵀ Ψ⁻¹ Λ`` (unrotated ML)."""

    def h(theta):
        W, psi, _ = unpack(theta, d, k, False)
        A = W.T @ (W / psi[:, None])
        return A[_upper(k)]

    return h


def rotation_constraint(
    d: int,
    k: int,
    criterion: Callable,
    scale: np.ndarray | None,
    *,
    oblique: bool,
    kaiser: bool,
) -> Callable:
    """``h(θ)``: stationarity of a rotation criterion at the loadings it saw.

    The rotation saw ``L = Λ / scale`` (row-wise; ``scale=None``: the model's
    standard deviations ``diag(Λ Φ Λᵀ + Ψ)^{1/2}``, which equal the sample
    ones at the maximum likelihood estimate and carry their sampling
    variability into the standard errors, as lavaan does), further divided by the
    row norms of ``L Φ^{1/2}`` (the square roots of the communalities) when
    ``kaiser``. Orthogonal: the off-diagonal part of ``Lᵀ G − Gᵀ L``; oblique:
    the off-diagonal entries of ``Φ⁻¹ Gᵀ L``.
    """
    off = ~np.eye(k, dtype=bool)

    def h(theta):
        W, psi, phi = unpack(theta, d, k, oblique)
        if scale is None:  # the model's standard deviations, functions of θ
            comm = np.sum((W @ phi) * W, axis=1) if oblique else np.sum(W * W, 1)
            L = W / np.sqrt(comm + psi)[:, None]
        else:
            L = W / scale[:, None]
        if kaiser:
            comm = np.sum((L @ phi) * L, axis=1) if oblique else np.sum(L * L, axis=1)
            L = L / np.sqrt(comm)[:, None]
        _, G = criterion(L)
        if oblique:
            return np.linalg.solve(phi, G.T @ L)[off]
        A = L.T @ G
        return (A - A.T)[_upper(k)]

    return h


def parameter_covariance(W, psi, phi, n, constraint, S=None) -> np.ndarray:
    """Asymptotic covariance of ``θ̂`` identified by ``constraint``.

    From the expected information, or the observed one when the sample
    covariance ``S`` is given.
    """
    theta = pack(W, psi, phi)
    if S is None:
        info = expected_information(W, psi, phi)
    else:
        info = observed_information(W, psi, phi, S)
    D = numerical_jacobian(constraint, theta)
    return constrained_covariance(info, D, n)
