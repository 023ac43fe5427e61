"""grizli's configuration folder (``$GRIZLI``): built from its sources, verified, recorded.

grizli ships its redshift-fit templates but none of what it reads from ``$GRIZLI/CONF``: the aXe
trace configurations ``{grism}.{filter}.221215.conf``, the sensitivity tables they name and the
WFSS sky flats ``nis-{filter}-{grism}_skyflat.fits``. Rule ``grizli_config`` (a local rule, on the
submit host, before any grizli job) makes them present:

1. every source of ``grizli_config.sources`` (name, URL, SHA-256, the folder of ``$GRIZLI`` it goes
   ``into``, the files it ``provides``) whose files are all there, with the pinned checksum where
   the file is the source itself, is *held*: nothing is downloaded for it. An archive without a
   ``provides`` list (the sensitivity tables, whose names only the confs know) is held when every
   conf's ``SENSITIVITY_x`` file exists;
2. the others are downloaded with the project's transport (:func:`wfsspipe.download.fetch_url`:
   retries with backoff, Range resume), checked against their SHA-256, and unpacked (tar members
   are plain files with bare names: ``tarfile``'s ``data`` filter) into a staging folder
   ``$GRIZLI/.tmp-grizli-config-*``; grizli's shipped templates are copied into ``templates/``
   when it lacks them;
3. the staged tree together with what is held is verified (every provided file, every conf's
   sensitivity tables, the templates); only then is it committed: each file renamed into place
   (``os.replace``, so each is whole or absent), a folder that did not exist renamed in whole.

A failure (network, checksum, an archive without a promised file) removes the staging folder and
leaves ``$GRIZLI`` as it was. The manifest (``CONF/wfsspipe_grizli_config.json``, written last
and atomically by the rule) lists each source and whether it was downloaded or held, every
conf with its sensitivity tables, the grism x filter pairs grizli can model, and the size and
SHA-256 of every file. It is the product the grizli stages depend on.

:func:`table_problems` is the parse-time check: every grism x blocking filter of the fields table
needs its conf and sky flat, held in ``$GRIZLI`` or provided by a configured source.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_text
from .download import DownloadError, fetch_url
from .integrity import sha256_of

log = logging.getLogger(__name__)

CONF_VERSION = "221215"  # the NIRISS conf grizli looks for first (grismconf.get_config_filename)
MANIFEST_NAME = "wfsspipe_grizli_config.json"
MANIFEST_VERSION = 1
STAGE_PREFIX = ".tmp-grizli-config-"
LOCK_NAME = ".wfsspipe-grizli-config.lock"
DESTINATIONS = ("CONF", "templates")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
GRISM_EXPOSURE_TYPE = "NIS_WFSS"
HOW_TO = (
    "Add the source that holds each file to grizli_config.sources (config/README.md lists the "
    "real ones: Zenodo record 7628094 has the 221215 traces and sensitivities, record 13741413 "
    "the sky flats), or put the file into $GRIZLI yourself"
)


class GrizliConfigError(RuntimeError):
    """``$GRIZLI`` could not be built or verified; the message names the file and what to do."""


@dataclass(frozen=True)
class Source:
    """One file of ``grizli_config.sources``: a plain file, or an archive unpacked ``into``."""

    name: str
    url: str
    sha256: str | None
    into: str
    provides: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, entry: Mapping) -> Source:
        return cls(
            name=entry["name"],
            url=entry["url"],
            sha256=(entry.get("sha256") or None),
            into=entry["into"],
            provides=tuple(entry.get("provides") or ()),
        )

    @property
    def archive(self) -> bool:
        return self.name.endswith(ARCHIVE_SUFFIXES)

    def files(self) -> tuple[str, ...]:
        """The paths (relative to ``$GRIZLI``) this source supplies."""
        names = self.provides or (() if self.archive else (self.name,))
        return tuple(f"{self.into}/{name}" for name in names)


def sources_from_config(entries: Iterable[Mapping]) -> list[Source]:
    return [Source.from_config(entry) for entry in entries]


def manifest_path(grizli_root: str | Path) -> Path:
    return Path(grizli_root) / "CONF" / MANIFEST_NAME


def conf_file(grism: str, filter_name: str) -> str:
    """``CONF/GR150C.F115W.221215.conf``: the conf grizli reads for a grism and blocking filter."""
    return f"CONF/{grism.upper()}.{filter_name.upper()}.{CONF_VERSION}.conf"


def skyflat_file(grism: str, filter_name: str) -> str:
    """``CONF/nis-f115w-gr150c_skyflat.fits`` (lower case, as grizli's prep looks for it)."""
    return f"CONF/nis-{filter_name.lower()}-{grism.lower()}_skyflat.fits"


def needed_files(grism: str, filter_name: str) -> list[str]:
    return [conf_file(grism, filter_name), skyflat_file(grism, filter_name)]


def table_grism_filters(rows: Iterable[Mapping]) -> dict[tuple[str, str], list[str]]:
    """{(grism, blocking filter): ["field/exposure", ...]} of the table's grism exposures.
    For NIRISS the ``filter`` column holds the grism (GR150R, GR150C) and ``pupil`` the filter."""
    pairs: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        if str(row.get("exp_type", "")).upper() == GRISM_EXPOSURE_TYPE:
            key = (str(row["filter"]).upper(), str(row["pupil"]).upper())
            pairs.setdefault(key, []).append(f"{row['field']}/{row['obs_id']}")
    return dict(sorted(pairs.items()))


def table_problems(
    grizli_root: str | Path, sources: Iterable[Source], rows: Iterable[Mapping]
) -> list[str]:
    """For each grism x filter of the fields table, the needed files neither ``$GRIZLI`` holds
    nor a configured source provides, each named with the exposures needing it."""
    root = Path(grizli_root)
    provided = {path for source in sources for path in source.files()}
    problems = []
    for (grism, filter_name), exposures in table_grism_filters(rows).items():
        for path in needed_files(grism, filter_name):
            if path in provided or (root / path).is_file():
                continue
            more = f" and {len(exposures) - 1} more" if len(exposures) > 1 else ""
            problems.append(
                f"{path}: needed by the {grism} + {filter_name} exposures ({exposures[0]}{more})"
            )
    return problems


def table_check_message(grizli_root: str | Path, problems: list[str]) -> str:
    """The parse-time error for :func:`table_problems`' list."""
    return (
        f"grizli's configuration lacks files the fields table needs: $GRIZLI "
        f"({Path(grizli_root).resolve()}, config grizli.path) does not hold them and no source "
        "in grizli_config.sources provides them:\n  "
        + "\n  ".join(problems)
        + f"\n{HOW_TO}, then rerun Snakemake."
    )


def conf_sensitivities(conf: Path) -> list[str]:
    """The sensitivity tables an aXe conf names (``SENSITIVITY_<beam> <file>``, relative to it)."""
    names = []
    for line in conf.read_text(errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].startswith("SENSITIVITY_") and '"' not in line:
            names.append(words[1])
    return names


class _Tree:
    """``$GRIZLI`` as it will be: the staged files over what is held."""

    def __init__(self, root: Path, stage: Path | None = None):
        self.root, self.stage = root, stage

    def path(self, relative: str) -> Path:
        if self.stage is not None and (self.stage / relative).exists():
            return self.stage / relative
        return self.root / relative

    def exists(self, relative: str) -> bool:
        return self.path(relative).is_file()

    def confs(self) -> list[str]:
        names = {p.name for p in (self.root / "CONF").glob("*.conf")}
        if self.stage is not None:
            names |= {p.name for p in (self.stage / "CONF").glob("*.conf")}
        return sorted(f"CONF/{name}" for name in names)

    def sensitivity_gaps(self) -> list[str]:
        gaps = []
        for conf in self.confs():
            for name in conf_sensitivities(self.path(conf)):
                if not self.exists(f"CONF/{name}"):
                    gaps.append(f"CONF/{name} (named by {conf})")
        return gaps


def _checksum_problem(tree: _Tree, source: Source) -> str | None:
    """A pinned checksum the held copy of the source itself does not match (None: fine, or no
    copy of an archive kept to check)."""
    copy = f"{source.into}/{source.name}"
    if not source.sha256 or not tree.exists(copy):
        return None
    found = sha256_of(tree.path(copy))
    if found != source.sha256.lower():
        return f"{copy}: sha256 {found}, grizli_config.sources pins {source.sha256}"
    return None


def _held(tree: _Tree, source: Source) -> bool:
    if source.archive and not source.provides:
        return not tree.sensitivity_gaps()
    if not all(tree.exists(path) for path in source.files()):
        return False
    return _checksum_problem(tree, source) is None


def _shipped_templates() -> Path:
    import grizli

    return Path(grizli.__file__).parent / "data" / "templates"


def _template_gaps(tree: _Tree) -> list[str]:
    names = sorted(p.name for p in _shipped_templates().iterdir())
    return [f"templates/{name}" for name in names if not tree.path(f"templates/{name}").exists()]


def verify(tree: _Tree, sources: Iterable[Source]) -> list[str]:
    """Everything wrong with ``tree``: a provided file missing, a checksum that does not match,
    a conf's sensitivity table missing, grizli's templates missing."""
    problems = []
    for source in sources:
        missing = [path for path in source.files() if not tree.exists(path)]
        if missing:
            problems.append(f"{source.name}: {', '.join(missing)} missing")
        checksum = _checksum_problem(tree, source)
        if checksum:
            problems.append(checksum)
    problems += [f"{gap}: missing" for gap in tree.sensitivity_gaps()]
    gaps = _template_gaps(tree)
    if gaps:
        problems.append(f"grizli's templates missing: {', '.join(gaps[:3])}")
    return problems


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One builder of ``$GRIZLI`` at a time (two Snakemake runs may share it)."""
    with open(root / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack(archive: Path, into: Path, source: Source) -> list[str]:
    """Extract ``archive`` into ``into``; the member names (plain files and folders only)."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tar.extractall(into, filter="data")  # refuses absolute paths, "..", devices, links out
    except (tarfile.TarError, OSError) as error:
        raise GrizliConfigError(
            f"{source.name} from {source.url}: cannot unpack it ({error}); the checksum matched, "
            "so the archive itself is not what grizli_config.sources describes"
        ) from None
    return [m.name for m in members if m.isfile()]


def _download(source: Source, stage: Path, transport: Mapping, sleep) -> dict:
    downloads = stage / ".downloads"
    try:
        fetched = fetch_url(
            source.url,
            downloads / source.name,
            sha256=source.sha256,
            retries=int(transport.get("retries", 6)),
            timeout=float(transport.get("timeout", 120)),
            backoff=float(transport.get("backoff", 2.0)),
            sleep=sleep,
        )
    except DownloadError as error:
        raise GrizliConfigError(
            f"{error} $GRIZLI was not changed. Check grizli_config.sources ({source.name}) and "
            "the network of this host, then rerun Snakemake."
        ) from None
    digest = sha256_of(fetched)
    if not source.sha256:
        log.warning(
            "%s: no sha256 pinned in grizli_config.sources; downloaded one has %s (pin it)",
            source.name, digest,
        )  # fmt: skip
    target = stage / source.into
    target.mkdir(parents=True, exist_ok=True)
    members = _unpack(fetched, target, source) if source.archive else []
    os.replace(fetched, target / source.name)  # kept, as grizli's own fetch_config_files does
    missing = [p for p in source.provides if not (target / p).is_file()]
    if missing:
        raise GrizliConfigError(
            f"{source.name} from {source.url} does not contain {', '.join(missing)} (it has "
            f"{', '.join(members[:8]) or 'no files'}); fix its 'provides' in "
            "grizli_config.sources. $GRIZLI was not changed."
        )
    log.info("%s: downloaded and verified (sha256 %s)", source.name, digest)
    return {"url": source.url, "sha256": digest, "status": "downloaded", "members": members}


def _stage_templates(tree: _Tree, stage: Path) -> None:
    """Copy grizli's shipped templates into the staged ``templates/`` where they are missing
    (all of them when a link to grizli's folder is to become a folder of its own: files
    downloaded into ``templates/`` must not land in the installed package)."""
    replacing = (tree.root / "templates").is_symlink() and (stage / "templates").is_dir()
    for shipped in sorted(_shipped_templates().iterdir()):
        relative = f"templates/{shipped.name}"
        if (stage / relative).exists() or (not replacing and (tree.root / relative).exists()):
            continue
        target = stage / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if shipped.is_dir():
            shutil.copytree(shipped, target)
        else:
            shutil.copy2(shipped, target)


def _commit(stage: Path, root: Path) -> None:
    """Move the staged files into ``root``: a destination folder that does not exist (or is a
    link, e.g. to grizli's templates) in one rename, else file by file."""
    for name in DESTINATIONS:
        staged = stage / name
        if not staged.is_dir():
            continue
        final = root / name
        if final.is_symlink():
            final.unlink()
        if not final.exists():
            os.replace(staged, final)
            continue
        for folder, _, files in os.walk(staged):
            for file in files:
                source = Path(folder) / file
                target = final / source.relative_to(staged)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)


def _remove_stale_stages(root: Path) -> None:
    for stale in root.glob(STAGE_PREFIX + "*"):
        log.info("removing %s, left by an interrupted build", stale)
        shutil.rmtree(stale, ignore_errors=True)


def build(
    grizli_root: str | Path,
    sources: Iterable[Source],
    transport: Mapping | None = None,
    sleep=time.sleep,
) -> dict:
    """Make ``$GRIZLI`` hold every source and grizli's templates (see the module docstring);
    returns the manifest (:func:`write_manifest` writes it). ``transport``: retries, timeout
    (s), backoff (s) of the downloads. Raises :class:`GrizliConfigError`; ``$GRIZLI`` then is
    as it was."""
    root = Path(grizli_root)
    sources = list(sources)
    transport = dict(transport or {})
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        _remove_stale_stages(root)
        held = _Tree(root)
        statuses = {}
        # Sources with a list of files first: the confs they bring decide whether the
        # sensitivity archives (no list) are needed.
        ordered = sorted(sources, key=lambda s: s.archive and not s.provides)
        if all(_held(held, s) for s in ordered) and not _template_gaps(held):
            problems = verify(held, sources)
            if problems:
                raise GrizliConfigError(_problems_message(root, problems))
            log.info("$GRIZLI (%s) holds every source: verified, nothing downloaded", root)
        else:
            stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=root))
            try:
                tree = _Tree(root, stage)
                for source in ordered:
                    if not _held(tree, source):
                        statuses[source.name] = _download(source, stage, transport, sleep)
                shutil.rmtree(stage / ".downloads", ignore_errors=True)
                _stage_templates(tree, stage)
                problems = verify(tree, sources)
                if problems:
                    raise GrizliConfigError(_problems_message(root, problems))
                _commit(stage, root)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        return describe(root, sources, statuses)


def _problems_message(root: Path, problems: list[str]) -> str:
    return (
        f"$GRIZLI ({root}) is incomplete, nothing was changed:\n  "
        + "\n  ".join(problems)
        + f"\n{HOW_TO}; then rerun Snakemake."
    )


def describe(root: Path, sources: Iterable[Source], statuses: Mapping[str, dict]) -> dict:
    """The manifest of ``root``: sources, confs and their sensitivity tables, the grism x
    filter pairs grizli can model (conf and sky flat there), every file's size and SHA-256."""
    tree = _Tree(root)
    files = {}
    for name in DESTINATIONS:
        folder = root / name
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and path.name != MANIFEST_NAME and not path.name.startswith("."):
                relative = str(path.relative_to(root))
                files[relative] = {"size": path.stat().st_size, "sha256": sha256_of(path)}
    confs = {
        conf: [f"CONF/{name}" for name in conf_sensitivities(root / conf)] for conf in tree.confs()
    }
    pairs = []
    for conf in confs:
        parts = conf.removeprefix("CONF/").split(".")  # GR150C.F115W.221215.conf
        if len(parts) == 4 and parts[2] == CONF_VERSION and tree.exists(skyflat_file(*parts[:2])):
            pairs.append(f"{parts[0]}.{parts[1]}")
    record_sources = {}
    for source in sources:
        record_sources[source.name] = statuses.get(source.name) or {
            "url": source.url,
            "sha256": source.sha256,
            "status": "held",
        }
        record_sources[source.name]["files"] = list(source.files())
    templates = root / "templates"
    return {
        "version": MANIFEST_VERSION,
        "grizli_path": str(root.resolve()),
        "written": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": record_sources,
        "templates": str(templates.readlink()) if templates.is_symlink() else "folder",
        "grism_filters": pairs,
        "confs": confs,
        "files": files,
    }


def write_manifest(path: str | Path, manifest: Mapping) -> None:
    """The manifest, atomically (a failed build leaves none)."""
    write_text(path, json.dumps(manifest, indent=1) + "\n")
