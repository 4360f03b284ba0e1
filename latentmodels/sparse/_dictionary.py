"""Dictionary steps of sparse coding: the decoder given the codes.

With signals ``X`` (n, d), codes ``H`` (n, k) and the dictionary ``D`` (k, d)
whose rows are the atoms, the dictionary step solves

.. math::

    \\min_D \\; \\tfrac12 \\lVert X - H D \\rVert_F^2
    \\quad \\text{s.t.} \\quad \\lVert d_j \\rVert_2 \\le 1 \\;(\\text{and } D \\ge 0
    \\text{ if asked}).

The objective depends on the data only through the statistics
``A = Hᵀ H`` (k, k) and ``B = Hᵀ X`` (k, d):
``½‖X − HD‖²_F = ½ tr(Dᵀ A D) − tr(Dᵀ B) + const``.
Block coordinate descent on the atoms (Mairal, Bach, Ponce & Sapiro 2010,
"Online learning for matrix factorization and sparse coding", JMLR 11:19–60,
Algorithm 2) minimises it one row at a time. With the other rows fixed the
problem in ``d_j`` is the isotropic quadratic
``½ A_jj ‖d_j − u_j‖² + const`` with ``u_j = d_j + (b_j − a_j D) / A_jj``, so
its exact constrained minimiser is the Euclidean projection of ``u_j`` onto
the constraint set: the unit ball, or for non-negative atoms the ball
intersected with the orthant (clip at zero, then rescale into the ball). Each
block step is therefore an exact minimisation and the objective never
increases.

An atom with ``A_jj = 0`` is used by no example: the objective does not depend
on it. It is re-seeded from the residual of a badly reconstructed example
(:func:`reseed_unused_atoms`), which leaves the objective unchanged at the
current codes and lets the next inference step use the atom.

For online learning (Mairal et al. 2010, Algorithm 1) the statistics are sums
over the examples seen so far (:func:`accumulate_statistics`), optionally with
forgetting: before a batch of ``m`` examples arrives after ``n`` seen ones,
the old statistics are scaled by ``(n / (n + m))^ρ``. This is Mairal's
``β_t = (1 − 1/t)^ρ`` when every batch has the same size, and for batches of
different sizes it weights each example by the count of examples, not of
batches: an example that arrived when ``n_i`` examples had been seen carries
the weight ``(n_i / N)^ρ`` once ``N`` have been seen, whatever the batch sizes
were in between. With ``ρ = 0`` the statistics are exactly the sums over all
examples, as if computed in one go.
"""

from __future__ import annotations

import numpy as np

from ._numba_jit import njit, use_numba

__all__ = [
    "accumulate_statistics",
    "dictionary_objective",
    "project_atoms",
    "reseed_unused_atoms",
    "update_dictionary",
]


def project_atoms(D: np.ndarray, positive: bool = False) -> np.ndarray:
    """Project every row of ``D`` onto the unit ball (and the orthant).

    For ``positive=True`` the set is ``{d : d >= 0, ‖d‖ <= 1}``; its projection
    clips the negative entries and then rescales into the ball. Returns a new
    array.
    """
    D = np.maximum(D, 0.0) if positive else np.array(D, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", D, D))
    D /= np.maximum(norms, 1.0)[:, None]
    return D


def dictionary_objective(
    D: np.ndarray, A: np.ndarray, B: np.ndarray, c: float = 0.0
) -> float:
    """Quadratic surrogate ``½ tr(Dᵀ A D) − tr(Dᵀ B) + c``.

    With ``A = HᵀH``, ``B = HᵀX`` and ``c = ½‖X‖²_F`` this is
    ``½‖X − HD‖²_F``.
    """
    return float(0.5 * np.einsum("ij,ij->", D, A @ D) - np.einsum("ij,ij->", D, B) + c)


def update_dictionary(
    D: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    *,
    positive: bool = False,
    max_sweeps: int = 1,
    tol: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Block coordinate descent on the atoms (Mairal et al. 2010, Algorithm 2).

    Minimises ``½ tr(Dᵀ A D) − tr(Dᵀ B)`` over dictionaries whose rows lie in
    the unit ball (and are non-negative if ``positive``), starting from ``D``.
    One sweep updates every atom once, in order, each by an exact block
    minimisation, so the objective never increases. Atoms with ``A_jj = 0``
    are left unchanged (see :func:`reseed_unused_atoms`).

    Parameters
    ----------
    D : ndarray of shape (n_components, n_features)
        Starting dictionary (warm start); not modified.
    A : ndarray of shape (n_components, n_components)
        ``Σ h hᵀ`` (symmetric, positive semi-definite).
    B : ndarray of shape (n_components, n_features)
        ``Σ h xᵀ`` (``Hᵀ X``).
    positive : bool, default=False
        Constrain the atoms to be non-negative.
    max_sweeps : int, default=1
        Largest number of sweeps over the atoms.
    tol : float, default=0.0
        Stop when the largest change of an atom in a sweep is at most ``tol``
        (atoms have norm at most one, so this is an absolute tolerance).

    Returns
    -------
    D : ndarray of shape (n_components, n_features)
        The updated dictionary (a new array).
    n_sweeps : int
        Sweeps done.
    """
    D = np.array(D, dtype=np.float64, order="C")
    A = np.ascontiguousarray(A, dtype=np.float64)
    B = np.ascontiguousarray(B, dtype=np.float64)
    active = np.flatnonzero(np.diag(A) > 0.0)
    if use_numba():
        n_sweeps = _bcd_kernel(D, A, B, active, bool(positive), int(max_sweeps), tol)
    else:
        n_sweeps = _bcd_kernel.py_func(
            D, A, B, active, bool(positive), int(max_sweeps), tol, vectorised=True
        )
    return D, int(n_sweeps)


@njit()
def _bcd_kernel(D, A, B, active, positive, max_sweeps, tol, vectorised=False):
    """Sweeps of exact block minimisation over the rows of ``D``, in place.

    For atom ``j``: ``u = d_j − (a_j D − b_j) / A_jj``, then project ``u``.
    Written with loops for numba; ``vectorised=True`` (pure Python) uses
    numpy for the row operations instead.
    """
    k, d = D.shape
    n_sweeps = 0
    for sweep in range(max_sweeps):
        n_sweeps = sweep + 1
        largest = 0.0
        for j in active:
            ajj = A[j, j]
            if vectorised:
                u = D[j] - (A[j] @ D - B[j]) / ajj
                if positive:
                    u = np.maximum(u, 0.0)
                norm = np.sqrt(u @ u)
                if norm > 1.0:
                    u = u / norm
                change = np.abs(u - D[j]).max()
                D[j] = u
            else:
                u = np.empty(d)
                for f in range(d):
                    g = -B[j, f]
                    for i in range(k):
                        g += A[j, i] * D[i, f]
                    v = D[j, f] - g / ajj
                    if positive and v < 0.0:
                        v = 0.0
                    u[f] = v
                norm = 0.0
                for f in range(d):
                    norm += u[f] * u[f]
                norm = np.sqrt(norm)
                scale = 1.0 / norm if norm > 1.0 else 1.0
                change = 0.0
                for f in range(d):
                    v = u[f] * scale
                    change = max(change, abs(v - D[j, f]))
                    D[j, f] = v
            largest = max(largest, change)
        if largest <= tol:
            break
    return n_sweeps


def reseed_unused_atoms(
    D: np.ndarray,
    A: np.ndarray,
    X: np.ndarray,
    H: np.ndarray,
    *,
    positive: bool = False,
    random_state: np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace atoms that no example uses by residuals of badly fitted examples.

    An atom ``j`` with ``A_jj = Σ h_j² = 0`` does not enter the objective at
    the current codes. It is replaced by the normalised residual
    ``x_i − h_i D`` of the example with the largest residual (the next largest
    for the next unused atom, and so on). The objective at ``(H, D)`` does not
    change, and the following inference step can put the new atom to use.
    When every residual is zero, a random unit vector is drawn from
    ``random_state`` instead.

    Parameters
    ----------
    D : ndarray of shape (n_components, n_features)
        Dictionary; not modified.
    A : ndarray of shape (n_components, n_components)
        ``Σ h hᵀ``, whose diagonal tells the unused atoms.
    X : ndarray of shape (n_samples, n_features)
        Examples from which to re-seed (the current batch in online learning).
    H : ndarray of shape (n_samples, n_components)
        Their codes under ``D``.
    positive : bool, default=False
        Non-negative atoms: the residual is clipped at zero (or its absolute
        value is taken if nothing positive is left).
    random_state : RandomState, optional
        Used only when no example has a non-zero residual.

    Returns
    -------
    D : ndarray of shape (n_components, n_features)
        Dictionary with the unused atoms replaced (a new array if any were).
    reseeded : ndarray of int
        Indices of the atoms replaced.
    """
    unused = np.flatnonzero(np.diag(A) <= 0.0)
    if unused.size == 0:
        return D, unused
    D = np.array(D, dtype=np.float64)
    R = X - H @ D
    norms = np.sqrt(np.einsum("ij,ij->i", R, R))
    order = np.argsort(-norms, kind="stable")
    for rank, j in enumerate(unused):
        atom = None
        if rank < order.size and norms[order[rank]] > 0.0:
            atom = R[order[rank]].copy()
            if positive:
                atom = np.maximum(atom, 0.0) if atom.max() > 0 else np.abs(atom)
        if atom is None:
            if random_state is None:
                random_state = np.random.RandomState(0)
            atom = random_state.standard_normal(D.shape[1])
            if positive:
                atom = np.abs(atom)
        D[j] = atom / np.sqrt(atom @ atom)
    return D, unused


def accumulate_statistics(
    A: np.ndarray,
    B: np.ndarray,
    n_seen: int,
    X: np.ndarray,
    H: np.ndarray,
    *,
    forget_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Add a batch to the online statistics ``A = Σ w h hᵀ`` and ``B = Σ w h xᵀ``.

    Before the batch of ``m`` examples is added, the old statistics are scaled
    by ``(n_seen / (n_seen + m)) ** forget_rate`` (module docstring): Mairal's
    forgetting factor written per example, so unequal batch sizes are weighted
    by how many examples they hold. With ``forget_rate=0`` the result is the
    plain sum over all examples, independent of how they were split.

    Parameters
    ----------
    A : ndarray of shape (n_components, n_components)
        Current ``Σ w h hᵀ``; not modified.
    B : ndarray of shape (n_components, n_features)
        Current ``Σ w h xᵀ``; not modified.
    n_seen : int
        Number of examples already summarised in ``A`` and ``B``.
    X : ndarray of shape (m, n_features)
        The new batch.
    H : ndarray of shape (m, n_components)
        Its codes.
    forget_rate : float, default=0.0
        The exponent ``ρ >= 0``.

    Returns
    -------
    A, B : ndarrays
        Updated statistics (new arrays).
    n_seen : int
        ``n_seen + m``.
    """
    m = X.shape[0]
    total = n_seen + m
    beta = (n_seen / total) ** forget_rate if (forget_rate > 0 and total > 0) else 1.0
    A = beta * A + H.T @ H
    B = beta * B + H.T @ X
    return A, B, total
