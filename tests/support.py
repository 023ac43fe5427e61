"""What the tests share besides fixtures: the lean synthetic field, the token, the archive server
process and workflow folders. Imported as ``support`` (``tests`` is on pytest's pythonpath);
``conftest`` is not importable unambiguously once several folders have one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wfsssim.grismconf import SYNTHETIC_GRIZLI_CONFIG

# The stand-in servers' processes, started and stopped as make demo does.
from wfsssim.serving import start_process as start_server
from wfsssim.serving import stop_process

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The tests' synthetic field: both blocking filters of the demo (redshifts need more than one
# grism band), 7 groups (columnjump's minimum). The integration tests use its F150W exposures
# only (INTEGRATION_FILTER): they test the workflow's machinery, not its science.
TEST_FIELD_ARGS = ["--seed", "1", "--ngroups", "7"]
INTEGRATION_FILTER = "F150W"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
# Aperture diameters of the test catalogue: the last (4") holds all of every injected source's
# light (wfsssim.render truncates sources 1.9" from their centre).
TEST_APERTURES_ARCSEC = [0.36, 0.5, 0.7, 1.0, 1.5, 3.0, 4.0]
# A MAST token as a user would set it; tests check it reaches the archive and nothing else.
TEST_TOKEN_ENV = "WFSSPIPE_TEST_TOKEN"
TEST_TOKEN = "test-token-0123456789"


class ArchiveServer:
    """The synthetic archive server in its own process, stopped by PID at the end."""

    def __init__(self, root: Path, workdir: Path, token: str = ""):
        self.port_file = workdir / "archive.port"
        self.port_file.unlink(missing_ok=True)
        command = [
            PYTHON,
            ROOT / "resources" / "scripts" / "archiveServer.py",
            "--root",
            root,
            "--port-file",
            self.port_file,
        ]
        env = dict(os.environ)
        if token:
            command += ["--token-env", TEST_TOKEN_ENV]
            env[TEST_TOKEN_ENV] = token
        self.process = start_server(command, self.port_file, "the archive server", 30, env=env)
        self.port = int(self.port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"
        self.download_url = f"{self.base}/api/v0.1/Download/file"

    def stop(self) -> None:
        stop_process(self.process)


def make_workdir(
    folder: Path, synthetic_field: Path, archive_server: ArchiveServer, **config_changes
) -> Path:
    """A folder to run the workflow in: fields.csv from computeFields and a config overlay that
    points at the synthetic field, its CRDS cache and the archive server."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PYTHON, ROOT / "resources/scripts/computeFields.py", "--from-table", synthetic_field / "observations.ecsv",
         "--proposal-ids", "9999", "--output-dir", folder / "FIELDS", "-q", "--no-plot"],
        check=True,
    )  # fmt: skip
    config = yaml.safe_load((synthetic_field / "config.yaml").read_text())
    config.setdefault("grizli_config", SYNTHETIC_GRIZLI_CONFIG)  # a field simulated before it
    config.update(
        fields_csv=str(folder / "FIELDS/fields.csv"),
        fields_dir=str(folder / "FIELDS"),
        download={
            "archive_url": archive_server.download_url,
            "token_env": TEST_TOKEN_ENV,
            "retries": 3,
            "timeout": 30,
            "on_submit_host": True,
        },  # fmt: skip
        **config_changes,
    )
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


TERMINAL_FILE = "terminal.txt"  # what the session build printed, in its working folder


def workflow_config(workdir: Path) -> dict:
    """config/config.yaml with the working folder's config.yaml merged on top, key by key at
    every depth, as Snakemake merges config files: the config the folder's jobs read."""
    import yaml

    def merge(base: dict, overlay: dict) -> dict:
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return merge(config, yaml.safe_load((workdir / "config.yaml").read_text()))


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    python: Path | None = None,
    configfiles: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess:
    """Snakemake on a folder made by :func:`make_workdir` (2 cores, the token set); ``python``:
    run it as ``python -m snakemake``; ``configfiles``: merged over the folder's config."""
    command = [
        *([python, "-m", "snakemake"] if python else [SNAKEMAKE]),
        "--snakefile", ROOT / "workflow/Snakefile", "--directory", workdir,
        "--configfile", ROOT / "config/config.yaml", workdir / "config.yaml", *configfiles,
        "--cores", "2", *args,
    ]  # fmt: skip
    env = dict(os.environ, **{TEST_TOKEN_ENV: TEST_TOKEN})
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env)
    if check and result.returncode:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def write_visit_table(path: Path, visits: list[tuple[str, str, str, str]]) -> Path:
    """A visit table as preprocess writes it (every column of ``VISIT_COLUMNS``), one exposure
    per (visit, kind, direct visit, alignment catalogue label); the method is derived from the
    label by preprocess's own ``alignment_method``."""
    from astropy.table import Table

    from wfsspipe.preprocess import VISIT_COLUMNS, alignment_method

    rows = []
    for number, (visit, kind, direct_visit, label) in enumerate(visits, 1):
        fitted = alignment_method(label) not in ("none", "self")
        rows.append({
            "exposure": f"jw01571001001_0210{number}_00001_nis",
            "file": f"jw01571001001_0210{number}_00001_nis_rate.fits", "visit": visit,
            "filter": "F150W", "element": "CLEAR" if kind == "direct" else "GR150R", "kind": kind,
            "pa_v3": 35.0, "expstart": 60000.0 + number / 100, "exptime": 300.0,
            "direct_visit": direct_visit, "align_catalog": label,
            "align_method": alignment_method(label), "align_dx": 0.1, "align_dy": -0.2,
            "align_rot": 0.0, "align_scale": 1.0, "align_rms": 0.31 if fitted else float("nan"),
            "align_n": 12 if fitted else 0, "status": "aligned" if fitted else "not aligned",
        })  # fmt: skip
    Table(rows=rows, names=VISIT_COLUMNS).write(path, format="ascii.ecsv", overwrite=True)
    return path
