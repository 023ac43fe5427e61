"""Fetch the CRDS references a field's exposures need, before any Stage 1 job starts.

Compute nodes of many clusters have no internet, so the references are resolved and downloaded
on the submit host (rule ``crds_sync``, a local rule) for every distinct instrument configuration
in the fields table, with the pinned context. Stage 1 and grizli jobs then run with
``CRDS_MODE=local`` and a serverless server URL, which crds never contacts.

The same code resolves (without downloading) against the synthetic cache in local mode, which is
how the tests exercise it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from astropy.time import Time

from .atomic import write_text

log = logging.getLogger(__name__)

# crds never contacts a URL containing "serverless" (crds.client.proxy): the jobs' setting.
OFFLINE_SERVER_URL = "https://jwst-serverless.stsci.edu"
# Reference types NIRISS Detector1 reads, then those grizli's preparation reads (imaging and WFSS).
STAGE1_REFTYPES = (
    "mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise", "trapdensity",
    "trappars", "persat",
)  # fmt: skip
REFTYPES = (*STAGE1_REFTYPES, "flat", "distortion", "filteroffset", "photom", "area", "bkg")


def job_environment(crds_path: str, context: str) -> dict[str, str]:
    """CRDS variables for jobs: the shared cache, the pinned context, never the network."""
    return {
        "CRDS_PATH": str(Path(crds_path).resolve()),
        "CRDS_CONTEXT": context,
        "CRDS_MODE": "local",
        "CRDS_SERVER_URL": OFFLINE_SERVER_URL,
    }


def dataset_parameters(exposure: Mapping) -> dict[str, str]:
    """The header values CRDS matches NIRISS references on, from a fields-table row."""
    start = Time(float(exposure["t_min"]), format="mjd", scale="utc")
    return {
        "META.INSTRUMENT.NAME": "NIRISS",
        "META.INSTRUMENT.DETECTOR": "NIS",
        "META.INSTRUMENT.FILTER": exposure["filter"],
        "META.INSTRUMENT.PUPIL": exposure["pupil"],
        "META.EXPOSURE.TYPE": exposure["exp_type"],
        "META.EXPOSURE.READPATT": "NIS",
        "META.SUBARRAY.NAME": "FULL",
        "META.OBSERVATION.DATE": start.strftime("%Y-%m-%d"),
        "META.OBSERVATION.TIME": start.strftime("%H:%M:%S"),
    }


def sync_references(
    exposures: Iterable[Mapping], crds_path: str, context: str, server_url: str, mode: str = "auto"
) -> dict:
    """Resolve (and in ``auto``/``remote`` mode download) the references of ``exposures``.

    Returns ``{configuration: {reftype: path or "N/A"}}``. Raises ``crds`` errors unchanged when a
    reference cannot be had: the message names the type and the context.
    """
    os.environ.update(
        CRDS_PATH=str(Path(crds_path).resolve()),
        CRDS_CONTEXT=context,
        CRDS_SERVER_URL=server_url,
        CRDS_MODE=mode,
    )
    import crds

    configurations = {}
    for exposure in exposures:
        parameters = dataset_parameters(exposure)
        key = f"{exposure['exp_type']}/{exposure['filter']}/{exposure['pupil']}"
        if key in configurations:
            continue
        wanted = [t for t in REFTYPES if not (t == "bkg" and exposure["exp_type"] != "NIS_WFSS")]
        try:
            found = crds.getreferences(
                parameters, reftypes=wanted, context=context, observatory="jwst"
            )
        except crds.CrdsLookupError:
            # A type this context does not define for the mode: resolve the rest one by one.
            found = {}
            for reftype in wanted:
                try:
                    found.update(
                        crds.getreferences(
                            parameters, reftypes=[reftype], context=context, observatory="jwst"
                        )
                    )
                except crds.CrdsLookupError as error:
                    found[reftype] = f"N/A ({error})"
        configurations[key] = {t: str(v) for t, v in sorted(found.items())}
        log.info(
            "%s: %d references ready",
            key,
            sum(not v.startswith("N/A") for v in configurations[key].values()),
        )
    return configurations


def write_sync_record(path: str | Path, configurations: dict, context: str) -> None:
    write_text(
        path, json.dumps({"context": context, "configurations": configurations}, indent=1) + "\n"
    )
