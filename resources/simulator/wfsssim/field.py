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
GR150C exposures, a second direct exposure dithered by a few pixels, at ``pa_aper``. PASSAGE-like
options (``make demo`` uses them, the tests' field does not): ``no_direct`` filters get only their
two grism exposures (the workflow models them from the nearest direct filter), and ``revisit``
filters get a second visit ``revisit_dpa`` degrees away (a direct image and both grisms, which
then disperse along other sky directions), ``REVISIT_DAYS`` later, as pure-parallel revisits are.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from wfsspipe.atomic import atomic_path, write_text
from wfsspipe.integrity import sha256_of

from . import crdscache, grismconf, instrument, ramps, render, scene

log = logging.getLogger(__name__)

PROGRAM = "09999"  # not a real JWST program: synthetic names can never collide with MAST's
PROPOSAL_ID = "9999"
MANIFEST = "manifest.json"
# 2: the CRDS context has pars-* files; 3: the ramps carry 1/f stripes (an older field is rebuilt)
MANIFEST_VERSION = 3
# Dither of the second direct image (arcsec along detector x, y): a few pixels, as in APT.
DITHER_ARCSEC = (0.46, 0.33)
# The second orient's visit starts this long after the first. grizli's combine_same_pa groups by
# observation + filter + element (not PA) and splits only at gaps > preprocess max_gap_days (0.5):
# the revisit becomes its own visits (jw001-nis-b-f150w-clear, ...) because of this gap.
REVISIT_DAYS = 2.0


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
    # Grism filters observed without a direct image of their own (e.g. ("F115W",)).
    no_direct: tuple[str, ...] = ()
    # Filters observed again at pa_aper + revisit_dpa (a second orient).
    revisit: tuple[str, ...] = ()
    revisit_dpa: float = 90.0
    # rms (DN) of each group's 1/f stripes (wfsssim.ramps); 0 leaves them out.
    one_over_f_dn: float = ramps.DEFAULT_ONE_OVER_F_DN

    def __post_init__(self):
        unknown = set(self.filters) - set(crdscache.BLOCKING_FILTERS)
        if unknown or not self.filters:
            raise ValueError(
                f"filters must be among {crdscache.BLOCKING_FILTERS}, got {self.filters}"
            )
        for name in ("no_direct", "revisit"):
            outside = set(getattr(self, name)) - set(self.filters)
            if outside:
                raise ValueError(f"{name} {sorted(outside)} not among filters {self.filters}")
        if set(self.no_direct) == set(self.filters):
            raise ValueError(
                f"no_direct {self.no_direct}: at least one filter needs a direct image"
            )
        if set(self.no_direct) & set(self.revisit):
            raise ValueError(
                f"a no_direct filter cannot be revisited: {self.no_direct}, {self.revisit}"
            )
        if not 1.0 <= abs(self.revisit_dpa) % 360.0 <= 359.0:
            raise ValueError(f"revisit_dpa must turn the field (>= 1 deg), got {self.revisit_dpa}")
        if not 0.0 <= self.one_over_f_dn <= 100.0:
            raise ValueError(f"one_over_f_dn must be 0 ... 100 DN, got {self.one_over_f_dn}")
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
    """The exposures of the field, in the order the pure-parallel visits take them: one visit per
    filter at ``pa_aper``, then the revisits at ``pa_aper + revisit_dpa``."""
    times = ramps.exposure_times(spec.ngroups, 1)
    visits = [(pupil, spec.pa_aper, pupil not in spec.no_direct, True) for pupil in spec.filters]
    second_pa = (spec.pa_aper + spec.revisit_dpa) % 360.0
    visits += [(pupil, second_pa, True, False) for pupil in spec.filters if pupil in spec.revisit]
    planned, start, activity = [], spec.mjd_start, 1
    for visit, (pupil, pa, direct, dither) in enumerate(visits, start=1):
        if visit == len(spec.filters) + 1:
            start = spec.mjd_start + REVISIT_DAYS
        for element, exp_type, (ra, dec) in _sequence(spec, pa, direct, dither):
            obs_id = f"jw{PROGRAM}{1:03d}{visit:03d}_02{1}{activity:02d}_00001_nis"
            planned.append(
                PlannedExposure(
                    obs_id, element, pupil, exp_type, ra, dec, pa, start, times["exposure_time"]
                )
            )
            start += (times["duration"] + 180.0) / 86400.0  # plus overheads between exposures
            activity += 2
    return planned


def _sequence(spec: FieldSpec, pa: float, direct: bool, dither: bool) -> list[tuple]:
    """(element, exp_type, pointing) of one visit: direct, GR150R, GR150C, dithered direct."""
    centre = (spec.ra, spec.dec)
    grisms = [("GR150R", "NIS_WFSS", centre), ("GR150C", "NIS_WFSS", centre)]
    if not direct:
        return grisms
    sequence = [("CLEAR", "NIS_IMAGE", centre), *grisms]
    if dither:
        wcs = instrument.exposure_wcs(spec.ra, spec.dec, pa)
        dx, dy = np.array(DITHER_ARCSEC) / instrument.PIXEL_SCALE_ARCSEC
        cx, cy = instrument.CRPIX[0] - 1, instrument.CRPIX[1] - 1
        moved = wcs.pixel_to_world_values(cx - dx, cy - dy)  # moves sources by +dx, +dy
        sequence.append(("CLEAR", "NIS_IMAGE", tuple(map(float, moved))))
    return sequence


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
            one_over_f_dn=spec.one_over_f_dn,
        )
        exposure.s_region = footprint(exposure)
        exposure.size = path.stat().st_size
        exposure.column_jump_row = injected.column_jump_rows[0] if injected.column_jump_rows else -1
        exposure.column_jump_group = injected.column_jump_group
        exposure.cosmic_rays = int(sum(injected.cosmic_rays))
        with atomic_path(output / "rates" / f"{exposure.obs_id}_truth_rate.fits") as tmp:
            _write_rate(tmp, rate, meta, injected.one_over_f_rate)
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


def _write_rate(path: Path, rate: np.ndarray, meta: dict, stripes=None) -> None:
    """The injected (noise-free) count rate, kept so tests can compare Stage 1 with the truth,
    and in ``ONEOVERF`` the injected 1/f stripes' rate (outputs x columns, DN/s; first
    integration), what a 1/f correction should remove."""
    from astropy.io import fits

    header = fits.Header()
    for key in ("OBS_ID", "FILTER", "PUPIL", "EXP_TYPE", "BUNIT"):
        header[key] = meta[key]
    hdus = [fits.PrimaryHDU(header=header), fits.ImageHDU(rate.astype(np.float32), name="SCI")]
    if stripes is not None:
        hdus.append(fits.ImageHDU(np.asarray(stripes[0], np.float32), name="ONEOVERF"))
    fits.HDUList(hdus).writeto(path, overwrite=True)


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
    """``config.yaml``: the workflow keys of this field: its CRDS cache, its grizli configuration,
    its alignment catalogue (offline: no remote catalogues, no MAST pointing query) and the
    imaging throughputs its magnitudes were made with (``filters/{filter}.dat``, for
    ``zfit.photometry``: sedpy's real NIRISS curves differ from them by up to 0.3 mag where a
    line sits on a filter edge).

    Where the fields table and products go, and the archive server's URL, are the runner's choice
    (``resources/scripts/demo.py`` adds them).
    """
    import yaml

    throughputs = grismconf.write_throughputs(output / "filters")
    config = {
        "grizli": {"path": str(output / "GRIZLI"), "pure_parallel_wcs": False},
        # GRIZLI/ is complete as written: rule grizli_config verifies and records it, no sources.
        "grizli_config": grismconf.SYNTHETIC_GRIZLI_CONFIG,
        "preprocess": {"alignment": {"remote_catalogs": [], "catalog": str(output / "radec.txt")}},
        "zfit": {"photometry": {"filters": throughputs}},
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
    for name in ("filters", "no_direct", "revisit"):
        values[name] = list(values[name])
    # Options left at their defaults stay out: a field made before they existed is reused.
    for name in ("no_direct", "revisit", "revisit_dpa"):
        if getattr(spec, name) == getattr(FieldSpec, name):
            del values[name]
    return values


def _versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("numpy", "jwst", "grizli", "crds", "astropy")}
