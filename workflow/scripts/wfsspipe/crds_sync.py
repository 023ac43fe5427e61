"""Fetch and verify every CRDS file a field's exposures need, before any Stage 1 job starts.

Compute nodes of many clusters have no internet, so rule ``crds_sync`` (a local rule, on the
submit host) runs the real ``crds`` client in ``CRDS_MODE=remote`` against ``crds.server_url``,
the way a login node with internet would, once the field's UNCAL files are downloaded:

1. the context's mappings are cached (``crds.client.api.dump_mappings``) and the server's
   configuration is written to the cache (``config/jwst/server_config``), which is what lets the
   jobs resolve references offline later;
2. for each UNCAL, its own CRDS parameters are read from its header through the datamodel
   (``get_crds_parameters``, what stpipe asks CRDS with), and the server is asked for the
   step-parameter references of Detector1 and each of its steps (``pars-*``), then for every
   reference type Detector1 prefetches with the configured steps (its parameters from CRDS
   merged under ours, as ``Detector1Pipeline.call`` does), then for the types grizli's preparation
   reads (also with the header grizli rewrites a WFSS exposure to);
3. every file the server names is downloaded by the client (``FileCacher``, which only *logs* a
   failed download) and then checked here: it must exist with the size and sha1 the server's
   catalogue (``get_file_info_map``) lists; a cached file that does not match is fetched once
   more. The mappings must also give the same answers offline as the server did.

Any gap fails the sync with :class:`CrdsSyncError` naming the exposure, the type and the file, and
no record is written. The record (written atomically) lists, per exposure, each type's file, and
each file's size, sha1 and cache path. Stage 1 and grizli jobs then run with ``CRDS_MODE=local``
and a serverless server URL (:func:`job_environment`), which crds never contacts.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .atomic import write_text
from .layout import exposure_of

log = logging.getLogger(__name__)

OBSERVATORY = "jwst"
# crds never contacts a URL containing "serverless" (crds.client.proxy): the jobs' setting.
OFFLINE_SERVER_URL = "https://jwst-serverless.stsci.edu"
# Reference types Stage 1 records in the RATE (wfsspipe.stage1); the sync asks for what Detector1
# itself prefetches (detector1_reftypes), which includes these.
STAGE1_REFTYPES = (
    "mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise", "trapdensity",
    "trappars", "persat",
)  # fmt: skip
# What grizli's preparation reads (jwst_utils.initialize_jwst_image, prep.get_jwst_wfssbkg_file).
GRIZLI_REFTYPES = ("flat", "distortion", "filteroffset", "photom", "area", "bkg")
# grizli rewrites a WFSS exposure as imaging (FILTER=CLEAR) and asks for these again.
GRIZLI_REWRITTEN_REFTYPES = ("distortion", "filteroffset")
RECORD_VERSION = 2


class CrdsSyncError(RuntimeError):
    """The sync could not provide every file; the message names exposure, type and file."""


def job_environment(crds_path: str, context: str) -> dict[str, str]:
    """CRDS variables for jobs: the shared cache, the pinned context, never the network."""
    return {
        "CRDS_PATH": str(Path(crds_path).resolve()),
        "CRDS_CONTEXT": context,
        "CRDS_MODE": "local",
        "CRDS_SERVER_URL": OFFLINE_SERVER_URL,
    }


def sync_environment(crds_path: str, context: str, server_url: str) -> dict[str, str]:
    """CRDS variables for the sync: the shared cache (writable), the pinned context, the server,
    best references computed by the server."""
    return {
        "CRDS_PATH": str(Path(crds_path).resolve()),
        "CRDS_CONTEXT": context,
        "CRDS_MODE": "remote",
        "CRDS_SERVER_URL": server_url,
    }


def dataset_parameters(uncal: str | Path) -> dict[str, Any]:
    """The UNCAL's CRDS matching parameters from its header, through the datamodel (what stpipe
    passes to CRDS: ``meta.instrument.detector``, ``meta.exposure.readpatt``, ...)."""
    from stdatamodels.jwst import datamodels

    try:
        with datamodels.open(str(uncal)) as model:
            return dict(model.get_crds_parameters())
    except Exception as error:
        raise CrdsSyncError(
            f"{Path(uncal).name}: cannot read its CRDS parameters ({error}). The UNCAL is damaged: "
            "delete it and rerun Snakemake, which downloads it again."
        ) from error


def grizli_rewritten_parameters(parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters grizli's ``initialize_jwst_image`` looks references up with after it
    rewrites a WFSS exposure as imaging; None for an imaging exposure."""
    if str(parameters.get("meta.exposure.type", "")).upper() != "NIS_WFSS":
        return None
    return {**parameters, "meta.exposure.type": "NIS_IMAGE", "meta.instrument.filter": "CLEAR"}


def pars_reftypes() -> list[str]:
    """``pars-*`` types Detector1Pipeline.call asks CRDS for: its own and every step's."""
    from jwst.pipeline import Detector1Pipeline

    types = [Detector1Pipeline.get_config_reftype()]
    types += [cls.get_config_reftype() for cls in Detector1Pipeline.step_defs.values()]
    return sorted(set(types))


def detector1_reftypes(
    parameters: Mapping[str, Any], steps: Mapping[str, Mapping], crds_pars: bool = True
) -> list[str]:
    """The reference types Detector1 prefetches for this dataset with our ``steps`` parameters
    merged over its CRDS step parameters (``pars-*``, which may unskip a step), as ``.call`` does.
    Needs the ``pars-*`` files in the cache (the sync fetches them first); ``crds_pars=False``:
    our parameters only (when those files could not be had)."""
    from astropy.extern.configobj.configobj import ConfigObj
    from jwst.pipeline import Detector1Pipeline
    from stpipe import config_parser

    config = Detector1Pipeline.get_config_from_reference(
        dict(parameters), disable=not crds_pars, crds_observatory=OBSERVATORY
    )
    ours = ConfigObj()
    ours["steps"] = {name: dict(pars) for name, pars in steps.items()}
    config_parser.merge_config(config, ours)
    pipeline = Detector1Pipeline.from_config_section(config, name="Detector1Pipeline")
    return sorted(set(pipeline.reference_file_types))


class _Sync:
    """One sync: the client's answers and downloads, what was verified, what is missing."""

    def __init__(self, context: str):
        import crds
        from crds.client import api

        self.crds, self.api, self.context = crds, api, context
        self.catalog: dict[str, dict] = {}
        self.verified: dict[str, dict] = {}
        self.gaps: list[str] = []

    def locate(self, name: str) -> Path:
        from crds.core import config

        return Path(config.locate_file(name, observatory=OBSERVATORY))

    def catalog_entries(self, names: Iterable[str]) -> None:
        wanted = sorted(set(names) - set(self.catalog))
        if wanted:
            self.catalog.update(
                self.api.get_file_info_map(OBSERVATORY, files=wanted, fields=["size", "sha1sum"])
            )

    def problem(self, name: str) -> str | None:
        """Why the cached ``name`` is not the file the server lists, or None."""
        from crds.core import utils

        entry = self.catalog.get(name)
        if not isinstance(entry, dict):
            return "the server's catalogue does not list it"
        path = self.locate(name)
        if not path.is_file():
            return "it was not downloaded (the server did not deliver it)"
        size = path.stat().st_size
        if size != int(entry["size"]):
            return f"{path} has {size} bytes, the server lists {entry['size']}"
        if (
            entry.get("sha1sum") not in (None, "", "none")
            and utils.checksum(path) != entry["sha1sum"]
        ):
            return f"{path} has sha1 {utils.checksum(path)}, the server lists {entry['sha1sum']}"
        return None

    def fetch(self, names: Iterable[str]) -> dict[str, str]:
        """Download what is not cached, verify all; re-fetch a cached file that does not match.
        Returns {name: problem} for the files still wrong."""
        names = sorted(set(names) - set(self.verified))
        if not names:
            return {}
        self.catalog_entries(names)
        self.api.dump_files(self.context, files=names, raise_exceptions=False)
        problems = {n: p for n in names if (p := self.problem(n))}
        stale = [n for n in problems if self.locate(n).is_file()]
        if stale:
            for name in stale:
                log.warning(
                    "cached %s does not match CRDS (%s): fetching it again", name, problems[name]
                )
                self.locate(name).unlink()
            self.api.dump_files(self.context, files=stale, raise_exceptions=False)
            problems = {n: p for n in names if (p := self.problem(n))}
        for name in names:
            if name not in problems:
                entry = self.catalog[name]
                self.verified[name] = {
                    "path": str(self.locate(name)),
                    "size": int(entry["size"]),
                    "sha1sum": entry["sha1sum"],
                }
                if name.endswith(".fits"):
                    self.verified[name]["data_mb"] = round(fits_data_mb(self.locate(name)), 3)
        return problems

    def best_references(self, exposure: str, parameters: Mapping, reftypes: Iterable[str]) -> dict:
        """The server's answer, downloaded and verified: {type: file name or "N/A"}; gaps noted."""
        reftypes = sorted(set(reftypes))
        try:
            answer = self.crds.getrecommendations(
                dict(parameters), reftypes=reftypes, context=self.context, observatory=OBSERVATORY
            )
        except self.crds.CrdsError as error:
            self.gaps.append(f"{exposure}: types {', '.join(reftypes)}: CRDS failed: {error}")
            return {}
        found = {}
        for reftype in reftypes:
            value = str(answer.get(reftype, "NOT FOUND: not in the server's answer"))
            if value.upper().startswith("NOT FOUND"):
                if "n/a" in value.lower():
                    found[reftype] = "N/A"
                else:
                    self.gaps.append(f"{exposure}: {reftype}: no reference ({value})")
            else:
                found[reftype] = value
        problems = self.fetch(v for v in found.values() if v != "N/A")
        for reftype, name in found.items():
            if name in problems:
                self.gaps.append(f"{exposure}: {reftype}: {name}: {problems[name]}")
        self.check_offline(exposure, parameters, found)
        return found

    def check_offline(self, exposure: str, parameters: Mapping, found: Mapping[str, str]) -> None:
        """The cached mappings must give the jobs (local mode) the server's answers."""
        from crds.core import heavy_client

        local = heavy_client.hv_best_references(self.context, dict(parameters), list(found))
        for reftype, name in found.items():
            offline = str(local.get(reftype, "NOT FOUND"))
            offline = "N/A" if "n/a" in offline.lower() else offline
            if offline != name:
                self.gaps.append(
                    f"{exposure}: {reftype}: the cached rules of {self.context} give {offline!r}, "
                    f"the server {name!r}"
                )


def sync_exposures(
    uncals: Iterable[str | Path],
    crds_path: str,
    context: str,
    server_url: str,
    steps: Mapping[str, Mapping] | None = None,
) -> dict:
    """Fetch and verify every CRDS file the ``uncals`` need (see the module docstring).

    ``steps`` are the Detector1 step parameters of the workflow (``Stage1Settings.
    step_parameters()``). Returns the record; raises :class:`CrdsSyncError` listing every gap.
    Call it in a process that has not used crds yet (crds reads its settings once).
    """
    os.environ.update(sync_environment(crds_path, context, server_url))
    os.environ.pop("CRDS_READONLY_CACHE", None)  # the sync writes the shared cache
    uncals = [Path(u) for u in uncals]
    sync = _Sync(context)
    from crds.core import heavy_client

    sync.api.set_crds_server(server_url)  # crds read CRDS_SERVER_URL when first imported
    try:
        info = heavy_client.get_config_info(OBSERVATORY)
        mappings = sync.api.get_mapping_names(context)
    except (Exception, SystemExit) as error:  # crds exits when it has neither server nor cache
        raise CrdsSyncError(
            f"cannot reach the CRDS server {server_url} for context {context} ({error}). Check "
            "crds.server_url and crds.context in the config and the network of this host, then "
            "rerun Snakemake."
        ) from error
    mapping_problems = sync.fetch(mappings)
    if mapping_problems:
        raise CrdsSyncError(
            f"CRDS context {context} from {server_url}: mappings missing or corrupt: "
            + "; ".join(f"{n}: {p}" for n, p in sorted(mapping_problems.items()))
            + ". Rerun Snakemake; if it persists, the server or the cache is damaged."
        )
    info = dict(info, last_synced=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))
    info.pop("download_metadata", None)  # large for a real server; only downloads need it
    heavy_client.cache_server_info(heavy_client.ConfigInfo(info), OBSERVATORY)

    steps = dict(steps or {})
    exposures = {}
    for uncal in uncals:
        exposure = exposure_of(uncal.name)
        parameters = dataset_parameters(uncal)
        gaps = len(sync.gaps)
        found = sync.best_references(exposure, parameters, pars_reftypes())
        # Without its pars-* files stpipe would fail to read them: go on with ours, to name
        # every other gap too.
        stage1 = detector1_reftypes(parameters, steps, crds_pars=len(sync.gaps) == gaps)
        found.update(sync.best_references(exposure, parameters, [*stage1, *GRIZLI_REFTYPES]))
        rewritten = grizli_rewritten_parameters(parameters)
        grizli_imaging = {}
        if rewritten is not None:
            grizli_imaging = sync.best_references(
                exposure + " (as grizli rewrites it)", rewritten, GRIZLI_REWRITTEN_REFTYPES
            )
        exposures[exposure] = {
            "uncal": uncal.name,
            "stage1_reftypes": stage1,
            "references": dict(sorted(found.items())),
            **({"grizli_rewritten": grizli_imaging} if rewritten is not None else {}),
        }
        log.info(
            "%s: %d files verified (%d types N/A)",
            exposure,
            sum(v != "N/A" for v in found.values()),
            sum(v == "N/A" for v in found.values()),
        )
    if sync.gaps:
        raise CrdsSyncError(
            f"CRDS sync from {server_url} ({context}) incomplete, no record written:\n  "
            + "\n  ".join(sync.gaps)
            + "\nStage 1 would fail or run with other files offline. Check the server and the "
            "network, delete any file named above from the cache, and rerun Snakemake."
        )
    referenced = {n for e in exposures.values() for n in e["references"].values() if n != "N/A"}
    referenced |= {
        n for e in exposures.values() for n in e.get("grizli_rewritten", {}).values() if n != "N/A"
    }
    return {
        "version": RECORD_VERSION,
        "context": context,
        "server": server_url,
        "cache": str(Path(crds_path).resolve()),
        "exposures": exposures,
        "files": {n: sync.verified[n] for n in sorted(referenced)},
        "mappings": {n: sync.verified[n] for n in sorted(mappings)},
    }


def fits_data_mb(path: str | Path) -> float:
    """Size (MB) of a FITS file's images once read: tile-compressed HDUs count uncompressed
    (the synthetic references are GZIP tiles; a step holds the decompressed arrays)."""
    from astropy.io import fits

    total = 0
    with fits.open(path) as hdul:  # headers only: data are read lazily
        for hdu in hdul:
            if isinstance(hdu, fits.ImageHDU | fits.PrimaryHDU | fits.CompImageHDU):
                header = hdu.header
                count = 1
                for axis in range(1, int(header.get("NAXIS", 0)) + 1):
                    count *= int(header.get(f"NAXIS{axis}", 0))
                if header.get("NAXIS", 0):
                    total += count * abs(int(header["BITPIX"])) // 8
    return total / 1e6


# What Stage 1 holds of a reference besides the exposure: the dark step keeps the dark model and
# a copy averaged to the exposure's groups (jwst #8667: +4-5 GB for a ~4 GB NIRISS dark). Only
# what a dark holds beyond the 20-group synthetic one (352 MB once read) is added: the request's
# base (resources.stage1_mem_mb) was fitted with that dark. bench/stage1_dark_memory.py measured
# +1485 MB of peak for a 2198 MB dark (130 groups) over the 352 MB one: 0.8 per MB; 1.2 keeps
# the request at 1.2-1.4x the peak (bench/RESULTS.md).
STAGE1_REFERENCE_COSTS = {"dark": 1.2}
STAGE1_FITTED_REFERENCE_MB = {"dark": 352.0}


def stage1_reference_extra_mb(sizes: Mapping[str, float]) -> float:
    """Memory (MB) Stage 1 needs beyond its fitted base for references of ``sizes``
    ({reftype: in-memory MB}, e.g. {"dark": 4200.0})."""
    return sum(
        STAGE1_REFERENCE_COSTS[reftype] * max(0.0, mb - STAGE1_FITTED_REFERENCE_MB.get(reftype, 0))
        for reftype, mb in sizes.items()
        if reftype in STAGE1_REFERENCE_COSTS
    )


@functools.lru_cache(maxsize=64)
def _record_exposures(path: str, mtime_ns: int) -> dict[str, dict[str, float]]:
    """{exposure: {reftype: data MB}} of a sync record (read once per record version)."""
    record = json.loads(Path(path).read_text())
    files = record.get("files", {})
    return {
        exposure: {
            reftype: float(files.get(name, {}).get("data_mb", 0.0))
            for reftype, name in entry.get("references", {}).items()
            if reftype in STAGE1_REFERENCE_COSTS
        }
        for exposure, entry in record.get("exposures", {}).items()
    }


def stage1_reference_mb(record: str | Path | None, exposure: str) -> float:
    """Memory (MB) Stage 1 of ``exposure`` needs for its large references (the dark) beyond the
    fitted base, from their in-memory sizes in the field's sync record
    (:func:`stage1_reference_extra_mb`).

    0 without a record (``crds.sync: false``). A missing record file raises FileNotFoundError,
    which Snakemake takes for "input not there yet" and evaluates the request again later.
    """
    if not record:
        return 0.0
    path = Path(record)
    sizes = _record_exposures(str(path), path.stat().st_mtime_ns).get(exposure, {})
    return stage1_reference_extra_mb(sizes)


def write_sync_record(path: str | Path, record: Mapping) -> None:
    """The sync record, atomically (a failed sync leaves none)."""
    write_text(path, json.dumps(record, indent=1) + "\n")
