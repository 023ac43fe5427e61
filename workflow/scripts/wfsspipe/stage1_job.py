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


# clean_flicker_noise as this workflow runs it: the median method, each of the four outputs fit on
# its own (their stripes differ), sources masked above n_sigma of the flat-fielded background.
ONE_OVER_F_DEFAULTS: dict[str, Any] = {
    "fit_by_channel": True,
    "n_sigma": 3.0,
    "apply_flat_field": True,
}


# Direct and grism exposures. A WFSS exposure's fit is flat-fielded by its CRDS WFSS background
# reference (bkg: the dispersed sky's shape, flat included), not the imaging flat: against the
# imaging flat the fit's background (one median, or jwst's smooth model) misses the dispersed
# sky's structure and the column medians take it for stripes (bench/RESULTS.md, 1/f).
ONE_OVER_F_EXP_TYPES = ("NIS_IMAGE", "NIS_WFSS")
WFSS_FLATS = ("bkg", "flat")


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
    one_over_f: bool = True
    # the exposure types it runs on (stage1.one_over_f_exp_types)
    one_over_f_exp_types: tuple[str, ...] = ONE_OVER_F_EXP_TYPES
    # what a WFSS exposure's fit is flat-fielded by: its CRDS bkg reference or the CRDS flat
    one_over_f_wfss_flat: str = "bkg"
    # jwst clean_flicker_noise parameters (stage1.one_over_f_params)
    one_over_f_params: dict[str, Any] = field(default_factory=lambda: dict(ONE_OVER_F_DEFAULTS))

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
            one_over_f=bool(stage1.get("one_over_f", True)),
            one_over_f_exp_types=tuple(stage1.get("one_over_f_exp_types", ONE_OVER_F_EXP_TYPES)),
            one_over_f_wfss_flat=str(stage1.get("one_over_f_wfss_flat", "bkg")),
            one_over_f_params={**ONE_OVER_F_DEFAULTS, **stage1.get("one_over_f_params", {})},
        )

    def corrects_one_over_f(self, exp_type: str) -> bool:
        return self.one_over_f and exp_type.upper() in self.one_over_f_exp_types

    def step_parameters(
        self, exp_type: str = "NIS_IMAGE", fit_flat: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """Per-step parameters for ``Detector1Pipeline.call(steps=...)`` on an exposure of
        ``exp_type`` (the UNCAL's EXP_TYPE); ``fit_flat``: a file the 1/f fit is flat-fielded by
        instead of the CRDS flat (:func:`one_over_f_flat`)."""
        steps: dict[str, dict[str, Any]] = {
            "jump": {"rejection_threshold": self.rejection_threshold}
        }
        if self.corrects_one_over_f(exp_type):
            steps["clean_flicker_noise"] = {"skip": False, **self.one_over_f_params}
            if fit_flat:
                steps["clean_flicker_noise"]["override_flat"] = fit_flat
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


def one_over_f_flat(uncal: Path, exp_type: str, settings: Stage1Settings) -> str | None:
    """The file the 1/f fit of this exposure is flat-fielded by, where it is not the CRDS flat
    that clean_flicker_noise asks for itself: a WFSS exposure's CRDS ``bkg`` reference (with
    ``one_over_f_wfss_flat: bkg``), from the local cache (crds_sync fetched it for grizli)."""
    if not settings.corrects_one_over_f(exp_type) or exp_type.upper() != "NIS_WFSS":
        return None
    if settings.one_over_f_wfss_flat not in WFSS_FLATS:
        raise Stage1Error(
            f"stage1.one_over_f_wfss_flat is {settings.one_over_f_wfss_flat!r}; "
            f"use one of {', '.join(WFSS_FLATS)}"
        )
    if settings.one_over_f_wfss_flat == "flat":
        return None
    import crds

    from .crds_sync import OBSERVATORY, dataset_parameters

    try:
        found = crds.getreferences(
            dataset_parameters(uncal), reftypes=["bkg"], observatory=OBSERVATORY
        )["bkg"]
    except crds.CrdsError as error:
        found = f"NOT FOUND: {error}"
    if str(found).upper().startswith("NOT FOUND") or not Path(found).is_file():
        raise Stage1Error(
            f"{uncal.name}: no WFSS background reference (bkg) for its 1/f fit ({found}). Let "
            "crds_sync fetch it (crds.sync: true), or set stage1.one_over_f_wfss_flat: flat, or "
            "leave NIS_WFSS out of stage1.one_over_f_exp_types."
        )
    return str(found)


def _write_rate(uncal: Path, rate: Path, settings: Stage1Settings):
    from astropy.io import fits

    from .stage1 import run_detector1

    exp_type = str(fits.getval(uncal, "EXP_TYPE"))
    one_over_f = settings.corrects_one_over_f(exp_type)
    fit_flat = one_over_f_flat(uncal, exp_type, settings)
    log.info(
        "%s (%s): 1/f correction %s",
        uncal.name,
        exp_type,
        f"on (clean_flicker_noise, fit flat-fielded by {Path(fit_flat).name if fit_flat else 'the CRDS flat'})"
        if one_over_f
        else "off (stage1.one_over_f, one_over_f_exp_types)",
    )
    # The provenance keywords go in before the product takes its name: nothing half-updated can
    # ever be found under the RATE's name.
    with atomic_path(rate) as tmp:
        result = run_detector1(
            uncal,
            tmp,
            columnjump=settings.columnjump,
            columnjump_params=settings.columnjump_params,
            steps=settings.step_parameters(exp_type, fit_flat),
        )
        with fits.open(tmp, mode="update") as hdus:
            header = hdus[0].header
            header["FILENAME"] = rate.name
            header["WP_VER"] = (_version("wfsspipe"), "wfsspipe version (this workflow)")
            header["CJ_VER"] = (version("columnjump"), "columnjump version")
            header["CRDS_VER"] = (version("crds"), "crds version")
            header["J_REJTHR"] = (settings.rejection_threshold, "jump rejection_threshold")
            header["ONEOVERF"] = (one_over_f, "clean_flicker_noise (1/f) run")
            if one_over_f:
                params = settings.one_over_f_params
                header["OOF_CHAN"] = (bool(params["fit_by_channel"]), "1/f fit by output")
                header["OOF_NSIG"] = (float(params["n_sigma"]), "1/f source mask n_sigma")
                header["OOF_FLAT"] = (bool(params["apply_flat_field"]), "1/f fit flat-fielded")
                if fit_flat and params["apply_flat_field"]:
                    header["OOF_FREF"] = (Path(fit_flat).name, "1/f fit flat-fielded by this")
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
