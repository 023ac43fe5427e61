"""The extraction limit: how faint a source extract cuts out, and how contam derives it.

``extract.mag_limit``, ``extract.limit`` and ``extract.bright_limit`` (:class:`LimitSettings`)
are extract's settings, but the limit they set is derived by the contam stage, which has the
catalogue and the visit table at hand, and written to its manifest (:func:`extraction_limit`;
the method is step 7 of :mod:`wfsspipe.contam`); extract reads it from there. Both stages import
this module and it imports neither: contam cannot import extract, which reads contam's manifest
(:func:`wfsspipe.contam.read_manifest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LimitSettings:
    """``extract.mag_limit`` and ``extract.limit`` (how the extraction limit is derived), and
    ``extract.bright_limit`` (sources at least this bright are not extracted)."""

    mag_limit: float | None = None
    direct_snr: float = 5.0
    dispersion_penalty_mag: float = 2.0
    bright_limit: float = 16.0

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> LimitSettings:
        limit = section["limit"]
        value = section["mag_limit"]
        return cls(
            mag_limit=None if value is None else float(value),
            direct_snr=float(limit["direct_snr"]),
            dispersion_penalty_mag=float(limit["dispersion_penalty_mag"]),
            bright_limit=float(section["bright_limit"]),
        )


def catalog_depth(mag: np.ndarray, mag_err: np.ndarray, snr: float) -> float | None:
    """IR magnitude at which the detection S/N (1.0857/magerr) reaches ``snr``.

    A straight line in (mag, log10 S/N) is fitted to the fainter half of the well-measured
    sources (background-limited sources follow S/N ~ 10^(-0.4 m)); None when there are too few.
    """
    mag = np.asarray(mag, float)
    err = np.asarray(mag_err, float)
    ok = np.isfinite(mag) & np.isfinite(err) & (err > 0) & (mag < 90)
    if ok.sum() < 4:
        return None
    mag, log_snr = mag[ok], np.log10(1.0857 / err[ok])
    faint = mag >= np.median(mag)
    if faint.sum() < 3 or np.ptp(mag[faint]) < 0.3:
        faint = np.ones_like(mag, bool)
    slope, intercept = np.polyfit(mag[faint], log_snr[faint], 1)
    if not np.isfinite(slope) or slope >= 0:
        return None
    return float((np.log10(snr) - intercept) / slope)


def extraction_limit(
    catalog, visits, settings: LimitSettings, references: Mapping[str, str] | None = None
) -> tuple[float | None, dict[str, Any]]:
    """The extraction magnitude limit and a record of how it was made (:mod:`wfsspipe.contam`,
    step 7).

    ``references`` maps a grism filter to the direct filter it is modelled from (its own unless
    the field has no direct image in it); the time term compares with that filter's direct time.
    """
    references = references or {}
    if settings.mag_limit is not None:
        return settings.mag_limit, {"method": "config extract.mag_limit"}
    depth = catalog_depth(catalog["MAG_AUTO"], catalog["MAGERR_AUTO"], settings.direct_snr)
    grism = visits[visits["kind"] == "grism"]
    direct = visits[visits["kind"] == "direct"]
    time_terms = {}
    for filt in sorted(set(grism["filter"])):
        t_grism = float(np.sum(grism["exptime"][grism["filter"] == filt]))
        reference = references.get(filt, filt)
        t_direct = float(np.sum(direct["exptime"][direct["filter"] == reference]))
        if t_grism > 0 and t_direct > 0:
            time_terms[filt] = 1.25 * np.log10(t_grism / t_direct)
    record = {
        "method": "catalogue depth + exposure times",
        "direct_snr": settings.direct_snr,
        "catalog_depth": depth,
        "time_terms": {k: round(float(v), 4) for k, v in time_terms.items()},
        "dispersion_penalty_mag": settings.dispersion_penalty_mag,
    }
    if depth is None:
        record["method"] = "none: too few catalogue sources to measure the depth"
        return None, record
    # The deepest grism filter sets the limit: a source seen there is worth extracting.
    time_term = max(time_terms.values()) if time_terms else 0.0
    return float(depth + time_term - settings.dispersion_penalty_mag), record
