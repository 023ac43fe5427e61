"""What the integration tests share: a workflow folder on the synthetic field, Snakemake runs
(to completion, or started and killed), the archive server's fault queue and counters, and the
checks every test ends with (no corrupt product, no secret)."""

from __future__ import annotations

import base64
import csv
import mmap
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import yaml
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from support import TEST_TOKEN, TEST_TOKEN_ENV  # noqa: E402
from wfsssim.grismconf import SYNTHETIC_GRIZLI_CONFIG  # noqa: E402

from wfsspipe.integrity import fits_problem, sha256_of  # noqa: E402

TOKEN = TEST_TOKEN  # the archive_server fixture expects this token
TOKEN_ENV = TEST_TOKEN_ENV
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

# Every workflow folder the integration tests made, for the secrets test to search afterwards.
WORKFLOWS: list[Workflow] = []


@dataclass
class Injection:
    """One line of the table in tests/README.md: a fault or bad input, how often a full run of
    the integration tests injects it, and what must come of it."""

    what: str
    times: int
    outcome: str
    test: str


@dataclass
class Result:
    returncode: int
    output: str  # stdout and stderr, interleaved as Snakemake wrote them


@dataclass
class Workflow:
    """A folder to run the workflow in: fields table, config overlay, FIELDS/ and run outputs."""

    folder: Path
    rows: list[dict]
    runs: int = 0  # Snakemake runs so far (numbers their output files)

    @property
    def fields_dir(self) -> Path:
        return self.folder / "FIELDS"

    def uncal(self, row: dict) -> Path:
        return self.fields_dir / row["field"] / "UNCAL" / row["filename"]

    def rate(self, row: dict) -> Path:
        return self.fields_dir / row["field"] / "RATE" / f"{row['obs_id']}_rate.fits"

    def log(self, rule: str, row: dict) -> Path:
        return self.fields_dir / row["field"] / "logs" / rule / f"{row['obs_id']}.log"

    def command(self, *args: str | Path, cores: int = 2) -> list[str]:
        # No profile: each test names the flags it is about (--keep-going, --rerun-incomplete).
        command = [
            SNAKEMAKE, "--snakefile", ROOT / "workflow/Snakefile", "--directory", self.folder,
            "--configfile", ROOT / "config/config.yaml", self.folder / "config.yaml",
            "--workflow-profile", "none", "--cores", str(cores), *args,
        ]  # fmt: skip
        return [str(part) for part in command]

    def _output_file(self, label: str) -> Path:
        self.runs += 1
        runs = self.folder / "runs"
        runs.mkdir(exist_ok=True)
        return runs / f"{self.runs:02d}-{label}.txt"

    def run(self, *args: str | Path, cores: int = 2, label: str = "run") -> Result:
        """Run Snakemake to the end; its output is kept under runs/ (the secrets test reads it)."""
        out = self._output_file(label)
        with open(out, "w") as handle:
            process = subprocess.run(
                self.command(*args, cores=cores),
                stdout=handle, stderr=subprocess.STDOUT, cwd=self.folder, env=job_env(), timeout=900,
            )  # fmt: skip
        return Result(process.returncode, out.read_text())

    def start(self, *args: str | Path, cores: int = 2, label: str = "killed") -> subprocess.Popen:
        """Start Snakemake in its own process group, to be killed with :func:`kill_group`."""
        handle = open(self._output_file(label), "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            self.command(*args, cores=cores),
            stdout=handle, stderr=subprocess.STDOUT, cwd=self.folder, env=job_env(),
            start_new_session=True,
        )  # fmt: skip
        handle.close()  # the child holds its own descriptor
        return process


def job_env() -> dict[str, str]:
    """The environment a user runs Snakemake in: the MAST token set, one BLAS thread."""
    return dict(os.environ, **{TOKEN_ENV: TOKEN}, OMP_NUM_THREADS="1")


def make_workflow(
    folder: Path,
    rows: list[dict],
    synthetic_field: Path,
    archive_url: str,
    **download,
) -> Workflow:
    """Write ``rows`` as the fields table and a config overlay pointing at the synthetic field's
    CRDS cache and the archive server; ``download`` overrides download settings."""
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "fields.csv", rows)
    config = yaml.safe_load((synthetic_field / "config.yaml").read_text())  # the CRDS cache
    config.setdefault("grizli_config", SYNTHETIC_GRIZLI_CONFIG)  # a field simulated before it
    config.update(
        fields_csv=str(folder / "fields.csv"),
        fields_dir=str(folder / "FIELDS"),
        download={
            "archive_url": archive_url,
            "token_env": TOKEN_ENV,
            "retries": 3,
            "timeout": 30,
            "on_submit_host": True,
            **download,
        },  # fmt: skip
    )
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    workflow = Workflow(folder, rows)
    WORKFLOWS.append(workflow)
    return workflow


def read_table(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_table(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL Snakemake and every job it started (they share its process group)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str, timeout=300):
    """Poll ``condition`` while ``process`` runs; fail if it ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"Snakemake ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            kill_group(process)
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


# --- the archive server -------------------------------------------------------------------------
def inject(server, faults: dict[str, Iterable[str]]) -> None:
    """Queue faults per filename: each request for the file takes the next one."""
    wanted = {name: list(queue) for name, queue in faults.items() if queue}
    requests.post(f"{server.base}/faults", json=wanted, timeout=5).raise_for_status()


def archive_counts(server) -> dict[str, dict[str, int]]:
    """Requests per file, and how many of them carried the expected token."""
    return requests.get(f"{server.base}/stats", timeout=5).json()


def counts_since(server, before: dict, key: str = "requests") -> dict[str, int]:
    now = archive_counts(server)[key]
    return {name: count - before[key].get(name, 0) for name, count in now.items()}


# --- products -----------------------------------------------------------------------------------
sha256 = sha256_of


def product_files(folder: Path) -> list[Path]:
    """Files under a product's name (temporary names start with a dot or end in .part)."""
    return sorted(
        path
        for path in folder.rglob("*.fits")
        if not path.name.startswith(".") and path.name.endswith(("_uncal.fits", "_rate.fits"))
    )


def assert_products_whole(workflow: Workflow, archive: Path) -> int:
    """Every UNCAL under FIELDS/ is the archive's file byte for byte and every RATE is a whole
    2048 x 2048 product with finite data; returns how many products were checked."""
    products = product_files(workflow.fields_dir)
    for path in products:
        problem = fits_problem(path)
        assert problem is None, f"corrupt product {path}: {problem}"
        if path.name.endswith("_uncal.fits"):
            assert sha256(path) == sha256(archive / path.name), f"{path} differs from the archive"
        else:
            with fits.open(path) as hdus:
                science = hdus["SCI"].data
                assert science.shape == (2048, 2048), path
                assert hdus[0].header["FILENAME"] == path.name, path
                assert np.isfinite(science).mean() > 0.95, path
    return len(products)


# --- secrets ------------------------------------------------------------------------------------
def secret_forms(secret: str) -> list[bytes]:
    """The secret as bytes and as it would look inside base64 at any of the three alignments
    (Snakemake's metadata and HTML report embed files base64-encoded)."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # Characters that depend on the secret's bytes alone.
        forms.append(encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6])
    return forms


def files_containing(folders: Iterable[Path], secret: str) -> list[str]:
    """Files under ``folders`` holding ``secret`` in any of :func:`secret_forms`."""
    pattern = re.compile(b"|".join(re.escape(form) for form in secret_forms(secret)))
    found = []
    for folder in folders:
        for path in sorted(
            p for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink()
        ):
            if path.stat().st_size == 0:
                continue
            with (
                open(path, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
            ):
                if pattern.search(data):
                    found.append(str(path))
    return found
