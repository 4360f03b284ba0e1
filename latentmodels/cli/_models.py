"""The models of ``python -m latentmodels compare`` and what is measured on each.

Each model is fitted on the training rows; on the held-out rows the command
measures the mean log-likelihood per row (Gaussian models), the relative
reconstruction error ``‖X − X̂‖²_F / ‖X − x̄‖²_F`` over the observed entries,
the fraction of exact zeros in the codes, and, on all rows with labels, the
cross-validated accuracy of ``Pipeline(model, StandardScaler(),
LogisticRegression())`` (the model refitted in every fold). The largest
principal angle between ``components_`` and PCA's components on the training
rows says how far the model's subspace is from the principal one.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._data import Dataset

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
# missing values and of FA), relative
# decrease of the objective per epoch (sparse coding), scaled gradient norm
# (autoencoder's L-BFGS).
EM_TOL = 1e-6
SPARSE_EPOCHS = 10
SPARSE_TOL = 1e-3
AUTOENCODER_TOL = 1e-6
METRICS = {
    "fit_time_s": "seconds to fit the model on the training rows",
    "heldout_loglik": "mean log-likelihood per held-out row (Gaussian models)",
    "reconstruction_error": "held-out ||X - Xhat||^2 / ||X - mean||^2 "
    "(observed entries)",
    "sparsity": "fraction of exact zeros in the held-out codes",
    "cv_accuracy": "mean cross-validated accuracy of LogisticRegression on the "
    "model's features (model refitted in each fold)",
    "cv_accuracy_std": "standard deviation of the fold accuracies",
    "max_angle_to_pca_deg": "largest principal angle (degrees) between the span "
    "of components_ and PCA's on the training rows",
}


@dataclass
class Split:
    """All rows (``X``, ``y``) and the training / held-out rows."""

    X: np.ndarray
    y: np.ndarray | None
    X_train: np.ndarray
    X_test: np.ndarray
    heldout: bool


def split_data(data: Dataset, test_size: float, seed: int) -> Split:
    """Hold out ``round(test_size · n)`` rows (at least one) at random."""
    from sklearn.model_selection import train_test_split

    n = data.n_samples
    if n < 3:  # nothing to hold out: evaluate on the training rows
        return Split(data.X, data.y, data.X, data.X, heldout=False)
    n_test = max(1, int(round(test_size * n)))
    X_train, X_test = train_test_split(data.X, test_size=n_test, random_state=seed)
    return Split(data.X, data.y, X_train, X_test, heldout=True)


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
    return cls(n_components=k, tol=AUTOENCODER_TOL, random_state=args.seed)


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


def classifier_folds(y, folds: int) -> tuple[int, str | None]:
    """Folds for the classifier's cross-validation, or (0, why it is skipped).

    The labels must be classes (binary or multiclass, not continuous values),
    with at least two rows in every class; the number of folds is lowered to
    the size of the smallest class.
    """
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        return 0, "no labels (--target)"
    if folds < 2:
        return 0, "--cv 0"
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        return 0, f"the labels are {kind}, not classes"
    _, counts = np.unique(y, return_counts=True)
    n_splits = int(min(folds, counts.min()))
    if n_splits < 2:
        return 0, "every class needs at least two rows"
    return n_splits, None


def _cv_accuracy(estimator, split: Split, folds: int, seed: int):
    """Mean and std of the fold accuracies, or (None, None, reason)."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_splits, why = classifier_folds(split.y, folds)
    if why:
        return None, None, why
    y = split.y
    pipe = make_pipeline(
        clone(estimator), StandardScaler(), LogisticRegression(max_iter=1000)
    )
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(pipe, split.X, y, cv=cv, error_score="raise")
    return float(np.mean(scores)), float(np.std(scores)), None


def run_model(name, estimator, split, reference, args) -> tuple[dict, object]:
    """Fit ``estimator`` and measure it; returns (figures, the fitted model).

    Warnings raised meanwhile are recorded (first line of each, once) rather
    than printed.
    """
    result: dict = {"class": CLASS_NAMES[name]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        estimator.fit(split.X_train)
        result["fit_time_s"] = time.perf_counter() - t0
        codes = estimator.transform(split.X_test)
        X_hat = estimator.inverse_transform(codes)
        mean = np.nanmean(split.X_train, axis=0)
        result["heldout_loglik"] = (
            float(estimator.score(split.X_test)) if name in GAUSSIAN else None
        )
        result["reconstruction_error"] = _relative_error(split.X_test, X_hat, mean)
        result["sparsity"] = float(np.mean(codes == 0))
        core = _core(estimator)
        result["max_angle_to_pca_deg"] = _max_angle_deg(core.components_, reference)
        acc, std, why = _cv_accuracy(estimator, split, args.cv, args.seed)
        result["cv_accuracy"], result["cv_accuracy_std"] = acc, std
        if why:
            result["cv_note"] = why
        if name in TRACES:
            attr, label = TRACES[name]
            trace = np.asarray(getattr(core, attr, []), dtype=float).ravel()
            result["trace"] = [float(v) for v in trace]
            result["trace_label"] = label
        result["n_iter"] = int(getattr(core, "n_iter_", 0)) or None
    result["warnings"] = _distinct_warnings(caught)
    return result, core


def _distinct_warnings(caught) -> list[str]:
    """First line of each warning, once per kind (the main fit and each fold).

    Warnings that differ only in numbers or a bracketed list (e.g. which
    features hit a floor in each fold) count as one; the first is kept.
    """
    seen, messages = set(), []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        key = re.sub(r"\[[^\]]*\]", "[]", text)
        key = re.sub(r"\d+(\.\d*)?(e[-+]?\d+)?", "#", key)
        if key not in seen:
            seen.add(key)
            messages.append(text)
    return messages


def auto_alpha(X_train: np.ndarray) -> float:
    """Sparse-coding penalty on the data's scale: 0.1 × median row norm.

    Rows are centred by the training mean first, as the command codes them.
    """
    Xc = X_train - np.nanmean(X_train, axis=0)
    norms = np.sqrt(np.nansum(Xc**2, axis=1))
    return max(0.1 * float(np.median(norms)), 1e-12)
