"""Malformed and extreme files (issue 17, item 11).

A malformed input ends in one line on stderr and exit status 2; an accepted
input gives finite figures that follow the data's scale: multiplying a table
by c leaves reconstruction errors, zeros, angles and scores unchanged and
moves the mean log-likelihood per row by exactly ``−d log c``.
"""

import json
import math
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine

from latentmodels.cli import main

pd = pytest.importorskip("pandas")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_exit_2(capsys, *argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def iris_arrays():
    X, y = load_iris(return_X_y=True)
    return X, y


# ----------------------------------------------------- binary files, paths
def test_npz_whose_target_is_0d(iris_arrays, tmp_path, capsys):
    X, _ = iris_arrays
    np.savez(tmp_path / "d.npz", X=X, y=np.array(1))
    line = _one_line_exit_2(capsys, "compare", tmp_path / "d.npz")
    assert "'y'" in line and "one label per row" in line


def test_zip_member_that_is_not_npy(iris_arrays, tmp_path, capsys):
    X, _ = iris_arrays
    path = tmp_path / "d.npz"
    np.savez(path, y=np.zeros(150))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("X.csv", "1,2\n3,4\n")
    line = _one_line_exit_2(capsys, "compare", path)
    assert "not a numpy array" in line


def test_truncated_npz(iris_arrays, tmp_path, capsys):
    X, y = iris_arrays
    np.savez(tmp_path / "full.npz", X=X, y=y)
    raw = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    line = _one_line_exit_2(capsys, "compare", tmp_path / "cut.npz")
    assert "cannot read" in line or "truncated" in line


def test_npz_named_npy_and_npy_named_npz(iris_arrays, tmp_path, capsys):
    X, y = iris_arrays
    np.savez(tmp_path / "a.npz", X=X, y=y)
    (tmp_path / "a.npz").rename(tmp_path / "a.npy")
    line = _one_line_exit_2(capsys, "compare", tmp_path / "a.npy")
    assert "rename it to .npz" in line
    np.save(tmp_path / "b.npy", X)
    (tmp_path / "b.npy").rename(tmp_path / "b.npz")
    line = _one_line_exit_2(capsys, "compare", tmp_path / "b.npz")
    assert "rename it to .npy" in line


def test_path_too_long(tmp_path, capsys):
    line = _one_line_exit_2(capsys, "compare", tmp_path / ("x" * 5000 + ".csv"))
    assert "cannot access the data file" in line


@pytest.mark.parametrize("taken", ["results.json", "metrics.png"])
def test_output_file_name_taken_by_a_directory(taken, iris_arrays, tmp_path, capsys):
    X, _ = iris_arrays
    pd.DataFrame(X).to_csv(tmp_path / "iris.csv", index=False)
    (tmp_path / "out" / taken).mkdir(parents=True)
    line = _one_line_exit_2(
        capsys, "compare", tmp_path / "iris.csv", "--models", "pca",
        "--output", tmp_path / "out",
    )  # fmt: skip
    assert taken in line and "directory" in line


# ----------------------------------------------------- labels, degenerate data
def test_inf_label_names_the_target(tmp_path, capsys):
    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].astype(float)
    frame.loc[5, "target"] = np.inf
    frame.to_csv(tmp_path / "iris.csv", index=False)
    line = _one_line_exit_2(
        capsys, "compare", tmp_path / "iris.csv", "--target", "target"
    )
    assert "target column 'target'" in line and "infinite" in line


def test_constant_columns_dropped_identical_rows_refused(tmp_path, capsys):
    frame = load_wine(as_frame=True).frame.drop(columns="target")
    frame["constant"] = 7.0
    frame.to_csv(tmp_path / "wine.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "wine.csv", "--models", "pca,ppca,fa",
        "--n-components", "3", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    assert "dropped 1 constant column(s) ('constant')" in out
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["data"]["n_features"] == 13
    for r in report["models"].values():
        assert math.isfinite(r["heldout_loglik"]) and r["heldout_loglik"] < 0
    same = pd.DataFrame(np.tile(frame.iloc[:1].to_numpy(), (20, 1)))
    same.to_csv(tmp_path / "same.csv", index=False)
    line = _one_line_exit_2(capsys, "compare", tmp_path / "same.csv")
    assert "all rows are identical" in line


# ----------------------------------------------------- extreme scales
def _figures(directory, frame, name):
    """results.json of ``compare`` on ``frame`` written by pandas."""
    import contextlib
    import io

    path = directory / f"{name}.csv"
    frame.to_csv(path, index=False)
    out_dir = directory / name
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([
            "compare", str(path), "--target", "target", "--n-components", "2",
            "--cv", "2", "--output", str(out_dir),
        ])  # fmt: skip
    assert code == 0, stderr.getvalue()
    assert stderr.getvalue() == ""  # no RuntimeWarning on the way
    return json.loads((out_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def iris_reference(tmp_path_factory):
    """Every model on iris as it is (one run shared by the scaled copies)."""
    return _figures(tmp_path_factory.mktemp("ref"), load_iris(as_frame=True).frame, "r")


@pytest.mark.parametrize("c", [1e160, 1e-300, 1e-13])
def test_extreme_scales_give_consistent_figures(c, iris_reference, tmp_path):
    iris = load_iris(as_frame=True).frame
    features = iris.columns[:-1]
    scaled = iris.copy()
    scaled[features] = iris[features] * c
    ref = iris_reference
    big = _figures(tmp_path, scaled, "scaled")
    d = len(features)
    for name, r in ref["models"].items():
        s = big["models"][name]
        assert s["converged"] == r["converged"], name
        rtol = 1e-6 if name in ("pca", "ppca", "autoencoder") else 1e-3
        assert s["reconstruction_error"] == pytest.approx(
            r["reconstruction_error"], rel=rtol
        ), name
        assert s["sparsity"] == pytest.approx(r["sparsity"], abs=0.02), name
        assert s["cv_accuracy"] == pytest.approx(r["cv_accuracy"], abs=0.02), name
        if r["heldout_loglik"] is not None:
            shift = -d * math.log(c)
            assert s["heldout_loglik"] == pytest.approx(
                r["heldout_loglik"] + shift, rel=1e-6, abs=1e-6 * abs(shift)
            ), name
    # --alpha auto follows the data: sparse codes are not all zero
    assert big["models"]["sparse"]["sparsity"] < 0.9
    assert big["settings"]["alpha"] == pytest.approx(
        c * ref["settings"]["alpha"], rel=1e-6
    )


def test_a_value_of_1e308_is_accepted_with_finite_figures(tmp_path, capsys):
    frame = load_iris(as_frame=True).frame
    frame.iloc[3, 0] = 1e308
    frame.to_csv(tmp_path / "iris.csv", index=False)
    code, out, err = _run(
        capsys, "compare", tmp_path / "iris.csv", "--target", "target",
        "--models", "pca,ppca", "--n-components", "2", "--output", tmp_path / "o",
    )  # fmt: skip
    assert code == 0, err
    assert err == ""
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    for r in report["models"].values():
        assert math.isfinite(r["heldout_loglik"])
        assert math.isfinite(r["reconstruction_error"])
