"""Thread pools: how many threads ``n_jobs`` means, and BLAS limits.

One place for limiting BLAS threads, used by every estimator that bounds them
(small L-BFGS problems, the sparse-coding solvers, ``n_jobs``). The BLAS
libraries are discovered once per process (discovery costs ~10 ms a call).
"""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def blas_threads(n_threads: int):
    """Context manager limiting BLAS to ``n_threads`` threads inside the block."""
    return _controller().limit(limits=max(1, int(n_threads)), user_api="blas")
