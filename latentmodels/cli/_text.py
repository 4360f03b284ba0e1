"""Text tables for the command line: sniffing, headers, pandas' index column.

See :mod:`latentmodels.cli._data` for what is read; everything here raises
:class:`~latentmodels.cli._dataset.DataError` with a one-line message.
"""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np

from ._dataset import NA_TOKENS, DataError, Dataset


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


def read_text(
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
            if j == 0 and (header is None or header[0] in ("", "Unnamed: 0")):
                hint += "; pass --index-col 0 if it holds row names"
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
