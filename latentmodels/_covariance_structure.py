r"""The covariance structure ``C(θ) = Λ Φ Λᵀ + Ψ`` of a factor model; derivatives.

``θ`` stacks the free parameters in lavaan's order: the free loadings (factor
by factor), the residual variances ``ψ``, the free factor variances and the
free factor covariances (``(0, 1), (0, 2), …, (1, 2), …``). The derivatives of
``C`` with respect to each of them are

.. math::

    \frac{∂C}{∂λ_{ij}} = e_i a_jᵀ + a_j e_iᵀ,\ a_j = Λ Φ e_j, \qquad
    \frac{∂C}{∂φ_{jl}} = λ_j λ_lᵀ + λ_l λ_jᵀ\ (j ≠ l),\ λ_j λ_jᵀ\ (j = l), \qquad
    \frac{∂C}{∂ψ_i} = e_i e_iᵀ,

with ``λ_j`` the ``j``-th column of ``Λ``. For the Gaussian log-likelihood
per observation ``ℓ = −½[log det C + tr(C⁻¹ S)]`` (up to a constant), with
``C = R Rᵀ`` (Cholesky) and ``B_a = R⁻¹ (∂C/∂θ_a) R⁻ᵀ``,

.. math::

    \frac{∂ℓ}{∂θ_a} = ½ ⟨R⁻¹ S R⁻ᵀ − I, B_a⟩, \qquad
    \mathcal I_{ab} = ½ ⟨B_a, B_b⟩ = ½ \operatorname{tr}(C⁻¹ ∂_aC\, C⁻¹ ∂_bC),

the gradient and the expected (Fisher) information used by Fisher scoring
and for the standard errors (Jöreskog 1969; Bollen 1989, ch. 4).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


class CovarianceStructure:
    """Free and fixed parameters of ``C = Λ Φ Λᵀ + diag(ψ)``.

    Parameters
    ----------
    free : ndarray of bool, shape (d, k)
        Free loadings.
    fixed : ndarray of shape (d, k)
        Values of the loadings that are not free.
    std_lv : bool
        Factor variances fixed to 1 (else free).
    orthogonal : bool
        Factor covariances fixed to 0 (else free).
    feature_names, factor_names : sequence of str
        Used for the parameter names (``"visual=~x1"``, ``"x1~~x1"``, ...).
    """

    def __init__(self, free, fixed, *, std_lv, orthogonal, feature_names,
                 factor_names):
        self.free = np.asarray(free, dtype=bool)
        self.fixed = np.asarray(fixed, dtype=np.float64)
        self.d, self.k = self.free.shape
        self.std_lv, self.orthogonal = bool(std_lv), bool(orthogonal)
        self.feature_names = [str(c) for c in feature_names]
        self.factor_names = [str(f) for f in factor_names]
        # loadings factor by factor (lavaan's order): column-major positions
        cols, rows = np.nonzero(self.free.T)
        self.load_idx = (rows, cols)
        self.n_load = rows.size
        k = self.k
        self.phi_var = [] if self.std_lv else [(j, j) for j in range(k)]
        self.phi_cov = [] if self.orthogonal else [
            (j, m) for j in range(k) for m in range(j + 1, k)
        ]
        self.phi_idx = self.phi_var + self.phi_cov
        self.n_params = self.n_load + self.d + len(self.phi_idx)

    # --- names ----------------------------------------------------------------
    def parameter_table(self):
        """``(lhs, op, rhs)`` of each free parameter, in the order of ``θ``."""
        rows, cols = self.load_idx
        f, x = self.factor_names, self.feature_names
        table = [(f[j], "=~", x[i]) for i, j in zip(rows, cols)]
        table += [(c, "~~", c) for c in x]
        table += [(f[j], "~~", f[m]) for j, m in self.phi_idx]
        return table

    def parameter_names(self):
        return [f"{lhs}{op}{rhs}" for lhs, op, rhs in self.parameter_table()]

    # --- θ ↔ (Λ, Φ, ψ) ----------------------------------------------------------
    def unpack(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        L = self.fixed.copy()
        L[self.load_idx] = theta[: self.n_load]
        psi = theta[self.n_load : self.n_load + self.d].copy()
        Phi = np.eye(self.k)
        for (j, m), v in zip(self.phi_idx, theta[self.n_load + self.d :]):
            Phi[j, m] = Phi[m, j] = v
        return L, Phi, psi

    def pack(self, L, Phi, psi):
        phi = [Phi[j, m] for j, m in self.phi_idx]
        return np.concatenate([L[self.load_idx], psi, phi]).astype(np.float64)

    def lower_bounds(self, floor_psi, floor_phi):
        """Lower bounds: ``ψ ≥ floor_psi``, free factor variances ``≥ floor_phi``."""
        lb = np.full(self.n_params, -np.inf)
        lb[self.n_load : self.n_load + self.d] = floor_psi
        nv = len(self.phi_var)
        lb[self.n_load + self.d : self.n_load + self.d + nv] = floor_phi
        return lb

    def feasible(self, theta) -> bool:
        """Φ must be positive semi-definite (C's definiteness is checked apart)."""
        if self.k == 1 or (self.orthogonal and self.std_lv):
            return True
        Phi = self.unpack(theta)[1]
        return bool(np.linalg.eigvalsh(Phi)[0] >= -1e-12 * np.abs(Phi).max())

    # --- C(θ) and its derivatives -----------------------------------------------
    def implied(self, theta):
        L, Phi, psi = self.unpack(theta)
        C = L @ Phi @ L.T
        C[np.diag_indices_from(C)] += psi
        return C

    def derivatives(self, theta):
        """``∂C/∂θ_a`` for every free parameter, shape ``(q, d, d)``."""
        L, Phi, _ = self.unpack(theta)
        d = self.d
        dC = np.zeros((self.n_params, d, d))
        A = L @ Phi  # column j is a_j = Λ Φ e_j
        rows, cols = self.load_idx
        a = np.arange(self.n_load)
        dC[a, rows, :] = A[:, cols].T
        dC[a, :, rows] += A[:, cols].T
        b = self.n_load + np.arange(d)
        dC[b, np.arange(d), np.arange(d)] = 1.0
        for t, (j, m) in enumerate(self.phi_idx):
            outer = np.outer(L[:, j], L[:, m])
            dC[self.n_load + d + t] = outer if j == m else outer + outer.T
        return dC

    def rank_one_factors(self, theta):
        """``∂C/∂θ_a = s_a (u_a v_aᵀ + v_a u_aᵀ)``: ``U, V`` (d, q) and ``s`` (q,).

        Loadings: ``u = e_i, v = a_j, s = 1``; ``ψ_i``: ``u = v = e_i, s = ½``;
        ``φ_jl``: ``u = λ_j, v = λ_l``, ``s = ½`` on the diagonal. Inner
        products of these vectors give the information in ``O(q d² + q² d)``
        instead of ``O(q d³ + q² d²)`` (:func:`fiml_objective`).
        """
        L, Phi, _ = self.unpack(theta)
        d, q, nl = self.d, self.n_params, self.n_load
        U, V, s = np.zeros((d, q)), np.zeros((d, q)), np.ones(q)
        rows, cols = self.load_idx
        U[rows, np.arange(nl)] = 1.0
        V[:, :nl] = (L @ Phi)[:, cols]
        U[np.arange(d), nl + np.arange(d)] = 1.0
        V[:, nl : nl + d] = U[:, nl : nl + d]
        s[nl : nl + d] = 0.5
        for t, (p, m) in enumerate(self.phi_idx):
            U[:, nl + d + t], V[:, nl + d + t] = L[:, p], L[:, m]
            s[nl + d + t] = 0.5 if p == m else 1.0
        return U, V, s

    def second_derivative_term(self, theta, Omega):
        """``½⟨Ω, ∂²C/∂θ_a∂θ_b⟩`` for all ``a, b`` (``q × q``), Ω symmetric.

        Only loading–loading pairs (``φ_jj' Ω_ii'``) and loading–factor
        (co)variance pairs (``(Ω u)_i`` with ``u = Λ (∂Φ/∂φ_pm) e_j``) have a
        second derivative; ``C`` is linear in ``ψ`` and in Φ.
        """
        L, Phi, _ = self.unpack(theta)
        H = np.zeros((self.n_params, self.n_params))
        rows, cols = self.load_idx
        nl = self.n_load
        H[:nl, :nl] = Phi[np.ix_(cols, cols)] * Omega[np.ix_(rows, rows)]
        OL = Omega @ L  # (d, k): column p is Ω λ_p
        base = nl + self.d
        for t, (p, m) in enumerate(self.phi_idx):
            col = (cols == m) * OL[rows, p]
            if p != m:
                col = col + (cols == p) * OL[rows, m]
            H[:nl, base + t] = col
            H[base + t, :nl] = col
        return H

    def jacobian_vech(self, theta):
        """Jacobian of ``vech C`` (lower triangle, row by row) wrt ``θ``."""
        il = np.tril_indices(self.d)
        return self.derivatives(theta)[:, il[0], il[1]].T

    def random_point(self, rng):
        """A generic point: loadings ±U(0.5, 1.5), Φ a random correlation-like SPD."""
        k = self.k
        L = self.fixed.copy()
        n = self.n_load
        L[self.load_idx] = rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
        G = rng.standard_normal((k, k + 2))
        Phi = G @ G.T / (k + 2)
        if self.std_lv:
            s = 1.0 / np.sqrt(np.diag(Phi))
            Phi = Phi * np.outer(s, s)
        if self.orthogonal:
            Phi = np.diag(np.diag(Phi))
        psi = rng.uniform(0.5, 1.5, self.d)
        return self.pack(L, Phi, psi)


def whitening(C):
    """Cholesky factor ``R`` of ``C = R Rᵀ`` and ``R⁻¹`` (raises LinAlgError)."""
    R = np.linalg.cholesky(C)
    Rinv, info = lapack.dtrtri(R, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("C is singular.")
    return R, Rinv


def gaussian_observed_information(S, C, dC, second, Rinv):
    r"""``−∇²ℓ`` of ``ℓ = −½[log det C + tr(C⁻¹S)]``, analytically.

    With ``B_a = R⁻¹ ∂_aC R⁻ᵀ``, ``Ŝ = R⁻¹ S R⁻ᵀ`` and ``Ω = C⁻¹(S − C)C⁻¹``,

    .. math::

        −\frac{∂²ℓ}{∂θ_a ∂θ_b} = \operatorname{tr}(Ŝ B_a B_b)
            − ½ \operatorname{tr}(B_a B_b) − ½⟨Ω, ∂²_{ab} C⟩,

    which equals the expected information at ``S = C``. ``second`` is the
    callable ``Ω ↦ ½⟨Ω, ∂²C⟩`` of the structure.
    """
    info, Omega = observed_information_parts(S, dC, Rinv)
    info -= second(Omega)
    return 0.5 * (info + info.T)


def observed_information_parts(S, dC, Rinv):
    """``tr(Ŝ B_a B_b) − ½ tr(B_a B_b)`` and ``Ω`` (see the function above).

    The rest, ``−½⟨Ω, ∂²C⟩``, is linear in Ω: a caller summing over blocks
    (FIML patterns) adds it once for the summed, embedded Ω.
    """
    Sh = Rinv @ S @ Rinv.T
    B = Rinv @ dC @ Rinv.T
    Bf = B.reshape(B.shape[0], -1)
    SBf = (Sh @ B).reshape(B.shape[0], -1)
    K = Rinv.T @ Rinv
    return SBf @ Bf.T - 0.5 * (Bf @ Bf.T), K @ S @ K - K


def gaussian_gradient_information(S, C, dC, weight=1.0, Rinv=None):
    """Gradient and Fisher information of ``weight·(−½)[log det C + tr(C⁻¹S)]``.

    Parameters
    ----------
    S, C : ndarray of shape (d, d)
        Second moments of the data about the model mean, and the model
        covariance (positive definite).
    dC : ndarray of shape (q, d, d)
        ``∂C/∂θ_a``.
    weight : float, default=1.0
    Rinv : ndarray of shape (d, d), optional
        ``R⁻¹`` from :func:`whitening` of ``C``, if the caller has it.

    Returns
    -------
    grad : ndarray of shape (q,)
    info : ndarray of shape (q, q)
    logdet_C : float
    trace : float
        ``tr(C⁻¹ S)``.
    """
    if Rinv is None:
        Rinv = whitening(C)[1]
    E = Rinv @ S @ Rinv.T
    B = Rinv @ dC @ Rinv.T  # (q, d, d)
    Bf = B.reshape(B.shape[0], -1)
    E[np.diag_indices_from(E)] -= 1.0
    grad = 0.5 * weight * (Bf @ E.ravel())
    info = 0.5 * weight * (Bf @ Bf.T)
    logdet = -2.0 * np.sum(np.log(np.diag(Rinv)))
    trace = float(np.trace(E)) + C.shape[0]
    return grad, info, logdet, trace


class SaturatedStructure:
    """The unrestricted covariance, ``θ = vech C`` (lower triangle, row by row)."""

    def __init__(self, d):
        self.d = d
        self.il = np.tril_indices(d)
        self.n_params = self.il[0].size

    def pack(self, C):
        return np.asarray(C, dtype=np.float64)[self.il]

    def implied(self, theta):
        C = np.zeros((self.d, self.d))
        C[self.il] = theta
        return C + np.tril(C, -1).T

    def derivatives(self, theta):
        q, (r, c) = self.n_params, self.il
        dC = np.zeros((q, self.d, self.d))
        dC[np.arange(q), r, c] = 1.0
        dC[np.arange(q), c, r] = 1.0
        return dC

    def feasible(self, theta) -> bool:
        return True

    def rank_one_factors(self, theta):
        """``∂C/∂C_ij = s (e_i e_jᵀ + e_j e_iᵀ)``, ``s = ½`` when ``i = j``."""
        q, (r, c) = self.n_params, self.il
        U, V = np.zeros((self.d, q)), np.zeros((self.d, q))
        U[r, np.arange(q)] = 1.0
        V[c, np.arange(q)] = 1.0
        return U, V, np.where(r == c, 0.5, 1.0)

    def second_derivative_term(self, theta, Omega):
        """Zero: ``C`` is linear in ``vech C``."""
        return np.zeros((self.n_params, self.n_params))

    def lower_bounds(self):
        return np.full(self.n_params, -np.inf)
