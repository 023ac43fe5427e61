"""The stage1 rule's job: config -> Detector1 step parameters, clear errors, provenance keywords.

:func:`wfsspipe.stage1.run_detector1` runs the pipeline; this module turns the workflow config
(``stage1`` in config/config.yaml) into its arguments, refuses a broken UNCAL with a message that
says what to do, and records in the RATE header what produced it.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .integrity import fits_problem

log = logging.getLogger(__name__)

# How ENOSPC reads once astropy or numpy have re-raised it without its errno.
DISK_FULL_PHRASES = ("no space left", "space on disk", "free space to write")


class Stage1Error(RuntimeError):
    """Stage 1 cannot run on this input; the message names the file and the remedy."""


@dataclass(frozen=True)
class Stage1Settings:
    columnjump: bool = True
    columnjump_params: dict[str, float] = field(
        default_factory=lambda: {"nsigma1jump": 5.0, "nsigma2jumps": 3.0}
    )
    rejection_threshold: float = 4.0
    skip_steps: tuple[str, ...] = ()
    one_over_f: bool = False

    @classmethod
    def from_config(cls, stage1: Mapping[str, Any]) -> Stage1Settings:
        cj = stage1["columnjump"]
        return cls(
            columnjump=bool(cj["enabled"]),
            columnjump_params={
                "nsigma1jump": float(cj["nsigma1jump"]),
                "nsigma2jumps": float(cj["nsigma2jumps"]),
            },
            rejection_threshold=float(stage1["jump"]["rejection_threshold"]),
            skip_steps=tuple(stage1.get("skip_steps", ())),
            one_over_f=bool(stage1.get("one_over_f", False)),
        )

    def step_parameters(self) -> dict[str, dict[str, Any]]:
        """Per-step parameters for ``Detector1Pipeline.call(steps=...)``."""
        steps: dict[str, dict[str, Any]] = {
            "jump": {"rejection_threshold": self.rejection_threshold}
        }
        if self.one_over_f:
            steps["clean_flicker_noise"] = {"skip": False}
        for name in self.skip_steps:
            steps.setdefault(name, {})["skip"] = True
        return steps


def run_stage1(uncal: str | Path, rate: str | Path, settings: Stage1Settings):
    """UNCAL -> RATE with the configured steps; :class:`Stage1Error` for a broken input or a
    full disk."""
    uncal = Path(uncal)
    problem = fits_problem(uncal) if uncal.exists() else "the file does not exist"
    if problem:
        raise Stage1Error(
            f"{uncal}: {problem}. The UNCAL is damaged: delete it and rerun Snakemake, which "
            "downloads it again (or re-create the synthetic field)."
        )
    rate = Path(rate)
    try:
        result = _write_rate(uncal, rate, settings)
    except OSError as error:
        if not _disk_full(error):
            raise
        raise Stage1Error(
            f"{rate}: the disk is full ({error}). Free space in {rate.parent} (or set fields_dir "
            "to a larger disk) and rerun; nothing was left under the RATE's name."
        ) from None
    log.info(
        "CRDS context %s; references %s",
        result.crds_context,
        ", ".join(f"{k}={v}" for k, v in result.reference_files.items()),
    )
    return result


def _write_rate(uncal: Path, rate: Path, settings: Stage1Settings):
    from astropy.io import fits

    from .stage1 import run_detector1

    # The provenance keywords go in before the product takes its name: nothing half-updated can
    # ever be found under the RATE's name.
    with atomic_path(rate) as tmp:
        result = run_detector1(
            uncal,
            tmp,
            columnjump=settings.columnjump,
            columnjump_params=settings.columnjump_params,
            steps=settings.step_parameters(),
        )
        with fits.open(tmp, mode="update") as hdus:
            header = hdus[0].header
            header["FILENAME"] = rate.name
            header["WP_VER"] = (_version("wfsspipe"), "wfsspipe version (this workflow)")
            header["CJ_VER"] = (version("columnjump"), "columnjump version")
            header["CRDS_VER"] = (version("crds"), "crds version")
            header["J_REJTHR"] = (settings.rejection_threshold, "jump rejection_threshold")
            header["ONEOVERF"] = (settings.one_over_f, "clean_flicker_noise (1/f) run")
    return dataclasses.replace(result, rate=rate)  # it ran on the temporary name


def _disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or an error it came from says the disk is full (astropy re-raises
    ENOSPC as a plain OSError that only says so in words)."""
    while error is not None:
        words = str(error).lower()
        if isinstance(error, OSError) and (
            error.errno in (errno.ENOSPC, errno.EDQUOT)
            or any(phrase in words for phrase in DISK_FULL_PHRASES)
        ):
            return True
        error = error.__cause__ or error.__context__
    return False


def _version(name: str) -> str:
    try:
        return version(name)
    except Exception:  # not installed as a distribution (running from a checkout)
        from . import __version__

        return __version__
