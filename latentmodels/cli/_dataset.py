"""What the command line's loaders return, and how they fail."""

from __future__ import annotations

from dataclasses import dataclass, field

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
