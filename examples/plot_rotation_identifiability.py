"""
========================================================
The likelihood of a factor model is flat along rotations
========================================================

Factor analysis models the data as ``x ~ N(μ, W Wᵀ + Ψ)``. For any orthogonal
``R`` the loadings ``W R`` give the same covariance, ``W R Rᵀ Wᵀ = W Wᵀ``, hence
the same likelihood: maximum likelihood pins down the *subspace* spanned by
the loadings, not the loadings themselves.

This example fits :class:`latentmodels.FactorAnalysis`, turns its loadings with
:func:`latentmodels.identifiability.rotate_model`, and shows that the
log-likelihood does not move while the loadings do. A non-Gaussian criterion
(the Laplace prior of sparse coding, ``√2 Σ_j |h_j|`` on the posterior means)
changes along the same path: that is the handle a non-Gaussian prior gives.

Set ``LATENTMODELS_EXAMPLE_QUICK=1`` to run it at a small size (as the test
suite does).
"""

import os

import matplotlib
import numpy as np

QUICK = os.environ.get("LATENTMODELS_EXAMPLE_QUICK") == "1"
if QUICK:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt

from latentmodels import FactorAnalysis
from latentmodels.datasets import make_factor_data
from latentmodels.identifiability import (
    likelihood_invariance,
    matched_congruence,
    max_principal_angle,
    random_rotation,
    rotate_model,
)

n_samples = 300 if QUICK else 3000
n_features, n_components = 10, 3
X, truth = make_factor_data(
    n_samples, n_features, n_components, prior="laplace", random_state=0
)
fa = FactorAnalysis(n_components=n_components).fit(X)

# %%
# One random rotation
# -------------------
# A Haar-distributed orthogonal matrix (QR of a Gaussian matrix with the signs
# of ``diag(R)`` fixed) turns the loadings; ``score`` (the mean log-likelihood
# per row) is unchanged to rounding, the loadings are not.
R = random_rotation(n_components, random_state=1)
fa_rotated = rotate_model(fa, R)
ll_change = fa_rotated.score(X) - fa.score(X)
loading_change = np.abs(fa_rotated.components_ - fa.components_).max()
print(f"mean log-likelihood: {fa.score(X):.12f} -> {fa_rotated.score(X):.12f}")
print(f"change in log-likelihood: {ll_change:.2e}")
print(f"largest change in a loading: {loading_change:.3f}")
angle = np.degrees(max_principal_angle(fa.components_, fa_rotated.components_))
cong = matched_congruence(fa.components_, fa_rotated.components_).mean_congruence
print(f"same subspace (largest principal angle {angle:.1e}°), ")
print(f"different axes (matched congruence {cong:.3f})")

# %%
# Many rotations
# --------------
# :func:`~latentmodels.identifiability.likelihood_invariance` scores the model
# under Haar rotations: the spread of the log-likelihood is at rounding level,
# the spread of the Laplace criterion is not.
inv = likelihood_invariance(fa, X, n_rotations=5 if QUICK else 50, random_state=0)
print(f"log-likelihood spread over rotations: {inv.log_likelihood_spread:.1e}")
print(f"Laplace-criterion spread over rotations: {inv.laplace_criterion_spread:.3f}")

# %%
# A path of rotations
# -------------------
# Turn the first two factors by an angle ``θ`` (a Givens rotation) and follow
# both criteria along the path.
thetas = np.linspace(0.0, np.pi / 2, 7 if QUICK else 91)
log_likelihoods, laplace_criteria = [], []
for theta in thetas:
    G = np.eye(n_components)
    c, s = np.cos(theta), np.sin(theta)
    G[:2, :2] = [[c, -s], [s, c]]
    model = rotate_model(fa, G)
    log_likelihoods.append(model.score(X))
    H = model.transform(X)
    laplace_criteria.append(np.sqrt(2.0) * np.abs(H).sum(axis=1).mean())
log_likelihoods = np.array(log_likelihoods)
laplace_criteria = np.array(laplace_criteria)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
axes[0].plot(np.degrees(thetas), log_likelihoods - log_likelihoods[0], "o-")
axes[0].set(
    xlabel="rotation angle θ (degrees)",
    ylabel="change in mean log-likelihood",
    title="Gaussian likelihood: flat",
)
# Same vertical range as the Laplace panel: the likelihood curve is a flat
# line; its largest deviation is at rounding level.
half_range = 0.5 * np.ptp(laplace_criteria)
axes[0].set_ylim(-half_range, half_range)
axes[0].text(
    0.05,
    0.9,
    f"max |change| = {np.abs(log_likelihoods - log_likelihoods[0]).max():.0e}",
    transform=axes[0].transAxes,
)
axes[1].plot(np.degrees(thetas), laplace_criteria, "o-", color="C1")
axes[1].set(
    xlabel="rotation angle θ (degrees)",
    ylabel="√2 mean Σ|h|",
    title="Laplace criterion: not flat",
)
vmax = np.abs(fa.components_).max()
axes[2].imshow(
    np.vstack([fa.components_, fa_rotated.components_]),
    cmap="RdBu_r",
    vmin=-vmax,
    vmax=vmax,
)
axes[2].axhline(n_components - 0.5, color="k")
axes[2].set(
    title="loadings: fitted (top) and rotated (bottom)",
    xlabel="feature",
    yticks=range(2 * n_components),
    yticklabels=[f"fitted {j}" for j in range(n_components)]
    + [f"rotated {j}" for j in range(n_components)],
)
fig.tight_layout()
if QUICK:
    plt.close(fig)
else:
    plt.show()

summary = {
    "log_likelihood_change": float(ll_change),
    "loading_change": float(loading_change),
    "log_likelihood_spread": inv.log_likelihood_spread,
    "laplace_criterion_spread": inv.laplace_criterion_spread,
    "path_log_likelihood_spread": float(np.ptp(log_likelihoods)),
    "path_laplace_spread": float(np.ptp(laplace_criteria)),
    "mean_log_likelihood": float(fa.score(X)),
}
