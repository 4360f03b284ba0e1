"""What ``compare`` says about its own figures (issue 17, items 8 and 9).

The log-likelihood convention of each row, warnings in full in results.json
and as one readable line on the console, unconverged fits marked, ``--cv 1``,
and fit times that do not include numba's compilation.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA as SkPCA
from sklearn.model_selection import train_test_split

import latentmodels.cli as cli
from latentmodels import ProbabilisticPCA
from latentmodels.cli import main

pd = pytest.importorskip("pandas")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _wide_frame(n=30, d=60, seed=0):
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n, 3))
    X = H @ rng.standard_normal((3, d)) + 0.5 * rng.standard_normal((n, d))
    return pd.DataFrame(X)  # an unnamed frame: header 0, 1, ..., d-1


# ------------------------------------------------ 8. PCA's score convention
def test_documented_noise_variance_conventions():
    """The README's sentence, checked on wide data (n < d) with numpy alone.

    PCA: mean of the min(n, d) − k smallest eigenvalues of the covariance
    (divisor n − 1), scikit-learn's convention; PPCA: maximum likelihood, the
    mean of the d − k smallest eigenvalues of S / n (the zeros included).
    """
    from latentmodels import PCA

    X = _wide_frame().to_numpy()
    n, d = X.shape
    k = 3
    Xc = X - X.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(Xc.T @ Xc))[::-1]
    pca_sigma2 = eig[k:min(n, d)].sum() / (n - 1) / (min(n, d) - k)
    ml_sigma2 = eig[k:].sum() / n / (d - k)
    assert PCA(k).fit(X).noise_variance_[0] == pytest.approx(pca_sigma2, rel=1e-9)
    assert SkPCA(k).fit(X).noise_variance_ == pytest.approx(pca_sigma2, rel=1e-9)
    ppca = ProbabilisticPCA(k).fit(X)
    assert ppca.noise_variance_[0] == pytest.approx(ml_sigma2, rel=1e-9)
    assert pca_sigma2 > 1.5 * ml_sigma2  # they differ on wide data


def test_table_says_which_convention_each_row_uses(tmp_path, capsys):
    frame = _wide_frame()
    frame.to_csv(tmp_path / "wide.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "wide.csv", "--models", "pca,ppca",
        "--n-components", "3", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["data"]["n_features"] == 60  # the numeric header is a header
    pca, ppca = report["models"]["pca"], report["models"]["ppca"]
    assert "scikit-learn" in pca["loglik_convention"]
    assert ppca["loglik_convention"] == "maximum likelihood"
    X = frame.to_numpy()
    X_train, X_test = train_test_split(X, test_size=8, random_state=0)
    assert pca["heldout_loglik"] == pytest.approx(
        SkPCA(3).fit(X_train).score(X_test), rel=1e-9
    )
    assert ppca["heldout_loglik"] == pytest.approx(
        ProbabilisticPCA(3).fit(X_train).score(X_test), rel=1e-9
    )
    pca_row = next(line for line in out.splitlines() if line.startswith("pca "))
    ppca_row = next(line for line in out.splitlines() if line.startswith("ppca "))
    assert "*" in pca_row and "*" not in ppca_row
    assert "note: * PCA's log-likelihood uses scikit-learn's convention" in out


# ------------------------------------------------ 9. warnings and convergence
def test_unconverged_model_marked_and_warning_kept_in_full(
    tmp_path, capsys, monkeypatch
):
    """An autoencoder stopped after 2 iterations: marked, never silent."""
    make = cli.make_estimator

    def few_iterations(name, *args):
        estimator = make(name, *args)
        if name == "autoencoder":
            estimator.set_params(max_iter=2)
        return estimator

    monkeypatch.setattr(cli, "make_estimator", few_iterations)
    _wide_frame(n=40, d=8).to_csv(tmp_path / "t.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "t.csv", "--models", "pca,autoencoder",
        "--n-components", "2", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    ae = report["models"]["autoencoder"]
    assert ae["converged"] is False and report["models"]["pca"]["converged"]
    (full,) = ae["warnings"]
    assert full.startswith("ConvergenceWarning: L-BFGS did not converge in max_iter=2")
    assert "scaled gradient is" in full and full.endswith(".")
    # no advice the command line cannot follow, on the console or in the file
    assert not re.search(r"increase max_iter", out + json.dumps(report), re.I)
    row = next(line for line in out.splitlines() if line.startswith("autoencoder"))
    assert row.startswith("autoencoder !")
    notes = [line for line in out.splitlines() if line.startswith("note: autoencoder")]
    assert len(notes) == 1 and "(full text: results.json)" in notes[0]
    assert len(notes[0]) < 260
    assert "! autoencoder: the fit stopped before its tolerance" in out
    assert "metrics.png" in report["figures"]


def test_cv_1_is_a_usage_error(capsys):
    code, out, err = _run(capsys, "compare", "--cv", "1")
    assert code == 2
    assert err.count("\n") == 1 and "at least 2 folds" in err and "--cv 0" not in err


def test_sparse_fit_time_excludes_numba_compilation():
    """The warm-up compiles numba's kernels before the timed fit (fresh process)."""
    pytest.importorskip("numba")
    code = """
import importlib, pkgutil, types
import numpy as np
from numba.core.registry import CPUDispatcher
import latentmodels.sparse as sparse
from latentmodels import SparseCoding
from latentmodels.cli._models import _warm_up, make_estimator
modules = [
    importlib.import_module("latentmodels.sparse." + info.name)
    for info in pkgutil.iter_modules(sparse.__path__)
]
kernels = [
    obj for m in modules for obj in vars(m).values() if isinstance(obj, CPUDispatcher)
]
assert kernels and not any(k.signatures for k in kernels)
X = np.random.default_rng(0).standard_normal((50, 6))
args = types.SimpleNamespace(seed=0)
est = make_estimator("sparse", SparseCoding, 3, args, 0.5, False)
_warm_up("sparse", est, X)
assert any(k.signatures for k in kernels), "nothing compiled by the warm-up"
assert not hasattr(est[-1], "components_"), "the warm-up fitted the real model"
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


# ------------------------------------------------ 4. the wide table
def test_wide_table_end_to_end(tmp_path, capsys):
    """50 rows × 2000 columns, k = 16, written by pandas (issue 17, item 4).

    Every model, with the classifier's three folds; the autoencoder on PCA's
    subspace and factor analysis converged. (Its time is measured in
    benchmarks/bench_cli_wide.py, not asserted here.)
    """
    rng = np.random.default_rng(0)
    H = rng.standard_normal((50, 5))
    X = H @ rng.standard_normal((5, 2000)) + rng.standard_normal((50, 2000))
    frame = pd.DataFrame(X)
    frame["y"] = (H[:, 0] > 0).astype(int)
    frame.to_csv(tmp_path / "wide.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "wide.csv", "--target", "y",
        "--n-components", "16", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["data"]["n_features"] == 2000
    ae = report["models"]["autoencoder"]
    assert ae["converged"] and ae["max_angle_to_pca_deg"] < 1e-2
    assert ae["reconstruction_error"] == pytest.approx(
        report["models"]["pca"]["reconstruction_error"], rel=1e-6
    )
    fa = report["models"]["fa"]
    assert fa["converged"] and fa["fit_statistics"] is None  # S is singular
    assert np.isfinite(fa["heldout_loglik"])


def test_cv_task_is_chosen_from_the_target():
    """Classes stay classes (26 integer codes); many distinct values regress."""
    from latentmodels.cli._models import cv_plan

    rng = np.random.default_rng(0)
    letters = rng.integers(0, 26, 200).astype(float)
    assert cv_plan(letters, 3)[0] == "classification"
    assert cv_plan(rng.standard_normal(100), 3)[0] == "regression"
    diabetes_like = rng.integers(25, 346, 442).astype(float)  # 214 of 442 distinct
    assert cv_plan(diabetes_like, 3)[0] == "regression"
    assert cv_plan(letters, 3, "regression")[0] == "regression"
    assert cv_plan(np.array(["a", "b"] * 10, dtype=object), 3)[0] == "classification"
    task, folds, why = cv_plan(rng.standard_normal(100), 3, "classification")
    assert task is None and "--task regression" in why


def test_fit_statistics_in_the_table_and_results(tmp_path, capsys):
    """Issue 16: the factor models' goodness_of_fit on the training rows."""
    from latentmodels import FactorAnalysis
    from latentmodels.cli._models import split_rows

    frame = load_wine(as_frame=True).frame
    frame.to_csv(tmp_path / "wine.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "wine.csv", "--target", "target",
        "--models", "ppca,fa", "--n-components", "3", "--scale", "standard",
        "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    X = frame.drop(columns="target").to_numpy()
    train, _ = split_rows(len(X), 0.25, 0)  # the CLI's split (default seed)
    X_train = X[train]  # FA's χ² does not depend on the columns' scales
    ref = FactorAnalysis(3, random_state=0).fit(X_train).goodness_of_fit()
    got = report["models"]["fa"]["fit_statistics"]
    assert got["dof"] == ref.dof == 42
    assert got["statistic"] == pytest.approx(ref.statistic, rel=1e-6)
    assert got["rmsea"] == pytest.approx(ref.rmsea, rel=1e-6)
    assert "fit (training rows)" in out
    assert report["models"]["ppca"]["fit_statistics"]["dof"] == 91 - (13 * 3 - 3 + 1)
