"""Data sets for the command line: scikit-learn's digits, or a user's file.

``load_data`` returns a :class:`Dataset` or raises :class:`DataError`, whose
message is one line that says what was wrong and what to do; the command line
prints it and exits with status 2. Supported files:

* ``.csv``, ``.tsv`` or ``.txt`` text, optionally gzip-compressed (``.gz``),
  with or without a header row. The delimiter (comma, semicolon, tab, bar
  or runs of spaces) and the decimal mark (point, or comma when the delimiter is not a
  comma) are sniffed from the first rows. The first row is a header when it
  names columns: a text cell above a numeric column, every cell text, or
  pandas' default names ``0, 1, …`` of an unnamed frame. Empty cells and
  ``nan``/``NA`` are missing values (NaN); a first row of NaN is data.
* A leading column with an empty name (or none) holding exactly ``0 … n−1``
  is pandas' index written by ``DataFrame.to_csv``: it is dropped with a note
  (``index_col`` names another column to drop, or ``'none'`` keeps it).
* ``.npy``: one 2-D numeric array (loaded with ``allow_pickle=False``).
* ``.npz``: the data array is the one named ``X`` (or ``data``), or the only
  array left once the target is set aside; loaded with ``allow_pickle=False``.

The label column (``--target``) is a column name or index for ``.csv``, a
column index for ``.npy`` and an array name for ``.npz`` (``y`` is used when
present and no target is named).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ._dataset import NA_TOKENS, DataError, Dataset
from ._text import read_text

__all__ = ["NA_TOKENS", "DataError", "Dataset", "load_data", "nan_rows"]

def load_data(
    path: str | None, target: str | None = None, index_col: str = "auto"
) -> Dataset:
    """Load ``path`` (None: scikit-learn's bundled digits) and check it.

    Parameters
    ----------
    path : str or None
        A ``.csv``, ``.tsv``, ``.txt`` (optionally ``.gz``), ``.npy`` or
        ``.npz`` file; None for the digits.
    target : str or None
        The label column (see the module docstring).
    index_col : str, default='auto'
        Text files: ``'auto'`` drops a leading unnamed ``0 … n−1`` column,
        ``'none'`` keeps every column, a name or index drops that column.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        With a one-line message when the file is missing, unreadable or not
        numeric, or has fewer than two rows.
    """
    if path is None:
        if target is not None:
            raise DataError(
                "--target names a label column of a data file; the default "
                "digits data already has its labels."
            )
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        data = Dataset(X.astype(np.float64), y, source="digits (scikit-learn)")
        data.target, data.image_shape = "digit", (8, 8)
    else:
        file = Path(path)
        try:
            exists, is_file = file.exists(), file.is_file()
        except OSError as exc:  # e.g. a name too long for the file system
            raise DataError(
                f"cannot access the data file: {exc.strerror or exc}."
            ) from exc
        if not exists:
            raise DataError(f"data file {path!r} does not exist.")
        if not is_file:
            raise DataError(f"{path!r} is not a file; pass a .csv, .npy or .npz file.")
        suffixes = [x.lower() for x in file.suffixes[-2:]]
        compressed = bool(suffixes) and suffixes[-1] == ".gz"
        suffix = (suffixes[-2] if len(suffixes) == 2 else "") if compressed else (
            suffixes[-1] if suffixes else ""
        )
        if compressed and suffix not in TEXT_SUFFIXES:
            raise DataError(
                f"cannot read {path!r}: only compressed text is read "
                "(.csv.gz, .tsv.gz, .txt.gz); decompress it first."
            )
        readers = {x: read_text for x in TEXT_SUFFIXES}
        readers.update({".npy": _read_npy, ".npz": _read_npz})
        if suffix not in readers:
            raise DataError(
                f"cannot read {path!r}: unknown file type {suffix or '(none)'!r}; "
                "pass a .csv, .tsv, .txt (optionally .gz), .npy or .npz file."
            )
        try:
            if suffix in TEXT_SUFFIXES:
                data = read_text(file, target, index_col, compressed)
            else:
                data = readers[suffix](file, target)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise DataError(f"cannot read {path!r}: {why}.") from exc
    _check_shape(data)
    return data


TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


# --------------------------------------------------------------------- checks
def _check_shape(data: Dataset) -> None:
    X = data.X
    if X.ndim != 2:
        raise DataError(
            f"{data.source} holds an array with {X.ndim} dimension(s); the data must "
            "be a 2-D table (rows are samples, columns are features)."
        )
    if X.shape[1] < 1:
        raise DataError(f"{data.source} has no feature columns.")
    if X.shape[0] < 2:
        raise DataError(
            f"{data.source} has {X.shape[0]} row(s); at least two rows are needed "
            "to fit a model."
        )
    if np.isinf(X).any():
        rows = np.flatnonzero(np.isinf(X).any(axis=1))
        raise DataError(
            f"{data.source} contains infinite values in {rows.size} row(s) (first: "
            f"row {rows[0]}, counting from 0); remove or clip them."
        )
    if data.y is not None:
        if data.y.ndim != 1:
            raise DataError(
                f"the target {data.target!r} is an array of shape {data.y.shape}; "
                "it must hold one label per row."
            )
        if data.y.shape[0] != X.shape[0]:
            raise DataError(
                f"the target has {data.y.shape[0]} entries but the data has "
                f"{X.shape[0]} rows."
            )
        if data.y.dtype.kind == "f" and np.isnan(data.y).any():
            first = int(np.flatnonzero(np.isnan(data.y))[0])
            raise DataError(
                f"the target column {data.target!r} has missing labels (first: row "
                f"{first}, counting from 0); remove those rows."
            )
        if data.y.dtype.kind == "f" and np.isinf(data.y).any():
            first = int(np.flatnonzero(np.isinf(data.y))[0])
            raise DataError(
                f"the target column {data.target!r} has infinite values (first: row "
                f"{first}, counting from 0); remove or fix those rows."
            )


def nan_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``X`` with at least one NaN."""
    return np.flatnonzero(np.isnan(X).any(axis=1))


# --------------------------------------------------------------------- numpy
def _numeric(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise DataError(
        f"{what} has dtype {array.dtype}, which is not numeric; save a numeric array."
    )


def _np_load(file: Path):
    try:
        return np.load(file, allow_pickle=False, mmap_mode=None)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise DataError(
                f"{file} holds Python objects (pickled data), which are not loaded "
                "for safety; save plain numeric arrays with numpy.save/savez."
            ) from exc
        raise DataError(f"cannot read {file} as a numpy file: {exc}.") from exc
    except EOFError as exc:
        raise DataError(f"{file} is empty or truncated.") from exc


def _read_npy(file: Path, target: str | None) -> Dataset:
    array = _np_load(file)
    source = str(file)
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(
            f"{source} is an .npz archive (several arrays) named .npy; rename it "
            "to .npz."
        )
    if array.ndim != 2:
        raise DataError(
            f"{source} holds an array of shape {array.shape}; it must be 2-D "
            "(rows are samples, columns are features)."
        )
    y, name = None, None
    if target is not None:
        try:
            col = int(target)
        except ValueError:
            raise DataError(
                f"--target for a .npy file is a column index, got {target!r}."
            ) from None
        width = array.shape[1]
        if not -width <= col < width:
            raise DataError(
                f"--target {col} is out of range: the array has {width} columns."
            )
        col %= width
        y = array[:, col]
        array = np.delete(array, col, axis=1)
        name = str(col)
    X = _numeric(array, source)
    if y is not None and y.dtype.kind in "biuf":
        y = y.astype(np.float64)
    return Dataset(X, y, source=source, target=name)


def _read_npz(file: Path, target: str | None) -> Dataset:
    source = str(file)
    archive = _np_load(file)
    if isinstance(archive, np.ndarray):
        raise DataError(
            f"{source} holds a single array (.npy format) named .npz; rename it to "
            ".npy."
        )
    with archive:
        keys = list(archive.keys())
        if target is None and "y" in keys:
            target = "y"
        if target is not None and target not in keys:
            raise DataError(
                f"--target {target!r} is not an array in {source}; it holds "
                f"{', '.join(keys) or 'nothing'}."
            )
        rest = [k for k in keys if k != target]
        data_key = next((k for k in ("X", "data") if k in rest), None)
        if data_key is None and len(rest) == 1:
            data_key = rest[0]
        if data_key is None:
            raise DataError(
                f"{source} holds arrays {', '.join(keys) or '(none)'}; name the data "
                "array 'X' (and the labels 'y' or pass --target NAME)."
            )
        try:
            X = archive[data_key]
            y = archive[target] if target is not None else None
        except ValueError as exc:
            raise DataError(
                f"{source} holds Python objects (pickled data), which are not loaded "
                "for safety; save plain numeric arrays."
            ) from exc
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{source} is damaged or truncated ({exc}).") from exc
    for key, value in ((data_key, X), (target, y)):
        if value is not None and not isinstance(value, np.ndarray):
            raise DataError(
                f"member {key!r} of {source} is not a numpy array (.npy); save the "
                "archive with numpy.savez."
            )
    X = _numeric(X, f"array {data_key!r} of {source}")
    if y is not None:
        if y.ndim == 0:
            raise DataError(
                f"target array {target!r} of {source} holds a single value; it must "
                "hold one label per row."
            )
        y = y.ravel() if y.ndim > 1 and max(y.shape[1:]) == 1 else y
        if y.dtype.kind in "biuf":
            y = y.astype(np.float64)
        elif y.dtype.kind not in "US":
            raise DataError(f"target array {target!r} has dtype {y.dtype}.")
    return Dataset(X, y, source=f"{source}[{data_key}]", target=target)
