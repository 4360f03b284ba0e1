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


def blas_thread_count() -> int:
    """Threads BLAS uses now: the smallest limit over the loaded BLAS libraries.

    Honours an enclosing :func:`blas_threads` or ``threadpool_limits`` block, so
    code that splits work over its own threads (one BLAS thread each) uses no
    more cores than the caller allowed BLAS. 1 when no BLAS is found.
    """
    libs = _controller().select(user_api="blas").lib_controllers
    return max(1, min((lib.num_threads for lib in libs), default=1))
