"""JWST product names: the patterns every filename from a table must match before use."""

from __future__ import annotations

import os
import re

# jw PPPPP OOO VVV _ GG S AA _ EEEEE _ detector: program, observation, visit, visit group,
# parallel sequence, activity (base 36), exposure, detector. NIRISS detector is ``nis``.
EXPOSURE_PATTERN = r"jw\d{11}_\d{3}[0-9a-z]{2}_\d{5}_nis"
EXPOSURE_RE = re.compile(rf"^{EXPOSURE_PATTERN}$")
UNCAL_RE = re.compile(rf"^({EXPOSURE_PATTERN})_uncal\.fits$")
FIELD_PATTERN = r"[a-z]{3}-\d{2,3}"
FIELD_RE = re.compile(rf"^{FIELD_PATTERN}$")


def is_exposure(obs_id: str) -> bool:
    """True for an exposure-level NIRISS product root such as ``jw01571001001_02101_00001_nis``."""
    return bool(EXPOSURE_RE.match(obs_id))


def uncal_filename(obs_id: str) -> str:
    """``{obs_id}_uncal.fits``, refusing anything that is not an exposure name."""
    if not is_exposure(obs_id):
        raise ValueError(
            f"{obs_id!r} is not a NIRISS exposure name like jw01571001001_02101_00001_nis"
        )
    return f"{obs_id}_uncal.fits"


def exposure_of(filename: str) -> str:
    """The exposure root of an UNCAL filename, refusing anything else (paths included)."""
    match = UNCAL_RE.match(filename)
    if not match:
        raise ValueError(f"{filename!r} is not a NIRISS UNCAL product name (jw..._nis_uncal.fits)")
    return match.group(1)


def rule_fields_dir(fields_dir: str, workdir: str) -> str:
    """``fields_dir`` as the rules spell it: relative to Snakemake's working folder when it lies
    inside it (so ``FIELDS/...`` typed there is a target), else as an absolute path."""
    absolute = os.path.abspath(os.path.join(workdir, fields_dir))
    inside = os.path.commonpath([absolute, os.path.abspath(workdir)]) == os.path.abspath(workdir)
    return os.path.relpath(absolute, workdir) if inside else absolute


def absolute_prefix_pattern(fields_dir: str, workdir: str) -> str:
    """The regex of the ``{root}`` wildcard that starts every output, log and benchmark pattern:
    empty, or (for a relative ``fields_dir``) the working folder itself, so a product asked for
    by its absolute path is the same job as by its relative path."""
    if os.path.isabs(fields_dir):
        return "(?:)"
    spellings = {os.path.abspath(workdir), os.path.realpath(workdir)}
    return "(?:" + "|".join(re.escape(s.rstrip("/") + "/") for s in sorted(spellings)) + ")?"
