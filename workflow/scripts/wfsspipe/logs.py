"""Logging of workflow jobs: the detail in the rule's log file, a few lines on the terminal.

Inside :func:`job_logging`:

* **the rule's log file** gets everything: every logger (jwst/stpipe at DEBUG included), and file
  descriptors 1 and 2, so ``print``, Python warnings and what C code (drizzle, sep) writes go
  there too;
* **the terminal** (the job's original stderr, which Snakemake shares between jobs) gets, each
  line prefixed with the rule and its wildcards, the workflow's own WARNING and above, anyone's
  ERROR and above, :func:`milestone` lines (one per finished stage, with its key numbers) and
  :class:`Progress` lines inside long steps. Library warnings (grizli, astropy, stpipe) stay in
  the log; the job's last line says how many there were.

stpipe adds a stderr handler to the root logger whenever ``Step.call`` finds no logging
configuration applied (``stpipe.log.LogConfig.applied``): jobs that run jwst steps pass
``stpipe=True`` and get an empty one applied, so stpipe logs only through the job's handlers.
(Not done for every job: importing stpipe imports crds, which reads its settings from the
environment at import, before e.g. ``crds_sync`` has set them.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TERMINAL = "wfsspipe_terminal"  # LogRecord attribute: show this INFO line on the terminal
OWN_LOGGERS = ("wfsspipe",)  # logger names (and their children) that are the workflow's own


def milestone(log: logging.Logger, message: str, *args) -> None:
    """Log ``message`` at INFO and show it on the terminal: a stage's result in one line
    (``"sex-00: 12 exposures in 4 visits, aligned"``)."""
    log.info(message, *args, extra={TERMINAL: True}, stacklevel=2)


class Progress:
    """``what: done/total`` lines on the terminal while a long step runs.

    Every :meth:`advance` is logged to the file; the terminal sees the first, the last and at
    most one every ``interval`` seconds between them, with the elapsed time and an estimate
    of the rest (a shared terminal and a log file want lines, not a redrawn bar)::

        progress = Progress(log, "sex-00: zfit", total=40, unit="sources")
        for source in sources:
            ...
            progress.advance(f"source {source.id}: z = {z:.3f}")
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        total: int,
        unit: str = "",
        interval: float = 30.0,
    ) -> None:
        self.log, self.what, self.total, self.unit = log, what, int(total), unit
        self.interval = float(interval)
        self.done = 0
        self.started = time.monotonic()
        self._shown = -float("inf")

    def advance(self, detail: str = "", count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        elapsed = now - self.started
        text = f"{self.what}: {self.done}/{self.total}{f' {self.unit}' if self.unit else ''}"
        text += f" in {_duration(elapsed)}"
        if 0 < self.done < self.total:
            text += f", about {_duration(elapsed / self.done * (self.total - self.done))} left"
        if detail:
            text += f" ({detail})"
        show = self.done >= self.total or self.done == count or now - self._shown >= self.interval
        if show:
            self._shown = now
        self.log.info("%s", text, extra={TERMINAL: show}, stacklevel=2)


def subject_of(rule: str, wildcards: Mapping[str, str] | None = None) -> str:
    """``stage1 sex-00/jw..._nis``: the rule and its wildcard values, for terminal lines (not
    path-valued ones, such as a working-folder prefix)."""
    values = [str(v) for _, v in (wildcards or {}).items() if str(v) and "/" not in str(v)]
    return f"{rule} {'/'.join(values)}" if values else rule


@contextlib.contextmanager
def job_logging(
    path: str | Path,
    name: str,
    wildcards: Mapping[str, str] | None = None,
    *,
    stpipe: bool = False,
) -> Iterator[logging.Logger]:
    """Send everything the job logs or prints to ``path``; the terminal gets the lines above.

    ``name`` is the rule (the job's logger); ``wildcards`` (``snakemake.wildcards``) name the
    field or exposure on the terminal; ``stpipe``: the job runs jwst steps (import jwst and
    crds only after their environment is set). A failure is logged with its message (on the terminal
    too) before it propagates, so the log file says why the job failed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    terminal, restore_fds = _redirect_output(log_file)
    subject = subject_of(name, wildcards)
    file_handler = logging.StreamHandler(log_file)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    counter = _LibraryWarnings(name)
    terminal_handler = logging.StreamHandler(terminal)
    terminal_handler.addFilter(_TerminalFilter(name))
    terminal_handler.setFormatter(_TerminalFormatter(subject))

    root = logging.getLogger()
    previous_level = root.level
    previous_handlers = list(root.handlers)
    for handler in previous_handlers:  # e.g. a basicConfig of an imported library
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    for handler in (file_handler, terminal_handler, counter):
        root.addHandler(handler)
    stpipe_config = _quiet_stpipe() if stpipe else None
    log = logging.getLogger(name)
    started = time.monotonic()
    try:
        yield log
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            log.error("failed after %s; details in %s", _duration(time.monotonic() - started), path)
        raise
    except BaseException as error:
        log.error(
            "failed after %s: %s: %s; details in %s",
            _duration(time.monotonic() - started),
            type(error).__name__,
            error,
            path,
        )
        raise
    else:
        warnings = f"; {counter.count} library warnings in the log" if counter.count else ""
        log.info("done in %s%s", _duration(time.monotonic() - started), warnings)
    finally:
        if stpipe_config is not None:
            stpipe_config.undo()
        for handler in (file_handler, terminal_handler, counter):
            root.removeHandler(handler)
        for handler in previous_handlers:
            root.addHandler(handler)
        root.setLevel(previous_level)
        restore_fds()
        terminal.close()
        log_file.close()


@contextlib.contextmanager
def rule_job(
    snakemake: Any,
    *expected: type[BaseException],
    stpipe: bool = False,
) -> Iterator[logging.Logger]:
    """A rule script's job: :func:`job_logging` into the rule's log, and an ``expected`` error
    (the stage's own, whose message says what to do) logged as that message alone and ended
    with exit status 1, no traceback."""
    with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards, stpipe=stpipe) as log:
        try:
            yield log
        except expected as error:
            log.error("%s", error)
            raise SystemExit(1) from None


def _redirect_output(log_file) -> tuple:
    """Point file descriptors 1 and 2 at ``log_file``; return the original stderr (as a line
    buffered text stream) and a function that puts 1 and 2 back."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    for fd in (1, 2):
        os.dup2(log_file.fileno(), fd)
    # A file makes Python's stdout block-buffered; line buffering keeps prints in order with
    # the log records around them.
    stdout_line_buffering = getattr(sys.stdout, "line_buffering", None)
    with contextlib.suppress(Exception):
        sys.stdout.reconfigure(line_buffering=True)

    def restore() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        if stdout_line_buffering is not None:
            with contextlib.suppress(Exception):
                sys.stdout.reconfigure(line_buffering=stdout_line_buffering)

    return terminal, restore


def _is_own(logger_name: str, job_logger: str) -> bool:
    return logger_name == job_logger or any(
        logger_name == own or logger_name.startswith(own + ".") for own in OWN_LOGGERS
    )


class _TerminalFilter(logging.Filter):
    """Milestones, the workflow's WARNING and above, anyone's ERROR and above."""

    def __init__(self, job_logger: str) -> None:
        super().__init__()
        self.job_logger = job_logger

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if record.levelno >= logging.WARNING:
            return _is_own(record.name, self.job_logger)
        return bool(getattr(record, TERMINAL, False))


class _LibraryWarnings(logging.Handler):
    """Counts the WARNING records the terminal does not show (they are in the log file)."""

    def __init__(self, job_logger: str) -> None:
        super().__init__(logging.WARNING)
        self.job_logger = job_logger
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR and not _is_own(record.name, self.job_logger):
            self.count += 1


class _TerminalFormatter(logging.Formatter):
    """``[rule wildcards] message``; WARNING and ERROR say so. One line: a traceback stays in
    the log file."""

    def __init__(self, subject: str) -> None:
        super().__init__()
        self.subject = subject

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            message = f"{record.levelname}: {message}"
        return f"[{self.subject}] {message}"


def _quiet_stpipe():
    """Apply an empty stpipe logging configuration (no handler), if stpipe is installed, so
    ``Step.call`` adds no stderr handler of its own; returns it (``undo()`` at the end)."""
    if importlib.util.find_spec("stpipe") is None:  # an env without jwst
        return None
    from stpipe.log import LogConfig

    if LogConfig.applied is not None:
        return None
    config = LogConfig(handler=[], level=logging.INFO)
    config.apply()
    return config


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
