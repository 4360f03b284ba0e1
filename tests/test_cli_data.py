"""``compare`` on tables written the way people write them (issue 17).

Every table here is one of scikit-learn's bundled data sets saved by pandas
(``DataFrame.to_csv`` with its defaults, or the variants people use); the
figures are checked against scikit-learn computed on the same matrix.
"""

import gzip
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.decomposition import PCA as SkPCA
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from latentmodels.cli import main

pd = pytest.importorskip("pandas")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _split(X, seed=0, test_size=0.25):
    n_test = max(1, int(round(test_size * X.shape[0])))
    return train_test_split(X, test_size=n_test, random_state=seed)


def _report(path):
    return json.loads((path / "results.json").read_text())


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True).frame  # 13 features and "target"


# ------------------------------------------------ 1. pandas' index column
def test_pandas_index_column_is_dropped_with_a_note(wine, tmp_path, capsys):
    path = tmp_path / "wine.csv"
    wine.to_csv(path)  # pandas' default keeps the index as an unnamed column
    out_dir = tmp_path / "o"
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca",
        "--n-components", "5", "--cv", "2", "--output", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "13 features" in out and "dropped the first column" in out
    assert "--index-col none" in out
    report = _report(out_dir)
    assert report["data"]["n_features"] == 13
    # the figures are those of the 13 real features
    X = wine.drop(columns="target").to_numpy()
    X_train, X_test = _split(X)
    ref = SkPCA(5).fit(X_train)
    assert report["models"]["pca"]["heldout_loglik"] == pytest.approx(
        ref.score(X_test), rel=1e-9
    )
    # --index-col none keeps it (14 features), and a name drops a named column
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca",
        "--n-components", "5", "--cv", "0", "--index-col", "none",
    )  # fmt: skip
    assert code == 0, err
    assert "14 features" in out
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca",
        "--n-components", "5", "--cv", "0", "--index-col", "proline",
    )  # fmt: skip
    assert code == 0, err
    assert "13 features" in out  # the unnamed index stays, proline goes


def test_headerless_pandas_file_with_index(wine, tmp_path, capsys):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, header=False)
    code, out, err = _run(
        capsys, "compare", path, "--target", "-1", "--models", "pca",
        "--n-components", "3", "--cv", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "13 features" in out and "dropped the first column" in out


# ------------------------------------------------ 2. raw scales, --scale
def test_raw_scales_note_and_scale_standard(wine, tmp_path, capsys):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca,autoencoder",
        "--n-components", "5", "--cv", "2", "--output", tmp_path / "raw",
    )  # fmt: skip
    assert code == 0, err
    assert "--scale standard" in out  # proline's variance ~1e5 x the median
    raw = _report(tmp_path / "raw")["models"]
    # PCA's tiny held-out error on raw wine is printed, not rounded to 0.0000
    row = next(line for line in out.splitlines() if line.startswith("pca "))
    assert f"{raw['pca']['reconstruction_error']:.4g}" in row and "0.0000" not in row
    # the autoencoder is fitted to convergence on raw scales: PCA's subspace
    assert raw["autoencoder"]["converged"] is True
    assert raw["autoencoder"]["max_angle_to_pca_deg"] < 0.05
    # --scale standard: the columns standardised on the training rows
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca",
        "--n-components", "5", "--cv", "2", "--scale", "standard",
        "--output", tmp_path / "std",
    )  # fmt: skip
    assert code == 0, err
    assert "--scale standard to" not in out
    X = wine.drop(columns="target").to_numpy()
    X_train, X_test = _split(X)
    scaler = StandardScaler().fit(X_train)
    ref = SkPCA(5).fit(scaler.transform(X_train))
    std = _report(tmp_path / "std")["models"]["pca"]
    assert std["heldout_loglik"] == pytest.approx(
        ref.score(scaler.transform(X_test)), rel=1e-9
    )
    assert std["cv_accuracy"] > raw["pca"]["cv_accuracy"]


# ------------------------------------------------ 3. defaults, positional file
def test_default_n_components_and_positional_file(tmp_path, capsys):
    iris = load_iris(as_frame=True).frame
    path = tmp_path / "iris.csv"
    iris.to_csv(path, index=False)
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca,fa",
        "--cv", "2", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = _report(tmp_path / "o")
    assert report["settings"]["n_components"] == 2  # half of 4 features
    assert "--n-components not given: 2" in out
    # no component images for data that are not images; a metrics figure
    assert report["figures"][0] == "metrics.png"
    assert not any(f.startswith("components_") for f in report["figures"])
    assert (tmp_path / "o" / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = _run(capsys, "compare", path, "--data", path)
    assert code == 2 and "given twice" in err


# ------------------------------------------------ 5. too few rows
def test_too_few_rows_one_line_exit_2(wine, tmp_path, capsys):
    path = tmp_path / "three.csv"
    wine.head(3).to_csv(path, index=False)
    code, out, err = _run(capsys, "compare", path, "--target", "target")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "has 3 rows" in lines[0] and "at least 10" in lines[0]


# ------------------------------------------------ 6. formats
@pytest.mark.parametrize("variant", ["gzip", "semicolon", "numeric-header"])
def test_formats_people_write(variant, wine, tmp_path, capsys):
    X = wine.drop(columns="target").to_numpy()
    if variant == "gzip":
        path = tmp_path / "wine.csv.gz"
        wine.to_csv(path, index=False, compression="gzip")
        with gzip.open(path, "rt") as handle:  # really compressed
            assert handle.readline().startswith("alcohol,")
        target = "target"
    elif variant == "semicolon":  # European spreadsheets
        path = tmp_path / "wine.csv"
        wine.to_csv(path, sep=";", decimal=",", index=False)
        target = "target"
    else:  # an unnamed frame: header 0,1,...,12,y
        frame = pd.DataFrame(X)
        frame["y"] = wine["target"]
        path = tmp_path / "wine.csv"
        frame.to_csv(path, index=False)
        target = "y"
    code, out, err = _run(
        capsys, "compare", path, "--target", target, "--models", "pca",
        "--n-components", "4", "--cv", "0", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    report = _report(tmp_path / "o")
    assert report["data"]["n_samples"] == 178 and report["data"]["n_features"] == 13
    X_train, X_test = _split(X)
    assert report["models"]["pca"]["heldout_loglik"] == pytest.approx(
        SkPCA(4).fit(X_train).score(X_test), rel=1e-9
    )
    if variant == "semicolon":
        assert "semicolon-separated with decimal commas" in out


def test_first_row_of_nan_is_data(tmp_path, capsys):
    """np.savetxt writes no header: a first row of NaN is a row of data."""
    from latentmodels.cli._data import load_data

    X = load_iris().data[:40].copy()
    X[0] = np.nan
    path = tmp_path / "iris.csv"
    np.savetxt(path, X, delimiter=",")
    data = load_data(str(path))
    assert data.X.shape == (40, 4) and np.isnan(data.X[0]).all()
    np.testing.assert_array_equal(data.X[1:], X[1:])
    code, out, err = _run(capsys, "compare", path, "--missing", "em")
    assert code == 2
    assert err.count("\n") == 1 and "row 0 (counting from 0) has no observed" in err


# ------------------------------------------------ 7. a continuous target
def test_regression_target_gets_ridge_r2(tmp_path, capsys):
    diabetes = load_diabetes(as_frame=True).frame
    path = tmp_path / "diabetes.csv"
    diabetes.to_csv(path)  # with pandas' index, too
    code, out, err = _run(
        capsys, "compare", path, "--target", "target", "--models", "pca",
        "--n-components", "5", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    assert "R² of a ridge regression" in out and "CV R²" in out
    r = _report(tmp_path / "o")["models"]["pca"]
    assert r["cv_task"] == "regression" and r.get("cv_accuracy") is None
    X = diabetes.drop(columns="target").to_numpy()
    y = diabetes["target"].to_numpy()
    pipe = make_pipeline(SkPCA(5), StandardScaler(), Ridge(alpha=1.0))
    ref = cross_val_score(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert r["cv_r2"] == pytest.approx(ref.mean(), rel=1e-9)
    assert 0.2 < r["cv_r2"] < 0.6


def test_numpy_savetxt_default_space_separated(tmp_path):
    """np.savetxt's defaults: runs of spaces, no header, scientific notation."""
    from latentmodels.cli._data import load_data

    X = load_wine().data
    np.savetxt(tmp_path / "wine.txt", X)
    data = load_data(str(tmp_path / "wine.txt"))
    np.testing.assert_array_equal(data.X, X)
    assert data.feature_names is None


def test_row_names_column_suggests_index_col(tmp_path, capsys):
    frame = load_iris(as_frame=True).frame
    frame.index = [f"flower{i}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "iris.csv")  # the row names as an unnamed column
    code, out, err = _run(
        capsys, "compare", tmp_path / "iris.csv", "--target", "target"
    )
    assert code == 2 and "--index-col 0" in err and err.count("\n") == 1
    code, out, err = _run(
        capsys, "compare", tmp_path / "iris.csv", "--target", "target",
        "--index-col", "0", "--models", "pca", "--cv", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "4 features" in out
