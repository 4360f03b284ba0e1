"""The linear autoencoder's objective, written on second-order statistics.

With encoder ``h = A (x - mean)`` (``A`` is k×d) and decoder
``x̂ = mean + B h`` (``B`` is d×k), the reconstruction ``P = B A`` acts on
centred rows. Training pairs an input ``x̃`` (the row itself, or the row with
noise added) with the clean target ``x``; summed over the n rows the squared
error is

.. math::

    L_0(A, B) = \\sum_r \\lVert x_r - P \\tilde x_r \\rVert^2
              = \\operatorname{tr}\\Sigma - 2 \\operatorname{tr}(P C)
                + \\operatorname{tr}(P Q P^\\top),

with ``Σ = X_cᵀ X_c`` (target scatter), ``C = X̃_cᵀ X_c`` (input–target cross
scatter) and ``Q = X̃_cᵀ X̃_c`` (input scatter). Clean inputs give
``C = Q = Σ`` (Baldi & Hornik 1989). Gaussian input noise of standard
deviation ``s`` gives, in expectation and exactly for a linear map,
``C = Σ`` and ``Q = Σ + n s² I``: the product penalty ``n s² ‖BA‖²_F``.
Each evaluation costs O(d² k); the data are never touched again.

The penalties are per latent unit: ``Σ_i α_i ‖a_i‖² + β_i ‖b_i‖²`` over the
rows ``a_i`` of ``A`` and the columns ``b_i`` of ``B``. Weight decay λ adds λ
to every α_i and β_i, the distinct unit penalties of Bao et al. (2020) add
λ_i to both, and the contractive penalty μ ‖∂h/∂x‖²_F = μ ‖A‖²_F adds μ to
the α_i only.

The statistics may be given in any orthonormal basis of the features, and in
the scatter's eigenbasis they are diagonal: :class:`Statistics` then holds the
diagonals as vectors, and every product with ``C`` or ``Q`` is a scaling of
rows, O(m k) instead of O(m² k). The estimator fits in that basis (restricted
to the span of the centred rows when there are fewer rows than features).

These functions assume valid input; the estimator validates.
"""

from __future__ import annotations

import numpy as np


class Statistics:
    """Second-order statistics the objective needs: ``(tr Σ, C, Q)``.

    Parameters
    ----------
    trace : float
        ``tr Σ = Σ_r ‖x_r - mean‖²``.
    cross : ndarray of shape (d, d)
        ``C = X̃_cᵀ X_c`` (noisy inputs times clean targets).
    quad : ndarray of shape (d, d)
        ``Q = X̃_cᵀ X̃_c`` (symmetric).

    ``cross`` and ``quad`` may instead both be vectors of shape (d,): the
    diagonals of diagonal statistics (the scatter's eigenbasis).
    """

    def __init__(self, trace: float, cross: np.ndarray, quad: np.ndarray):
        self.trace = float(trace)
        self.cross = cross
        self.quad = quad
        self.diagonal = np.ndim(quad) == 1

    def times(self, which: str, X: np.ndarray) -> np.ndarray:
        """``C @ X``, ``Cᵀ @ X`` or ``Q @ X`` (which = 'cross', 'cross_t', 'quad')."""
        M = self.quad if which == "quad" else self.cross
        if self.diagonal:
            return M[:, None] * X
        return (M.T if which == "cross_t" else M) @ X

    @classmethod
    def eigenbasis(cls, trace: float, eigenvalues: np.ndarray, n_samples: int,
                   noise_std: float):
        """Diagonal statistics of the expected loss in the scatter's eigenbasis.

        ``eigenvalues`` are those of the scatter ``Σ`` (its diagonal in that
        basis); input noise adds ``n s²`` to ``Q``'s diagonal.
        """
        s = np.asarray(eigenvalues, dtype=float)
        quad = s + n_samples * noise_std**2 if noise_std > 0 else s
        return cls(trace, s, quad)

    @classmethod
    def expected(cls, scatter: np.ndarray, n_samples: int, noise_std: float):
        """Statistics of the expected loss under Gaussian input noise.

        ``E[X̃_cᵀ X_c] = Σ`` and ``E[X̃_cᵀ X̃_c] = Σ + n s² I`` exactly, so the
        expected loss is ``L_0 + n s² ‖B A‖²_F``.
        """
        quad = scatter
        if noise_std > 0:
            quad = scatter + (n_samples * noise_std**2) * np.eye(scatter.shape[0])
        return cls(np.trace(scatter), scatter, quad)


def unit_weights(
    n_components: int,
    weight_decay: float,
    unit_penalties: np.ndarray | None,
    contractive: float,
    *,
    tied: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit penalty weights ``(alpha, beta)`` on encoder rows / decoder columns.

    Tied weights (``B = Aᵀ``) fold ``beta`` into ``alpha`` and return zero
    ``beta``: the penalty on the one matrix is ``Σ_i (α_i + β_i) ‖a_i‖²``.
    """
    unit = np.zeros(n_components) if unit_penalties is None else unit_penalties
    alpha = weight_decay + unit + contractive
    beta = weight_decay + unit
    if tied:
        return alpha + beta, np.zeros(n_components)
    return np.asarray(alpha, float), np.asarray(beta, float)


def loss_and_grad(
    A: np.ndarray,
    B: np.ndarray,
    stats: Statistics,
    alpha: np.ndarray,
    beta: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Objective ``L_0 + Σ_i α_i ‖a_i‖² + β_i ‖b_i‖²`` and its gradients.

    With ``M = Q Aᵀ`` (d×k), ``K = A Q Aᵀ`` (k×k) and ``N = Cᵀ Aᵀ`` (d×k):

    - ``L_0 = tr Σ - 2 ⟨B, N⟩ + ⟨BᵀB, K⟩``,
    - ``∂L_0/∂B = 2 (B K - N)``,
    - ``∂L_0/∂A = 2 (BᵀB Mᵀ - (C B)ᵀ)``.

    Returns
    -------
    loss : float
    grad_A : ndarray of shape (k, d)
    grad_B : ndarray of shape (d, k)
    """
    M = stats.times("quad", A.T)
    K = A @ M
    N = stats.times("cross_t", A.T)
    BtB = B.T @ B
    loss = stats.trace - 2.0 * np.vdot(B, N) + np.vdot(BtB, K)
    grad_B = 2.0 * (B @ K - N)
    grad_A = 2.0 * (BtB @ M.T - stats.times("cross", B).T)
    row_sq = np.einsum("ij,ij->i", A, A)
    col_sq = np.einsum("ij,ij->j", B, B)
    loss += alpha @ row_sq + beta @ col_sq
    grad_A += 2.0 * alpha[:, None] * A
    grad_B += 2.0 * B * beta[None, :]
    return float(loss), grad_A, grad_B


class Objective:
    """The objective as a function of one flat parameter vector, for scipy.

    Untied parameters are ``[A.ravel(), B.ravel()]``; tied parameters are
    ``A.ravel()`` with ``B = Aᵀ`` (the chain rule adds ``∂L/∂Bᵀ`` to
    ``∂L/∂A``). The loss is divided by ``scale`` (the largest eigenvalue of
    ``Q``) so that a gradient tolerance means the same for any data scale.
    """

    def __init__(self, stats, alpha, beta, *, n_components, n_features, tied, scale):
        self.stats = stats
        self.alpha = alpha
        self.beta = beta
        self.k = n_components
        self.d = n_features
        self.tied = tied
        self.scale = scale

    def unpack(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder ``A`` (k×d) and decoder ``B`` (d×k) from the flat vector."""
        kd = self.k * self.d
        A = params[:kd].reshape(self.k, self.d)
        B = A.T if self.tied else params[kd:].reshape(self.d, self.k)
        return A, B

    def pack(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Flat parameter vector from ``A`` and ``B`` (``B`` ignored if tied)."""
        if self.tied:
            return A.ravel().copy()
        return np.concatenate([A.ravel(), B.ravel()])

    def loss(self, params: np.ndarray) -> float:
        """Objective in the user's units (summed over samples)."""
        A, B = self.unpack(params)
        return loss_and_grad(A, B, self.stats, self.alpha, self.beta)[0]

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        A, B = self.unpack(params)
        loss, grad_A, grad_B = loss_and_grad(A, B, self.stats, self.alpha, self.beta)
        if self.tied:
            grad = (grad_A + grad_B.T).ravel()
        else:
            grad = np.concatenate([grad_A.ravel(), grad_B.ravel()])
        return loss / self.scale, grad / self.scale


def largest_eigenvalue(S: np.ndarray, n_iter: int = 50) -> float:
    """Largest eigenvalue of a symmetric PSD matrix by power iteration.

    Only a scale for the optimiser's tolerance, so a few digits suffice;
    costs O(n_iter d²) instead of a full eigendecomposition.
    """
    if np.ndim(S) == 1:  # a diagonal matrix given by its diagonal
        return max(float(np.max(S)), 0.0)
    diag = np.diag(S)
    if not np.any(diag > 0):
        return 0.0
    v = S[:, int(np.argmax(diag))].copy()
    value = 0.0
    for _ in range(n_iter):
        norm = np.linalg.norm(v)
        if norm == 0:
            break
        v /= norm
        w = S @ v
        value = float(v @ w)
        v = w
    return max(value, float(diag.max()))


class EncoderSolver:
    """The encoder that minimises the objective for a fixed decoder ``B``.

    The objective is a convex quadratic in ``A``; its gradient vanishes where
    ``BᵀB A Q + diag(α) A = Bᵀ Cᵀ``. In the eigenbasis ``Q = V diag(q) Vᵀ``
    (computed once, O(d³)) the columns of ``Ã = A V`` decouple into k×k
    systems ``(q_j BᵀB + diag α) ã_j = (Bᵀ Cᵀ V)_j``; with equal α_i one
    eigendecomposition of ``BᵀB`` solves them all. Without a penalty the
    answer is ``A = B⁺`` (Baldi & Hornik 1989). Directions with ``q_j`` at
    rounding level carry no signal and get ``ã_j = 0`` when ``α = 0``.
    Each call costs O(d² k + d k²).
    """

    def __init__(self, stats: Statistics, alpha: np.ndarray):
        if stats.diagonal:  # already in the eigenbasis
            q, V = np.asarray(stats.quad, dtype=float), None
        else:
            q, V = np.linalg.eigh(stats.quad)
        q_max = max(float(q.max()), 0.0)
        eps = np.finfo(float).eps
        self.q = np.where(q > q_max * q.size * eps * 10, q, 0.0)
        self.V = V
        self.stats = stats
        self.alpha = np.asarray(alpha, dtype=float)

    def __call__(self, B: np.ndarray) -> np.ndarray:
        q, alpha = self.q, self.alpha
        G = B.T @ B
        rhs = self.stats.times("cross", B).T  # k×d: Bᵀ Cᵀ (then V)
        if self.V is not None:
            rhs = rhs @ self.V
        floor = 1e-14 * (np.abs(G).max() * q.max() + alpha.max())
        if np.ptp(alpha) == 0:  # one eigendecomposition of BᵀB does it all
            g, W = np.linalg.eigh(G)
            denom = g[:, None] * q[None, :] + alpha[0]
            coef = np.zeros_like(rhs)
            np.divide(W.T @ rhs, denom, out=coef, where=denom > floor)
            A_rot = W @ coef
        else:
            k = G.shape[0]
            systems = q[:, None, None] * G[None] + np.diag(alpha)[None]
            systems += (floor + np.finfo(float).tiny) * np.eye(k)[None]
            A_rot = np.linalg.solve(systems, rhs.T[:, :, None])[:, :, 0].T
        return A_rot if self.V is None else A_rot @ self.V.T


class ProfiledObjective(Objective):
    """Untied objective with the encoder eliminated (variable projection).

    ``f(B) = min_A L(A, B)``, with ``A`` from :class:`EncoderSolver`. Since
    ``∂L/∂A = 0`` at that ``A``, ``∇f(B) = ∂L/∂B`` there. The loss depends on
    the encoder's component along a direction of input variance ``q_j`` only
    through ``q_j``, so the joint problem is as ill-conditioned as the input
    spectrum (slow for nearly constant features); eliminating ``A`` removes
    that. The parameters are ``B.ravel()``.
    """

    def __init__(self, stats, alpha, beta, *, n_components, n_features, scale):
        super().__init__(
            stats,
            alpha,
            beta,
            n_components=n_components,
            n_features=n_features,
            tied=False,
            scale=scale,
        )
        self.encoder = EncoderSolver(stats, alpha)

    def unpack(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        B = params.reshape(self.d, self.k)
        return self.encoder(B), B

    def pack(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return B.ravel().copy()

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        A, B = self.unpack(params)
        loss, _, grad_B = loss_and_grad(A, B, self.stats, self.alpha, self.beta)
        return loss / self.scale, grad_B.ravel() / self.scale
