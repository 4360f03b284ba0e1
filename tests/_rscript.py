"""Run R (``Rscript``) from a test and read back numbers; skip without R.

``run_r(code, packages, **arrays)``: each array is written to a CSV file and
bound to an R matrix of the same name; the code calls ``out(name, x)`` to send
back a numeric vector or matrix (column-major, as R stores it). Returns a dict
of float arrays (matrices keep their shape).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

_PRELUDE = """
out <- function(name, x) {
  x <- as.matrix(x)
  cat("@@", name, nrow(x), ncol(x), format(as.vector(x), digits = 17), "\\n")
}
"""


def run_r(code: str, packages=(), **arrays) -> dict:
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    with tempfile.TemporaryDirectory() as tmp:
        lines = [_PRELUDE]
        for pkg in packages:
            lines.append(
                f"if (!requireNamespace('{pkg}', quietly = TRUE)) "
                f"{{ cat('@@MISSING {pkg}\\n'); quit() }}"
            )
            lines.append(f"suppressMessages(library({pkg}))")
        for name, value in arrays.items():
            path = Path(tmp) / f"{name}.csv"
            np.savetxt(path, np.atleast_2d(value), delimiter=",", fmt="%.17g")
            lines.append(
                f"{name} <- as.matrix(read.csv('{path}', header = FALSE))\n"
                f"dimnames({name}) <- NULL"
            )
        lines.append(code)
        script = Path(tmp) / "script.R"
        script.write_text("\n".join(lines))
        proc = subprocess.run(
            ["Rscript", str(script)], capture_output=True, text=True, timeout=300
        )
    if "@@MISSING" in proc.stdout:
        pytest.skip(proc.stdout.split("@@MISSING", 1)[1].split()[0] + " not installed")
    if proc.returncode != 0:
        raise RuntimeError(f"R failed:\n{proc.stderr[-2000:]}")
    result = {}
    for line in proc.stdout.splitlines():
        if line.startswith("@@ "):
            _, name, nr, nc, *vals = line.split()
            x = np.array([np.nan if v == "NA" else float(v) for v in vals])
            result[name] = x.reshape(int(nc), int(nr)).T if int(nc) > 1 else x
    return result
