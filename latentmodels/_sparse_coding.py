"""Sparse coding: a Laplace prior on the factors and a learned dictionary.

The generative model (Olshausen & Field 1996; user guide
``docs/user_guide/sparse_coding.rst``) draws a code ``h`` with independent
entries ``h_j ~ Laplace(0, 1/λ)`` and the signal ``x = h D + ε`` with
``ε ~ N(0, σ² I)``; the rows ``d_j`` of the dictionary ``D`` (n_components,
n_features) are kept in the unit ball ``‖d_j‖₂ ≤ 1``.
The MAP code of one example is the lasso

.. math::

    h^*(x) = \\arg\\min_h \\tfrac12 \\lVert x - h D \\rVert_2^2
        + \\alpha \\lVert h \\rVert_1, \\qquad \\alpha = \\lambda \\sigma^2,

solved per example by :mod:`latentmodels.sparse` (non-parametric inference).
Learning minimises the mean objective over the examples, alternating the
codes and the dictionary (:mod:`latentmodels.sparse._dictionary`), in batch or
online (Mairal, Bach, Ponce & Sapiro 2010, JMLR 11:19–60). A parametric
encoder (:mod:`latentmodels.sparse._encoder`) can be fitted beside it to show
what the per-example optimisation buys.

The data are not centred (as in scikit-learn's ``DictionaryLearning``): the
model has no mean, so centre the data beforehand if it should not be coded.

Array-API input (PyTorch, CuPy, ... under ``array_api_dispatch=True``; user
guide ``docs/user_guide/array_api.rst``) is coded on its device
(:mod:`latentmodels.sparse._encode_device`); the dictionary step works on the
small statistics ``A = HᵀH`` (k × k) and ``B = HᵀX`` (k × d), formed on the
device and solved on the host. One code path serves both: for numpy input
the moves between host and device are the identity.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
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
    Namespace,
    as_numpy,
    attribute_dtype,
    codes_in_namespace,
    from_host,
    namespace_of,
    numpy_only,
    validate_in_namespace,
)
from ._dask import lazy_over_rows
from ._docstrings import fill_doc
from ._threads import blas_thread_count, blas_threads, blas_threads_for
from ._validation import (
    check_array_finite,
    check_codes,
    check_int,
    n_threads_from_jobs,
    validate_X,
)
from ._warnings import warn
from .sparse import ENCODE_CONSTRAINTS
from .sparse import encode as _encode
from .sparse._dictionary import (
    accumulate_statistics,
    project_atoms,
    reseed_unused_atoms,
    update_dictionary,
)
from .sparse._encode_device import effective_tol, encode_device
from .sparse._encoder import fit_encoder
from .sparse._objective import lasso_objective

# Dictionary step of batch learning: sweeps of block coordinate descent, stopped
# early when no atom moves by more than this much.
_DICT_MAX_SWEEPS = 10
_DICT_TOL = 1e-6
# Online learning: one warm-started sweep per minibatch (Mairal et al. 2010).
_ONLINE_SWEEPS = 1


def _dictionary_blas(X, D: np.ndarray):
    """BLAS threads of a dictionary step on ``X``: the caller's (``n_jobs``)
    only if its products (``HᵀH``, ``HᵀX``: ``n k (k + d)`` flops) are large;
    after a small threaded product OpenBLAS's workers would spin into the
    next inference pass (:func:`latentmodels._threads.blas_threads_for`)."""
    k, d = D.shape
    return blas_threads_for(X.shape[0] * k * (k + d), blas_thread_count())


def _sum_r2(res, alpha: float, xp=np) -> float:
    """``‖X − HD‖²_F`` from the per-sample objectives ``½‖r‖² + α‖h‖₁``."""
    l1 = xp.sum(xp.abs(res.codes))
    return max(2.0 * (float(xp.sum(res.objective)) - alpha * float(l1)), 0.0)


def _host64(a) -> np.ndarray:
    """``a`` (numpy or any array-API array) as a float64 numpy array on the host."""
    return np.asarray(as_numpy(a), dtype=np.float64)


def _take_rows(X, rows: np.ndarray, ns: Namespace):
    """``X[rows]`` for host indices ``rows``, in ``X``'s namespace."""
    if not ns.is_array_api:
        return X[rows]
    return ns.xp.take(X, from_host(ns, rows, dtype=ns.xp.int64), axis=0)


def _relative_change(trace) -> float:
    """``|f_{t-1} − f_t| / |f_t|`` of the last two entries of an objective trace."""
    if len(trace) < 2:
        return float("nan")
    return abs(trace[-2] - trace[-1]) / max(abs(trace[-1]), np.finfo(float).tiny)


class SparseCoding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse coding with a learned dictionary (Laplace prior, MAP inference).

    Each example is coded by the lasso
    ``h*(x) = argmin_h ½‖x − h D‖² + α‖h‖₁`` (``h >= 0`` if
    ``positive_code``), the MAP estimate under the prior
    ``h_j ~ Laplace(0, 1/λ)`` and the noise ``N(0, σ² I)`` with ``α = λσ²``.
    The dictionary ``D`` minimises the mean of that objective over the
    training examples with every atom in the unit ball.

    Parameters
    ----------
    n_components : int
        Number of atoms ``k`` (may exceed ``n_features``: overcomplete).
    alpha : float, default=1.0
        Penalty ``α > 0`` on ``‖h‖₁``, not scaled by ``n_features``
        (scikit-learn's ``DictionaryLearning`` uses the same scale).
    solver : {'auto', 'fista', 'cd', 'feature_sign', 'cvxpy', \
            'fista_active_set'}, default='auto'
        Per-example inference (:func:`latentmodels.sparse.sparse_encode`);
        ``fit`` and ``transform`` use the same one. For array-API input
        (``array_api_dispatch=True``), ``'auto'`` is the device solver
        ``'fista_active_set'``: data and codes stay on the device, the
        dictionary step runs on the host statistics (user guide
        ``docs/user_guide/array_api.rst``).
    fit_algorithm : {'batch', 'online'}, default='batch'
        ``'batch'`` alternates inference on all examples (warm started from
        the previous codes) with block coordinate descent on the atoms; its
        objective never increases. ``'online'`` is Mairal et al.'s algorithm:
        minibatches of ``batch_size`` examples update the statistics
        ``A = Σ hhᵀ``, ``B = Σ hxᵀ`` and then the dictionary by one sweep.
    positive_code : bool, default=False
        Constrain the codes to ``h >= 0``.
    positive_dict : bool, default=False
        Constrain the atoms to be non-negative.
    batch_size : int, default=256
        Minibatch size of online learning.
    max_iter : int, default=100
        Largest number of dictionary updates (batch) or epochs (online).
    tol : float, default=1e-4
        Stop when the mean objective decreases by less than
        ``tol · objective`` from one iteration (epoch) to the next.
    encoder : {None, 'linear', 'lista'}, default=None
        Also fit a parametric encoder to the exact codes of the training data
        (``encode_parametric``): ``'linear'`` is ``shrink(W x + b)``
        (Kavukcuoglu, Ranzato & LeCun 2008), ``'lista'`` learned ISTA (Gregor
        & LeCun 2010).
    encoder_n_layers : int, default=3
        Layers of the LISTA encoder after the first threshold.
    encoder_max_iter : int, default=200
        L-BFGS iterations to fit the encoder.
    transform_tol : float, default=1e-6
        Relative duality gap at which inference stops (``fit`` and
        ``transform``).
    transform_max_iter : int, default=1000
        Iteration limit of inference.
    forget_rate : float, default=10.0
        Online learning: before a batch of ``m`` examples is added after ``n``,
        the statistics are scaled by ``(n/(n+m))^forget_rate`` (Mairal's
        ``β_t = (1 − 1/t)^ρ`` written per example, so batches of different
        sizes are weighted by their number of examples). 0 keeps plain sums
        over everything seen; larger values forget the codes computed with
        early, poor dictionaries faster (the memory is about ``n / ρ``
        examples).
    dict_init : ndarray of shape (n_components, n_features), default=None
        Starting dictionary (projected into the unit ball). By default,
        ``n_components`` randomly chosen examples, normalised.
    n_jobs : int, default=None
        Threads for inference over examples and for BLAS during ``fit``
        (None: all cores). On a busy machine ``n_jobs=1`` can be faster.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial dictionary, the minibatch order, re-seeding of
        unused atoms when no residual is left, and ``sample``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The dictionary ``D`` (atoms as rows, ``‖d_j‖₂ ≤ 1``). After a fit
        on array-API input, this and the other array attributes live on the
        input's device in float64 (float32 where the device has none).
    objective_ : ndarray of shape (n_iter_ + 1,)
        Mean objective per sample. Batch: at the start and after each
        dictionary update (never increases). Online: the mean over each epoch
        of the minibatch objectives (at the time each batch was coded), or
        the objective of each ``partial_fit`` batch.
    n_iter_ : int
        Dictionary updates (batch), epochs (online) or ``partial_fit`` calls.
    stats_A_ : ndarray of shape (n_components, n_components)
        Online statistics ``Σ w hhᵀ`` (online learning and ``partial_fit``).
    stats_B_ : ndarray of shape (n_components, n_features)
        Online statistics ``Σ w h xᵀ``.
    n_samples_seen_ : int
        Examples summarised in the statistics (online) or used in ``fit``.
    noise_variance_ : float
        ``σ²``, the mean squared residual per entry of the training data.
    prior_rate_ : float
        ``λ = α / σ²``, the rate of the Laplace prior implied by ``α``.
    encoder_ : ParametricEncoder or None
        The fitted parametric encoder (if ``encoder`` is set).
    encoder_gap_ : dict or None
        On the training data: ``objective_exact``, ``objective_parametric``
        and ``objective_zero`` (mean objective of the exact, parametric and
        zero codes), ``relative_objective_gap``
        ``(P(parametric) − P(exact)) / P(exact)`` and ``relative_code_error``
        ``‖H_param − H*‖_F / ‖H*‖_F``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    References
    ----------
    Olshausen & Field (1996), Nature 381:607–609. Mairal, Bach, Ponce &
    Sapiro (2010), JMLR 11:19–60. Kavukcuoglu, Ranzato & LeCun (2008),
    arXiv:1010.3467. Gregor & LeCun (2010), ICML.
    """

    _parameter_constraints: dict = {
        # typed here; the range (and bools) checked by check_int at fit with
        # the message every estimator gives ("at least 1, got 0")
        "n_components": [Integral],
        "alpha": ENCODE_CONSTRAINTS["alpha"],
        "solver": ENCODE_CONSTRAINTS["solver"],
        "fit_algorithm": [StrOptions({"batch", "online"})],
        "positive_code": ["boolean"],
        "positive_dict": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "encoder": [StrOptions({"linear", "lista"}), None],
        "encoder_n_layers": [Interval(Integral, 0, None, closed="left")],
        "encoder_max_iter": [Interval(Integral, 1, None, closed="left")],
        "transform_tol": ENCODE_CONSTRAINTS["tol"],
        "transform_max_iter": ENCODE_CONSTRAINTS["max_iter"],
        "forget_rate": [Interval(Real, 0, None, closed="left")],
        "dict_init": ["array-like", None],
        "n_jobs": ENCODE_CONSTRAINTS["n_jobs"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components,
        *,
        alpha=1.0,
        solver="auto",
        fit_algorithm="batch",
        positive_code=False,
        positive_dict=False,
        batch_size=256,
        max_iter=100,
        tol=1e-4,
        encoder=None,
        encoder_n_layers=3,
        encoder_max_iter=200,
        transform_tol=1e-6,
        transform_max_iter=1000,
        forget_rate=10.0,
        dict_init=None,
        n_jobs=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.solver = solver
        self.fit_algorithm = fit_algorithm
        self.positive_code = positive_code
        self.positive_dict = positive_dict
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.encoder = encoder
        self.encoder_n_layers = encoder_n_layers
        self.encoder_max_iter = encoder_max_iter
        self.transform_tol = transform_tol
        self.transform_max_iter = transform_max_iter
        self.forget_rate = forget_rate
        self.dict_init = dict_init
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate(self, X, *, reset: bool, method: str = "fit"):
        """``X`` checked, and where it lives: ``(X, ns)``.

        numpy input: ``X`` as float64 and ``ns.dtype`` the dtype of the codes
        returned (float32 for float32 input). Array-API input (dispatch on):
        ``X`` on its device in its floating dtype (float32 kept).
        """
        if not reset:  # scikit-learn's rule (a no-op with dispatch off)
            check_same_namespace(X, self, attribute="components_", method=method)
        ns = namespace_of(X)
        if not ns.is_array_api:
            X = validate_X(self, X, reset=reset)
            out = np.float32 if X.dtype == np.float32 else np.float64
            return np.asarray(X, dtype=np.float64), Namespace(np, "cpu", out, False)
        return validate_in_namespace(self, X, ns, reset=reset), ns

    @staticmethod
    def _codes_out(H, ns: Namespace):
        """Codes in the dtype of the input (float32 in, float32 out)."""
        return H if ns.is_array_api else H.astype(ns.dtype, copy=False)

    def _tol(self, ns: Namespace) -> float:
        """``transform_tol``, raised to the float32 floor for float32 arrays."""
        if not ns.is_array_api:
            return float(self.transform_tol)
        return effective_tol(
            float(self.transform_tol), ns.dtype, ns.xp, "SparseCoding"
        )

    # --------------------------------------------------------------- inference
    def _infer(self, X, D, init=None, init_objective=False, *, ns, tol):
        """Codes of ``X`` on ``D``: one parallel pass (:mod:`latentmodels.sparse`),
        or the device solver for arrays of an array-API ``ns``."""
        options = dict(
            solver=self.solver,
            positive=bool(self.positive_code),
            tol=tol,
            max_iter=int(self.transform_max_iter),
            init=init,
            n_jobs=self.n_jobs,
            init_objective=init_objective,
        )
        if ns.is_array_api:
            res = encode_device(X, D, float(self.alpha), ns=ns, **options)
        else:
            res = _encode(X, D, float(self.alpha), **options)
        if not bool(ns.xp.all(res.converged)):
            failed = getattr(self, "_failed_inference", None)
            if failed is not None:  # inside fit: one warning at its end
                failed.append((res.solver, float(ns.xp.max(res.relative_gap))))
            else:
                warn(
                    f"SparseCoding inference ({res.solver}): {res.message}; "
                    "increase transform_max_iter or transform_tol.",
                    ConvergenceWarning,
                )
        return res

    def _initial_dictionary(self, X, rng, ns: Namespace | None = None) -> np.ndarray:
        """``dict_init`` projected into the constraint set, or random examples.

        Without ``dict_init``: ``n_components`` distinct examples (Gaussian
        noise rows if there are fewer examples), absolute values for
        ``positive_dict``, normalised; zero rows are replaced by noise. A
        float64 numpy array (the host copy of the dictionary).
        """
        k, d = self.n_components, X.shape[1]
        ns = namespace_of(X) if ns is None else ns
        if self.dict_init is not None:
            D = check_array(
                as_numpy(self.dict_init), dtype=np.float64, input_name="dict_init"
            )
            if D.shape != (k, d):
                raise ValueError(
                    f"dict_init has shape {D.shape}, but (n_components, n_features)"
                    f" = {(k, d)}; pass a dictionary with one atom per row."
                )
            check_array_finite(D, name="dict_init")
            return project_atoms(D, self.positive_dict)  # a new array
        rows = rng.choice(X.shape[0], size=min(k, X.shape[0]), replace=False)
        Xr = _host64(_take_rows(X, rows, ns))
        D = np.vstack([Xr, rng.standard_normal((k - rows.size, d))])
        dead = ~np.any(D != 0.0, axis=1)
        D[dead] = rng.standard_normal((int(dead.sum()), d))
        if self.positive_dict:
            D = np.abs(D)
        return D / np.sqrt(np.einsum("ij,ij->i", D, D))[:, None]

    # ----------------------------------------------------------------- fitting
    @fill_doc
    def fit(self, X, y=None):
        """Learn the dictionary from ``X`` (n_samples, n_features).

        %(fit_sections)s
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Learn the dictionary and return the codes of ``X``.

        The codes are those of ``transform(X)`` with the final dictionary
        (inference from zero), so ``fit_transform(X)`` equals
        ``fit(X).transform(X)``.
        """
        return self._fit(X)

    def _fit(self, X) -> np.ndarray:
        # n_jobs bounds every thread pool of the fit: BLAS here, the solvers'
        # own threads inside inference.
        self._validate_params()  # the constraint table, once per fit
        check_int(self.n_components, "n_components")
        self._failed_inference = []
        try:
            with blas_threads(n_threads_from_jobs(self.n_jobs)):
                H = self._fit_unlimited(X)
        finally:
            failed = self._failed_inference
            del self._failed_inference
        if failed:  # one warning per fit, not one per iteration or minibatch
            warn(
                f"SparseCoding inference ({failed[0][0]}): {len(failed)} inference "
                "pass(es) during fit left samples above the relative duality gap "
                f"transform_tol={self.transform_tol:g} within transform_max_iter="
                f"{self.transform_max_iter} (worst: "
                f"{max(g for _, g in failed):.3g}); increase transform_max_iter or "
                "transform_tol.",
                ConvergenceWarning,
            )
        return H

    def _fit_unlimited(self, X):
        X, ns = self._validate(X, reset=True)
        tol = self._tol(ns)
        rng = check_random_state(self.random_state)
        D = self._initial_dictionary(X, rng, ns)
        if self.fit_algorithm == "batch":
            D, trace, n_iter, converged = self._fit_batch(X, D, rng, ns, tol)
        else:
            self.stats_A_ = np.zeros((self.n_components, self.n_components))
            self.stats_B_ = np.zeros((self.n_components, X.shape[1]))
            self.n_samples_seen_ = 0
            D, trace, n_iter, converged = self._fit_online(X, D, rng, ns, tol)
        if not converged:
            warn(
                f"SparseCoding ({self.fit_algorithm}) stopped after max_iter="
                f"{self.max_iter} iterations before the objective settled "
                f"(last relative change {_relative_change(trace):.3g} > "
                f"tol={self.tol:g}); increase max_iter or tol.",
                ConvergenceWarning,
            )
        # fitted arrays: float64 (float32 on a device without float64), as
        # the numpy fit; inference runs in X's dtype
        adt = attribute_dtype(ns)
        self.components_ = from_host(ns, D, dtype=adt)
        self.objective_ = from_host(ns, np.asarray(trace), dtype=adt)
        self.n_iter_ = n_iter
        res = self._infer(X, from_host(ns, D), ns=ns, tol=tol)
        H = res.codes
        if self.fit_algorithm == "batch":
            # Statistics of the final codes, from which partial_fit continues.
            with _dictionary_blas(X, D):
                self.stats_A_, self.stats_B_ = H.T @ H, H.T @ X
            if ns.is_array_api:
                self.stats_A_, self.stats_B_ = (
                    ns.xp.astype(a, adt) for a in (self.stats_A_, self.stats_B_)
                )
        else:
            self.stats_A_, self.stats_B_ = from_host(
                ns, self.stats_A_, self.stats_B_, dtype=adt
            )
        # ‖X − HD‖² from the certificate's objectives (no pass over the data)
        self._set_noise(
            _sum_r2(res, float(self.alpha), ns.xp), X.shape[0] * X.shape[1]
        )
        self.encoder_ = None
        self.encoder_gap_ = None
        if self.encoder is not None:
            self._fit_encoder(_host64(X), _host64(H), D)
        return self._codes_out(H, ns)

    def _set_noise(self, sum_r2: float, size: int) -> None:
        """``σ²`` = mean squared residual per entry; ``λ = α / σ²``."""
        self._sum_r2 = sum_r2
        self._n_entries = size
        self.noise_variance_ = max(sum_r2 / max(size, 1), np.finfo(np.float64).tiny)
        self.prior_rate_ = float(self.alpha) / self.noise_variance_

    def _reseed(self, D, A, X, H, rng, ns: Namespace):
        """:func:`reseed_unused_atoms` on the host copy ``D`` of the dictionary.

        For device arrays only the rows with the largest residuals (as many as
        unused atoms) come to the host: the ones the re-seeding takes.
        """
        n_unused = int(np.sum(np.diag(A) <= 0.0))
        if ns.is_array_api and n_unused:
            xp = ns.xp
            R = X - H @ from_host(ns, D)
            norms = _host64(xp.sum(R * R, axis=1))
            top = np.argsort(-norms, kind="stable")[:n_unused]
            X, H = (_host64(_take_rows(a, top, ns)) for a in (X, H))
        return reseed_unused_atoms(
            D, A, X, H, positive=self.positive_dict, random_state=rng
        )[0]

    def _fit_batch(self, X, D, rng, ns: Namespace, tol: float):
        """Batch learning: ``D`` on the host, ``X`` and the codes in ``ns``."""
        xp = ns.xp
        res = self._infer(X, from_host(ns, D), ns=ns, tol=tol)
        H, obj = res.codes, res.objective
        trace = [float(xp.mean(obj))]
        self.n_samples_seen_ = X.shape[0]
        for it in range(1, self.max_iter + 1):
            # the statistics (k × k, k × d) formed where the data are
            with _dictionary_blas(X, D):
                A = _host64(H.T @ H)
                D = self._reseed(D, A, X, H, rng, ns)
                D, _ = update_dictionary(
                    D,
                    A,
                    _host64(H.T @ X),
                    positive=self.positive_dict,
                    max_sweeps=_DICT_MAX_SWEEPS,
                    tol=_DICT_TOL,
                )
            # Warm-started inference; a sample whose new code is not better
            # than its old one (possible within the solver's tolerance) keeps
            # the old code, so the objective can never increase.
            res = self._infer(
                X, from_host(ns, D), init=H, init_objective=True, ns=ns, tol=tol
            )
            keep = res.objective > res.init_objective
            H = xp.where(keep[:, None], H, res.codes)
            obj = xp.where(keep, res.init_objective, res.objective)
            trace.append(float(xp.mean(obj)))
            if trace[-2] - trace[-1] <= self.tol * abs(trace[-1]):
                return D, trace, it, True
        return D, trace, self.max_iter, False

    def _online_step(self, Xb, D, rng, init=None, *, ns, tol):
        """Code a minibatch, add it to the statistics, update the dictionary.

        ``D`` and the statistics are host arrays; ``Xb`` and ``init`` live in
        ``ns`` (the batch and its codes come to the host: batch-sized).
        """
        res = self._infer(Xb, from_host(ns, D), init=init, ns=ns, tol=tol)
        Xh, H = _host64(Xb), _host64(res.codes)
        with _dictionary_blas(Xh, D):
            self.stats_A_, self.stats_B_, self.n_samples_seen_ = (
                accumulate_statistics(
                    self.stats_A_,
                    self.stats_B_,
                    self.n_samples_seen_,
                    Xh,
                    H,
                    forget_rate=float(self.forget_rate),
                )
            )
            D, _ = reseed_unused_atoms(
                D, self.stats_A_, Xh, H, positive=self.positive_dict, random_state=rng
            )
            D, _ = update_dictionary(
                D,
                self.stats_A_,
                self.stats_B_,
                positive=self.positive_dict,
                max_sweeps=_ONLINE_SWEEPS,
                tol=_DICT_TOL,
            )
        return D, res, H

    def _fit_online(self, X, D, rng, ns: Namespace, tol: float):
        n = X.shape[0]
        H_all = np.zeros((n, self.n_components))  # warm starts, on the host
        trace = []
        for epoch in range(1, self.max_iter + 1):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                D, res, H_all[idx] = self._online_step(
                    _take_rows(X, idx, ns), D, rng, init=from_host(ns, H_all[idx]),
                    ns=ns, tol=tol,
                )
                total += float(ns.xp.sum(res.objective))
            trace.append(total / n)
            if epoch > 1 and abs(trace[-2] - trace[-1]) <= self.tol * abs(trace[-1]):
                return D, trace, epoch, True
        return D, trace, self.max_iter, False

    @fill_doc
    def partial_fit(self, X, y=None):
        """Update the dictionary with one minibatch ``X`` (online learning).

        ``X`` is coded with the current dictionary, added to the statistics
        ``A``, ``B`` (weighted per example, see ``forget_rate``) and the
        dictionary takes one sweep of block coordinate descent. The
        parametric encoder is not updated (``encoder_`` is reset to None).
        numpy input only (not array-API arrays on a device).

        %(fit_sections)s
        """
        self._validate_params()
        check_int(self.n_components, "n_components")
        fitted = getattr(self, "components_", None)
        alternative = (
            "learn online on the device with fit(X) and fit_algorithm='online', "
            "or pass numpy batches to a model fitted on numpy."
        )
        if namespace_of(X).is_array_api:
            raise numpy_only("SparseCoding.partial_fit", alternative)
        if not (fitted is None or isinstance(fitted, np.ndarray)):
            raise TypeError(
                "SparseCoding.partial_fit runs on numpy arrays only, but this "
                f"model was fitted on array-API arrays; {alternative}"
            )
        with blas_threads(n_threads_from_jobs(self.n_jobs)):
            return self._partial_fit(X)

    def _partial_fit(self, X):
        first = not hasattr(self, "components_")
        X, ns = self._validate(X, reset=first)
        if first:
            self._rng = check_random_state(self.random_state)
            D = self._initial_dictionary(X, self._rng, ns)
            self.stats_A_ = np.zeros((self.n_components, self.n_components))
            self.stats_B_ = np.zeros((self.n_components, X.shape[1]))
            self.n_samples_seen_ = 0
            self.n_iter_ = 0
            self.objective_ = np.zeros(0)
            self._set_noise(0.0, 0)
        else:
            D = self.components_
            if not hasattr(self, "_rng"):
                self._rng = check_random_state(self.random_state)
        D, res, _ = self._online_step(X, D, self._rng, ns=ns, tol=self._tol(ns))
        # the residuals under the dictionary that coded X, from the certificate
        sum_r2 = _sum_r2(res, float(self.alpha), np)
        self._set_noise(self._sum_r2 + sum_r2, self._n_entries + X.size)
        self.components_ = D
        self.n_iter_ += 1
        self.objective_ = np.append(self.objective_, res.objective.mean())
        self.encoder_ = None
        self.encoder_gap_ = None
        return self

    # ------------------------------------------------------------ inference API
    @fill_doc
    @lazy_over_rows(lambda self: self.components_.shape[0])
    def transform(self, X) -> np.ndarray:
        """Exact codes ``h*(x)`` of the rows of ``X`` (the inference of ``fit``).

        For array-API input the codes are in ``X``'s namespace, device and
        dtype.

        %(transform_sections)s
        """
        check_is_fitted(self)
        X, ns = self._validate(X, reset=False, method="transform")
        D = self.components_
        if not ns.is_array_api:
            D = _host64(D)
        elif D.dtype != X.dtype:  # inference in X's dtype
            D = ns.xp.astype(D, X.dtype)
        return self._codes_out(self._infer(X, D, ns=ns, tol=self._tol(ns)).codes, ns)

    @lazy_over_rows(lambda self: self.components_.shape[1])
    def inverse_transform(self, H) -> np.ndarray:
        """Decode codes: ``X̂ = H D`` (no mean: the data are not centred).

        Parameters
        ----------
        H : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
            In ``H``'s namespace, device and dtype for array-API input.
        """
        check_is_fitted(self)
        check_same_namespace(
            H, self, attribute="components_", method="inverse_transform"
        )
        ns = namespace_of(H)
        k = self.components_.shape[0]
        if ns.is_array_api:
            H = codes_in_namespace(
                H, k, ns, name="H", holder="the dictionary", unit="atoms"
            )
            D = self.components_
            if D.dtype != H.dtype:
                D = ns.xp.astype(D, H.dtype)
            return H @ D
        # float32 in, float32 out (computed in float64)
        H = check_codes(
            H, k, name="H", holder="the dictionary", unit="atoms",
            dtype=(np.float64, np.float32),
        )
        D = _host64(self.components_)
        return (np.asarray(H, dtype=np.float64) @ D).astype(H.dtype, copy=False)

    @lazy_over_rows(lambda self: self.components_.shape[0])
    def encode_parametric(self, X) -> np.ndarray:
        """Codes predicted by the parametric encoder (``encoder='linear'|'lista'``).

        One fixed function of ``x``, against which ``transform`` (one lasso
        per example) is the exact reference; see ``encoder_gap_``. The encoder
        runs on the host; for array-API input its codes are moved back to
        ``X``'s namespace and device.
        """
        check_is_fitted(self)
        if getattr(self, "encoder_", None) is None:
            raise ValueError(
                "No parametric encoder is fitted: set encoder='linear' or "
                "'lista' and call fit (partial_fit does not train it)."
            )
        X, ns = self._validate(X, reset=False, method="encode_parametric")
        return self._codes_out(from_host(ns, self.encoder_(_host64(X))), ns)

    def _fit_encoder(self, X: np.ndarray, H: np.ndarray, D: np.ndarray) -> None:
        alpha = float(self.alpha)
        # Products of size n x k x d and L-BFGS vectors of size ~k·d: threads
        # in BLAS only add synchronisation.
        with blas_threads(1):
            self.encoder_ = fit_encoder(
                X,
                H,
                D,
                alpha,
                kind=self.encoder,
                n_layers=self.encoder_n_layers,
                positive=bool(self.positive_code),
                max_iter=self.encoder_max_iter,
            )
        Hp = self.encoder_(X)
        exact = lasso_objective(X, D, H, alpha).mean()
        param = lasso_objective(X, D, Hp, alpha).mean()
        zero = 0.5 * np.einsum("ij,ij->", X, X) / X.shape[0]
        norm = np.linalg.norm(H)
        self.encoder_gap_ = {
            "objective_exact": float(exact),
            "objective_parametric": float(param),
            "objective_zero": float(zero),
            "relative_objective_gap": float((param - exact) / max(exact, 1e-300)),
            "relative_code_error": float(np.linalg.norm(Hp - H) / max(norm, 1e-300)),
        }

    # -------------------------------------------------------------- generative
    def sample(self, n_samples: int = 1, random_state=None, return_codes=False):
        """Draw from the fitted generative model.

        ``h_j ~ Laplace(0, 1/λ)`` (``Exponential(1/λ)`` when ``positive_code``)
        and ``x = h D + ε``, ``ε ~ N(0, σ² I)``, with ``σ² = noise_variance_``
        (mean squared residual of the training data) and
        ``λ = prior_rate_ = α / σ²`` (the rate for which ``α`` is the MAP
        penalty).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            numpy, also for a model fitted on array-API arrays.
        H : ndarray of shape (n_samples, n_components)
            Only when ``return_codes`` is True.
        """
        check_is_fitted(self)
        n_samples = check_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        D = _host64(self.components_)  # numpy draws, also for a device model
        k, d = D.shape
        scale = 1.0 / self.prior_rate_
        if self.positive_code:
            H = rng.exponential(scale, size=(n_samples, k))
        else:
            H = rng.laplace(0.0, scale, size=(n_samples, k))
        X = H @ D + rng.normal(
            0.0, np.sqrt(self.noise_variance_), size=(n_samples, d)
        )
        return (X, H) if return_codes else X

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
