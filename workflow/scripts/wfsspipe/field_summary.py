"""The run summary of a field: ``FIELDS/{field}/logs/fmap.log`` and the per-stage targets.

Users of the workflow this one succeeds build a field with ``snakemake FIELDS/<field>/logs/fmap.log``.
Here that file is a product, written when every product of the field exists: for each stage its
products with counts and key numbers, what was skipped and why, the jobs' wall times and peak
memory (from ``benchmarks/``), and the warnings the jobs logged. ``logs/stage1.log`` and
``logs/mosaic.log`` are the same summary for the stages up to Stage 1 and up to the mosaics.

Everything is read from the products themselves (FITS headers, tables, the provenance record), so
the summary says what is on disk, not what a job meant to write.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wfsspipe import layout
from wfsspipe.atomic import write_text
from wfsspipe.storage import image_header

# Stages in workflow order: (name, what its products are).
STAGES = {
    "stage1": "RATE files (jwst Detector1 + columnjump)",
    "preprocess": "grizli visits, alignment and sky (Prep/)",
    "mosaic": "drizzled mosaics and the detection catalogue (Mosaic/)",
    "contam": "grism contamination models (Contam/)",
    "extract": "2D spectra (Extractions/)",
    "zfit": "redshift fits (Redshifts/)",
    "provenance": "provenance record",
    "webmap": "web map (fitsmap/)",
}
# A line of our job logs (wfsspipe.logs.FORMAT) at WARNING or above, and jwst/stpipe's own.
WARNING_RE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b\s*-?\s*(.*)")
MAX_WARNINGS_SHOWN = 5
NUMBERS_IN_PARENTHESES = re.compile(r"\s*\([-+0-9.eE, ]*\)")
# Python warnings name the file they come from: keep the package path, not the environment's.
SITE_PACKAGES = re.compile(r"\S*site-packages/")


class FieldSummaryError(RuntimeError):
    """A product the summary reads is missing or unreadable."""


def stage_numbers(stage: str, paths: Sequence[Path]) -> list[str]:
    """Key numbers of a stage, as ``name: value`` lines, read from its products."""
    reader = _READERS.get(stage)
    if reader is None:
        return []
    try:
        return reader(paths)
    except FieldSummaryError:
        raise
    except Exception as error:  # a product that cannot be read is a broken field
        names = ", ".join(p.name for p in paths)
        raise FieldSummaryError(
            f"{stage}: could not read {names}: {type(error).__name__}: {error}; "
            f"delete the product and rerun the {stage} stage"
        ) from error


def _rates(paths: Sequence[Path]) -> list[str]:
    from astropy.io import fits

    by_kind = collections.Counter()
    contexts = set()
    for path in paths:
        header = fits.getheader(path, 0)
        by_kind[f"{header.get('EXP_TYPE', '?')} {header.get('PUPIL', '?')}"] += 1
        if header.get("CRDS_CTX"):
            contexts.add(str(header["CRDS_CTX"]))
    lines = [f"RATE files: {len(paths)}"]
    lines += [f"  {kind}: {count}" for kind, count in sorted(by_kind.items())]
    if contexts:
        lines.append(f"CRDS context: {', '.join(sorted(contexts))}")
    return lines


def _visits(paths: Sequence[Path]) -> list[str]:
    from astropy.table import Table

    table = Table.read(_one(paths, layout.VISITS_SUFFIX), format="ascii.ecsv")
    lines = [f"prepared exposures: {len(table)}"]
    if "visit" in table.colnames:
        lines.append(f"visits: {len(set(table['visit']))}")
    for column, label in (("align_method", "alignment"), ("align_catalog", "aligned to"),
                          ("status", "status")):  # fmt: skip
        if column in table.colnames:
            lines.append(_counts(label, table[column]))
    return lines


def _counts(label: str, values) -> str:
    """``label: a (3), b (1)``: how often each value occurs."""
    counts = collections.Counter(str(v) for v in values)
    return f"{label}: " + ", ".join(f"{v} ({n})" for v, n in sorted(counts.items()))


def _mosaics(paths: Sequence[Path]) -> list[str]:
    from astropy.table import Table

    lines = []
    for path in sorted(p for p in paths if p.name.endswith(layout.MOSAIC_SCI_SUFFIX)):
        header = image_header(path)  # compressed (products.keep: science) or not
        shape = f"{header.get('NAXIS1', '?')} x {header.get('NAXIS2', '?')}"
        lines.append(f"mosaic {path.name}: {shape} px")
    phot = [p for p in paths if p.name.endswith(layout.PHOT_SUFFIX)]
    if phot:
        lines.append(f"catalogue sources: {len(Table.read(phot[0]))}")
    return lines


def _contam(paths: Sequence[Path]) -> list[str]:
    from astropy.table import Table

    table = Table.read(_one(paths, layout.CONTAM_SUFFIX), format="ascii.ecsv")
    lines = [f"grism exposures modelled: {len(table)}"]
    if len(table) and "grism" in table.colnames:
        kinds = collections.Counter(
            f"{g} {f} PA {p}" for g, f, p in zip(table["grism"], table["filter"], table["pa"])
        )
        lines += [f"  {kind}: {n}" for kind, n in sorted(kinds.items())]
    for grism_filter, reference in sorted((table.meta.get("reference_filters") or {}).items()):
        if reference != grism_filter:
            lines.append(f"{grism_filter} grism modelled from the {reference} direct image")
    limit = table.meta.get("extract_mag_limit")
    if limit is not None:
        how = (table.meta.get("extract_mag_limit_record") or {}).get("method", "")
        lines.append(f"extraction limit: {float(limit):.2f} mag" + (f" ({how})" if how else ""))
    for key in ("reason", "note"):
        if table.meta.get(key):
            lines.append(f"{key}: {table.meta[key]}")
    return lines


def _extract(paths: Sequence[Path]) -> list[str]:
    from astropy.table import Table

    table = Table.read(_one(paths, layout.EXTRACT_SUFFIX), format="ascii.ecsv")
    status = collections.Counter(str(s) for s in table["status"]) if len(table) else {}
    lines = [
        f"catalogue sources: {len(table)}; extracted {status.get('extracted', 0)}, "
        f"skipped {status.get('skipped', 0)}, failed {status.get('failed', 0)}"
    ]
    reasons = collections.Counter(
        _reason_kind(row["reason"]) for row in table if str(row["status"]) != "extracted"
    )
    lines += [f"  {count} {reason}" for reason, count in reasons.most_common() if reason]
    for key in ("reason", "note"):
        if table.meta.get(key):
            lines.append(f"{key}: {table.meta[key]}")
    return lines


def _reason_kind(reason: Any) -> str:
    """A skip or failure reason without its per-source numbers ("brighter than ... (21.68)")."""
    return NUMBERS_IN_PARENTHESES.sub("", str(reason)).strip()


def _zfit(paths: Sequence[Path]) -> list[str]:
    from astropy.table import Table

    table = Table.read(_one(paths, layout.REDSHIFTS_SUFFIX))
    lines = [f"sources fitted: {len(table)}"]
    for column in ("status", "flag"):
        if len(table) and column in table.colnames:
            lines.append(_counts(column, table[column]))
    if len(table) and "quality" in table.colnames:
        quality = collections.Counter(int(q) for q in table["quality"])
        lines.append(
            "quality: " + ", ".join(f"{q}: {n}" for q, n in sorted(quality.items(), reverse=True))
        )
    if len(table) and "reason" in table.colnames:
        reasons = [_reason_kind(r) for r in table["reason"] if not _blank(r)]
        lines += [f"  {n} {r}" for r, n in collections.Counter(reasons).most_common()]
    for key in ("NOTE", "REASON"):
        if table.meta.get(key):
            lines.append(f"{key.lower()}: {table.meta[key]}")
    return lines


def _blank(value: Any) -> bool:
    """Empty or masked table cell."""
    return bool(getattr(value, "mask", False)) or not str(value).strip() or str(value) == "--"


def _provenance(paths: Sequence[Path]) -> list[str]:
    record = json.loads(_one(paths, layout.PROVENANCE_SUFFIX).read_text())
    lines = [f"config sha256: {str(record.get('config_sha256', '?'))[:12]}"]
    contexts = record.get("crds_contexts") or record.get("crds_context")
    if contexts:
        lines.append(f"CRDS contexts: {contexts}")
    return lines


def _webmap(paths: Sequence[Path]) -> list[str]:
    index = _one(paths, layout.MAP_INDEX)
    layers = [p.name for p in index.parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [f"map folder: {index.parent.name}/ ({len(layers)} folders of tiles and assets)"]


_READERS = {
    "stage1": _rates,
    "preprocess": _visits,
    "mosaic": _mosaics,
    "contam": _contam,
    "extract": _extract,
    "zfit": _zfit,
    "provenance": _provenance,
    "webmap": _webmap,
}


def _one(paths: Sequence[Path], suffix: str) -> Path:
    for path in paths:
        if path.name.endswith(suffix):
            return path
    raise FieldSummaryError(f"no product ending in {suffix} among {[p.name for p in paths]}")


def benchmarks(folder: Path) -> dict[str, tuple[int, float, float]]:
    """{stage: (jobs, total wall s, largest peak RSS MB)} from Snakemake's benchmark files
    under ``folder`` (``benchmarks/{stage}.tsv`` or ``benchmarks/{stage}/*.tsv``)."""
    totals: dict[str, list[float]] = {}
    if not folder.is_dir():
        return {}
    for path in sorted(folder.rglob("*.tsv")):
        stage = path.relative_to(folder).parts[0].removesuffix(".tsv")
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        for row in rows[-1:]:  # the last run of the job (Snakemake appends on --forcerun)
            entry = totals.setdefault(stage, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += _number(row.get("s"))
            entry[2] = max(entry[2], _number(row.get("max_rss")))
    return {stage: (int(n), s, rss) for stage, (n, s, rss) in totals.items()}


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0  # Snakemake writes "-" where it could not measure


def log_warnings(folder: Path, exclude: Iterable[Path] = ()) -> dict[str, list[str]]:
    """{job log, or a stage's folder of per-job logs ("stage1/"), relative to ``folder``: the
    WARNING/ERROR messages of its logs, in order}."""
    skip = {Path(p).resolve() for p in exclude}
    found: dict[str, list[str]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.log")):
        if path.resolve() in skip:
            continue
        relative = path.relative_to(folder)
        key = f"{relative.parts[0]}/" if len(relative.parts) > 1 else str(relative)
        with path.open(errors="replace") as handle:
            for line in handle:
                match = WARNING_RE.search(line)
                if match:
                    message = SITE_PACKAGES.sub("", match.group(2).strip() or line.strip())
                    found.setdefault(key, []).append(message)
    return found


def summary_text(
    field: str,
    products: Mapping[str, Sequence[str | os.PathLike]],
    field_dir: str | os.PathLike,
    title: str,
    exclude_logs: Iterable[Path] = (),
) -> str:
    """The summary of ``field``: ``products`` maps stage names (keys of STAGES) to their
    product paths; timings and warnings are read from ``field_dir``'s benchmarks/ and logs/."""
    field_dir = Path(field_dir)
    unknown = sorted(set(products) - set(STAGES))
    if unknown:
        raise FieldSummaryError(f"unknown stages {unknown}; known: {list(STAGES)}")
    timings = benchmarks(field_dir / layout.BENCHMARK_DIR)
    lines = [f"# {title}: field {field}", ""]
    for stage in STAGES:
        if stage not in products:
            continue
        paths = [Path(p) for p in products[stage]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise FieldSummaryError(f"{stage}: products missing: {', '.join(missing)}")
        lines.append(f"## {stage}: {STAGES[stage]}")
        lines += [f"- {line}" for line in stage_numbers(stage, paths)]
        if stage in timings:
            jobs, seconds, rss = timings[stage]
            lines.append(f"- jobs: {jobs}, wall {seconds:.0f} s in all, peak memory {rss:.0f} MB")
        lines.append("- products:")
        lines += [f"    {_relative(p, field_dir)}" for p in paths]
        lines.append("")
    warnings = log_warnings(field_dir / "logs", exclude_logs)
    total = sum(len(m) for m in warnings.values())
    lines.append(f"## warnings: {total} in {len(warnings)} job logs")
    for log, messages in warnings.items():
        counts = collections.Counter(messages)
        lines.append(f"- {log}: {len(messages)}")
        lines += [
            f"    {n} x {message[:160]}" for message, n in counts.most_common(MAX_WARNINGS_SHOWN)
        ]
    return "\n".join(lines) + "\n"


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path)


def write_summary(
    path: str | os.PathLike,
    field: str,
    products: Mapping[str, Sequence[str | os.PathLike]],
    field_dir: str | os.PathLike,
    title: str,
) -> str:
    """Write the summary atomically to ``path``; return its text."""
    text = summary_text(field, products, field_dir, title, exclude_logs=[Path(path)])
    write_text(path, text)
    return text
