"""The comparison printed by ``python -m latentmodels identifiability``.

It uses the measures of :mod:`latentmodels.identifiability` on the package's
own estimators (and scikit-learn's FastICA as the reference that finds axes);
the measures module does not know about it.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import FastICA

from ..identifiability import likelihood_invariance, recovery_report

__all__ = ["format_demo", "identifiability_demo"]


def _demo_models(k: int, random_state: int) -> dict:
    """``{label: factory}``; ``factory(X, fa)`` returns the fitted model.

    ``fa`` is the fitted factor-analysis model (its scales set the
    sparse-coding penalty).
    """
    from .. import LinearAutoencoder, ProbabilisticPCA, SparseCoding

    def _sparse_coding(X, fa):
        # Laplace MAP penalty α = λσ² with the scales of the FA fit: the
        # code of a unit-norm atom has sd ‖w‖ ≈ ‖W‖_F/√k, so λ = √2/sd and
        # σ² ≈ mean ψ; doubled, which converges faster on these data.
        W = fa.components_
        alpha = 2.0 * np.sqrt(2.0) * np.mean(fa.noise_variance_)
        alpha /= np.linalg.norm(W) / np.sqrt(k)
        return SparseCoding(
            n_components=k,
            alpha=alpha,
            tol=1e-5,
            max_iter=1000,
            random_state=random_state,
        ).fit(X - X.mean(axis=0))

    return {
        "FactorAnalysis": lambda X, fa: fa,
        "ProbabilisticPCA": lambda X, fa: ProbabilisticPCA(n_components=k).fit(X),
        "LinearAutoencoder": lambda X, fa: LinearAutoencoder(
            n_components=k, random_state=random_state
        ).fit(X),
        "SparseCoding": _sparse_coding,
        "FastICA (scikit-learn)": lambda X, fa: FastICA(
            n_components=k,
            whiten="unit-variance",
            max_iter=500,  # on Gaussian sources it cannot converge: no axes exist
            random_state=random_state,
        ).fit(X),
    }


def _estimated_components(model) -> np.ndarray:
    if hasattr(model, "mixing_"):  # FastICA: x = mixing_ s + mean
        return model.mixing_.T
    return model.components_


def identifiability_demo(
    n_samples: int = 2000,
    n_features: int = 20,
    n_components: int = 4,
    random_state: int = 0,
    quick: bool = False,
) -> dict:
    """Fit Gaussian and non-Gaussian models to Gaussian and Laplace factor data.

    For each prior (``'gaussian'``, ``'laplace'``) data are drawn with
    :func:`latentmodels.datasets.make_factor_data` with the same seed, hence
    the same loadings, noise and covariance for both
    and every available model is fitted: factor analysis, probabilistic PCA,
    the linear autoencoder, sparse coding and, for reference, scikit-learn's
    FastICA. For each,
    :func:`~latentmodels.identifiability.recovery_report` against the true loadings is
    summarised (largest principal angle in degrees, Procrustes relative
    residual, matched Tucker congruence, Amari distance) and, for the Gaussian
    models, :func:`~latentmodels.identifiability.likelihood_invariance`
    (spread of the log-likelihood and of the Laplace criterion over random
    rotations).

    What to expect: every model finds the subspace (small angles) on both data
    sets; only on Laplace factors do sparse coding and FastICA find the axes
    (congruence near 1, Amari distance near 0), while the Gaussian models'
    axes are an arbitrary rotation and their log-likelihood spread is zero.

    Parameters
    ----------
    n_samples, n_features, n_components : int
        Size of each data set.
    random_state : int, default=0
        Seed of the data, the rotations and the models.
    quick : bool, default=False
        Smaller problem (at most 400 rows, 10 features, 3 components, 5
        rotations), for smoke tests.

    Returns
    -------
    result : dict
        ``settings``; ``results[prior][model]``: dicts of floats
        (``max_principal_angle_deg``, ``procrustes_relative_residual``,
        ``mean_congruence``, ``amari_distance`` and, for the Gaussian models,
        ``loglik_spread`` and ``laplace_criterion_spread``); ``notes``
        (model: remarks, empty when all is well) and ``warnings`` (messages
        raised while fitting, e.g. FastICA not converging on Gaussian
        sources, which have no axes to find).
    """
    import warnings

    from .. import FactorAnalysis
    from ..datasets import make_factor_data

    n_rotations = 20
    if quick:
        n_samples, n_features = min(n_samples, 400), min(n_features, 10)
        n_components, n_rotations = min(n_components, 3), 5
    models = _demo_models(n_components, random_state)
    notes: dict = {}
    results, messages = {}, []
    for prior in ("gaussian", "laplace"):
        X, truth = make_factor_data(
            n_samples,
            n_features,
            n_components,
            prior=prior,
            random_state=random_state,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fa = FactorAnalysis(n_components=n_components, random_state=random_state)
            fa.fit(X)
            rows = {}
            for label, factory in models.items():
                model = factory(X, fa)
                rep = recovery_report(truth.components, _estimated_components(model))
                row = {
                    "max_principal_angle_deg": float(
                        np.degrees(rep.max_principal_angle)
                    ),
                    "procrustes_relative_residual": rep.procrustes_relative_residual,
                    "mean_congruence": rep.mean_congruence,
                    "amari_distance": rep.amari_distance,
                }
                if label in ("FactorAnalysis", "ProbabilisticPCA"):
                    inv = likelihood_invariance(
                        model, X, n_rotations=n_rotations, random_state=random_state
                    )
                    row["loglik_spread"] = inv.log_likelihood_spread
                    row["laplace_criterion_spread"] = inv.laplace_criterion_spread
                rows[label] = row
        messages += [f"{prior}: {w.category.__name__}: {w.message}" for w in caught]
        results[prior] = rows
    return {
        "settings": {
            "n_samples": n_samples,
            "n_features": n_features,
            "n_components": n_components,
            "n_rotations": n_rotations,
            "random_state": random_state,
            "quick": quick,
        },
        "results": results,
        "notes": notes,
        "warnings": messages,
    }


def format_demo(result: dict) -> str:
    """Render :func:`identifiability_demo`'s result as a plain-text table."""
    cols = [
        ("max_principal_angle_deg", "max angle°"),
        ("procrustes_relative_residual", "procrustes"),
        ("mean_congruence", "congruence"),
        ("amari_distance", "amari"),
        ("loglik_spread", "loglik spread"),
        ("laplace_criterion_spread", "laplace spread"),
    ]
    s = result["settings"]
    lines = [
        f"n_samples={s['n_samples']} n_features={s['n_features']} "
        f"n_components={s['n_components']} rotations={s['n_rotations']}"
    ]
    for prior, rows in result["results"].items():
        lines += [
            "",
            f"{prior} factors",
            f"{'model':<24}" + "".join(f"{title:>15}" for _, title in cols),
        ]
        for label, row in rows.items():
            cells = []
            for key, _ in cols:
                v = row.get(key)
                cells.append(f"{'-':>15}" if v is None else f"{v:>15.3g}")
            lines.append(f"{label:<24}" + "".join(cells))
    for label, why in result["notes"].items():
        lines.append(f"note: {label}: {why}")
    return "\n".join(lines)
