"""The shared docstring blocks are filled in, correctly indented, everywhere."""

import inspect

import pytest
from numpydoc.docscrape import NumpyDocString

import latentmodels
from latentmodels import selection
from latentmodels._docstrings import fill_doc, fill_docstring


def _public_docstrings():
    """(name, docstring) of every public class, method and function."""
    modules = [latentmodels, selection, latentmodels.sparse, latentmodels.rotations]
    for module in modules:
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            yield f"{module.__name__}.{name}", obj.__doc__
            if inspect.isclass(obj):
                for attr, member in inspect.getmembers(obj):
                    if not attr.startswith("_") and callable(member):
                        yield f"{module.__name__}.{name}.{attr}", member.__doc__


def test_no_placeholder_is_left_unfilled():
    left = [name for name, doc in _public_docstrings() if doc and "%(" in doc]
    assert not left, f"docstrings with an unfilled %(name)s (add @fill_doc): {left}"


@pytest.mark.parametrize(
    "method", ["fit", "partial_fit", "transform", "inverse_transform"]
)
def test_estimator_methods_document_their_arguments(method):
    # the filled sections parse as numpydoc and name the method's arguments
    for name in latentmodels._ESTIMATORS:
        func = getattr(getattr(latentmodels, name), method, None)
        if func is None:
            continue
        doc = NumpyDocString(inspect.getdoc(func))
        documented = [p.name for p in doc["Parameters"]]
        actual = [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.name != "self" and p.kind is not p.VAR_KEYWORD
        ]
        assert documented == actual, (name, method, documented, actual)
        assert doc["Returns"], (name, method)


def test_fill_indents_the_block_like_the_placeholder():
    docs = {"blk": "a : int\n    The a.\n\nb : str"}
    doc = "Summary, 100% sure.\n\n    Parameters\n    ----------\n    %(blk)s\n    "
    filled = fill_docstring(doc, docs)
    assert filled == (
        "Summary, 100% sure.\n\n    Parameters\n    ----------\n"
        "    a : int\n        The a.\n\n    b : str\n    "
    )
    assert fill_docstring(None, docs) is None  # python -OO


def test_unknown_block_fails_at_definition():
    with pytest.raises(KeyError, match=r"%\(nope\)s.*known ones"):

        @fill_doc
        def f():
            """Summary.

            %(nope)s
            """


def test_placeholder_inside_a_line_is_left_alone():
    # only whole-line placeholders are blocks; prose with %(...)s is kept
    doc = "Summary with %(fit_sections)s inline."
    assert fill_docstring(doc) == doc
