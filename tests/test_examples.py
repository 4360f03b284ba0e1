"""Every example script (examples/plot_*.py) runs to the end in quick mode.

Each runs in its own interpreter with ``LATENTMODELS_EXAMPLE_QUICK=1`` and the
Agg backend, so a new example is picked up by the glob without editing this
file. The quick mode is each example's own small-size setting.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
# Generous: the suite shares two cores with other jobs; quick runs take seconds.
TIMEOUT_S = 300


def test_examples_exist():
    assert any(p.name == "plot_features_classifier.py" for p in EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_quick(script, tmp_path):
    env = dict(os.environ, LATENTMODELS_EXAMPLE_QUICK="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
