"""
Linear autoencoders, PCA, and what each penalty does
====================================================

A linear autoencoder encodes ``h = A (x - mean)`` and decodes
``x̂ = mean + B h``. Trained on the squared reconstruction error it finds
PCA's subspace (Baldi & Hornik 1989), but not PCA's directions. This example
answers four questions of the course with numbers from
:class:`latentmodels.LinearAutoencoder`, each compared with its closed form
computed from the eigendecomposition of the scatter matrix
``Σ = X_cᵀ X_c = U diag(s) Uᵀ`` (Kunin et al. 2019; Bao et al. 2020):

1. Is the decoder the transpose of the encoder?
2. Is Gaussian input noise the same as weight decay?
3. Does the contractive penalty equal the encoder's weight norm?
4. Which penalties pin down the rotation?

Set ``LATENTMODELS_EXAMPLE_QUICK=1`` to run on a small subset (for tests).
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from latentmodels import LinearAutoencoder
from latentmodels._autoencoder import compare_with_pca

QUICK = os.environ.get("LATENTMODELS_EXAMPLE_QUICK") == "1"

X = load_digits().data
if QUICK:
    X = X[:300]
X = X[:, X.std(axis=0) > 0]  # drop the always-blank pixels
n, d = X.shape
k = 3 if QUICK else 4

Xc = X - X.mean(axis=0)
s, U = np.linalg.eigh(Xc.T @ Xc)
s, U = s[::-1], U[:, ::-1]
Uk = U[:, :k]
print(f"digits: n={n}, d={d}, k={k}; top scatter eigenvalues s_i = {s[:k].round()}")


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# %%
# 1. Is the decoder the transpose of the encoder?
# -----------------------------------------------
# Without a penalty every minimum has ``B A = U_k U_kᵀ`` but ``B = U_k G``
# for any invertible ``G`` and ``A = G⁻¹ U_kᵀ``: the encoder is the
# decoder's pseudo-inverse, not its transpose. Weight decay λ makes
# ``A = Bᵀ`` at every critical point.

plain = LinearAutoencoder(k, random_state=0).fit(X)
lam = 0.2 * s[k - 1]
decay = LinearAutoencoder(k, weight_decay=lam, random_state=0).fit(X)
for name, ae in [("no penalty", plain), ("weight decay", decay)]:
    c = compare_with_pca(ae, X)
    print(
        f"{name:>13}: ‖A - Bᵀ‖/‖B‖ = {c.transpose_gap:.2e}, largest angle to "
        f"PCA's subspace = {c.max_principal_angle:.1e} rad"
    )
print(
    "no penalty: ‖BA - U_k U_kᵀ‖/‖U_k U_kᵀ‖ = "
    f"{compare_with_pca(plain, X).projector_error:.1e}"
)
shrink = np.sqrt(1 - lam / s[:k])
print(
    "weight decay: singular values of B",
    decay.decoder_singular_values_.round(6),
    "closed form √(1 - λ/s_i)",
    shrink.round(6),
)

# %%
# 2. Is Gaussian input noise the same as weight decay?
# ----------------------------------------------------
# No. For a linear map, noise of variance ``s²`` on every input adds, in
# expectation and exactly, ``n s² ‖B A‖²_F``: a penalty on the *product*.
# It shrinks direction i by ``s_i / (s_i + n s²)`` (never to zero), whereas
# weight decay penalises the *factors* and shrinks by ``1 - λ/s_i``
# (switching directions off). We pick λ so the first factors agree and
# compare the rest.

noise = 0.5 * np.sqrt(s[k - 1] / n)
nu = n * noise**2
denoise = LinearAutoencoder(k, input_noise=noise, random_state=0).fit(X)
P = denoise.decoder_ @ denoise.encoder_
noise_factors = np.diag(Uk.T @ P @ Uk)
lam_match = s[0] * nu / (s[0] + nu)
decay_match = LinearAutoencoder(k, weight_decay=lam_match, random_state=0).fit(X)
decay_factors = np.diag(Uk.T @ decay_match.decoder_ @ decay_match.encoder_ @ Uk)
print(
    f"input noise s = {noise:.3f} (n s² = {nu:.0f}); weight decay λ = {lam_match:.0f}"
)
print("  shrinkage, noise (fitted):      ", noise_factors.round(4))
print("  shrinkage, noise (closed form): ", (s[:k] / (s[:k] + nu)).round(4))
print("  shrinkage, weight decay:        ", decay_factors.round(4))
target = Uk @ np.diag(s[:k] / (s[:k] + nu)) @ Uk.T
gap = compare_with_pca(denoise, X).transpose_gap
print(f"  ‖BA - closed form‖ rel: {rel(P, target):.1e}; noise leaves A ≠ Bᵀ: {gap:.2f}")

# Sampling the noise (a fresh draw per epoch) approaches the expected solution.
epochs = [1, 4, 16] if QUICK else [1, 4, 16, 64, 256]
sampled_error = []
for t in epochs:
    ae = LinearAutoencoder(
        k, input_noise=noise, noise_mode="sampled", n_epochs=t, random_state=0
    ).fit(X)
    sampled_error.append(rel(ae.decoder_ @ ae.encoder_, target))
print("  sampled noise, epochs", epochs, "→ error", np.round(sampled_error, 4))

# %%
# 3. Does the contractive penalty equal the encoder's weight norm?
# ----------------------------------------------------------------
# The contractive penalty is ``μ ‖∂h/∂x‖²_F``. For ``h = A (x - mean)`` the
# Jacobian is ``A`` at every x, so it is ``μ ‖A‖²_F`` exactly: we measure the
# Jacobian of ``transform`` by finite differences at random points. Tied
# (``B = Aᵀ``), ``‖B‖²_F = ‖A‖²_F`` too, so it is weight decay with λ = μ/2.
# Untied, ``A → cA, B → B/c`` keeps ``BA`` and sends the penalty to 0: there
# is no minimiser, and the estimator says so.

mu = 0.4 * s[k - 1]
contr = LinearAutoencoder(k, tied=True, contractive=mu, random_state=0).fit(X)


def jacobian(ae, x, h=1e-3):
    """∂h/∂x of ``ae.transform`` at x by central differences, column by column."""
    steps = h * np.eye(x.size)
    return (ae.transform(x + steps) - ae.transform(x - steps)).T / (2 * h)


rng = np.random.default_rng(0)
points = X[rng.choice(n, 3, replace=False)]
jac_norms = [np.sum(jacobian(contr, x) ** 2) for x in points]
print(
    "‖∂h/∂x‖²_F at 3 points:",
    np.round(jac_norms, 6),
    f"‖A‖²_F = {np.sum(contr.encoder_**2):.6f}",
)
wd = LinearAutoencoder(k, tied=True, weight_decay=mu / 2, random_state=1).fit(X)
P_contr, P_wd = contr.decoder_ @ contr.encoder_, wd.decoder_ @ wd.encoder_
print(
    f"tied contractive μ vs tied weight decay μ/2: ‖ΔBA‖ rel = {rel(P_contr, P_wd):.1e}"
)

# Untied: rescale the no-penalty solution; the loss falls towards its infimum.
A, B = plain.encoder_, plain.decoder_
recon = -plain.score(X) * n
for c in (1.0, 0.1, 0.01):
    print(f"  c = {c:>4}: L_0 + μ‖cA‖²_F = {recon + mu * np.sum((c * A) ** 2):.1f}")
print(f"  infimum (PCA's error, not attained): Σ_(i>k) s_i = {s[k:].sum():.1f}")
try:
    LinearAutoencoder(k, contractive=mu).fit(X)
except ValueError as err:
    print("untied contractive:", str(err)[:90], "…")

# %%
# 4. Which penalties pin down the rotation?
# -----------------------------------------
# For each penalty we fit twice from different random starts and ask
# whether the decoder columns are the same (up to sign), and whether they
# are the principal directions. Only distinct per-unit penalties
# ``λ_1 < … < λ_k`` (Bao et al. 2020) fix the columns themselves; weight
# decay fixes the factorisation up to an orthogonal ``O``, and then the
# decoder's left singular vectors (``principal_directions_``) are the
# principal directions (Kunin et al. 2019).

settings = {
    "none": {},
    "weight decay": dict(weight_decay=lam),
    "input noise": dict(input_noise=noise),
    "tied contractive": dict(tied=True, contractive=mu),
    "unit penalties": dict(unit_penalties=np.linspace(0.05, 0.3, k) * s[k - 1]),
}
columns_cos, directions_cos = {}, {}
print("1 - min |cos|:  seed 0 vs 1, decoder columns vs u_i, SVD directions vs u_i")
for name, kw in settings.items():
    fits = [LinearAutoencoder(k, random_state=r, **kw).fit(X) for r in (0, 1)]
    B0, B1 = (f.decoder_ / np.linalg.norm(f.decoder_, axis=0) for f in fits)
    seeds_agree = np.min(np.abs(np.sum(B0 * B1, axis=0)))
    columns_cos[name] = np.min(np.abs(np.sum(B0 * Uk, axis=0)))
    directions_cos[name] = np.min(
        np.abs(np.sum(fits[0].principal_directions_ * Uk.T, axis=1))
    )
    print(
        f"{name:>16}: {1 - seeds_agree:9.1e} {1 - columns_cos[name]:9.1e} "
        f"{1 - directions_cos[name]:9.1e}"
    )

# %%
# The shrinkage of each principal direction, and which decoders are PCA's.

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
idx = np.arange(1, k + 1)
ax0.plot(idx, noise_factors, "o-", label="input noise: s_i/(s_i + n s²)")
ax0.plot(idx, decay_factors, "s--", label="weight decay: 1 - λ/s_i")
ax0.set_xlabel("principal direction i")
ax0.set_ylabel("shrinkage of u_i by B A")
ax0.set_xticks(idx)
ax0.legend()
names = list(settings)
pos = np.arange(len(names))
ax1.bar(pos - 0.2, [columns_cos[m] for m in names], 0.4, label="decoder columns")
ax1.bar(pos + 0.2, [directions_cos[m] for m in names], 0.4, label="SVD of decoder")
ax1.set_xticks(pos)
ax1.set_xticklabels(names, rotation=30, ha="right")
ax1.set_ylabel("min |cos| with principal directions")
ax1.legend(loc="lower left")
fig.tight_layout()
if not QUICK:
    plt.show()
