"""Rule grizli_config against the synthetic Zenodo server (resources/scripts/zenodoServer.py):
$GRIZLI built from the configured sources through the real requests client, verified, recorded;
a corrupt download or a kill mid-way leaves $GRIZLI as it was; a complete folder is verified and
recorded without a download; the rule itself runs through Snakemake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from support import PYTHON, ROOT, SNAKEMAKE, start_server, stop_process
from wfsssim import grismconf
from wfsssim.zenodo import local_sources, write_records

from wfsspipe.grizli_config import (
    MANIFEST_NAME,
    STAGE_PREFIX,
    GrizliConfigError,
    build,
    manifest_path,
    sources_from_config,
)

from .helpers import Injection

pytestmark = [pytest.mark.integration]

INJECTED = [
    Injection(
        "HTTP 500 then a dropped connection for a grizli sky flat",
        1,
        "retried; $GRIZLI complete after 3 requests for that file",
        "test_grizli_config.py",
    ),
    Injection(
        "grizli configuration archive corrupted in transit (every attempt)",
        1,
        "grizli_config fails naming the file and both checksums; nothing committed, no manifest",
        "test_grizli_config.py",
    ),
    Injection(
        "SIGKILL of the $GRIZLI build during a download",
        1,
        "nothing under a product name; the rerun removes the staging folder and completes",
        "test_grizli_config.py",
    ),
    Injection(
        "sensitivity table a conf names missing from a complete $GRIZLI",
        1,
        "verification fails naming the table; no manifest",
        "test_grizli_config.py",
    ),
]

TRANSPORT = {"retries": 3, "timeout": 10, "backoff": 0.0}
PAIRS = [f"{g}.{f}" for g in ("GR150C", "GR150R") for f in ("F115W", "F150W", "F200W")]


class ZenodoServer:
    def __init__(self, root: Path, workdir: Path):
        port_file = workdir / "zenodo.port"
        command = [PYTHON, ROOT / "resources/scripts/zenodoServer.py", "--root", root,
                   "--port-file", port_file, "--slow-seconds", "20"]  # fmt: skip
        self.process = start_server(command, port_file, "the Zenodo server")
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def requests(self) -> dict:
        return requests.get(f"{self.url}/stats", timeout=5).json()["requests"]

    def faults(self, **names: list[str]) -> None:
        requests.post(f"{self.url}/faults", json=names, timeout=5).raise_for_status()

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT)


@pytest.fixture(scope="module")
def zenodo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zenodo")
    write_records(root)
    server = ZenodoServer(root, tmp_path_factory.mktemp("zenodo-server"))
    server.root = root
    yield server
    server.stop()


@pytest.fixture(scope="module")
def source_config(zenodo) -> list[dict]:
    """The config's real sources (names, URL paths), at the local server, pinned."""
    defaults = yaml.safe_load((ROOT / "config/config.yaml").read_text())["grizli_config"]
    return local_sources(defaults["sources"], zenodo.url, zenodo.root)


def product_files(grizli: Path) -> list[str]:
    """What $GRIZLI holds under product names (no staging folder, no lock)."""
    return sorted(
        str(p.relative_to(grizli))
        for p in grizli.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(grizli).parts)
    )


def test_builds_grizli_from_the_server(zenodo, source_config, tmp_path):
    grizli = tmp_path / "GRIZLI"
    before = zenodo.requests()
    manifest = build(grizli, sources_from_config(source_config), TRANSPORT)

    assert manifest["grism_filters"] == PAIRS
    assert {s["status"] for s in manifest["sources"].values()} == {"downloaded"}
    for source in source_config:  # each checksum is the pinned one (the server's file)
        assert manifest["sources"][source["name"]]["sha256"] == source["sha256"]
    after = zenodo.requests()
    assert all(after.get(s["name"], 0) - before.get(s["name"], 0) == 1 for s in source_config)
    # The confs are the synthetic dispersion model, and grizli reads them with their
    # sensitivity tables (what contam, extract and zfit will do).
    from grizli import grismconf as grizli_grismconf

    conf = grizli / "CONF" / "GR150C.F115W.221215.conf"
    assert conf.read_text() == grismconf.conf_text("GR150C", "F115W")
    loaded = grizli_grismconf.load_grism_config(str(conf))
    assert set(loaded.beams) >= {"A", "B", "C"}
    assert loaded.sens["A"]["SENSITIVITY"].max() > 0
    assert manifest["confs"]["CONF/GR150C.F115W.221215.conf"] == [
        f"CONF/{grismconf.sensitivity_filename('GR150C', 'F115W', b)}" for b in "ABC"
    ]
    # Sky flats (WFSS and imaging), grizli's templates beside the stellar ones.
    assert (grizli / "CONF/nis-f200w-clear_skyflat.fits").is_file()
    assert (grizli / "templates/stars_pickles.npy").is_file()
    assert (grizli / "templates/fsps").is_dir() and manifest["templates"] == "folder"
    listed = manifest["files"]["CONF/nis-f115w-gr150c_skyflat.fits"]
    assert listed["size"] == (grizli / "CONF/nis-f115w-gr150c_skyflat.fits").stat().st_size
    assert not list(grizli.glob(STAGE_PREFIX + "*"))

    # Built once: the next run verifies and records, and asks the server nothing.
    again = build(grizli, sources_from_config(source_config), TRANSPORT)
    assert zenodo.requests() == after
    assert {s["status"] for s in again["sources"].values()} == {"held"}
    assert again["files"] == manifest["files"]


def test_server_errors_are_retried(zenodo, source_config, tmp_path):
    name = "nis-f150w-gr150r_skyflat.fits"
    before = zenodo.requests().get(name, 0)
    zenodo.faults(**{name: ["500", "drop"]})
    manifest = build(tmp_path / "GRIZLI", sources_from_config(source_config), TRANSPORT)
    assert zenodo.requests()[name] - before == 3
    assert manifest["sources"][name]["status"] == "downloaded"


def test_checksum_mismatch_fails_and_writes_nothing(zenodo, source_config, tmp_path):
    grizli = tmp_path / "GRIZLI"
    (grizli / "CONF").mkdir(parents=True)
    (grizli / "CONF" / "mine.txt").write_text("a user's file\n")
    name = "niriss_sens_221215.tar.gz"
    zenodo.faults(**{name: ["corrupt"] * TRANSPORT["retries"]})
    with pytest.raises(GrizliConfigError) as error:
        build(grizli, sources_from_config(source_config), TRANSPORT)
    message = str(error.value)
    pinned = next(s["sha256"] for s in source_config if s["name"] == name)
    assert name in message and f"pins {pinned}" in message and "was not changed" in message
    # The confs and sky flats downloaded before it were not committed either.
    assert product_files(grizli) == ["CONF/mine.txt"]
    assert not list(grizli.glob(STAGE_PREFIX + "*"))
    assert not manifest_path(grizli).exists()


def test_killed_mid_way_leaves_nothing(zenodo, source_config, tmp_path):
    grizli = tmp_path / "GRIZLI"
    config = tmp_path / "sources.json"
    config.write_text(json.dumps(source_config))
    name = "niriss.conf.220725.tar.gz"  # after the 221215 confs and the sky flats
    before = zenodo.requests().get(name, 0)
    zenodo.faults(**{name: ["slow"]})  # 20 s before its first byte
    code = (
        "import json, sys; from wfsspipe.grizli_config import build, sources_from_config; "
        f"build({str(grizli)!r}, sources_from_config(json.load(open({str(config)!r}))))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "workflow/scripts"))
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while zenodo.requests().get(name, 0) == before:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        staged = list(grizli.glob(STAGE_PREFIX + "*/CONF/*.221215.conf"))
        assert staged, "the 221215 confs were staged before the slow download"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert product_files(grizli) == []  # only the staging folder, under its .tmp- name
    # The rerun removes it and builds the whole folder.
    manifest = build(grizli, sources_from_config(source_config), TRANSPORT)
    assert manifest["grism_filters"] == PAIRS
    assert not list(grizli.glob(STAGE_PREFIX + "*"))


def test_complete_folder_is_verified_not_downloaded(zenodo, tmp_path):
    """The synthetic field's GRIZLI (written complete, no sources configured)."""
    grizli = tmp_path / "GRIZLI"
    grismconf.write_grizli_config(grizli, filters=["F150W"])
    before = zenodo.requests()
    manifest = build(grizli, [], TRANSPORT)
    assert zenodo.requests() == before
    assert manifest["grism_filters"] == ["GR150C.F150W", "GR150R.F150W"]
    assert manifest["templates"].endswith("data/templates")  # grizli's own, linked
    # A conf whose sensitivity table is gone is named, and nothing is recorded.
    (grizli / "CONF" / grismconf.sensitivity_filename("GR150R", "F150W", "B")).unlink()
    with pytest.raises(GrizliConfigError, match=r"niriss_gr150r_f150w_B\.sens\.fits"):
        build(grizli, [], TRANSPORT)


def test_rule_builds_grizli_through_snakemake(zenodo, source_config, tmp_path):
    """The rule, its script and the config as a user has them: URLs and checksums in a
    --configfile, $GRIZLI built, the manifest its output; a new server address redoes nothing."""
    grizli = tmp_path / "GRIZLI"
    overlay = tmp_path / "config.yaml"
    settings = {"retries": 2, "timeout": 10, "sources": source_config}
    overlay.write_text(
        yaml.safe_dump(
            {
                "fields_csv": str(tmp_path / "no-table.csv"),
                "grizli": {"path": str(grizli), "pure_parallel_wcs": False},
                "grizli_config": settings,
            }  # fmt: skip
        )
    )
    command = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow/Snakefile"), "--directory",
               str(tmp_path), "--configfile", str(ROOT / "config/config.yaml"), str(overlay),
               "--cores", "1", str(manifest_path(grizli))]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((grizli / "CONF" / MANIFEST_NAME).read_text())
    assert manifest["grism_filters"] == PAIRS
    assert "grizli_config" in (tmp_path / "FIELDS/logs/grizli_config.log").read_text()

    moved = [dict(s, url=s["url"].replace("127.0.0.1", "localhost")) for s in source_config]
    overlay.write_text(overlay.read_text().replace("127.0.0.1", "localhost"))
    assert yaml.safe_load(overlay.read_text())["grizli_config"]["sources"] == moved
    result = subprocess.run([*command, "-n"], capture_output=True, text=True)
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_server_answers_in_zenodo_shapes(zenodo):
    """The record listing (/api/records/<id>: key, size, md5) and the old /record/ address
    (301 to /records/), as zenodo.org answers them."""
    import hashlib

    listing = requests.get(f"{zenodo.url}/api/records/7628094", timeout=5).json()
    files = {entry["key"]: entry for entry in listing["files"]}
    assert set(files) == {"niriss_config_221215.tar.gz", "niriss_sens_221215.tar.gz"}
    served = zenodo.root / "records/7628094/files/niriss_sens_221215.tar.gz"
    entry = files["niriss_sens_221215.tar.gz"]
    assert entry["size"] == served.stat().st_size
    assert entry["checksum"] == "md5:" + hashlib.md5(served.read_bytes()).hexdigest()
    old = f"{zenodo.url}/record/13741413/files/nis-f150w-clear_skyflat.fits"
    moved = requests.get(old, allow_redirects=False, timeout=5)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/records/13741413/files/nis-f150w-clear_skyflat.fits"
    assert requests.get(old + "?download=1", timeout=5).content[:6] == b"SIMPLE"
