"""Sphinx configuration of the latentmodels documentation.

Build offline with warnings as errors::

    sphinx-build -W -b html docs docs/_build/html

The gallery executes every ``examples/plot_*.py``; set
``LATENTMODELS_EXAMPLE_QUICK=1`` for the small versions (the test suite does),
or pass ``-D plot_gallery=0`` to skip running them. No extension here needs
the network (no intersphinx), and the math is rendered by a MathJax served
from the built site itself (``_static/mathjax``, from the
``sphinx-mathjax-offline`` package of the ``docs`` extra), so a local build
shows typeset equations offline.
"""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, when not installed

import latentmodels  # noqa: E402

project = "latentmodels"
author = "the latentmodels developers"
copyright = "2026, " + author
version = release = latentmodels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into _static/mathjax; sets mathjax_path to it (no CDN)
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "gen_modules", "**.ipynb_checkpoints"]
root_doc = "index"
language = "en"
nitpicky = False

# -- autodoc / numpydoc ------------------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autosummary_generate = False  # api.rst documents everything in place
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery -----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# -- HTML -----------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"latentmodels {release}"
html_static_path = []
html_theme_options = {
    "description": "Linear latent-variable models as scikit-learn estimators",
    "fixed_sidebar": True,
}
# The gallery's environment variable is read by the examples, not here.
os.environ.setdefault("MPLBACKEND", "Agg")


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave out what estimators inherit from scikit-learn (get_params, ...).

    Their docstrings point into scikit-learn's own site (labels that do not
    exist here); the estimators' own methods and those of the shared base
    class are documented.
    """
    module = getattr(obj, "__module__", None) or ""
    if isinstance(module, str) and module.startswith("sklearn"):
        return True
    return None


# A numpydoc "name : type" line, e.g. "objective_ : ndarray of shape (n_iter_ + 1,)".
_TYPE_LINE = re.compile(r"^(\s*\*{0,2}[A-Za-z_][\w, *]*\s:\s)(.*)$")
# A bare identifier ending in "_" (not in backticks): reST would read it as a
# hyperlink reference ("n_features_in_" -> unknown target "n_features_in").
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w\\])([A-Za-z]\w*_)(?![\w`])")


def _escape_shape_names(app, what, name, obj, options, lines):
    """Escape attribute names in type specs: ``(n_features_in_,)`` is text.

    scikit-learn's convention writes shapes such as ``(n_features_in_,)`` in
    the type of a parameter or attribute; numpydoc passes the type through
    as reStructuredText, where a word ending in ``_`` is a link.
    """
    # A raw docstring keeps the "\\" of scikit-learn's continued type lines
    # ("{None, 'varimax'}, \\" + newline + "default=None"): join them first.
    i = 0
    while i < len(lines) - 1:
        if _TYPE_LINE.match(lines[i]) and lines[i].rstrip().endswith("\\"):
            lines[i] = lines[i].rstrip()[:-1].rstrip() + " " + lines.pop(i + 1).strip()
        else:
            i += 1
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            head, spec = match.groups()
            lines[i] = head + _TRAILING_UNDERSCORE.sub(
                lambda m: m.group(1)[:-1] + "\\_", spec
            )


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
    # before numpydoc (priority 500) rewrites the sections
    app.connect("autodoc-process-docstring", _escape_shape_names, priority=100)
