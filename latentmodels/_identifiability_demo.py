"""The comparison printed by ``python -m latentmodels identifiability``.

Public through :mod:`latentmodels.identifiability` (:func:`identifiability_demo`
and :func:`format_demo`); kept apart so that the measures stay one idea per
file.
"""

from __future__ import annotations

import numpy as np

from .identifiability import likelihood_invariance, recovery_report


def _latentmodels_estimator(name: str):
    """The latentmodels estimator class ``name``, or None if not importable."""
    import latentmodels

    try:
        return getattr(latentmodels, name)
    except (ImportError, AttributeError):
        return None


def _demo_models(k: int, random_state: int):
    """The factor-analysis class, ``{label: factory}`` and notes.

    ``factory(X, fa)`` returns the fitted model; ``fa`` is the fitted
    factor-analysis model (its scales set the sparse-coding penalty). A model
    that cannot be imported is left out, with the reason in ``notes``.
    """
    from sklearn.decomposition import FactorAnalysis as SkFA
    from sklearn.decomposition import FastICA

    models, notes = {}, {}
    FA = _latentmodels_estimator("FactorAnalysis")
    if FA is None:
        FA = SkFA
        notes["FactorAnalysis"] = "latentmodels.FactorAnalysis not importable; "
        notes["FactorAnalysis"] += "used scikit-learn's FactorAnalysis instead"
    models["FactorAnalysis"] = lambda X, fa: fa
    PPCA = _latentmodels_estimator("ProbabilisticPCA")
    if PPCA is not None:
        models["ProbabilisticPCA"] = lambda X, fa: PPCA(n_components=k).fit(X)
    else:
        notes["ProbabilisticPCA"] = "latentmodels.ProbabilisticPCA not importable"
    LAE = _latentmodels_estimator("LinearAutoencoder")
    if LAE is not None:
        models["LinearAutoencoder"] = lambda X, fa: LAE(
            n_components=k, random_state=random_state
        ).fit(X)
    else:
        notes["LinearAutoencoder"] = "latentmodels.LinearAutoencoder not importable"
    SC = _latentmodels_estimator("SparseCoding")
    if SC is not None:

        def _sparse_coding(X, fa):
            # Laplace MAP penalty α = λσ² with the scales of the FA fit: the
            # code of a unit-norm atom has sd ‖w‖ ≈ ‖W‖_F/√k, so λ = √2/sd and
            # σ² ≈ mean ψ; doubled, which converges faster on these data.
            W = fa.components_
            alpha = 2.0 * np.sqrt(2.0) * np.mean(fa.noise_variance_)
            alpha /= np.linalg.norm(W) / np.sqrt(k)
            return SC(
                n_components=k,
                alpha=alpha,
                tol=1e-5,
                max_iter=1000,
                random_state=random_state,
            ).fit(X - X.mean(axis=0))

        models["SparseCoding"] = _sparse_coding
    else:
        notes["SparseCoding"] = "latentmodels.SparseCoding not importable"
    models["FastICA (scikit-learn)"] = lambda X, fa: FastICA(
        n_components=k,
        whiten="unit-variance",
        max_iter=500,  # on Gaussian sources it cannot converge: no axes exist
        random_state=random_state,
    ).fit(X)
    return FA, models, notes


def _estimated_components(model) -> np.ndarray:
    if hasattr(model, "mixing_"):  # FastICA: x = mixing_ s + mean
        return model.mixing_.T
    return model.components_


def run_demo(
    n_samples: int,
    n_features: int,
    n_components: int,
    random_state: int,
    quick: bool,
) -> dict:
    """Implementation of :func:`latentmodels.identifiability.identifiability_demo`."""
    import warnings

    from .datasets import make_factor_data

    n_rotations = 20
    if quick:
        n_samples, n_features = min(n_samples, 400), min(n_features, 10)
        n_components, n_rotations = min(n_components, 3), 5
    FA, models, notes = _demo_models(n_components, random_state)
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
            fa = FA(n_components=n_components, random_state=random_state).fit(X)
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
