"""
Choosing the number of factors: cross-validated likelihood and BIC
==================================================================

PCA (read as the maximum likelihood PPCA model), probabilistic PCA and factor
analysis are all Gaussian models ``x ~ N(μ, W Wᵀ + Ψ)``; they differ in the
noise: PCA/PPCA assume ``Ψ = σ² I``, factor analysis a diagonal ``Ψ``. So each
has a log-likelihood, and the number of factors ``k`` can be chosen

* by the mean log-likelihood of held-out rows (K-fold cross-validation, the
  estimators' ``score``), or
* by the Bayesian information criterion on the whole data set,
  ``BIC = −2 log L + p log n`` (the estimators' ``bic``), with ``p`` the free
  parameters: ``d k − k(k−1)/2 + 1 + d`` for PPCA (and PCA) and
  ``d k − k(k−1)/2 + 2 d`` for factor analysis.

The data have ``k = 4`` factors and *heteroscedastic* noise: the noise
variances of the features span two orders of magnitude. A model with
isotropic noise explains the noisiest features with extra components, so PCA
and PPCA pick too many factors; factor analysis, whose noise model is right,
picks the true number.

Set ``LATENTMODELS_EXAMPLE_QUICK=1`` to run at a small size (for tests).
"""

import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import KFold, cross_val_score

from latentmodels import PCA, FactorAnalysis, ProbabilisticPCA

QUICK = os.environ.get("LATENTMODELS_EXAMPLE_QUICK") == "1"

# %%
# Heteroscedastic data with four factors
# --------------------------------------
# ``x = W h + ε`` with ``W`` (d × 4) Gaussian, ``h ~ N(0, I)`` and
# ``ε_j ~ N(0, ψ_j)``, the ψ_j log-uniform between 0.05 and 5.

rng = np.random.RandomState(0)
n, d, k_true = (500, 12, 4) if QUICK else (2000, 20, 4)
W = rng.standard_normal((d, k_true))
psi = np.exp(rng.uniform(np.log(0.05), np.log(5.0), d))
X = rng.standard_normal((n, k_true)) @ W.T + rng.standard_normal((n, d)) * np.sqrt(psi)
print(
    f"n={n}, d={d}, true k={k_true}; noise variances from {psi.min():.2f} "
    f"to {psi.max():.2f}"
)

ks = np.arange(1, (7 if QUICK else 11) + 1)
models = {
    "PCA": lambda k: PCA(n_components=k),
    "PPCA": lambda k: ProbabilisticPCA(n_components=k),
    # A loose tolerance is enough to rank models; over-fitted FA models sit on
    # flat ridges where EM is slow.
    "FA": lambda k: FactorAnalysis(n_components=k, tol=1e-6),
}

# %%
# Held-out log-likelihood and BIC for each k
# ------------------------------------------

cv = KFold(3 if QUICK else 5, shuffle=True, random_state=0)
cv_ll = {name: [] for name in models}
bic = {name: [] for name in models}
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Heywood case")
    for name, make in models.items():
        for k in ks:
            cv_ll[name].append(cross_val_score(make(k), X, cv=cv).mean())
            bic[name].append(make(k).fit(X).bic(X))

for name in models:
    k_cv = ks[int(np.argmax(cv_ll[name]))]
    k_bic = ks[int(np.argmin(bic[name]))]
    print(f"{name:>5}: k by cross-validation = {k_cv}, k by BIC = {k_bic}")

# %%
# The curves
# ----------
# Factor analysis's held-out likelihood peaks at the true k and its BIC has
# its minimum there; the isotropic models keep gaining from extra factors,
# which they spend on modelling the noisiest features.

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for name in models:
    axes[0].plot(ks, cv_ll[name], "o-", label=name)
    axes[1].plot(ks, np.array(bic[name]) / n, "o-", label=name)
for ax, title in zip(axes, ["held-out mean log-likelihood", "BIC / n"]):
    ax.axvline(k_true, color="grey", ls=":", label="true k")
    ax.set_xlabel("number of factors k")
    ax.set_title(title)
    ax.legend()
fig.tight_layout()
plt.show()
