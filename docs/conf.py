"""Sphinx configuration of the latentmodels documentation.

Build offline with warnings as errors::

    sphinx-build -W -b html docs docs/_build/html

The gallery executes every ``examples/plot_*.py``; set
``LATENTMODELS_EXAMPLE_QUICK=1`` for the small versions (the test suite does),
or pass ``-D plot_gallery=0`` to skip running them. No extension here needs
the network (no intersphinx).
"""

import os
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


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
