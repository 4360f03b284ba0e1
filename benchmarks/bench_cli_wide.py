"""The command line on a wide table (issue 17, item 4): 50 rows x 2000 columns.

Writes the table with pandas the way people do, runs
``python -m latentmodels compare wide.csv --target y --n-components 16`` (every
model, three CV folds) in a subprocess, and records its wall time next to
scikit-learn's ``PCA(16)`` and ``FactorAnalysis(16)`` fits on the same rows, in
one run. Results: ``results/cli_wide.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import pandas as pd
    from sklearn.decomposition import PCA, FactorAnalysis

    rng = np.random.default_rng(0)
    H = rng.standard_normal((50, 5))
    X = H @ rng.standard_normal((5, 2000)) + rng.standard_normal((50, 2000))
    frame = pd.DataFrame(X)
    frame["y"] = (H[:, 0] > 0).astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        frame.to_csv(path, index=False)
        cmd = [sys.executable, "-m", "latentmodels", "compare", str(path),
               "--target", "y", "--n-components", "16"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        cli = time.perf_counter() - t0
    t0 = time.perf_counter()
    PCA(16).fit(X)
    sk_pca = time.perf_counter() - t0
    t0 = time.perf_counter()
    FactorAnalysis(16).fit(X)
    sk_fa = time.perf_counter() - t0
    total = [ln for ln in proc.stdout.splitlines() if ln.startswith("total")]
    out = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores",
        "cli_wall_s_including_startup": cli,
        "cli_reported": total[0] if total else None,
        "sklearn_pca_fit_s": sk_pca,
        "sklearn_fa_fit_s": sk_fa,
        "target_s": 20.0,
    }
    print(json.dumps(out, indent=2))
    dest = Path(__file__).parent / "results" / "cli_wide.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
