"""``python -m latentmodels``: the main job, its files, and its bad-input messages.

``main(argv)`` runs in-process; figures are checked against independent
computations with scikit-learn on the same split.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from latentmodels.cli import MODELS, main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _split(X, seed=0, test_size=0.25):
    n_test = max(1, int(round(test_size * X.shape[0])))
    return train_test_split(X, test_size=n_test, random_state=seed)


def _factor_data(n=60, d=5, k=2, seed=0):
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((d, k))
    H = rng.standard_normal((n, k))
    X = H @ W.T + 0.3 * rng.standard_normal((n, d)) + 5.0
    y = (H[:, 0] > 0).astype(int)
    return X, y


def _digits():
    """The digits as the command models them: its 3 constant pixels dropped."""
    X, y = load_digits(return_X_y=True)
    return X[:, X.max(axis=0) > X.min(axis=0)], y


def _all_json_numbers_finite(obj):
    if isinstance(obj, dict):
        return all(_all_json_numbers_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_all_json_numbers_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


# ------------------------------------------------------------------ main job
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One run of the main job on the default data, with small settings."""
    out = tmp_path_factory.mktemp("digits")
    argv = ["compare", "--n-components", "4", "--cv", "2", "--output", str(out)]
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    report = json.loads((out / "results.json").read_text())
    return code, stdout.getvalue(), stderr.getvalue(), report, out


def test_default_run_fits_every_model(digits_run):
    code, stdout, stderr, report, _ = digits_run
    assert code == 0, stderr
    assert stderr == ""
    assert set(report["models"]) == set(MODELS), report["skipped"]
    # one progress line per model, then the table with a row per model
    for i, name in enumerate(MODELS, 1):
        assert f"[{i}/{len(MODELS)}] {name}" in stdout
        assert any(line.startswith(name + " ") for line in stdout.splitlines())
    assert report["data"]["n_samples"] == 1797
    assert report["data"]["n_features"] == 61  # 64 pixels, 3 of them constant
    assert report["data"]["dropped_constant_columns"] == ["0", "32", "39"]
    assert "dropped 3 constant column(s)" in stdout
    assert _all_json_numbers_finite(report)


def test_default_run_matches_sklearn_pca(digits_run):
    _, _, _, report, _ = digits_run
    X, y = _digits()
    X_train, X_test = _split(X)
    ref = SkPCA(n_components=4).fit(X_train)
    pca = report["models"]["pca"]
    # held-out PPCA log-likelihood of PCA: scikit-learn's score is the same model
    assert pca["heldout_loglik"] == pytest.approx(ref.score(X_test), rel=1e-10)
    X_hat = ref.inverse_transform(ref.transform(X_test))
    err = np.sum((X_test - X_hat) ** 2) / np.sum((X_test - X_train.mean(0)) ** 2)
    assert pca["reconstruction_error"] == pytest.approx(err, rel=1e-10)
    assert pca["sparsity"] == 0.0
    assert pca["max_angle_to_pca_deg"] == pytest.approx(0.0, abs=1e-6)
    # the classifier: PCA features, scaled, logistic regression, same folds
    pipe = make_pipeline(
        SkPCA(n_components=4), StandardScaler(), LogisticRegression(max_iter=1000)
    )
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv)
    # PCA's sign convention differs; the scaled logistic regression does not care
    # up to solver rounding: at most one digit in a fold may flip.
    assert abs(pca["cv_accuracy"] - scores.mean()) <= 1.0 / len(y)


def test_default_run_gaussian_models_agree_with_pca(digits_run):
    _, _, _, report, _ = digits_run
    models = report["models"]
    # PPCA's maximum likelihood subspace is PCA's; the autoencoder's minimum too
    assert models["ppca"]["max_angle_to_pca_deg"] < 1e-4
    assert models["autoencoder"]["max_angle_to_pca_deg"] < 0.5
    # PPCA and PCA are the same Gaussian up to the covariance divisor n vs n - 1
    assert models["ppca"]["heldout_loglik"] == pytest.approx(
        models["pca"]["heldout_loglik"], abs=0.05
    )
    # the figures are the estimators' own, fitted with the command's settings
    from latentmodels import FactorAnalysis
    from latentmodels.cli._models import EM_TOL

    X = _digits()[0]
    X_train, X_test = _split(X)
    # digits' constant pixels sit at the noise floor without a Heywood warning
    fa = FactorAnalysis(n_components=4, tol=EM_TOL, random_state=0).fit(X_train)
    assert models["fa"]["heldout_loglik"] == pytest.approx(fa.score(X_test), rel=1e-9)
    # Gaussian models score, the others do not
    for name in ("pca", "ppca", "fa"):
        assert math.isfinite(models[name]["heldout_loglik"])
    for name in ("sparse", "autoencoder"):
        assert models[name]["heldout_loglik"] is None
    # sparse coding gives exact zeros; posterior means do not
    assert 0.05 < models["sparse"]["sparsity"] < 1.0
    assert models["fa"]["sparsity"] == 0.0
    for r in models.values():
        assert 0.0 < r["reconstruction_error"] < 1.0
        assert 0.5 < r["cv_accuracy"] <= 1.0


def test_default_run_writes_figures(digits_run):
    _, _, _, report, out = digits_run
    files = set(report["figures"])
    assert {f"components_{name}.png" for name in MODELS} <= files
    assert "traces.png" in files
    for f in files:
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # traces are the models' own records: FA's log-likelihood never decreases
    ll = np.array(report["models"]["fa"]["trace"])
    assert np.all(np.diff(ll) >= -1e-10 * np.abs(ll[1:]))


# ------------------------------------------------------------------ files
def test_csv_with_header_and_string_labels(tmp_path, capsys):
    X, y = _factor_data()
    path = tmp_path / "data.csv"
    labels = np.where(y == 1, "yes", "no")
    lines = ["a,b,label,c,d,e"] + [
        ",".join(
            [repr(float(r[0])), repr(float(r[1])), lab]
            + [repr(float(v)) for v in r[2:]]
        )
        for r, lab in zip(X, labels)
    ]
    path.write_text("\n".join(lines) + "\n")
    out_dir = tmp_path / "out"
    code, out, err = _run(
        capsys,
        "compare", "--data", str(path), "--target", "label", "--n-components", "2",
        "--models", "pca,fa", "--cv", "2", "--output", str(out_dir),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((out_dir / "results.json").read_text())
    assert report["data"]["n_features"] == 5 and report["data"]["target"] == "label"
    assert set(report["models"]) == {"pca", "fa"}
    X_train, X_test = _split(X)
    ref = SkPCA(n_components=2).fit(X_train)
    assert report["models"]["pca"]["heldout_loglik"] == pytest.approx(
        ref.score(X_test), rel=1e-10
    )
    assert report["models"]["pca"]["cv_accuracy"] is not None
    # not image data: the metrics and the traces, no component images
    assert report["figures"] == ["metrics.png", "traces.png"]


def test_csv_without_header_target_by_index(tmp_path, capsys):
    X, y = _factor_data(seed=1)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    code, out, err = _run(
        capsys, "compare", "--data", str(path), "--target", "-1",
        "--n-components", "2", "--models", "pca,ppca", "--cv", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "5 features" in out
    assert "pca" in out and "ppca" in out


def test_npy_and_npz(tmp_path, capsys):
    X, y = _factor_data(seed=2)
    np.save(tmp_path / "d.npy", np.column_stack([y, X]))
    code, out, err = _run(
        capsys, "compare", "--data", str(tmp_path / "d.npy"), "--target", "0",
        "--n-components", "3", "--models", "pca", "--cv", "2",
        "--output", str(tmp_path / "a"),
    )  # fmt: skip
    assert code == 0, err
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    np.savez(tmp_path / "d.npz", X=X, y=y)
    code, out, err = _run(
        capsys, "compare", "--data", str(tmp_path / "d.npz"), "--n-components", "3",
        "--models", "pca", "--cv", "2", "--output", str(tmp_path / "b"),
    )  # fmt: skip
    assert code == 0, err
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    # same data, same labels, same split: the same figures
    for key in ("heldout_loglik", "reconstruction_error", "cv_accuracy"):
        assert a["models"]["pca"][key] == pytest.approx(b["models"]["pca"][key])
    assert b["data"]["target"] == "y"


def test_no_output_writes_no_files(tmp_path, capsys, monkeypatch):
    X, _ = _factor_data(seed=3)
    np.save(tmp_path / "d.npy", X)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(
        capsys, "compare", "--data", "d.npy", "--n-components", "2", "--models", "pca"
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npy"]
    assert "score is skipped" in out


def test_missing_em_fits_gaussian_models(tmp_path, capsys):
    import latentmodels

    capable = [
        name
        for name, cls in (
            ("ppca", latentmodels.ProbabilisticPCA),
            ("fa", latentmodels.FactorAnalysis),
        )
        if "missing_values" in cls._get_param_names()
    ]
    if not capable:
        pytest.skip("no Gaussian model takes missing_values yet")
    X, _ = _factor_data(n=80, seed=4)
    X[3, 1] = X[10, 4] = X[50, 0] = np.nan
    np.save(tmp_path / "d.npy", X)
    code, out, err = _run(
        capsys, "compare", "--data", str(tmp_path / "d.npy"), "--n-components", "2",
        "--missing", "em", "--output", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(report["models"]) == set(capable)
    assert "skipped" in out  # pca, sparse, autoencoder cannot fit NaN
    for r in report["models"].values():
        assert math.isfinite(r["heldout_loglik"])
        assert 0 < r["reconstruction_error"] < 1
    # the held-out figure is the model's observed-data log-likelihood on the
    # held-out rows (one of them has a NaN), fitted on the training rows
    X_train, X_test = _split(X)
    if "fa" in capable:
        fa = latentmodels.FactorAnalysis(
            n_components=2, tol=1e-6, missing_values="em", random_state=0
        ).fit(X_train)
        assert report["models"]["fa"]["heldout_loglik"] == pytest.approx(
            fa.score(X_test), rel=1e-9
        )


# ------------------------------------------------------------------ bad input
def _bad_files(tmp_path):
    X, _ = _factor_data(n=20)
    (tmp_path / "text.csv").write_text("a,b,c\n1,2,x\n3,4,5\n6,7,8\n")
    X_nan = X.copy()
    X_nan[7, 2] = np.nan
    np.save(tmp_path / "nan.npy", X_nan)
    np.save(tmp_path / "one.npy", X[:1])
    np.save(tmp_path / "small.npy", X)
    np.save(tmp_path / "obj.npy", np.array([[1, "a"], [2, "b"]], dtype=object),
            allow_pickle=True)  # fmt: skip
    np.save(tmp_path / "vec.npy", X[:, 0])
    (tmp_path / "data.json").write_text("{}")
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n6,7,8\n")
    (tmp_path / "nolabel.csv").write_text("a,b,y\n1,2,A\n3,4,\n5,6,B\n")
    return tmp_path


BAD = {
    "missing file": (["--data", "{d}/nope.csv"], "does not exist"),
    "non-numeric": (["--data", "{d}/text.csv"], "not numeric"),
    "nan": (["--data", "{d}/nan.npy"], "--missing em"),
    "one row": (["--data", "{d}/one.npy"], "at least two rows"),
    "k > d": (["--data", "{d}/small.npy", "--n-components", "6"], "number of features"),
    "unknown model": (["--models", "pca,ica"], "unknown model"),
    "pickled": (["--data", "{d}/obj.npy"], "Python objects"),
    "1-D array": (["--data", "{d}/vec.npy"], "2-D"),
    "file type": (["--data", "{d}/data.json"], "unknown file type"),
    "bad target": (["--data", "{d}/text.csv", "--target", "zz"], "not a column"),
    "output is a file": (
        [
            "--data",
            "{d}/small.npy",
            "--models",
            "pca",
            "--n-components",
            "2",
            "--output",
            "{d}/data.json",
        ],
        "cannot create the output directory",
    ),  # fmt: skip
    "ragged rows": (["--data", "{d}/ragged.csv"], "has 2 fields"),
    "missing label": (["--data", "{d}/nolabel.csv", "--target", "y"], "missing labels"),
    "bad k": (["--n-components", "0"], "at least 1"),
    "nan, model": (
        ["--data", "{d}/nan.npy", "--missing", "em", "--models", "pca"],
        "cannot fit data with missing values",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2(case, tmp_path, capsys):
    d = _bad_files(tmp_path)
    args, expected = BAD[case]
    code, out, err = _run(capsys, "compare", *[a.format(d=d) for a in args])
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]


def test_help_returns_zero(capsys):
    code, out, _ = _run(capsys, "compare", "--help")
    assert code == 0 and "--n-components" in out


def test_module_entry_point_exit_status(tmp_path):
    """``python -m latentmodels`` propagates main's status; no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "latentmodels", "compare", "--data",
         str(tmp_path / "missing.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr


def test_identifiability_command(capsys):
    code, out, err = _run(capsys, "identifiability", "--quick", "--n-samples", "200")
    assert code == 0, err
    assert "gaussian" in out.lower() and "laplace" in out.lower()
    assert "n_samples=200" in out


def test_no_import_circle_with_the_demo():
    """identifiability.py does not know the demo (issue 14: no circle)."""
    import latentmodels.identifiability as ident

    source = Path(ident.__file__).read_text()
    assert "_identifiability_demo" not in source and "cli" not in source.split(
        '"""', 2
    )[2]
    assert not hasattr(ident, "identifiability_demo")


def test_identifiability_demo_quick():
    """The demo lives with the command line and uses latentmodels' own models."""
    from latentmodels.cli import format_demo, identifiability_demo

    result = identifiability_demo(quick=True, random_state=0)
    assert result["settings"]["n_components"] == 3
    assert set(result["results"]) == {"gaussian", "laplace"}
    assert result["notes"] == {}  # every latentmodels estimator is available
    for prior, rows in result["results"].items():
        assert set(rows) == {
            "FactorAnalysis",
            "ProbabilisticPCA",
            "LinearAutoencoder",
            "SparseCoding",
            "FastICA (scikit-learn)",
        }
        for name, row in rows.items():
            assert row["max_principal_angle_deg"] < 10, (prior, name)
        for name in ("FactorAnalysis", "ProbabilisticPCA"):
            assert rows[name]["loglik_spread"] < 1e-10
            assert rows[name]["laplace_criterion_spread"] > 1e-3
    laplace = result["results"]["laplace"]
    for name in ("SparseCoding", "FastICA (scikit-learn)"):
        assert laplace[name]["mean_congruence"] > 0.97, name
    assert laplace["FactorAnalysis"]["mean_congruence"] < 0.95
    text = format_demo(result)
    assert "laplace factors" in text and "SparseCoding" in text


def test_identifiability_bad_size_exit_2(capsys):
    code, out, err = _run(
        capsys, "identifiability", "--n-features", "5", "--n-components", "6"
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "n_components" in err
    assert "Traceback" not in err
