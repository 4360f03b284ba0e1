"""Warnings that point at the user's line.

``warnings.warn(..., stacklevel=n)`` needs the depth of the call inside the
package, which changes whenever the code is reorganised (``fit`` →
``_fit_array`` → ``_fit_stats`` → the engine). :func:`warn` instead walks the
stack to the first frame outside ``latentmodels`` (the caller of the public
method), so every warning names the user's file and line, however deep it was
raised. scikit-learn's own frames (a ``Pipeline`` or ``GridSearchCV`` calling
``fit``) count as the caller's side: the warning then names the line inside
scikit-learn that called us, as scikit-learn's own warnings do.
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` called from :func:`warn`'s caller.

    Level 1 is :func:`warn` itself; the first frame whose file is not inside
    the package is the one the warning should name.
    """
    frame = sys._getframe(1)  # warn()
    level = 1
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR):
            return level
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` as ``category``, attributed to the user's line."""
    warnings.warn(message, category, stacklevel=_caller_stacklevel())
