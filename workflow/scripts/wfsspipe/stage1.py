"""Stage 1: UNCAL -> RATE with jwst ``Detector1Pipeline`` and the NIRISS ``columnjump`` step.

How it is called (jwst 1.19.2, columnjump 1.1.1, stpipe):

* ``Detector1Pipeline.call(uncal, steps=...)`` with default steps; ``.call`` (unlike instantiating
  the class) also applies CRDS step-parameter references (``pars-*``) when the context has them.
  NIR order: group_scale, dq_init, saturation, ipc, superbias, refpix, linearity, persistence,
  dark_current, charge_migration (skipped by default), jump, clean_flicker_noise (skipped), ramp_fit,
  gain_scale. refpix runs: the synthetic ramps carry real reference pixels (bias + read noise only).
* columnjump runs as an stpipe *post-hook of dark_current*, i.e. between dark_current and jump,
  without re-implementing the pipeline: ``steps={"dark_current": {"post_hooks": [
  "wfsspipe.stage1.RecordingColumnJumpStep(nsigma1jump=50e-1, nsigma2jumps=30e-1)"]}}``: stpipe
  instantiates a hook string ``"module.Class(kw=value, ...)"``, but splits it at its *last dot*
  (``stpipe.utilities.import_class``), so the numbers are written without dots (``5.0`` breaks
  it: the hook becomes a failing shell command). The subclass only records which rows (detector
  columns) columnjump changed; the algorithm is columnjump's own.
* columnjump does nothing at NGROUPS <= 6 and needs full-frame data; its status is not written to
  the RATE file, so :func:`run_detector1` writes ``S_COLJMP`` (COMPLETE/SKIPPED/NOT RUN) and
  ``COLJMPN`` (columns corrected) into the primary header.
* ``persistence`` would write a ``_trapsfilled`` file by default: ``save_trapsfilled=False``.
  Intermediate products go to a temporary folder beside the output, removed afterwards.
* CRDS comes only from the environment (``CRDS_PATH``, ``CRDS_MODE``, ``CRDS_CONTEXT``,
  ``CRDS_SERVER_URL``; see :mod:`wfsssim.crdscache`); the RATE records ``CRDS_CTX``.
  Set them before ``crds`` is first imported in the process (crds reads ``CRDS_SERVER_URL`` at
  import time).

Measured here (synthetic full frame, one process on a shared 2-core machine): 7 groups 25 s and
1.8 GB peak RSS, 10 groups 30 s and 2.4 GB; columnjump itself takes ~2 s. Peak memory is in the
jump step (DESIGN.md: ~520 MB + 22.5 x UNCAL size in MB). jwst's two-point jump detection flags
~0.3 % of pixels as false positives at 7 groups (noisy per-pixel median of 6 differences); the
ramp fit stays unbiased. columnjump's correction of a step ``S`` at group ``j`` of ``n`` is
``S (n-j)/(n-j+1)``: ``S/(n-j+1)`` remains in that row.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits

from .atomic import atomic_path
from .crds_sync import STAGE1_REFTYPES

log = logging.getLogger(__name__)

DEFAULT_COLUMNJUMP_PARAMS = {"nsigma1jump": 5.0, "nsigma2jumps": 3.0}  # columnjump's defaults
COLUMNJUMP_MIN_NGROUPS = 7


def _recording_step_class():
    from columnjump import ColumnJumpStep

    class RecordingColumnJumpStep(ColumnJumpStep):
        """columnjump's step, remembering which DMS rows (detector columns) it corrected."""

        class_alias = "columnjump"
        results: ClassVar[dict[str, dict[str, Any]]] = {}

        def process(self, input_model):
            filename = getattr(getattr(input_model, "meta", None), "filename", None) or "?"
            before = np.array(input_model.data[..., :4], copy=True)  # ref pixels, DMS x 0-3
            result = super().process(input_model)
            ngroups = result.data.shape[1]
            changed = np.any(result.data[..., :4] != before, axis=(0, 1, 3))
            status = "COMPLETE" if ngroups >= COLUMNJUMP_MIN_NGROUPS else "SKIPPED"
            rows = tuple(int(r) for r in np.flatnonzero(changed))
            type(self).results[filename] = {"status": status, "rows": rows}
            return result

    return RecordingColumnJumpStep


def __getattr__(name):  # build the Step subclass on first use: importing jwst is slow
    if name == "RecordingColumnJumpStep":
        cls = _recording_step_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


@dataclass(frozen=True)
class Stage1Result:
    rate: Path
    crds_context: str
    columnjump_status: str
    columnjump_rows: tuple[int, ...]
    elapsed_s: float
    reference_files: dict[str, str] = field(default_factory=dict)


def _dotless(value: float) -> str:
    """A float literal without '.', e.g. 5.0 -> '50e-1' (stpipe splits hook strings on dots)."""
    sign, digits, exponent = Decimal(repr(float(value))).as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    return f"{'-' if sign else ''}{mantissa}e{exponent}"


def _hook(params: Mapping[str, float]) -> str:
    """stpipe hook string ``module.Class(kw=value, ...)``; stpipe.utilities.import_class splits it
    at the last '.', so the arguments must not contain dots."""
    args = ", ".join(f"{k}={_dotless(v)}" for k, v in params.items())
    return f"wfsspipe.stage1.RecordingColumnJumpStep({args})"


def run_detector1(
    uncal: str | Path,
    rate_out: str | Path,
    *,
    columnjump: bool = True,
    columnjump_params: Mapping[str, float] | None = None,
    steps: Mapping[str, Mapping[str, Any]] | None = None,
) -> Stage1Result:
    """Run Detector1 (+ columnjump) on ``uncal`` and write the RATE product atomically.

    ``steps`` adds or overrides per-step parameters (stpipe syntax). Returns the output path, the
    CRDS context used, the columnjump outcome and the reference files recorded in the product.
    """
    from jwst.pipeline import Detector1Pipeline

    started = time.perf_counter()
    uncal, rate_out = Path(uncal), Path(rate_out)
    if not uncal.exists():
        raise FileNotFoundError(f"UNCAL file {uncal} does not exist")
    params = {**DEFAULT_COLUMNJUMP_PARAMS, **(columnjump_params or {})}
    unknown = set(params) - set(DEFAULT_COLUMNJUMP_PARAMS)
    if unknown:
        raise ValueError(f"unknown columnjump parameters {sorted(unknown)}")
    step_pars: dict[str, dict[str, Any]] = {"persistence": {"save_trapsfilled": False}}
    if columnjump:
        step_pars["dark_current"] = {"post_hooks": [_hook(params)]}
    for name, pars in (steps or {}).items():
        step_pars.setdefault(name, {}).update(pars)

    recorder = __getattr__("RecordingColumnJumpStep")
    recorder.results.pop(uncal.name, None)
    rate_out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".stage1-", dir=rate_out.parent) as workdir:
        result = Detector1Pipeline.call(
            str(uncal), steps=step_pars, output_dir=workdir, save_results=False
        )
        try:
            record = recorder.results.pop(uncal.name, None)
            status = record["status"] if record else ("NOT RUN" if not columnjump else "FAILED")
            rows = record["rows"] if record else ()
            context = result.meta.ref_file.crds.context_used
            refs = {
                name: getattr(result.meta.ref_file, name).name
                for name in STAGE1_REFTYPES
                if getattr(getattr(result.meta.ref_file, name, None), "name", None)
            }
            result.meta.filename = rate_out.name
            with atomic_path(rate_out) as tmp:
                result.to_fits(Path(tmp), overwrite=True)
                with fits.open(tmp, mode="update") as hdul:
                    header = hdul[0].header
                    header["S_COLJMP"] = (status, "columnjump step (run as dark_current post-hook)")
                    header["COLJMPN"] = (len(rows), "number of columns corrected by columnjump")
                    header["CJ_NSIG1"] = (params["nsigma1jump"], "columnjump nsigma1jump")
                    header["CJ_NSIG2"] = (params["nsigma2jumps"], "columnjump nsigma2jumps")
        finally:
            result.close()
    elapsed = time.perf_counter() - started
    log.info(
        "%s -> %s in %.0f s (columnjump %s, %d columns)",
        uncal.name,
        rate_out.name,
        elapsed,
        status,
        len(rows),
    )
    return Stage1Result(rate_out, context, status, rows, elapsed, refs)
