"""Thread pools: how many threads ``n_jobs`` means, and BLAS limits.

One place for limiting BLAS threads, used by every estimator that bounds them
(small L-BFGS problems, the sparse-coding solvers, ``n_jobs``). The BLAS
libraries are discovered once per process (discovery costs ~10 ms a call).
"""

from __future__ import annotations

import functools
import threading

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def blas_threads(n_threads: int):
    """Context manager limiting BLAS to ``n_threads`` threads inside the block."""
    return _controller().limit(limits=max(1, int(n_threads)), user_api="blas")


#: Flops below which :func:`blas_threads_for` keeps BLAS on one thread.
#: OpenBLAS's worker threads keep spinning about 0.1 s after every threaded
#: call (measured here; 2²⁸ cycles by default), taking cores from whatever
#: runs next (a thread pool over row blocks, say); a product this small
#: takes about that long on one thread.
THREADED_BLAS_FLOPS = 1 << 31


def blas_threads_for(flops: float, n_threads: int):
    """:func:`blas_threads` of ``n_threads`` for a product of ``flops``
    floating-point operations if it is large (``THREADED_BLAS_FLOPS``), else
    of one thread, so that small products leave no spinning BLAS workers."""
    return blas_threads(n_threads if flops >= THREADED_BLAS_FLOPS else 1)


def blas_thread_count() -> int:
    """Threads BLAS uses now: the smallest limit over the loaded BLAS libraries.

    Honours an enclosing :func:`blas_threads` or ``threadpool_limits`` block, so
    code that splits work over its own threads (one BLAS thread each) uses no
    more cores than the caller allowed BLAS. 1 when no BLAS is found.
    """
    libs = _controller().select(user_api="blas").lib_controllers
    return max(1, min((lib.num_threads for lib in libs), default=1))


def row_blocks(
    n_rows: int, *, n_blocks: int = 32, min_rows: int = 64, max_rows: int = 512
) -> list[slice]:
    """Split ``range(n_rows)`` into contiguous blocks for a thread pool.

    About ``n_blocks`` blocks of ``min_rows`` to ``max_rows`` rows. The split
    depends on ``n_rows`` only, never on the number of threads, so a result
    computed block by block is the same bit for bit whatever ``n_jobs``.
    """
    if n_rows <= 0:
        return []
    size = max(1, min(max_rows, max(min_rows, -(-n_rows // n_blocks))))
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


def map_row_blocks(fn, n_rows: int, n_threads: int, **split) -> list:
    """``[fn(block) for block in row_blocks(n_rows)]``, in ``n_threads`` threads.

    The calling thread works too, beside ``n_threads − 1`` started threads;
    each takes the next block from a shared counter when it is done with one
    (no futures, no result queue: the only shared step is the counter), and
    BLAS is limited to one thread inside, so ``fn`` should spend its time in
    BLAS calls, numpy ufuncs or GIL-free compiled kernels. The first
    exception raised by ``fn`` stops the other threads from taking further
    blocks and is raised in the caller.
    """
    blocks = row_blocks(n_rows, **split)
    n_threads = max(1, min(int(n_threads), len(blocks)))
    with blas_threads(1):
        if n_threads == 1:
            return [fn(block) for block in blocks]
        results = [None] * len(blocks)
        errors = []
        lock = threading.Lock()
        counter = iter(range(len(blocks)))

        def work():
            while True:
                with lock:
                    i = None if errors else next(counter, None)
                if i is None:
                    return
                try:
                    results[i] = fn(blocks[i])
                except BaseException as exc:  # re-raised in the caller
                    with lock:
                        errors.append(exc)
                    return

        threads = [threading.Thread(target=work) for _ in range(n_threads - 1)]
        for thread in threads:
            thread.start()
        work()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return results
