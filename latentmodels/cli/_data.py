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

import csv
import gzip
import math
import zipfile
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
    image_shape: tuple[int, int] | None = None
    kept_columns: np.ndarray | None = None  # feature columns the models see

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


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
        readers = {x: _read_text for x in TEXT_SUFFIXES}
        readers.update({".npy": _read_npy, ".npz": _read_npz})
        if suffix not in readers:
            raise DataError(
                f"cannot read {path!r}: unknown file type {suffix or '(none)'!r}; "
                "pass a .csv, .tsv, .txt (optionally .gz), .npy or .npz file."
            )
        try:
            if suffix in TEXT_SUFFIXES:
                data = _read_text(file, target, index_col, compressed)
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


# --------------------------------------------------------------------- text
def _parse_float(cell: str, decimal: str = ".") -> float | None:
    """The number in ``cell``, NaN for a missing-value token, None otherwise."""
    text = cell.strip()
    if text.lower() in NA_TOKENS:
        return math.nan
    if decimal == ",":
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _kind(cell: str, decimal: str) -> str:
    """'na', 'num' or 'text'."""
    if cell.strip().lower() in NA_TOKENS:
        return "na"
    return "text" if _parse_float(cell, decimal) is None else "num"


def _split(lines: list[str], delimiter: str) -> list[list[str]]:
    if delimiter == " ":  # runs of spaces or tabs, as numpy.savetxt writes
        return [line.split() for line in lines if line.strip()]
    return [row for row in csv.reader(lines, delimiter=delimiter) if row]


def _sniff(lines: list[str], suffix: str) -> tuple[str, str]:
    """Delimiter and decimal mark that make the first rows a numeric table.

    Each candidate is scored by whether it splits the rows at all, whether
    every sampled row has the same number of fields, then by the fraction of
    cells (after the first row) that read as numbers, then by the number of
    fields.
    """
    sample = [line for line in lines[:60] if line.strip()]
    candidates = ["\t"] if suffix == ".tsv" else [",", ";", "\t", "|", " "]
    best, best_score = (candidates[0], "."), None
    for delimiter in candidates:
        rows = _split(sample, delimiter)
        if not rows:
            continue
        widths = {len(r) for r in rows}
        for decimal in (".", ",") if delimiter != "," else (".",):
            cells = [c for r in rows[1:] for c in r]
            numeric = (
                sum(_kind(c, decimal) != "text" for c in cells) / len(cells)
                if cells
                else 0.0
            )
            score = (max(widths) > 1, len(widths) == 1, numeric, max(widths))
            if best_score is None or score > best_score:
                best, best_score = (delimiter, decimal), score
    return best


def _is_header(first: list[str], rest: list[list[str]], decimal: str) -> bool:
    """Whether the first row names the columns (see the module docstring)."""
    kinds = [_kind(c, decimal) for c in first]
    if "text" not in kinds and "num" not in kinds:
        return False  # a row of missing values is data
    if all(k != "num" for k in kinds) and "text" in kinds:
        return True
    width = len(first)
    sample = [r for r in rest[:50] if len(r) == width]
    for j, kind in enumerate(kinds):
        if kind == "text" and sample:
            if all(_kind(r[j], decimal) != "text" for r in sample):
                return True  # a name above a numeric column
    # pandas' default names of an unnamed frame: 0, 1, 2, ... (after an empty
    # index name, before named columns such as the target)
    numbers = [c.strip() for c, k in zip(first, kinds) if k == "num"]
    if len(numbers) >= 2 and numbers == [str(i) for i in range(len(numbers))]:
        return not any(
            [c.strip() for c, k in zip(r, kinds) if k == "num"] == numbers
            for r in sample[:5]
        )
    return False


def _read_lines(file: Path, compressed: bool) -> list[str]:
    opener = gzip.open if compressed else open
    try:
        with opener(file, "rb") as handle:
            raw = handle.read()
    except gzip.BadGzipFile as exc:
        raise DataError(f"cannot read {str(file)!r}: not a gzip file ({exc}).") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {str(file)!r} as text: it is not UTF-8 ({exc.reason} at "
            f"byte {exc.start}); save it as UTF-8 text, or as .npy."
        ) from exc
    if "\x00" in text:
        raise DataError(
            f"cannot read {str(file)!r} as text: it holds binary data; pass a "
            "text table, a .npy or a .npz file."
        )
    return text.splitlines()


def _read_text(
    file: Path, target: str | None, index_col: str = "auto", compressed=False
) -> Dataset:
    lines = _read_lines(file, compressed)
    suffix = [x.lower() for x in file.suffixes if x.lower() != ".gz"][-1:] or [""]
    delimiter, decimal = _sniff(lines, suffix[0])
    try:
        rows = _split(lines, delimiter)
    except csv.Error as exc:
        raise DataError(f"cannot parse {str(file)!r} as text: {exc}.") from exc
    source = str(file)
    if not rows:
        raise DataError(f"{source} is empty; it needs at least two data rows.")
    notes = []
    if delimiter != "," or decimal != ".":
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar", " ": "space"}
        notes.append(
            f"read {file.name} as {names[delimiter]}-separated with decimal "
            f"{'commas' if decimal == ',' else 'points'}."
        )
    header = None
    if _is_header(rows[0], rows[1:], decimal):
        header = [c.strip() for c in rows[0]]
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
    drop = _index_column(rows, header, width, index_col, decimal)
    if drop is not None:
        if drop == target_col:
            raise DataError(
                f"--target and --index-col name the same column ({names[drop]!r})."
            )
        if index_col == "auto":
            notes.append(
                f"dropped the first column of {file.name}: it holds 0 … "
                f"{len(rows) - 1}, the row index pandas writes by default "
                "(pass --index-col none to keep it)."
            )
    columns, labels = [], None
    for j in range(width):
        if j == drop:
            continue
        cells = [row[j] for row in rows]
        if j == target_col:
            labels = _labels_from_cells(cells, names[j], decimal)
            continue
        values = [_parse_float(c, decimal) for c in cells]
        bad = next((i for i, v in enumerate(values) if v is None), None)
        if bad is not None:
            hint = (
                f"; pass --target {names[j]!r} if it holds the labels"
                if target is None
                else ""
            )
            raise DataError(
                f"{source}: column {names[j]!r} is not numeric (data row {bad} "
                f"holds {cells[bad].strip()!r}){hint}."
            )
        columns.append(values)
    with np.errstate(over="ignore"):
        X = (
            np.array(columns, dtype=np.float64).T
            if columns
            else np.empty((len(rows), 0))
        )
    kept = [n for j, n in enumerate(names) if j not in (target_col, drop)]
    return Dataset(
        X,
        labels,
        source=source,
        target=None if target_col is None else names[target_col],
        feature_names=kept if header is not None else None,
        notes=notes,
    )


def _index_column(rows, header, width, index_col: str, decimal: str) -> int | None:
    """The column to drop as a row index, or None."""
    if index_col == "none":
        return None
    if index_col != "auto":
        return _column_index(index_col, header, width, option="--index-col")
    unnamed = header is None or header[0] in ("", "Unnamed: 0")
    if width < 2 or not rows or not unnamed:
        return None
    values = [_parse_float(row[0], decimal) for row in rows]
    if all(v is not None for v in values) and np.array_equal(
        np.array(values, dtype=float), np.arange(len(rows), dtype=float)
    ):
        return 0
    return None


def _column_index(
    target: str, header: list[str] | None, width: int, option: str = "--target"
) -> int:
    if header is not None and target in header:
        return header.index(target)
    try:
        index = int(target)
    except ValueError:
        if header is not None:
            shown = ", ".join(header[:20]) + (" ..." if len(header) > 20 else "")
            where = f"the header has columns {shown}"
        else:
            where = "the file has no header row, so name the column by its index"
        raise DataError(f"{option} {target!r} is not a column: {where}.") from None
    if not -width <= index < width:
        raise DataError(
            f"{option} {index} is out of range: the file has {width} columns."
        )
    return index % width


def _labels_from_cells(cells: list[str], name: str, decimal: str) -> np.ndarray:
    values = [_parse_float(c, decimal) for c in cells]
    if all(v is not None for v in values):
        return np.array(values, dtype=np.float64)
    stripped = [c.strip() for c in cells]
    missing = [i for i, c in enumerate(stripped) if c.lower() in NA_TOKENS]
    if missing:
        raise DataError(
            f"the target column {name!r} has missing labels (first: data row "
            f"{missing[0]}); remove those rows."
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
