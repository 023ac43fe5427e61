"""Synthetic NIRISS UNCAL ramps (level-1b, uint16) from a count-rate image.

:func:`write_uncal` turns a 2048x2048 rate image (DN/s as the detector records it: the scene
times the pixel flat, sky included; see ``render.render_rate(pixel_flat=crdscache.read_flat(...))``)
into a full-frame NIS ``Level1bModel`` that jwst ``Detector1Pipeline`` (+ ``columnjump``) turns back
into that rate, using the reference files of the synthetic CRDS cache (:mod:`.crdscache`), which it
reads so that injection and correction use identical numbers.

Detector model, per integration and group ``g`` (NIS: NFRAMES=4 frames averaged per group, no
skipped frames, TFRAME=10.73677 s, TGROUP=42.94708 s; frame ``j`` is read ``j*TFRAME`` after the
reset):

* Charge (electrons) accumulates from ``(rate + dark) * gain`` with Poisson statistics: the
  electrons arriving during a group's 4 frames are drawn from a Poisson law; their contribution to
  the group *average* (weights 1, 3/4, 1/2, 1/4 by arrival frame) is drawn from its exact mean and
  variance given that count (normal approximation of a multinomial split; exact first two moments).
  The dark rate is the dark reference divided by :func:`instrument.group_mean_times`.
* Cosmic rays: Poisson(``cosmic_rays``) hits per integration at random pixels and frames, 300 e- to
  30000 e- (a quarter of them spill 10% into their 4 neighbours); the group in which one arrives
  sees the fraction of its frames read after the hit.
* Signal in DN = electrons / gain, made non-linear with the exact inverse of the linearity
  reference (``corrected = raw + c2 raw**2``), plus the superbias, a per-output bias offset and
  per-group drift (removed by refpix), and read noise of ``readnoise / sqrt(2 * NFRAMES)`` per group
  (the jwst readnoise reference is CDS noise; averaging 4 frames of noise ``rn/sqrt(2)`` each).
* 1/f (flicker) noise of the readout electronics, drawn afresh for every group: each output reads
  its 512 DMS rows along the fast axis (DMS y) one DMS column at a time, so noise slower than one
  column's read is an offset constant along y within an output and varying from column to column
  (vertical stripes in DMS orientation, what jwst ``clean_flicker_noise`` fits by channel). Per
  group and output, the offsets along x are a random series with a 1/f power spectrum (0 at zero
  frequency, where refpix's drift is), half common to the four outputs and half their own, scaled
  to ``one_over_f_dn`` rms (DN), on every pixel of the column, reference pixels included.
  :attr:`RampTruth.one_over_f_rate` is their effect on the rate (the least-squares slope of each
  output-column's offsets over the groups, DN/s), the stripes a correction should remove.
* Reference pixels (4-pixel frame) and dead pixels collect no charge.
* One column jump: a whole detector column (a DMS *row*: NIRISS DMS frame is the detector frame
  rotated 180 deg and transposed) steps by ``column_jump_dn`` from group ``column_jump_group`` on,
  including its 8 reference pixels (DMS x = 0-3 and 2044-2047), which is what ``columnjump`` reads.
  ``columnjump`` 1.1.1 only searches steps starting at groups 4 ... NGROUPS-3 (0-based) and does
  nothing at NGROUPS <= 6; its correction is ``S (n-j)/(n-j+1)`` for a step ``S`` at group ``j``
  of ``n`` (its one-break model is offset by one group), so ``S/(n-j+1)`` remains.
* Values are rounded and clipped to 0..65535 (uint16).

Everything is drawn from the ``rng`` passed in, in a fixed order, the 1/f stripes from a child of
it: same seed, same ramps, and the same other noise with or without the stripes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time

from wfsspipe.atomic import atomic_path

from . import crdscache, instrument

log = logging.getLogger(__name__)

OBS_ID_PATTERN = re.compile(
    r"^jw(?P<program>\d{5})(?P<observation>\d{3})(?P<visit>\d{3})_(?P<visit_group>\d{2})"
    r"(?P<sequence>\d)(?P<activity>[0-9a-z]{2})_(?P<exposure>\d{5})_(?P<detector>nis)$"
)
READPATT = "NIS"
NRESETS_AT_START = 1
NRESETS_BETWEEN_INTS = 1
TEMPLATE = "NIRISS Wide Field Slitless Spectroscopy"
DEFAULT_COSMIC_RAYS = 300  # mean hits per integration
DEFAULT_COLUMN_JUMP_DN = 25.0
BIAS_OFFSET_DN = 8.0  # per-output offset of each integration (refpix removes it)
BIAS_DRIFT_DN = 1.5  # per-output, per-group drift (refpix removes it)
# rms (DN) of the 1/f stripes of one group (offsets along x, one per output and column). At the
# tests' 7 groups this puts 0.012 DN/s rms stripes on the rate, ~40% of a sky pixel's noise: plain
# in a column median, below the pixel noise (as in NIRISS WFSS rate images).
DEFAULT_ONE_OVER_F_DN = 2.5


@dataclass(frozen=True)
class RampTruth:
    """What was injected besides the rate (DMS 0-based indices)."""

    path: Path
    ngroups: int
    nints: int
    column_jump_rows: tuple[int, ...]
    column_jump_group: int
    column_jump_dn: float
    cosmic_rays: tuple[int, ...]  # hits per integration
    elapsed_s: float
    one_over_f_dn: float = 0.0
    # (nints, 4 outputs, 2048 DMS columns): the stripes' slope per output and column (DN/s)
    one_over_f_rate: np.ndarray | None = None


def _lookup(meta: Mapping[str, Any], *names: str, default: Any = ...) -> Any:
    """Value of the first of ``names`` in ``meta``, case-insensitively (FITS or attribute names)."""
    folded = {str(k).lower(): v for k, v in meta.items()}
    for name in names:
        if name.lower() in folded:
            return folded[name.lower()]
    if default is ...:
        raise KeyError(f"exposure metadata lacks {names[0]!r} (got keys {sorted(meta)})")
    return default


def parse_obs_id(obs_id: str) -> dict[str, str]:
    """Program/observation/visit/... numbers of a JWST exposure name like
    ``jw01571001001_02101_00001_nis``."""
    match = OBS_ID_PATTERN.match(obs_id.lower())
    if not match:
        raise ValueError(
            f"{obs_id!r} is not a NIRISS exposure name like jw01571001001_02101_00001_nis"
        )
    return match.groupdict()


def exposure_times(ngroups: int, nints: int) -> dict[str, float]:
    """Exposure-time keywords (s) of a full-frame NIS exposure, by the SDP formulas of the JWST
    keyword dictionary (no dropped frames for NIS)."""
    nframes, groupgap = instrument.NIS_NFRAMES, instrument.NIS_GROUPGAP
    tframe = instrument.FRAME_TIME_S
    tgroup = instrument.group_time(nframes, groupgap)
    integration = tframe * (ngroups * nframes + (ngroups - 1) * groupgap)  # EFFINTTM
    exposure = integration * nints  # EFFEXPTM = XPOSURE: photon collection time
    duration = exposure + tframe * (NRESETS_AT_START + NRESETS_BETWEEN_INTS * (nints - 1))
    return {
        "frame_time": tframe,
        "group_time": tgroup,
        "integration_time": integration,
        "exposure_time": exposure,
        "effective_exposure_time": exposure,
        "measurement_time": tgroup * (ngroups - 1) * nints,  # TMEASURE
        "duration": duration,
        "elapsed_exposure_time": duration,
    }


def uncal_metadata(meta: Mapping[str, Any], ngroups: int, nints: int) -> dict[str, Any]:
    """Datamodel attributes (dotted, below ``meta``) of an UNCAL exposure.

    ``meta`` needs ``obs_id``, ``exp_type``, ``filter``, ``pupil``, ``ra_ref``, ``dec_ref``,
    ``pa_aper``, ``expstart`` (MJD UTC); either attribute or FITS keyword names, any case (so the
    renderer's ``exposure_meta`` plus ``OBS_ID`` and ``EXPSTART`` will do). Optional: ``target``,
    ``targ_ra``, ``targ_dec``, ``fwcpos``, ``pwcpos``, ``pi_name``, ``title``, ``patt_num``.
    """
    obs_id = str(_lookup(meta, "obs_id")).lower()
    ids = parse_obs_id(obs_id)
    exp_type = str(_lookup(meta, "exp_type")).upper()
    filt = str(_lookup(meta, "filter")).upper()
    pupil = str(_lookup(meta, "pupil")).upper()
    if exp_type == "NIS_IMAGE" and filt != "CLEAR":
        raise ValueError(f"{obs_id}: NIS_IMAGE needs FILTER=CLEAR (blocking filter in PUPIL)")
    if exp_type == "NIS_WFSS" and filt not in crdscache.GRISMS:
        raise ValueError(f"{obs_id}: NIS_WFSS needs FILTER in {crdscache.GRISMS}, got {filt!r}")
    if exp_type not in ("NIS_IMAGE", "NIS_WFSS"):
        raise ValueError(f"{obs_id}: unsupported EXP_TYPE {exp_type!r}")
    if pupil not in crdscache.BLOCKING_FILTERS:
        raise ValueError(f"{obs_id}: unsupported PUPIL {pupil!r}")
    ra_ref = float(_lookup(meta, "ra_ref"))
    dec_ref = float(_lookup(meta, "dec_ref"))
    pa_aper = float(_lookup(meta, "pa_aper"))
    expstart = float(_lookup(meta, "expstart", "start_time"))
    times = exposure_times(ngroups, nints)
    expend = expstart + times["duration"] / 86400.0
    expmid = 0.5 * (expstart + expend)
    start, end = Time(expstart, format="mjd", scale="utc"), Time(expend, format="mjd", scale="utc")
    target = str(_lookup(meta, "target", "targprop", default="PURE-PARALLEL-FIELD"))

    wcs = instrument.exposure_wcs(ra_ref, dec_ref, pa_aper)
    scale = instrument.PIXEL_SCALE_ARCSEC / 3600.0
    corners = wcs.pixel_to_world_values([-0.5, 2047.5, 2047.5, -0.5], [-0.5, -0.5, 2047.5, 2047.5])
    s_region = "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(*corners, strict=True))
    out: dict[str, Any] = {
        "telescope": "JWST",
        "origin": "wfsspipe synthetic",
        "instrument.name": "NIRISS",
        "instrument.detector": "NIS",
        "instrument.filter": filt,
        "instrument.pupil": pupil,
        "exposure.type": exp_type,
        "exposure.readpatt": READPATT,
        "exposure.nints": nints,
        "exposure.ngroups": ngroups,
        "exposure.nframes": instrument.NIS_NFRAMES,
        "exposure.groupgap": instrument.NIS_GROUPGAP,
        "exposure.frame_divisor": instrument.NIS_NFRAMES,
        "exposure.drop_frames1": 0,
        "exposure.drop_frames3": 0,
        "exposure.nsamples": 1,
        "exposure.sample_time": 10.0,  # microseconds per pixel
        "exposure.nresets_at_start": NRESETS_AT_START,
        "exposure.nresets_between_ints": NRESETS_BETWEEN_INTS,
        "exposure.integration_start": 1,
        "exposure.integration_end": nints,
        "exposure.zero_frame": False,
        "exposure.noutputs": 4,
        "exposure.count": 1,
        "exposure.prime_parallel": "PARALLEL_PURE",
        "exposure.data_problem": False,
        "exposure.start_time": expstart,
        "exposure.mid_time": expmid,
        "exposure.end_time": expend,
        "exposure.start_time_mjd": expstart,
        "exposure.mid_time_mjd": expmid,
        "exposure.end_time_mjd": expend,
        **{f"exposure.{k}": v for k, v in times.items()},
        "subarray.name": "FULL",
        "subarray.xstart": 1,
        "subarray.ystart": 1,
        "subarray.xsize": instrument.DETECTOR_SHAPE[1],
        "subarray.ysize": instrument.DETECTOR_SHAPE[0],
        "subarray.fastaxis": -2,
        "subarray.slowaxis": -1,
        "observation.date": start.strftime("%Y-%m-%d"),
        "observation.time": start.strftime("%H:%M:%S.%f")[:12],
        "observation.date_beg": start.isot,
        "observation.date_end": end.isot,
        "observation.obs_id": (
            f"V{ids['program']}{ids['observation']}{ids['visit']}P00000000"
            f"{ids['visit_group']}{ids['sequence']}{ids['activity']}"
        ),
        "observation.visit_id": f"{ids['program']}{ids['observation']}{ids['visit']}",
        "observation.program_number": ids["program"],
        "observation.observation_number": ids["observation"],
        "observation.visit_number": ids["visit"],
        "observation.visit_group": ids["visit_group"],
        "observation.sequence_id": ids["sequence"],
        "observation.activity_id": ids["activity"],
        "observation.exposure_number": ids["exposure"],
        "observation.template": TEMPLATE,
        "observation.observation_label": "synthetic pure-parallel WFSS",
        "visit.type": "PARALLEL_PURE",
        "visit.status": "SUCCESSFUL",
        "visit.engineering_quality": "OK",
        "visit.tsovisit": False,
        "visit.crowded_field": False,
        "program.pi_name": str(_lookup(meta, "pi_name", default="Synthetic, Field")),
        "program.title": str(_lookup(meta, "title", default="Synthetic NIRISS WFSS pure parallel")),
        "program.category": "GO",
        "target.proposer_name": target,
        "target.catalog_name": target,
        "target.type": "FIXED",
        "target.ra": float(_lookup(meta, "targ_ra", default=ra_ref)),
        "target.dec": float(_lookup(meta, "targ_dec", default=dec_ref)),
        "target.source_type_apt": "EXTENDED",
        "aperture.name": instrument.APERTURE_NAME,
        "aperture.pps_name": instrument.APERTURE_NAME,
        "dither.primary_type": "NONE",
        "dither.position_number": int(_lookup(meta, "patt_num", default=1)),
        "dither.total_points": 1,
        "velocity_aberration.scale_factor": 1.0,
        "velocity_aberration.va_ra_ref": ra_ref,
        "velocity_aberration.va_dec_ref": dec_ref,
        "coordinates.reference_frame": "ICRS",
        "wcsinfo.wcsaxes": 2,
        "wcsinfo.ctype1": "RA---TAN",
        "wcsinfo.ctype2": "DEC--TAN",
        "wcsinfo.cunit1": "deg",
        "wcsinfo.cunit2": "deg",
        "wcsinfo.crpix1": instrument.CRPIX[0],
        "wcsinfo.crpix2": instrument.CRPIX[1],
        "wcsinfo.crval1": ra_ref,
        "wcsinfo.crval2": dec_ref,
        "wcsinfo.cdelt1": scale,
        "wcsinfo.cdelt2": scale,
        "wcsinfo.pc1_1": float(wcs.wcs.cd[0, 0] / scale),
        "wcsinfo.pc1_2": float(wcs.wcs.cd[0, 1] / scale),
        "wcsinfo.pc2_1": float(wcs.wcs.cd[1, 0] / scale),
        "wcsinfo.pc2_2": float(wcs.wcs.cd[1, 1] / scale),
        "wcsinfo.s_region": s_region,
        **instrument.pointing_keywords(ra_ref, dec_ref, pa_aper),
    }
    for key, attr in (
        ("fwcpos", "instrument.filter_position"),
        ("pwcpos", "instrument.pupil_position"),
    ):
        value = _lookup(meta, key, default=None)
        if value is not None:
            out[attr] = float(value)
    return out


def set_metadata(model, attributes: Mapping[str, Any]) -> None:
    """Set dotted ``meta`` attributes, failing loudly where stdatamodels would only warn.

    (stdatamodels drops a value its schema rejects, e.g. an enum mismatch, with a warning.)
    """
    for dotted, value in attributes.items():
        node = model.meta
        *parents, leaf = dotted.split(".")
        for name in parents:
            node = getattr(node, name)
        setattr(node, leaf, value)
        if getattr(node, leaf, None) != value:
            raise ValueError(f"the datamodel schema rejected meta.{dotted} = {value!r}")


class _References:
    """The reference arrays a ramp needs, read from the synthetic CRDS cache."""

    def __init__(self, crds_root: Path, ngroups: int):
        def sci(reftype, ext="SCI"):
            return np.asarray(fits.getdata(crdscache.reference_path(crds_root, reftype), ext))

        path = crdscache.reference_path(crds_root, "superbias")
        if not path.exists():
            raise FileNotFoundError(
                f"no synthetic CRDS cache at {crds_root} ({path.name} missing); "
                "build it with wfsssim.crdscache.build_crds_cache"
            )
        self.superbias = sci("superbias").astype(np.float32)
        self.gain = sci("gain").astype(np.float32)
        self.readnoise = sci("readnoise").astype(np.float32)
        self.c2 = np.asarray(
            fits.getdata(crdscache.reference_path(crds_root, "linearity"), "COEFFS")[2],
            dtype=np.float32,
        )
        from jwst.datamodels import dqflags

        dq = sci("mask", "DQ")
        self.dead = (dq & dqflags.pixel["DEAD"]) > 0
        with fits.open(crdscache.reference_path(crds_root, "dark")) as hdul:
            hdu = hdul["SCI"]
            last = min(ngroups, hdu.shape[0]) - 1
            plane = np.asarray(hdu.section[last], dtype=np.float64)
        # The dark reference is dark rate x group mean time by construction (and stcal extrapolates
        # it linearly past its last group).
        self.dark_rate = (plane / instrument.group_mean_times(last + 1)[last]).astype(np.float32)


def _within_group_weights(nframes: int) -> tuple[float, float]:
    """Mean and variance of one electron's weight in a group average (weights (nf-k+1)/nf)."""
    weights = (nframes - np.arange(nframes)) / nframes
    return float(weights.mean()), float((weights**2).mean() - weights.mean() ** 2)


def _cosmic_rays(rng, count, ngroups, nframes, sensitive):
    """(flat pixel indices, charge e-, arrival frame 1-based) of the hits of one integration.

    ``sensitive``: boolean image of light-sensitive pixels (no reference or dead pixels).
    """
    ny, nx = sensitive.shape
    pixels = rng.choice(np.flatnonzero(sensitive), count)
    charge = 10 ** rng.uniform(np.log10(300.0), np.log10(30000.0), count)
    frame = rng.integers(1, ngroups * nframes + 1, count)
    spill = rng.random(count) < 0.25
    idx, q, f = [pixels], [charge * np.where(spill, 0.6, 1.0)], [frame]
    y, x = np.divmod(pixels, nx)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        sel = spill & (y + dy >= 0) & (y + dy < ny) & (x + dx >= 0) & (x + dx < nx)
        sel[sel] = sensitive[y[sel] + dy, x[sel] + dx]
        idx.append(pixels[sel] + dy * nx + dx)
        q.append(charge[sel] * 0.1)
        f.append(frame[sel])
    return np.concatenate(idx), np.concatenate(q), np.concatenate(f)


def one_over_f_offsets(rng, rms_dn: float, ncolumns: int = 2048, noutputs: int = 4) -> np.ndarray:
    """(noutputs, ncolumns) offsets (DN) of one group: a 1/f series along the slow axis per output,
    half of its variance common to the outputs, rms ``rms_dn`` over the whole array."""
    freq = np.fft.rfftfreq(ncolumns)
    amplitude = np.zeros_like(freq)
    amplitude[1:] = freq[1:] ** -0.5  # power ~ 1/f; none at f = 0 (a per-group constant is drift)

    def series(count):
        spectrum = amplitude * (
            rng.standard_normal((count, freq.size)) + 1j * rng.standard_normal((count, freq.size))
        )
        return np.fft.irfft(spectrum, n=ncolumns, axis=-1)

    offsets = np.sqrt(0.5) * (series(1) + series(noutputs))
    return (offsets * (rms_dn / offsets.std())).astype(np.float32)


def _slopes(values: np.ndarray, tgroup: float) -> np.ndarray:
    """Least-squares slope (per s) along axis 0 of values taken at groups 0, 1, ... (unweighted,
    as ramp_fit weights read-noise-limited sky pixels)."""
    g = np.arange(values.shape[0], dtype=np.float64)
    g -= g.mean()
    return np.tensordot(g, values, axes=(0, 0)) / (g @ g) / tgroup


def _reproducible_level1b(dm):
    """``Level1bModel`` whose DATE is the exposure's end, not the wall clock: same seed, same bytes.

    stdatamodels stamps ``meta.date`` with the current time on save; everything else in the file
    follows from the seed. The subclass keeps the class name, so ``model_type`` is unchanged.
    """

    class Level1bModel(dm.Level1bModel):
        creation_date: str

        def on_save(self, init):
            super().on_save(init)
            self.meta.date = self.creation_date

    return Level1bModel


CHECKSUM_WHEN = "synthetic UNCAL"  # a fixed comment: same seed, same bytes


def add_checksums(path: str | Path) -> None:
    """CHECKSUM and DATASUM in every HDU, as MAST's products carry (the download checks them)."""
    from astropy.io import fits

    with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:
        for hdu in hdul:
            hdu.add_checksum(when=CHECKSUM_WHEN)


def write_uncal(
    path: str | Path,
    rate_dn_s: np.ndarray,
    meta: Mapping[str, Any],
    rng: np.random.Generator,
    ngroups: int = 10,
    nints: int = 1,
    *,
    crds_root: str | Path,
    cosmic_rays: int = DEFAULT_COSMIC_RAYS,
    column_jump_dn: float = DEFAULT_COLUMN_JUMP_DN,
    column_jump_row: int | None = None,
    column_jump_group: int | None = None,
    one_over_f_dn: float = DEFAULT_ONE_OVER_F_DN,
) -> RampTruth:
    """Write a full-frame NIS UNCAL file (``Level1bModel``, uint16 ramps) atomically.

    ``rate_dn_s``: 2048x2048 detector count rate (DN/s) including sky (and the pixel flat);
    values in the reference-pixel frame and NaNs are ignored. ``meta``: see
    :func:`uncal_metadata`. ``crds_root``: the synthetic CRDS cache whose references the ramps
    are built from. ``column_jump_row``/``group`` default to random choices (the group within the
    range columnjump searches); ``column_jump_dn=0`` disables the jump; ``one_over_f_dn=0``
    the 1/f stripes.
    """
    from stdatamodels.jwst import datamodels as dm

    started = time.perf_counter()
    path = Path(path)
    rate = np.asarray(rate_dn_s, dtype=np.float32)
    shape = instrument.DETECTOR_SHAPE
    if rate.shape != shape:
        raise ValueError(f"rate image for {path.name} has shape {rate.shape}, expected {shape}")
    if ngroups < 2 or nints < 1:
        raise ValueError(f"{path.name}: need ngroups >= 2 and nints >= 1 (got {ngroups}, {nints})")
    attributes = uncal_metadata(meta, ngroups, nints)
    refs = _References(Path(crds_root), ngroups)

    border = instrument.REFERENCE_PIXEL_BORDER
    active = np.zeros(shape, dtype=bool)
    active[border:-border, border:-border] = True
    sensitive = active & ~refs.dead  # reference and dead pixels collect no charge
    illum = np.where(sensitive & np.isfinite(rate), np.maximum(rate, 0.0), 0.0)
    nframes = instrument.NIS_NFRAMES
    tframe = instrument.FRAME_TIME_S
    electrons_per_group = ((illum + refs.dark_rate) * refs.gain * (nframes * tframe)).astype(
        np.float64
    )
    w_mean, w_var = _within_group_weights(nframes)
    read_sigma = refs.readnoise / np.float32(np.sqrt(2.0 * nframes))
    amp_of_row = np.arange(shape[0]) // instrument.AMPLIFIER_ROWS

    if column_jump_row is None:
        column_jump_row = int(rng.integers(border, shape[0] - border))
    if column_jump_group is None:
        lo, hi = 4, ngroups - 3  # what columnjump 1.1.1 can find
        column_jump_group = int(rng.integers(lo, hi + 1)) if hi >= lo else max(1, ngroups // 2)

    data = np.empty((nints, ngroups, *shape), dtype=np.uint16)
    hits_per_int = []
    # The stripes have their own generator (a child of ``rng``'s seed, which does not advance
    # ``rng``): every other draw is the same with or without them.
    (stripe_rng,) = rng.spawn(1)
    noutputs = shape[0] // instrument.AMPLIFIER_ROWS
    stripe_rates = np.zeros((nints, noutputs, shape[1]), dtype=np.float32)
    for integ in range(nints):
        ncr = int(rng.poisson(cosmic_rays)) if cosmic_rays > 0 else 0
        cr_idx, cr_q, cr_frame = _cosmic_rays(rng, ncr, ngroups, nframes, sensitive)
        hits_per_int.append(ncr)
        bias_offset = rng.normal(0.0, BIAS_OFFSET_DN, 4)
        drift = rng.normal(0.0, BIAS_DRIFT_DN, (ngroups, 4))
        charge = np.zeros(shape, dtype=np.float64)  # electrons at the end of the previous group
        stripes = np.zeros((ngroups, noutputs, shape[1]), dtype=np.float32)
        for g in range(ngroups):
            arrived = rng.poisson(electrons_per_group).astype(np.float64)
            z = rng.standard_normal(shape, dtype=np.float32)
            weighted = arrived * w_mean + np.sqrt(arrived * w_var) * z
            group_e = charge + np.clip(weighted, arrived / nframes, arrived)
            charge += arrived
            # cosmic rays: fraction of this group's frames read after the hit, then all of it
            last_frame = (g + 1) * nframes
            fraction = np.clip((last_frame - cr_frame + 1) / nframes, 0.0, 1.0)
            np.add.at(group_e.reshape(-1), cr_idx, cr_q * fraction)
            signal = (group_e / refs.gain).astype(np.float32)
            # inverse of corrected = raw + c2 raw^2, in its numerically stable form
            raw = 2.0 * signal / (1.0 + np.sqrt(1.0 + 4.0 * refs.c2 * signal))
            raw += refs.superbias
            raw += read_sigma * rng.standard_normal(shape, dtype=np.float32)
            raw += (bias_offset + drift[g])[amp_of_row][:, None].astype(np.float32)
            if one_over_f_dn:
                stripes[g] = one_over_f_offsets(stripe_rng, one_over_f_dn, shape[1], noutputs)
                raw += stripes[g][amp_of_row]
            if column_jump_dn and g >= column_jump_group:
                raw[column_jump_row, :] += np.float32(column_jump_dn)
            np.clip(np.rint(raw), 0, 65535, out=raw)
            data[integ, g] = raw.astype(np.uint16)
        stripe_rates[integ] = _slopes(stripes, instrument.group_time())
    model = _reproducible_level1b(dm)(data=data)
    model.creation_date = Time(attributes["exposure.end_time"], format="mjd", scale="utc").isot
    set_metadata(model, attributes)
    model.meta.filename = path.name
    with atomic_path(path) as tmp:
        model.to_fits(Path(tmp), overwrite=True)  # a Path keeps meta.filename (a str resets it)
        add_checksums(tmp)
    elapsed = time.perf_counter() - started
    log.info("%s: %d x %d groups in %.1f s", path.name, nints, ngroups, elapsed)
    return RampTruth(
        path=path,
        ngroups=ngroups,
        nints=nints,
        column_jump_rows=(column_jump_row,) if column_jump_dn else (),
        column_jump_group=column_jump_group,
        column_jump_dn=float(column_jump_dn),
        cosmic_rays=tuple(hits_per_int),
        elapsed_s=elapsed,
        one_over_f_dn=float(one_over_f_dn),
        one_over_f_rate=stripe_rates if one_over_f_dn else None,
    )
