"""The documentation builds offline with warnings as errors.

The docs and examples are copied to a temporary directory and built with
``sphinx-build -W -b html`` in a subprocess. The gallery is generated from
``examples/`` but, to keep the suite fast, its scripts are not executed here
(``-D plot_gallery=0``): tests/test_examples.py already runs every one of
them in quick mode. Set ``LATENTMODELS_DOCS_GALLERY=1`` to execute them in the
build too (in quick mode, ``LATENTMODELS_EXAMPLE_QUICK=1``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    "_build", "auto_examples", "gen_modules", "sg_execution_times.rst", "*.pyc"
)

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("numpydoc")


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    work = tmp_path_factory.mktemp("docs_build")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=IGNORE)
    shutil.copytree(ROOT / "examples", work / "examples", ignore=IGNORE)
    out = work / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    if os.environ.get("LATENTMODELS_DOCS_GALLERY") != "1":
        cmd += ["-D", "plot_gallery=0"]
    cmd += [str(work / "docs"), str(out)]
    # the package of this checkout, not whichever one is installed (the build
    # runs in a copy of docs/, whose parent holds no package)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ, PYTHONPATH=path, LATENTMODELS_EXAMPLE_QUICK="1", MPLBACKEND="Agg"
    )
    proc = subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    return proc, out


@pytest.mark.slow
def test_docs_build_without_warnings(built_docs):
    proc, out = built_docs
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert (out / "index.html").exists()


@pytest.mark.slow
def test_docs_cover_every_page_and_public_name(built_docs):
    proc, out = built_docs
    if proc.returncode != 0:
        pytest.fail("the docs did not build; see test_docs_build_without_warnings")
    # every page in docs/user_guide is in the built site
    for page in (ROOT / "docs" / "user_guide").glob("*.rst"):
        assert (out / "user_guide" / f"{page.stem}.html").exists(), page.name
    # every example has a gallery page
    for script in (ROOT / "examples").glob("plot_*.py"):
        assert (out / "auto_examples" / f"{script.stem}.html").exists(), script.name
    api = (out / "api.html").read_text()
    import latentmodels
    from latentmodels import datasets, identifiability, rotations, sparse

    names = [f"latentmodels.{n}" for n in latentmodels._ESTIMATORS]
    names += ["latentmodels.rotations.rotate", "latentmodels.sparse.sparse_encode"]
    for module in (datasets, identifiability, rotations, sparse):
        public = getattr(module, "__all__", None) or [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and getattr(obj, "__module__", "") == module.__name__
        ]
        for n in public:
            obj = getattr(module, n)
            # functions and classes defined in the package (constants are not
            # documented objects)
            if callable(obj) and getattr(obj, "__module__", "").startswith(
                "latentmodels"
            ):
                names.append(f"{module.__name__}.{n}")
    missing = [n for n in names if f'id="{n}"' not in api]
    assert not missing, f"not in the API reference: {missing}"


@pytest.mark.slow
def test_math_renders_offline_from_the_build(built_docs):
    """MathJax is served from the built site, never from a CDN (issue 17)."""
    import re

    proc, out = built_docs
    if proc.returncode != 0:
        pytest.fail("the docs did not build; see test_docs_build_without_warnings")
    page = (out / "user_guide" / "autoencoder.html").read_text()
    assert r"\[" in page or "math notranslate" in page  # the page has math
    sources = re.findall(r'<script[^>]*src="([^"]+)"', page)
    mathjax = [src for src in sources if "mathjax" in src.lower()]
    assert mathjax, sources
    for src in sources:
        assert not re.match(r"^(https?:)?//", src), f"script from the network: {src}"
    for src in mathjax:
        path = (out / "user_guide" / src.split("?")[0]).resolve()
        assert path.is_file() and path.stat().st_size > 100_000, src
        assert path.is_relative_to(out.resolve())
    # the fonts CHTML output asks for are there too
    assert any((out / "_static" / "mathjax").rglob("*.woff"))


def test_quickstart_python_block_runs():
    """The quickstart's Python example runs as written."""
    text = (ROOT / "docs" / "quickstart.rst").read_text()
    block = text.split(".. code-block:: python", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line[4:])
    code = "\n".join(lines)
    assert "ProbabilisticPCA" in code
    namespace: dict = {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FA's Heywood note on digits
        exec(compile(code, "quickstart.rst", "exec"), namespace)
    # the objects the text talks about exist and are fitted
    assert namespace["H"].shape == (1797, 16)
    assert namespace["fa"].components_.shape == (8, 64)
