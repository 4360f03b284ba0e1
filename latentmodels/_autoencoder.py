"""Linear autoencoder: the bridge from PCA to autoencoders.

Encoder ``h = A (x - mean)`` (``A`` is k×d), decoder ``x̂ = mean + B h``
(``B`` is d×k), trained on the squared reconstruction error summed over the
samples, plus penalties. The known results about this model (Baldi & Hornik
1989; Kunin et al. 2019; Bao et al. 2020; Plaut 2018) are what its tests and
its example check; see the user guide page ``autoencoder.rst``.

The objective depends on the data only through second-order statistics
(:mod:`latentmodels._autoencoder_loss`), and every minimiser lies in the span
of the centred rows, so fitting works in the scatter's eigenbasis restricted
to that span: the thin decomposition of the centred rows when there are fewer
rows than features (m = n directions, O(n² d), the d×d scatter never formed),
the eigendecomposition of the scatter otherwise (m = d, O(d³)). There the
statistics are diagonal and scipy's L-BFGS costs O(m k) per iteration on
analytic gradients; the weights are mapped back to the features at the end.
Untied, the loss is a convex quadratic in the encoder for a fixed decoder, so
L-BFGS runs over the decoder alone with the exact encoder for each decoder
(variable projection); tied weights run L-BFGS over the one weight matrix.
Sampled input noise needs the full d×d statistics of each noisy copy.
"""

from __future__ import annotations

from contextlib import nullcontext
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.linalg import subspace_angles
from scipy.optimize import minimize
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from ._array_api import (
    NUMPY,
    as_numpy,
    centred_product,
    codes_in_namespace,
    move_fitted,
    namespace_of,
    on_host,
    product_plus,
    to_host,
    validate_in_namespace,
)
from ._autoencoder_loss import (
    Objective,
    ProfiledObjective,
    Statistics,
    largest_eigenvalue,
    unit_weights,
)
from ._base import sign_flip
from ._dask import fit_statistics, is_dask_array, lazy_over_rows
from ._docstrings import fill_doc
from ._stats import SufficientStats, stats_in_namespace
from ._threads import blas_threads
from ._validation import (
    check_array_finite,
    check_codes,
    check_n_components,
    validate_X,
)
from ._warnings import warn

__all__ = ["LinearAutoencoder", "PCAComparison", "compare_with_pca"]

# Scale of the random initial weights (relative to a unit-norm row): small, so
# that training starts near the origin as in Baldi & Hornik's analysis, but
# far enough from the saddle at 0 for the gradient to be informative.
_INIT_SCALE = 1e-2
# Below this many flops per product (d² k), fit with one BLAS thread.
_THREADED_WORK = 2_000_000
# Gradient tolerance of the intermediate epochs in noise_mode='sampled'.
_EPOCH_TOL = 1e-3


class LinearAutoencoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Linear autoencoder trained on its exact squared reconstruction error.

    The model encodes ``h = A (x - mean)`` and decodes ``x̂ = mean + B h``.
    Training minimises, over the n training rows,

    .. math::

        L(A, B) = \\sum_{r=1}^{n} \\lVert x_r - \\hat x_r \\rVert^2
            + \\lambda (\\lVert A\\rVert_F^2 + \\lVert B\\rVert_F^2)
            + \\sum_i \\lambda_i (\\lVert a_i\\rVert^2 + \\lVert b_i\\rVert^2)
            + n s^2 \\lVert B A\\rVert_F^2 + \\mu \\lVert A\\rVert_F^2,

    the loss being **summed** (not averaged) over samples, so a penalty's
    effect is measured against the scatter eigenvalues ``s_i = n λ_i(S)``.
    The terms are the reconstruction error (Baldi & Hornik 1989), weight
    decay, distinct per-unit penalties (Bao et al. 2020), Gaussian input noise
    in expectation, and the contractive penalty ``μ ‖∂h/∂x‖²_F = μ ‖A‖²_F``.

    Known minima, checked by the tests (Kunin et al. 2019):

    - no penalty: ``B A = U_k U_kᵀ``, the PCA projector, but ``A ≠ Bᵀ``;
    - weight decay λ: ``A = Bᵀ`` and ``B = U_k diag(√max(0, 1 - λ/s_i)) O``;
    - distinct unit penalties ``λ_1 < … < λ_k``: decoder column i is ``±u_i``
      scaled by ``√max(0, 1 - λ_i/s_i)``, which removes the rotation ``O``;
    - input noise: ``B A = U_k diag(s_i / (s_i + n s²)) U_kᵀ``;
    - contractive, tied: weight decay with ``λ = μ/2``; untied: no minimiser.

    Array-API input (PyTorch, CuPy, ... under
    ``sklearn.set_config(array_api_dispatch=True)``): the pass over the rows
    and the outputs of ``transform``/``inverse_transform``/``score`` run on
    the input's device, the small L-BFGS fit in the scatter's eigenbasis on
    the host (sampled noise and wide data: the whole fit); fitted attributes
    live on that device (user guide, :ref:`array_api`).

    Parameters
    ----------
    n_components : int
        Number of latent units k (at most the number of features).
    tied : bool, default=False
        If True, the decoder is the encoder's transpose, ``B = Aᵀ``.
    weight_decay : float, default=0.0
        λ in ``λ (‖A‖²_F + ‖B‖²_F)``.
    unit_penalties : array-like of shape (n_components,), default=None
        Non-negative λ_i in ``Σ_i λ_i (‖a_i‖² + ‖b_i‖²)``, added to the weight
        decay. With distinct values, the unit with the i-th smallest penalty
        learns the i-th principal direction (Bao et al. 2020).
    input_noise : float, default=0.0
        Standard deviation s of Gaussian noise added to every input entry
        (the target stays clean: a denoising autoencoder).
    noise_mode : {'expected', 'sampled'}, default='expected'
        ``'expected'`` minimises the exact expected loss, ``L_0 + n s²‖BA‖²_F``.
        ``'sampled'`` draws fresh noise for every row in each of ``n_epochs``
        epochs (from ``random_state``). The statistics of the noisy inputs are
        averaged over the epochs seen so far and L-BFGS is warm-started on that
        average after each epoch, so the fit after t epochs is the autoencoder
        trained on t noisy copies of the data; it approaches the expected
        solution as t grows (error of order 1/√(n t)). Each epoch costs a pass
        over the data, O(n d²).
    contractive : float, default=0.0
        μ in the contractive penalty ``μ ‖∂h/∂x‖²_F = μ ‖A‖²_F``. Untied, the
        problem has no minimiser unless the decoder is penalised too (weight
        decay or positive unit penalties), and ``fit`` raises a ValueError.
    solver : {'lbfgs'}, default='lbfgs'
        scipy's L-BFGS-B on analytic gradients. Untied, over the decoder B
        with the encoder solved exactly for each B (variable projection);
        tied, over A.
    max_iter : int, default=2000
        Maximum L-BFGS iterations (per epoch in sampled mode).
    tol : float, default=1e-10
        Gradient tolerance of L-BFGS on the loss divided by the largest
        eigenvalue of the input scatter (so it does not depend on the data's
        scale or on n).
    n_epochs : int, default=50
        Number of noise draws in ``noise_mode='sampled'``; ignored otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initial weights (small when tied, unit columns for
        the untied decoder) and the sampled noise.

    Attributes
    ----------
    encoder_ : ndarray of shape (n_components, n_features)
        ``A``.
    decoder_ : ndarray of shape (n_features, n_components)
        ``B``.
    components_ : ndarray of shape (n_components, n_features)
        ``Bᵀ``, the decoder's columns as rows (scikit-learn's convention).
    mean_ : ndarray of shape (n_features,)
    principal_directions_ : ndarray of shape (n_components, n_features)
        Left singular vectors of the decoder as rows, by decreasing singular
        value, sign fixed so the largest entry is positive (the package's
        sign convention, as PCA's ``components_``; Plaut 2018). With
        weight decay, unit penalties or tied contractive training, ``A = Bᵀ``
        at every critical point and these are the ordered principal
        directions (Kunin et al. 2019); without a penalty (or with input
        noise only) the decoder is ``U_k G`` for any invertible G, so they
        only span the principal subspace.
    decoder_singular_values_ : ndarray of shape (n_components,)
    loss_ : float
        Final value of the objective (summed over samples, penalties included;
        in sampled mode, the objective averaged over the epochs' noise).
    loss_curve_ : ndarray
        Objective after each L-BFGS iteration (expected mode) or after each
        epoch (sampled mode).
    n_iter_ : int
        L-BFGS iterations in total (over all epochs in sampled mode).
    converged_ : bool
        Whether L-BFGS met ``tol`` (a ConvergenceWarning says so otherwise).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    References
    ----------
    Baldi & Hornik (1989), Neural Networks 2:53–58.
    Plaut (2018), arXiv:1804.10253.
    Kunin, Bloom, Goeva & Seed (2019), ICML, PMLR 97:3560–3569.
    Bao, Lucas, Sachdeva & Grosse (2020), NeurIPS 33.
    """

    def __init__(
        self,
        n_components,
        *,
        tied=False,
        weight_decay=0.0,
        unit_penalties=None,
        input_noise=0.0,
        noise_mode="expected",
        contractive=0.0,
        solver="lbfgs",
        max_iter=2000,
        tol=1e-10,
        n_epochs=50,
        random_state=None,
    ):
        self.n_components = n_components
        self.tied = tied
        self.weight_decay = weight_decay
        self.unit_penalties = unit_penalties
        self.input_noise = input_noise
        self.noise_mode = noise_mode
        self.contractive = contractive
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.n_epochs = n_epochs
        self.random_state = random_state

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "tied": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "unit_penalties": ["array-like", None],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "noise_mode": [StrOptions({"expected", "sampled"})],
        "contractive": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"lbfgs"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    # ------------------------------------------------------------------ checks
    def _check_params(self, n_features: int) -> dict:
        """What the constraint table cannot say: bounds that need the data."""
        k = check_n_components(
            self.n_components,
            upper=n_features,
            upper_reason=f"n_features = {n_features}",
        )
        unit = None
        if self.unit_penalties is not None:
            unit = np.asarray(self.unit_penalties, dtype=float)
            if unit.shape != (k,):
                raise ValueError(
                    f"unit_penalties must have one value per latent unit, shape "
                    f"({k},), got shape {unit.shape}."
                )
            check_array_finite(unit, name="unit_penalties")
            if np.any(unit < 0):
                raise ValueError(
                    f"unit_penalties must be non-negative, got {unit.tolist()}."
                )
        decoder_penalty = self.weight_decay + (0.0 if unit is None else unit)
        if self.contractive > 0 and not self.tied and np.min(decoder_penalty) == 0:
            raise ValueError(
                "The untied contractive autoencoder has no minimiser: replacing "
                "A by cA and B by B/c leaves the reconstruction BA unchanged "
                "while the penalty contractive*||A||^2 goes to 0 as c -> 0, so "
                "training would drive the encoder to 0 and the decoder to "
                "infinity. Pass tied=True (then the penalty equals weight decay "
                "with weight_decay = contractive/2), or penalise the decoder "
                "too with weight_decay > 0 or positive unit_penalties."
            )
        return dict(
            k=k,
            weight_decay=float(self.weight_decay),
            unit=unit,
            noise=float(self.input_noise),
            noise_mode=self.noise_mode,
            contractive=float(self.contractive),
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            n_epochs=int(self.n_epochs),
        )

    # --------------------------------------------------------------------- fit
    @fill_doc
    def fit(self, X, y=None):
        """Fit the encoder and decoder to X.

        A Dask array is reduced to its sufficient statistics in one
        distributed pass.

        %(fit_sections)s
        """
        # declared parameters checked once (not through @_fit_context, whose
        # frame inside scikit-learn would then be named by our warnings)
        self._validate_params()
        stats = None
        ns = self._input_namespace(X)
        if is_dask_array(X):
            stats = fit_statistics(self, X)  # one distributed pass
            X, (n, d) = None, (stats.n, stats.n_features)
        elif ns.is_array_api:
            X = validate_in_namespace(self, X, ns, reset=True)
            n, d = X.shape
        else:
            X = validate_X(self, X, reset=True)
            n, d = X.shape
        p = self._check_params(d)
        k = p["k"]
        rng = check_random_state(self.random_state)
        sampled = p["noise"] > 0 and p["noise_mode"] == "sampled"
        wide = X is not None and n < d and not sampled
        if ns.is_array_api:
            # The expected loss depends on the data only through (mean,
            # scatter): that pass runs on the device. Sampled noise (fresh
            # noise for every row) and wide data (the row basis) need the rows:
            # they go to the host and take the numpy path.
            if sampled or wide:
                X = np.ascontiguousarray(to_host(X, ns=ns))
            else:
                stats, X = stats_in_namespace(X, ns.xp, ns.device), None
        if stats is None and not wide:
            stats = SufficientStats.from_array(X)
        if sampled and X is None:
            raise ValueError(
                "noise_mode='sampled' draws noise for every row, which needs the "
                "rows in memory; use noise_mode='expected' (the exact expected "
                "loss, from the scatter matrix alone) with a Dask array."
            )
        # On small problems BLAS threads only add synchronisation cost (to
        # L-BFGS's tiny vector operations, measured ~10x slower on a loaded
        # 2-core machine, and to the small decompositions), so run
        # single-threaded there.
        per_iter = d * d * k if sampled else min(n, d) * k
        once = min(n, d) ** 2 * d
        threads = nullcontext()
        if per_iter < _THREADED_WORK and once < 50 * _THREADED_WORK:
            threads = blas_threads(1)
        with threads:
            self._fit_in_basis(X, stats, n, d, p, rng, sampled, wide)
        if not self.converged_:
            warn(
                f"L-BFGS did not converge in max_iter={p['max_iter']} iterations: "
                f"the largest entry of the scaled gradient is {self._grad:.3g} > "
                f"tol={p['tol']:g}. Increase max_iter, or loosen tol.",
                ConvergenceWarning,
            )
        del self._grad
        move_fitted(self, ns)
        return self

    def _input_namespace(self, X, method: str | None = None):
        """Where ``X`` lives (numpy for Dask); checks it against a fitted model."""
        if is_dask_array(X):
            return NUMPY
        if method is not None:
            check_same_namespace(X, self, attribute="decoder_", method=method)
        return namespace_of(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags

    def _fit_in_basis(self, X, stats, n, d, p, rng, sampled, wide) -> None:
        """Statistics in the scatter's eigenbasis (row space when wide), L-BFGS,
        and the weights mapped back to the features."""
        k = p["k"]
        if sampled:  # the noisy statistics are not diagonal in any fixed basis
            basis, m, mean = None, d, stats.mean
            expected = Statistics.expected(stats.scatter, n, p["noise"])
        else:
            if wide:  # the d×d scatter is never formed
                mean = np.mean(X, axis=0, dtype=np.float64)
                Xc = np.asarray(X, dtype=np.float64) - mean
                basis, eigenvalues = _row_basis(Xc)
                trace = float(np.einsum("ij,ij->", Xc, Xc))
            else:
                mean = stats.mean
                basis, eigenvalues = _scatter_basis(stats)
                trace = float(np.trace(stats.scatter))
            expected = Statistics.eigenbasis(trace, eigenvalues, n, p["noise"])
            m = basis.shape[1]
        self.mean_ = mean
        scale = largest_eigenvalue(expected.quad)
        if not scale > 0:
            scale = 1.0
        alpha, beta = unit_weights(
            k, p["weight_decay"], p["unit"], p["contractive"], tied=self.tied
        )
        shape = dict(n_components=k, n_features=m, scale=scale)

        def make_objective(stats: Statistics) -> Objective:
            if self.tied:
                return Objective(stats, alpha, beta, tied=True, **shape)
            # minimise over B with the best A for each B (variable projection)
            return ProfiledObjective(stats, alpha, beta, **shape)

        objective = make_objective(expected)
        # Small random weights for the tied problem (training starts near the
        # origin, as in Baldi & Hornik's analysis). The profiled problem
        # depends on B alone, and without a penalty only on its column space,
        # so B starts with columns of unit length instead.
        init_scale = _INIT_SCALE if self.tied else 1.0
        A0 = rng.standard_normal((k, m)) * (_INIT_SCALE / np.sqrt(m))
        B0 = rng.standard_normal((m, k)) * (init_scale / np.sqrt(m))
        params = objective.pack(A0, B0)
        if sampled:
            Xc = np.asarray(X, dtype=np.float64) - self.mean_
            params, curve, n_iter, converged, objective = self._fit_sampled(
                make_objective, params, Xc, p, rng
            )
        else:
            params, curve, n_iter, converged = _run_lbfgs(
                objective, params, p["max_iter"], p["tol"]
            )
        self._grad = 0.0 if converged else float(np.max(np.abs(objective(params)[1])))
        A, B = objective.unpack(params)
        if basis is not None:  # back from the eigenbasis to the features
            A, B = A @ basis.T, basis @ B
        self.encoder_ = np.array(A)
        self.decoder_ = np.array(B)
        self.loss_ = objective.loss(params)
        self.loss_curve_ = np.asarray(curve, dtype=float)
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(converged)
        self._set_directions()
        self._n_features_out = k

    def _fit_sampled(self, make_objective, params, Xc, p, rng):
        """Sampled input noise: one fresh draw per epoch, statistics averaged.

        After epoch t the objective is the loss averaged over the t noisy
        copies drawn so far, ``tr Σ - 2 tr(P C̄_t) + tr(P Q̄_t Pᵀ)`` with
        ``C̄_t``, ``Q̄_t`` the running means of ``X̃_cᵀ X_c`` and ``X̃_cᵀ X̃_c``;
        L-BFGS is warm-started from the previous epoch's weights. Untied, each
        epoch's objective needs an eigendecomposition of ``Q̄_t`` (O(d³)).
        """
        n, d = Xc.shape
        scatter = Xc.T @ Xc
        trace = float(np.trace(scatter))
        noise_x = np.zeros((d, d))  # Σ_t E_tᵀ X_c
        noise_sq = np.zeros((d, d))  # Σ_t E_tᵀ E_t
        curve, n_iter, converged = [], 0, True
        for epoch in range(1, p["n_epochs"] + 1):
            E = rng.standard_normal((n, d)) * p["noise"]
            noise_x += E.T @ Xc
            noise_sq += E.T @ E
            cross = scatter + noise_x / epoch
            quad = scatter + (noise_x + noise_x.T + noise_sq) / epoch
            objective = make_objective(Statistics(trace, cross, quad))
            # Before the last epoch the statistics still move by O(1/sqrt(n t)),
            # so polishing to ``tol`` would be wasted: stop at _EPOCH_TOL.
            tol = p["tol"] if epoch == p["n_epochs"] else max(p["tol"], _EPOCH_TOL)
            params, _, it, converged = _run_lbfgs(objective, params, p["max_iter"], tol)
            n_iter += it
            curve.append(objective.loss(params))
        return params, curve, n_iter, converged, objective

    def _set_directions(self) -> None:
        U, sv, _ = np.linalg.svd(self.decoder_, full_matrices=False)
        self.principal_directions_ = sign_flip(U.T)
        self.decoder_singular_values_ = sv

    @property
    def components_(self) -> np.ndarray:
        """The decoder's columns as rows, ``Bᵀ`` (n_components, n_features)."""
        check_is_fitted(self, "decoder_")
        return self.decoder_.T

    # -------------------------------------------------------------- transform
    @fill_doc
    @lazy_over_rows(lambda self: self.encoder_.shape[0])
    def transform(self, X) -> np.ndarray:
        """Encode: ``h = A (x - mean)`` for every row.

        %(transform_sections)s
        """
        check_is_fitted(self, "encoder_")
        ns = self._input_namespace(X, "transform")
        if ns.is_array_api:
            X = validate_in_namespace(self, X, ns, reset=False)
            return centred_product(X, self.mean_, self.encoder_.T, ns)
        X = validate_X(self, X, reset=False)
        # float32 in, float32 out
        return ((X - self.mean_) @ self.encoder_.T).astype(X.dtype, copy=False)

    @fill_doc
    @lazy_over_rows(lambda self: self.decoder_.shape[0])
    def inverse_transform(self, X) -> np.ndarray:
        """Decode: ``x̂ = mean + B h`` for every row of codes.

        %(inverse_transform_sections)s
        """
        check_is_fitted(self, "decoder_")
        ns = self._input_namespace(X, "inverse_transform")
        if ns.is_array_api:
            H = codes_in_namespace(X, self.decoder_.shape[1], ns, name="codes")
            return product_plus(H, self.decoder_.T, self.mean_, ns)
        H = check_codes(X, self.decoder_.shape[1], name="codes")
        # float32 in, float32 out
        return (self.mean_ + H @ self.decoder_.T).astype(H.dtype, copy=False)

    @on_host  # numpy copies of a device fit's attributes and of X
    def compare_with_pca(self, X) -> PCAComparison:
        """Largest principal angle to PCA's subspace of X and ``‖A - Bᵀ‖/‖B‖``.

        See :func:`compare_with_pca`.
        """
        return compare_with_pca(self, X)

    def score(self, X, y=None) -> float:
        """Negative mean squared reconstruction error per row (higher is better).

        ``-(1/n) Σ_r ‖x_r - x̂_r‖²`` with clean inputs and no penalty.
        """
        check_is_fitted(self, "encoder_")
        ns = self._input_namespace(X, "score")
        if ns.is_array_api:
            X = validate_in_namespace(self, X, ns, reset=False)
            residual = X - self.inverse_transform(self.transform(X))
            return -float(as_numpy(ns.xp.sum(residual * residual))) / X.shape[0]
        X = validate_X(self, X, reset=False).astype(np.float64, copy=False)
        residual = X - self.inverse_transform(self.transform(X))
        return -float(np.einsum("ij,ij->", residual, residual)) / X.shape[0]


def _row_basis(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis (d, n) of the centred rows' span, in which the scatter
    ``X_cᵀ X_c`` is diagonal, and that diagonal (decreasing).

    Every minimiser of the objective lies in that span: the reconstruction
    targets live there, and a component of ``A`` or ``B`` outside it only adds
    penalty or expected noise. From ``X_cᵀ = Q R`` (O(n² d)) and the SVD of
    the n×n ``Rᵀ = U S Wᵀ``: ``X_c = U S (Q W)ᵀ``, so the basis is ``Q W``.
    """
    Q, R = np.linalg.qr(Xc.T)
    _, sv, Wt = np.linalg.svd(R.T)
    return Q @ Wt.T, sv**2


def _scatter_basis(stats: SufficientStats) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors (d, d) of the scatter and its eigenvalues (decreasing)."""
    s, V = np.linalg.eigh(stats.scatter)
    return V[:, ::-1], np.maximum(s[::-1], 0.0)


def _run_lbfgs(objective: Objective, params: np.ndarray, max_iter: int, tol: float):
    """Minimise ``objective`` with L-BFGS-B; return (params, curve, nit, converged).

    The curve is the objective in the user's units after each iteration.
    Stopping is by the gradient (``gtol=tol`` on the scaled loss) or when no
    step decreases the loss any more (``ftol=0``: the loss is at rounding
    level, which limits the weights' accuracy to about 1e-8 relative); a
    line search that fails for the same reason counts as converged when the
    scaled gradient is below ``sqrt(tol)``.
    """
    curve = []

    def record(intermediate_result):
        curve.append(intermediate_result.fun * objective.scale)

    result = minimize(
        objective,
        params,
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options=dict(maxiter=max_iter, gtol=tol, ftol=0.0, maxcor=20),
    )
    if result.status == 0:
        converged = True
    elif result.status == 1:
        converged = False
    else:
        converged = np.max(np.abs(result.jac)) <= np.sqrt(tol)
    return result.x, curve, result.nit, bool(converged)


class PCAComparison(NamedTuple):
    """How a fitted linear autoencoder relates to PCA of the same data.

    Attributes
    ----------
    max_principal_angle : float
        Largest principal angle (radians) between the decoder's column space
        and the top-k principal subspace of X.
    projector_error : float
        ``‖B A - U_k U_kᵀ‖_F / ‖U_k U_kᵀ‖_F``.
    transpose_gap : float
        ``‖A - Bᵀ‖_F / ‖B‖_F``: zero when the encoder is the decoder's
        transpose.
    """

    max_principal_angle: float
    projector_error: float
    transpose_gap: float


def compare_with_pca(autoencoder: LinearAutoencoder, X) -> PCAComparison:
    """Compare a fitted :class:`LinearAutoencoder` with PCA of ``X``.

    PCA is computed here from the SVD of ``X`` centred at its own mean, so
    this is an independent check of the autoencoder's subspace (Plaut 2018).

    Parameters
    ----------
    autoencoder : LinearAutoencoder
        Fitted estimator.
    X : array-like of shape (n_samples, n_features)
        Usually the training data.

    Returns
    -------
    PCAComparison
    """
    check_is_fitted(autoencoder, "decoder_")
    X = check_array(X, dtype=np.float64)
    A, B = autoencoder.encoder_, autoencoder.decoder_
    k = B.shape[1]
    if X.shape[1] != B.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features; the autoencoder was fitted on {B.shape[0]}."
        )
    Xc = X - X.mean(axis=0)
    Vt = np.linalg.svd(Xc, full_matrices=False)[2]
    Uk = Vt[:k].T
    angle = float(np.max(subspace_angles(B, Uk))) if np.any(B) else np.pi / 2
    projector = Uk @ Uk.T
    projector_error = np.linalg.norm(B @ A - projector) / np.linalg.norm(projector)
    norm_B = np.linalg.norm(B)
    gap = np.linalg.norm(A - B.T) / norm_B if norm_B > 0 else np.inf
    return PCAComparison(angle, float(projector_error), float(gap))
