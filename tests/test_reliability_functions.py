"""Reliability of the public functions (sparse_encode, rotate, identifiability,
the data generators) and of the command line's data loaders."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from _reliability import (
    X0,
    D,
    _data,
    _readonly,
    _strided,
    _with_inf,
    _with_nan,
)

from latentmodels import identifiability as ident
from latentmodels.datasets import make_factor_data, make_sparse_coding_data
from latentmodels.rotations import rotate
from latentmodels.sparse import sparse_encode

pytestmark = [
    # convergence and Heywood warnings are checked on purpose in their own tests
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Heywood case:UserWarning"),
]


# ----------------------------------------------------------------------------
# 9. Public functions: the same matrix.

RNG = np.random.RandomState(0)
DICT = RNG.standard_normal((4, D))
LOADINGS = RNG.standard_normal((D, 3))
TRUE_C, EST_C = RNG.standard_normal((2, D)), RNG.standard_normal((2, D))

FUNCTIONS = {
    "sparse_encode X": (lambda A: sparse_encode(A, DICT, 0.1), X0[:10], "X"),
    "sparse_encode dictionary": (
        lambda A: sparse_encode(X0[:10], A, 0.1),
        DICT,
        "dictionary",
    ),
    "rotate": (lambda A: rotate(A, "varimax"), LOADINGS, "loadings"),
    "principal_angles": (
        lambda A: ident.principal_angles(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "max_principal_angle": (
        lambda A: ident.max_principal_angle(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "procrustes_alignment": (
        lambda A: ident.procrustes_alignment(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "congruence_matrix": (
        lambda A: ident.congruence_matrix(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "matched_congruence": (
        lambda A: ident.matched_congruence(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
    "amari_distance": (
        lambda A: ident.amari_distance(A, EST_C),
        TRUE_C,
        "true_components",
    ),
    "recovery_report": (
        lambda A: ident.recovery_report(TRUE_C, A),
        EST_C,
        "estimated_components",
    ),
}

# what each bad argument must produce: (exception, words the message must hold)
FUNCTION_CASES = {
    "nan": (_with_nan, ValueError, r"{arg} contains NaN"),
    "inf": (_with_inf, ValueError, r"{arg} contains inf.*remove or clip"),
    "0 rows": (lambda A: A[:0], ValueError, r"(empty|0 sample|non-empty).*"),
    "1-D": (lambda A: A[0], ValueError, r"(2-D|2D).*reshape"),
    "complex": (lambda A: A + 1j, (ValueError, TypeError), r"([Cc]omplex|real)"),
    "strings": (
        lambda A: np.full(A.shape, "a", dtype=object),
        (ValueError, TypeError),
        r"(non-numeric|real numeric)",
    ),
    "sparse": (sp.csr_matrix, TypeError, r"(dense|sparse).*toarray"),
}


@pytest.mark.parametrize("case", sorted(FUNCTION_CASES))
@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_public_function_bad_input(func, case):
    call, good, arg = FUNCTIONS[func]
    make, exc, pattern = FUNCTION_CASES[case]
    bad = make(good)
    before = bad.copy() if isinstance(bad, np.ndarray) else None
    with pytest.raises(exc, match=re.compile(pattern.format(arg=arg), re.S)):
        call(bad)
    if before is not None:
        np.testing.assert_array_equal(bad, before)


@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_public_function_odd_but_valid_input(func):
    """float32, int, read-only, strided and list input give the float64 result,
    and the input is left as it was."""
    call, good, _ = FUNCTIONS[func]
    expected = call(good.copy())
    variants = [
        good.astype(np.float32).astype(np.float64),
        _readonly(good),
        np.asfortranarray(good),
        _strided(good),
        good.tolist(),
    ]
    for A in variants:
        copy = np.array(A, copy=True)
        result = call(A)
        _assert_same_result(result, expected, float32=A is variants[0])
        np.testing.assert_array_equal(np.asarray(A), copy)


def _assert_same_result(result, expected, float32=False):
    rtol = 1e-5 if float32 else 1e-12
    if isinstance(expected, np.ndarray):
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol)
    elif isinstance(expected, float):
        assert result == pytest.approx(expected, rel=rtol, abs=rtol)
    else:  # a result dataclass: compare its array and float fields
        for key, value in vars(expected).items():
            if isinstance(value, (np.ndarray, float)):
                _assert_same_result(getattr(result, key), value, float32)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(n_samples=0), ValueError, r"n_samples must be at least 1"),
        (dict(n_samples=5.5), TypeError, r"n_samples must be an integer"),
        (dict(n_features=0), ValueError, r"n_features must be at least 1"),
        (dict(n_components=0), ValueError, r"n_components must be at least 1"),
        (dict(n_components=4), ValueError, r"at most n_features = 3.*<= 3"),
        (dict(noise_level=-1.0), ValueError, r"noise_level must be finite and >= 0"),
        (dict(noise_level=np.nan), ValueError, r"noise_level must be finite"),
        (dict(prior="cauchy"), ValueError, r"prior must be one of"),
        (dict(noise="pink"), ValueError, r"noise must be one of"),
        (
            dict(mean=[1.0, 2.0]),
            ValueError,
            r"mean must be .* = \(3,\), got shape \(2,\)",
        ),
        (dict(mean=np.inf), ValueError, r"mean contains inf"),
    ],
)
def test_make_factor_data_bad_arguments(kwargs, exc, pattern):
    args = {"n_samples": 5, "n_features": 3, "n_components": 1, **kwargs}
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        make_factor_data(**args)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(n_samples=0), ValueError, r"n_samples must be at least 1"),
        (dict(n_features=0), ValueError, r"n_features must be at least 1"),
        (dict(n_components=-2), ValueError, r"n_components must be at least 1"),
        (dict(n_nonzero=5), ValueError, r"n_nonzero=5 is too large.*<= 4"),
        (dict(n_nonzero=0), ValueError, r"n_nonzero must be at least 1"),
        (dict(noise_level=-1.0), ValueError, r"noise_level must be finite and >= 0"),
    ],
)
def test_make_sparse_coding_data_bad_arguments(kwargs, exc, pattern):
    args = {"n_samples": 5, "n_features": 3, "n_components": 4, "n_nonzero": 2}
    with pytest.raises(exc, match=re.compile(pattern, re.S)):
        make_sparse_coding_data(**{**args, **kwargs})


def test_generators_edge_sizes_are_valid():
    """The smallest valid sizes work and give finite data of the right shape."""
    X, truth = make_factor_data(1, 1, 1, noise_level=0.0, random_state=0)
    assert X.shape == (1, 1) and np.all(np.isfinite(X))
    np.testing.assert_allclose(X, truth.H @ truth.components)
    X, truth = make_sparse_coding_data(1, 1, 3, n_nonzero=3, random_state=0)
    assert X.shape == (1, 1) and np.all(np.isfinite(X))


# ----------------------------------------------------------------------------
# 10. The command line loaders, through latentmodels.cli.main.


def _write_bad_files(d):
    X = _data(n=12, d=4)
    files = {}

    def save(name, array, **kw):
        np.save(d / name, array, **kw)
        files[name] = str(d / name)

    save("complex.npy", X + 1j)
    save("cube.npy", X[None])
    save("empty.npy", np.empty((0, 4)))
    save("nocols.npy", np.empty((12, 0)))
    save("strings.npy", X.astype(str))
    X_inf = X.copy()
    X_inf[4, 1] = np.inf
    save("inf.npy", X_inf)
    np.savez(d / "noname.npz", a=X, b=X)
    files["noname.npz"] = str(d / "noname.npz")
    texts = {
        "empty.csv": "",
        "header_only.csv": "a,b,c\n",
        "ragged.csv": "a,b,c\n1,2,3\n4,5\n6,7,8\n",
        "inf.csv": "a,b\n1,2\ninf,3\n4,5\n",
    }
    for name, text in texts.items():
        (d / name).write_text(text)
        files[name] = str(d / name)
    (d / "truncated.npy").write_bytes((d / "inf.npy").read_bytes()[:100])
    files["truncated.npy"] = str(d / "truncated.npy")
    (d / "folder.csv").mkdir()
    files["folder.csv"] = str(d / "folder.csv")
    return files


CLI_CASES = {
    "complex.npy": "not numeric",
    "cube.npy": "2-D",
    "empty.npy": "at least two rows",
    "nocols.npy": "no feature columns",
    "strings.npy": "not numeric",
    "inf.npy": "infinite values in 1 row",
    "noname.npz": "name the data array 'X'",
    "empty.csv": "empty",
    "header_only.csv": "at least two rows",
    "ragged.csv": "data row 1 has 2 fields",
    "inf.csv": "infinite values in 1 row",
    "truncated.npy": "cannot read",
    "folder.csv": "is not a file",
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_files_one_line_exit_2(case, tmp_path, capsys):
    from latentmodels.cli import main

    path = _write_bad_files(tmp_path)[case]
    code = main(["compare", "--data", path, "--models", "pca", "--n-components", "1"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert CLI_CASES[case] in lines[0], lines[0]
