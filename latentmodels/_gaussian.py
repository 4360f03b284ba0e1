r"""The one linear-Gaussian core: ``x ~ N(μ, C)`` with ``C = W Wᵀ + Ψ``.

PCA read as a model, probabilistic PCA and factor analysis all have this
marginal (see the user guide, "PCA and probabilistic PCA"); every likelihood,
posterior, covariance, precision and sample in the package is computed here, once.

Conventions: ``components`` is ``Wᵀ`` with shape ``(k, d)`` (scikit-learn's
``components_``), ``noise_variance`` is the diagonal of ``Ψ`` with shape
``(d,)`` and strictly positive.

Numerics. With the whitened loadings ``W̃ = Ψ^{-1/2} W`` and its thin SVD
``W̃ = V diag(s) Qᵀ``, the ``k × k`` matrix ``M = I + Wᵀ Ψ⁻¹ W`` has the
eigen-decomposition ``Q diag(1 + s²) Qᵀ``, so by Woodbury and the matrix
determinant lemma

.. math::

    \log\det C = \sum_j \log ψ_j + \sum_i \log(1 + s_i^2), \qquad
    r̃ᵀ C̃^{-1} r̃ = \lVert r̃ − V Vᵀ r̃ \rVert^2
                   + \sum_i \frac{(v_iᵀ r̃)^2}{1 + s_i^2},

with ``r̃ = Ψ^{-1/2}(x − μ)``. The Mahalanobis term is a sum of non-negative
parts, so it keeps full relative accuracy even when ``ψ`` is tiny beside ``W``
(no subtraction of large numbers). No ``d × d`` matrix is inverted or
factorised, and the cost per row is ``O(d k)``.

The posterior of the factors is ``h | x ~ N(M⁻¹ Wᵀ Ψ⁻¹ (x − μ), M⁻¹)``, with
``M⁻¹ Wᵀ Ψ^{-1/2} = Q diag(s / (1 + s²)) Vᵀ``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

_LOG_2PI = np.log(2.0 * np.pi)


def as_loadings_and_noise(components, noise_variance, hint: str = ""):
    """``(Wᵀ, ψ)`` as float64 arrays of shapes (k, d) and (d,), or a ValueError
    saying that they do not describe the same features (with ``hint``)."""
    W_t = np.asarray(components, dtype=np.float64)
    psi = np.asarray(noise_variance, dtype=np.float64)
    if W_t.ndim != 2 or psi.shape != (W_t.shape[1],):
        raise ValueError(
            f"components of shape {W_t.shape} and noise_variance of shape "
            f"{psi.shape} do not describe the same number of features{hint}."
        )
    return W_t, psi


class LinearGaussian:
    """The Gaussian ``N(mean, componentsᵀ components + diag(noise_variance))``.

    Parameters
    ----------
    components : ndarray of shape (n_components, n_features)
        ``Wᵀ``: row ``j`` is the loading vector of factor ``j``.
    noise_variance : ndarray of shape (n_features,)
        Diagonal of ``Ψ``; every entry must be positive.
    mean : ndarray of shape (n_features,)
    """

    def __init__(self, components, noise_variance, mean):
        W_t, psi = as_loadings_and_noise(components, noise_variance)
        if not np.all(psi > 0) or not np.all(np.isfinite(psi)):
            raise ValueError(
                "noise_variance must be finite and positive in every feature; "
                f"got min {psi.min()!r}. Refit the model or raise its noise floor."
            )
        self.components = W_t
        self.noise_variance = psi
        self.mean = np.asarray(mean, dtype=np.float64)
        self._isd = 1.0 / np.sqrt(psi)  # Ψ^{-1/2}
        # Thin SVD of the whitened loadings W̃ = Ψ^{-1/2} W (d × k): O(d k²).
        V, s, Qt = linalg.svd(
            (W_t * self._isd).T, full_matrices=False, lapack_driver="gesdd"
        )
        self._V, self._s, self._Qt = V, s, Qt
        self._shrink = s**2 / (1.0 + s**2)  # eigenvalues of I − C̃⁻¹ on span V
        self.logdet = float(np.sum(np.log(psi)) + np.sum(np.log1p(s**2)))

    @property
    def n_features(self) -> int:
        return self.noise_variance.shape[0]

    # --- densities -------------------------------------------------------------
    def _mahalanobis(self, R_tilde: np.ndarray) -> np.ndarray:
        """``r̃ᵀ C̃⁻¹ r̃`` for each row of whitened residuals ``R̃``."""
        P = R_tilde @ self._V  # (n, k) coordinates on span V
        perp = R_tilde - P @ self._V.T
        return np.einsum("ij,ij->i", perp, perp) + (P**2) @ (1.0 / (1.0 + self._s**2))

    def log_likelihood_rows(self, X: np.ndarray) -> np.ndarray:
        """Log-density of each row of ``X`` (shape ``(n,)``)."""
        R_tilde = (np.asarray(X, dtype=np.float64) - self.mean) * self._isd
        d = self.n_features
        return -0.5 * (d * _LOG_2PI + self.logdet + self._mahalanobis(R_tilde))

    def mean_log_likelihood(
        self, mean: np.ndarray, covariance: np.ndarray, root=None
    ) -> float:
        """Mean log-density of a data set known by its mean and covariance ``S``.

        ``−½[d log 2π + log det C + tr(C⁻¹ S) + (m − μ)ᵀ C⁻¹ (m − μ)]``, where
        ``S`` is the maximum likelihood (1/n) covariance around the data mean
        ``m``. Costs ``O(d² k)``; no ``d × d`` factorisation. With ``root``
        (``L Lᵀ = S``) the trace is the sum of non-negative parts of
        :meth:`em_moments`, accurate when a noise variance is tiny.
        """
        if root is not None:
            trace = self._trace_from_root(root)
        else:
            S_tilde = covariance * np.outer(self._isd, self._isd)
            VtSV_diag = np.einsum("ij,ij->j", self._V, S_tilde @ self._V)
            trace = np.trace(S_tilde) - VtSV_diag @ self._shrink
        delta = ((np.asarray(mean) - self.mean) * self._isd)[None, :]
        maha = self._mahalanobis(delta)[0]
        d = self.n_features
        return float(-0.5 * (d * _LOG_2PI + self.logdet + trace + maha))

    # --- posterior over the factors -------------------------------------------
    def posterior_mean(self, X: np.ndarray) -> np.ndarray:
        """``E[h | x] = M⁻¹ Wᵀ Ψ⁻¹ (x − μ)`` for each row (shape ``(n, k)``)."""
        R_tilde = (np.asarray(X, dtype=np.float64) - self.mean) * self._isd
        gain = self._s / (1.0 + self._s**2)
        return ((R_tilde @ self._V) * gain) @ self._Qt

    def posterior_weights(self) -> np.ndarray:
        """``B`` (d × k) with ``E[h | x] = (x − μ) B``.

        ``B = Ψ^{-1/2} V diag(s/(1+s²)) Qᵀ``: :meth:`posterior_mean` as one
        matrix, for a product computed elsewhere (on an array-API device).
        """
        gain = self._s / (1.0 + self._s**2)
        return (self._isd[:, None] * self._V * gain) @ self._Qt

    def posterior_covariance(self) -> np.ndarray:
        """``Cov[h | x] = M⁻¹ = (I + Wᵀ Ψ⁻¹ W)⁻¹`` (the same for every row)."""
        k = self.components.shape[0]
        Q = self._Qt.T
        inv_eig = np.ones(k)
        inv_eig[: self._s.size] = 1.0 / (1.0 + self._s**2)
        if self._s.size < k:  # more factors than features: complete the basis
            Q = linalg.qr(np.hstack([Q, np.eye(k)]), mode="economic")[0][:, :k]
        return (Q * inv_eig) @ Q.T

    def em_moments(self, S: np.ndarray, S_root: np.ndarray | None = None):
        r"""E-step of EM from the covariance ``S`` of data centred at ``mean``.

        With ``β = Wᵀ C⁻¹ = M⁻¹ Wᵀ Ψ⁻¹`` the expected sufficient statistics
        of the factors are ``E[x hᵀ] = S βᵀ`` and
        ``E[h hᵀ] = M⁻¹ + β S βᵀ`` (averages over the rows). They are returned
        in the eigenbasis ``Q`` of ``M`` (``M = Q diag(1 + s²) Qᵀ``), where
        ``βᵀ Q = Ψ^{-1/2} V diag(s / (1 + s²))`` needs no factorisation, so
        they stay accurate when ``M`` is ill-conditioned (Heywood cases). The
        one ``O(d² k)`` product ``S βᵀ`` also gives the mean log-likelihood of
        the current parameters: ``tr(C⁻¹ S) = Σ_j S_jj/ψ_j − tr(Wᵀ Ψ⁻¹ S βᵀ)``.

        That difference loses digits when a noise variance is tiny beside its
        loadings (both terms grow like ``S_jj/ψ_j``: at a Heywood floor of
        ``1e-6`` the log-likelihood carries an error of ~``1e-10``, enough to
        stall EM's comparisons). Given a square root ``S = L Lᵀ`` (``S_root``,
        computed once per fit), the trace is the sum of non-negative parts

        .. math::

            \operatorname{tr}(C̃^{-1} S̃) = \lVert (I − V Vᵀ) L̃ \rVert_F^2
                + \sum_i \frac{\lVert v_iᵀ L̃ \rVert^2}{1 + s_i^2},
            \qquad L̃ = Ψ^{-1/2} L,

        as :meth:`log_likelihood_rows` does per row (two more ``O(d² k)``
        products).

        Parameters
        ----------
        S : ndarray of shape (d, d)
        S_root : ndarray of shape (d, r), optional
            ``L`` with ``L Lᵀ = S``, for the accurate trace; when its rank
            ``r < d/2`` (fewer samples than features) ``S βᵀ`` is also taken
            as ``L (Lᵀ βᵀ)``, ``O(d r k)`` instead of ``O(d² k)``.

        Returns
        -------
        loglike : float
            Mean log-likelihood per row, ``−½[d log 2π + log det C + tr(C⁻¹ S)]``.
        SB : ndarray of shape (d, k)
            ``S βᵀ Q``.
        E : ndarray of shape (k, k)
            ``Qᵀ E[h hᵀ] Q = diag(1/(1 + s²)) + Qᵀ β S βᵀ Q``.
        Qt : ndarray of shape (k, k)
            ``Qᵀ``; the M-step's ``W_new = S βᵀ E[h hᵀ]⁻¹`` is
            ``(SB E⁻¹) Qᵀ``.
        """
        k, d = self.components.shape
        if k > d:
            raise ValueError(f"EM needs n_components <= n_features, got {k} > {d}.")
        s = self._s
        P = self._V * (s * self._isd[:, None])  # Ψ⁻¹ W Q
        B = P / (1.0 + s**2)  # βᵀ Q
        if S_root is not None and 2 * S_root.shape[1] < d:
            SB = S_root @ (S_root.T @ B)  # low rank (wide data): O(d r k)
        else:
            SB = S @ B
        if S_root is None:
            trace = np.diagonal(S) @ (self._isd**2) - np.vdot(P, SB)
        else:
            trace = self._trace_from_root(S_root)
        loglike = -0.5 * (d * _LOG_2PI + self.logdet + trace)
        E = B.T @ SB
        E[np.diag_indices_from(E)] += 1.0 / (1.0 + s**2)
        return float(loglike), SB, E, self._Qt

    def _trace_from_root(self, root: np.ndarray) -> float:
        """``tr(C⁻¹ S)`` from ``S = L Lᵀ`` as a sum of non-negative parts.

        ``‖(I − V Vᵀ) L̃‖² + Σ_i ‖v_iᵀ L̃‖²/(1 + s_i²)`` with ``L̃ = Ψ^{-1/2} L``.
        """
        L = root * self._isd[:, None]
        G = self._V.T @ L
        perp = L - self._V @ G
        return float(
            np.vdot(perp, perp) + np.sum(G * G, axis=1) @ (1.0 / (1.0 + self._s**2))
        )

    def em_update(self, S: np.ndarray, *, expanded: bool = True, S_root=None):
        r"""One EM step's loadings from ``S``, with or without parameter expansion.

        With the moments of :meth:`em_moments` (``E[x hᵀ] = S βᵀ``,
        ``E[h hᵀ] = M⁻¹ + β S βᵀ``), the M-step for the loadings is
        ``W_new = S βᵀ E[h hᵀ]⁻¹``. Parameter-expanded EM (PX-EM; Liu, Rubin
        & Wu 1998) lets the factors have a free covariance ``Σ`` in the
        M-step, whose maximiser is ``Σ = E[h hᵀ]``, and maps back to
        ``h ~ N(0, I)`` with ``W_px = W_new Σ^{1/2}`` (the symmetric square
        root, so that the loadings do not turn from one step to the next):
        the same fixed points and the same monotone likelihood, but the
        scale of each loading column, which plain EM approaches at the rate
        ``1 − 2ψ/λ`` (hopeless when the noise is small beside the leading
        variance), is set in one step. In the eigenbasis ``Q`` of ``M``, with
        ``Qᵀ E[h hᵀ] Q = V diag(e) Vᵀ`` (``k × k``), ``W_px = S βᵀ Q V
        diag(e^{-1/2}) Vᵀ Qᵀ``; the explained variances ``diag(W_new β S)``
        that the noise update ``ψ_new = diag(S) − diag(W_new β S)`` needs are
        the squared row norms of ``S βᵀ Q V diag(e^{-1/2})`` in both variants.

        ``S_root`` (``L Lᵀ = S``) is passed to :meth:`em_moments`.

        Returns
        -------
        loglike : float
            Mean log-likelihood of the *current* parameters (as
            :meth:`em_moments`).
        W_new : ndarray of shape (d, k)
        explained : ndarray of shape (d,)
            ``diag(W_new β S)``.
        """
        loglike, SB, E, Qt = self.em_moments(S, S_root)
        e, V = linalg.eigh(E, check_finite=False)
        if not e[0] > 0:
            raise np.linalg.LinAlgError("E[h hᵀ] is not positive definite.")
        Y = (SB @ V) / np.sqrt(e)  # S βᵀ Q V diag(e^{-1/2})
        explained = np.einsum("ij,ij->i", Y, Y)
        if expanded:
            W_new = (Y @ V.T) @ Qt
        else:
            W_new = ((Y / np.sqrt(e)) @ V.T) @ Qt
        return loglike, W_new, explained

    # --- second moments -------------------------------------------------------
    def covariance(self) -> np.ndarray:
        """The model covariance ``C = W Wᵀ + Ψ`` (a ``d × d`` array)."""
        C = self.components.T @ self.components
        C[np.diag_indices_from(C)] += self.noise_variance
        return C

    def precision(self) -> np.ndarray:
        """``C⁻¹ = Ψ^{-1/2} (I − V diag(s²/(1+s²)) Vᵀ) Ψ^{-1/2}`` by Woodbury."""
        P = -(self._V * self._shrink) @ self._V.T
        P[np.diag_indices_from(P)] += 1.0
        return P * np.outer(self._isd, self._isd)

    # --- generation -------------------------------------------------------------
    def sample(self, n_samples: int, random_state: np.random.RandomState):
        """Draw ``x = μ + W h + ε``, ``h ~ N(0, I)``, ``ε ~ N(0, Ψ)``.

        Returns the samples ``(n, d)`` and the factors ``(n, k)`` that made them.
        """
        k, d = self.components.shape
        H = random_state.standard_normal((n_samples, k))
        E = random_state.standard_normal((n_samples, d)) * np.sqrt(self.noise_variance)
        return self.mean + H @ self.components + E, H


def floor_noise(noise_variance, reference, rtol: float) -> np.ndarray:
    """Hold each noise variance at or above ``rtol * reference`` (elementwise).

    ``reference`` is a feature's total variance (factor analysis) or the mean
    variance (PCA/PPCA). Returns a new array and leaves the input unchanged.
    """
    floor = rtol * np.maximum(np.asarray(reference, dtype=np.float64), 0.0)
    floor = np.where(floor > 0, floor, np.finfo(np.float64).tiny)
    return np.maximum(np.asarray(noise_variance, dtype=np.float64), floor)


def covariance_root(S: np.ndarray) -> np.ndarray:
    """A square root ``L`` (d × r) of a PSD matrix, ``L Lᵀ = S`` to rounding.

    From the eigen-decomposition; eigenvalues below ``d · eps · λ_max`` are
    rounding (a rank-deficient ``S``, fewer samples than features) and are
    dropped. Once per fit, for the accurate trace of
    :meth:`LinearGaussian.em_moments`.
    """
    lam, U = linalg.eigh(S)
    keep = lam > S.shape[0] * np.finfo(np.float64).eps * max(lam[-1], 0.0)
    return U[:, keep] * np.sqrt(lam[keep])
