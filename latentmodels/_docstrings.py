"""Numpydoc blocks shared by several docstrings, written once.

``fit``, ``partial_fit``, ``transform`` and ``inverse_transform`` take and
return the same things in every estimator of the package; only their summary
(what the method computes, and how) differs. Likewise the public functions of
:mod:`latentmodels.selection` share their data argument, and the
least-squares extractions their outputs. Such a docstring writes a
placeholder ``%(name)s`` on a line of its own where the shared block belongs,
and its function is decorated with :func:`fill_doc`, which puts the block
``DOCS[name]`` there, indented like the placeholder, when the function is
defined. Docstrings are therefore complete at run time (``help``, Sphinx's
autodoc, numpydoc). scipy (``scipy._lib.doccer``) and MNE (``fill_doc``) do
the same.
"""

from __future__ import annotations

import re
import textwrap

DOCS = {
    "fit_sections": """\
Parameters
----------
X : array-like of shape (n_samples, n_features)
    Training data, one row per sample; it is not modified.
y : None
    Ignored; present for compatibility with scikit-learn pipelines.

Returns
-------
self : object
    The fitted estimator.""",
    "transform_sections": """\
Parameters
----------
X : array-like of shape (n_samples, n_features)
    Data, one row per sample, with the features seen in ``fit``.

Returns
-------
H : ndarray of shape (n_samples, n_components)
    The latent representation of each row.""",
    "inverse_transform_sections": """\
Parameters
----------
X : array-like of shape (n_samples, n_components)
    Latent representation, one row per sample (as returned by ``transform``).

Returns
-------
X_original : ndarray of shape (n_samples, n_features)
    The rows mapped back to the data space.""",
    # the public functions of selection.py
    "X_correlation": """\
X : array-like of shape (n_samples, n_features)
    Data, one row per sample (at least 3 rows and 2 features, none of them
    constant); what is analysed is their correlation matrix ``R``.""",
    # the least-squares extractions of _extraction.py
    "extraction_returns": """\
Returns
-------
loadings : ndarray of shape (d, k)
    Loadings ``Λ`` in principal axes, each column with a positive sum.
uniquenesses : ndarray of shape (d,)
    ``ψ = diag(R) − diag(Λ Λᵀ)``.
n_iter : int
    Iterations taken.""",
}

# a placeholder on a line of its own: its indentation and its name
_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", flags=re.MULTILINE)


def fill_docstring(doc: str | None, docs: dict = DOCS) -> str | None:
    """``doc`` with each whole-line ``%(name)s`` replaced by ``docs[name]``.

    Every line of the block gets the placeholder's indentation. Other ``%``
    signs are left alone. An unknown name is a KeyError that lists the known
    ones (a typo in a docstring fails at import, not silently in the docs).
    """
    if doc is None:  # docstrings stripped (python -OO)
        return None

    def block(match: re.Match) -> str:
        indent, name = match.groups()
        if name not in docs:
            raise KeyError(
                f"unknown docstring block %({name})s; the known ones are "
                f"{sorted(docs)} (latentmodels/_docstrings.py)."
            )
        return textwrap.indent(docs[name], indent)

    return _PLACEHOLDER.sub(block, doc)


def fill_doc(obj):
    """Decorator: fill the shared numpydoc blocks into ``obj.__doc__``."""
    obj.__doc__ = fill_docstring(obj.__doc__)
    return obj
