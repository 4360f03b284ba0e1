r"""Local identification of a covariance structure: the rank of its Jacobian.

A model ``C(θ)`` with ``q`` free parameters is locally identified at ``θ``
when no direction ``δ`` changes ``θ`` without changing ``C`` to first order,
that is when the Jacobian ``J = ∂ vech C / ∂θ`` has full column rank ``q``
(Wald 1950; Rothenberg 1971; Bekker, Merckens & Wansbeek 1994). Its null
space holds the unidentified directions; the parameters they move are the
ones that cannot be told apart from the data, whatever ``n``.

For a model whose entries are analytic in ``θ`` the rank is the same at almost
every point, so it is computed at the estimate *and* at random points: a
lower rank at the estimate alone marks a special point (an empirically
unidentified model, e.g. a factor correlation of exactly zero with two
indicators per factor), a lower rank everywhere marks a model that no data can
identify — such as unconstrained factor analysis, where ``W ↦ W Q`` for any
orthogonal ``Q`` leaves ``W Wᵀ + Ψ`` unchanged: ``k(k − 1)/2`` directions
(user guide: *identifiability*).

References
----------
Rothenberg, T. J. (1971). Identification in parametric models. Econometrica
39(3):577–591.
Bekker, P. A., Merckens, A. & Wansbeek, T. J. (1994). Identification,
Equivalent Models, and Computer Algebra. Academic Press.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._covariance_structure import CovarianceStructure
from ._gaussian import as_loadings_and_noise
from ._threads import blas_threads

# A singular value below RANK_RTOL times the largest counts as zero.
RANK_RTOL = 1e-8
# A parameter "moves" along the null space when its weight there exceeds this.
MOVE_ATOL = 1e-6


@dataclass(frozen=True)
class Identification:
    """Local identification of a model at its estimate and at random points.

    Attributes
    ----------
    rank : int
        Rank of ``∂ vech C / ∂θ`` at the estimate.
    n_parameters : int
        Number of free parameters ``q``.
    n_moments : int
        ``d(d + 1)/2``, the number of distinct entries of ``C``.
    n_unidentified : int
        ``q − rank``: dimension of the null space at the estimate.
    generic_rank : int
        The largest rank at the random points (the rank almost everywhere).
    random_ranks : tuple of int
        The rank at each random point.
    parameter_names : tuple of str
        Names of the free parameters, in the order of ``θ``.
    null_directions : ndarray of shape (n_parameters, n_unidentified)
        An orthonormal basis of the null space at the estimate.
    moved : tuple of str
        Parameters with a non-zero weight in the null space (they cannot be
        estimated separately).
    singular_values : ndarray
        Of the Jacobian at the estimate, decreasing.
    """

    rank: int
    n_parameters: int
    n_moments: int
    n_unidentified: int
    generic_rank: int
    random_ranks: tuple
    parameter_names: tuple
    null_directions: np.ndarray
    moved: tuple
    singular_values: np.ndarray

    @property
    def identified(self) -> bool:
        """True when the model is locally identified at the estimate."""
        return self.n_unidentified == 0


def _rank_and_null(J):
    _, s, Vt = np.linalg.svd(J, full_matrices=True)
    tol = RANK_RTOL * (s[0] if s.size else 0.0)
    rank = int(np.sum(s > tol))
    return rank, Vt[rank:].T, s


def identification(jacobian, theta, random_points, names) -> Identification:
    """Identification from a Jacobian function at ``theta`` and random points.

    Parameters
    ----------
    jacobian : callable
        ``θ ↦ ∂ vech C / ∂θ`` of shape ``(d(d + 1)/2, q)``.
    theta : ndarray of shape (q,)
        The estimate.
    random_points : iterable of ndarray of shape (q,)
    names : sequence of str
        Parameter names.

    Returns
    -------
    Identification
    """
    J = jacobian(theta)
    rank, null, s = _rank_and_null(J)
    ranks = tuple(_rank_and_null(jacobian(t))[0] for t in random_points)
    weight = np.sqrt(np.sum(null**2, axis=1))
    moved = tuple(str(nm) for nm, w in zip(names, weight) if w > MOVE_ATOL)
    return Identification(
        rank=rank,
        n_parameters=J.shape[1],
        n_moments=J.shape[0],
        n_unidentified=J.shape[1] - rank,
        generic_rank=max(ranks) if ranks else rank,
        random_ranks=ranks,
        parameter_names=tuple(str(nm) for nm in names),
        null_directions=null,
        moved=moved,
        singular_values=s,
    )


def structure_identification(structure, theta, *, n_random=3, random_state=None):
    """:func:`identification` of a :class:`CovarianceStructure` at ``theta``."""
    rng = check_random_state(random_state)
    points = [structure.random_point(rng) for _ in range(n_random)]
    with blas_threads(1):  # small SVDs: threads only add overhead
        return identification(
            structure.jacobian_vech, theta, points, structure.parameter_names()
        )


@validate_params(
    {
        "components": ["array-like"],
        "noise_variance": ["array-like"],
        "factor_correlation": ["array-like", None],
        "feature_names": ["array-like", None],
        "n_random": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def fa_identification(
    components,
    noise_variance,
    *,
    factor_correlation=None,
    feature_names=None,
    n_random=3,
    random_state=None,
) -> Identification:
    """Identification of (exploratory) factor analysis ``C = W Φ Wᵀ + Ψ``.

    Every loading and noise variance is free, with ``Φ = I`` (orthogonal
    factors), or with ``Φ``'s off-diagonal entries free when
    ``factor_correlation`` is given (oblique factors, unit variances). With
    ``k`` factors the rotations ``W ↦ W Q`` leave ``C`` unchanged, so
    ``n_unidentified`` is at least ``k(k − 1)/2`` (orthogonal) or ``k(k − 1)``
    (oblique) — and exactly that when ``d`` is large enough beside ``k``.

    Parameters
    ----------
    components : array-like of shape (k, d)
        Loadings ``Wᵀ``, as ``FactorAnalysis.components_``.
    noise_variance : array-like of shape (d,)
    factor_correlation : array-like of shape (k, k), optional
    feature_names : sequence of str, optional
        Defaults to ``x0, x1, ...``.
    n_random : int, default=3
        Random points at which the rank is also computed.
    random_state : int, RandomState instance or None

    Returns
    -------
    Identification
        Parameter names are ``"f0=~x1"`` for loadings and ``"x1~~x1"`` for
        noise variances (``"f0~~f1"`` for factor correlations).

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels._identification import fa_identification
    >>> W = np.random.RandomState(0).standard_normal((3, 10))
    >>> fa_identification(W, np.ones(10)).n_unidentified
    3
    """
    W_t, psi = as_loadings_and_noise(
        components, noise_variance,
        hint=": pass components_ (k, d) and noise_variance_ (d,) of a fitted "
        "factor analysis",
    )
    k, d = W_t.shape
    names = (
        [f"x{i}" for i in range(d)] if feature_names is None else list(feature_names)
    )
    oblique = factor_correlation is not None
    structure = CovarianceStructure(
        np.ones((d, k), dtype=bool),
        np.zeros((d, k)),
        std_lv=True,
        orthogonal=not oblique,
        feature_names=names,
        factor_names=[f"f{j}" for j in range(k)],
    )
    Phi = np.asarray(factor_correlation, dtype=np.float64) if oblique else np.eye(k)
    theta = structure.pack(W_t.T, Phi, psi)
    return structure_identification(
        structure, theta, n_random=n_random, random_state=random_state
    )
