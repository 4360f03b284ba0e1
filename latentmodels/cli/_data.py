"""Data sets for the command line: scikit-learn's digits, or a user's file.

``load_data`` returns a :class:`Dataset` or raises :class:`DataError`, whose
message is one line that says what was wrong and what to do; the command line
prints it and exits with status 2. Supported files:

* ``.csv`` (comma separated) or ``.tsv`` (tab separated), with or without a
  header row. The first row is a header when none of its cells is a number.
  Empty cells and ``nan``/``NA`` are missing values (NaN).
* ``.npy``: one 2-D numeric array (loaded with ``allow_pickle=False``).
* ``.npz``: the data array is the one named ``X`` (or ``data``), or the only
  array left once the target is set aside; loaded with ``allow_pickle=False``.

The label column (``--target``) is a column name or index for ``.csv``, a
column index for ``.npy`` and an array name for ``.npz`` (``y`` is used when
present and no target is named).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NA_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none", "?"})


class DataError(ValueError):
    """Bad input for the command line; the message is a single line."""


@dataclass
class Dataset:
    """A data matrix, optional labels and where they came from."""

    X: np.ndarray
    y: np.ndarray | None
    source: str
    target: str | None = None
    feature_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


def load_data(path: str | None, target: str | None = None) -> Dataset:
    """Load ``path`` (None: scikit-learn's bundled digits) and check it.

    Parameters
    ----------
    path : str or None
        A ``.csv``, ``.tsv``, ``.npy`` or ``.npz`` file; None for the digits.
    target : str or None
        The label column (see the module docstring).

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
                "--target names a label column of a file given with --data; the "
                "default digits data already has its labels."
            )
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        data = Dataset(X.astype(np.float64), y, source="digits (scikit-learn)")
        data.target = "digit"
    else:
        file = Path(path)
        if not file.exists():
            raise DataError(f"data file {path!r} does not exist.")
        if not file.is_file():
            raise DataError(f"{path!r} is not a file; pass a .csv, .npy or .npz file.")
        suffix = file.suffix.lower()
        readers = {".csv": _read_text, ".tsv": _read_text, ".txt": _read_text}
        readers.update({".npy": _read_npy, ".npz": _read_npz})
        if suffix not in readers:
            raise DataError(
                f"cannot read {path!r}: unknown file type {suffix or '(none)'!r}; "
                "pass a .csv, .tsv, .npy or .npz file."
            )
        try:
            data = readers[suffix](file, target)
        except OSError as exc:
            raise DataError(f"cannot read {path!r}: {exc.strerror or exc}.") from exc
    _check_shape(data)
    return data


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
        if data.y.shape[0] != X.shape[0]:
            raise DataError(
                f"the target has {data.y.shape[0]} entries but the data has "
                f"{X.shape[0]} rows."
            )
        if data.y.dtype.kind == "f" and np.isnan(data.y).any():
            first = int(np.flatnonzero(np.isnan(data.y))[0])
            raise DataError(
                f"the target column has missing labels (first: row {first}, "
                "counting from 0); remove those rows."
            )


def nan_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``X`` with at least one NaN."""
    return np.flatnonzero(np.isnan(X).any(axis=1))


# --------------------------------------------------------------------- text
def _parse_float(cell: str) -> float | None:
    """The number in ``cell``, NaN for a missing-value token, None otherwise."""
    text = cell.strip()
    if text.lower() in NA_TOKENS:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None


def _read_text(file: Path, target: str | None) -> Dataset:
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    with file.open(newline="", encoding="utf-8-sig") as handle:
        try:
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"cannot parse {str(file)!r} as text: {exc}.") from exc
    source = str(file)
    if not rows:
        raise DataError(f"{source} is empty; it needs at least two data rows.")
    first = rows[0]
    header = None
    if all(
        _parse_float(c) is None or c.strip().lower() in NA_TOKENS for c in first
    ) and any(c.strip() for c in first):
        header = [c.strip() for c in first]
        rows = rows[1:]
    width = len(header) if header is not None else len(rows[0]) if rows else 0
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(
                f"{source}: data row {i} has {len(row)} fields but the first "
                f"{'line' if header is None else 'header'} has {width}."
            )
    names = header or [str(j) for j in range(width)]
    target_col = None if target is None else _column_index(target, header, width)
    columns, labels = [], None
    for j in range(width):
        cells = [row[j] for row in rows]
        if j == target_col:
            labels = _labels_from_cells(cells)
            continue
        values = [_parse_float(c) for c in cells]
        bad = next((i for i, v in enumerate(values) if v is None), None)
        if bad is not None:
            hint = (
                f"; pass --target {names[j]!r} if it holds the labels"
                if target is None
                else ""
            )
            if header is None and bad == 0:
                hint += (
                    " (a first line is read as a header only when none of its "
                    "cells is a number)"
                )
            raise DataError(
                f"{source}: column {names[j]!r} is not numeric (data row {bad} "
                f"holds {cells[bad].strip()!r}){hint}."
            )
        columns.append(values)
    X = np.array(columns, dtype=np.float64).T if columns else np.empty((len(rows), 0))
    if not rows:
        X = np.empty((0, len(columns)))
    kept = [n for j, n in enumerate(names) if j != target_col]
    return Dataset(
        X,
        labels,
        source=source,
        target=None if target_col is None else names[target_col],
        feature_names=kept if header is not None else None,
    )


def _column_index(target: str, header: list[str] | None, width: int) -> int:
    if header is not None and target in header:
        return header.index(target)
    try:
        index = int(target)
    except ValueError:
        where = (
            f"the header has columns {', '.join(header)}"
            if header is not None
            else "the file has no header row, so name the column by its index"
        )
        raise DataError(f"--target {target!r} is not a column: {where}.") from None
    if not -width <= index < width:
        raise DataError(
            f"--target {index} is out of range: the file has {width} columns."
        )
    return index % width


def _labels_from_cells(cells: list[str]) -> np.ndarray:
    values = [_parse_float(c) for c in cells]
    if all(v is not None for v in values):
        return np.array(values, dtype=np.float64)
    stripped = [c.strip() for c in cells]
    missing = [i for i, c in enumerate(stripped) if c.lower() in NA_TOKENS]
    if missing:
        raise DataError(
            f"the target column has missing labels (first: data row {missing[0]}); "
            "remove those rows."
        )
    return np.array(stripped, dtype=object)


# --------------------------------------------------------------------- numpy
def _numeric(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise DataError(
        f"{what} has dtype {array.dtype}, which is not numeric; save a numeric array."
    )


def _np_load(file: Path):
    try:
        return np.load(file, allow_pickle=False)
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
    with _np_load(file) as archive:
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
    X = _numeric(X, f"array {data_key!r} of {source}")
    if y is not None:
        y = np.asarray(y).ravel() if np.asarray(y).ndim > 1 else np.asarray(y)
        if y.dtype.kind in "biuf":
            y = y.astype(np.float64)
        elif y.dtype.kind not in "US":
            raise DataError(f"target array {target!r} has dtype {y.dtype}.")
    return Dataset(X, y, source=f"{source}[{data_key}]", target=target)
