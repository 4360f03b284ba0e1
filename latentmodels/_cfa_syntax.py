"""The measurement model of a confirmatory factor analysis, from what users write.

Three spellings give the same :class:`MeasurementModel`:

* lavaan's syntax (Rosseel 2012), one factor per line::

      visual  =~ x1 + x2 + x3
      textual =~ x4 + x5 + x6   # comments and ';' as separators are fine

  A numeric prefix fixes a loading (``0.5*x2``), ``NA*x1`` frees the first
  loading (the factor then needs ``std_lv=True`` to be scaled).
* a dict ``{factor: [columns]}``, columns by name or by position;
* a boolean pattern of shape ``(n_features, n_factors)``: True where a loading
  is free.

Columns are named by the DataFrame's column names (``feature_names_in_``) or,
for arrays, ``x0, x1, ...`` as scikit-learn names them.

Reference: Rosseel, Y. (2012). lavaan: An R package for structural equation
modeling. Journal of Statistical Software 48(2):1–36.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class MeasurementModel:
    """Which loadings are free, which are fixed and to what.

    Attributes
    ----------
    factors : tuple of str
        Factor names, in the order of the columns of the loadings.
    free : ndarray of bool, shape (n_features, n_factors)
        True where a loading is a free parameter.
    fixed : ndarray of float, shape (n_features, n_factors)
        The value of each loading that is not free (0 where an indicator does
        not load on a factor).
    marker : ndarray of bool, shape (n_features, n_factors)
        Loadings the user did not write a value for but that the default
        parametrisation fixes to 1 (the first indicator of each factor);
        ``std_lv=True`` frees them.
    """

    factors: tuple
    free: np.ndarray
    fixed: np.ndarray
    marker: np.ndarray

    @property
    def n_factors(self) -> int:
        return len(self.factors)

    def loading_pattern(self, std_lv: bool):
        """``(free, fixed)`` after the choice of scale for the factors."""
        free = self.free.copy()
        fixed = self.fixed.copy()
        if std_lv:  # the variances are fixed to 1: marker loadings are free
            free |= self.marker
            fixed[self.marker] = 0.0
        return free, fixed


def _parse_lavaan(text: str):
    """``[(factor, [(modifier or None, indicator), ...]), ...]`` from lavaan syntax."""
    lines = [ln.split("#", 1)[0].split("!", 1)[0] for ln in text.splitlines()]
    statements = [s.strip() for ln in lines for s in ln.split(";") if s.strip()]
    # A line ending in '+' (or starting with one) continues the statement.
    merged: list[str] = []
    for s in statements:
        if merged and (merged[-1].endswith("+") or s.startswith("+")):
            merged[-1] += " " + s
        else:
            merged.append(s)
    factors: list = []
    for s in merged:
        if "=~" not in s:
            op = next((o for o in ("~~", "~1", ":=", "~", "==", "<", ">") if o in s),
                      None)
            raise ValueError(
                f"Cannot read {s!r} in the model: ConfirmatoryFactorAnalysis "
                "understands measurement statements 'factor =~ x1 + x2 + ...'"
                + (f"; the operator {op!r} is not supported (use orthogonal=True "
                   "for uncorrelated factors, std_lv=True to fix their variances)"
                   if op else "")
                + "."
            )
        lhs, rhs = (p.strip() for p in s.split("=~", 1))
        if not _NAME.match(lhs):
            raise ValueError(f"{lhs!r} is not a valid factor name in {s!r}.")
        terms = []
        for term in rhs.split("+"):
            term = term.strip()
            if not term:
                raise ValueError(f"Empty term in {s!r}; write 'f =~ x1 + x2'.")
            modifier = None
            if "*" in term:
                modifier, term = (p.strip() for p in term.split("*", 1))
            if not _NAME.match(term):
                raise ValueError(f"{term!r} is not a valid column name in {s!r}.")
            terms.append((modifier, term))
        factors.append((lhs, terms))
    if not factors:
        raise ValueError("The model has no 'factor =~ indicators' statement.")
    return factors


def _modifier_value(modifier, factor, indicator):
    """None for a free loading, else the fixed value."""
    if modifier is None or modifier.upper() == "NA":
        return None
    try:
        return float(modifier)
    except ValueError:
        raise ValueError(
            f"The modifier {modifier!r} in '{factor} =~ {modifier}*{indicator}' is "
            "not supported: use a number to fix the loading or NA to free it "
            "(labels and equality constraints are not implemented)."
        ) from None


def _column_name(column, names):
    """A column given by name, or by position (an integer) in ``names``."""
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not -len(names) <= column < len(names):
            raise ValueError(
                f"Column index {column} is out of range for {len(names)} columns."
            )
        return names[column]
    return str(column)


def parse_model(model, feature_names) -> MeasurementModel:
    """Read ``model`` (lavaan syntax, dict, boolean pattern or None).

    Parameters
    ----------
    model : str, dict, array-like of bool or None
        None means one factor ``f`` measured by every column.
    feature_names : sequence of str
        Names of the columns of the data, in order.

    Returns
    -------
    MeasurementModel
    """
    names = [str(c) for c in feature_names]
    d = len(names)
    if model is None:
        spec = [("f", [(None, c) for c in names])]
    elif isinstance(model, str):
        spec = _parse_lavaan(model)
    elif isinstance(model, dict):
        spec = []
        for f, cols in model.items():
            if isinstance(cols, (str, int, np.integer)):
                cols = [cols]
            spec.append((str(f), [(None, _column_name(c, names)) for c in cols]))
    else:
        pattern = np.asarray(model)
        if pattern.ndim != 2 or pattern.shape[0] != d or pattern.dtype != bool:
            raise ValueError(
                "model must be lavaan syntax (str), a dict {factor: [columns]} or a "
                f"boolean pattern of shape (n_features={d}, n_factors); got "
                f"{type(model).__name__} with shape {getattr(pattern, 'shape', None)}"
                f" and dtype {getattr(pattern, 'dtype', None)}."
            )
        spec = [
            (f"f{j}", [(None, names[i]) for i in np.flatnonzero(pattern[:, j])])
            for j in range(pattern.shape[1])
        ]
    index = {c: i for i, c in enumerate(names)}
    k = len(spec)
    free = np.zeros((d, k), dtype=bool)
    fixed = np.zeros((d, k))
    marker = np.zeros((d, k), dtype=bool)
    seen = set()
    for j, (factor, terms) in enumerate(spec):
        if factor in seen:
            raise ValueError(f"Factor {factor!r} is defined twice; list its "
                             "indicators in one statement.")
        if factor in index:
            raise ValueError(f"Factor {factor!r} has the name of a column; rename it.")
        seen.add(factor)
        if not terms:
            raise ValueError(f"Factor {factor!r} has no indicator.")
        for pos, (modifier, col) in enumerate(terms):
            if col not in index:
                raise ValueError(
                    f"The model names column {col!r} (factor {factor!r}), which is "
                    f"not in the data; columns are {names[:10]}"
                    f"{'...' if d > 10 else ''}. Fit a DataFrame with these column "
                    "names, or name array columns x0, x1, ...."
                )
            i = index[col]
            value = _modifier_value(modifier, factor, col)
            if value is None:
                free[i, j] = True
                if pos == 0 and modifier is None:  # lavaan's marker
                    free[i, j], fixed[i, j], marker[i, j] = False, 1.0, True
            else:
                fixed[i, j] = value
    unused = [names[i] for i in range(d) if not (free[i] | (fixed[i] != 0)).any()
              and not marker[i].any()]
    if unused:
        raise ValueError(
            f"Column(s) {unused[:10]} are in the data but in no factor of the model; "
            "select the modelled columns before fitting, or add them to a factor."
        )
    return MeasurementModel(tuple(f for f, _ in spec), free, fixed, marker)
