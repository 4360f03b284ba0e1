"""The one table of sparse-inference solvers.

Every solver is a function ``solve(problem, H, C, *, tol, max_iter)`` that
receives a :class:`~latentmodels.sparse.LassoProblem` (a block of rows in
Gram form), the starting codes ``H`` and correlations ``C = B − HG`` (both
updated in place) and returns the iterations per row, negated for rows it
could not finish (then the entry's ``fallback`` solver takes them over).
Solvers do not import one another: what they share is the problem object.

An entry may hold two twins, a compiled one (numba) and a numpy one, which
take the same steps; :func:`use_numba` picks one at call time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ._cd import cd_numpy
from ._cvxpy import cvxpy_solver
from ._device import fista_active_set
from ._feature_sign import fs_numpy
from ._fista import fista
from ._numba_cd import cd_numba
from ._numba_feature_sign import fs_numba
from ._numba_jit import use_numba


@dataclass(frozen=True)
class Solver:
    """One registry entry.

    Attributes
    ----------
    numpy : callable
        The numpy implementation (always present).
    numba : callable or None
        The compiled twin, used when numba is available and enabled.
    threads : bool
        Whether row blocks may be solved concurrently in threads (the
        compiled kernels release the GIL; cvxpy re-solves one shared
        parametrised problem and must run alone).
    gram : bool
        Whether the solver works on the Gram form only (False: it needs the
        signals ``problem.X``).
    fallback : str or None
        Solver that finishes the rows this one returns with a negative count.
    n_blocks, max_rows : int
        A call is split into about ``n_blocks`` row blocks of at most
        ``max_rows`` rows (:func:`latentmodels._threads.row_blocks`); batched
        solvers, whose every iteration is a Python-level step, take fewer,
        larger blocks.
    """

    numpy: Callable
    numba: Callable | None = None
    threads: bool = True
    gram: bool = True
    fallback: str | None = None
    n_blocks: int = 32
    max_rows: int = 512

    def implementation(self) -> Callable:
        """The twin to run now: compiled if available and enabled."""
        if self.numba is not None and use_numba():
            return self.numba
        return self.numpy


SOLVERS: dict[str, Solver] = {
    "cd": Solver(numpy=cd_numpy, numba=cd_numba),
    "feature_sign": Solver(numpy=fs_numpy, numba=fs_numba, fallback="cd"),
    "fista": Solver(numpy=fista, n_blocks=8, max_rows=1 << 16),
    "cvxpy": Solver(numpy=cvxpy_solver, threads=False, gram=False),
    # the device solver (FISTA + exact active-set polish, array-API code):
    # 'auto' for array-API input (latentmodels.sparse._encode_device); on numpy
    # it runs the same steps with numpy
    "fista_active_set": Solver(
        numpy=fista_active_set, fallback="feature_sign", n_blocks=8, max_rows=1 << 16
    ),
}

#: The solver ``'auto'`` picks for array-API input (dispatch on).
DEVICE_SOLVER = "fista_active_set"

#: Solver names accepted by ``sparse_encode`` and ``SparseCoding``.
SOLVER_NAMES = ("auto", *SOLVERS)


def resolve(name: str, device: bool = False) -> str:
    """``'auto'``: the fastest solver measured by ``benchmarks/bench_sparse_encode.py``.

    With numba, feature-sign search (exact after a few steps, insensitive to
    coherent dictionaries); without it, the numpy coordinate descent, which
    vectorises over samples (the numpy feature-sign search loops over them).
    For array-API input (``device=True``), the device solver
    ``'fista_active_set'``, whose steps are all large batched operations.
    """
    if name != "auto":
        return name
    if device:
        return DEVICE_SOLVER
    return "feature_sign" if use_numba() else "cd"


def fallback_max_iter(max_iter: int) -> int:
    """Iteration budget of the fallback solver for the rows handed over."""
    return max(100 * int(max_iter), 10000)


def run(name: str, problem, H, C, *, tol: float, max_iter: int):
    """Run the registered solver ``name`` (and its fallback) on ``problem``.

    Returns the iterations per row (non-negative).
    """
    entry = SOLVERS[name]
    n_iter = entry.implementation()(problem, H, C, tol=tol, max_iter=max_iter)
    failed = n_iter < 0
    n_iter = abs(n_iter)
    if entry.fallback is not None and failed.any():
        rows = failed.nonzero()[0]
        Hf, Cf = H[rows], C[rows]
        n_iter[rows] += run(
            entry.fallback,
            problem.rows(rows),
            Hf,
            Cf,
            tol=tol,
            max_iter=fallback_max_iter(max_iter),
        )
        H[rows], C[rows] = Hf, Cf
    return n_iter
