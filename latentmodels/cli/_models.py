"""The models of ``python -m latentmodels compare`` and what is measured on each.

Each model is fitted on the training rows; on the held-out rows the command
measures the mean log-likelihood per row (Gaussian models), the relative
reconstruction error ``‖X − X̂‖²_F / ‖X − x̄‖²_F`` over the observed entries,
the fraction of exact zeros in the codes, and, on all rows with a target,
a cross-validated score of the model's features (the model refitted in every
fold): for class labels the accuracy of ``Pipeline(model, StandardScaler(),
LogisticRegression())``, for a continuous target the R² of ``Pipeline(model,
StandardScaler(), Ridge())``. The largest principal angle between
``components_`` and PCA's components on the training rows says how far the
model's subspace is from the principal one.

Log-likelihood conventions: PPCA and FA report their maximum-likelihood
Gaussian. PCA reports scikit-learn's convention, the probabilistic PCA whose
noise variance is the mean of the ``min(n, d) − k`` smallest eigenvalues of
the covariance (divisor ``n − 1``): PPCA's maximum-likelihood σ² up to that
divisor when ``n > d``, but larger when ``n ≤ d`` (the ``d − n`` zero
eigenvalues are left out of the mean), so on wide data PCA's held-out
log-likelihood differs from PPCA's.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass

import numpy as np

MODELS = ("pca", "ppca", "fa", "sparse", "autoencoder")
GAUSSIAN = ("pca", "ppca", "fa")
NAN_CAPABLE = ("ppca", "fa")
CLASS_NAMES = {
    "pca": "PCA",
    "ppca": "ProbabilisticPCA",
    "fa": "FactorAnalysis",
    "sparse": "SparseCoding",
    "autoencoder": "LinearAutoencoder",
}
# (attribute, what it is) of the training trace each model records.
TRACES = {
    "ppca": ("loglike_", "mean log-likelihood"),
    "fa": ("loglike_", "mean log-likelihood"),
    "sparse": ("objective_", "mean lasso objective"),
    "autoencoder": ("loss_curve_", "loss"),
}
# Settings that keep the default job (digits, all models) well under a minute.
# Tolerances are in the models' own units: nats per sample (EM of PPCA with
# missing values and of FA), relative decrease of the objective per epoch
# (sparse coding). The autoencoder keeps its own default (a scaled gradient
# of 1e-10), which it meets on raw scales too.
EM_TOL = 1e-6
SPARSE_EPOCHS = 30
SPARSE_TOL = 1e-3
# Log-likelihood convention of each Gaussian model (see the module docstring).
LOGLIK_CONVENTION = {
    "pca": "scikit-learn's PCA: noise variance = mean of the min(n, d) - k "
    "smallest covariance eigenvalues",
    "ppca": "maximum likelihood",
    "fa": "maximum likelihood",
}
METRICS = {
    "fit_time_s": "seconds to fit the model on the training rows (sparse "
    "coding: after a small warm-up fit, so numba's one-off compilation is "
    "not counted)",
    "heldout_loglik": "mean log-likelihood per held-out row, in the data's "
    "units (Gaussian models; convention in loglik_convention)",
    "reconstruction_error": "held-out ||X - Xhat||^2 / ||X - mean||^2 "
    "(observed entries)",
    "sparsity": "fraction of exact zeros in the held-out codes",
    "cv_accuracy": "class labels: mean cross-validated accuracy of "
    "LogisticRegression on the model's features (model refitted in each fold)",
    "cv_r2": "continuous target: mean cross-validated R^2 of Ridge(alpha=1) on "
    "the model's standardised features (model refitted in each fold)",
    "max_angle_to_pca_deg": "largest principal angle (degrees) between the span "
    "of components_ and PCA's on the training rows",
    "converged": "False when the fit on the training rows stopped before its "
    "tolerance (a ConvergenceWarning; marked ! in the table)",
}


@dataclass
class Split:
    """All rows (``X``, ``y``) and the training / held-out rows."""

    X: np.ndarray
    y: np.ndarray | None
    X_train: np.ndarray
    X_test: np.ndarray
    heldout: bool


def split_rows(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices: ``round(test_size · n)`` (at least
    one) held out at random."""
    from sklearn.model_selection import train_test_split

    n_test = max(1, int(round(test_size * n)))
    return train_test_split(np.arange(n), test_size=n_test, random_state=seed)


def split_data(X, y, rows: tuple[np.ndarray, np.ndarray]) -> Split:
    """The split of ``X`` by :func:`split_rows`'s indices."""
    train, test = rows
    return Split(X, y, X[train], X[test], heldout=True)


def make_estimator(name: str, cls, k: int, args, alpha: float, missing: bool):
    """The estimator the command fits for ``name`` (a Pipeline for sparse)."""
    if name == "pca":
        return cls(n_components=k)
    if name in ("ppca", "fa"):
        kwargs = {"missing_values": "em"} if missing else {}
        kwargs["tol"] = EM_TOL  # PPCA: used by EM only (missing values)
        return cls(n_components=k, random_state=args.seed, **kwargs)
    if name == "sparse":
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = cls(
            n_components=k,
            alpha=alpha,
            fit_algorithm="online",
            max_iter=SPARSE_EPOCHS,
            tol=SPARSE_TOL,
            random_state=args.seed,
        )
        # The dictionary codes centred rows (sparse coding has no mean).
        return make_pipeline(StandardScaler(with_std=False), model)
    return cls(n_components=k, random_state=args.seed)


def _core(estimator):
    """The latent model itself (the last step of a Pipeline)."""
    from sklearn.pipeline import Pipeline

    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _relative_error(X: np.ndarray, X_hat: np.ndarray, mean: np.ndarray) -> float:
    """``‖X − X̂‖² / ‖X − mean‖²`` over the observed (non-NaN) entries of X."""
    observed = ~np.isnan(X)
    num = np.sum(np.where(observed, X - X_hat, 0.0) ** 2)
    den = np.sum(np.where(observed, X - mean, 0.0) ** 2)
    return float(num / den) if den > 0 else float("nan")


def _max_angle_deg(components: np.ndarray, reference: np.ndarray | None):
    """Largest principal angle (degrees) between the row spaces, or None."""
    from scipy.linalg import subspace_angles

    if reference is None or not np.all(np.isfinite(components)):
        return None
    if not np.any(components):
        return 90.0
    return float(np.degrees(np.max(subspace_angles(components.T, reference.T))))


def cv_plan(y, folds: int, task: str = "auto") -> tuple[str | None, int, str | None]:
    """``(task, n_splits, None)`` for the cross-validated score, or
    ``(None, 0, why it is skipped)``.

    ``task='auto'``: class labels (text, or few distinct integers) are
    classified; a numeric target with more than 20 distinct values that are
    not all integers, or more than 50 distinct integers that are also more
    than a tenth of the rows (diabetes: 214 of 442), is a regression target.
    For classification every class needs two rows and the number of folds is
    lowered to the size of the smallest class.
    """
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        return None, 0, "no labels (--target)"
    if folds < 2:
        return None, 0, "--cv 0"
    if task == "auto":
        task = "classification"
        if y.dtype.kind in "fiu":
            distinct = np.unique(y).size
            kind = type_of_target(y)
            if (kind == "continuous" and distinct > 20) or (
                distinct > 50 and distinct > 0.1 * y.size
            ):
                task = "regression"
    if task == "regression":
        if y.dtype.kind not in "fiu":
            raise ValueError(
                "--task regression needs a numeric target; this one holds text."
            )
        return "regression", int(min(folds, y.size)), None
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        return None, 0, (
            f"the labels are {kind}, not classes; pass --task regression for a "
            "ridge regression's R²"
        )
    _, counts = np.unique(y, return_counts=True)
    n_splits = int(min(folds, counts.min()))
    if n_splits < 2:
        return None, 0, "every class needs at least two rows (or --task regression)"
    return "classification", n_splits, None


def _cv_score(estimator, split: Split, folds: int, seed: int, task: str, progress):
    """Mean and std of the fold scores, the task, or None and why not.

    The folds run one by one (as ``cross_val_score`` with the pipeline's own
    ``score``: accuracy, or R²), each reported through ``progress``.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    task, n_splits, why = cv_plan(split.y, folds, task)
    if why:
        return None, None, None, why
    if task == "regression":
        head, cv = Ridge(alpha=1.0), KFold(n_splits, shuffle=True, random_state=seed)
    else:
        head = LogisticRegression(max_iter=1000)
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    pipe = make_pipeline(clone(estimator), StandardScaler(), head)
    scores = []
    for i, (train, test) in enumerate(cv.split(split.X, split.y), 1):
        fold = clone(pipe).fit(split.X[train], split.y[train])
        scores.append(fold.score(split.X[test], split.y[test]))
        progress(f" {i}/{n_splits}" if i > 1 else f" CV {i}/{n_splits}")
    return float(np.mean(scores)), float(np.std(scores)), task, None


def _warm_up(name: str, estimator, X: np.ndarray) -> None:
    """Fit a copy on a few rows, so numba compiles before the timed fit."""
    if name != "sparse":
        return
    from sklearn.base import clone

    small = clone(estimator)
    small[-1].set_params(n_components=min(2, X.shape[1]), max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small.fit(X[: min(8, X.shape[0])])


def run_model(name, estimator, split, reference, args, log_scale=0.0, progress=None):
    """Fit ``estimator`` and measure it; returns (figures, the fitted model).

    Warnings raised meanwhile are recorded in full (once per kind) rather
    than printed; a ConvergenceWarning of the fit on the training rows sets
    ``converged`` to False. ``log_scale`` is ``log c`` of the internal
    rescaling ``X_data = c X`` (see :mod:`._prepare`). ``progress(text)``
    is told when the fit and each cross-validation fold are done.
    """
    progress = progress or (lambda text: None)
    from sklearn.exceptions import ConvergenceWarning

    result: dict = {"class": CLASS_NAMES[name]}
    _warm_up(name, estimator, split.X_train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        estimator.fit(split.X_train)
        result["fit_time_s"] = time.perf_counter() - t0
        progress(f" fitted in {result['fit_time_s']:.2f} s;")
        fit_warnings = list(caught)
        codes = estimator.transform(split.X_test)
        X_hat = estimator.inverse_transform(codes)
        mean = np.nanmean(split.X_train, axis=0)
        loglik = None
        if name in GAUSSIAN:
            observed = np.mean(np.sum(~np.isnan(split.X_test), axis=1))
            loglik = float(estimator.score(split.X_test)) - log_scale * observed
            result["loglik_convention"] = LOGLIK_CONVENTION[name]
        result["heldout_loglik"] = loglik
        result["reconstruction_error"] = _relative_error(split.X_test, X_hat, mean)
        result["sparsity"] = float(np.mean(codes == 0))
        core = _core(estimator)
        result["max_angle_to_pca_deg"] = _max_angle_deg(core.components_, reference)
        if name in FIT_STATISTICS:
            result["fit_statistics"] = _fit_statistics(core)
        score, std, task, why = _cv_score(
            estimator, split, args.cv, args.seed, getattr(args, "task", "auto"),
            progress,
        )
        key = "cv_r2" if task == "regression" else "cv_accuracy"
        result["cv_task"] = task
        result[key], result[key + "_std"] = score, std
        if why:
            result["cv_note"] = why
        if name in TRACES:
            attr, label = TRACES[name]
            trace = np.asarray(getattr(core, attr, []), dtype=float).ravel()
            if attr == "loglike_":  # nats per row: −log c per observed entry
                seen = np.mean(np.sum(~np.isnan(split.X_train), axis=1))
                trace = trace - log_scale * seen
            elif log_scale:  # squared errors scale as c², which may overflow
                label += f" (data / 2^{round(log_scale / math.log(2))})"
            result["trace"] = [float(v) for v in trace]
            result["trace_label"] = label
        result["n_iter"] = int(getattr(core, "n_iter_", 0)) or None
    result["converged"] = not any(
        issubclass(w.category, ConvergenceWarning) for w in fit_warnings
    )
    result["warnings"] = _distinct_warnings(caught)
    return result, core


# Models whose goodness_of_fit() the table reports (on the training rows).
FIT_STATISTICS = ("ppca", "fa")


def _fit_statistics(model) -> dict | None:
    """``model.goodness_of_fit().as_dict()``, or None where it is undefined
    (fewer rows than features, missing entries: no sample covariance)."""
    try:
        return model.goodness_of_fit().as_dict()
    except ValueError:
        return None


# Advice in the estimators' messages that the command line cannot follow.
_ADVICE = re.compile(
    r"\s*(Increase|increase|raise|Raise)\s+(the\s+)?(max_iter|n_epochs)\b[^.]*\.?"
)


def _distinct_warnings(caught) -> list[str]:
    """Full text of each warning, once per kind (the main fit and each fold).

    Warnings that differ only in numbers or a bracketed list (e.g. which
    features hit a floor in each fold) count as one; the first is kept.
    Advice to change ``max_iter`` (not an option of the command) is left out.
    """
    seen, messages = set(), []
    for w in caught:
        body = " ".join(str(w.message).split())
        advised = _ADVICE.sub("", body).strip()
        if advised != body:  # end the shortened message as a sentence
            body = re.sub(r"[\s;,:]+$", "", advised).rstrip(".") + "."
        text = f"{w.category.__name__}: {body}"
        key = re.sub(r"\[[^\]]*\]", "[]", text)
        key = re.sub(r"\d+(\.\d*)?(e[-+]?\d+)?", "#", key)
        if key not in seen:
            seen.add(key)
            messages.append(text)
    return messages


def summary(message: str, limit: int = 160) -> str:
    """A readable one-line summary: ``Category: first sentence``, cut at a word."""
    head, sep, body = message.partition(": ")
    if not sep or " " in head:  # no "Category: " prefix
        head, sep, body = "", "", message
    first = re.split(r"(?<=\.)\s", body, maxsplit=1)[0]
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{head}{sep}{first}"


def auto_alpha(X_train: np.ndarray) -> float:
    """Sparse-coding penalty on the data's scale: 0.1 × median row norm.

    Rows are centred by the training mean first, as the command codes them;
    when more than half the rows sit at the mean, the mean norm is used. No
    floor: the penalty scales with the data (which the command keeps near
    unit spread, see :mod:`._prepare`).
    """
    Xc = X_train - np.nanmean(X_train, axis=0)
    norms = np.sqrt(np.nansum(Xc**2, axis=1))
    alpha = float(np.median(norms))
    return 0.1 * (alpha if alpha > 0 else float(np.mean(norms)))
