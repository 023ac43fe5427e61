"""Atomic products: write to a temporary name in the same folder, then rename.

Files (:func:`atomic_path`, :func:`write_text`, :func:`write_bytes`) are written under
``.tmp-{stem}-*``; folders (:func:`folder_product`, or :func:`work_folder` then
:func:`commit_folder`) are built in ``.{name}.tmp-*`` beside the product. A job killed mid-write
leaves at most such a temporary name behind, never a half-written product under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps the final suffix (libraries such as astropy pick the format from it).
    On error the temporary file is removed and ``path`` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = final.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{final.stem}-", suffix=suffix, dir=final.parent)
    os.close(fd)
    os.chmod(
        tmp_name, 0o666 & ~_umask()
    )  # mkstemp makes 0600; products are as readable as any file
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file for {final}")
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# --- Folders ---------------------------------------------------------------------------------
def work_folder(final: str | os.PathLike) -> Path:
    """A fresh temporary folder beside ``final`` (same file system, so renaming is atomic).

    Folders a killed job left for the same product are removed first (a field's RATE files
    make a few GB of them): Snakemake runs one job per product, so none of them is in use.
    The folder is returned as an absolute path: grizli works in a working directory of its
    own (:func:`~wfsspipe.grizli_env.grizli_session`), where a relative one means nothing.
    """
    final = Path(final).absolute()
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))


def commit_folder(built: str | os.PathLike, final: str | os.PathLike) -> None:
    """Make ``built`` the folder ``final``: the old one (Snakemake may have created it) moves
    aside, the new one takes its name, then the old one is removed.

    ``built`` gets the mode a new folder has (:func:`work_folder`'s ``mkdtemp`` makes 0700):
    products are as readable as any folder, and the web map is for browsers."""
    built, final = Path(built), Path(final)
    os.chmod(built, 0o777 & ~_umask())
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(built, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def folder_product(final: str | os.PathLike) -> Iterator[Path]:
    """Build a folder product aside: yield a fresh work folder beside ``final`` that replaces
    ``final`` if the block succeeds (:func:`commit_folder`) and is removed if it fails."""
    work = work_folder(final)
    try:
        yield work
        commit_folder(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
