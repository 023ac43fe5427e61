"""Logging of workflow jobs: everything (ours, jwst's, grizli's) into the rule's log file."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@contextlib.contextmanager
def job_logging(path: str | Path, name: str) -> Iterator[logging.Logger]:
    """Send the root logger to ``path`` (and stderr) for the duration of a job.

    A failure is logged with its message before it propagates, so the log file says why the
    job failed even when Snakemake only reports the exit status.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handlers = [logging.FileHandler(path, mode="a"), logging.StreamHandler(sys.stderr)]
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.INFO)
    for handler in handlers:
        root.addHandler(handler)
    log = logging.getLogger(name)
    started = time.monotonic()
    try:
        yield log
    except SystemExit:
        raise
    except BaseException as error:
        log.error(
            "failed after %.1f s: %s: %s", time.monotonic() - started, type(error).__name__, error
        )
        raise
    else:
        log.info("done in %.1f s", time.monotonic() - started)
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)
