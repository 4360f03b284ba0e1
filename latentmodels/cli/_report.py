"""Output of ``python -m latentmodels compare``: the table, figures, JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._models import CLASS_NAMES


def _fmt(value, spec: str, width: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{'-':>{width}}"
    return f"{value:{width}{spec}}"


def format_table(results: dict) -> str:
    """The comparison table printed by ``compare``.

    A model whose fit stopped before its tolerance is marked ``!``; PCA's
    log-likelihood (scikit-learn's noise-variance convention) is marked
    ``*``: the notes under the table say what each mark means.
    """
    tasks = {r.get("cv_task") for r in results.values()} - {None}
    cv_title = "CV R²" if tasks == {"regression"} else "CV accuracy"
    head = (
        f"{'model':<13} {'fit s':>7} {'held-out loglik':>16} {'recon err':>9} "
        f"{'zeros':>6} {cv_title:>13} {'angle to PCA':>12}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        key = "cv_r2" if r.get("cv_task") == "regression" else "cv_accuracy"
        if r.get(key) is None:
            acc = f"{'-':>13}"
        else:
            acc = f"{r[key]:>7.3f} ±{r[key + '_std']:.3f}"
        angle = r.get("max_angle_to_pca_deg")
        label = name + ("" if r.get("converged", True) else " !")
        mark = "*" if name == "pca" and r.get("heldout_loglik") is not None else " "
        lines.append(
            f"{label:<13} {_fmt(r['fit_time_s'], '.2f', 7)} "
            f"{_fmt(r['heldout_loglik'], '.4g', 15)}{mark} "
            f"{_fmt(r['reconstruction_error'], '.4g', 9)} "
            f"{_fmt(r['sparsity'], '.2f', 6)} {acc} "
            f"{_fmt(angle, '.2g', 11)}{'°' if angle is not None else ' '}"
        )
    return "\n".join(lines)


def format_fit_statistics(results: dict) -> str | None:
    """Goodness of fit of the factor models on the training rows.

    The likelihood-ratio χ² against the saturated model (Bartlett-corrected
    for FA, as R's ``factanal``), its degrees of freedom and p-value, RMSEA,
    CFI and TLI against the independence model, and SRMR
    (``goodness_of_fit()`` of each estimator). None when no model has them.
    """
    rows = {n: r["fit_statistics"] for n, r in results.items()
            if r.get("fit_statistics")}
    if not rows:
        return None
    head = (
        f"{'fit (training rows)':<19} {'chi2':>11} {'dof':>6} {'p':>9} "
        f"{'RMSEA':>6} {'CFI':>6} {'TLI':>6} {'SRMR':>6}"
    )
    lines = [head, "-" * len(head)]
    for name, g in rows.items():
        lines.append(
            f"{name:<19} {_fmt(g['statistic'], '.5g', 11)} {g['dof']:>6d} "
            f"{_fmt(g['pvalue'], '.3g', 9)} {_fmt(g['rmsea'], '.3f', 6)} "
            f"{_fmt(g['cfi'], '.3f', 6)} {_fmt(g['tli'], '.3f', 6)} "
            f"{_fmt(g['srmr'], '.3f', 6)}"
        )
    return "\n".join(lines)


def table_notes(results: dict) -> list[str]:
    """What the marks in the table mean (only those that appear)."""
    notes = []
    if results.get("pca", {}).get("heldout_loglik") is not None:
        notes.append(
            "* PCA's log-likelihood uses scikit-learn's convention: noise "
            "variance = mean of the min(n, d) - k smallest covariance eigenvalues; "
            "PPCA and FA are maximum likelihood (they differ when n <= d)."
        )
    unconverged = [n for n, r in results.items() if not r.get("converged", True)]
    if unconverged:
        notes.append(
            f"! {', '.join(unconverged)}: the fit stopped before its tolerance; "
            "its figures are those of an unconverged model."
        )
    return notes


def write_figures(
    outdir: Path, fitted: dict, results: dict, image_shape, kept=None
) -> list | None:
    """The metrics of every model, component images (image data only) and
    training traces.

    Returns the file names written, or None when matplotlib is missing.
    Raises OSError when a file cannot be written.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    files = []
    if results:
        files.append(_metrics_figure(Figure, outdir, results))
    if image_shape is not None:
        for name, core in fitted.items():
            comps = np.asarray(core.components_)[:64]
            if kept is not None and comps.shape[1] != kept.size:
                full = np.zeros((comps.shape[0], kept.size))
                full[:, kept] = comps  # dropped (constant) pixels shown as 0
                comps = full
            k = comps.shape[0]
            ncols = min(8, k)
            nrows = -(-k // ncols)
            fig = Figure(figsize=(1.2 * ncols, 1.2 * nrows + 0.4))
            for i, comp in enumerate(comps):
                ax = fig.add_subplot(nrows, ncols, i + 1)
                vmax = np.max(np.abs(comp)) or 1.0
                ax.imshow(
                    comp.reshape(image_shape), cmap="RdBu_r", vmin=-vmax, vmax=vmax
                )
                ax.set_xticks([])
                ax.set_yticks([])
            fig.suptitle(f"{CLASS_NAMES[name]}: components_")
            file = f"components_{name}.png"
            fig.savefig(outdir / file, dpi=80)
            files.append(file)
    traced = {n: r for n, r in results.items() if len(r.get("trace", [])) > 1}
    if traced:
        fig = Figure(figsize=(4 * len(traced), 3.2), layout="constrained")
        for i, (name, r) in enumerate(traced.items()):
            ax = fig.add_subplot(1, len(traced), i + 1)
            marker = "." if len(r["trace"]) <= 50 else None
            ax.plot(np.arange(1, len(r["trace"]) + 1), r["trace"], marker=marker)
            ax.set_xlabel("iteration")
            ax.set_title(f"{name}: {r['trace_label']}", fontsize=9)
        fig.savefig(outdir / "traces.png", dpi=80)
        files.append("traces.png")
    return files


_PANELS = (
    ("fit_time_s", "fit time (s)"),
    ("heldout_loglik", "held-out log-likelihood"),
    ("reconstruction_error", "held-out reconstruction error"),
    ("sparsity", "fraction of zero codes"),
    ("cv", "cross-validated score"),
    ("max_angle_to_pca_deg", "largest angle to PCA (°)"),
)


def _metrics_figure(Figure, outdir: Path, results: dict) -> str:
    """``metrics.png``: one bar chart per figure of the table."""
    names = list(results)
    fig = Figure(figsize=(12, 6), layout="constrained")
    for i, (key, title) in enumerate(_PANELS):
        ax = fig.add_subplot(2, 3, i + 1)
        values = []
        for r in results.values():
            if key == "cv":
                regression = r.get("cv_task") == "regression"
                v = r.get("cv_r2" if regression else "cv_accuracy")
                title = "CV R²" if regression else "CV accuracy"
            else:
                v = r.get(key)
            values.append(np.nan if v is None else float(v))
        colors = ["C0" if r.get("converged", True) else "C3" for r in results.values()]
        ax.bar(names, np.nan_to_num(values, nan=0.0), color=colors)
        for x, v in enumerate(values):
            if not np.isfinite(v):
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle("python -m latentmodels compare (red: not converged)")
    fig.savefig(outdir / "metrics.png", dpi=80)
    return "metrics.png"


def json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
