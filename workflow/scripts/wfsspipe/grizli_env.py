"""The one place where grizli runs: working folder, environment, offline guards, clear errors.

grizli (1.14.3) is used for its functions, not its habits. Its habits, and what
:func:`grizli_session` does about each of them (all undone when the block ends):

* **Working directory.** ``prep.fresh_flt_file`` copies exposures from ``../RAW`` into the current
  folder and every visit step reads and writes bare file names there; ``multiband_catalog``,
  ``make_filter_combinations`` and ``field_rgb`` glob the current folder. The session changes into
  the folder it is given; this is the only ``os.chdir`` in the workflow's code.
* **Configuration read at import.** ``grizli.GRIZLI_PATH`` comes from ``$GRIZLI`` when grizli is
  first imported and is copied into ``prep``, ``utils``, ``jwst_utils``, ``grismconf``, ``model``
  ... by ``from . import GRIZLI_PATH``. The session sets ``$GRIZLI`` before the first import and
  also sets ``GRIZLI_PATH`` on every loaded grizli module, so a process that imported grizli
  earlier (a test session) still reads the configured ``CONF/``.
* **CRDS.** ``jwst_utils.initialize_jwst_image`` (flat, distortion, filteroffset, photom, area) and
  ``prep.get_jwst_wfssbkg_file`` (bkg) ask CRDS through jwst steps: the session sets the same
  ``CRDS_PATH``/``CRDS_CONTEXT``/``CRDS_MODE=local``/serverless URL as Stage 1
  (:func:`wfsspipe.crds_sync.job_environment`) plus ``CRDS_READONLY_CACHE=1``, so that no job writes
  into the shared cache (grizli then copies a CRDS ``bkg`` it must edit into ``$GRIZLI/CONF``).
* **The pure-parallel WCS query.** ``initialize_jwst_image`` asks MAST for the guide-star log of
  ``VISITYPE=PARALLEL_PURE`` exposures when ``jwst_utils.DO_PURE_PARALLEL_WCS`` is true and the
  RATE was made by jwst < 1.16 (``FIXED_PURE_PARALLEL_WCS_CAL_VER``); ``prep.fresh_flt_file``
  overwrites the flag with its own ``do_pure_parallel_wcs`` argument (default True, and never
  passed for grism exposures). The session sets the flag from the config and callers pass the same
  value on; with our Stage 1 (jwst 1.19) the query is never needed.
* **Its database.** ``prep.apply_region_mask_from_db`` (called by ``fresh_flt_file`` for every
  exposure and by ``utils.drizzle_from_visit``), ``jwst_utils.query_persistence`` and
  ``prep.get_visit_radec_from_database`` go through ``grizli.aws.db.SQL``, which connects to
  grizli's PostgreSQL server when ``psycopg2`` is installed. The session replaces ``SQL`` with a
  function that refuses at once; every grizli caller already treats a failed query as "no
  entries". S3 (``boto3``) is only used for files that do not exist locally.
* **Logging.** grizli prints to stdout and appends to ``utils.LOGFILE`` (``/tmp/grizli.log``,
  shared by every process on the machine). Both go to the job's log file instead.
* **Exiting.** ``initialize_jwst_image`` and stpipe call ``sys.exit`` when CRDS cannot answer
  (e.g. "CRDS server connection and cache load FAILED"), which would end the job without a word.
  :meth:`GrizliSession.step` turns a ``SystemExit`` raised inside a library into
  :class:`GrizliError` naming the exposure or visit, what was being done and the last error the
  libraries logged.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .crds_sync import job_environment

log = logging.getLogger(__name__)


class GrizliError(RuntimeError):
    """A grizli (or jwst, CRDS) call failed; the message names the file or visit and the cause."""


class GrizliDatabaseDisabled(RuntimeError):
    """Raised instead of a query to grizli's database (the workflow never uses it)."""


def _refuse_database(query_text: str = "", *args, **kwargs):
    raise GrizliDatabaseDisabled("grizli's database is disabled in this workflow")


@dataclass(frozen=True)
class GrizliSettings:
    """Where grizli finds its configuration and CRDS, and whether it may query MAST."""

    grizli_path: Path
    crds: Mapping[str, str] = field(default_factory=dict)
    pure_parallel_wcs: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GrizliSettings:
        """From the workflow config (keys ``grizli`` and ``crds``)."""
        grizli = config["grizli"]
        return cls(
            grizli_path=Path(grizli["path"]).resolve(),
            crds=job_environment(config["crds"]["path"], config["crds"]["context"]),
            pure_parallel_wcs=bool(grizli["pure_parallel_wcs"]),
        )

    def environment(self) -> dict[str, str]:
        """Variables to set before grizli, jwst or crds are first imported in a process."""
        return {
            "GRIZLI": str(self.grizli_path),
            **dict(self.crds),
            "CRDS_READONLY_CACHE": "1",  # jobs never write into the shared cache
        }

    @classmethod
    def for_job(cls, settings: Mapping[str, Any], blas_threads: int) -> GrizliSettings:
        """A grizli rule script's first step: the settings of its params, with this process
        prepared (:meth:`prepare_process`)."""
        grizli = cls.from_config(settings)
        grizli.prepare_process(blas_threads)
        return grizli

    def prepare_process(self, blas_threads: int) -> None:
        """Set this process's environment for a grizli job: call it before grizli, jwst or crds
        are first imported (grizli reads ``$GRIZLI``, crds its settings, at import), and give
        numpy's BLAS ``blas_threads`` threads."""
        os.environ.update(self.environment())
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(blas_threads)

    def check(self) -> None:
        """Refuse a configuration grizli cannot work with, before anything runs."""
        conf = self.grizli_path / "CONF"
        if not conf.is_dir():
            raise GrizliError(
                f"grizli configuration folder {conf} does not exist: set grizli.path in the "
                "config to the folder holding CONF/ (grism configurations, sensitivities, WFSS "
                "sky flats) and templates/ (for the synthetic field: <synthetic>/GRIZLI)"
            )


class _ErrorRecorder(logging.Handler):
    """Remembers the last ERROR record (crds and stpipe log the cause before they exit)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.last: str = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.last = f"{record.name}: {record.getMessage().strip()}"
        except Exception:  # a record that cannot be formatted must not hide the real error
            self.last = record.name


class _LineLogger(io.TextIOBase):
    """A text stream that appends what grizli prints to the job's log file."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text: str) -> int:
        self.handle.write(text)
        return len(text)

    def flush(self) -> None:
        self.handle.flush()


@dataclass
class GrizliSession:
    """What a block inside :func:`grizli_session` works with."""

    workdir: Path
    settings: GrizliSettings
    _errors: _ErrorRecorder

    @contextlib.contextmanager
    def step(self, subject: str, action: str) -> Iterator[None]:
        """Run library code for ``subject`` (an exposure or visit); a failure names it.

        ``SystemExit`` (``sys.exit`` in crds, stpipe or grizli) becomes :class:`GrizliError` with
        ``subject``, ``action`` and the last error the libraries logged; any other exception
        becomes one too, chained to the original (whose traceback the log keeps).
        """
        self._errors.last = ""
        try:
            yield
        except SystemExit as exit_:
            cause = self._errors.last or "no error was logged before it"
            raise GrizliError(
                f"{subject}: {action} stopped with SystemExit({exit_.code!r}); cause: {cause}. "
                "If the cause is CRDS, check crds.path and crds.context (and run the crds_sync "
                "rule where the compute nodes are offline)."
            ) from None
        except (GrizliError, KeyboardInterrupt):
            raise
        except Exception as error:
            log.exception("%s: %s failed", subject, action)
            raise GrizliError(
                f"{subject}: {action} failed: {type(error).__name__}: {error}"
            ) from error


@contextlib.contextmanager
def grizli_session(
    workdir: str | os.PathLike, settings: GrizliSettings, log_path: str | os.PathLike | None = None
) -> Iterator[GrizliSession]:
    """Run grizli in ``workdir`` with the workflow's environment, offline guards and logging.

    Everything changed here (working directory, environment variables, grizli module globals,
    stdout) is restored when the block ends, also when it fails.
    """
    settings.check()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    saved_env = {k: os.environ.get(k) for k in settings.environment()}
    os.environ.update(settings.environment())

    import grizli.aws.db as grizli_db  # first import of grizli: reads $GRIZLI
    from grizli import jwst_utils, utils

    patched: list[tuple[object, str, object]] = []

    def patch(target, name: str, value) -> None:
        patched.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    grizli_path = str(settings.grizli_path).rstrip("/") + "/"
    for name, module in list(sys.modules.items()):
        if (name == "grizli" or name.startswith("grizli.")) and hasattr(module, "GRIZLI_PATH"):
            patch(module, "GRIZLI_PATH", grizli_path)
    patch(grizli_db, "SQL", _refuse_database)
    patch(jwst_utils, "DO_PURE_PARALLEL_WCS", settings.pure_parallel_wcs)

    errors = _ErrorRecorder()
    loggers = [logging.getLogger(), logging.getLogger("CRDS"), logging.getLogger("stpipe")]
    for logger in loggers:
        logger.addHandler(errors)

    log_file = Path(log_path).resolve() if log_path else workdir / "grizli.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    previous_cwd = os.getcwd()
    with open(log_file, "a", buffering=1) as handle:
        patch(utils, "LOGFILE", str(log_file))
        stream = _LineLogger(handle)
        try:
            with contextlib.redirect_stdout(stream):
                os.chdir(workdir)  # the only chdir in the workflow: grizli works in "./"
                try:
                    yield GrizliSession(workdir, settings, errors)
                finally:
                    os.chdir(previous_cwd)
        finally:
            for target, name, value in reversed(patched):
                setattr(target, name, value)
            for logger in loggers:
                logger.removeHandler(errors)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
