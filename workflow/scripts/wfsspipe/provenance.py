"""The provenance record of a field: what made its products, from what, with which settings.

``{fields_dir}/{field}/{field}_provenance.json`` (rule ``provenance``, written atomically):

* ``packages``: versions of the science stack in the job's environment (jwst, grizli, crds,
  stcal, columnjump, drizzlepac, numpy, astropy, ...) and Python's;
* ``crds``: the configured context and cache, and the contexts Stage 1 actually used
  (``CRDS_CTX`` of every RATE file);
* ``config``: the whole configuration and its SHA-256 (of the canonical JSON), so two runs with
  the same hash used the same settings;
* ``inputs``: the fields table (path, SHA-256) and the field's exposures (obs_id, file, data
  URI, size from the table; RATE file size, SHA-256 and the Stage 1 keywords);
* ``results``: the redshift table's SHA-256 and its counts (sources fitted, good, failed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import socket
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_text
from .fieldtable import load_field_table
from .integrity import sha256_of

PACKAGES = [
    "jwst", "grizli", "crds", "stcal", "stdatamodels", "columnjump", "drizzlepac", "numpy",
    "scipy", "astropy", "photutils", "sep", "snakemake", "fitsmap",
]  # fmt: skip
RATE_KEYWORDS = ["CRDS_CTX", "CAL_VER", "S_COLJMP", "COLJMPN", "S_JUMP", "S_RAMP"]


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def config_hash(config: Mapping[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def rate_record(path: Path) -> dict[str, Any]:
    from astropy.io import fits

    header = fits.getheader(path, 0)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        **{key.lower(): header.get(key) for key in RATE_KEYWORDS},
    }


def build_record(
    field_name: str,
    config: Mapping[str, Any],
    fields_csv: str | os.PathLike,
    rates: Sequence[str | os.PathLike],
    results: str | os.PathLike,
    visits: str | os.PathLike,
) -> dict[str, Any]:
    """The field's record; ``visits`` its visit table (Prep/), whose alignment of each visit
    the record keeps (how absolute astrometry was set: remote catalogue, local file, self)."""
    import pandas as pd
    from astropy.table import Table

    from .preprocess import visit_alignment

    # The loader the workflow uses: a table that breaks the schema fails here, naming the file.
    table = load_field_table(fields_csv)
    rows = [table.row(field_name, exposure) for exposure in table.exposures(field_name)]
    exposures = [
        {key: (None if pd.isna(row.get(key)) else row.get(key))
         for key in ("obs_id", "filename", "dataURI", "size", "filter", "pupil", "exp_type")}
        for row in rows
    ]  # fmt: skip
    rate_records = [rate_record(Path(p)) for p in sorted(rates)]
    redshifts = Table.read(results)
    status = list(redshifts["status"]) if len(redshifts) else []
    return {
        "field": field_name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "packages": package_versions(),
        "crds": {
            "context": config["crds"]["context"],
            "path": str(config["crds"]["path"]),
            "rate_contexts": sorted({str(r["crds_ctx"]) for r in rate_records if r["crds_ctx"]}),
        },
        "config_sha256": config_hash(config),
        "config": json.loads(json.dumps(config, default=str)),
        "inputs": {
            "fields_csv": {"path": str(fields_csv), "sha256": sha256_of(fields_csv)},
            "exposures": json.loads(json.dumps(exposures, default=str)),
            "rates": rate_records,
            "visits": {"file": Path(visits).name, "sha256": sha256_of(visits)},
        },
        "alignment": visit_alignment(visits),
        "results": {
            "file": Path(results).name,
            "sha256": sha256_of(results),
            "sources": len(redshifts),
            "fitted": status.count("ok"),
            "failed": status.count("failed"),
            "good": int(sum(q == 2 for q in redshifts["quality"])) if len(redshifts) else 0,
        },
    }


def write_record(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    write_text(path, json.dumps(record, indent=2, sort_keys=False, default=str) + "\n")
