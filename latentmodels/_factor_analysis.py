r"""Factor analysis by maximum likelihood, and its EM map on the covariance.

The estimator fits by the profile likelihood of the uniquenesses
(:mod:`latentmodels._profile`) or by the EM algorithm below, from several
starts, then rotates. The model is ``x = μ + W h + ε`` with
``h ~ N(0, I_k)`` and ``ε ~ N(0, Ψ)``, ``Ψ = diag(ψ)``, so ``x ~ N(μ, C)``
with ``C = W Wᵀ + Ψ`` (user guide: factor_analysis.rst). The
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
:class:`~latentmodels._em.HeywoodJump`).
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

import contextlib
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._assessment import FactorAssessmentMixin
from ._base import (
    GaussianLatentModel,
    IncrementalStatsMixin,
    canonical_orientation,
)
from ._em import EMResult as _EngineResult
from ._em import HeywoodJump, param_property, run_em
from ._extraction import EXTRACTIONS, least_squares_fit
from ._gaussian import LinearGaussian, covariance_root
from ._profile import (
    ProfileLikelihood,
    ProfileResult,
    fit_profile,
    fit_screened,
    starting_points,
)
from ._scores import SCORE_METHODS
from ._stats import SufficientStats
from ._threads import blas_threads
from ._warnings import warn
from .rotations import ALL_METHODS as ROTATIONS


def fa_n_parameters(n_features: int, n_components: int) -> int:
    """Free parameters of factor analysis: ``d k − k(k−1)/2 + 2d``.

    Loadings (``d k`` less the ``k(k−1)/2`` of the rotation that leaves
    ``W Wᵀ`` unchanged), ``d`` noise variances and ``d`` means.
    """
    d, k = n_features, n_components
    return d * k - k * (k - 1) // 2 + 2 * d


# --------------------------------------------------------------------------
# The EM map on a covariance matrix.


def fa_em_step(
    S: np.ndarray,
    W: np.ndarray,
    psi: np.ndarray,
    S_diag=None,
    expanded=True,
    S_root=None,
):
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
    expanded : bool, default=True
        Parameter-expanded EM (PX-EM, Liu, Rubin & Wu 1998): the loadings
        times a square root of ``E[h hᵀ]`` (:meth:`LinearGaussian.em_update`);
        the same ``Ψ_new`` and fixed points. False: Rubin & Thayer's step.
    S_root : ndarray of shape (d, r), optional
        ``L`` with ``L Lᵀ = S`` (:func:`~latentmodels._gaussian.covariance_root`):
        the log-likelihood then keeps its accuracy near a Heywood floor
        (:meth:`LinearGaussian.em_moments`).

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
    # E-step and the loadings' M-step in the shared Gaussian core
    model = LinearGaussian(W.T, psi, np.zeros(W.shape[0]))
    loglike, W_new, explained = model.em_update(S, expanded=expanded, S_root=S_root)
    return float(loglike), W_new, S_diag - explained  # diag(S − W_new β S)


class EMResult(_EngineResult):
    """:class:`latentmodels._em.EMResult` of a factor analysis run.

    ``params`` is ``(W, psi)``; ``W`` and ``psi`` name them. ``loglike`` holds
    the mean log-likelihood after each accepted update (it never decreases);
    ``n_iter`` counts applications of the EM map; ``stop_reason`` says why the
    run ended.
    """

    W = param_property(0, "Loadings ``W`` (d, k).")
    psi = param_property(1, "Noise variances ``ψ`` (d,).")


class _EMMap:
    """The EM map ``(W, ψ) ↦ (ℓ, (W', ψ'))`` on ``S`` with the noise floor.

    It also proposes the *Heywood jump* (:class:`~latentmodels._em.HeywoodJump`):
    EM approaches a maximum on the boundary ``ψ_j = 0`` only sublinearly
    (``ψ_j`` falls like ``1/t``), so noise variances that keep falling are
    tried at the floor. SQUAREM extrapolates on ``(W, log ψ)`` (:meth:`pack`),
    which keeps the extrapolated noise variances positive; :meth:`unpack`
    holds them at the floor.
    """

    def __init__(self, S, floor, shape, S_root=None):
        self.S, self.floor, self.shape = S, floor, shape
        self.S_diag = np.diag(S).copy()
        # a square root of S (once per fit): accurate log-likelihoods at the floor
        self.S_root = covariance_root(S) if S_root is None else S_root
        self._log_floor = np.log(floor)
        self.heywood_jump = HeywoodJump(self.S_diag, floor)

    def __call__(self, theta):
        """``(loglike(W, ψ), F(W, ψ))``, or ``(-inf, None)`` on invalid input."""
        W, psi = theta
        ll, W_new, psi_new = fa_em_step(
            self.S, W, psi, self.S_diag, S_root=self.S_root
        )
        if not (np.isfinite(ll) and np.all(np.isfinite(W_new))):
            return -np.inf, None
        return ll, (W_new, np.maximum(psi_new, self.floor))

    def pack(self, theta) -> np.ndarray:
        W, psi = theta
        return np.concatenate([W.ravel(), np.log(psi)])

    def unpack(self, t: np.ndarray):
        n = self.shape[0] * self.shape[1]
        return t[:n].reshape(self.shape), np.exp(np.maximum(t[n:], self._log_floor))


def em_squarem(
    S, W, psi, *, floor, tol, max_iter, param_tol=None, accelerate=True,
    S_root=None,
) -> EMResult:
    r"""Factor analysis EM on ``S`` through the engine (:func:`~._em.run_em`).

    SQUAREM (Varadhan & Roland 2008, SqS3) on ``θ = (W, log ψ)`` with the
    noise floor applied to extrapolated points and the Heywood jump
    (:class:`~latentmodels._em.HeywoodJump`); ``accelerate=False`` is plain
    EM. Stops when one plain EM step raises the mean log-likelihood by at
    most ``tol`` *and* changes ``(W, log ψ)`` by at most ``param_tol``
    relative (the rule of :mod:`latentmodels._em`). ``max_iter`` bounds the
    applications of the EM
    map (extrapolated points and Heywood trials count as one each).
    ``S_root`` (d × r, ``S_root S_rootᵀ = S``) is computed from ``S`` when not
    given; a caller fitting several starts, or holding the centred rows of wide
    data, passes it.
    """
    F = _EMMap(S, floor, W.shape, S_root)
    res = run_em(
        F,
        (W, psi),
        tol=tol,
        param_tol=param_tol,
        max_iter=max_iter,
        accelerate=accelerate,
        jump=F.heywood_jump,
    )
    return EMResult(**vars(res))


# --------------------------------------------------------------------------
# The estimator.

# The largest number of features for which solver='auto' picks the profile
# likelihood: its Newton step needs all eigenpairs and the Hessian (O(d³ k)),
# an EM step only O(d² k).
_PROFILE_MAX_FEATURES = 150
# Up to this many features, BLAS runs on one thread during the fit: threads
# only add overhead on such small matrices (and contend on a loaded machine).
_SMALL = 256


# E-steps a later start of a missing-value fit gets at least (see _fit_missing)
_LATER_START_E_STEPS = 300
# the tolerance it stops at, and the band below the best maximum (nats per
# sample) where it goes on at the estimator's tolerance
_LATER_START_TOL = 1e-6
_LATER_START_BAND = 1e-4
# a later start whose every log ψ_j is within this of the best fit's (and
# whose likelihood is not above it) has joined that maximum
_JOIN_LOG_PSI = 1e-2


class FactorAnalysis(FactorAssessmentMixin, IncrementalStatsMixin, GaussianLatentModel):
    r"""Factor analysis: ``x ~ N(μ, W Wᵀ + Ψ)`` with diagonal ``Ψ``, by ML.

    The likelihood depends on the data through ``(n, μ, S)`` only. It is
    maximised on the correlation scale (``S`` standardised by its diagonal)
    and mapped back, so scaling feature ``j`` by ``c`` scales its loadings by
    ``c`` and ``ψ_j`` by ``c²`` and changes nothing else. Two solvers (see
    :ref:`the user guide <fa_algorithm>`):

    * ``'profile'``: ``W`` is maximised out in closed form through the
      eigendecomposition of ``Ψ^{-1/2} R Ψ^{-1/2}`` (Jöreskog 1967; R's
      ``factanal``), and the profile likelihood of the uniquenesses is
      maximised by a projected Newton method with its analytic gradient and
      Hessian, the noise floor as bound (:func:`latentmodels._profile.fit_profile`).
    * ``'em'``: the EM algorithm of Rubin & Thayer (1982) in its covariance
      form, ``O(d² k)`` per iteration, accelerated by SQUAREM (Varadhan &
      Roland 2008); its likelihood never decreases.

    The likelihood has several local maxima in general: the fit runs from
    ``n_init`` starts and keeps the best.

    Array-API input (PyTorch, CuPy, ... under
    ``sklearn.set_config(array_api_dispatch=True)``): the pass over the rows
    and the outputs of ``transform``/``inverse_transform``/``score_samples``
    run on the input's device, the small ``d × d`` fit (Newton or EM, the
    starts, the rotation) on the host; fitted attributes live on that device
    (user guide, :ref:`array_api`).

    Parameters
    ----------
    n_components : int or None, default=None
        Number of factors ``k`` (1 ≤ k ≤ n_features); None means n_features.
    solver : {'auto', 'profile', 'em'}, default='auto'
        ``'auto'`` uses ``'profile'`` for complete data with at most 400
        features and ``'em'`` otherwise (each Newton step costs ``O(d³ k)``,
        each EM step ``O(d² k)``). Missing values (``missing_values='em'``
        with NaN in ``X``) have their own route (``missing_values``).
    tol : float, default=1e-10
        Convergence tolerance in nats per sample (it does not depend on the
        units of the data). ``'profile'`` stops when the predicted gain of a
        Newton step is below ``tol`` and the step moved no ``log ψ_j`` by
        more than ``1e-8``; ``'em'`` when one EM step raises the mean
        log-likelihood by less than ``tol``.
    max_iter : int, default=10000
        Maximum number of iterations per start (Newton steps, or applications
        of the EM map).
    n_init : int, default=3
        Number of starts; the fit with the highest likelihood is kept. The
        first start is given by ``init``, the others draw
        ``ψ_j = R_jj · U(0.1, 0.9)`` from ``random_state``. With the
        ``'profile'`` solver a later start stops early once Newton's local
        model shows it heading for a maximum already found or a lower one.
        With ``missing_values='em'`` and NaN in ``X``, every start is a whole
        fit of the observed-data likelihood (see ``missing_values``).
    init : {'smc', 'pca', 'random'}, default='smc'
        The first start: ``'smc'`` is ``factanal``'s,
        ``ψ_j = (1 − k/2d)/(R⁻¹)_jj`` (from the squared multiple
        correlations), ``'pca'`` is ``ψ = diag(R − W Wᵀ)`` at the PPCA
        loadings of ``R``, ``'random'`` a random start. With missing values
        (``missing_values='em'``) ``'smc'`` starts from the complete-data
        factor analysis of the pairwise-complete covariance and ``'pca'``
        from its PPCA; the second start is the other of the two.
    noise_floor : float, default=1e-6
        Each noise variance is held at or above ``noise_floor · S_jj``, a
        fraction of the feature's sample variance (Heywood cases). Features
        held at the floor are listed in ``heywood_features_``.
    acceleration : {'squarem', None}, default='squarem'
        For ``solver='em'``: SQUAREM extrapolation with fall-back to the plain
        EM step whenever the extrapolated point has a lower likelihood, or
        plain EM.
    rotation : str or None, default=None
        Any method of :func:`latentmodels.rotations.rotate` (``'varimax'``,
        ``'quartimax'``, ``'equamax'``, ``'geomin_t'``, ``'promax'``,
        ``'oblimin'``, ``'geomin_q'``, ... — ``rotations.ALL_METHODS``; the
        target rotations take their ``target`` through ``rotation_kwargs``).
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
    missing_values : {'raise', 'em'}, default='raise'
        What to do with NaN in ``X``: raise an error, or fit the
        observed-data likelihood (Ilin & Raiko 2010: exact EM, Newton's method
        with its exact Hessian where EM is slow) from ``n_init`` starts (the
        factor analysis and the PPCA of the pairwise covariance, see
        ``init``, then random ones), which needs a pass over the rows per
        iteration.
    random_state : int, RandomState instance or None, default=None
        Seeds the random starts and random starts of the rotation.
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
        Mean log-likelihood per sample after each accepted update of the best
        start; never decreases. The last entry is the log-likelihood of the
        fitted model.
    start_loglikes_ : ndarray of shape (n_init,)
        Final mean log-likelihood per sample from each start, in the order of
        the starts. When the best value is reached by one start only and the
        other converged starts stop lower by more than ``max(10 tol, 1e-8)``,
        a warning says that the likelihood has several maxima. A later start
        screened as joining a maximum already found is credited with it; with
        missing values, a later start that ends lower than the best by more
        than ``1e-4`` stopped at the looser tolerance ``1e-6``.
    solver_ : str
        The solver used (``'profile'`` or ``'em'``; the extraction's name for
        a least-squares ``extraction``, which runs once from its own start).
    n_iter_ : int
        Iterations of the best start (Newton steps or EM map applications).
    converged_ : bool
        Whether the best start met the stopping rule.
    stop_reason_ : str
        Why the best start stopped: ``'converged'``, ``'max_iter'`` or
        ``'no_progress'`` (no step raised the likelihood, or, with missing
        values, Newton's steps stalled at rounding noise with the predicted
        gain within ``tol``: the arithmetic resolves the maximum no further,
        e.g. at a Heywood boundary; counted as converged, ``converged_`` is
        True).
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
    Jöreskog, K. G. (1967). Some contributions to maximum likelihood factor
    analysis. Psychometrika 32(4):443–482.
    Lawley, D. N. & Maxwell, A. E. (1971). Factor Analysis as a Statistical
    Method, 2nd ed. Butterworths.
    Rubin, D. B. & Thayer, D. T. (1982). EM algorithms for ML factor analysis.
    Psychometrika 47(1):69–76.
    Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods
    for accelerating the convergence of any EM algorithm. Scand. J. Statist.
    35(2):335–353.
    Bertsekas, D. P. (1982). Projected Newton methods for optimization
    problems with simple constraints. SIAM J. Control Optim. 20(2):221–246.

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

    _parameter_constraints: dict = {
        # the range is checked against n_features at fit (_resolve_n_components)
        "n_components": [Integral, None],
        "solver": [StrOptions({"auto", "profile", "em"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"smc", "pca", "random"})],
        "noise_floor": [Interval(Real, 0, 1, closed="neither")],
        "acceleration": [StrOptions({"squarem"}), None],
        "rotation": [StrOptions(set(ROTATIONS)), None],
        "rotation_kwargs": [dict, None],
        "missing_values": [StrOptions({"raise", "em"})],
        "random_state": ["random_state"],
        "extraction": [StrOptions(set(EXTRACTIONS))],
        "scores": [StrOptions(set(SCORE_METHODS))],
    }
    _array_api_support = True

    def __init__(
        self,
        n_components=None,
        *,
        solver="auto",
        tol=1e-10,
        max_iter=10000,
        n_init=3,
        init="smc",
        noise_floor=1e-6,
        acceleration="squarem",
        rotation=None,
        rotation_kwargs=None,
        missing_values="raise",
        random_state=None,
        extraction="ml",
        scores="regression",
    ):
        self.n_components = n_components
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init = init
        self.noise_floor = noise_floor
        self.acceleration = acceleration
        self.rotation = rotation
        self.rotation_kwargs = rotation_kwargs
        self.missing_values = missing_values
        self.random_state = random_state
        self.extraction = extraction
        self.scores = scores

    def _n_parameters(self) -> int:
        return fa_n_parameters(self.n_features_in_, self.n_components_)

    # --- fitting ----------------------------------------------------------------
    def _check_combination(self) -> None:
        if self.extraction != "ml" and self.missing_values == "em":
            raise ValueError(
                "missing_values='em' fits by maximum likelihood; use "
                "extraction='ml', or impute the missing entries."
            )

    def _fit_array(self, X: np.ndarray) -> None:
        self._check_combination()
        if self.missing_values == "em" and np.isnan(X).any():
            if hasattr(self, "_sufficient_stats"):  # partial_fit cannot resume this
                del self._sufficient_stats
            self._fit_missing(X)
        else:  # one pass for (n, mean, S), kept for partial_fit
            self._sufficient_stats = SufficientStats.from_array(X)
            # wide data: the centred rows are a cheap square root of S
            rows = X if X.shape[0] < X.shape[1] else None
            self._fit_complete(self._sufficient_stats, rows=rows)

    def _fit_stats(self, stats: SufficientStats) -> None:
        """Fit from statistics (``partial_fit``, Dask, ``fit_covariance``);
        the parameters were checked by the public method."""
        self._check_combination()
        self._fit_complete(stats)

    def _resolve_solver(self, d: int) -> str:
        if self.solver != "auto":
            return self.solver
        return "profile" if d <= _PROFILE_MAX_FEATURES else "em"

    def _run_em(self, R, W, psi, floor, root):
        """The one call of the EM engine (complete data, correlation scale)."""
        res = em_squarem(R, W, psi, floor=floor, tol=self.tol, max_iter=self.max_iter,
                         accelerate=self.acceleration == "squarem", S_root=root)
        reason = "converged" if res.converged else "max_iter"
        return ProfileResult(
            res.W, res.psi, list(res.loglike), res.n_iter, res.converged, reason
        )

    def _fit_one(
        self, R, k, psi0, floor, solver, known, root, last=True
    ) -> ProfileResult:
        """One start: the profile likelihood, or EM from ``(W(ψ₀), ψ₀)``.

        A profile start that is not the ``last`` keeps the Hessian at its
        maximum, to screen the later starts."""
        if solver == "profile":
            return fit_profile(
                R, psi0, k, floor=floor, tol=self.tol, max_iter=self.max_iter,
                known=known, curvature=not last,
            )
        # W(ψ₀) from the k leading eigenpairs of Ψ^{-1/2} R Ψ^{-1/2}, through
        # the SVD of Ψ^{-1/2} L (R = L Lᵀ, L is d × rank)
        U, sv, _ = linalg.svd(root / np.sqrt(psi0)[:, None], full_matrices=False)
        lam = np.zeros(k)
        lam[: min(k, sv.size)] = sv[:k] ** 2
        U = np.pad(U[:, :k], ((0, 0), (0, max(0, k - U.shape[1]))))
        W0 = ProfileLikelihood(R, k).loadings(np.log(psi0), lam, U)
        return self._run_em(R, W0, psi0, floor, root)

    def _fit_starts(self, R, k, floor, solver, rng, root=None) -> list:
        """Fit from each start; later profile starts are screened (``known``).

        ``root`` (d × r, ``root rootᵀ = R``) serves every EM start; it is
        computed once here when not given.
        """
        if solver == "em" and root is None:
            root = covariance_root(R)
        init = self.init
        if init == "smc" and root is not None and root.shape[1] < R.shape[0]:
            init = "pca"  # a singular R: every SMC is 1, no information
        starts = starting_points(
            R, k, floor, n_init=self.n_init, init=init, rng=rng, root=root
        )
        # thin products only (small d, or a low-rank root): threads cost more
        # than they give (50 × 2000, k = 16: 8× faster on one thread)
        thin = R.shape[0] <= _SMALL or (
            root is not None and 2 * root.shape[1] < R.shape[0]
        )
        with blas_threads(1) if thin else contextlib.nullcontext():
            return fit_screened(
                [psi0 for _, psi0 in starts],
                lambda psi0, known, last: self._fit_one(
                    R, k, psi0, floor, solver, known, root, last=last
                ),
            )

    def _fit_complete(self, stats: SufficientStats, rows=None) -> None:
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
        if self.extraction != "ml":  # least squares (_extraction.py), one start
            solver = self.extraction
            res = least_squares_fit(
                self.extraction, R, np.zeros((d, k)), floor=floor, tol=self.tol,
                max_iter=self.max_iter,
            )
            reason = "converged" if res.converged else "max_iter"
            fits = [ProfileResult(res.W, res.psi, list(res.loglike), res.n_iter,
                                  res.converged, reason)]
        else:
            solver = self._resolve_solver(d)
            root = None
            if rows is not None and solver == "em":  # R = L Lᵀ, L = Xcᵀ/(√n D)
                root = (rows - stats.mean).T / (np.sqrt(stats.n) * D[:, None])
            fits = self._fit_starts(R, k, floor, solver, rng, root)
        # a screened start that joined a known maximum is credited with it
        finals = np.array([
            fits[r.joined].loglike[-1] if r.joined is not None else r.loglike[-1]
            for r in fits
        ])
        best = fits[int(np.argmax(finals))]
        if best.converged:
            self._report_starts(
                finals,
                np.array([r.converged or r.stop_reason in ("joined", "below")
                          for r in fits]),
            )
        if not best.converged:
            ll = best.loglike
            change = f" by {ll[-1] - ll[-2]:.3g}" if len(ll) > 1 else ""
            why = (
                f"did not converge in max_iter={self.max_iter} iterations"
                if best.stop_reason == "max_iter"
                else "stopped where no step increased the likelihood, before "
                "the stopping rule held"
            )
            warn(
                f"FactorAnalysis ({solver!r} solver) {why}: the mean "
                f"log-likelihood last rose{change} per step (tol={self.tol:g}). "
                "Increase max_iter or loosen tol.",
                ConvergenceWarning,
            )
        W = canonical_orientation(best.W, best.psi)
        shift = np.sum(np.log(D))  # log-likelihood on the raw scale
        self.solver_ = solver
        self.start_loglikes_ = finals - shift
        self.converged_ = bool(best.converged)
        self.stop_reason_ = best.stop_reason
        self._set_fit(
            W * D[:, None],
            best.psi * D**2,
            stats.mean,
            k,
            loglike=[ll - shift for ll in best.loglike],
            n_iter=best.n_iter,
            # a constant feature sits at the floor but is no Heywood case
            heywood=(best.psi <= floor * (1.0 + 1e-6)) & (var > 0),
            scale=D,
            rng=rng,
        )

    def _report_starts(self, finals: np.ndarray, settled: np.ndarray,
                       first=None) -> None:
        """Warn when the first start alone would have missed the best maximum.

        ``finals`` holds every start's final log-likelihood, ``settled`` which
        of them converged (or were screened as joining a known maximum or
        heading below one). The likelihood's several maxima are always listed
        in ``start_loglikes_``; a warning is given only when the best one was
        reached by a single start *other than the first* (the ``init`` start;
        with missing values, the factor analysis or the PPCA of the pairwise
        covariance), i.e. when the default start lands on a lower maximum
        by more than the tolerance, so that more starts may still pay.
        """
        finals = finals[settled]
        if finals.size < 2 or not settled[0]:
            return
        spread_tol = max(10.0 * self.tol, 1e-8)
        top = finals.max()
        reached = finals >= top - spread_tol
        if np.sum(reached) == 1 and not reached[0]:
            warn(
                f"FactorAnalysis: the likelihood has several maxima; the first "
                f"({first or repr(self.init)}) start stopped "
                f"{top - finals[0]:.3g} nats per sample below the best, which "
                f"only one of n_init={self.n_init} "
                "starts reached. The best is kept; increase n_init to search "
                "further (start_loglikes_ lists every start's maximum).",
                UserWarning,
            )

    def _fit_missing(self, X: np.ndarray) -> None:
        """Exact EM with missing entries (``latentmodels._missing``)."""
        from ._missing import fit_missing, observed_data, warn_missing_not_converged

        rng = check_random_state(self.random_state)
        d = X.shape[1]
        k = self._resolve_n_components(X.shape[0], d)
        # n_init starts: the factor analysis and the PPCA of the pairwise
        # covariance (init='smc': in that order; 'pca': the other way round),
        # then random ones; the best maximum is kept. The observed-data
        # likelihood has several: standardised breast cancer, 10% missing,
        # k = 3, the PPCA start stops 0.71 nats per sample below the best;
        # k = 5, ten PPCA and random starts all stop 0.11 below the maximum
        # that EM reaches from the factor analysis start
        data = observed_data(X)  # checked and arranged once for every start
        first = {"smc": "fa", "pca": "ppca", "random": "random"}[self.init]
        second = {"fa": "ppca", "ppca": "fa", "random": "random"}[first]
        kinds = ([first, second] + ["random"] * max(self.n_init - 2, 0))[: self.n_init]

        def run(init, max_iter, tol, joined=None):
            return fit_missing(
                data, k, isotropic=False, noise_floor_rtol=self.noise_floor,
                tol=tol, max_iter=max_iter, random_state=rng,
                accelerate=self.acceleration == "squarem", init=init, warn=False,
                joined=joined,
            )

        fits = [run(first, self.max_iter, self.tol)]
        finals = [fits[0].loglike[-1]]
        # A later start only has to tell whether it reaches another maximum:
        # it stops at the looser tolerance _LATER_START_TOL and gets 10 times
        # the first start's E-steps (at least _LATER_START_E_STEPS). Once its
        # noise variances are within 1% of the best fit's (the likelihood is
        # then that maximum's: W is determined by Ψ up to a rotation) and it is
        # not above it, it has joined that maximum: it stops there and is
        # credited with it (measured: after 6 of its 12-14 E-steps on the
        # synthetic data of benchmarks/bench_missing.py);
        # where it ends within _LATER_START_BAND of the best or above it, it
        # goes on at ``tol`` to max_iter; below that band it is a lower
        # maximum, kept as it stopped. Seen without the budget: a random start
        # on standardised diabetes, 10% missing, k = 5, creeping up for 10 000
        # E-steps towards a point 4.5e-3 nats below the first start's maximum.
        budget = min(self.max_iter,
                     max(_LATER_START_E_STEPS, 10 * fits[0].n_iter))
        loose = max(self.tol, _LATER_START_TOL)
        spread_tol = max(10.0 * self.tol, 1e-8)
        for kind in kinds[1:]:
            top = int(np.argmax(finals))
            log_psi = np.log(fits[top].noise_variance)

            def near_best(theta, ll, log_psi=log_psi, best=finals[top]):
                shift = np.max(np.abs(np.log(theta[1]) - log_psi))
                return shift <= _JOIN_LOG_PSI and ll <= best + spread_tol

            res = run(kind, budget, loose, joined=near_best)
            gap = res.loglike[-1] - finals[top]
            if res.stop_reason == "joined" or (
                near_best((None, res.noise_variance), res.loglike[-1])
            ):
                finals.append(finals[top])  # joined the best maximum
            else:
                go_on = loose > self.tol or not res.converged
                if gap >= -_LATER_START_BAND and go_on:
                    left = max(self.max_iter - res.n_iter, 1)
                    more = run(res.params, left, self.tol)
                    more.loglike = res.loglike[:-1] + more.loglike
                    more.n_iter += res.n_iter
                    res = more
                finals.append(res.loglike[-1])
            fits.append(res)
        finals = np.array(finals)
        res = fits[int(np.argmax(finals))]
        if res.converged:
            settled = [r.converged or r.stop_reason == "joined" for r in fits]
            names = {"fa": "factor analysis of the pairwise covariance",
                     "ppca": "PPCA of the pairwise covariance", "random": "random"}
            self._report_starts(finals, np.array(settled), first=names[first])
        warn_missing_not_converged(
            "FactorAnalysis", res, tol=self.tol, max_iter=self.max_iter
        )
        var = data.var  # the observed entries' variance (np.nanvar, one pass less)
        fallback = var[var > 0].mean() if np.any(var > 0) else 1.0
        D = np.sqrt(np.where(var > 0, var, fallback))
        psi = np.asarray(res.noise_variance, dtype=np.float64)
        W = canonical_orientation(np.asarray(res.components).T, psi)
        self.solver_ = "em"
        self.start_loglikes_ = finals
        self.converged_ = bool(res.converged)
        self.stop_reason_ = res.stop_reason
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
                smallest = np.linalg.eigvalsh(rot.phi)[0]
                if smallest <= 1e-10:  # e.g. oblimax merging two factors
                    raise ValueError(
                        f"The {self.rotation!r} rotation made two or more "
                        "factors identical: their correlation matrix is "
                        f"singular (smallest eigenvalue {smallest:.2g}). Choose "
                        "another rotation, or search from more starts with "
                        "rotation_kwargs={'n_starts': 10}."
                    )
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
            warn(
                f"Heywood case: the noise variance of feature(s) {which} reached "
                f"the floor noise_floor={self.noise_floor:g} times the feature's "
                "variance (the factors explain it almost entirely). The fit is "
                "valid with these variances held at the floor; consider fewer "
                "components or removing near-duplicate features.",
                UserWarning,
            )
