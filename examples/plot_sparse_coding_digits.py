"""
Sparse coding of handwritten digits: dictionary, codes and a parametric encoder
===============================================================================

A dictionary of 8×8 atoms is learned on the digits data (centred, divided by
16) with :class:`latentmodels.SparseCoding`. Each image is coded by its own
lasso, ``h* = argmin ½‖x − hD‖² + α‖h‖₁`` (non-parametric inference, the MAP
code under a Laplace prior). A learned-ISTA encoder is fitted beside it to
predict those codes in one fixed pass; the objective it reaches shows what the
per-example optimisation buys.

Set the environment variable ``LATENTMODELS_EXAMPLE_QUICK=1`` for a small,
fast run (used by the test suite).
"""

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from latentmodels import SparseCoding
from latentmodels.sparse import lasso_objective

QUICK = os.environ.get("LATENTMODELS_EXAMPLE_QUICK", "") not in ("", "0")
N_SAMPLES = 200 if QUICK else None
N_COMPONENTS = 16 if QUICK else 64
MAX_ITER = 5 if QUICK else 50
N_JOBS = 1 if QUICK else None
ALPHA = 0.1

# %%
# Data: centred digits scaled to [-1, 1]
X = load_digits().data
if N_SAMPLES is not None:
    X = X[:N_SAMPLES]
X = (X - X.mean(axis=0)) / 16.0

# %%
# Learn the dictionary (batch: alternate exact codes and atom updates)
model = SparseCoding(
    N_COMPONENTS,
    alpha=ALPHA,
    max_iter=MAX_ITER,
    tol=1e-3,
    encoder="lista",
    n_jobs=N_JOBS,
    random_state=0,
)
with warnings.catch_warnings():
    if QUICK:  # the quick run stops after a few updates on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
    H = model.fit_transform(X)
print(f"dictionary updates: {model.n_iter_}")
print(f"mean objective: {model.objective_[0]:.4f} -> {model.objective_[-1]:.4f}")
print(f"mean number of active atoms per image: {(H != 0).sum(axis=1).mean():.1f}")

# %%
# Exact (per-example) inference against the parametric encoder
gap = model.encoder_gap_
D = model.components_
H_param = model.encode_parametric(X)
print(
    "mean objective  exact: {:.4f}  LISTA: {:.4f}  zero codes: {:.4f}".format(
        gap["objective_exact"], gap["objective_parametric"], gap["objective_zero"]
    )
)
print(f"relative code error of LISTA: {gap['relative_code_error']:.3f}")
per_sample = lasso_objective(X, D, H_param, ALPHA) - lasso_objective(X, D, H, ALPHA)
print(f"LISTA is worse on {np.mean(per_sample > 1e-12):.0%} of the images")

# %%
# The atoms, most used first
usage = np.abs(H).sum(axis=0)
order = np.argsort(-usage)
n_cols = 8
n_rows = int(np.ceil(N_COMPONENTS / n_cols))
fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols, n_rows))
for ax, j in zip(axes.ravel(), order):
    atom = D[j].reshape(8, 8)
    lim = np.abs(atom).max()
    ax.imshow(atom, cmap="RdBu_r", vmin=-lim, vmax=lim)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Sparse-coding dictionary of the digits")

# %%
# Reconstructions: data, exact codes, parametric codes
fig, axes = plt.subplots(3, 6, figsize=(6, 3.3))
recon = {"data": X, "exact": H @ D, "LISTA": H_param @ D}
for row, (name, images) in zip(axes, recon.items()):
    for ax, image in zip(row, images[:6]):
        ax.imshow(image.reshape(8, 8), cmap="gray_r")
        ax.set_axis_off()
    row[0].set_title(name, fontsize=8, loc="left")
plt.show()
