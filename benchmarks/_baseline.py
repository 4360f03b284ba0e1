"""Import the package as it was at a git revision, beside the working tree's.

``load_baseline("main")`` extracts ``latentmodels/`` at that revision
(``git archive``) into a temporary folder as the package ``_lm_baseline`` and
imports it, so that a benchmark can time the old and the new code side by
side in one process (the package imports itself only relatively).
"""

from __future__ import annotations

import importlib
import io
import json
import platform
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_baseline(ref: str, name: str = "_lm_baseline"):
    """The package ``latentmodels`` at git revision ``ref``, imported as ``name``."""
    archive = subprocess.run(
        ["git", "archive", ref, "latentmodels"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="latentmodels-baseline-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "latentmodels").rename(folder / name)
    sys.path.insert(0, str(folder))
    return importlib.import_module(name)


def revision(ref: str) -> str:
    """The commit id of ``ref`` (for the results file)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", ref],
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()


def write_report(out: Path, report: dict, baseline_ref) -> None:
    """Write ``report`` as JSON with the baseline revision and the versions."""
    import numpy as np
    import sklearn

    report = dict(report)
    report["baseline"] = None
    if baseline_ref:
        report["baseline"] = {"ref": baseline_ref, "commit": revision(baseline_ref)}
    report["versions"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
