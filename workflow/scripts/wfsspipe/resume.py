"""Finished sources of a per-field job, kept so that a killed or timed-out job resumes.

extract and zfit work source by source for hours on a large field; their products appear only
when the whole field is done (the folder is renamed into place). A :class:`SourceStore` keeps
each finished source aside, in a hidden folder beside the product (``.Redshifts.done/`` next to
``Redshifts/``), outside the rule's outputs so Snakemake neither removes nor trusts it:

* :meth:`SourceStore.keep` links (or copies) the source's files into ``<store>/<id>/`` and then
  writes ``<id>.json`` (its results row) atomically: the row is the mark that the source is
  complete, so a kill between the two leaves a source that is simply done again;
* the next attempt opens the store with the same ``key`` (a digest of what the results depend
  on: the settings and the input files), skips the sources it holds (:meth:`done`) and puts
  their files back into its new work folder (:meth:`restore`); a different key (settings or
  inputs changed) empties the store first;
* once the product is in place the job removes the store (:meth:`clear`).

The final table is assembled from the rows of this attempt and of the store, so it equals an
uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .atomic import write_text

log = logging.getLogger(__name__)

KEY_FILE = "KEY"


def store_folder(product: str | os.PathLike) -> Path:
    """The store of a folder product: ``Redshifts/`` -> ``.Redshifts.done/`` beside it."""
    product = Path(product).absolute()
    return product.parent / f".{product.name}.done"


def digest(settings: Any, files: Iterable[str | os.PathLike]) -> str:
    """What a job's results depend on: its settings (as JSON) and each input's name, size and
    modification time (a changed input changes the key)."""
    parts = [json.dumps(settings, sort_keys=True, default=str)]
    for path in sorted(str(p) for p in files):
        stat = os.stat(path)
        parts.append(f"{Path(path).name} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def source_files(work: Path, field_name: str, source_id: int) -> list[Path]:
    """What grizli wrote for one source in ``work`` (``{field}_{id:05d}.*``: beams file, 2D
    stacks, fit products, figures), without the links to inputs it read from there."""
    stem = f"{field_name}_{source_id:05d}."
    return [p for p in work.glob(f"{stem}*") if p.is_file() and not p.is_symlink()]


class SourceStore:
    """The finished sources of one job (see the module docs)."""

    def __init__(self, folder: str | os.PathLike, key: str):
        self.folder = Path(folder)
        key_file = self.folder / KEY_FILE
        if self.folder.exists() and (not key_file.is_file() or key_file.read_text() != key):
            log.info("%s: settings or inputs changed: starting over", self.folder.name)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not key_file.is_file():
            write_text(key_file, key)

    def done(self) -> dict[int, dict[str, Any]]:
        """Rows of the sources finished by earlier attempts, by source id."""
        rows = {}
        for path in self.folder.glob("*.json"):
            try:
                row = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # not a complete mark: the source is done again
            rows[int(row["id"])] = row
        return rows

    def keep(self, source_id: int, row: Mapping[str, Any], files: Iterable[Path]) -> None:
        """Keep a finished source: its files, then its row (the mark)."""
        folder = self.folder / str(source_id)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for path in files:
            _link_or_copy(path, folder / path.name)
        write_text(self.folder / f"{source_id}.json", json.dumps(dict(row), default=float))

    def restore(self, source_id: int, into: Path) -> list[Path]:
        """Put a kept source's files into ``into``; returns them."""
        restored = []
        for path in sorted((self.folder / str(source_id)).iterdir()):
            target = into / path.name
            target.unlink(missing_ok=True)
            _link_or_copy(path, target)
            restored.append(target)
        return restored

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (same file system, no copy), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
