"""A real, offline CRDS cache with synthetic NIRISS reference files.

:func:`build_crds_cache` writes the same layout a CRDS sync produces, so jwst, stpipe and grizli
find their reference files through CRDS itself, with no overrides and no patching::

    root/config/jwst/server_config             pprint'ed dict (see below)
    root/config/jwst/ref_cache_subdir_mode     "instrument"
    root/mappings/jwst/jwst_9000.pmap          -> jwst_niriss_9000.imap -> jwst_niriss_<type>_9000.rmap
    root/references/jwst/niriss/jwst_niriss_<type>_<serial>.fits|.asdf

and :func:`crds_environment` gives the variables every consumer needs (``CRDS_PATH``,
``CRDS_MODE=local``, ``CRDS_CONTEXT``, ``CRDS_SERVER_URL``, ``CRDS_READONLY_CACHE=1``). The same
variables serve a real cache synced on a login node.

CRDS facts (crds 14.0.3, jwst 1.19.2, stpipe; read in their sources and verified by the tests):

* ``crds.core.heavy_client.get_config_info`` *always* tries the server first
  (``api.get_server_info``), also with ``CRDS_MODE=local``; only when that fails does it read
  ``config/jwst/server_config``. A URL containing ``serverless`` makes the JSON-RPC proxy refuse
  at once (``crds.client.proxy``), so :data:`SERVERLESS_URL` guarantees no network traffic, no
  timeouts and that a reachable server never overwrites the cached config. Without a cached
  ``server_config`` CRDS raises a fatal error (stpipe then exits after the first step that needs a
  reference). Keys read: ``observatory``, ``operational_context``, ``bad_files_list``,
  ``force_remote_mode``, ``last_synced``.
* Mapping checksums: ``sha1`` of the file text without the ``sha1sum`` line
  (``crds.core.rmap.Mapping._get_checksum``); a wrong checksum raises ``ChecksumError`` on load.
* A reference type missing from the ``.imap`` raises ``CrdsUnknownReftypeError`` ->
  ``CrdsLookupError``; a type set to ``'N/A'`` returns ``N/A`` (the step is skipped or the type
  ignored). Steps ask for *all* their types whatever the instrument, and pipelines prefetch the
  types of every unskipped step: Detector1 asks NIRISS data for ipc, refpix, sirskernel and MIRI's
  rscd/reset; AssignWcsStep for NIRSpec's camera, collimator, disperser, fore, fpa, msa, ote,
  ifu*, plus specwcs, regions, wavelengthrange; FlatFieldStep for fflat/sflat/dflat; ``.call``
  for ``pars-<step class>`` of every sub-step (stpipe tolerates those missing, but CRDS logs an
  ERROR each). So the imap lists every type of every jwst step (found through
  ``jwst.stpipe.integration.get_steps``) and the NIRISS types; those not built are ``'N/A'``.
  :data:`PARS_FILES` (jump, charge_migration) are built, as real NIRISS contexts have them;
  ``Step.call`` merges them under the caller's own parameters.
* Reference pixels must be REFERENCE_PIXEL *without* DO_NOT_USE in the MASK: jwst refpix and
  columnjump both skip reference pixels that are DO_NOT_USE (all flagged: refpix does nothing,
  columnjump crashes on an empty array).
* stdatamodels drops a metadata value its schema rejects (enum) with only a warning; multi-valued
  selections go to the CRDS pattern keywords (``P_FILTER``, ``P_PUPIL``, ``P_EXP_TY``). Writing
  a model to a *path string* resets ``meta.filename`` (``on_save``); a file object or ``Path``
  keeps it.
* A ``Match`` value may OR alternatives with ``|``; ``UseAfter`` compares ``META.OBSERVATION.DATE``
  + ``TIME`` of the dataset against ``'YYYY-MM-DD HH:MM:SS'`` keys.
* ``CRDS_READONLY_CACHE=1`` stops CRDS writing into the cache, and makes grizli
  (``prep.get_jwst_wfssbkg_file``) copy the ``bkg`` reference to ``$GRIZLI/CONF`` before editing it
  (as root, ``os.access(W_OK)`` is always true, so without the flag grizli edits the cache file).

grizli 1.14.3 facts (verified with this cache, ``jwst_utils.DO_PURE_PARALLEL_WCS = False``):

* ``jwst_utils.initialize_jwst_image`` on a NIS_IMAGE RATE asks CRDS for flat (+ fflat, sflat,
  dflat), photom, area, distortion, filteroffset and AssignWcsStep's other types; on a NIS_WFSS
  RATE for flat (with the grism header), distortion *with the NIS_WFSS header* (file lookup), then
  rewrites the file as NIS_IMAGE/FILTER=CLEAR (originals kept as OFILTER, OEXP_TYP, ...) and asks
  distortion + filteroffset again; no photom/area for grism exposures.
* It uses grizli's sky flats only when ``CRDS_CONTEXT <= 'jwst_1130.pmap'`` (a string
  comparison): with ``jwst_9000.pmap`` it masks pixels where the CRDS flat is 1, < 0.6 or > 1.8.
* ``prep.get_jwst_wfssbkg_file`` (grism sky) asks for ``bkg`` and reads FILTER/PUPIL from the
  bkg primary header; it prefers ``$GRIZLI/CONF/nis-{pupil}-{filter}_skyflat.fits`` when that
  file exists without a DATE keyword, else copies the CRDS bkg there (read-only cache) and
  divides the flat out. On a file rewritten by initialize_jwst_image (FILTER=CLEAR) the bkg
  lookup is N/A; grizli's ``set_jwst_to_hst_keywords(reset=True)`` restores the originals.

Reference files are written with the stdatamodels classes, then their large image extensions are
re-packed as lossless GZIP_2 tile-compressed HDUs (astropy ``CompImageHDU``, read transparently by
stdatamodels, jwst and grizli). Values are quantised to powers of two by construction, so
compression is lossless and exact, the cache is ~100 MB instead of ~700 MB, and every consumer
(pipeline and :mod:`.ramps`) reads identical numbers. Everything is deterministic for a ``seed``.
Build: ~17 s and ~1.6 GB peak memory (the 20-group dark) on one core.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import logging
import pprint
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from wfsspipe.atomic import atomic_path, write_text

from . import grismconf, instrument, render

log = logging.getLogger(__name__)

CONTEXT_SERIAL = 9000
OBSERVATORY = "jwst"
# The JSON-RPC proxy of crds refuses any URL containing "serverless" without opening a socket.
SERVERLESS_URL = "https://jwst-serverless.stsci.edu"
USEAFTER = "2015-01-01 00:00:00"  # all synthetic references apply to any JWST date
USEAFTER_ISO = "2015-01-01T00:00:00"
DETECTOR = "NIS"
SUBARRAY = "FULL"
READPATT = "NIS"
GRISMS = ("GR150C", "GR150R")
BLOCKING_FILTERS = ("F115W", "F150W", "F200W")
DEFAULT_SEED = 20260515
DEFAULT_DARK_NGROUPS = 20  # stcal extrapolates the dark if an exposure has more groups

# Detector model (DN unless stated). NIRISS-like values.
GAIN_E_PER_DN = 1.61
READNOISE_CDS_DN = 11.0  # jwst readnoise refs hold CDS noise; stcal uses rn / sqrt(2 * nframes)
SUPERBIAS_DN = 12000.0
SATURATION_DN = 62000.0  # raw DN including bias (saturation runs before superbias)
PERSAT_DN = 52000.0
DARK_RATE_DN_S = 0.012  # ~0.02 e-/s
LINEARITY_C2 = 8.0e-7  # corrected = raw + c2 * raw**2 (bias-subtracted DN): -4 % at 50000 DN
PIXAR_A2 = instrument.PIXEL_SCALE_ARCSEC**2
PIXAR_SR = PIXAR_A2 * (np.pi / 180.0 / 3600.0) ** 2
# Photometric conversion, MJy/sr per DN/s, from the zeropoints the scene is rendered with
# (mag_AB = ZP - 2.5 log10 DN/s), so that calibrated images give back the injected magnitudes.
# (grizli's own table, grizli/data/jwst_bp_info.yml, describes the real instrument, not this one:
# using it put the catalogue 0.65-1.15 mag off the truth.)
PHOTMJSR = {
    band: float(10 ** (-0.4 * (zeropoint - 8.9)) / (1e6 * PIXAR_SR))
    for band, zeropoint in render.ZEROPOINT_AB.items()
}

# Bad pixels (besides the reference-pixel frame), all DO_NOT_USE.
N_DEAD, N_HOT, N_TELEGRAPH = 150, 120, 40
N_WARM_FRACTION = 1.0e-3  # warm pixels: only a high dark rate, corrected by the dark step

# The NIRISS reference types of crds 14.0.3 (crds/jwst/specs/niriss_*, without pars-*). The imap
# lists these plus every type any jwst step asks for (_jwst_step_reftypes); those not built: 'N/A'.
_NIRISS_TYPES_TEXT = """
    abvegaoffset apcorr area bkg dark distortion drizpars extract1d filteroffset flat gain ipc
    linearity mask nrm pastasoss pathloss persat photom readnoise regions saturation sirskernel
    speckernel specprofile spectrace specwcs superbias throughput trapdensity trappars
    wavelengthrange wavemap wcsregions wfssbkg"""
NIRISS_REFTYPES = tuple(_NIRISS_TYPES_TEXT.split())

_DATE_PARKEYS = ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME")
_DETECTOR_PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
_DETECTOR_TYPES = (
    "mask",
    "saturation",
    "superbias",
    "linearity",
    "gain",
    "readnoise",
    "trapdensity",
    "trappars",
    "persat",
)
# Step-parameter references (``pars-<step class>``) of Detector1 steps, as real NIRISS contexts
# have them: (step class, step name, parameters). jump's three-group threshold is not jwst's
# default (6.0), so a test can see the file reach Stage 1 (stpipe logs the step's parameters); it
# does not act on our ramps (>= 7 groups). charge_migration's file holds its default threshold.
PARS_JUMP_THREE_GROUP_THRESHOLD = 7.5
PARS_FILES = {
    "pars-jumpstep": (
        "jwst.jump.jump_step.JumpStep",
        "jump",
        {"three_group_rejection_threshold": PARS_JUMP_THREE_GROUP_THRESHOLD},
    ),
    "pars-chargemigrationstep": (
        "jwst.charge_migration.charge_migration_step.ChargeMigrationStep",
        "charge_migration",
        {"signal_threshold": 25000.0},
    ),
}
_FILE_SERIALS = {  # (reftype, variant) -> serial of the reference file name
    **{(t, None): CONTEXT_SERIAL for t in (*_DETECTOR_TYPES, "dark", "photom", "area")},
    **{(t, None): CONTEXT_SERIAL for t in PARS_FILES},
    ("distortion", None): CONTEXT_SERIAL,
    ("filteroffset", None): CONTEXT_SERIAL,
    **{("flat", f): CONTEXT_SERIAL + 1 + i for i, f in enumerate(BLOCKING_FILTERS)},
    **{
        ("bkg", f"{g}-{f}"): CONTEXT_SERIAL + 1 + i
        for i, (g, f) in enumerate((g, f) for g in GRISMS for f in BLOCKING_FILTERS)
    },
}
_ASDF_TYPES = ("distortion", "filteroffset", *PARS_FILES)
_STREAMS = {
    name: i
    for i, name in enumerate(
        (
            "superbias",
            "saturation",
            "gain",
            "readnoise",
            "linearity",
            "dark",
            "mask",
            "trapdensity",
            "persat",
            "flat-F115W",
            "flat-F150W",
            "flat-F200W",
        )
    )
}


# --- Names and environment -----------------------------------------------------------------------


def context_name(serial: int = CONTEXT_SERIAL) -> str:
    """Name of the pipeline mapping (``jwst_9000.pmap``)."""
    return f"{OBSERVATORY}_{serial:04d}.pmap"


def crds_environment(root: str | Path, context: str) -> dict[str, str]:
    """Environment variables that make CRDS (jwst, stpipe, grizli) use the cache at ``root``.

    Set them before importing or calling jwst/grizli in the process (``os.environ.update``) or
    pass them to a subprocess. The same variables serve a real synced cache on a cluster.
    """
    return {
        "CRDS_PATH": str(Path(root).resolve()),
        "CRDS_MODE": "local",
        "CRDS_CONTEXT": str(context),
        "CRDS_SERVER_URL": SERVERLESS_URL,
        "CRDS_READONLY_CACHE": "1",
    }


def reference_name(reftype: str, pupil: str | None = None, grism: str | None = None) -> str:
    """File name of a synthetic reference (``pupil`` for ``flat``; ``grism`` and ``pupil`` for
    ``bkg``; nothing for the others)."""
    if reftype == "flat":
        variant = str(pupil).upper()
    elif reftype == "bkg":
        variant = f"{str(grism).upper()}-{str(pupil).upper()}"
    else:
        variant = None
    try:
        serial = _FILE_SERIALS[(reftype, variant)]
    except KeyError:
        raise KeyError(f"no synthetic {reftype!r} reference for {variant}") from None
    ext = ".asdf" if reftype in _ASDF_TYPES else ".fits"
    return f"{OBSERVATORY}_niriss_{reftype}_{serial:04d}{ext}"


def reference_path(
    root: str | Path, reftype: str, pupil: str | None = None, grism: str | None = None
) -> Path:
    """Path of a synthetic reference file in the cache at ``root``."""
    name = reference_name(reftype, pupil, grism)
    return Path(root) / "references" / OBSERVATORY / "niriss" / name


def read_flat(root: str | Path, pupil: str) -> np.ndarray:
    """The pixel flat (float32, detector response, median ~1) of a blocking filter.

    Pass it as ``pixel_flat`` to the scene renderer so that flat-fielding recovers the scene.
    """
    with fits.open(reference_path(root, "flat", pupil)) as hdul:
        return np.asarray(hdul["SCI"].data, dtype=np.float32)


# --- Mappings ----------------------------------------------------------------------------------


def _with_checksum(text: str) -> str:
    """Fill the ``sha1sum`` header line the way CRDS computes and checks it."""
    from crds.core import utils as crds_utils

    body = "".join(line for line in text.splitlines(True) if "sha1sum" not in line)
    return text.replace("'sha1sum' : 'TBD'", f"'sha1sum' : '{crds_utils.str_checksum(body)}'")


def _header_text(items: dict) -> str:
    lines = [f"    {k!r} : {v!r}," for k, v in sorted(items.items())]
    return "header = {\n" + "\n".join(lines) + "\n}\n"


def _rmap_text(reftype: str, parkeys: Sequence[str], rules: Sequence[tuple[tuple, str]]) -> str:
    """``Match`` on ``parkeys`` then ``UseAfter``; a rule whose file is 'N/A' declares N/A."""
    name = f"{OBSERVATORY}_niriss_{reftype}_{CONTEXT_SERIAL:04d}.rmap"
    header = {
        "classes": ("Match", "UseAfter"),
        "derived_from": "synthetic (wfsssim.crdscache)",
        "file_ext": ".asdf" if reftype in _ASDF_TYPES else ".fits",
        "filekind": reftype.upper(),
        "filetype": reftype.upper(),
        "instrument": "NIRISS",
        "mapping": "REFERENCE",
        "name": name,
        "observatory": OBSERVATORY.upper(),
        "parkey": (tuple(parkeys), _DATE_PARKEYS),
        "sha1sum": "TBD",
        "suffix": reftype,
    }
    body = ["selector = Match({"]
    for key, filename in rules:
        if filename == "N/A":
            body.append(f"    {key!r} : 'N/A',")
        else:
            body.append(
                f"    {key!r} : UseAfter({{\n        {USEAFTER!r} : {filename!r},\n    }}),"
            )
    body.append("})\n")
    return _with_checksum(_header_text(header) + "\n" + "\n".join(body))


def _jwst_step_reftypes() -> set[str]:
    """Every reference type any jwst step can ask for, and every ``pars-<step class>``.

    Steps look up *all* their types for every instrument (AssignWcsStep asks NIRSpec's camera,
    collimator, ...; Detector1 prefetches MIRI's rscd and reset), and ``Step.call`` asks for each
    sub-step's parameters. Listing them all as 'N/A' keeps lookups from failing
    (``CrdsLookupError``) or logging CRDS ERRORs.
    """
    from jwst.stpipe.integration import get_steps
    from stpipe.utilities import import_class

    types = set()
    for name, _alias, _is_pipeline in get_steps():
        types.add("pars-" + name.rsplit(".", 1)[-1].lower())
        try:
            types.update(t.lower() for t in import_class(name).reference_file_types)
        except Exception as err:  # a step that cannot be imported has no types to list
            log.debug("cannot inspect %s: %s", name, err)
    return types


def _imap_text(built: dict[str, str]) -> str:
    header = {
        "derived_from": "synthetic (wfsssim.crdscache)",
        "file_ext": ".imap",
        "instrument": "NIRISS",
        "mapping": "INSTRUMENT",
        "name": f"{OBSERVATORY}_niriss_{CONTEXT_SERIAL:04d}.imap",
        "observatory": OBSERVATORY.upper(),
        "parkey": ("REFTYPE",),
        "sha1sum": "TBD",
    }
    types = set(NIRISS_REFTYPES) | set(built) | _jwst_step_reftypes()
    lines = [f"    {t!r} : {built.get(t, 'N/A')!r}," for t in sorted(types)]
    return _with_checksum(_header_text(header) + "\nselector = {\n" + "\n".join(lines) + "\n}\n")


def _pmap_text(imap: str) -> str:
    header = {
        "derived_from": "synthetic (wfsssim.crdscache)",
        "mapping": "PIPELINE",
        "name": context_name(),
        "observatory": OBSERVATORY.upper(),
        "parkey": ("META.INSTRUMENT.NAME",),
        "sha1sum": "TBD",
    }
    return _with_checksum(_header_text(header) + f"\nselector = {{\n    'niriss' : {imap!r},\n}}\n")


def _rules(filters: Sequence[str]) -> dict[str, tuple[tuple[str, ...], list[tuple[tuple, str]]]]:
    """reftype -> (parkeys, [(match tuple, file name or 'N/A'), ...])."""
    imaging_wfss = "NIS_IMAGE|NIS_WFSS"
    rules = {
        t: (_DETECTOR_PARKEYS, [((DETECTOR, SUBARRAY), reference_name(t))]) for t in _DETECTOR_TYPES
    }
    # The dark is specific to the NIS pattern (NFRAMES=4); NISRAPID finds no match, on purpose.
    rules["dark"] = (
        ("META.INSTRUMENT.DETECTOR", "META.EXPOSURE.READPATT", "META.SUBARRAY.NAME"),
        [((DETECTOR, READPATT, SUBARRAY), reference_name("dark"))],
    )
    flat_keys = (
        "META.INSTRUMENT.DETECTOR",
        "META.EXPOSURE.TYPE",
        "META.INSTRUMENT.FILTER",
        "META.INSTRUMENT.PUPIL",
    )
    flat_rules = []
    for pupil in filters:
        flat_rules.append(((DETECTOR, "NIS_IMAGE", "CLEAR", pupil), reference_name("flat", pupil)))
        flat_rules.append(
            ((DETECTOR, "NIS_WFSS", "|".join(GRISMS), pupil), reference_name("flat", pupil))
        )
    rules["flat"] = (flat_keys, flat_rules)
    exp_keys = ("META.INSTRUMENT.DETECTOR", "META.EXPOSURE.TYPE")
    for reftype in ("photom", "area"):  # imaging only; WFSS photom (spec2) is not built
        rules[reftype] = (
            exp_keys,
            [((DETECTOR, "NIS_IMAGE"), reference_name(reftype)), ((DETECTOR, "NIS_WFSS"), "N/A")],
        )
    rules["distortion"] = (
        ("META.EXPOSURE.TYPE", "META.INSTRUMENT.PUPIL"),
        [((imaging_wfss, "|".join(filters)), reference_name("distortion"))],
    )
    rules["filteroffset"] = (
        ("META.EXPOSURE.TYPE",),
        [((imaging_wfss,), reference_name("filteroffset"))],
    )
    bkg_keys = ("META.EXPOSURE.TYPE", "META.INSTRUMENT.FILTER", "META.INSTRUMENT.PUPIL")
    for reftype in PARS_FILES:
        rules[reftype] = (("META.EXPOSURE.TYPE",), [((imaging_wfss,), reference_name(reftype))])
    bkg_rules = [(("NIS_IMAGE", "CLEAR", "|".join(filters)), "N/A")]
    bkg_rules += [
        (("NIS_WFSS", g, p), reference_name("bkg", p, g)) for g in GRISMS for p in filters
    ]
    rules["bkg"] = (bkg_keys, bkg_rules)
    return rules


# --- Reference data ------------------------------------------------------------------------------


def _quantise(values: np.ndarray, quantum: float) -> np.ndarray:
    """Round to a power-of-two quantum: exact in float32 and cheap to compress losslessly."""
    return (np.round(np.asarray(values, dtype=np.float64) / quantum) * quantum).astype(np.float32)


class _Detector:
    """Deterministic synthetic detector properties, one random stream per quantity."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        ny, nx = instrument.DETECTOR_SHAPE
        self.shape = (ny, nx)
        yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
        self.u = (xx - nx / 2) / (nx / 2)  # -1 .. 1
        self.v = (yy - ny / 2) / (ny / 2)
        border = instrument.REFERENCE_PIXEL_BORDER
        self.refpix = np.ones(self.shape, dtype=bool)
        self.refpix[border:-border, border:-border] = False
        self.amp = (np.arange(ny) // instrument.AMPLIFIER_ROWS)[:, None] * np.ones((1, nx), int)

    def rng(self, stream: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, _STREAMS[stream]])

    def per_amp(self, rng: np.random.Generator, scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, 4)[self.amp]

    def superbias(self) -> np.ndarray:
        rng = self.rng("superbias")
        bias = SUPERBIAS_DN + self.per_amp(rng, 300.0)
        bias += 150.0 * self.u + 80.0 * self.v**2
        # even/odd detector columns (DMS rows) have different offsets
        bias += 15.0 * (np.arange(self.shape[0]) % 2)[:, None]
        bias += rng.normal(0.0, 35.0, self.shape)
        return _quantise(bias, 0.25)

    def saturation(self) -> np.ndarray:
        rng = self.rng("saturation")
        sat = SATURATION_DN + 800.0 * self.u * self.v + rng.normal(0.0, 300.0, self.shape)
        return _quantise(np.minimum(sat, 65000.0), 1.0)

    def gain(self) -> np.ndarray:
        rng = self.rng("gain")
        gain = (
            GAIN_E_PER_DN * (1.0 + self.per_amp(rng, 0.02)) * (1 + rng.normal(0, 0.015, self.shape))
        )
        return _quantise(gain, 2.0**-12)

    def readnoise(self) -> np.ndarray:
        rng = self.rng("readnoise")
        noise = READNOISE_CDS_DN * (1.0 + self.per_amp(rng, 0.03)) + rng.normal(0, 0.8, self.shape)
        return _quantise(np.maximum(noise, 7.0), 2.0**-8)

    def linearity_c2(self) -> np.ndarray:
        rng = self.rng("linearity")
        c2 = LINEARITY_C2 * (1.0 + 0.1 * self.u - 0.05 * self.v + rng.normal(0, 0.03, self.shape))
        c2[self.refpix] = 0.0
        return _quantise(c2, 2.0**-36)

    @functools.cached_property
    def bad_pixels(self) -> dict[str, np.ndarray]:
        """Flat indices of dead, hot and telegraph pixels (disjoint, never reference pixels)."""
        rng = self.rng("mask")
        candidates = np.flatnonzero(~self.refpix)
        chosen = rng.choice(candidates, N_DEAD + N_HOT + N_TELEGRAPH, replace=False)
        return {
            "DEAD": chosen[:N_DEAD],
            "HOT": chosen[N_DEAD : N_DEAD + N_HOT],
            "TELEGRAPH": chosen[N_DEAD + N_HOT :],
        }

    def dark_rate(self) -> np.ndarray:
        """Dark current, DN/s: a low floor, warm pixels, and the (masked) hot pixels."""
        rng = self.rng("dark")
        rate = np.full(self.shape, DARK_RATE_DN_S, dtype=np.float64)
        rate += 0.004 * (self.amp == 0)  # one slightly warmer output
        warm = rng.random(self.shape) < N_WARM_FRACTION
        rate[warm] += 10 ** rng.uniform(-1.3, 0.3, warm.sum())
        rate.flat[self.bad_pixels["HOT"]] = 10 ** rng.uniform(0.7, 1.3, N_HOT)
        rate[self.refpix] = 0.0
        rate.flat[self.bad_pixels["DEAD"]] = 0.0
        return rate

    @functools.cache  # noqa: B019 - one detector per cache build
    def flat(self, pupil: str) -> np.ndarray:
        rng = self.rng(f"flat-{pupil}")
        k = 1.0 + 0.3 * BLOCKING_FILTERS.index(pupil)
        low = 0.025 * np.sin(2.1 * k * self.u + 0.4) * np.cos(1.7 * self.v - 0.3 * k)
        low -= 0.02 * (self.u**2 + self.v**2)
        flat = (1.0 + low) * (1.0 + rng.normal(0.0, 0.01, self.shape))
        flat /= np.median(flat[~self.refpix])
        flat[self.refpix] = 1.0
        return _quantise(flat, 2.0**-14)


def _dq_def(names: Iterable[str]):
    from jwst.datamodels import dqflags

    rows = []
    for name in names:
        value = dqflags.pixel[name]
        rows.append((int(value).bit_length() - 1, value, name, name.replace("_", " ").lower()))
    return np.array(
        rows,
        dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")],
    )


def _pattern(single: str, pattern: str, value: str) -> dict[str, str]:
    return {pattern: value + "|"} if "|" in value else {single: value}


def _set_meta(model, reftype: str, description: str, *, exp_type="N/A", filt="N/A", pupil="N/A"):
    """Reference-file metadata; fields a model's schema lacks (e.g. exposure) are skipped."""
    values = {
        "reftype": reftype.upper(),
        "description": description,
        "author": "wfsspipe synthetic CRDS cache",
        "pedigree": "SIMULATION",
        "useafter": USEAFTER_ISO,
        "telescope": "JWST",
        "instrument.name": "NIRISS",
        "instrument.detector": DETECTOR,
        # multi-valued selections go to the CRDS pattern keywords P_FILTER, P_PUPIL, P_EXP_TY
        **_pattern("instrument.filter", "instrument.p_filter", filt),
        **_pattern("instrument.pupil", "instrument.p_pupil", pupil),
        **_pattern("exposure.type", "exposure.p_exptype", exp_type),
        "subarray.name": SUBARRAY,
        "subarray.xstart": 1,
        "subarray.ystart": 1,
        "subarray.xsize": instrument.DETECTOR_SHAPE[1],
        "subarray.ysize": instrument.DETECTOR_SHAPE[0],
        "subarray.fastaxis": -2,  # NIRISS full frame: fast readout along DMS -y
        "subarray.slowaxis": -1,
        "date": USEAFTER_ISO,  # deterministic content
    }
    for dotted, value in values.items():
        *parents, leaf = dotted.split(".")
        node = model.meta
        try:
            for name in parents:
                node = getattr(node, name)
            setattr(node, leaf, value)
        except AttributeError:
            continue
        if getattr(node, leaf, None) != value:  # stdatamodels drops rejected values with a warning
            raise ValueError(f"{type(model).__name__} schema rejected meta.{dotted} = {value!r}")


def _write_fits_reference(model, path: Path, min_size: int = 65536) -> None:
    """Save a reference model, tile-compressing large image HDUs losslessly (GZIP_2)."""
    buffer = io.BytesIO()
    model.to_fits(buffer)  # a file object keeps meta.filename; on_save would set it to a temp name
    buffer.seek(0)
    with fits.open(buffer) as hdul:
        hdul[0].header["FILENAME"] = path.name
        hdul[0].header["DATE"] = USEAFTER_ISO
        out = [hdul[0]]
        for hdu in hdul[1:]:
            if (
                isinstance(hdu, fits.ImageHDU)
                and hdu.data is not None
                and hdu.data.size >= min_size
            ):
                header = hdu.header.copy()
                for key in ("BZERO", "BSCALE"):  # uint32 is handled by CompImageHDU itself
                    header.remove(key, ignore_missing=True)
                out.append(
                    fits.CompImageHDU(
                        data=hdu.data,
                        header=header,
                        name=hdu.name,
                        compression_type="GZIP_2",
                        quantize_level=0.0,
                    )
                )
            else:
                out.append(hdu)
        with atomic_path(path) as tmp:
            fits.HDUList(out).writeto(tmp)


def _write_asdf_reference(model, path: Path) -> None:
    with atomic_path(path) as tmp:
        model.to_asdf(tmp)


def _reference_writers(det: _Detector, filters: Sequence[str], dark_ngroups: int):
    """(reftype, pupil, writer(path)) for every reference file of the cache."""
    from jwst.datamodels import dqflags
    from stdatamodels.jwst import datamodels as dm

    flags = dqflags.pixel
    # Reference pixels carry REFERENCE_PIXEL only: refpix and columnjump both ignore reference
    # pixels flagged DO_NOT_USE (with all of them flagged, refpix does nothing and columnjump fails).
    refpix_dq = np.where(det.refpix, flags["REFERENCE_PIXEL"], 0).astype(np.uint32)
    zeros_dq = np.zeros(det.shape, np.uint32)

    def superbias(path):
        model = dm.SuperBiasModel(
            data=det.superbias(), err=np.full(det.shape, 2.0, np.float32), dq=zeros_dq
        )
        _set_meta(model, "superbias", "Synthetic NIS superbias")
        model.meta.exposure.readpatt = "ANY"
        _write_fits_reference(model, path)

    def saturation(path):
        model = dm.SaturationModel(data=det.saturation(), dq=zeros_dq)
        _set_meta(model, "saturation", "Synthetic NIS saturation thresholds (raw DN)")
        _write_fits_reference(model, path)

    def gain(path):
        model = dm.GainModel(data=det.gain())
        _set_meta(model, "gain", "Synthetic NIS gain (e-/DN)")
        model.meta.bunit_data = "electrons/DN"
        _write_fits_reference(model, path)

    def readnoise(path):
        model = dm.ReadnoiseModel(data=det.readnoise())
        _set_meta(model, "readnoise", "Synthetic NIS CDS read noise (DN)")
        model.meta.bunit_data = "DN"
        _write_fits_reference(model, path)

    def linearity(path):
        coeffs = np.zeros((3, *det.shape), np.float32)
        coeffs[1] = 1.0
        coeffs[2] = det.linearity_c2()
        dq = np.where(det.refpix, flags["NO_LIN_CORR"], 0).astype(np.uint32)
        model = dm.LinearityModel(coeffs=coeffs, dq=dq, dq_def=_dq_def(["NO_LIN_CORR"]))
        _set_meta(model, "linearity", "Synthetic NIS linearity: raw + c2 raw^2")
        _write_fits_reference(model, path)

    def dark(path):
        times = instrument.group_mean_times(dark_ngroups)
        rate = _quantise(det.dark_rate(), 2.0**-20).astype(np.float64)
        data = np.empty((dark_ngroups, *det.shape), np.float32)
        for g, t in enumerate(times):
            data[g] = _quantise(rate * t, 2.0**-10)
        model = dm.DarkModel(data=data, dq=zeros_dq)
        _set_meta(model, "dark", "Synthetic NIS dark (NFRAMES=4 group averages)")
        model.meta.exposure.readpatt = READPATT
        model.meta.exposure.nframes = instrument.NIS_NFRAMES
        model.meta.exposure.groupgap = instrument.NIS_GROUPGAP
        model.meta.exposure.ngroups = dark_ngroups
        model.meta.exposure.nints = 1
        model.meta.exposure.average_dark_current = float(DARK_RATE_DN_S * GAIN_E_PER_DN)  # e-/s
        _write_fits_reference(model, path)

    def mask(path):
        dq = refpix_dq.copy()
        for name, index in det.bad_pixels.items():
            dq.flat[index] |= flags[name] | flags["DO_NOT_USE"]
        names = ["DO_NOT_USE", "DEAD", "HOT", "TELEGRAPH", "REFERENCE_PIXEL"]
        model = dm.MaskModel(dq=dq, dq_def=_dq_def(names))
        _set_meta(model, "mask", "Synthetic NIS bad pixel mask")
        _write_fits_reference(model, path)

    def trapdensity(path):
        density = _quantise(1.0 + 0.1 * det.u * det.v, 2.0**-12)
        model = dm.TrapDensityModel(data=density, dq=zeros_dq)
        _set_meta(model, "trapdensity", "Synthetic NIS trap density")
        _write_fits_reference(model, path)

    def trappars(path):
        table = np.array(
            [
                (1.2e-3, -2.0e-3, 1.0e-4, -1.0e-3),
                (2.5e-3, -1.5e-3, 2.0e-4, -3.0e-4),
                (1.0e-3, -1.0e-3, 5.0e-5, -5.0e-5),
            ],
            dtype=[
                ("capture0", "<f8"),
                ("capture1", "<f8"),
                ("capture2", "<f8"),
                ("decay_param", "<f8"),
            ],
        )
        model = dm.TrapParsModel(trappars_table=table)
        _set_meta(model, "trappars", "Synthetic NIS trap capture/decay parameters")
        _write_fits_reference(model, path)

    def persat(path):
        model = dm.PersistenceSatModel(data=_quantise(PERSAT_DN + 500.0 * det.u, 1.0), dq=zeros_dq)
        _set_meta(model, "persat", "Synthetic NIS persistence saturation (DN)")
        _write_fits_reference(model, path)

    def photom(path):
        table = np.array(
            [("CLEAR", p, PHOTMJSR[p], 0.01 * PHOTMJSR[p]) for p in filters],
            dtype=[
                ("filter", "S12"),
                ("pupil", "S12"),
                ("photmjsr", "<f4"),
                ("uncertainty", "<f4"),
            ],
        )
        model = dm.NisImgPhotomModel(phot_table=table)
        _set_meta(
            model, "photom", "Synthetic NIS imaging photometric calibration", exp_type="NIS_IMAGE"
        )
        model.meta.photometry.pixelarea_steradians = PIXAR_SR
        model.meta.photometry.pixelarea_arcsecsq = PIXAR_A2
        _write_fits_reference(model, path)

    def area(path):
        model = dm.PixelAreaModel(data=np.ones(det.shape, np.float32))
        _set_meta(
            model,
            "area",
            "Synthetic NIS pixel area (relative; square pixels)",
            exp_type="NIS_IMAGE",
        )
        model.meta.photometry.pixelarea_steradians = PIXAR_SR
        model.meta.photometry.pixelarea_arcsecsq = PIXAR_A2
        _write_fits_reference(model, path)

    def flat_writer(pupil):
        def flat(path):
            data = det.flat(pupil)
            dq = np.where(det.refpix, flags["NO_FLAT_FIELD"] | flags["DO_NOT_USE"], 0)
            model = dm.FlatModel(
                data=data,
                err=np.full(det.shape, 0.005, np.float32),
                dq=dq.astype(np.uint32),
                dq_def=_dq_def(["DO_NOT_USE", "NO_FLAT_FIELD"]),
            )
            _set_meta(
                model,
                "flat",
                f"Synthetic NIS pixel flat, {pupil} (imaging and WFSS)",
                exp_type="NIS_IMAGE|NIS_WFSS",
                filt="CLEAR|GR150C|GR150R",
                pupil=pupil,
            )
            _write_fits_reference(model, path)

        return flat

    def bkg_writer(grism, pupil):
        def bkg(path):
            # The dispersed sky's shape (the grism configuration's WFSS sky flat, which the
            # renderer puts on the sky) times the pixel flat, as real NIRISS wfssbkg files hold
            # it (grizli divides the flat out again in prep.get_jwst_wfssbkg_file).
            shape = det.flat(pupil) * grismconf.skyflat_image(grism, pupil)
            model = dm.WfssBkgModel(
                data=shape.astype(np.float32), err=np.zeros(det.shape, np.float32), dq=zeros_dq
            )
            # grizli reads FILTER and PUPIL from this header
            _set_meta(
                model,
                "bkg",
                f"Synthetic NIS WFSS background, {grism} {pupil}",
                exp_type="NIS_WFSS",
                filt=grism,
                pupil=pupil,
            )
            _write_fits_reference(model, path)

        return bkg

    def distortion(path):
        import astropy.units as u

        model = dm.DistortionModel(
            model=instrument.detector_to_v2v3(), input_units=u.pix, output_units=u.arcsec
        )
        _set_meta(
            model,
            "distortion",
            "Synthetic NIS distortion: TAN, square pixels",
            exp_type="NIS_IMAGE|NIS_WFSS",
            pupil="|".join(filters),
        )
        _write_asdf_reference(model, path)

    def filteroffset(path):
        rows = [
            {"filter": f, "pupil": p, "column_offset": 0.0, "row_offset": 0.0}
            for f in ("CLEAR", *GRISMS)
            for p in filters
        ]
        model = dm.FilteroffsetModel(filters=rows, instrument="NIRISS")
        _set_meta(
            model,
            "filteroffset",
            "Synthetic NIS filter offsets (none)",
            exp_type="NIS_IMAGE|NIS_WFSS",
        )
        _write_asdf_reference(model, path)

    def pars_writer(reftype):
        def pars(path):
            from stpipe.config import StepConfig

            class_name, step_name, parameters = PARS_FILES[reftype]
            step_config = StepConfig(class_name, step_name, dict(parameters), [])
            with step_config.to_asdf(include_metadata=True) as tree_file:
                tree_file.tree["meta"].update(
                    author="wfsspipe synthetic CRDS cache",
                    date=USEAFTER_ISO,  # deterministic content
                    description=f"Synthetic NIRISS parameters of {class_name}",
                    instrument={"name": "NIRISS"},
                    origin="wfsspipe",
                    pedigree="SIMULATION",
                    reftype=reftype.upper(),
                    telescope="JWST",
                    useafter=USEAFTER_ISO,
                    exposure={"type": "NIS_IMAGE|NIS_WFSS|"},
                )
                with atomic_path(path) as tmp:
                    tree_file.write_to(tmp)

        return pars

    single = [
        superbias,
        saturation,
        gain,
        readnoise,
        linearity,
        dark,
        mask,
        trapdensity,
        trappars,
        persat,
        photom,
        area,
        distortion,
        filteroffset,
    ]
    writers: list[tuple[str, str | None, str | None, Callable[[Path], None]]] = [
        (writer.__name__, None, None, writer) for writer in single
    ]
    writers += [(reftype, None, None, pars_writer(reftype)) for reftype in PARS_FILES]
    writers += [("flat", p, None, flat_writer(p)) for p in filters]
    writers += [("bkg", p, g, bkg_writer(g, p)) for g in GRISMS for p in filters]
    return writers


# --- The cache ---------------------------------------------------------------------------------


def _server_config(context: str) -> str:
    info = {
        "observatory": OBSERVATORY,
        "operational_context": context,
        "edit_context": context,
        "versions_context": context,
        "bad_files_list": [],
        "force_remote_mode": False,
        "last_synced": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "reference_url": SERVERLESS_URL + "/unchecked_get/references/jwst/",
        "mapping_url": SERVERLESS_URL + "/unchecked_get/mappings/jwst/",
        "crds_version": {"str": "synthetic"},
    }
    return pprint.pformat(info) + "\n"


def build_crds_cache(
    root: str | Path,
    filters: Sequence[str] = BLOCKING_FILTERS,
    seed: int = DEFAULT_SEED,
    dark_ngroups: int = DEFAULT_DARK_NGROUPS,
) -> str:
    """Write a complete offline CRDS cache for NIRISS NIS imaging and WFSS under ``root``.

    ``filters`` are the blocking filters (PUPIL) to support. Returns the context name; use
    :func:`crds_environment` to point CRDS at it. Rebuilding over an existing cache rewrites it
    (every file is written atomically). About 17 s and ~100 MB.
    """
    filters = tuple(f.upper() for f in filters)
    unknown = set(filters) - set(BLOCKING_FILTERS)
    if unknown:
        raise ValueError(
            f"unsupported NIRISS blocking filters {sorted(unknown)}; choose from {BLOCKING_FILTERS}"
        )
    if dark_ngroups < 2:
        raise ValueError(f"dark_ngroups must be >= 2, got {dark_ngroups}")
    root = Path(root)
    started = time.perf_counter()
    context = context_name()
    det = _Detector(seed)

    for reftype, pupil, grism, writer in _reference_writers(det, filters, dark_ngroups):
        writer(reference_path(root, reftype, pupil, grism))

    mappings = root / "mappings" / OBSERVATORY
    built = {}
    for reftype, (parkeys, rules) in _rules(filters).items():
        text = _rmap_text(reftype, parkeys, rules)
        name = f"{OBSERVATORY}_niriss_{reftype}_{CONTEXT_SERIAL:04d}.rmap"
        write_text(mappings / name, text)
        built[reftype] = name
    imap = f"{OBSERVATORY}_niriss_{CONTEXT_SERIAL:04d}.imap"
    write_text(mappings / imap, _imap_text(built))
    write_text(mappings / context, _pmap_text(imap))

    config = root / "config" / OBSERVATORY
    write_text(config / "server_config", _server_config(context))
    write_text(config / "bad_files.txt", "")
    write_text(config / "ref_cache_subdir_mode", "instrument")
    log.info("CRDS cache %s (%s) built in %.1f s", root, context, time.perf_counter() - started)
    return context
