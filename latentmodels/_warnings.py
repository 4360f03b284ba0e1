"""Warnings that point at the user's line.

``warnings.warn(..., stacklevel=n)`` needs the depth of the call inside the
package, which changes whenever the code is reorganised (``fit`` →
``_fit_array`` → ``_fit_stats`` → the engine). :func:`warn` instead walks the
stack to the first frame outside ``latentmodels`` (the caller of the public
method), so every warning names the user's file and line, however deep it was
raised. scikit-learn's method wrappers (``set_output``'s wrapped
``transform``/``fit_transform``, ``TransformerMixin.fit_transform``, the
``_fit_context`` decorator and parameter validation) are passed over too, so
``est.fit_transform(X)`` names the user's line; a ``Pipeline`` or
``GridSearchCV`` calling ``fit`` counts as the caller's side, as with
scikit-learn's own warnings.
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn files whose frames only wrap our methods (never the user's call).
_WRAPPER_SUFFIXES = tuple(
    os.sep + os.path.join("sklearn", *parts)
    for parts in (("base.py",), ("utils", "_set_output.py"),
                  ("utils", "_param_validation.py"))
)


def _is_internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) or filename.endswith(_WRAPPER_SUFFIXES)


def _caller_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` called from :func:`warn`'s caller.

    Level 1 is :func:`warn` itself; the first frame whose file is not inside
    the package is the one the warning should name.
    """
    frame = sys._getframe(1)  # warn()
    level = 1
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not _is_internal(filename):
            return level
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` as ``category``, attributed to the user's line."""
    warnings.warn(message, category, stacklevel=_caller_stacklevel())
