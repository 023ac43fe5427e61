"""Work on many sources in parallel inside one job: forked worker processes, none nested.

:func:`run_sources` is the per-source fan-out that extract and zfit share: what the job loaded
once (grism models, templates) is handed to forked workers, a source that raises becomes a
"failed" row instead of failing the field, every finished source is kept in the job's
:class:`~wfsspipe.resume.SourceStore` (so a killed job resumes with the rest) and logged with
the job's progress.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .logs import Progress
from .resume import SourceStore, source_files

log = logging.getLogger(__name__)

# What the job loaded before forking, inherited by the workers (copy-on-write); set only while
# run_sources runs.
_SHARED: Any = None

# worker(shared, field_name, source_id, settings) -> row with at least "status" ("ok",
# "extracted", ...) and "reason"
SourceWorker = Callable[[Any, str, int, Any], dict[str, Any]]


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


def _one_source(task: tuple[SourceWorker, str, int, Any]) -> dict[str, Any]:
    worker, field_name, source_id, settings = task
    started = time.monotonic()
    try:
        row = worker(_SHARED, field_name, source_id, settings)
    except Exception as error:  # one source must not fail the field
        log.error("%s %d: %s\n%s", field_name, source_id, error, traceback.format_exc())
        row = {"id": source_id, "status": "failed", "reason": f"{type(error).__name__}: {error}"}
    row["seconds"] = time.monotonic() - started
    return row


def run_sources(
    worker: SourceWorker,
    shared: Any,
    field_name: str,
    source_ids: Sequence[int],
    settings: Any,
    *,
    stage: str,
    store: SourceStore,
    work: Path,
    processes: int,
) -> Iterator[dict[str, Any]]:
    """``worker(shared, field_name, id, settings)`` for every source, rows as they finish.

    Each finished source's row and files (in ``work``) are kept in ``store`` before it is
    yielded, and a progress line names it (``{field}: {stage}``).
    """
    global _SHARED
    progress = Progress(log, f"{field_name}: {stage}", len(source_ids), "sources")
    tasks = [(worker, field_name, int(source_id), settings) for source_id in source_ids]
    _SHARED = shared
    try:
        for row in run_forked(_one_source, tasks, processes):
            store.keep(row["id"], row, source_files(work, field_name, row["id"]))
            reason = f" {row['reason']}" if row.get("reason") else ""
            progress.advance(f"{row['id']}: {row['status']} in {row['seconds']:.0f} s{reason}")
            yield row
    finally:
        _SHARED = None
