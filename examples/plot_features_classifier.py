"""
==============================================
Latent factors as features for a classifier
==============================================

Every model of :mod:`latentmodels` is a scikit-learn transformer, so it can
sit in a :class:`~sklearn.pipeline.Pipeline` in front of a classifier. Here
each model maps the 64 pixels of scikit-learn's digits to ``k`` features; a
:class:`~sklearn.linear_model.LogisticRegression` is trained on them, and the
whole pipeline — the latent model included — is refitted in every fold of a
stratified cross-validation, so the accuracy is an honest held-out figure.

What the features are:

* :class:`~latentmodels.PCA`: projections on the leading principal axes;
* :class:`~latentmodels.ProbabilisticPCA` and
  :class:`~latentmodels.FactorAnalysis`: the posterior mean
  ``E[h | x] = M⁻¹ Wᵀ Ψ⁻¹ (x − μ)`` of the Gaussian factors;
* :class:`~latentmodels.SparseCoding`: the lasso codes of each image under a
  learned dictionary (exact zeros; the data are centred first, since sparse
  coding has no mean);
* :class:`~latentmodels.LinearAutoencoder`: the encoder ``A (x − μ)``.

PCA, PPCA and the autoencoder span the same subspace: their features differ
by an invertible linear map, which changes the logistic regression only
through its L2 penalty, so their curves nearly coincide. Factor analysis
weighs each pixel by its own noise variance and sparse coding is a non-linear
map, which shows in the curves.

Set ``LATENTMODELS_EXAMPLE_QUICK=1`` to run on a subset (as the tests do).
"""

import os
import time
import warnings

import matplotlib

QUICK = os.environ.get("LATENTMODELS_EXAMPLE_QUICK") == "1"
if QUICK:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from latentmodels import (
    PCA,
    FactorAnalysis,
    LinearAutoencoder,
    ProbabilisticPCA,
    SparseCoding,
)

X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[:300], y[:300]
    ks, n_folds = [4, 8], 2
else:
    ks, n_folds = [4, 8, 16, 32], 3
cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=0)

# The sparse-coding penalty on the scale of the data: a tenth of the typical
# norm of a centred image.
alpha = 0.1 * np.median(np.linalg.norm(X - X.mean(axis=0), axis=1))


def make_model(name, k):
    """The latent model ``name`` with ``k`` components."""
    if name == "PCA":
        return PCA(n_components=k)
    if name == "PPCA":
        return ProbabilisticPCA(n_components=k)
    if name == "FA":
        return FactorAnalysis(n_components=k, tol=1e-6, random_state=0)
    if name == "sparse coding":
        sc = SparseCoding(
            n_components=k,
            alpha=alpha,
            fit_algorithm="online",
            max_iter=5,
            random_state=0,
        )
        return make_pipeline(StandardScaler(with_std=False), sc)
    return LinearAutoencoder(n_components=k, tol=1e-6, random_state=0)


# %%
# Cross-validated accuracy for each model and number of features
# ----------------------------------------------------------------
# The model, a standardisation of its features and the classifier form one
# pipeline; :func:`~sklearn.model_selection.cross_val_score` refits all three
# in every fold.

names = ["PCA", "PPCA", "FA", "sparse coding", "linear autoencoder"]
accuracy = {name: [] for name in names}
seconds = {name: 0.0 for name in names}
for name in names:
    for k in ks:
        pipe = make_pipeline(
            make_model(name, k), StandardScaler(), LogisticRegression(max_iter=2000)
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # short runs on purpose: FA's Heywood pixels (constant in digits)
            # and few sparse-coding epochs
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            scores = cross_val_score(pipe, X, y, cv=cv)
        seconds[name] += time.perf_counter() - t0
        accuracy[name].append(scores.mean())

raw = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
raw_accuracy = cross_val_score(raw, X, y, cv=cv).mean()

print(f"{'model':<20}" + "".join(f"{'k=' + str(k):>8}" for k in ks) + "  time (s)")
for name in names:
    row = "".join(f"{a:8.3f}" for a in accuracy[name])
    print(f"{name:<20}{row}  {seconds[name]:8.1f}")
print(f"{'all 64 pixels':<20}{raw_accuracy:8.3f}")

# %%
# Plot
# ----
# The dashed line is the logistic regression on all 64 standardised pixels.

fig, ax = plt.subplots(figsize=(6, 4))
for name, marker in zip(names, "osd^v"):
    ax.plot(ks, accuracy[name], marker=marker, label=name)
ax.axhline(raw_accuracy, color="k", linestyle="--", label="all pixels")
ax.set_xscale("log", base=2)
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel("number of latent features k")
ax.set_ylabel(f"{n_folds}-fold CV accuracy")
ax.set_title("Latent features for a logistic regression (digits)")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()
