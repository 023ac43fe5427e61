"""Generate the synthetic NIRISS WFSS field: everything the workflow needs, in one folder.

``simulate_field(output, seed)`` writes, deterministically from the seed:

```
crds_cache/        a real local CRDS cache (mappings + NIRISS references), see crdscache.py
GRIZLI/            grizli's CONF (aXe confs, sensitivities, WFSS sky flats) and templates
truth.ecsv         the scene: id, ra, dec, z, kind, magnitudes, line fluxes
radec.txt          alignment catalogue for grizli (ra dec of the bright truth sources)
archive/           the UNCAL files, named as MAST names them, for the archive server
observations.ecsv  the exposures as Observations.query_criteria returns them (+ size)
exposures.ecsv     the plan: obs_id, filter, pupil, pointing, and what was injected
config.yaml        workflow config overlay: the synthetic CRDS cache (see write_workflow_config)
manifest.json      parameters, versions and checksums; written last (it marks a finished field)
```

A survey-like pure-parallel visit per blocking filter: a direct (CLEAR) exposure, the GR150R and
GR150C exposures, a second direct exposure dithered by a few pixels. All at one position angle.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..atomic import atomic_path, write_text
from ..download import sha256_of
from . import crdscache, grismconf, instrument, ramps, render, scene

log = logging.getLogger(__name__)

PROGRAM = "09999"  # not a real JWST program: synthetic names can never collide with MAST's
PROPOSAL_ID = "9999"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: the CRDS context has pars-* files (a reused older field is rebuilt)
# Dither of the second direct image (arcsec along detector x, y): a few pixels, as in APT.
DITHER_ARCSEC = (0.46, 0.33)


@dataclass(frozen=True)
class FieldSpec:
    """What to simulate. Defaults are the demo; the tests use fewer filters and groups."""

    seed: int = 1
    ra: float = 150.1  # Sextans, in COSMOS: far from RA 0 and the poles
    dec: float = 2.2
    pa_aper: float = 35.0
    filters: tuple[str, ...] = ("F150W", "F200W")
    ngroups: int = 10
    n_emitters: int = 12
    n_continuum: int = 3
    n_stars: int = 3
    mjd_start: float = 60400.25
    radec_max_mag: float = 24.5
    # Side of the square (RA/Dec) the sources are placed in: at any PA it stays inside the
    # 134" detector (a 90" square reaches 64" from the centre), so every source is observed.
    scene_arcsec: float = 90.0

    def __post_init__(self):
        unknown = set(self.filters) - set(crdscache.BLOCKING_FILTERS)
        if unknown or not self.filters:
            raise ValueError(
                f"filters must be among {crdscache.BLOCKING_FILTERS}, got {self.filters}"
            )
        if self.ngroups < 7:
            raise ValueError(
                f"ngroups must be >= 7 (columnjump does nothing at <= 6), got {self.ngroups}"
            )


@dataclass
class PlannedExposure:
    obs_id: str
    filter: str
    pupil: str
    exp_type: str
    ra_ref: float
    dec_ref: float
    pa_aper: float
    expstart: float
    exptime: float
    s_region: str = ""
    size: int = 0
    column_jump_row: int = -1
    column_jump_group: int = -1
    cosmic_rays: int = 0
    extra: dict = field(default_factory=dict)


def plan_exposures(spec: FieldSpec) -> list[PlannedExposure]:
    """The exposures of the field, in the order a pure-parallel visit takes them."""
    times = ramps.exposure_times(spec.ngroups, 1)
    wcs = instrument.exposure_wcs(spec.ra, spec.dec, spec.pa_aper)
    dx, dy = np.array(DITHER_ARCSEC) / instrument.PIXEL_SCALE_ARCSEC
    cx, cy = instrument.CRPIX[0] - 1, instrument.CRPIX[1] - 1
    dithered = wcs.pixel_to_world_values(
        cx - dx, cy - dy
    )  # pointing that moves sources by +dx, +dy
    sequence = [("CLEAR", "NIS_IMAGE", (spec.ra, spec.dec)), ("GR150R", "NIS_WFSS", (spec.ra, spec.dec)),
                ("GR150C", "NIS_WFSS", (spec.ra, spec.dec)), ("CLEAR", "NIS_IMAGE", tuple(map(float, dithered)))]  # fmt: skip
    planned, start, activity = [], spec.mjd_start, 1
    for visit, pupil in enumerate(spec.filters, start=1):
        for element, exp_type, (ra, dec) in sequence:
            obs_id = f"jw{PROGRAM}{1:03d}{visit:03d}_02{1}{activity:02d}_00001_nis"
            planned.append(
                PlannedExposure(
                    obs_id,
                    element,
                    pupil,
                    exp_type,
                    ra,
                    dec,
                    spec.pa_aper,
                    start,
                    times["exposure_time"],
                )
            )
            start += (times["duration"] + 180.0) / 86400.0  # plus overheads between exposures
            activity += 2
    return planned


def footprint(exposure: PlannedExposure) -> str:
    wcs = instrument.exposure_wcs(exposure.ra_ref, exposure.dec_ref, exposure.pa_aper)
    n = instrument.DETECTOR_SHAPE[0]
    ra, dec = wcs.pixel_to_world_values(
        [-0.5, n - 0.5, n - 0.5, -0.5], [-0.5, -0.5, n - 0.5, n - 0.5]
    )
    return "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec))


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def simulate_field(output: str | Path, spec: FieldSpec = FieldSpec(), force: bool = False) -> dict:
    """Generate the field under ``output`` (or reuse it when its manifest matches ``spec``)."""
    output = Path(output)
    manifest_path = output / MANIFEST
    wanted = {"version": MANIFEST_VERSION, "spec": _spec_dict(spec)}
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        if {k: manifest.get(k) for k in wanted} == wanted:
            log.info("reusing the synthetic field in %s (seed %d)", output, spec.seed)
            write_workflow_config(output, manifest["context"])  # cheap; follows this code's keys
            return manifest
        log.info("%s holds a field made with other parameters: regenerating", output)
    manifest_path.unlink(missing_ok=True)  # from here on the folder is incomplete until the end
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    log.info("building the synthetic CRDS cache")
    context = crdscache.build_crds_cache(
        output / "crds_cache", filters=spec.filters, seed=spec.seed, dark_ngroups=spec.ngroups
    )
    log.info("writing the synthetic grizli configuration")
    grismconf.write_grizli_config(output / "GRIZLI", filters=spec.filters)

    truth = scene.make_scene(
        spec.seed,
        spec.ra,
        spec.dec,
        n_emitters=spec.n_emitters,
        n_continuum=spec.n_continuum,
        n_stars=spec.n_stars,
        field_arcsec=spec.scene_arcsec,
    )
    with atomic_path(output / "truth.ecsv") as tmp:
        truth.write(tmp, format="ascii.ecsv", overwrite=True)
    render.write_radec_catalog(truth, output / "radec.txt", max_mag=spec.radec_max_mag)

    archive = output / "archive"
    archive.mkdir(exist_ok=True)
    planned = plan_exposures(spec)
    for old in archive.glob("*_uncal.fits"):
        if old.name not in {f"{p.obs_id}_uncal.fits" for p in planned}:
            old.unlink()
    for number, exposure in enumerate(planned):
        flat = crdscache.read_flat(output / "crds_cache", exposure.pupil)
        rate, meta = render.render_exposure(
            truth, asdict_exposure(exposure), output / "GRIZLI", pixel_flat=flat
        )
        meta.update(OBS_ID=exposure.obs_id, EXPSTART=exposure.expstart)
        path = archive / f"{exposure.obs_id}_uncal.fits"
        injected = ramps.write_uncal(
            path,
            rate,
            meta,
            _rng(spec.seed, 100 + number),
            ngroups=spec.ngroups,
            crds_root=output / "crds_cache",
        )
        exposure.s_region = footprint(exposure)
        exposure.size = path.stat().st_size
        exposure.column_jump_row = injected.column_jump_rows[0] if injected.column_jump_rows else -1
        exposure.column_jump_group = injected.column_jump_group
        exposure.cosmic_rays = int(sum(injected.cosmic_rays))
        with atomic_path(output / "rates" / f"{exposure.obs_id}_truth_rate.fits") as tmp:
            _write_rate(tmp, rate, meta)
        log.info(
            "wrote %s (%s %s/%s, %.0f MB)",
            path.name,
            exposure.exp_type,
            exposure.filter,
            exposure.pupil,
            exposure.size / 1e6,
        )

    write_table(planned, output / "exposures.ecsv", observations=False)
    write_table(planned, output / "observations.ecsv", observations=True)
    write_workflow_config(output, context)
    manifest = {
        **wanted,
        "context": context,
        "exposures": [p.obs_id for p in planned],
        "checksums": {p.name: sha256_of(p) for p in sorted(archive.glob("*_uncal.fits"))},
        "seconds": round(time.perf_counter() - started, 1),
        "versions": _versions(),
    }
    write_text(manifest_path, json.dumps(manifest, indent=1) + "\n")
    log.info("synthetic field ready in %s (%.0f s)", output, manifest["seconds"])
    return manifest


def asdict_exposure(exposure: PlannedExposure) -> dict:
    return {
        k: getattr(exposure, k)
        for k in ("ra_ref", "dec_ref", "pa_aper", "filter", "pupil", "exp_type")
    }


def _write_rate(path: Path, rate: np.ndarray, meta: dict) -> None:
    """The injected (noise-free) count rate, kept so tests can compare Stage 1 with the truth."""
    from astropy.io import fits

    header = fits.Header()
    for key in ("OBS_ID", "FILTER", "PUPIL", "EXP_TYPE", "BUNIT"):
        header[key] = meta[key]
    fits.HDUList(
        [fits.PrimaryHDU(header=header), fits.ImageHDU(rate.astype(np.float32), name="SCI")]
    ).writeto(path, overwrite=True)


def write_table(planned: list[PlannedExposure], path: Path, observations: bool) -> None:
    """The plan (``exposures.ecsv``) or the MAST-format observation table (``observations.ecsv``)."""
    if not observations:
        rows = [{k: v for k, v in asdict(p).items() if k != "extra"} for p in planned]
        table = Table(rows=rows)
    else:
        rows = []
        for p in planned:
            grism = p.exp_type == "NIS_WFSS"
            band = [edge / 10.0 for edge in grismconf.FILTER_EDGES_ANGSTROM[p.pupil]]  # nm
            rows.append({
                "intentType": "science", "obs_collection": "JWST", "provenance_name": "CALJWST",
                "instrument_name": "NIRISS/WFSS" if grism else "NIRISS/IMAGE", "project": "JWST",
                "filters": f"{p.filter};{p.pupil}", "wavelength_region": "INFRARED",
                "target_name": "PARALLEL_FIELD", "target_classification": "", "obs_id": p.obs_id,
                "s_ra": p.ra_ref, "s_dec": p.dec_ref, "dataproduct_type": "spectrum" if grism else "image",
                "proposal_pi": "Synthetic, Field", "calib_level": 2, "t_min": p.expstart,
                "t_max": p.expstart + p.exptime / 86400.0, "t_exptime": p.exptime,
                "em_min": band[0], "em_max": band[1], "obs_title": "Synthetic NIRISS WFSS pure parallel",
                "t_obs_release": p.expstart + 1.0, "proposal_id": PROPOSAL_ID, "proposal_type": "GO",
                "sequence_number": -1, "s_region": p.s_region, "jpegURL": "",
                "dataURL": f"mast:JWST/product/{p.obs_id}_cal.fits", "dataRights": "PUBLIC",
                "mtFlag": False, "srcDen": np.nan, "obsid": str(90000000 + len(rows)),
                "objID": str(590000000 + len(rows)),
                # Not in query_criteria's answer but in get_product_list's: the UNCAL's size.
                "dataURI": f"mast:JWST/product/{p.obs_id}_uncal.fits", "size": p.size,
            })  # fmt: skip
        table = Table(rows=rows)
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def write_workflow_config(output: Path, context: str) -> None:
    """``config.yaml``: the workflow keys of this field: its CRDS cache, its grizli configuration and
    its alignment catalogue (offline: no remote catalogues, no MAST pointing query).

    Where the fields table and products go, and the archive server's URL, are the runner's choice
    (``resources/scripts/demo.py`` adds them).
    """
    import yaml

    config = {
        "grizli": {"path": str(output / "GRIZLI"), "pure_parallel_wcs": False},
        # GRIZLI/ is complete as written: rule grizli_config verifies and records it, no sources.
        "grizli_config": grismconf.SYNTHETIC_GRIZLI_CONFIG,
        "preprocess": {"alignment": {"remote_catalogs": [], "catalog": str(output / "radec.txt")}},
        "crds": {
            "path": str(output / "crds_cache"),
            "context": context,
            "server_url": "https://jwst-crds.stsci.edu",
            "sync": False,
        },  # fmt: skip
    }
    write_text(
        output / "config.yaml",
        "# Written by simulateField.py: the synthetic field.\n"
        + yaml.safe_dump(config, sort_keys=False),
    )


def _spec_dict(spec: FieldSpec) -> dict:
    values = asdict(spec)
    values["filters"] = list(spec.filters)
    return values


def _versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("numpy", "jwst", "grizli", "crds", "astropy")}
