"""Work on many sources in parallel inside one job: forked worker processes, none nested."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any


def run_forked(function: Callable[[Any], Any], tasks: Sequence, processes: int) -> Iterator[Any]:
    """``function(task)`` for every task, results in the order they finish.

    With more than one process the workers are forked, so they share what the parent loaded
    (grism models, templates) instead of loading it again; ``function`` must catch what one
    task may raise. A worker that dies (e.g. killed for memory) breaks the pool: the job fails
    with that said and is retried with more memory, instead of waiting for a lost task.
    """
    if processes <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield function(task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(processes, len(tasks)), mp_context=context) as pool:
        futures = [pool.submit(function, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool as error:
            raise RuntimeError(
                f"a worker process died ({error}); if the log shows no error, it was probably "
                "killed for memory: the job's next attempt asks for more"
            ) from None
