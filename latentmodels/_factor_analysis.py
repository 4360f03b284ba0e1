r"""Factor analysis by maximum likelihood: EM on the covariance, SQUAREM, rotations.

The model is ``x = μ + W h + ε`` with ``h ~ N(0, I_k)`` and ``ε ~ N(0, Ψ)``,
``Ψ = diag(ψ)``, so ``x ~ N(μ, C)`` with ``C = W Wᵀ + Ψ`` (THEORY.md §3). The
likelihood depends on the data only through ``n``, the mean and the maximum
likelihood covariance ``S``; after one pass over the rows, every EM iteration
costs ``O(d² k)`` whatever ``n`` is.

EM in the covariance form (Rubin & Thayer 1982). With ``M = I + Wᵀ Ψ⁻¹ W``
and ``β = Wᵀ C⁻¹ = M⁻¹ Wᵀ Ψ⁻¹`` (Woodbury: only ``k × k`` matrices are
factorised),

.. math::

    E = I − β W + β S βᵀ = M^{-1} + β S βᵀ, \qquad
    W_{new} = S βᵀ E^{-1}, \qquad
    Ψ_{new} = \operatorname{diag}(S − W_{new} β S),

and ``Ψ_new`` is held at or above ``noise_floor · S_jj`` (Heywood cases;
noise variances that keep falling are tried at the floor, see
:meth:`_EMMap.heywood_jump`).
The one ``d × d`` by ``d × k`` product ``S βᵀ`` serves both the update and the
log-likelihood of the current parameters,

.. math::

    \tfrac1n \log L = −\tfrac12\bigl[d \log 2π + \sum_j \log ψ_j + \log\det M
    + \sum_j S_{jj}/ψ_j − \operatorname{tr}(Wᵀ Ψ^{-1} S βᵀ)\bigr],

so monitoring convergence is free. The iteration runs on the correlation
scale ``R = D^{-1} S D^{-1}``, ``D = diag(S)^{1/2}``, and maps back with
``W = D W̃``, ``ψ = D² ψ̃``: the fit is exactly equivariant to rescaling a
feature and is as well conditioned on raw data whose variances differ by
``10⁸`` as on standardised data.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._assessment import FactorAssessmentMixin
from ._base import GaussianLatentModel, IncrementalStatsMixin
from ._extraction import EXTRACTIONS, least_squares_fit
from ._gaussian import LinearGaussian
from ._scores import SCORE_METHODS
from ._stats import SufficientStats
from ._validation import check_option, check_positive_int, check_positive_scalar

_LOG_2PI = np.log(2.0 * np.pi)
ROTATIONS = ("varimax", "quartimax", "equamax", "promax", "oblimin")


def fa_n_parameters(n_features: int, n_components: int) -> int:
    """Free parameters of factor analysis: ``d k − k(k−1)/2 + 2d``.

    Loadings (``d k`` less the ``k(k−1)/2`` of the rotation that leaves
    ``W Wᵀ`` unchanged), ``d`` noise variances and ``d`` means.
    """
    d, k = n_features, n_components
    return d * k - k * (k - 1) // 2 + 2 * d


# --------------------------------------------------------------------------
# The EM map on a covariance matrix.


def fa_em_step(S: np.ndarray, W: np.ndarray, psi: np.ndarray, S_diag=None):
    """One EM step of factor analysis on the covariance ``S``; ``O(d² k)``.

    Parameters
    ----------
    S : ndarray of shape (d, d)
        Maximum likelihood covariance of the data.
    W : ndarray of shape (d, k)
        Current loadings.
    psi : ndarray of shape (d,)
        Current noise variances (positive).
    S_diag : ndarray of shape (d,), optional
        ``diag(S)``, if the caller has it.

    Returns
    -------
    loglike : float
        Mean log-likelihood per sample of ``(W, psi)`` (the *input*), for data
        centred at the model mean.
    W_new : ndarray of shape (d, k)
    psi_new : ndarray of shape (d,)
        Not floored: the caller holds it above its noise floor.
    """
    S_diag = np.diag(S) if S_diag is None else S_diag
    # E-step in the eigenbasis Q of M (the shared Gaussian core), M-step here.
    model = LinearGaussian(W.T, psi, np.zeros(W.shape[0]))
    loglike, SB, E, Qt = model.em_moments(S)
    X, info = lapack.dposv(E, SB.T, lower=1)[1:]  # E⁻¹ Qᵀ β S (k × k LAPACK)
    if info != 0:
        raise np.linalg.LinAlgError("E[h hᵀ] is not positive definite.")
    W_new = X.T @ Qt  # S βᵀ E[h hᵀ]⁻¹
    psi_new = S_diag - np.einsum("ji,ij->i", X, SB)  # diag(S − W_new β S)
    return float(loglike), W_new, psi_new


@dataclass
class EMResult:
    """What an EM run did: the parameters reached and the trace.

    ``loglike`` holds the mean log-likelihood after each accepted update (it
    never decreases); ``n_iter`` counts applications of the EM map.
    """

    W: np.ndarray
    psi: np.ndarray
    loglike: list
    n_iter: int
    converged: bool


class _EMMap:
    """The EM map on ``S`` with the noise floor, counting its evaluations.

    It also proposes the *Heywood jump* (:meth:`heywood_jump`): EM approaches
    a maximum on the boundary ``ψ_j = 0`` only sublinearly (``ψ_j`` falls
    like ``1/t``), so noise variances that keep falling are tried at the floor.
    """

    # A feature is a Heywood candidate when its noise variance is below this
    # fraction of its variance and still falling; candidates are tried every
    # ``window`` calls, a window that doubles after each failed trial.
    HEYWOOD_RTOL, HEYWOOD_WINDOW = 0.25, 10

    def __init__(self, S, floor, max_iter):
        self.S, self.floor, self.max_iter, self.n_eval = S, floor, max_iter, 0
        self.S_diag = np.diag(S).copy()
        self._psi_ref, self._n_calls, self._window = None, 0, self.HEYWOOD_WINDOW

    def __call__(self, W, psi):
        """``(loglike(W, ψ), F(W, ψ))``, or ``(-inf, None)`` on invalid input."""
        self.n_eval += 1
        with np.errstate(all="ignore"):
            try:
                ll, W_new, psi_new = fa_em_step(self.S, W, psi, self.S_diag)
            except (np.linalg.LinAlgError, ValueError):  # e.g. ψ overflowed
                return -np.inf, None
        if not (np.isfinite(ll) and np.all(np.isfinite(W_new))):
            return -np.inf, None
        return ll, (W_new, np.maximum(psi_new, self.floor))

    @property
    def exhausted(self) -> bool:
        return self.n_eval >= self.max_iter

    def heywood_jump(self, W, psi, ll):
        """Try the falling noise variances at the floor; None if not better.

        Every ``window`` calls, the features whose ``ψ_j`` is below
        ``HEYWOOD_RTOL · S_jj`` and fell since the last window are set to the
        floor, each loading row rescaled so that ``‖w_j‖² + ψ_j = S_jj`` (as
        at the maximum: there ``w_j`` alone explains feature ``j``, and EM
        would take very many steps to adjust it). The trial is kept only if its
        log-likelihood is at least ``ll`` (so the trace stays monotone); it
        costs one evaluation. Returns ``(W, psi, loglike, F(W, psi))``.
        """
        self._n_calls += 1
        if self._n_calls < self._window:
            return None
        self._n_calls = 0
        ref, self._psi_ref = self._psi_ref, psi
        if ref is None or self.exhausted:
            return None
        cand = (
            (psi < self.HEYWOOD_RTOL * self.S_diag)
            & (psi < (1.0 - 1e-3) * ref)
            & (psi > self.floor * (1.0 + 1e-9))
        )
        if not cand.any():
            return None
        W_t, psi_t = W.copy(), psi.copy()
        norm2 = np.sum(W_t[cand] ** 2, axis=1)
        target = self.S_diag[cand] - self.floor[cand]
        gain = np.where(norm2 > 0, target / np.where(norm2 > 0, norm2, 1.0), 1.0)
        W_t[cand] *= np.sqrt(gain)[:, None]
        psi_t[cand] = self.floor[cand]
        ll_t, nxt_t = self(W_t, psi_t)
        if ll_t >= ll:
            self._window = self.HEYWOOD_WINDOW
            return W_t, psi_t, ll_t, nxt_t
        self._window = min(2 * self._window, 16 * self.HEYWOOD_WINDOW)
        return None


def em_plain(S, W, psi, *, floor, tol, max_iter) -> EMResult:
    """Plain EM: iterate until one step raises the log-likelihood by < ``tol``."""
    F = _EMMap(S, floor, max_iter)
    ll, nxt = F(W, psi)
    loglike = [ll]
    while not F.exhausted:
        ll_new, nxt_new = F(*nxt)
        if ll_new - loglike[-1] < tol:
            if ll_new >= loglike[-1]:  # else rounding undid the step: keep the last
                W, psi = nxt
                loglike.append(ll_new)
            return EMResult(W, psi, loglike, F.n_eval, True)
        W, psi = nxt
        loglike.append(ll_new)
        nxt = nxt_new
        jump = F.heywood_jump(W, psi, ll_new)
        if jump is not None:
            W, psi, ll_new, nxt = jump
            loglike.append(ll_new)
    return EMResult(W, psi, loglike, F.n_eval, False)


def em_squarem(S, W, psi, *, floor, tol, max_iter) -> EMResult:
    r"""EM accelerated by SQUAREM (Varadhan & Roland 2008, scheme SqS3).

    On the parameter vector ``θ = (W, log ψ)`` (log keeps extrapolated noise
    variances positive), from ``θ₀`` with ``θ₁ = F(θ₀)``, ``θ₂ = F(θ₁)``:

    .. math::

        r = θ₁ − θ₀, \quad v = θ₂ − 2θ₁ + θ₀, \quad
        α = \lVert r \rVert / \lVert v \rVert, \quad
        θ' = θ₀ + 2α r + α² v

    (α = 1 gives back ``θ₂``). α is clipped to ``[1, α_max]``; ``α_max``
    grows fourfold each time it is reached and shrinks after a failure. The
    extrapolated ``θ'`` is kept only if its log-likelihood is at least that of
    ``θ₁``; otherwise the cycle falls back to the plain EM point ``θ₂``. The
    next cycle starts with ``F(θ')``, the stabilising EM step of SqS3, and
    the log-likelihood of a point comes with its EM step (:func:`fa_em_step`),
    so a successful cycle costs two evaluations of the EM map. Convergence is
    judged on the plain EM step ``θ₀ → θ₁`` of each cycle.
    """
    F = _EMMap(S, floor, max_iter)
    ll0, nxt0 = F(W, psi)
    loglike = [ll0]
    step_max = 1.0
    log_floor = np.log(floor)
    while not F.exhausted:
        jump = F.heywood_jump(W, psi, ll0)
        if jump is not None:
            W, psi, ll0, nxt0 = jump
            loglike.append(ll0)
            if F.exhausted:
                break
        W1, psi1 = nxt0
        ll1, nxt1 = F(W1, psi1)
        if ll1 < ll0:  # an EM step cannot lower the likelihood: rounding noise
            return EMResult(W, psi, loglike, F.n_eval, True)
        loglike.append(ll1)
        if ll1 - ll0 < tol or F.exhausted:
            return EMResult(W1, psi1, loglike, F.n_eval, ll1 - ll0 < tol)
        W2, psi2 = nxt1
        t0 = np.concatenate([W.ravel(), np.log(psi)])
        t1 = np.concatenate([W1.ravel(), np.log(psi1)])
        t2 = np.concatenate([W2.ravel(), np.log(psi2)])
        r, v = t1 - t0, t2 - 2.0 * t1 + t0
        v_norm = np.linalg.norm(v)
        alpha = np.linalg.norm(r) / v_norm if v_norm > 0 else 1.0
        alpha = float(np.clip(alpha, 1.0, step_max))
        if alpha == step_max:
            step_max *= 4.0
        accepted = False
        if alpha > 1.0:
            t = t0 + 2.0 * alpha * r + alpha**2 * v
            W_x = t[: W.size].reshape(W.shape)
            psi_x = np.exp(np.maximum(t[W.size :], log_floor))
            ll_x, nxt_x = F(W_x, psi_x)
            if ll_x >= ll1:
                accepted = True
                W, psi, ll0, nxt0 = W_x, psi_x, ll_x, nxt_x
            else:
                step_max = max(1.0, step_max / 4.0)
        if not accepted:  # plain EM point θ₂, whose EM step comes next
            if F.exhausted:
                return EMResult(W1, psi1, loglike, F.n_eval, False)
            W, psi = W2, psi2
            ll0, nxt0 = F(W, psi)
        loglike.append(ll0)
    return EMResult(W, psi, loglike, F.n_eval, False)


# --------------------------------------------------------------------------
# Starting points and the canonical orientation (on the correlation scale).


def init_pca(R: np.ndarray, k: int, floor: np.ndarray):
    """PPCA start on ``R``: ``W = U_k (Λ_k − σ²)^{1/2}``, ``ψ = diag(R − W Wᵀ)``."""
    d = R.shape[0]
    lam, U = linalg.eigh(R, subset_by_index=[d - k, d - 1])
    lam, U = lam[::-1], U[:, ::-1]
    sigma2 = max((np.trace(R) - lam.sum()) / (d - k), 0.0) if k < d else 0.0
    W = U * np.sqrt(np.maximum(lam - sigma2, 0.0))
    psi = np.maximum(np.diag(R) - np.sum(W * W, axis=1), floor)
    return W, psi


def init_random(R: np.ndarray, k: int, floor: np.ndarray, rng):
    """Random loadings of variance ``1/(4k)`` per entry, ``ψ = ½ diag(R)``."""
    d = R.shape[0]
    W = rng.standard_normal((d, k)) * np.sqrt(0.25 / k)
    return W, np.maximum(0.5 * np.diag(R), floor)


def canonical_orientation(W: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Rotate ``W`` so that ``Wᵀ Ψ⁻¹ W`` is diagonal and decreasing.

    This is the orientation of Lawley & Maxwell's maximum likelihood solution:
    the columns of ``Ψ^{-1/2} W`` are orthogonal and sorted by norm, with the
    largest entry of each positive. ``Ψ^{-1/2} W`` does not change when a
    feature is rescaled, so neither does the choice.
    """
    A = W / np.sqrt(psi)[:, None]
    _, _, Qt = linalg.svd(A, full_matrices=False)
    W, A = W @ Qt.T, A @ Qt.T
    idx = np.argmax(np.abs(A), axis=0)
    signs = np.sign(A[idx, np.arange(A.shape[1])])
    signs[signs == 0] = 1.0
    return W * signs


# --------------------------------------------------------------------------
# The estimator.


class FactorAnalysis(FactorAssessmentMixin, IncrementalStatsMixin, GaussianLatentModel):
    r"""Factor analysis: ``x ~ N(μ, W Wᵀ + Ψ)`` with diagonal ``Ψ``, by EM.

    The likelihood is maximised by the EM algorithm of Rubin & Thayer (1982)
    in its covariance form: after one pass over the data for ``(n, μ, S)``
    each iteration costs ``O(d² k)``. The iteration runs on the correlation
    scale (``S`` standardised by its diagonal) and is mapped back, so scaling
    feature ``j`` by ``c`` scales its loadings by ``c`` and ``ψ_j`` by ``c²``
    and changes nothing else. SQUAREM (Varadhan & Roland 2008) accelerates it
    without losing EM's monotone likelihood.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of factors ``k`` (1 ≤ k ≤ n_features); None means n_features.
    tol : float, default=1e-10
        Stop when one plain EM step raises the mean log-likelihood per sample
        by less than ``tol`` (an absolute tolerance in nats per sample; it does
        not depend on the units of the data). Models with more factors than
        the data support approach a flat ridge or a Heywood boundary, where EM
        is slow; a smaller ``tol`` then needs many more iterations.
    max_iter : int, default=10000
        Maximum number of applications of the EM map (SQUAREM's extrapolated
        points count as one each).
    noise_floor : float, default=1e-6
        Each noise variance is held at or above ``noise_floor · S_jj``, a
        fraction of the feature's sample variance (Heywood cases). Features
        held at the floor are listed in ``heywood_features_``.
    acceleration : {'squarem', None}, default='squarem'
        SQUAREM extrapolation with fall-back to the plain EM step whenever the
        extrapolated point has a lower likelihood, or plain EM.
    rotation : {None, 'varimax', 'quartimax', 'equamax', 'promax', 'oblimin'}, \
            default=None
        Rotation of the fitted loadings (:func:`latentmodels.rotations.rotate`),
        computed on the standardised loadings ``D⁻¹ W`` (``D² = diag(S)``, the
        loadings of the correlation matrix) so that it does not depend on the
        units of the features. Orthogonal rotations leave ``W Wᵀ`` unchanged;
        oblique ones set ``factor_correlation_`` (Φ) and leave ``W Φ Wᵀ``
        unchanged. None keeps the orientation in which ``Wᵀ Ψ⁻¹ W`` is
        diagonal with decreasing entries.
    rotation_kwargs : dict or None, default=None
        Keyword arguments for :func:`~latentmodels.rotations.rotate`
        (``normalize``, ``power``, ``gamma``, ``tol``, ``max_iter``,
        ``n_starts``, ``sort``...).
    init : {'pca', 'random'}, default='pca'
        Starting point: the PPCA solution of the correlation matrix with
        ``ψ = diag(R − W Wᵀ)``, or random loadings.
    missing_values : {'raise', 'em'}, default='raise'
        What to do with NaN in ``X``: raise an error, or fit by exact EM with
        missing entries (Ilin & Raiko 2010), which needs a pass over the rows
        per iteration.
    random_state : int, RandomState instance or None, default=None
        Seeds ``init='random'`` and random starts of the rotation.
    extraction : {'ml', 'minres', 'principal_axis'}, default='ml'
        Maximum likelihood, or a least-squares extraction of the correlation
        matrix: minres/ULS (``psych::fa(fm="minres")``) or iterated principal
        axis from the squared multiple correlations (statsmodels' ``Factor``
        default), see :mod:`latentmodels._extraction`. ``goodness_of_fit`` and
        ``standard_errors`` need ``'ml'``.
    scores : {'regression', 'bartlett', 'anderson_rubin', 'ten_berge'}, \
            default='regression'
        What ``transform`` returns (:meth:`factor_scores`); any method works
        in a Pipeline. See the user guide page "Assessing a factor model".

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Loadings ``Wᵀ`` (rotated, the pattern matrix when oblique).
    noise_variance_ : ndarray of shape (n_features,)
        Diagonal of ``Ψ``.
    mean_ : ndarray of shape (n_features,)
    n_components_ : int
    loglike_ : list of float
        Mean log-likelihood per sample after each accepted update; never
        decreases. The last entry is the log-likelihood of the fitted model.
    n_iter_ : int
        Applications of the EM map.
    heywood_features_ : ndarray of int
        Indices of the features whose noise variance is held at the floor
        (Heywood cases). Constant features also sit at the floor (they have no
        variance to explain) but are not listed.
    rotation_matrix_ : ndarray of shape (n_components, n_components)
        ``T`` of :func:`~latentmodels.rotations.rotate`: the rotated loadings
        are ``W (T⁻¹)ᵀ`` (``W T`` when orthogonal) and factor scores of the
        unrotated model become ``z T``. The identity when ``rotation=None``.
    factor_correlation_ : ndarray of shape (n_components, n_components)
        Φ = TᵀT; set only by an oblique rotation.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    References
    ----------
    Rubin, D. B. & Thayer, D. T. (1982). EM algorithms for ML factor analysis.
    Psychometrika 47(1):69–76.
    Ghahramani, Z. & Hinton, G. E. (1996). The EM algorithm for mixtures of
    factor analyzers. Technical report CRG-TR-96-1, University of Toronto.
    Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods
    for accelerating the convergence of any EM algorithm. Scand. J. Statist.
    35(2):335–353.
    Lawley, D. N. & Maxwell, A. E. (1971). Factor Analysis as a Statistical
    Method, 2nd ed. Butterworths.

    Examples
    --------
    >>> import numpy as np
    >>> from latentmodels import FactorAnalysis
    >>> rng = np.random.RandomState(0)
    >>> W = rng.standard_normal((6, 2))
    >>> X = rng.standard_normal((500, 2)) @ W.T + rng.standard_normal((500, 6))
    >>> fa = FactorAnalysis(n_components=2, rotation="varimax").fit(X)
    >>> fa.components_.shape, fa.noise_variance_.shape
    ((2, 6), (6,))
    """

    def __init__(
        self,
        n_components=None,
        *,
        tol=1e-10,
        max_iter=10000,
        noise_floor=1e-6,
        acceleration="squarem",
        rotation=None,
        rotation_kwargs=None,
        init="pca",
        missing_values="raise",
        random_state=None,
        extraction="ml",
        scores="regression",
    ):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.noise_floor = noise_floor
        self.acceleration = acceleration
        self.rotation = rotation
        self.rotation_kwargs = rotation_kwargs
        self.init = init
        self.missing_values = missing_values
        self.random_state = random_state
        self.extraction = extraction
        self.scores = scores

    def _n_parameters(self) -> int:
        return fa_n_parameters(self.n_features_in_, self.n_components_)

    # --- fitting ----------------------------------------------------------------
    def _check_params(self) -> None:
        check_positive_scalar(self.tol, "tol", allow_zero=True)
        check_positive_int(self.max_iter, "max_iter")
        floor = check_positive_scalar(self.noise_floor, "noise_floor")
        if floor >= 1.0:
            raise ValueError(
                f"noise_floor is a fraction of each feature's variance and must be "
                f"in (0, 1), got {self.noise_floor!r}."
            )
        if self.acceleration is not None:
            check_option(self.acceleration, "acceleration", ("squarem",))
        if self.rotation is not None:
            check_option(self.rotation, "rotation", ROTATIONS)
        if self.rotation_kwargs is not None and not isinstance(
            self.rotation_kwargs, dict
        ):
            raise TypeError(
                "rotation_kwargs must be a dict of keyword arguments for "
                f"latentmodels.rotations.rotate or None, got {self.rotation_kwargs!r}."
            )
        check_option(self.init, "init", ("pca", "random"))
        check_option(self.missing_values, "missing_values", ("raise", "em"))
        check_option(self.extraction, "extraction", EXTRACTIONS)
        check_option(self.scores, "scores", SCORE_METHODS)
        if self.extraction != "ml" and self.missing_values == "em":
            raise ValueError(
                "missing_values='em' fits by maximum likelihood; use "
                "extraction='ml', or impute the missing entries."
            )

    def _fit_array(self, X: np.ndarray) -> None:
        self._check_params()
        if self.missing_values == "em" and np.isnan(X).any():
            if hasattr(self, "_sufficient_stats"):  # partial_fit cannot resume this
                del self._sufficient_stats
            self._fit_missing(X)
        else:  # one pass for (n, mean, S), kept for partial_fit
            super()._fit_array(X)

    def _fit_stats(self, stats: SufficientStats) -> None:
        self._check_params()
        rng = check_random_state(self.random_state)
        d = stats.n_features
        k = self._resolve_n_components(stats.n, d)
        S = stats.covariance
        var = np.diag(S).copy()
        # A constant feature has no scale of its own: borrow the mean variance.
        fallback = var[var > 0].mean() if np.any(var > 0) else 1.0
        D = np.sqrt(np.where(var > 0, var, fallback))
        R = S / D[:, None] / D[None, :]
        R = 0.5 * (R + R.T)
        floor = self.noise_floor * np.where(var > 0, np.diag(R), 1.0)
        if self.init == "pca":
            W, psi = init_pca(R, k, floor)
        else:
            W, psi = init_random(R, k, floor, rng)
        em = em_squarem if self.acceleration == "squarem" else em_plain
        if self.extraction != "ml":  # least squares (_extraction.py)
            em = functools.partial(least_squares_fit, self.extraction)
        res = em(R, W, psi, floor=floor, tol=self.tol, max_iter=self.max_iter)
        if not res.converged:
            ll = res.loglike
            change = f" by {ll[-1] - ll[-2]:.3g}" if len(ll) > 1 else ""
            warnings.warn(
                f"FactorAnalysis EM did not converge in max_iter={self.max_iter} "
                f"iterations: the mean log-likelihood was still rising{change} "
                f"per step (tol={self.tol:g}). Increase max_iter or loosen tol; "
                "with more factors than the data support EM is slow.",
                ConvergenceWarning,
                stacklevel=4,
            )
        W = canonical_orientation(res.W, res.psi)
        shift = np.sum(np.log(D))  # log-likelihood on the raw scale
        self._set_fit(
            W * D[:, None],
            res.psi * D**2,
            stats.mean,
            k,
            loglike=[ll - shift for ll in res.loglike],
            n_iter=res.n_iter,
            # a constant feature sits at the floor but is no Heywood case
            heywood=(res.psi <= floor * (1.0 + 1e-6)) & (var > 0),
            scale=D,
            rng=rng,
        )

    def _fit_missing(self, X: np.ndarray) -> None:
        """Exact EM with missing entries (``latentmodels._missing``)."""
        from ._missing import fit_missing

        rng = check_random_state(self.random_state)
        d = X.shape[1]
        k = self._resolve_n_components(X.shape[0], d)
        res = fit_missing(
            X,
            k,
            isotropic=False,
            noise_floor_rtol=self.noise_floor,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=rng,
            accelerate=self.acceleration == "squarem",
        )  # warns itself when max_iter runs out
        var = np.nanvar(X, axis=0)
        fallback = var[var > 0].mean() if np.any(var > 0) else 1.0
        D = np.sqrt(np.where(var > 0, var, fallback))
        psi = np.asarray(res.noise_variance, dtype=np.float64)
        W = canonical_orientation(np.asarray(res.components).T, psi)
        self._set_fit(
            W,
            psi,
            np.asarray(res.mean, dtype=np.float64),
            k,
            loglike=list(res.loglike),
            n_iter=res.n_iter,
            heywood=(psi <= self.noise_floor * D**2 * (1.0 + 1e-6)) & (var > 0),
            scale=D,
            rng=rng,
        )

    def _set_fit(self, W, psi, mean, k, *, loglike, n_iter, heywood, scale, rng):
        """Rotate, set the fitted attributes and report Heywood cases."""
        if hasattr(self, "factor_correlation_"):  # left over from an oblique fit
            del self.factor_correlation_
        T = np.eye(k)
        if self.rotation is not None:
            from .rotations import rotate

            kwargs = {"random_state": rng, **(self.rotation_kwargs or {})}
            rot = rotate(W / scale[:, None], self.rotation, **kwargs)
            T = rot.rotation
            if rot.orthogonal:
                W = W @ T
            else:
                W = np.linalg.solve(T, W.T).T  # W (T⁻¹)ᵀ
                self.factor_correlation_ = rot.phi
        self.components_ = W.T
        self.noise_variance_ = psi
        self.mean_ = mean
        self.n_components_ = k
        self.loglike_ = loglike
        self.n_iter_ = n_iter
        self.rotation_matrix_ = T
        self.heywood_features_ = np.flatnonzero(heywood)
        if self.heywood_features_.size:
            names = getattr(self, "feature_names_in_", None)
            idx = self.heywood_features_
            which = (
                [str(names[j]) for j in idx]
                if names is not None
                else [int(j) for j in idx]
            )
            warnings.warn(
                f"Heywood case: the noise variance of feature(s) {which} reached "
                f"the floor noise_floor={self.noise_floor:g} times the feature's "
                "variance (the factors explain it almost entirely). The fit is "
                "valid with these variances held at the floor; consider fewer "
                "components or removing near-duplicate features.",
                UserWarning,
                stacklevel=5,
            )
