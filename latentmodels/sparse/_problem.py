"""The lasso problem of sparse inference, in Gram form: one object for all solvers.

For signals ``X`` (rows) and a dictionary ``D`` (atoms as rows) every row
``x`` has its own lasso ``min_h ½‖x − hD‖² + α‖h‖₁`` (``h ≥ 0`` optionally).
With ``b = D x`` (a row of ``B = X Dᵀ``), the Gram matrix ``G = D Dᵀ`` and
``‖x‖²`` the problem no longer depends on ``n_features``:

.. math::

    P(h) = \\tfrac12 \\lVert x \\rVert^2 - h \\cdot b + \\tfrac12 h G h^\\top
        + \\alpha \\lVert h \\rVert_1 ,

and the solvers keep the correlations ``c = b − hG = (x − hD) Dᵀ``. From
``c`` the squared residual is ``‖r‖² = ‖x‖² − h·b − h·c`` and the duality gap
follows without forming ``r`` (:mod:`._formulas`).

:class:`LassoProblem` owns what every solver shares: the objective, the
duality gap and relative gap, the proximal step, ``alpha_max`` (screening)
and the warm start. :class:`Gram` holds the dictionary's part (``D``, ``G``,
its diagonal and Lipschitz constant) once for all row blocks of a call.
"""

from __future__ import annotations

import threading

import numpy as np

from ._formulas import (
    TINY,
    gap_and_primal_np,
    max_correlation,
    soft_threshold_np,
)


class Gram:
    """The dictionary's share of the problem: ``D``, ``G = D Dᵀ``, ``λ_max(G)``.

    Built once per call and shared (read-only) by the row blocks.
    """

    def __init__(self, D: np.ndarray):
        self.D = D = np.ascontiguousarray(D)
        self.G = D @ D.T
        self.diag = np.ascontiguousarray(np.diag(self.G))
        self._lipschitz = None
        self._lock = threading.Lock()

    @property
    def n_components(self) -> int:
        return self.D.shape[0]

    @property
    def n_features(self) -> int:
        return self.D.shape[1]

    @property
    def max_active(self) -> int:
        """Largest useful active set: at most ``n_features`` atoms have a
        nonsingular Gram block ``G_AA``."""
        return max(1, min(self.n_features, self.n_components))

    @property
    def lipschitz(self) -> float:
        """``L = λ_max(G)``, the Lipschitz constant of the smooth part's gradient."""
        with self._lock:
            if self._lipschitz is None:
                k = self.G.shape[0]
                self._lipschitz = float(np.linalg.eigvalsh(self.G)[-1]) if k else 0.0
            return self._lipschitz


class LassoProblem:
    """Lasso problems of a block of signals in Gram form.

    Parameters
    ----------
    B : ndarray of shape (n_samples, n_components)
        Correlations ``X Dᵀ`` of the signals with the atoms.
    xx : ndarray of shape (n_samples,)
        Squared norms ``‖x‖²``.
    gram : Gram
        The dictionary's part (``G = D Dᵀ``).
    alpha : float
        Penalty ``α > 0``, not scaled by ``n_features``.
    positive : bool
        Constrain the codes to ``h ≥ 0``.
    X : ndarray of shape (n_samples, n_features), optional
        The signals themselves, for solvers that do not use the Gram form
        (``'cvxpy'``).
    """

    def __init__(self, B, xx, gram: Gram, alpha: float, positive: bool, X=None):
        self.B = B
        self.xx = xx
        self.gram = gram
        self.alpha = float(alpha)
        self.positive = bool(positive)
        self.X = X

    @classmethod
    def from_data(cls, X: np.ndarray, D, alpha: float, positive: bool = False):
        """The problems of the rows of ``X`` on ``D`` (a :class:`Gram` or an array)."""
        gram = D if isinstance(D, Gram) else Gram(np.asarray(D, dtype=np.float64))
        B = X @ gram.D.T
        return cls(B, np.einsum("ij,ij->i", X, X), gram, alpha, positive, X=X)

    @property
    def G(self) -> np.ndarray:
        return self.gram.G

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_components)``, the shape of the codes."""
        return self.B.shape

    def kernel_args(self) -> tuple:
        """``(B, G, ‖x‖², α, positive)`` as the compiled kernels take them."""
        B = np.ascontiguousarray(self.B)
        return B, self.G, self.xx, self.alpha, self.positive

    @property
    def max_active(self) -> int:
        """Largest useful active set (:attr:`Gram.max_active`)."""
        return self.gram.max_active

    def rows(self, idx) -> LassoProblem:
        """The sub-problem of the rows ``idx`` (same dictionary)."""
        X = None if self.X is None else self.X[idx]
        return LassoProblem(
            self.B[idx], self.xx[idx], self.gram, self.alpha, self.positive, X=X
        )

    # ------------------------------------------------------------- screening
    def alpha_max(self) -> np.ndarray:
        """Per row, the smallest ``α`` with ``h = 0`` optimal: ``c_max`` at ``h = 0``.

        ``‖D xᵀ‖_∞`` (``max(max_j d_j·x, 0)`` for ``h ≥ 0``): for
        ``α ≥ alpha_max`` the code is exactly zero.
        """
        return max_correlation(self.B, self.positive)

    def warm_start(self, H0=None, screened=None):
        """Starting codes ``H`` and correlations ``C = B − H G`` (new arrays).

        ``H0`` (optional) is projected onto ``h ≥ 0`` for non-negative codes;
        rows flagged in ``screened`` (``α ≥ alpha_max``) start, and stay, at
        their exact solution zero.
        """
        if H0 is None:
            return np.zeros(self.shape), np.array(self.B, dtype=np.float64)
        H = np.array(H0, dtype=np.float64)
        if self.positive:
            np.maximum(H, 0.0, out=H)
        if screened is not None:
            H[screened] = 0.0
        return H, self.correlations(H)

    def correlations(self, H: np.ndarray) -> np.ndarray:
        """``C = B − H G``, the correlations of the residuals with the atoms."""
        return self.B - H @ self.G

    # ---------------------------------------------------- objective and gap
    def _parts(self, H, C):
        if C is None:
            C = self.correlations(H)
        hc = np.einsum("ij,ij->i", H, C)
        r2 = self.xx - np.einsum("ij,ij->i", H, self.B) - hc
        l1 = np.abs(H).sum(axis=1)
        return gap_and_primal_np(
            r2, l1, hc, max_correlation(C, self.positive), self.alpha
        )

    def objective(self, H: np.ndarray, C=None) -> np.ndarray:
        """Per row ``P(h) = ½‖x − hD‖² + α‖h‖₁`` from the Gram form."""
        return self._parts(H, C)[1]

    def gap(self, H: np.ndarray, C=None) -> np.ndarray:
        """Per row duality gap (:mod:`._formulas`); ``C = B − HG`` if not given."""
        return self._parts(H, C)[0]

    def relative_gap(self, H: np.ndarray, C=None) -> np.ndarray:
        """Per row ``gap / max(P(h), tiny)``: the quantity every ``tol`` bounds."""
        gap, primal = self._parts(H, C)
        return gap / np.maximum(primal, TINY)

    # ------------------------------------------------------------------ prox
    def prox(self, Z: np.ndarray, step: float) -> np.ndarray:
        """Proximal step of ``step·α‖·‖₁`` (and ``h ≥ 0``): soft-thresholding."""
        return soft_threshold_np(Z, step * self.alpha, self.positive)
