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
    """The comparison table printed by ``compare``."""
    head = (
        f"{'model':<12} {'fit s':>7} {'held-out loglik':>15} {'recon err':>9} "
        f"{'zeros':>6} {'CV accuracy':>13} {'angle to PCA':>12}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        if r.get("cv_accuracy") is None:
            acc = f"{'-':>13}"
        else:
            acc = f"{r['cv_accuracy']:>7.3f} ±{r['cv_accuracy_std']:.3f}"
        angle = r.get("max_angle_to_pca_deg")
        lines.append(
            f"{name:<12} {_fmt(r['fit_time_s'], '.2f', 7)} "
            f"{_fmt(r['heldout_loglik'], '.3f', 15)} "
            f"{_fmt(r['reconstruction_error'], '.4f', 9)} "
            f"{_fmt(r['sparsity'], '.2f', 6)} {acc} "
            f"{_fmt(angle, '.1f', 11)}{'°' if angle is not None else ' '}"
        )
    return "\n".join(lines)


def write_figures(
    outdir: Path, fitted: dict, results: dict, n_features: int
) -> list | None:
    """Component images (square images only) and training traces.

    Returns the file names written, or None when matplotlib is missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    files = []
    side = int(round(np.sqrt(n_features)))
    if side * side == n_features:
        for name, core in fitted.items():
            comps = np.asarray(core.components_)[:64]
            k = comps.shape[0]
            ncols = min(8, k)
            nrows = -(-k // ncols)
            fig = Figure(figsize=(1.2 * ncols, 1.2 * nrows + 0.4))
            for i, comp in enumerate(comps):
                ax = fig.add_subplot(nrows, ncols, i + 1)
                vmax = np.max(np.abs(comp)) or 1.0
                ax.imshow(
                    comp.reshape(side, side), cmap="RdBu_r", vmin=-vmax, vmax=vmax
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
